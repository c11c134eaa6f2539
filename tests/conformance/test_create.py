"""POST /api/fleet/enrollment_api_keys."""

from __future__ import annotations

import base64
import re
from datetime import datetime, timedelta, timezone

import pytest

from tests.conformance.openapi import assert_matches
from tests.conformance.target import KEYS, Target, assert_error

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def test_create_answers_200_with_item_and_action_created(target: Target, policy_id: str) -> None:
    response = target.post(KEYS, json={"policy_id": policy_id, "name": "web"})
    assert response.status_code == 200
    assert response.json()["action"] == "created"
    assert_matches("post-fleet-enrollment-api-keys", response.json())


def test_create_item_has_exactly_the_documented_fields(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert set(item) == {
        "id",
        "api_key_id",
        "api_key",
        "name",
        "active",
        "policy_id",
        "created_at",
    }


def test_create_stores_name_followed_by_id_in_parentheses(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert item["name"] == f"web ({item['id']})"


def test_create_without_name_uses_the_id_as_name(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id)
    assert re.fullmatch(UUID, item["id"])
    assert item["name"] == item["id"]


def test_create_with_empty_name_uses_the_id_as_name(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "")
    assert item["name"] == item["id"]


def test_create_api_key_is_base64_of_api_key_id_and_secret(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    key_id, _, secret = base64.b64decode(item["api_key"]).decode().partition(":")
    assert key_id == item["api_key_id"]
    assert secret


def test_create_makes_a_different_secret_each_time(target: Target, policy_id: str) -> None:
    first, second = target.create_key(policy_id), target.create_key(policy_id)
    assert first["api_key"] != second["api_key"]
    assert first["id"] != second["id"]


def test_create_created_at_is_iso_with_milliseconds_and_z(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", item["created_at"])


def test_create_new_key_is_active_on_the_policy(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert (item["active"], item["policy_id"]) == (True, policy_id)


def test_create_duplicate_name_on_the_same_policy_is_409(target: Target, policy_id: str) -> None:
    target.require("typed_fleet_errors")
    target.create_key(policy_id, "web")
    response = target.post(KEYS, json={"policy_id": policy_id, "name": "web"})
    assert_error(
        response, 409, f"An enrollment key named web already exists for agent policy {policy_id}"
    )


def test_create_duplicate_name_counts_revoked_keys(target: Target, policy_id: str) -> None:
    item = target.create_key(policy_id, "web")
    assert target.delete(f"{KEYS}/{item['id']}").status_code == 200
    response = target.post(KEYS, json={"policy_id": policy_id, "name": "web"})
    assert response.status_code == 409


def test_create_same_name_on_another_policy_is_allowed(target: Target, policy_id: str) -> None:
    other = target.create_policy()
    target.create_key(policy_id, "web")
    assert target.create_key(other, "web")["name"].startswith("web (")


def test_create_name_that_is_a_prefix_of_an_existing_name_is_allowed(
    target: Target, policy_id: str
) -> None:
    target.create_key(policy_id, "web-frontend")
    assert target.create_key(policy_id, "web")["name"].startswith("web (")


def test_create_name_extending_an_existing_name_is_allowed(target: Target, policy_id: str) -> None:
    target.create_key(policy_id, "web")
    assert target.create_key(policy_id, "web-frontend")["name"].startswith("web-frontend (")


def test_create_default_conflicts_with_the_policy_default_key(
    target: Target, policy_id: str
) -> None:
    response = target.post(KEYS, json={"policy_id": policy_id, "name": "Default"})
    assert response.status_code == 409


def test_create_on_unknown_policy_is_404(target: Target) -> None:
    target.require("typed_fleet_errors")
    response = target.post(KEYS, json={"policy_id": "idonotexist"})
    assert_error(response, 404, 'Agent policy "idonotexist" not found')


def test_create_with_empty_policy_id_is_404(target: Target) -> None:
    target.require("typed_fleet_errors")
    response = target.post(KEYS, json={"policy_id": ""})
    assert_error(response, 404, 'Agent policy "" not found')


def test_create_without_body_is_400(target: Target) -> None:
    response = target.post(KEYS)
    assert_error(
        response, 400, "[request body]: expected a plain object value, but found [null] instead."
    )


def test_create_with_array_body_is_400(target: Target) -> None:
    response = target.post(KEYS, json=[])
    assert_error(
        response, 400, "[request body]: expected a plain object value, but found [Array] instead."
    )


def test_create_with_invalid_json_is_400(target: Target) -> None:
    response = target.post(KEYS, data="{not json", headers={"Content-Type": "application/json"})
    assert_error(response, 400, "Invalid request payload JSON format")


def test_create_without_policy_id_is_400(target: Target) -> None:
    response = target.post(KEYS, json={})
    assert_error(
        response,
        400,
        "[request body.policy_id]: expected value of type [string] but got [undefined]",
    )


def test_create_with_numeric_policy_id_is_400(target: Target) -> None:
    response = target.post(KEYS, json={"policy_id": 1})
    assert_error(
        response, 400, "[request body.policy_id]: expected value of type [string] but got [number]"
    )


def test_create_with_numeric_name_is_400(target: Target, policy_id: str) -> None:
    response = target.post(KEYS, json={"policy_id": policy_id, "name": 5})
    assert_error(
        response, 400, "[request body.name]: expected value of type [string] but got [number]"
    )


def test_create_with_null_name_is_400(target: Target, policy_id: str) -> None:
    response = target.post(KEYS, json={"policy_id": policy_id, "name": None})
    assert_error(
        response, 400, "[request body.name]: expected value of type [string] but got [null]"
    )


def test_create_with_unknown_key_is_400(target: Target, policy_id: str) -> None:
    response = target.post(KEYS, json={"policy_id": policy_id, "raoul": "x"})
    assert_error(response, 400, "[request body.raoul]: definition for this key is missing")


def test_create_checks_declared_keys_before_unknown_keys(target: Target) -> None:
    response = target.post(KEYS, json={"raoul": "raoul"})
    assert_error(
        response,
        400,
        "[request body.policy_id]: expected value of type [string] but got [undefined]",
    )


def test_create_with_expiration_returns_expire_at(target: Target, policy_id: str) -> None:
    target.require("expiration")
    before = datetime.now(timezone.utc)
    item = target.create_key(policy_id, "web", expiration="7d")
    expire_at = datetime.fromisoformat(item["expire_at"].replace("Z", "+00:00"))
    assert before + timedelta(days=7) - timedelta(seconds=5) <= expire_at
    assert expire_at <= datetime.now(timezone.utc) + timedelta(days=7, seconds=5)
    assert_matches("post-fleet-enrollment-api-keys", {"item": item, "action": "created"})


def test_create_without_expiration_has_no_expire_at(target: Target, policy_id: str) -> None:
    assert "expire_at" not in target.create_key(policy_id, "web")


def test_create_with_zero_duration_expiration_is_400(target: Target, policy_id: str) -> None:
    target.require("final_expiration_check")
    response = target.post(KEYS, json={"policy_id": policy_id, "expiration": "0d"})
    assert_error(
        response,
        400,
        "[request body.expiration]: Expiration must be a valid duration "
        "(for example, 30d, 24h, 90m, 60s)",
    )


@pytest.mark.parametrize(
    "expiration",
    ["30d\n", "1\u0663d", "30\uff44", " 30d"],
    ids=["final-newline", "arabic-indic-digits", "fullwidth-unit", "leading-space"],
)
def test_create_with_expiration_javascript_regex_refuses_is_400(
    target: Target, policy_id: str, expiration: str
) -> None:
    # Kibana's ES_ENROLLMENT_KEY_DURATION_REGEX /^[1-9]\d*(d|h|m|s)$/ is a JavaScript regex
    # without the u and m flags: \d is [0-9] and $ matches only at the very end.
    target.require("final_expiration_check")
    response = target.post(KEYS, json={"policy_id": policy_id, "expiration": expiration})
    assert_error(
        response,
        400,
        "[request body.expiration]: Expiration must be a valid duration "
        "(for example, 30d, 24h, 90m, 60s)",
    )


def test_create_with_date_as_expiration_is_400(target: Target, policy_id: str) -> None:
    target.require("expiration")
    body = {"policy_id": policy_id, "expiration": "2030-01-01"}
    assert target.post(KEYS, json=body).status_code == 400


def test_create_with_expiration_above_the_unit_maximum_is_400(
    target: Target, policy_id: str
) -> None:
    target.require("expiration")
    response = target.post(KEYS, json={"policy_id": policy_id, "expiration": "106752d"})
    assert response.status_code == 400


def test_create_with_expiration_at_the_unit_maximum_is_accepted(
    target: Target, policy_id: str
) -> None:
    target.require("expiration")
    assert "expire_at" in target.create_key(policy_id, expiration="106751d")


def test_create_with_expiration_longer_than_20_characters_is_400(
    target: Target, policy_id: str
) -> None:
    target.require("expiration")
    response = target.post(KEYS, json={"policy_id": policy_id, "expiration": "1" * 20 + "s"})
    assert_error(
        response,
        400,
        "[request body.expiration]: value has length [21] "
        "but it must have a maximum length of [20].",
    )
