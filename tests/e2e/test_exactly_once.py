"""Exactly one live token per declared key, whatever the network or Kibana does.

Each test plays one sequence that used to leave an active key no stack tracks (an orphan), or
to lose the state of a key that is still active, through the real dynamic-provider host and the
emulator's real failure shapes. Each ends, after at most one rerun of ``up``, with exactly the
declared keys active and tracked, and with none active after ``destroy``.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from fleet_provider.harness.host import PROJECT_ERROR, as_host_shows
from tests.e2e.conftest import POLICY, Stack
from tests.e2e.test_lifecycle import one_key
from tests.harness.engine import EngineError, OperationResult

pytestmark = pytest.mark.e2e

CREATE = "^/api/fleet/enrollment_api_keys$"
LIST = "^/api/fleet/enrollment_api_keys$"


def fault(stack: Stack, *rules: dict[str, Any]) -> None:
    """Replace the emulator's fault plan."""
    stack.kibana.set_faults({"seed": 1, "rules": list(rules)})


def active(stack: Stack, policy: str = POLICY, space: str | None = None) -> set[str]:
    """Ids of the active keys the provider made (the policy's Default key left out)."""
    return {
        k["id"]
        for k in stack.kibana.keys(policy, space_id=space)
        if k["active"] and not k["name"].startswith("Default")
    }


def up_until_done(stack: Stack, program: Callable[[], None], config: dict[str, Any]) -> list[str]:
    """``up``, and once more if it failed, as a pipeline would; the failures' last lines."""
    failures: list[str] = []
    for _ in range(2):
        try:
            stack.engine.up(program, config)
            return failures
        except EngineError as error:
            failures.append(error.last_line)
    pytest.fail(f"up still failing after one rerun: {failures}")


def assert_exactly_tracked(stack: Stack, names: list[str]) -> None:
    """Every declared key is in the state and active, and no other key is active."""
    tracked = {stack.engine.resource(name).id for name in names}
    assert active(stack) == tracked
    stack.engine.destroy()
    assert active(stack) == set()


def test_preview_and_up_show_the_same_auto_name(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    preview = stack.engine.preview(one_key(), stack.config())
    up = stack.engine.up(one_key(), stack.config())
    assert preview.outputs["linux-hosts"]["name"] == up.outputs["linux-hosts"]["name"]
    assert stack.engine.last_preview is not None
    assert (
        stack.engine.last_preview.outputs["linux-hosts"]["name"]
        == up.outputs["linux-hosts"]["name"]
    )


def test_two_stacks_and_two_resources_never_derive_the_same_name(
    make_stack: Callable[..., Stack],
) -> None:
    def two() -> None:
        EnrollmentApiKey("a", policy_id=POLICY)
        EnrollmentApiKey("b", policy_id=POLICY)

    first, second = make_stack(), make_stack()
    second.engine.stack = "other"
    one = first.engine.up(two, first.config())
    other = second.engine.up(two, second.config())
    names = [r.outputs[n]["name"] for r in (one, other) for n in ("a", "b")]
    assert len(set(names)) == 4


def test_a_create_slower_than_the_timeout_is_adopted_not_repeated(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    # Kibana stores the key 1.5 s after the POST, long after the client's 0.5 s timeout.
    fault(
        stack,
        {"method": "POST", "path": CREATE, "action": "commit_late", "delay_ms": 1500, "times": 1},
    )
    failures = up_until_done(stack, one_key(), stack.config(timeout="0.5", maxRetries="0"))
    assert all(line.startswith(PROJECT_ERROR) for line in failures)
    assert_exactly_tracked(stack, ["linux-hosts"])


def test_a_lost_create_whose_look_up_fails_too_is_adopted_by_the_rerun(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    fault(
        stack,
        {"method": "POST", "path": CREATE, "action": "drop_after_commit", "times": 1},
        {
            "method": "GET",
            "path": LIST,
            "action": "status",
            "status": 503,
            "retry_after": 0,
            "times": 4,
        },
    )
    config = stack.config(maxRetries="1")
    with pytest.raises(EngineError) as caught:
        stack.engine.up(one_key(), config)
    assert "The key may exist in Kibana: the next pulumi up adopts it" in caught.value.last_line
    assert len(active(stack)) == 1 and stack.engine.state == {}
    posts = stack.kibana.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"]

    again = stack.engine.up(one_key(), config)
    assert again.changes == {"create": 1}
    assert (
        stack.kibana.request_count()["by_route"]["POST /api/fleet/enrollment_api_keys"] == posts + 1
    )
    assert_exactly_tracked(stack, ["linux-hosts"])


@pytest.mark.parametrize("status", [500, 502, 503])
def test_kibana_storing_the_key_then_answering_an_error_is_adopted(
    make_stack: Callable[..., Stack], status: int
) -> None:
    stack = make_stack()
    fault(
        stack,
        {
            "method": "POST",
            "path": CREATE,
            "action": "commit_then_status",
            "status": status,
            "times": 1,
        },
    )
    up_until_done(stack, one_key(), stack.config())
    assert_exactly_tracked(stack, ["linux-hosts"])


def test_kibana_down_past_the_retry_window_after_storing_the_key(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    fault(
        stack,
        {
            "method": "POST",
            "path": CREATE,
            "action": "commit_then_status",
            "status": 503,
            "times": 1,
        },
        {
            "method": "*",
            "path": "^/api/",
            "action": "status",
            "status": 503,
            "retry_after": 0,
            "times": 8,
        },
    )
    with pytest.raises(EngineError):
        stack.engine.up(one_key(), stack.config(maxRetries="1"))
    stack.kibana.clear_faults()
    stack.engine.up(one_key(), stack.config(maxRetries="1"))
    assert_exactly_tracked(stack, ["linux-hosts"])


ONE_KEY = "^/api/fleet/enrollment_api_keys/"


@pytest.mark.parametrize(
    ("method", "path"), [("POST", CREATE), ("GET", ONE_KEY), ("DELETE", ONE_KEY)]
)
def test_a_cut_off_body_is_a_transport_failure_that_is_retried_or_adopted(
    make_stack: Callable[..., Stack], method: str, path: str
) -> None:
    stack = make_stack()
    if method != "POST":
        stack.engine.up(one_key(), stack.config())
    # Headers with the full Content-Length, half the body, then the connection closes.
    fault(stack, {"method": method, "path": path, "action": "truncate", "times": 1})
    if method == "POST":
        stack.engine.up(one_key(), stack.config())
    elif method == "GET":
        assert stack.engine.refresh().outputs["linux-hosts"]["active"] is True
    else:
        stack.engine.destroy()
        assert active(stack) == set()
        return
    assert stack.kibana.faults()["rules"][0]["fired"] == 1
    assert_exactly_tracked(stack, ["linux-hosts"])


def test_a_fixed_name_lost_create_names_adopt_existing_and_the_advice_converges(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack()
    fault(
        stack,
        {"method": "POST", "path": CREATE, "action": "drop_after_commit", "times": 1},
        {
            "method": "GET",
            "path": LIST,
            "action": "status",
            "status": 503,
            "retry_after": 0,
            "times": 4,
        },
    )
    config = stack.config(maxRetries="1")
    with pytest.raises(EngineError):
        stack.engine.up(one_key(name="edge"), config)
    with pytest.raises(EngineError) as caught:
        stack.engine.up(one_key(name="edge"), config)
    assert "set adopt_existing=True to take it over" in caught.value.last_line
    stack.engine.up(one_key(name="edge", adopt_existing=True), config)
    assert_exactly_tracked(stack, ["linux-hosts"])


@pytest.mark.parametrize("wrong", ["/kibana-typo", "/app/fleet", ""])
def test_a_wrong_base_path_fails_refresh_and_destroy_and_keeps_the_state(
    start_emulator: Callable[..., Any], make_stack: Callable[..., Stack], wrong: str
) -> None:
    stack = make_stack()
    server = start_emulator(
        kibana_version="9.5.0", base_path="/kibana", users=["elastic:changeme:superuser"]
    )
    server.reset()
    good = stack.config(endpoint=server.url)  # the root URL and the base path
    stack.engine.up(one_key(), good)
    before = stack.engine.saved_state()
    bad = stack.config(endpoint=f"{server.root_url}{wrong}")
    for command in ("refresh", "destroy"):
        stack.engine.set_config(bad)
        with pytest.raises(EngineError) as caught:
            getattr(stack.engine, command)(run_program=True)
        line = caught.value.last_line
        assert line.startswith(
            as_host_shows(
                "fleet_provider.exceptions.RouteNotFoundError: Kibana answered 404: Not Found."
            )
        )
        assert f"Kibana has no such route at {server.root_url}{wrong}: set fleet:endpoint" in line
        assert stack.engine.saved_state() == before
    with pytest.raises(EngineError, match="Kibana has no such route at"):
        stack.engine.up(one_key(resource="another"), bad)
    stack.engine.set_config(good)
    stack.engine.destroy(run_program=True)


def test_a_policy_moved_to_another_space_is_never_dropped(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("9.5.0")
    stack.kibana.create_space("ops")
    created = stack.engine.up(one_key(), stack.config())
    key_id = created.exports["key_id"]
    stack.kibana.move_policy(POLICY, ["ops"])

    with pytest.raises(EngineError) as caught:
        stack.engine.refresh()
    line = caught.value.last_line
    assert line.startswith(
        as_host_shows("fleet_provider.exceptions.KeyInAnotherSpaceError: Kibana answered 404:")
    )
    assert "set space_id (or fleet:spaceId) to the key's space" in line
    assert stack.engine.resource("linux-hosts").id == key_id

    # Naming the new space moves the resource, not the key.
    moved = stack.engine.up(one_key(space_id="ops"), stack.config())
    assert moved.changes == {"update": 1}
    assert stack.engine.refresh().outputs["linux-hosts"]["space_id"] == "ops"
    assert active(stack, space="ops") == {key_id}
    stack.engine.destroy()
    assert active(stack, space="ops") == set()


def _ops(result: OperationResult) -> list[str]:
    return [re.sub(r":.*", "", op) for op in result.ops()]


def test_a_replacement_never_adopts_the_key_it_replaces(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    created = stack.engine.up(one_key(rotate_after="3650d"), stack.config())
    replaced = stack.engine.up(
        one_key(rotate_after="3650d"), stack.config(), replace=["linux-hosts"]
    )
    assert _ops(replaced) == ["create-replacement", "replace", "delete-replaced"]
    # `--replace` checks with no olds: the provider cannot see the old key, adopts it as its
    # own, and keeps it rather than revoking the key its replacement holds.
    assert active(stack) == {replaced.exports["key_id"]}
    assert replaced.exports["key_id"] == created.exports["key_id"]
    kept = (
        f"warning: enrollment key {created.exports['key_id']} is kept: its replacement adopted it"
    )
    assert kept in stack.host.stderr
    policy = stack.engine.up(one_key(policy_id=stack.kibana.create_policy("p2")), stack.config())
    assert policy.exports["key_id"] != created.exports["key_id"]
    assert active(stack, "p2") == {policy.exports["key_id"]} and active(stack) == set()
    stack.engine.destroy()
    assert active(stack, "p2") == set()


def test_a_name_held_by_revoked_keys_moves_to_the_next_generation_before_9_5(
    make_stack: Callable[..., Stack],
) -> None:
    stack = make_stack("9.4.0")
    first = stack.engine.up(one_key(), stack.config())
    stack.engine.destroy()  # revoked: Kibana 9.4 keeps the record and its name
    again = stack.engine.up(one_key(), stack.config())
    assert again.changes == {"create": 1}
    assert again.outputs["linux-hosts"]["name"] != first.outputs["linux-hosts"]["name"]
    assert stack.engine.up(one_key(), stack.config()).changes == {"same": 1}
    assert_exactly_tracked(stack, ["linux-hosts"])


def test_names_in_existing_states_are_kept(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()

    def old_style() -> None:
        pulumi.export(
            "key_id",
            EnrollmentApiKey("linux-hosts", policy_id=POLICY, name="linux-hosts-1a2b3c4d").id,
        )

    stack.engine.up(old_style, stack.config())
    # A state from an older release: the name was random, auto_named true, no identity.
    res = stack.engine.resource("linux-hosts")
    for values in (res.inputs, res.outputs):
        values["auto_named"] = True
        values.pop("identity", None)
    result = stack.engine.up(one_key(), stack.config())
    assert result.changes == {"same": 1}
    assert result.outputs["linux-hosts"]["name"] == "linux-hosts-1a2b3c4d"
    assert_exactly_tracked(stack, ["linux-hosts"])
