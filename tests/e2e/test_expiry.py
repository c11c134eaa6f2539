"""Expiry through the real dynamic-provider host: it never blocks a stack, it renews, and a key
never claims an expiry Kibana did not give it.

The emulator has no clock of its own to move: keys get expiries of a few seconds, and the test
waits for them to pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from fleet_provider.harness.host import as_host_shows
from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_errors import TYPE, _all_keys
from tests.harness.engine import EngineError

pytestmark = pytest.mark.e2e

EXC = "fleet_provider.exceptions."
KEYS = "POST /api/fleet/enrollment_api_keys"


def program(keys: dict[str, dict[str, Any]]) -> Callable[[], None]:
    """A program declaring one EnrollmentApiKey per entry, exporting each key's id."""

    def run() -> None:
        for resource, inputs in keys.items():
            key = EnrollmentApiKey(resource, policy_id=POLICY, **inputs)
            pulumi.export(resource, key.id)

    return run


def in_seconds(seconds: float) -> str:
    moment = datetime.now(timezone.utc) + timedelta(seconds=seconds)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def wait_until(timestamp: str) -> None:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    time.sleep(max(0.0, (moment - datetime.now(timezone.utc)).total_seconds()) + 0.2)


def test_a_passed_timestamp_never_blocks_the_stack(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    expiration = in_seconds(2)
    first = stack.engine.up(program({"web": {"expiration": expiration}}), stack.config())
    key_id = first.exports["web"]
    wait_until(first.outputs["web"]["expire_at"])

    # An unrelated change: another key. The expired one is the same, and check only warns.
    both = program({"web": {"expiration": expiration}, "db": {}})
    grown = stack.engine.up(both, stack.config())
    assert grown.ops("web") == ["same"] and grown.ops("db") == ["create"]
    assert f"expiration {expiration!r} has passed, so its key has expired" in stack.host.stderr

    # A refresh sees the expiry; the key is not replaced for it: a new key would be expired too.
    refreshed = stack.engine.refresh()
    assert (
        refreshed.outputs["web"]["expired"] is True and refreshed.outputs["db"]["expired"] is False
    )
    assert stack.engine.up(both, stack.config()).changes == {"same": 2}

    # A change that needs a new key is not blocked either (its second check has no olds).
    renamed = program({"web": {"expiration": expiration, "name": "web-2"}, "db": {}})
    replaced = stack.engine.up(renamed, stack.config())
    assert replaced.changes == {"replace": 1, "same": 1}
    new = stack.kibana.get_key(replaced.exports["web"])
    assert new is not None and new["name"].startswith("web-2 (")
    assert new["expire_at"] <= in_seconds(2)  # created with Kibana's shortest expiry, 1s
    assert stack.kibana.get_key(key_id)["active"] is False


def test_an_expired_key_with_a_duration_is_renewed_create_first(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    declared = program({"web": {"expiration": "2s"}})
    first = stack.engine.up(declared, stack.config())
    old_id, old_outs = first.exports["web"], first.outputs["web"]
    assert old_outs["expired"] is False
    wait_until(old_outs["expire_at"])

    refreshed = stack.engine.refresh()
    assert refreshed.outputs["web"]["expired"] is True
    assert stack.kibana.get_key(old_id)["active"] is True  # Kibana leaves an expired key active
    renewed = stack.engine.up(declared, stack.config())
    assert renewed.ops("web") == ["create-replacement", "replace", "delete-replaced"]
    assert renewed.step("web", "replace").detail["replaces"] == ["expired"]
    new_id = renewed.exports["web"]
    new = stack.kibana.get_key(new_id)
    assert new_id != old_id and new is not None and new["active"] is True
    assert renewed.outputs["web"]["expire_at"] > old_outs["expire_at"]
    assert renewed.outputs["web"]["expired"] is False
    assert renewed.outputs["web"]["name"] != old_outs["name"]  # a fresh auto-name: overlap
    assert stack.kibana.get_key(old_id)["active"] is False


@pytest.mark.parametrize(
    ("inputs", "note"),
    [
        ({}, ""),
        ({"name": "edge"}, "; Kibana 8.19.0 keeps the revoked key's name, so also change name"),
    ],
)
def test_an_expiration_kibana_drops_is_revoked_and_fails_the_create(
    make_stack: Callable[..., Stack], inputs: dict[str, Any], note: str
) -> None:
    # The emulator's 8.19.0 accepts `expiration` and drops it, as 8.19 releases without
    # elastic/kibana#281324 do: only Kibana's answer (no expire_at) tells.
    stack = make_stack("8.19.0")
    before = {key for key, _ in _all_keys(stack)}
    with pytest.raises(EngineError) as caught:
        stack.engine.up(program({"web": {"expiration": "30d", **inputs}}), stack.config())
    created = [(key, active) for key, active in _all_keys(stack) if key not in before]
    assert [active for _, active in created] == [False]  # made, then revoked at once
    assert caught.value.last_line == as_host_shows(
        f"{EXC}UnsupportedVersionError: Kibana 8.19.0 accepted expiration but ignored it (its "
        f"answer has no expire_at), so the key it created ({created[0][0]}) was revoked: upgrade "
        "Kibana to a release that honours expiration (elastic/kibana#281324: later 8.19, 9.3, "
        f"9.4 and 9.5 patch releases), or remove expiration{note}"
    )
    assert stack.engine.state == {}


def test_a_kibana_that_certainly_drops_expiration_is_refused_before_any_create(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("8.18.0")
    posts = stack.kibana.request_count()["by_route"].get(KEYS, 0)
    with pytest.raises(EngineError) as caught:
        stack.engine.up(program({"web": {"expiration": "30d"}}), stack.config())
    assert caught.value.last_line == as_host_shows(
        f"{EXC}UnsupportedVersionError: Kibana 8.18.0 ignores expiration (it is honoured only by "
        "8.19, 9.3, 9.4 and 9.5 patch releases with elastic/kibana#281324, and later releases): "
        "remove expiration, or upgrade Kibana, to create this key"
    )
    assert stack.kibana.request_count()["by_route"].get(KEYS, 0) == posts
    assert stack.engine.state == {}


def test_rotate_after_not_shorter_than_expiration_fails_at_preview(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    keys_before = _all_keys(stack)
    declared = program({"web": {"expiration": "30d", "rotate_after": "30d"}})
    with pytest.raises(EngineError) as caught:
        stack.engine.preview(declared, stack.config())
    assert caught.value.last_line == (
        f"{TYPE} resource 'web': property rotate_after value {{30d}} has a problem: rotate_after "
        "'30d' is not shorter than expiration '30d': the key would expire before it is rotated; "
        "make rotate_after shorter than expiration"
    )
    with pytest.raises(EngineError):
        stack.engine.up(declared, stack.config(), skip_preview=True)
    assert _all_keys(stack) == keys_before and stack.engine.state == {}
