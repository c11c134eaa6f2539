"""The whole lifecycle through the real dynamic-provider host, as the Pulumi engine drives it."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from tests.e2e.conftest import POLICY, Stack
from tests.harness.engine import EngineError, unknown_during_preview

pytestmark = pytest.mark.e2e

KEYS = "POST /api/fleet/enrollment_api_keys"
SECRET_SIG = "4dabf18193072939515e22adb298388d"


def one_key(
    policy_id: Any = POLICY, resource: str = "linux-hosts", **inputs: Any
) -> Callable[[], None]:
    """A program declaring one key and exporting its token; a callable input is called in it."""

    def program() -> None:
        policy = policy_id() if callable(policy_id) else policy_id
        key = EnrollmentApiKey(resource, policy_id=policy, **inputs)
        pulumi.export("enrollment_token", key.api_key)
        pulumi.export("key_id", key.id)

    return program


def names_in_state(stack: Stack) -> set[str]:
    """The resources the stack's state holds, by name."""
    return {resource.name for resource in stack.engine.state.values()}


def fleet_calls(stack: Stack) -> dict[str, int]:
    """Fleet API calls the emulator has served so far, by route."""
    counts: dict[str, int] = stack.kibana.request_count()["by_route"]
    return counts


def test_up_creates_an_active_key_whose_token_is_secret(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    result = stack.engine.up(one_key(expiration="90d"), stack.config())
    assert result.changes == {"create": 1}
    outs = result.outputs["linux-hosts"]
    key = stack.kibana.get_key(result.exports["key_id"])
    assert key is not None and key["active"] is True
    assert outs["api_key"] == key["api_key"]
    assert "api_key" in result.secret_outputs["linux-hosts"]
    assert "enrollment_token" in result.secret_exports
    assert outs["name"].startswith("linux-hosts-")
    assert key["name"] == f"{outs['name']} ({key['id']})"
    assert outs["expire_at"]


def test_second_up_without_changes_is_a_no_op_without_fleet_calls(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    first = stack.engine.up(one_key(), stack.config())
    before = fleet_calls(stack)
    second = stack.engine.up(one_key(), stack.config())
    assert second.changes == {"same": 1}
    assert second.outputs["linux-hosts"]["name"] == first.outputs["linux-hosts"]["name"]
    assert fleet_calls(stack) == before


def test_preview_with_unknown_inputs_creates_nothing(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    result = stack.engine.preview(
        one_key(policy_id=lambda: unknown_during_preview(POLICY)), stack.config()
    )
    assert result.ops("linux-hosts") == ["create"]
    assert fleet_calls(stack).get(KEYS, 0) == 0
    assert names_in_state(stack) == set()


def test_refresh_after_revocation_in_kibana_then_up_replaces_the_key(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    old_id = created.exports["key_id"]
    stack.kibana.revoke(old_id)

    refreshed = stack.engine.refresh()
    assert refreshed.outputs["linux-hosts"]["active"] is False

    replaced = stack.engine.up(one_key(), stack.config())
    assert replaced.changes == {"replace": 1}
    # Auto-named: create the new key first, then revoke the old one.
    assert replaced.ops("linux-hosts") == ["create-replacement", "replace", "delete-replaced"]
    new_id = replaced.exports["key_id"]
    assert new_id != old_id
    assert stack.kibana.get_key(new_id)["active"] is True
    assert replaced.outputs["linux-hosts"]["name"] != created.outputs["linux-hosts"]["name"]


def test_refresh_after_removal_in_kibana_drops_the_key_and_up_recreates_it(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    stack.kibana.revoke(created.exports["key_id"], force=True)

    stack.engine.refresh()
    assert "linux-hosts" not in names_in_state(stack)
    again = stack.engine.up(one_key(), stack.config())
    assert again.changes == {"create": 1}
    assert stack.kibana.get_key(again.exports["key_id"])["active"] is True


def test_policy_change_replaces_create_before_delete(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    other = stack.kibana.create_policy("windows-policy")
    first = stack.engine.up(one_key(), stack.config())
    second = stack.engine.up(one_key(policy_id=other), stack.config())
    assert second.changes == {"replace": 1}
    assert second.step("linux-hosts", "replace").detail["replaces"] == ["policy_id"]
    new = stack.kibana.get_key(second.exports["key_id"])
    assert new is not None and new["policy_id"] == other and new["active"] is True
    assert stack.kibana.get_key(first.exports["key_id"])["active"] is False


def test_destroy_revokes_the_key(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    destroyed = stack.engine.destroy()
    assert destroyed.changes == {"delete": 1}
    assert stack.kibana.get_key(created.exports["key_id"])["active"] is False
    assert "linux-hosts" not in names_in_state(stack)


def test_a_key_in_a_kibana_space(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.kibana.create_space("ops")
    policy = stack.kibana.create_policy("ops-policy", space_id="ops")
    created = stack.engine.up(one_key(policy_id=policy, space_id="ops"), stack.config())
    key_id = created.exports["key_id"]
    assert stack.kibana.get_key(key_id, "ops")["active"] is True
    assert stack.kibana.get_key(key_id) is None
    stack.engine.refresh()
    assert stack.engine.up(one_key(policy_id=policy, space_id="ops"), stack.config()).changes == {
        "same": 1
    }
    stack.engine.destroy()
    assert stack.kibana.get_key(key_id, "ops")["active"] is False


def test_space_from_stack_config(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    stack.kibana.create_space("ops")
    policy = stack.kibana.create_policy("ops-policy", space_id="ops")
    created = stack.engine.up(one_key(policy_id=policy), stack.config(spaceId="ops"))
    assert created.outputs["linux-hosts"]["space_id"] == "ops"
    assert stack.kibana.get_key(created.exports["key_id"], "ops") is not None


def test_credentials_from_the_environment_only(make_stack: Callable[..., Stack]) -> None:
    probe = make_stack()
    stack = make_stack(
        env={
            "KIBANA_ENDPOINT": probe.url,
            "KIBANA_USERNAME": "elastic",
            "KIBANA_PASSWORD": "changeme",
        }
    )
    created = stack.engine.up(one_key(), {})
    assert stack.kibana.get_key(created.exports["key_id"])["active"] is True
    stack.engine.destroy()
    assert stack.kibana.get_key(created.exports["key_id"])["active"] is False


def test_no_endpoint_is_one_line_naming_both_settings(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    with pytest.raises(EngineError) as caught:
        stack.engine.up(one_key(), {})
    assert caught.value.last_line.endswith(
        "No Kibana endpoint configured: set the stack config fleet:endpoint (pulumi config "
        "set fleet:endpoint https://kibana.example.com:5601) or the environment variable "
        "KIBANA_ENDPOINT."
    )


def test_fixed_name_replacement_on_9_4_fails_at_preview_and_deletes_nothing(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("9.4.0")
    created = stack.engine.up(one_key(name="edge"), stack.config())
    key_id = created.exports["key_id"]
    with pytest.raises(EngineError) as caught:
        stack.engine.preview(one_key(name="edge", expiration="30d"), stack.config())
    assert "change name, or leave it out to let the provider pick one" in caught.value.last_line
    with pytest.raises(EngineError):
        stack.engine.up(one_key(name="edge", expiration="30d"), stack.config())
    assert stack.kibana.get_key(key_id)["active"] is True
    assert stack.engine.up(one_key(name="edge"), stack.config()).changes == {"same": 1}


def test_fixed_name_replacement_on_9_5_deletes_first_and_reuses_the_name(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("9.5.1")  # 9.5.0 drops expiration
    created = stack.engine.up(one_key(name="edge"), stack.config())
    replaced = stack.engine.up(one_key(name="edge", expiration="30d"), stack.config())
    assert replaced.ops("linux-hosts") == ["delete-replaced", "replace", "create-replacement"]
    new = stack.kibana.get_key(replaced.exports["key_id"])
    assert new is not None and new["name"].startswith("edge (") and new["active"] is True
    assert stack.kibana.get_key(created.exports["key_id"]) is None  # revoked record removed


def test_revocation_with_a_fixed_name_on_9_4_fails_in_create_not_in_refresh(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("9.4.0")
    created = stack.engine.up(one_key(name="edge"), stack.config())
    stack.kibana.revoke(created.exports["key_id"])
    refreshed = stack.engine.refresh()  # the engine's Diff after Read must not fail
    assert refreshed.outputs["linux-hosts"]["active"] is False
    with pytest.raises(EngineError) as caught:
        stack.engine.up(one_key(name="edge"), stack.config())
    assert "held by 1 revoked key(s)" in caught.value.last_line


def test_no_secret_in_host_output_or_plaintext_state(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(), stack.config())
    stack.engine.refresh()
    state = stack.engine.state_json()
    stored = next(
        r for r in json.loads(state)["deployment"]["resources"] if r["urn"].endswith("linux-hosts")
    )
    token = created.outputs["linux-hosts"]["api_key"]
    secret_half = base64.b64decode(token).decode().split(":", 1)[1]
    stack.engine.destroy()
    printed = stack.host.output
    for needle in (token, secret_half, "changeme"):
        assert needle not in state
        assert needle not in printed
    # The token is in the state, but only as a secret (ciphertext).
    assert set(stored["outputs"]["api_key"]) == {SECRET_SIG, "ciphertext"}


@pytest.mark.parametrize(
    ("config_credential", "env_credential"),
    [
        ({"fleet:apiKey": "ZmxlZXQtY2k6c3VwZXItc2VjcmV0LWFwaS1rZXk="}, {}),
        ({}, {"KIBANA_BEARER_TOKEN": "bearer-super-secret-token"}),
    ],
    ids=["api key in stack config", "bearer token in environment"],
)
def test_no_credential_or_token_leaks_anywhere(
    config_credential: dict[str, str],
    env_credential: dict[str, str],
) -> None:
    from fleet_provider.emulator import EmulatorServer
    from tests.harness.engine import Engine, Hosts, secret

    api_key = "ZmxlZXQtY2k6c3VwZXItc2VjcmV0LWFwaS1rZXk="
    bearer = "bearer-super-secret-token"
    with (
        EmulatorServer(
            port=0,
            policies=[POLICY],
            api_keys=[f"{api_key}:superuser"],
            bearer_tokens=[f"{bearer}:superuser"],
        ) as server,
        Hosts(env=env_credential, exclude_env=["KIBANA_*"]) as host,
    ):
        engine = Engine(host, stack="leaks")
        config: dict[str, Any] = {"fleet:endpoint": server.url}
        config.update({k: secret(v) for k, v in config_credential.items()})
        created = engine.up(one_key(), config)
        engine.refresh()
        token = created.outputs["linux-hosts"]["api_key"]
        with pytest.raises(EngineError) as caught:
            engine.up(one_key(policy_id="no-such-policy"), config)
        raised = caught.value.details
        state = engine.state_json()
        engine.destroy()
        non_secret = {
            k: v
            for k, v in created.outputs["linux-hosts"].items()
            if k not in created.secret_outputs["linux-hosts"]
        }
        for needle in (api_key, bearer, token, token.encode().hex()):
            assert needle not in host.output
            assert needle not in state
            assert needle not in raised
            assert needle not in repr(non_secret)
            assert needle not in repr(
                {k: v for k, v in created.exports.items() if k not in created.secret_exports}
            )


@pytest.mark.parametrize(
    ("version", "after_refresh"),
    [("9.4.0", "revoked"), ("9.5.0", "gone")],
)
def test_refresh_after_the_policy_is_deleted(
    make_stack: Callable[..., Stack], version: str, after_refresh: str
) -> None:
    stack = make_stack(version)
    policy = stack.kibana.create_policy("short-lived")
    created = stack.engine.up(one_key(policy_id=policy), stack.config())
    stack.kibana.delete_policy(policy)
    refreshed = stack.engine.refresh()
    if after_refresh == "revoked":
        # Kibana up to 9.4 revokes a deleted policy's keys: the next up would replace the key.
        assert refreshed.outputs["linux-hosts"]["active"] is False
        assert refreshed.step("linux-hosts", "refresh").detail["replaces"] == ["active"]
    else:
        # Kibana 9.5+ removes them: the key leaves the state.
        assert "linux-hosts" not in names_in_state(stack)
        assert stack.kibana.get_key(created.exports["key_id"]) is None
