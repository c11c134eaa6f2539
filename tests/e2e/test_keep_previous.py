"""``keep_previous`` through the real dynamic-provider host: a rotation is an update that keeps
the previous token active, so exactly two of the resource's tokens are live, and none after
destroy."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from tests.e2e.conftest import POLICY, Stack
from tests.harness.engine import EngineError

pytestmark = pytest.mark.e2e

KEYS = "/api/fleet/enrollment_api_keys"


def program(**inputs: Any) -> Callable[[], None]:
    """One keep_previous key on the default policy, exporting both tokens and both ids."""

    def run() -> None:
        key = EnrollmentApiKey("agents", policy_id=POLICY, keep_previous=True, **inputs)
        pulumi.export("id", key.id)
        pulumi.export("token", key.api_key)
        pulumi.export("previous_token", key.previous_api_key)

    return run


def live_tokens(stack: Stack, policy: str = POLICY) -> set[str]:
    """The tokens of the policy's active keys, the policy's own Default key left out."""
    return {
        key["api_key"]
        for key in stack.kibana.keys(policy)
        if key["active"] and not key["name"].startswith("Default (")
    }


def test_rotations_keep_exactly_the_current_and_the_previous_token_live(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    first = stack.engine.up(program(expiration="30d"), stack.config())
    outs = first.outputs["agents"]
    assert first.changes == {"create": 1}
    assert first.exports["id"].startswith("keep-previous-")
    assert outs["key_id"] != first.exports["id"]
    assert "previous_key_id" not in outs and "previous_api_key" not in outs
    assert live_tokens(stack) == {outs["api_key"]}

    tokens = [outs["api_key"]]
    for expiration in ("31d", "32d", "33d"):
        rotated = stack.engine.up(program(expiration=expiration), stack.config())
        outs = rotated.outputs["agents"]
        assert rotated.ops("agents") == ["update"]  # in place: the resource and its id stay
        assert rotated.exports["id"] == first.exports["id"]
        assert outs["previous_api_key"] == tokens[-1]
        tokens.append(outs["api_key"])
        assert live_tokens(stack) == set(tokens[-2:])
        assert {"api_key", "previous_api_key"} <= rotated.secret_outputs["agents"]
        assert {"token", "previous_token"} <= rotated.secret_exports
    assert len(set(tokens)) == 4

    stack.engine.destroy()
    assert live_tokens(stack) == set()
    assert stack.engine.state == {}


def test_a_due_rotate_after_rotates_in_place(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    first = stack.engine.up(program(rotate_after="1s"), stack.config())
    time.sleep(1.1)  # the rotation is due
    rotated = stack.engine.up(program(rotate_after="1s"), stack.config())
    assert rotated.ops("agents") == ["update"]
    outs = rotated.outputs["agents"]
    assert outs["previous_key_id"] == first.outputs["agents"]["key_id"]
    assert outs["name"] != first.outputs["agents"]["name"]  # the next auto-name
    assert live_tokens(stack) == {outs["api_key"], outs["previous_api_key"]}


def test_refresh_drops_a_revoked_previous_key_and_keeps_the_resource(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.engine.up(program(expiration="30d"), stack.config())
    rotated = stack.engine.up(program(expiration="31d"), stack.config())
    stack.kibana.revoke(rotated.outputs["agents"]["previous_key_id"])

    refreshed = stack.engine.refresh()
    outs = refreshed.outputs["agents"]
    assert "previous_key_id" not in outs and "previous_api_key" not in outs
    assert outs["key_id"] == rotated.outputs["agents"]["key_id"] and outs["active"] is True
    assert stack.engine.up(program(expiration="31d"), stack.config()).changes == {"same": 1}


def test_a_new_policy_replaces_and_revokes_both_keys_once_the_new_one_exists(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    other = stack.kibana.create_policy("other-policy")
    stack.engine.up(program(expiration="30d"), stack.config())
    stack.engine.up(program(expiration="31d"), stack.config())

    def moved() -> None:
        key = EnrollmentApiKey("agents", policy_id=other, keep_previous=True, expiration="31d")
        pulumi.export("id", key.id)

    replaced = stack.engine.up(moved, stack.config())
    assert replaced.ops("agents") == ["create-replacement", "replace", "delete-replaced"]
    assert live_tokens(stack) == set()
    assert len(live_tokens(stack, other)) == 1


def test_an_update_that_fails_after_creating_its_key_adopts_it_on_the_next_run(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    stack.engine.up(program(expiration="30d"), stack.config())
    second = stack.engine.up(program(expiration="31d"), stack.config())
    before = second.outputs["agents"]
    # Revoking the oldest key fails: the update fails after its new key was created.
    stack.kibana.set_faults(
        {"rules": [{"method": "DELETE", "path": f"^{KEYS}/", "action": "status", "status": 400}]}
    )
    with pytest.raises(EngineError):
        stack.engine.up(program(expiration="32d"), stack.config())
    stack.kibana.clear_faults()
    [state] = stack.engine.state.values()
    assert state.outputs["key_id"] == before["key_id"]  # the engine kept the old state
    posts = stack.kibana.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"]

    retried = stack.engine.up(program(expiration="32d"), stack.config())
    outs = retried.outputs["agents"]
    counts = stack.kibana.request_count()["by_route"]
    assert counts["POST /api/fleet/enrollment_api_keys"] == posts + 1  # refused: name taken
    assert outs["previous_key_id"] == before["key_id"]
    assert live_tokens(stack) == {outs["api_key"], before["api_key"]}


@pytest.mark.parametrize(
    ("inputs", "line"),
    [
        (
            {"name": "web"},
            "keep_previous cannot be combined with name 'web': the previous key stays active "
            "and keeps that name, so the next key could not take it; leave name out for "
            "automatic names",
        ),
        (
            {"adopt_key_id": "abc"},
            "keep_previous cannot be combined with adopt_key_id: it rotates keys the resource "
            "creates itself; remove adopt_key_id",
        ),
    ],
    ids=["fixed-name", "adopted-key"],
)
def test_keep_previous_with_a_fixed_or_adopted_key_fails_at_preview(
    make_stack: Callable[..., Stack], inputs: dict[str, Any], line: str
) -> None:
    stack = make_stack()
    with pytest.raises(EngineError) as caught:
        stack.engine.preview(program(**inputs), stack.config())
    assert line in caught.value.last_line
    assert stack.kibana.request_count()["by_route"].get(f"POST {KEYS}", 0) == 0
