"""Behaviour that differs between Kibana 8.x, 9.0-9.4 and 9.5+ (emulator versions)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests

from tests.conformance.target import KEYS, XSRF, Target, assert_error
from tests.conftest import StartEmulator

AtVersion = Callable[[str], Target]
POLICIES = "/api/fleet/agent_policies"


pytestmark = pytest.mark.emulator_only("other Kibana versions are emulator switches")


@pytest.fixture
def at(at_version: AtVersion) -> AtVersion:
    return at_version


# -- 8.x --------------------------------------------------------------------------------
# Early 8.x (before 8.15, a choice) answers Fleet errors with 400 and Boom's wording; late 8.x
# has the typed errors of 9.x (server/errors/handlers.ts, FleetNotFoundError).
def test_early_8x_duplicate_name_is_400(at: AtVersion) -> None:
    kibana = at("8.14.0")
    policy = kibana.create_policy()
    kibana.create_key(policy, "web")
    response = kibana.post(KEYS, json={"policy_id": policy, "name": "web"})
    assert_error(
        response, 400, f"An enrollment key named web already exists for agent policy {policy}"
    )


def test_early_8x_unknown_policy_is_400(at: AtVersion) -> None:
    response = at("8.14.0").post(KEYS, json={"policy_id": "nope"})
    assert_error(response, 400, 'Agent policy "nope" not found')


@pytest.mark.parametrize("method", ["get", "delete"])
def test_early_8x_unknown_key_is_404_with_boom_wording(at: AtVersion, method: str) -> None:
    response = getattr(at("8.14.0"), method)(f"{KEYS}/abc")
    assert_error(response, 404, "EnrollmentAPIKey abc not found")


@pytest.mark.parametrize("version", ["8.15.0", "8.19.0"])
def test_late_8x_duplicate_name_is_409(at: AtVersion, version: str) -> None:
    kibana = at(version)
    policy = kibana.create_policy()
    kibana.create_key(policy, "web")
    response = kibana.post(KEYS, json={"policy_id": policy, "name": "web"})
    assert_error(
        response, 409, f"An enrollment key named web already exists for agent policy {policy}"
    )


@pytest.mark.parametrize("version", ["8.15.0", "8.19.0"])
def test_late_8x_unknown_policy_is_404(at: AtVersion, version: str) -> None:
    response = at(version).post(KEYS, json={"policy_id": "nope"})
    assert_error(response, 404, 'Agent policy "nope" not found')


@pytest.mark.parametrize("method", ["get", "delete"])
def test_late_8x_unknown_key_is_404_with_the_service_wording(at: AtVersion, method: str) -> None:
    response = getattr(at("8.19.0"), method)(f"{KEYS}/abc")
    assert_error(response, 404, "Enrollment api key abc not found")


def test_8x_serves_the_deprecated_hyphen_routes(at: AtVersion) -> None:
    kibana = at("8.19.0")
    created = kibana.post(
        "/api/fleet/enrollment-api-keys", json={"policy_id": "fleet-server-policy"}
    )
    assert created.status_code == 200
    listed = kibana.get("/api/fleet/enrollment-api-keys").json()
    assert created.json()["item"]["id"] in {item["id"] for item in listed["items"]}


def test_8x_items_have_no_hidden_field(at: AtVersion) -> None:
    kibana = at("8.19.0")
    item = kibana.create_key("fleet-server-policy", "web")
    listed = kibana.get(f"{KEYS}/{item['id']}").json()["item"]
    assert "hidden" not in item
    assert "hidden" not in listed


@pytest.mark.parametrize("version", ["8.5.0", "8.19.0", "8.19.20"])
def test_8x_before_the_fix_accepts_and_ignores_expiration(at: AtVersion, version: str) -> None:
    item = at(version).create_key("fleet-server-policy", "web", expiration="0d")
    assert "expire_at" not in item


def test_8x_keys_are_visible_from_every_space(at: AtVersion) -> None:
    kibana = at("8.19.0")
    policy = kibana.create_policy(space_id="marketing")
    [key] = kibana.keys(policy)
    assert kibana.get(f"{KEYS}/{key['id']}", space_id="other").status_code == 200


# reader: the fleet-setup role (reads keys, writes none); fleetread: Fleet: Read.
ROLE_USERS = ["elastic:changeme:superuser", "reader:pw:fleet-setup", "fleetread:pw:fleet-read"]


def _8x_roles(start_emulator: StartEmulator) -> str:
    server = start_emulator(kibana_version="8.19.0", users=ROLE_USERS)
    Target(server.url, emulator=True).reset()
    return server.url


def test_8x_forbidden_is_bare_and_comes_after_validation(start_emulator: StartEmulator) -> None:
    url = _8x_roles(start_emulator)
    invalid = requests.post(url + KEYS, auth=("reader", "pw"), headers=XSRF, json={}, timeout=30)
    assert invalid.status_code == 400
    valid = requests.post(
        url + KEYS,
        auth=("reader", "pw"),
        headers=XSRF,
        json={"policy_id": "fleet-server-policy"},
        timeout=30,
    )
    assert_error(valid, 403, "Forbidden")


def test_8x_fleet_setup_role_can_list_keys(start_emulator: StartEmulator) -> None:
    url = _8x_roles(start_emulator)
    assert requests.get(url + KEYS, auth=("reader", "pw"), timeout=30).status_code == 200


# 8.x: readEnrollmentTokens is Fleet: All, fleet-setup or Agents: All (common/authz.ts), so
# Fleet: Read is refused by the route's fleetAuthz, inside the handler: a bare Forbidden.
def test_8x_fleet_read_role_cannot_list_or_read_keys(start_emulator: StartEmulator) -> None:
    url = _8x_roles(start_emulator)
    [key] = Target(url, emulator=True).keys("fleet-server-policy")
    for path in (KEYS, f"{KEYS}/{key['id']}"):
        response = requests.get(url + path, auth=("fleetread", "pw"), timeout=30)
        assert_error(response, 403, "Forbidden")


def test_8x_fleet_read_role_gets_validation_errors_first(start_emulator: StartEmulator) -> None:
    url = _8x_roles(start_emulator)
    response = requests.get(
        url + KEYS, params={"perPage": "many"}, auth=("fleetread", "pw"), timeout=30
    )
    assert_error(
        response, 400, "[request query.perPage]: expected value of type [number] but got [string]"
    )


def test_8x_a_mismatched_kbn_version_comes_before_validation_and_authz(
    start_emulator: StartEmulator,
) -> None:
    url = _8x_roles(start_emulator)
    headers = {"kbn-version": "9.0.0"}
    response = requests.post(
        url + KEYS, auth=("reader", "pw"), headers=headers, json={}, timeout=30
    )
    assert_error(
        response,
        400,
        "Browser client is out of date, please refresh the page "
        '("kbn-version" header was "9.0.0" but should be "8.19.0")',
        attributes={"expected": "8.19.0", "got": "9.0.0"},
    )


def test_8_15_refuses_space_ids_on_agent_policies(at: AtVersion) -> None:
    kibana = at("8.15.0")
    policy = kibana.create_policy()
    body = {"name": policy, "namespace": "default", "space_ids": ["default"]}
    message = "[request body.space_ids]: definition for this key is missing"
    assert_error(kibana.put(f"{POLICIES}/{policy}", json=body), 400, message)
    assert_error(kibana.post(POLICIES, json={**body, "name": "other"}), 400, message)


def test_8_14_does_not_check_kuery_fields(at: AtVersion) -> None:
    response = at("8.14.0").get(KEYS, params={"kuery": "non_existent_parameter:x"})
    assert (response.status_code, response.json()["total"]) == (200, 0)


# -- 9.0 - 9.4 --------------------------------------------------------------------------
def test_9_0_keys_are_visible_from_every_space(at: AtVersion) -> None:
    kibana = at("9.0.0")
    policy = kibana.create_policy(space_id="marketing")
    [key] = kibana.keys(policy)
    assert kibana.get(f"{KEYS}/{key['id']}").status_code == 200


def test_9_0_accepts_space_ids_and_moves_nothing(at: AtVersion) -> None:
    kibana = at("9.0.0")
    kibana.create_space("ops")
    policy = kibana.create_policy()
    item = kibana.create_key(policy, "web")
    moved = kibana.move_policy(policy, ["ops"])
    assert "space_ids" not in moved
    for where in (None, "ops", "elsewhere"):
        assert kibana.get(f"{KEYS}/{item['id']}", space_id=where).status_code == 200


def test_9_0_checks_the_spaces_of_a_new_policy(at: AtVersion) -> None:
    body = {"name": "p", "namespace": "default", "space_ids": ["no-such-space"]}
    response = at("9.0.0").post(POLICIES, json=body)
    assert_error(response, 400, "No enough permissions to create policies in space no-such-space")


def test_9_1_moving_a_policy_moves_its_keys(at: AtVersion) -> None:
    kibana = at("9.1.0")
    kibana.create_space("ops")
    policy = kibana.create_policy()
    item = kibana.create_key(policy, "web")
    assert kibana.move_policy(policy, ["ops"])["space_ids"] == ["ops"]
    assert_error(
        kibana.get(f"{KEYS}/{item['id']}"),
        404,
        f"Enrollment api key {item['id']} not found in namespace",
    )
    assert kibana.get(f"{KEYS}/{item['id']}", space_id="ops").status_code == 200


def test_9_1_policy_created_with_space_ids_lands_there(at: AtVersion) -> None:
    kibana = at("9.1.0")
    kibana.create_space("ops")
    policy = kibana.create_policy(space_ids=["ops"])
    assert kibana.keys(policy) == []
    assert [key["name"].split(" (")[0] for key in kibana.keys(policy, space_id="ops")] == [
        "Default"
    ]


def test_9_2_ignores_expiration(at: AtVersion) -> None:
    item = at("9.2.0").create_key("fleet-server-policy", "web", expiration="0d")
    assert "expire_at" not in item


def test_9_2_ignores_force_delete_and_only_revokes(at: AtVersion) -> None:
    kibana = at("9.2.0")
    item = kibana.create_key("fleet-server-policy", "web")
    response = kibana.delete(f"{KEYS}/{item['id']}", params={"forceDelete": "true"})
    assert response.status_code == 200
    assert kibana.get(f"{KEYS}/{item['id']}").json()["item"]["active"] is False


def test_9_2_delete_unknown_key_uses_the_service_wording(at: AtVersion) -> None:
    assert_error(at("9.2.0").delete(f"{KEYS}/abc"), 404, "Enrollment api key abc not found")


def test_9_2_duplicate_name_is_409(at: AtVersion) -> None:
    kibana = at("9.2.0")
    kibana.create_key("fleet-server-policy", "web")
    response = kibana.post(KEYS, json={"policy_id": "fleet-server-policy", "name": "web"})
    assert response.status_code == 409


def test_9_4_revokes_hidden_keys_on_a_plain_delete(at: AtVersion) -> None:
    kibana = at("9.4.0")
    [key] = kibana.keys(kibana.create_policy(managed=True))
    assert kibana.delete(f"{KEYS}/{key['id']}").status_code == 200
    assert kibana.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is False


def test_9_4_policy_delete_revokes_its_keys(at: AtVersion) -> None:
    kibana = at("9.4.0")
    policy = kibana.create_policy()
    item = kibana.create_key(policy, "web")
    kibana.post(f"{POLICIES}/delete", json={"agentPolicyId": policy})
    assert kibana.get(f"{KEYS}/{item['id']}").json()["item"]["active"] is False


def test_9_4_recreated_policy_gets_no_default_key_while_revoked_keys_remain(
    at: AtVersion,
) -> None:
    kibana = at("9.4.0")
    policy = kibana.create_policy()
    kibana.post(f"{POLICIES}/delete", json={"agentPolicyId": policy})
    body = {"id": policy, "name": policy, "namespace": "default"}
    assert kibana.post(POLICIES, json=body).status_code == 200
    assert [key["active"] for key in kibana.keys(policy)] == [False]


def test_9_5_recreated_policy_gets_a_new_default_key(at: AtVersion) -> None:
    kibana = at("9.5.0")
    policy = kibana.create_policy()
    kibana.post(f"{POLICIES}/delete", json={"agentPolicyId": policy})
    body = {"id": policy, "name": policy, "namespace": "default"}
    assert kibana.post(POLICIES, json=body).status_code == 200
    assert [key["active"] for key in kibana.keys(policy)] == [True]
