"""Roles and Kibana 9.x privilege errors (the emulator's fixed roles).

``reader`` is ``fleet-setup`` (reads keys, writes none), ``fleetread`` is Fleet: Read, which
may not list or read keys (x-pack/test/fleet_api_integration/apis/enrollment_api_keys/
privileges.ts; the key routes want ``fleet-agents-all`` or ``fleet-setup``).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests

from tests.conformance.target import KEYS, XSRF, Target, assert_error
from tests.conftest import StartEmulator

USERS = [
    "elastic:changeme:superuser",
    "reader:pw:fleet-setup",
    "fleetread:pw:fleet-read",
    "nobody:pw:none",
]
KEYS_FORBIDDEN = (
    "is unauthorized for user, this action is granted by the Kibana privileges "
    "[fleet-agents-all,fleet-setup]"
)
API_KEY = "cmVhZGVyLWtleTpzZWNyZXQ="
TOKEN = "opaque-token"


pytestmark = pytest.mark.emulator_only("roles are the emulator's own")


@pytest.fixture(scope="module")
def server_url(start_emulator: StartEmulator) -> str:
    return start_emulator(
        kibana_version="9.5.0",
        users=USERS,
        api_keys=[f"{API_KEY}:fleet-setup"],
        bearer_tokens=[f"{TOKEN}:superuser"],
    ).url


@pytest.fixture
def roles(server_url: str) -> Iterator[Target]:
    target = Target(server_url, emulator=True)
    target.reset()
    yield target


def _as(target: Target, user: str, method: str, path: str, **options: object) -> requests.Response:
    headers = {**XSRF, **options.pop("headers", {})}
    return requests.request(
        method, target.url + path, auth=(user, "pw"), headers=headers, timeout=30, **options
    )


def test_fleet_setup_role_can_list_and_read_keys(roles: Target) -> None:
    [key] = roles.keys("fleet-server-policy")
    assert _as(roles, "reader", "GET", KEYS).status_code == 200
    assert _as(roles, "reader", "GET", f"{KEYS}/{key['id']}").json()["item"]["id"] == key["id"]


def test_fleet_read_role_cannot_list_keys(roles: Target) -> None:
    response = _as(roles, "fleetread", "GET", KEYS)
    assert_error(response, 403, f"API [GET /api/fleet/enrollment_api_keys] {KEYS_FORBIDDEN}")


def test_fleet_read_role_cannot_read_a_key(roles: Target) -> None:
    [key] = roles.keys("fleet-server-policy")
    response = _as(roles, "fleetread", "GET", f"{KEYS}/{key['id']}")
    path = f"/api/fleet/enrollment_api_keys/{key['id']}"
    assert_error(response, 403, f"API [GET {path}] {KEYS_FORBIDDEN}")


def test_fleet_read_role_can_read_an_agent_policy(roles: Target) -> None:
    response = _as(roles, "fleetread", "GET", "/api/fleet/agent_policies/fleet-server-policy")
    assert response.status_code == 200


def test_fleet_read_role_cannot_create_keys(roles: Target) -> None:
    response = _as(roles, "fleetread", "POST", KEYS, json={"policy_id": "fleet-server-policy"})
    assert response.status_code == 403


def test_fleet_setup_role_cannot_create_keys(roles: Target) -> None:
    response = _as(roles, "reader", "POST", KEYS, json={"policy_id": "fleet-server-policy"})
    assert_error(
        response,
        403,
        "API [POST /api/fleet/enrollment_api_keys] is unauthorized for user, "
        "this action is granted by the Kibana privileges [fleet-agents-all]",
    )


def test_fleet_setup_role_cannot_revoke_keys(roles: Target) -> None:
    [key] = roles.keys("fleet-server-policy")
    response = _as(roles, "reader", "DELETE", f"{KEYS}/{key['id']}")
    assert response.status_code == 403
    assert roles.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is True


def test_none_role_cannot_list_keys(roles: Target) -> None:
    assert_error(
        _as(roles, "nobody", "GET", KEYS),
        403,
        "API [GET /api/fleet/enrollment_api_keys] is unauthorized for user, "
        "this action is granted by the Kibana privileges [fleet-agents-all,fleet-setup]",
    )


def test_a_mismatched_kbn_version_comes_before_the_privilege_check(roles: Target) -> None:
    response = _as(roles, "nobody", "GET", KEYS, headers={"kbn-version": "0.0.1"})
    assert response.json()["message"].startswith("Browser client is out of date")


def test_forbidden_message_includes_the_query_string(roles: Target) -> None:
    response = _as(roles, "reader", "DELETE", f"{KEYS}/abc?forceDelete=true")
    assert response.json()["message"].startswith(
        "API [DELETE /api/fleet/enrollment_api_keys/abc?forceDelete=true] is unauthorized"
    )


def test_forbidden_message_leaves_out_the_space_prefix(roles: Target) -> None:
    response = _as(roles, "nobody", "GET", f"/s/marketing{KEYS}")
    assert response.json()["message"].startswith("API [GET /api/fleet/enrollment_api_keys]")


def test_forbidden_comes_before_validation(roles: Target) -> None:
    assert _as(roles, "reader", "POST", KEYS, json={}).status_code == 403


def test_forbidden_comes_after_the_xsrf_check(roles: Target) -> None:
    response = requests.post(roles.url + KEYS, auth=("reader", "pw"), json={}, timeout=30)
    assert_error(response, 400, "Request must contain a kbn-xsrf header.")


def test_forbidden_responses_carry_no_api_version_header(roles: Target) -> None:
    assert "elastic-api-version" not in _as(roles, "nobody", "GET", KEYS).headers


def test_api_key_authenticates_with_its_role(roles: Target) -> None:
    headers = {"Authorization": f"ApiKey {API_KEY}"}
    assert requests.get(roles.url + KEYS, headers=headers, timeout=30).status_code == 200
    write = requests.post(
        roles.url + KEYS, headers={**headers, **XSRF}, json={"policy_id": "x"}, timeout=30
    )
    assert write.status_code == 403


def test_bearer_token_authenticates(roles: Target) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", **XSRF}
    body = {"policy_id": "fleet-server-policy"}
    assert requests.post(roles.url + KEYS, headers=headers, json=body, timeout=30).ok


def test_unknown_bearer_token_is_401(roles: Target) -> None:
    headers = {"Authorization": "Bearer nope"}
    assert requests.get(roles.url + KEYS, headers=headers, timeout=30).status_code == 401


def test_unknown_authorization_scheme_is_401(roles: Target) -> None:
    headers = {"Authorization": "Digest x"}
    response = requests.get(roles.url + KEYS, headers=headers, timeout=30)
    assert_error(response, 401, "Unauthorized")
