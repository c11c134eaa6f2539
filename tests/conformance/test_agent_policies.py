"""Agent policies as far as enrollment keys depend on them."""

from __future__ import annotations

from tests.conformance.target import KEYS, Target, assert_error

POLICIES = "/api/fleet/agent_policies"


def test_new_policy_gets_one_default_key(target: Target, policy_id: str) -> None:
    [key] = target.keys(policy_id)
    assert key["name"] == f"Default ({key['id']})"
    assert key["active"] is True


def test_managed_policy_default_key_is_hidden(target: Target) -> None:
    target.require("hidden_field")
    [key] = target.keys(target.create_policy(managed=True))
    assert key["hidden"] is True


def test_get_policy_returns_the_item(target: Target, policy_id: str) -> None:
    response = target.get(f"{POLICIES}/{policy_id}")
    assert (response.status_code, response.json()["item"]["id"]) == (200, policy_id)


def test_get_unknown_policy_is_404(target: Target) -> None:
    assert_error(target.get(f"{POLICIES}/nope"), 404, "Agent policy not found")


def test_create_policy_with_an_existing_name_is_409(target: Target, policy_id: str) -> None:
    body = {"name": policy_id, "namespace": "default"}
    response = target.post(POLICIES, json=body)
    assert_error(response, 409, f"Agent Policy '{policy_id}' already exists")


def test_create_policy_without_name_is_400(target: Target) -> None:
    response = target.post(POLICIES, json={"namespace": "default"})
    assert_error(
        response, 400, "[request body.name]: expected value of type [string] but got [undefined]"
    )


def test_delete_policy_answers_id_and_name(target: Target, policy_id: str) -> None:
    response = target.post(f"{POLICIES}/delete", json={"agentPolicyId": policy_id})
    assert (response.status_code, response.json()) == (200, {"id": policy_id, "name": policy_id})


def test_delete_policy_removes_its_keys_from_9_5(target: Target, policy_id: str) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    target.post(f"{POLICIES}/delete", json={"agentPolicyId": policy_id})
    assert target.get(f"{KEYS}/{item['id']}").status_code == 404


def test_create_key_after_its_policy_is_deleted_is_404(target: Target, policy_id: str) -> None:
    target.require("typed_fleet_errors")
    target.post(f"{POLICIES}/delete", json={"agentPolicyId": policy_id})
    response = target.post(KEYS, json={"policy_id": policy_id})
    assert_error(response, 404, f'Agent policy "{policy_id}" not found')


def test_delete_managed_policy_without_force_is_400(target: Target) -> None:
    managed = target.create_policy(managed=True)
    response = target.post(f"{POLICIES}/delete", json={"agentPolicyId": managed})
    assert_error(response, 400, f"Cannot delete hosted agent policy {managed}")


def test_create_policy_without_namespace_is_400(target: Target) -> None:
    missing = "[request body.namespace]: expected value of type [string] but got [undefined]"
    assert_error(target.post(POLICIES, json={"name": "no-namespace"}), 400, missing)


def test_create_policy_with_a_blank_name_is_400(target: Target) -> None:
    blank = {"name": "  ", "namespace": "default"}
    assert_error(
        target.post(POLICIES, json=blank), 400, "[request body.name]: Invalid empty string"
    )
