"""Updating an agent policy, and moving it to other spaces with its keys (space-aware 9.1+)."""

from __future__ import annotations

import uuid

from tests.conformance.target import KEYS, Target, assert_error

POLICIES = "/api/fleet/agent_policies"


def _missing_space() -> str:
    return f"never-made-{uuid.uuid4().hex[:6]}"


# -- moving ------------------------------------------------------------------------------
def test_moving_a_policy_moves_its_keys(target: Target, space: str, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    moved = target.move_policy(policy_id, [space])
    assert moved["space_ids"] == [space]
    assert_error(
        target.get(f"{KEYS}/{item['id']}"),
        404,
        f"Enrollment api key {item['id']} not found in namespace",
    )
    response = target.get(f"{KEYS}/{item['id']}", space_id=space)
    assert (response.status_code, response.json()["item"]["active"]) == (200, True)
    names = {key["name"].split(" (")[0] for key in target.keys(policy_id, space_id=space)}
    assert names == {"Default", "web"}
    assert target.keys(policy_id) == []


def test_a_moved_policy_is_only_in_its_new_space(
    target: Target, space: str, policy_id: str
) -> None:
    target.move_policy(policy_id, [space])
    assert_error(target.get(f"{POLICIES}/{policy_id}"), 404, "Agent policy not found")
    assert target.get_policy(policy_id, space_id=space) is not None


def test_a_policy_in_two_spaces_shows_its_keys_in_both(
    target: Target, space: str, policy_id: str
) -> None:
    item = target.create_key(policy_id, "web")
    target.move_policy(policy_id, ["default", space])
    for where in (None, space):
        assert target.get(f"{KEYS}/{item['id']}", space_id=where).status_code == 200


def test_new_keys_of_a_moved_policy_are_created_from_its_new_space(
    target: Target, space: str, policy_id: str
) -> None:
    target.move_policy(policy_id, [space])
    assert_error(
        target.post(KEYS, json={"policy_id": policy_id}),
        404,
        f'Agent policy "{policy_id}" not found',
    )
    created = target.post(KEYS, json={"policy_id": policy_id}, space_id=space)
    assert created.status_code == 200


def test_policy_created_with_space_ids_has_its_keys_there(target: Target, space: str) -> None:
    policy = target.create_policy(space_ids=[space])
    [key] = target.keys(policy, space_id=space)
    assert_error(
        target.get(f"{KEYS}/{key['id']}"),
        404,
        f"Enrollment api key {key['id']} not found in namespace",
    )


def test_moving_to_a_space_that_does_not_exist_is_400(
    target: Target, space: str, policy_id: str
) -> None:
    missing = _missing_space()
    body = {"name": policy_id, "namespace": "default", "space_ids": [missing]}
    response = target.put(f"{POLICIES}/{policy_id}", json=body)
    assert_error(response, 400, f"Not enough permissions to create policies in space {missing}")
    assert target.keys(policy_id)


def test_moving_a_managed_policy_needs_force(target: Target, space: str) -> None:
    managed = target.create_policy(managed=True)
    body = {"name": managed, "namespace": "default", "space_ids": [space]}
    response = target.put(f"{POLICIES}/{managed}", json=body)
    # Kibana's message ends with a space.
    assert_error(response, 400, f"Cannot update hosted agent policy {managed} space ")
    forced = target.put(f"{POLICIES}/{managed}", json={**body, "force": True})
    assert (forced.status_code, forced.json()["item"]["space_ids"]) == (200, [space])


# -- creating with space_ids -----------------------------------------------------------
def test_create_with_a_space_that_does_not_exist_is_400_and_creates_nothing(
    target: Target,
) -> None:
    target.require("policy_space_ids")
    missing, policy = _missing_space(), f"conformance-{uuid.uuid4().hex[:12]}"
    body = {"id": policy, "name": policy, "namespace": "default", "space_ids": [missing]}
    response = target.post(POLICIES, json=body)
    assert_error(response, 400, f"No enough permissions to create policies in space {missing}")
    assert target.get_policy(policy) is None


# -- updating ---------------------------------------------------------------------------
def test_update_renames_the_policy_and_bumps_its_revision(target: Target, policy_id: str) -> None:
    before = target.get_policy(policy_id)
    assert before is not None
    body = {"name": f"{policy_id}-renamed", "namespace": "default"}
    response = target.put(f"{POLICIES}/{policy_id}", json=body)
    item = response.json()["item"]
    assert (response.status_code, item["name"], item["revision"]) == (
        200,
        f"{policy_id}-renamed",
        before["revision"] + 1,
    )
    assert target.keys(policy_id)


def test_update_without_namespace_is_400(target: Target, policy_id: str) -> None:
    response = target.put(f"{POLICIES}/{policy_id}", json={"name": policy_id})
    assert_error(
        response,
        400,
        "[request body.namespace]: expected value of type [string] but got [undefined]",
    )


def test_update_of_an_unknown_policy_is_404(target: Target) -> None:
    kind = "fleet-agent-policies" if target.version.space_aware else "ingest-agent-policies"
    response = target.put(f"{POLICIES}/nope", json={"name": "nope", "namespace": "default"})
    assert_error(response, 404, f"Saved object [{kind}/nope] not found")


def test_update_to_the_name_of_another_policy_is_409(target: Target, policy_id: str) -> None:
    other = target.create_policy()
    response = target.put(f"{POLICIES}/{other}", json={"name": policy_id, "namespace": "default"})
    assert response.status_code == 409


def test_update_of_a_managed_policy_without_force_is_400(target: Target) -> None:
    managed = target.create_policy(managed=True)
    body = {"name": f"{managed}-renamed", "namespace": "default"}
    assert_error(target.put(f"{POLICIES}/{managed}", json=body), 400, "Cannot update name")


def test_update_needs_kbn_xsrf(target: Target, policy_id: str) -> None:
    body = {"name": policy_id, "namespace": "default"}
    response = target.request("PUT", f"{POLICIES}/{policy_id}", json=body)
    assert_error(response, 400, "Request must contain a kbn-xsrf header.")
