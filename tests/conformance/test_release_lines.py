"""Behaviour that differs by release line and patch: expiration, name queries, kuery, paging.

Each test names the releases it pins; the boundaries that are choices (the first patch with
elastic/kibana#281324, 8.15 for typed errors, 8.10 for wrapped kuery errors, 9.1 for
``hidden``) are listed in the README's emulator table.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone

import pytest

from tests.conformance.target import KEYS, Target, assert_error

AtVersion = Callable[[str], Target]
POLICY = "fleet-server-policy"
POLICIES = "/api/fleet/agent_policies"
BULK = f"{KEYS}/_bulk_delete"
FIRST_MESSAGE = (
    "[request body.expiration]: expiration must be a valid duration (e.g. 7d, 24h, 30m, 60s)"
)

pytestmark = pytest.mark.emulator_only("other Kibana versions are emulator switches")

UNPATCHED = ["8.19.0", "8.19.20", "9.3.0", "9.3.8", "9.4.0", "9.4.5", "9.5.0"]
PATCHED = ["8.19.21", "9.3.9", "9.4.6", "9.5.1"]


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


# -- 1. expiration, honoured from the patches with elastic/kibana#281324 -----------------------
@pytest.mark.parametrize("version", UNPATCHED)
def test_releases_without_the_fix_accept_any_expiration_and_drop_it(
    at_version: AtVersion, version: str
) -> None:
    kibana = at_version(version)
    for expiration in ("7d", "90x"):
        item = kibana.create_key(POLICY, f"web-{expiration}", expiration=expiration)
        assert "expire_at" not in item
        assert "expire_at" not in kibana.get(f"{KEYS}/{item['id']}").json()["item"]


@pytest.mark.parametrize("version", [*PATCHED, "9.6.0"])
def test_releases_with_the_fix_return_expire_at(at_version: AtVersion, version: str) -> None:
    kibana = at_version(version)
    item = kibana.create_key(POLICY, "web", expiration="1h")
    read = kibana.get(f"{KEYS}/{item['id']}").json()["item"]
    assert (_instant(item["expire_at"]) - _instant(item["created_at"])).total_seconds() == 3600
    assert read["expire_at"] == item["expire_at"]


@pytest.mark.parametrize("version", PATCHED)
def test_backported_validator_has_its_own_message(at_version: AtVersion, version: str) -> None:
    response = at_version(version).post(KEYS, json={"policy_id": POLICY, "expiration": "90x"})
    assert_error(response, 400, FIRST_MESSAGE)


@pytest.mark.parametrize("version", PATCHED)
def test_backported_validator_takes_0d_and_the_key_stays_active(
    at_version: AtVersion, version: str
) -> None:
    kibana = at_version(version)
    item = kibana.create_key(POLICY, "web", expiration="0d")
    assert item["expire_at"] == item["created_at"]
    read = kibana.get(f"{KEYS}/{item['id']}").json()["item"]
    # Kibana never writes back an expiry: `active` only records a revocation.
    assert read["active"] is True
    assert _instant(read["expire_at"]) <= datetime.now(timezone.utc)


def test_backported_validator_keeps_the_length_limit(at_version: AtVersion) -> None:
    body = {"policy_id": POLICY, "expiration": "1" * 20 + "s"}
    response = at_version("9.4.6").post(KEYS, json=body)
    assert_error(
        response,
        400,
        "[request body.expiration]: value has length [21] but it must have a maximum length of [20].",
    )


def test_backported_validator_lets_elasticsearch_refuse_too_long_a_duration(
    at_version: AtVersion,
) -> None:
    kibana = at_version("9.5.1")
    response = kibana.post(KEYS, json={"policy_id": POLICY, "name": "far", "expiration": "106752d"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Impossible to create an api key: ")
    assert not [k for k in kibana.keys(POLICY) if k["name"].startswith("far (")]


def test_final_validator_refuses_0d(at_version: AtVersion) -> None:
    response = at_version("9.6.0").post(KEYS, json={"policy_id": POLICY, "expiration": "0d"})
    assert_error(
        response,
        400,
        "[request body.expiration]: Expiration must be a valid duration "
        "(for example, 30d, 24h, 90m, 60s)",
    )


def test_a_patch_release_reports_its_own_number(at_version: AtVersion) -> None:
    assert at_version("9.4.6").kibana_version() == "9.4.6"


# -- 3. the duplicate-name search is a Lucene query_string `(<name>) *` -----------------------
@pytest.mark.parametrize(
    "name",
    ["web (prod", 'web "prod', "web/prod", "web\\", "web AND", "()"],
    ids=["open-parenthesis", "quote", "slash", "trailing-backslash", "dangling-and", "empty-group"],
)
@pytest.mark.parametrize("version", ["8.14.0", "9.4.0", "9.6.0"])
def test_name_lucene_cannot_parse_fails_the_create(
    at_version: AtVersion, version: str, name: str
) -> None:
    kibana = at_version(version)
    response = kibana.post(KEYS, json={"policy_id": POLICY, "name": name})
    assert response.status_code == 500
    assert response.json()["error"] == "Internal Server Error"
    assert f"Failed to parse query [({name}) *]" in response.json()["message"]
    # The search failed before anything was stored: only the policy's Default key is there.
    assert [key["name"].split(" (")[0] for key in kibana.keys(POLICY)] == ["Default"]


@pytest.mark.parametrize(
    "name", ["web (prod)", "web/prod/eu", "web\\\\", "linux-hosts", "a:b", "x && y"]
)
def test_name_lucene_can_parse_is_created(at_version: AtVersion, name: str) -> None:
    item = at_version("9.6.0").create_key(POLICY, name)
    assert item["name"] == f"{name} ({item['id']})"


def test_9x_escapes_the_first_exclamation_mark_and_8x_none(at_version: AtVersion) -> None:
    assert at_version("9.6.0").create_key(POLICY, "web!")["name"].startswith("web! (")
    response = at_version("8.19.0").post(KEYS, json={"policy_id": POLICY, "name": "web!"})
    assert response.status_code == 500
    response = at_version("9.6.0").post(KEYS, json={"policy_id": POLICY, "name": "a!!"})
    assert response.status_code == 500


# -- 5. kuery ---------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["8.10.0", "8.13.0"])
def test_8_10_to_8_13_refuse_free_text(at_version: AtVersion, version: str) -> None:
    response = at_version(version).get(KEYS, params={"kuery": "web"})
    assert_error(response, 400, "[request query.kuery]: KQLSyntaxError: Invalid key")


@pytest.mark.parametrize("version", ["8.9.0", "8.14.0", "8.16.0", "9.6.0"])
def test_other_releases_take_free_text(at_version: AtVersion, version: str) -> None:
    assert at_version(version).get(KEYS, params={"kuery": "web"}).status_code == 200


@pytest.mark.parametrize("version", ["8.5.0", "8.9.0"])
def test_early_8x_answers_a_malformed_kuery_with_500(at_version: AtVersion, version: str) -> None:
    response = at_version(version).get(KEYS, params={"kuery": "policy_id:"})
    assert_error(
        response,
        500,
        'Expected "(", "{", value, whitespace but end of input found.\npolicy_id:\n----------^',
    )


@pytest.mark.parametrize("version", ["8.10.0", "8.19.0", "9.6.0"])
def test_later_releases_answer_a_malformed_kuery_with_400(
    at_version: AtVersion, version: str
) -> None:
    response = at_version(version).get(KEYS, params={"kuery": "policy_id:"})
    assert response.status_code == 400
    assert response.json()["message"].startswith("Kuery is malformed: ")


@pytest.mark.parametrize("version", ["8.12.0", "8.19.0", "9.6.0"])
def test_a_dotted_key_that_does_not_resolve_is_named_whole(
    at_version: AtVersion, version: str
) -> None:
    response = at_version(version).get(KEYS, params={"kuery": "agent.no_such_field:x"})
    assert_error(
        response,
        400,
        "[request query.kuery]: KQLSyntaxError: This key 'agent.no_such_field' does NOT exist "
        "in fleet-enrollment-api-keys saved object index patterns",
    )


def test_9_0_0_has_no_hidden_field(at_version: AtVersion) -> None:
    kibana = at_version("9.0.0")
    assert "hidden" not in kibana.keys(POLICY)[0]
    assert_error(
        kibana.get(KEYS, params={"kuery": "hidden:true"}),
        400,
        "[request query.kuery]: KQLSyntaxError: This type 'hidden' is not allowed",
    )


def test_9_1_has_the_hidden_field(at_version: AtVersion) -> None:
    kibana = at_version("9.1.0")
    assert kibana.keys(POLICY)[0]["hidden"] is False
    assert kibana.get(KEYS, params={"kuery": "hidden:true"}).status_code == 200


# -- 6. paging reaches Elasticsearch unchecked --------------------------------------------------
@pytest.mark.parametrize(
    ("page", "per_page", "reason"),
    [
        ("0", "20", "[from] parameter cannot be negative, found [-20]"),
        ("1", "-1", "[size] parameter cannot be negative, found [-1]"),
        ("501", "20", "Result window is too large, from + size must be less than or equal to"),
    ],
    ids=["page-0", "negative-per-page", "past-the-window"],
)
@pytest.mark.parametrize("version", ["8.19.0", "9.6.0"])
def test_paging_out_of_bounds_is_500(
    at_version: AtVersion, version: str, page: str, per_page: str, reason: str
) -> None:
    response = at_version(version).get(KEYS, params={"page": page, "perPage": per_page})
    assert response.status_code == 500
    assert reason in response.json()["message"]


def test_the_last_page_of_the_window_is_served(at_version: AtVersion) -> None:
    response = at_version("9.6.0").get(KEYS, params={"page": "500", "perPage": "20"})
    assert (response.status_code, response.json()["items"]) == (200, [])


# -- 8. agent-policy space moves, per release ----------------------------------------------------
def test_8_16_accepts_space_ids_and_moves_nothing(at_version: AtVersion) -> None:
    kibana = at_version("8.16.0")
    kibana.create_space("ops")
    policy = kibana.create_policy()
    item = kibana.create_key(policy, "web")
    assert "space_ids" not in kibana.move_policy(policy, ["ops"])
    for where in (None, "ops", "elsewhere"):
        assert kibana.get(f"{KEYS}/{item['id']}", space_id=where).status_code == 200


@pytest.mark.parametrize("version", ["9.5.1", "9.6.0"])
def test_9_5_and_later_move_keys_with_their_policy(at_version: AtVersion, version: str) -> None:
    kibana = at_version(version)
    kibana.create_space("ops")
    policy = kibana.create_policy()
    item = kibana.create_key(policy, "web")
    kibana.move_policy(policy, ["ops"])
    assert kibana.get(f"{KEYS}/{item['id']}").status_code == 404
    assert kibana.get(f"{KEYS}/{item['id']}", space_id="ops").json()["item"]["active"] is True


# -- 9. _bulk_delete (9.5+) ---------------------------------------------------------------------
def test_9_4_has_no_bulk_delete(at_version: AtVersion) -> None:
    response = at_version("9.4.6").post(BULK, json={"tokenIds": ["x"]})
    assert_error(response, 404, "Not Found")


@pytest.mark.parametrize("version", ["9.5.0", "9.6.0"])
def test_bulk_delete_revokes_the_ids_given(at_version: AtVersion, version: str) -> None:
    kibana = at_version(version)
    one, two = (kibana.create_key(POLICY, name) for name in ("one", "two"))
    response = kibana.post(BULK, json={"tokenIds": [one["id"], two["id"]]})
    assert response.json() == {
        "action": "deactivated",
        "count": 2,
        "successCount": 2,
        "errorCount": 0,
    }
    for item in (one, two):
        assert kibana.get(f"{KEYS}/{item['id']}").json()["item"]["active"] is False


def test_bulk_delete_with_force_delete_removes_them(at_version: AtVersion) -> None:
    kibana = at_version("9.6.0")
    item = kibana.create_key(POLICY, "one")
    response = kibana.post(BULK, json={"tokenIds": [item["id"]], "forceDelete": True})
    assert response.json()["action"] == "deleted"
    assert kibana.get(f"{KEYS}/{item['id']}").status_code == 404


def test_bulk_delete_by_kuery(at_version: AtVersion) -> None:
    kibana = at_version("9.6.0")
    policy = kibana.create_policy()
    kibana.create_key(policy, "web")
    response = kibana.post(BULK, json={"kuery": f'policy_id:"{policy}"'})
    assert response.json()["successCount"] == 2  # web and the policy's Default
    assert [key["active"] for key in kibana.keys(policy)] == [False, False]
    assert kibana.keys(POLICY)[0]["active"] is True


def test_bulk_delete_skips_hidden_keys_unless_asked(at_version: AtVersion) -> None:
    kibana = at_version("9.6.0")
    [key] = kibana.keys(kibana.create_policy(managed=True))
    skipped = kibana.post(BULK, json={"tokenIds": [key["id"]]}).json()
    assert (skipped["count"], skipped["successCount"]) == (1, 0)
    assert kibana.get(f"{KEYS}/{key['id']}").json()["item"]["active"] is True
    body = {"tokenIds": [key["id"]], "includeHidden": True}
    assert kibana.post(BULK, json=body).json()["successCount"] == 1


def test_bulk_delete_needs_ids_or_a_kuery(at_version: AtVersion) -> None:
    response = at_version("9.6.0").post(BULK, json={"forceDelete": True})
    assert_error(response, 400, "[request body]: Either tokenIds or kuery must be provided")


def test_bulk_delete_takes_at_most_10000_ids(at_version: AtVersion) -> None:
    response = at_version("9.6.0").post(BULK, json={"tokenIds": ["x"] * 10001})
    assert_error(
        response,
        400,
        "[request body.tokenIds]: array size is [10001], but cannot be greater than [10000]",
    )
