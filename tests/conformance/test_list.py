"""GET /api/fleet/enrollment_api_keys (list, pagination, kuery)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conformance.openapi import assert_matches
from tests.conformance.target import KEYS, Target, assert_error


def _names(target: Target, kuery: str, policy_id: str) -> list[str]:
    response = target.get(KEYS, params={"kuery": f'policy_id:"{policy_id}" and ({kuery})'})
    assert response.status_code == 200, response.text
    return sorted(item["name"].split(" (")[0] for item in response.json()["items"])


def test_list_matches_the_openapi_schema(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    assert_matches("get-fleet-enrollment-api-keys", target.get(KEYS).json())


def test_list_items_and_deprecated_list_are_equal(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    body = target.get(KEYS).json()
    assert body["items"] == body["list"]


def test_list_defaults_to_page_1_of_20(target: Target, policy_id: str) -> None:
    body = target.get(KEYS).json()
    assert (body["page"], body["perPage"]) == (1, 20)


def test_list_echoes_page_and_per_page(target: Target, policy_id: str) -> None:
    body = target.get(KEYS, params={"page": "2", "perPage": "3"}).json()
    assert (body["page"], body["perPage"]) == (2, 3)


def test_list_includes_the_policy_default_key(target: Target, policy_id: str) -> None:
    [item] = target.keys(policy_id)
    assert item["name"].startswith("Default (")


def test_list_is_sorted_newest_first(target: Target, policy_id: str) -> None:
    created = [target.create_key(policy_id, f"k{i}")["id"] for i in range(5)]
    listed = [item["id"] for item in target.keys(policy_id)]
    assert listed[:5] == list(reversed(created))


def test_list_paginates_with_total(target: Target, policy_id: str) -> None:
    for i in range(4):
        target.create_key(policy_id, f"k{i}")
    params: dict[str, Any] = {"kuery": f'policy_id:"{policy_id}"', "perPage": 2}
    pages = [target.get(KEYS, params={**params, "page": page}).json() for page in (1, 2, 3)]
    assert [page["total"] for page in pages] == [5, 5, 5]
    assert [len(page["items"]) for page in pages] == [2, 2, 1]
    ids = [item["id"] for page in pages for item in page["items"]]
    assert len(set(ids)) == 5


def test_list_includes_revoked_keys_as_inactive(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    target.delete(f"{KEYS}/{item['id']}")
    [listed] = [key for key in target.keys(policy_id) if key["id"] == item["id"]]
    assert listed["active"] is False


def test_list_items_carry_hidden_false_for_a_normal_policy(target: Target, policy_id: str) -> None:
    target.require("hidden_field")
    assert [item["hidden"] for item in target.keys(policy_id)] == [False]


def test_list_items_carry_hidden_true_for_a_managed_policy(target: Target) -> None:
    target.require("hidden_field")
    managed = target.create_policy(managed=True)
    assert [item["hidden"] for item in target.keys(managed)] == [True]


def test_list_kuery_filters_by_policy_id(target: Target, policy_id: str) -> None:
    other = target.create_policy()
    target.create_key(other, "elsewhere")
    assert {item["policy_id"] for item in target.keys(policy_id)} == {policy_id}


def test_list_kuery_name_with_trailing_wildcard(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    target.create_key(policy_id, "db")
    assert _names(target, "name:web*", policy_id) == ["web"]


def test_list_kuery_active_false_finds_revoked_keys(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    revoked = target.create_key(policy_id, "old")
    target.delete(f"{KEYS}/{revoked['id']}")
    assert _names(target, "active:false", policy_id) == ["old"]


def test_list_kuery_not(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    assert _names(target, "not name:Default*", policy_id) == ["web"]


def test_list_kuery_or_and_parentheses(target: Target, policy_id: str) -> None:
    for name in ("web", "db", "cache"):
        target.create_key(policy_id, name)
    assert _names(target, "(name:web* or name:db*) and active:true", policy_id) == ["db", "web"]


def test_list_kuery_value_list(target: Target, policy_id: str) -> None:
    for name in ("web", "db", "cache"):
        target.create_key(policy_id, name)
    assert _names(target, "name:(web* or cache*)", policy_id) == ["cache", "web"]


def test_list_kuery_quoted_value_is_exact(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert _names(target, f'name:"{item["name"]}"', policy_id) == ["web"]


def test_list_kuery_quoted_star_is_not_a_wildcard(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    assert _names(target, 'name:"web*"', policy_id) == []


def test_list_kuery_hidden_true(target: Target) -> None:
    target.require("hidden_field")
    managed = target.create_policy(managed=True)
    assert _names(target, "hidden:true", managed) == ["Default"]


def test_list_kuery_unknown_field_is_400(target: Target) -> None:
    target.require("strict_kql")
    response = target.get(KEYS, params={"kuery": "non_existent_parameter:x"})
    assert_error(
        response,
        400,
        "[request query.kuery]: KQLSyntaxError: This type 'non_existent_parameter' is not allowed",
    )


def test_list_kuery_unknown_prefixed_field_is_400(target: Target) -> None:
    target.require("strict_kql")
    kuery = "fleet-enrollment-api-keys.non_existent_parameter:x"
    response = target.get(KEYS, params={"kuery": kuery})
    assert_error(
        response,
        400,
        "[request query.kuery]: KQLSyntaxError: This key "
        "'fleet-enrollment-api-keys.non_existent_parameter' does NOT exist in "
        "fleet-enrollment-api-keys saved object index patterns",
    )


def test_list_kuery_namespaces_field_is_400(target: Target) -> None:
    target.require("strict_kql")
    response = target.get(KEYS, params={"kuery": 'namespaces:"default"'})
    assert response.status_code == 400


def test_list_kuery_prefixed_known_field_is_accepted(target: Target, policy_id: str) -> None:
    kuery = f'fleet-enrollment-api-keys.policy_id:"{policy_id}"'
    assert target.get(KEYS, params={"kuery": kuery}).status_code == 200


def test_list_kuery_malformed_is_400(target: Target) -> None:
    response = target.get(KEYS, params={"kuery": "policy_id:"})
    assert_error(
        response,
        400,
        'Kuery is malformed: Expected "(", "{", value, whitespace but end of input found.\n'
        "policy_id:\n----------^",
    )


def test_list_kuery_unbalanced_parenthesis_is_400(target: Target) -> None:
    response = target.get(KEYS, params={"kuery": "(policy_id:x"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Kuery is malformed: ")


@pytest.mark.parametrize("value", ["abc", ""])
def test_list_page_not_a_number_is_400(target: Target, value: str) -> None:
    response = target.get(KEYS, params={"page": value})
    assert_error(
        response, 400, "[request query.page]: expected value of type [number] but got [string]"
    )


def test_list_per_page_not_a_number_is_400(target: Target) -> None:
    response = target.get(KEYS, params={"perPage": "many"})
    assert_error(
        response, 400, "[request query.perPage]: expected value of type [number] but got [string]"
    )


def test_list_unknown_query_key_is_400(target: Target) -> None:
    response = target.get(KEYS, params={"showInactive": "true"})
    assert_error(response, 400, "[request query.showInactive]: definition for this key is missing")
