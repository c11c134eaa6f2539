"""Chaos: many keys brought up, refreshed and destroyed while Kibana misbehaves.

The emulator injects a fault into about 20% of Fleet API requests, spread over every kind it
knows (an error status, a proxy's HTML page, a cut-off body, a delay, a reset before processing,
a connection dropped after the change was made). Failed runs are run again, as a pipeline would.
"""

from __future__ import annotations

import collections
import re
from collections.abc import Callable
from typing import Any

import pulumi
import pytest
import requests

from fleet_provider import EnrollmentApiKey
from tests.e2e.conftest import POLICY, Stack
from tests.harness.engine import EngineError, OperationResult

pytestmark = pytest.mark.e2e

FLEET = r"^(/s/[^/]+)?/api/fleet/enrollment_api_keys"
ACTIONS: list[dict[str, Any]] = [
    {"action": "status", "status": 503, "retry_after": 0},
    {"action": "html", "status": 502},
    {"action": "garbage"},
    {"action": "delay", "delay_ms": 20},
    {"action": "reset"},
    {"action": "drop_after_commit"},
]
# Rules are tried in order; each fires with probability p, so about 20% of requests get one.
PER_RULE = 1 - 0.8 ** (1 / len(ACTIONS))
MAX_RUNS = 20


def chaos(seed: int) -> dict[str, Any]:
    """A fault plan hitting ~20% of Fleet requests with every action."""
    rules = [{"method": "*", "path": FLEET, "probability": PER_RULE, **a} for a in ACTIONS]
    return {"seed": seed, "rules": rules}


def many_keys(count: int) -> Callable[[], None]:
    """A program declaring ``count`` auto-named keys on one policy."""

    def program() -> None:
        for index in range(count):
            EnrollmentApiKey(f"agent-{index:03d}", policy_id=POLICY)
        pulumi.export("count", count)

    return program


def until_it_succeeds(run: Callable[[], OperationResult], failures: list[str]) -> None:
    """Run an operation again after each failure, as a pipeline retrying `pulumi up` would."""
    for _ in range(MAX_RUNS):
        try:
            run()
            return
        except EngineError as error:
            failures.append(error.last_line)
    pytest.fail(f"still failing after {MAX_RUNS} runs: {failures[-3:]}")


def keys_on_policy(stack: Stack) -> list[dict[str, Any]]:
    """Every key the test created (the policy's own Default key aside), fault-free."""
    return [k for k in stack.kibana.keys(POLICY) if not k["name"].startswith("Default")]


def run_chaos(stack: Stack, count: int, seed: int) -> dict[str, Any]:
    """Up, refresh and destroy ``count`` keys under faults; return what happened."""
    failures: list[str] = []
    config = stack.config(maxRetries="2")
    url = stack.url

    requests.post(f"{url}/_emulator/faults", json=chaos(seed), timeout=10).raise_for_status()
    until_it_succeeds(lambda: stack.engine.up(many_keys(count), config), failures)
    requests.delete(f"{url}/_emulator/faults", timeout=10).raise_for_status()
    after_up = keys_on_policy(stack)

    requests.post(f"{url}/_emulator/faults", json=chaos(seed + 1), timeout=10).raise_for_status()
    until_it_succeeds(stack.engine.refresh, failures)
    until_it_succeeds(stack.engine.destroy, failures)
    requests.delete(f"{url}/_emulator/faults", timeout=10).raise_for_status()

    return {
        "failures": failures,
        "after_up": after_up,
        "after_destroy": keys_on_policy(stack),
        "requests": stack.kibana.request_count(),
    }


def by_route_shape(counts: dict[str, Any]) -> dict[str, int]:
    """Request counts by route, key ids (random per run) folded into ``{id}``."""
    shape: collections.Counter[str] = collections.Counter()
    for route, count in counts["by_route"].items():
        shape[re.sub(r"/enrollment_api_keys/[^/]+$", "/enrollment_api_keys/{id}", route)] += count
    return dict(shape)


def test_two_hundred_keys_under_twenty_percent_faults(make_stack: Callable[..., Stack]) -> None:
    stack = make_stack()
    outcome = run_chaos(stack, 200, seed=7)

    active_after_up = [k for k in outcome["after_up"] if k["active"]]
    assert len(active_after_up) == 200
    names = [k["name"].rsplit(" (", 1)[0] for k in outcome["after_up"]]
    assert len(set(names)) == len(names), "a name was used twice"
    assert [k for k in outcome["after_destroy"] if k["active"]] == []
    # Every failure a person saw was one of the project's own one-line errors.
    for line in outcome["failures"]:
        assert line.startswith("fleet_provider.exceptions."), line
    # The faults did bite: runs failed and were run again, and lost creates were looked up.
    assert outcome["failures"]
    routes = collections.Counter(outcome["requests"]["by_route"])
    assert routes["GET /api/fleet/enrollment_api_keys"] > 0
    assert routes["POST /api/fleet/enrollment_api_keys"] > 200


def sequential(stack: Stack) -> Stack:
    """The stack run with ``--parallel 1``: requests then reach Kibana in program order."""
    stack.engine.parallel = 1
    return stack


def test_the_same_seed_gives_the_same_run(make_stack: Callable[..., Stack]) -> None:
    # Steps run concurrently by default, so which request meets which fault varies by run.
    first = run_chaos(sequential(make_stack()), 30, seed=11)
    second = run_chaos(sequential(make_stack()), 30, seed=11)
    assert first["failures"] == second["failures"]
    assert by_route_shape(first["requests"]) == by_route_shape(second["requests"])
    assert len(first["after_up"]) == len(second["after_up"]) == 30
