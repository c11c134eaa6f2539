"""DELETE /api/fleet/enrollment_api_keys/{keyId} (revoke, and from 9.5 force delete)."""

from __future__ import annotations

import pytest

from tests.conformance.openapi import assert_matches
from tests.conformance.target import KEYS, Target, assert_error


def test_delete_answers_action_deleted(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}")
    assert (response.status_code, response.json()) == (200, {"action": "deleted"})
    assert_matches("delete-fleet-enrollment-api-keys-keyid", response.json())


def test_delete_revokes_and_keeps_the_document(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}")
    read = target.get(f"{KEYS}/{item['id']}")
    assert (read.status_code, read.json()["item"]["active"]) == (200, False)


def test_delete_an_already_revoked_key_is_200(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}")
    assert target.delete(f"{KEYS}/{item['id']}").status_code == 200


def test_delete_with_force_delete_removes_the_document(target: Target, policy_id: str) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}", params={"forceDelete": "true"})
    assert (response.status_code, response.json()) == (200, {"action": "deleted"})
    assert target.get(f"{KEYS}/{item['id']}").status_code == 404


def test_delete_with_force_delete_frees_the_name(target: Target, policy_id: str) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}", params={"forceDelete": "true"})
    assert target.create_key(policy_id, "web")["name"].startswith("web (")


def test_delete_with_force_delete_of_a_revoked_key_removes_it(
    target: Target, policy_id: str
) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}")
    target.delete(f"{KEYS}/{item['id']}", params={"forceDelete": "true"})
    assert target.get(f"{KEYS}/{item['id']}").status_code == 404


def test_delete_unknown_id_is_404(target: Target) -> None:
    target.require("delete_options")
    response = target.delete(f"{KEYS}/does-not-exist")
    assert_error(response, 404, "EnrollmentAPIKey does-not-exist not found")


def test_delete_hidden_key_without_include_hidden_is_404(target: Target) -> None:
    target.require("delete_options")
    [key] = target.keys(target.create_policy(managed=True))
    response = target.delete(f"{KEYS}/{key['id']}")
    assert_error(response, 404, f"EnrollmentAPIKey {key['id']} not found")
    assert target.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is True


def test_delete_hidden_key_with_include_hidden_revokes_it(target: Target) -> None:
    target.require("delete_options")
    [key] = target.keys(target.create_policy(managed=True))
    response = target.delete(f"{KEYS}/{key['id']}", params={"includeHidden": "true"})
    assert response.status_code == 200
    assert target.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is False


def test_delete_force_delete_not_a_boolean_is_400(target: Target, policy_id: str) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}", params={"forceDelete": "maybe"})
    assert_error(
        response,
        400,
        "[request query.forceDelete]: expected value of type [boolean] but got [string]",
    )


# @kbn/config-schema's boolean lower-cases a string and wants exactly "true" or "false": any
# case passes, but nothing is trimmed (kbn-config-schema/src/internals/index.ts).
@pytest.mark.parametrize(
    "query", ["forceDelete=%20true", "forceDelete=true%20", "forceDelete=+true"]
)
def test_delete_force_delete_with_blanks_is_400_and_deletes_nothing(
    target: Target, policy_id: str, query: str
) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}?{query}")
    assert_error(
        response,
        400,
        "[request query.forceDelete]: expected value of type [boolean] but got [string]",
    )
    assert target.get(f"{KEYS}/{item['id']}").json()["item"]["active"] is True


def test_delete_include_hidden_with_a_blank_is_400(target: Target) -> None:
    target.require("delete_options")
    [key] = target.keys(target.create_policy(managed=True))
    response = target.delete(f"{KEYS}/{key['id']}?includeHidden=%20true")
    assert_error(
        response,
        400,
        "[request query.includeHidden]: expected value of type [boolean] but got [string]",
    )
    assert target.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is True


@pytest.mark.parametrize("value", ["TRUE", "True", "tRuE"])
def test_delete_force_delete_in_any_case_removes_the_key(
    target: Target, policy_id: str, value: str
) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}", params={"forceDelete": value})
    assert (response.status_code, response.json()) == (200, {"action": "deleted"})
    assert target.get(f"{KEYS}/{item['id']}").status_code == 404


def test_delete_include_hidden_false_in_capitals_is_a_plain_delete(target: Target) -> None:
    target.require("delete_options")
    [key] = target.keys(target.create_policy(managed=True))
    response = target.delete(f"{KEYS}/{key['id']}", params={"includeHidden": "FALSE"})
    assert_error(response, 404, f"EnrollmentAPIKey {key['id']} not found")


def test_delete_unknown_query_key_is_400(target: Target, policy_id: str) -> None:
    target.require("delete_options")
    item = target.create_key(policy_id, "web")
    response = target.delete(f"{KEYS}/{item['id']}", params={"force": "true"})
    assert_error(response, 400, "[request query.force]: definition for this key is missing")
