"""The provider's methods called directly, against the emulator over HTTP on 127.0.0.1."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from pulumi.output import Unknown

from fleet_provider import preflight
from fleet_provider.client import forget_kibana_versions
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.exceptions import (
    AuthenticationError,
    AuthorizationError,
    DuplicateNameError,
    PolicyNotFoundError,
    UnsupportedVersionError,
)
from fleet_provider.testing.plugin import EmulatorFactory
from tests.conftest import TEST_USERS
from tests.providers import configured_provider

POLICY = "fleet-server-policy"


class Kibana:
    """One emulator at one version, reset for the test, with a configured provider."""

    def __init__(self, server: EmulatorServer) -> None:
        self.url = server.url
        self.admin = KibanaAdmin(server.url)
        self.admin.reset()
        forget_kibana_versions()
        preflight.forget()
        self.provider = configured_provider(server.url)

    def up(self, **news: Any) -> tuple[str, dict[str, Any]]:
        """check then create, as the engine does for a new resource."""
        news.setdefault("resource_name", "test-key")
        checked = self.provider.check({}, news)
        assert checked.failures == []
        created = self.provider.create(checked.inputs)
        assert created.outs is not None
        return created.id, created.outs

    def requests(self) -> int:
        return int(self.admin.request_count()["total"])


# The emulators come from fleet_provider.testing's public fixture, as a user's tests get them.
@pytest.fixture
def kibana(fleet_emulator_factory: EmulatorFactory) -> Kibana:
    return Kibana(fleet_emulator_factory(kibana_version="9.6.0", users=TEST_USERS).server)


@pytest.fixture(params=["8.19.0", "9.4.0"])
def old_kibana(request: pytest.FixtureRequest, fleet_emulator_factory: EmulatorFactory) -> Kibana:
    return Kibana(fleet_emulator_factory(kibana_version=request.param, users=TEST_USERS).server)


# -- check ------------------------------------------------------------------------------------


def test_check_picks_an_auto_name_once_and_keeps_it(kibana: Kibana) -> None:
    before = kibana.requests()
    first = kibana.provider.check({}, {"policy_id": POLICY, "resource_name": "linux"})
    assert first.failures == []
    name = first.inputs["name"]
    assert name.startswith("linux-") and len(name) == len("linux-") + 8
    assert first.inputs["auto_named"] is True
    assert first.inputs["space_id"] == "default"
    again = kibana.provider.check(first.inputs, {"policy_id": POLICY, "resource_name": "linux"})
    assert again.inputs["name"] == name
    # Derived, not random: a fresh check (preview, then up) derives the same name.
    fresh = kibana.provider.check({}, {"policy_id": POLICY, "resource_name": "linux"})
    assert fresh.inputs["name"] == name
    other = kibana.provider.check({}, {"policy_id": POLICY, "resource_name": "windows"})
    assert other.inputs["name"].startswith("windows-")
    # check asks Kibana about the policy once (preflight.py), then makes no HTTP call
    assert kibana.requests() == before + 1


def test_check_keeps_a_fixed_name_and_takes_the_configured_space(kibana: Kibana) -> None:
    provider = configured_provider(kibana.url, spaceId="ops")
    checked = provider.check({}, {"policy_id": POLICY, "name": "web", "resource_name": "r"})
    assert checked.failures == []
    assert checked.inputs == {
        "policy_id": POLICY,
        "name": "web",
        "space_id": "ops",
        "resource_name": "r",
        "auto_named": False,
    }


@pytest.mark.parametrize(
    ("news", "prop", "reason"),
    [
        (
            {},
            "policy_id",
            "policy_id is required: set it to the id of the agent policy the key enrolls "
            "agents into",
        ),
        (
            {"policy_id": "  "},
            "policy_id",
            "policy_id must not be empty: set it to the id of an agent policy",
        ),
        ({"policy_id": 7.0}, "policy_id", "policy_id must be a string, not float"),
        (
            {"policy_id": "p", "name": ""},
            "name",
            "name must not be empty: give a name, or leave it out for an automatic one",
        ),
        (
            {"policy_id": "p", "name": " web"},
            "name",
            "name ' web' has leading or trailing spaces: remove them",
        ),
        (
            {"policy_id": "p", "expiration": "1y"},
            "expiration",
            "expiration '1y' is not a duration: use a whole number followed by d, h, m or s, "
            "e.g. 30d, 24h, 90m, 60s",
        ),
        (
            {"policy_id": "p", "expiration": "2400-01-01T00:00:00Z"},
            "expiration",
            "expiration '2400-01-01T00:00:00Z' is more than 9223286400 seconds (about 292 years) "
            "from now, the longest expiry Kibana takes: give an earlier time",
        ),
        (
            {"policy_id": "p", "space_id": "My Space"},
            "space_id",
            "space_id 'My Space' is not a Kibana space id: use lower-case letters, digits, "
            "'_' and '-'",
        ),
        (
            {"policy_id": "p", "policyId": "p"},
            "policyId",
            "policyId is not an input of EnrollmentApiKey: remove it",
        ),
    ],
)
def test_check_reports_each_bad_input_by_name(
    kibana: Kibana, news: dict[str, Any], prop: str, reason: str
) -> None:
    checked = kibana.provider.check({}, {"resource_name": "r", **news})
    assert [(f.property, f.reason) for f in checked.failures] == [(prop, reason)]


def test_check_tolerates_unknowns_during_preview(kibana: Kibana) -> None:
    unknown = Unknown()
    checked = kibana.provider.check(
        {}, {"policy_id": unknown, "name": unknown, "resource_name": "r"}
    )
    assert checked.failures == []
    assert checked.inputs["policy_id"] is unknown
    assert checked.inputs["name"] is unknown


# -- create -----------------------------------------------------------------------------------


def test_create_returns_every_output_with_one_post(kibana: Kibana) -> None:
    before = kibana.admin.request_count()["by_route"].get("POST /api/fleet/enrollment_api_keys", 0)
    key_id, outs = kibana.up(policy_id=POLICY, name="linux", expiration="30d")
    after = kibana.admin.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"]
    assert after - before == 1
    assert outs["name"] == "linux"
    assert outs["full_name"] == f"linux ({key_id})"
    assert outs["policy_id"] == POLICY
    assert outs["active"] is True
    assert outs["expiration"] == "30d"
    assert outs["expire_at"] > outs["created_at"]
    api_key_id, _, secret = base64.b64decode(outs["api_key"]).decode().partition(":")
    assert api_key_id == outs["api_key_id"] and secret
    assert kibana.admin.get_key(key_id) is not None


def test_create_turns_a_timestamp_expiration_into_a_duration(kibana: Kibana) -> None:
    _, outs = kibana.up(policy_id=POLICY, expiration="2099-01-01T00:00:00Z")
    assert outs["expiration"] == "2099-01-01T00:00:00Z"  # kept as the user wrote it
    assert outs["expire_at"].startswith("2099-01-01T00:00")


def test_create_refuses_an_active_duplicate_name_with_what_to_do(kibana: Kibana) -> None:
    kibana.admin.create_key(POLICY, "taken")
    with pytest.raises(DuplicateNameError) as caught:
        kibana.up(policy_id=POLICY, name="taken")
    message = str(caught.value)
    assert message.startswith(
        "Kibana answered 409: an active enrollment key named 'taken' already exists on agent "
        "policy 'fleet-server-policy'"
    )
    assert "set adopt_existing=True to take it over; else choose another name" in message


def test_create_reclaims_a_name_held_only_by_revoked_keys_on_9_5(kibana: Kibana) -> None:
    old = kibana.admin.create_key(POLICY, "reused")
    kibana.admin.revoke(old["id"])
    key_id, outs = kibana.up(policy_id=POLICY, name="reused")
    assert outs["name"] == "reused"
    assert kibana.admin.get_key(old["id"]) is None
    holders = [k for k in kibana.admin.keys(POLICY) if k["name"].startswith("reused (")]
    assert [k["id"] for k in holders] == [key_id]


def test_create_explains_a_name_held_by_revoked_keys_before_9_5(old_kibana: Kibana) -> None:
    old = old_kibana.admin.create_key(POLICY, "reused")
    old_kibana.admin.revoke(old["id"])
    with pytest.raises(DuplicateNameError, match="held by 1 revoked key"):
        old_kibana.up(policy_id=POLICY, name="reused")
    assert [k["active"] for k in old_kibana.admin.keys(POLICY) if k["id"] == old["id"]] == [False]


def test_create_refuses_expiration_that_kibana_would_ignore(emulator_at: Any) -> None:
    kibana = Kibana(emulator_at("9.2.0"))
    count = len(kibana.admin.keys(POLICY))
    with pytest.raises(UnsupportedVersionError) as caught:
        kibana.up(policy_id=POLICY, expiration="30d")
    assert str(caught.value) == (
        "Kibana 9.2.0 ignores expiration (it is honoured only by 8.19, 9.3, 9.4 and 9.5 patch "
        "releases with elastic/kibana#281324, and later releases): remove expiration, or "
        "upgrade Kibana, to create this key"
    )
    assert len(kibana.admin.keys(POLICY)) == count


def test_create_on_an_unknown_policy_names_the_space_searched(kibana: Kibana) -> None:
    with pytest.raises(PolicyNotFoundError) as caught:
        kibana.up(policy_id="no-such-policy")
    assert str(caught.value) == (
        'Kibana answered 404: Agent policy "no-such-policy" not found. Searched in Kibana '
        "space 'default': check policy_id, and set space_id (or fleet:spaceId) if the policy "
        "lives in another space"
    )


def test_create_in_a_space(kibana: Kibana) -> None:
    kibana.admin.create_space("ops")
    policy = kibana.admin.create_policy("ops-policy", space_id="ops")
    key_id, outs = kibana.up(policy_id=policy, space_id="ops")
    assert outs["space_id"] == "ops"
    assert kibana.admin.get_key(key_id, "ops") is not None
    assert kibana.admin.get_key(key_id) is None  # invisible from the default space


def test_wrong_credentials_are_reported_without_the_password(kibana: Kibana) -> None:
    provider = configured_provider(kibana.url, password="wrong-secret-pw")
    checked = provider.check({}, {"policy_id": POLICY, "resource_name": "r"})
    with pytest.raises(AuthenticationError) as caught:
        provider.create(checked.inputs)
    assert "wrong-secret-pw" not in str(caught.value)
    assert "Kibana did not accept the credentials (user 'elastic' from fleet:username" in str(
        caught.value
    )


def test_a_read_only_role_is_told_which_privilege_is_missing(kibana: Kibana) -> None:
    provider = configured_provider(kibana.url, username="viewer", password="viewer-pass")
    checked = provider.check({}, {"policy_id": POLICY, "resource_name": "r"})
    with pytest.raises(AuthorizationError, match="the Kibana privilege fleet-agents-all"):
        provider.create(checked.inputs)


# -- read -------------------------------------------------------------------------------------


def test_read_maps_back_to_the_inputs_exactly(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY, name="web", expiration="2099-01-01T00:00:00Z")
    read = kibana.provider.read(key_id, outs)
    assert read.id == key_id
    assert read.inputs == {k: outs[k] for k in read.inputs}
    assert read.inputs["name"] == "web"
    assert read.inputs["expiration"] == "2099-01-01T00:00:00Z"
    assert read.outs is not None and read.outs["hidden"] is False
    assert kibana.provider.diff(key_id, read.outs, read.inputs).changes is False


def test_read_reports_a_revoked_key_as_inactive(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    kibana.admin.revoke(key_id)
    read = kibana.provider.read(key_id, outs)
    assert read.outs is not None and read.outs["active"] is False


def test_read_of_a_removed_key_is_gone(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    kibana.admin.revoke(key_id, force=True)
    read = kibana.provider.read(key_id, outs)
    assert (read.id, read.outs) == (None, {})


# -- diff -------------------------------------------------------------------------------------


def test_diff_of_unchanged_inputs_makes_no_change_and_no_call(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY, name="web")
    before = kibana.requests()
    news = kibana.provider.check(
        outs, {"policy_id": POLICY, "name": "web", "resource_name": "test-key"}
    )
    result = kibana.provider.diff(key_id, {**outs, "__provider": "old"}, news.inputs)
    assert result.changes is False
    assert kibana.requests() == before


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"policy_id": "other-policy"}, ["policy_id"]),
        ({"expiration": "7d"}, ["expiration"]),
        ({"space_id": "ops"}, ["space_id"]),
        ({"policy_id": Unknown()}, ["policy_id"]),
    ],
)
def test_any_input_change_is_a_replacement(
    kibana: Kibana, change: dict[str, Any], replaces: list[str]
) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    news = {
        **{k: outs[k] for k in ("policy_id", "name", "space_id", "resource_name", "auto_named")}
    }
    news.update(change)
    result = kibana.provider.diff(key_id, outs, news)
    assert (result.changes, result.replaces) == (True, replaces)
    assert result.delete_before_replace is False  # auto-named: create the new one first


def test_a_revoked_key_is_replaced(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    kibana.admin.revoke(key_id)
    read = kibana.provider.read(key_id, outs)
    assert read.outs is not None and read.inputs is not None
    result = kibana.provider.diff(key_id, read.outs, read.inputs)
    assert (result.changes, result.replaces) == (True, ["active"])


def test_a_fixed_name_on_the_same_policy_is_replaced_delete_first(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY, name="fixed")
    news = {
        **{k: outs[k] for k in ("policy_id", "name", "space_id", "resource_name", "auto_named")}
    }
    news["expiration"] = "7d"
    result = kibana.provider.diff(key_id, outs, news)
    assert result.replaces == ["expiration"]
    assert result.delete_before_replace is True


def test_fixed_name_replacement_fails_at_preview_before_9_5(old_kibana: Kibana) -> None:
    key_id, outs = old_kibana.up(policy_id=POLICY, name="fixed")
    news = {
        **{k: outs[k] for k in ("policy_id", "name", "space_id", "resource_name", "auto_named")}
    }
    # A new expiration needs a new key (a new space_id may not: on Kibana without space
    # awareness, the key is already visible there).
    news["expiration"] = "30d"
    with pytest.raises(UnsupportedVersionError) as caught:
        old_kibana.provider.diff(key_id, outs, news)
    assert "change name, or leave it out to let the provider pick one" in str(caught.value)
    assert old_kibana.admin.get_key(key_id)["active"] is True  # nothing deleted


def test_revocation_replacement_never_fails_diff_before_9_5(old_kibana: Kibana) -> None:
    key_id, outs = old_kibana.up(policy_id=POLICY, name="fixed")
    old_kibana.admin.revoke(key_id)
    read = old_kibana.provider.read(key_id, outs)
    assert read.outs is not None and read.inputs is not None
    result = old_kibana.provider.diff(key_id, read.outs, read.inputs)
    assert (result.replaces, result.delete_before_replace) == (["active"], True)


# -- update and delete ------------------------------------------------------------------------


def test_update_returns_the_full_outputs(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    result = kibana.provider.update(key_id, {**outs, "__provider": "x"}, outs)
    assert result.outs == outs


def test_delete_revokes_and_tolerates_a_second_delete(kibana: Kibana) -> None:
    key_id, outs = kibana.up(policy_id=POLICY)
    kibana.provider.delete(key_id, outs)
    assert kibana.admin.get_key(key_id)["active"] is False
    kibana.admin.revoke(key_id, force=True)
    kibana.provider.delete(key_id, outs)  # already gone: done


def test_delete_revokes_a_hidden_key_on_a_managed_policy(kibana: Kibana) -> None:
    policy = kibana.admin.create_policy("managed-policy", managed=True)
    key_id, outs = kibana.up(policy_id=policy)
    outs.pop("hidden", None)  # as after create: Kibana's POST answer has no `hidden`
    kibana.provider.delete(key_id, outs)
    key = kibana.admin.get_key(key_id)
    assert key is not None and key["hidden"] is True and key["active"] is False
