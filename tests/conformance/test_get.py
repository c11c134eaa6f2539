"""GET /api/fleet/enrollment_api_keys/{keyId}."""

from __future__ import annotations

from tests.conformance.openapi import assert_matches
from tests.conformance.target import KEYS, Target, assert_error


def test_get_matches_the_openapi_schema(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    response = target.get(f"{KEYS}/{item['id']}")
    assert response.status_code == 200
    assert_matches("get-fleet-enrollment-api-keys-keyid", response.json())


def test_get_returns_what_create_returned(target: Target, policy_id: str) -> None:
    created = target.create_key(policy_id, "web")
    read = target.get(f"{KEYS}/{created['id']}").json()["item"]
    assert {k: v for k, v in read.items() if k != "hidden"} == created


def test_get_unknown_id_is_404(target: Target) -> None:
    target.require("typed_fleet_errors")
    response = target.get(f"{KEYS}/does-not-exist")
    assert_error(response, 404, "Enrollment api key does-not-exist not found")


def test_get_revoked_key_is_returned_inactive(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}")
    assert target.get(f"{KEYS}/{item['id']}").json()["item"]["active"] is False


def test_get_hidden_key_is_returned(target: Target) -> None:
    target.require("hidden_field")
    managed = target.create_policy(managed=True)
    [key] = target.keys(managed)
    response = target.get(f"{KEYS}/{key['id']}")
    assert (response.status_code, response.json()["item"]["hidden"]) == (200, True)


def test_get_ignores_query_parameters(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    response = target.get(f"{KEYS}/{item['id']}", params={"whatever": "1"})
    assert response.status_code == 200
