"""Fault plans: seeded rules that choose which requests fail the way networks and proxies do.

A plan is ``{"seed": 7, "rules": [{"method": "POST", "path": "^/api/...$",
"action": "drop_after_commit", "probability": 0.2, "times": 3}]}``. Rules are tried
in order for every Kibana API request; the first that matches and fires wins. The
same seed and the same request sequence give the same decisions. What the client
then sees is ``fault_answers``' job.

An action's name says whether the request is processed: ``status``, ``html``,
``garbage`` and ``reset`` fail it before the backend sees it; ``drop_after_commit``,
``truncate`` and ``commit_then_status`` store its effect and then spoil the answer;
``commit_late`` stores it only after holding the request for ``delay_ms``.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

ACTIONS = (
    "status",
    "html",
    "garbage",
    "delay",
    "reset",
    "drop_after_commit",
    "truncate",
    "commit_late",
    "commit_then_status",
)
_RULE_KEYS = {
    "method",
    "path",
    "action",
    "probability",
    "times",
    "status",
    "retry_after",
    "delay_ms",
    "message",
    "fraction",
    "bytes",
    "then",
    "body",
}
# What each action does when the plan leaves a parameter out.
DEFAULT_FRACTION = 0.5
DEFAULT_LATE_MS = 3000.0
_STATUS_ACTIONS = {"status": None, "html": 502, "commit_then_status": 500}
_THEN = ("answer", "drop")
_BODIES = ("json", "html")


class FaultPlanError(ValueError):
    """The fault plan is not valid; ``str()`` says which field and why."""


@dataclass
class FaultRule:
    """One rule: which requests, what happens, how likely and how many times."""

    method: str
    path: re.Pattern[str]
    action: str
    probability: float = 1.0
    times: int | None = None
    status: int | None = None
    retry_after: float | None = None
    delay_ms: float = 0.0
    message: str | None = None
    fraction: float | None = None
    keep_bytes: int | None = None
    then: str | None = None
    body: str | None = None
    fired: int = 0

    def describe(self) -> dict[str, Any]:
        """The rule as JSON, with how often it has fired."""
        data: dict[str, Any] = {
            "method": self.method,
            "path": self.path.pattern,
            "action": self.action,
            "probability": self.probability,
            "times": self.times,
            "fired": self.fired,
        }
        for name in ("status", "retry_after", "message", "fraction", "then", "body"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.keep_bytes is not None:
            data["bytes"] = self.keep_bytes
        if self.action in ("delay", "commit_late"):
            data["delay_ms"] = self.delay_ms
        return data


def _number(rule: Mapping[str, Any], key: str, where: str) -> float | None:
    value = rule.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultPlanError(f"{where}.{key}: expected a number")
    return float(value)


def _only_for(rule: Mapping[str, Any], key: str, actions: tuple[str, ...], where: str) -> None:
    if key in rule and rule["action"] not in actions:
        raise FaultPlanError(f"{where}.{key}: only for the {' and '.join(actions)} action")


def _choice(rule: Mapping[str, Any], key: str, choices: tuple[str, ...], where: str) -> str:
    value = rule.get(key, choices[0])
    if value not in choices:
        raise FaultPlanError(f"{where}.{key}: expected {' or '.join(choices)}")
    return str(value)


def _status(rule: Mapping[str, Any], where: str) -> int | None:
    action = rule["action"]
    if action not in _STATUS_ACTIONS:
        if "status" in rule:
            raise FaultPlanError(
                f"{where}.status: only for the status, html and commit_then_status actions"
            )
        return None
    status = rule.get("status", _STATUS_ACTIONS[action])
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise FaultPlanError(f"{where}.status: expected an HTTP status between 100 and 599")
    return status


def _delay_ms(rule: Mapping[str, Any], where: str) -> float:
    delay_ms = _number(rule, "delay_ms", where)
    if rule["action"] == "commit_late" and delay_ms is None:
        delay_ms = DEFAULT_LATE_MS
    if rule["action"] in ("delay", "commit_late") and (delay_ms is None or delay_ms < 0):
        raise FaultPlanError(f"{where}.delay_ms: expected a number of milliseconds >= 0")
    return delay_ms or 0.0


def _cut(rule: Mapping[str, Any], where: str) -> tuple[float | None, int | None]:
    """``truncate``: the share (``fraction``) or count (``bytes``) of body bytes sent."""
    _only_for(rule, "fraction", ("truncate",), where)
    _only_for(rule, "bytes", ("truncate",), where)
    if rule["action"] != "truncate":
        return None, None
    if "fraction" in rule and "bytes" in rule:
        raise FaultPlanError(f"{where}.bytes: give fraction or bytes, not both")
    keep = rule.get("bytes")
    if keep is not None:
        if isinstance(keep, bool) or not isinstance(keep, int) or keep < 0:
            raise FaultPlanError(f"{where}.bytes: expected an integer >= 0")
        return None, keep
    fraction = _number(rule, "fraction", where)
    fraction = DEFAULT_FRACTION if fraction is None else fraction
    if not 0.0 <= fraction < 1.0:
        raise FaultPlanError(f"{where}.fraction: expected a number >= 0 and < 1")
    return fraction, None


def parse_rule(rule: Any, where: str) -> FaultRule:
    """Validate one rule object."""
    if not isinstance(rule, dict):
        raise FaultPlanError(f"{where}: expected an object")
    unknown = sorted(set(rule) - _RULE_KEYS)
    if unknown:
        raise FaultPlanError(f"{where}.{unknown[0]}: unknown key")
    action = rule.get("action")
    if action not in ACTIONS:
        raise FaultPlanError(f"{where}.action: expected one of {', '.join(ACTIONS)}")
    method = rule.get("method", "*")
    if not isinstance(method, str) or not method:
        raise FaultPlanError(f"{where}.method: expected an HTTP method or *")
    path = rule.get("path", "")
    if not isinstance(path, str):
        raise FaultPlanError(f"{where}.path: expected a regular expression string")
    try:
        compiled = re.compile(path)
    except re.error as err:
        raise FaultPlanError(f"{where}.path: invalid regular expression: {err}") from None
    probability = _number(rule, "probability", where)
    if probability is None:
        probability = 1.0
    if not 0.0 <= probability <= 1.0:
        raise FaultPlanError(f"{where}.probability: expected a number between 0 and 1")
    times = rule.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise FaultPlanError(f"{where}.times: expected a positive integer")
    status = _status(rule, where)
    retry_after = _number(rule, "retry_after", where)
    if retry_after is not None and retry_after < 0:
        raise FaultPlanError(f"{where}.retry_after: expected a number of seconds >= 0")
    delay_ms = _delay_ms(rule, where)
    message = rule.get("message")
    if message is not None and not isinstance(message, str):
        raise FaultPlanError(f"{where}.message: expected a string")
    fraction, keep_bytes = _cut(rule, where)
    _only_for(rule, "then", ("commit_late",), where)
    _only_for(rule, "body", ("commit_then_status",), where)
    return FaultRule(
        method=method.upper(),
        path=compiled,
        action=action,
        probability=probability,
        times=times,
        status=status,
        retry_after=retry_after,
        delay_ms=delay_ms,
        message=message,
        fraction=fraction,
        keep_bytes=keep_bytes,
        then=_choice(rule, "then", _THEN, where) if action == "commit_late" else None,
        body=_choice(rule, "body", _BODIES, where) if action == "commit_then_status" else None,
    )


def parse_plan(plan: Any) -> tuple[int, list[FaultRule]]:
    """Validate a whole plan; return its seed and rules."""
    if not isinstance(plan, dict):
        raise FaultPlanError("expected a JSON object with seed and rules")
    unknown = sorted(set(plan) - {"seed", "rules"})
    if unknown:
        raise FaultPlanError(f"{unknown[0]}: unknown key (expected seed and rules)")
    seed = plan.get("seed", 0)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise FaultPlanError("seed: expected an integer")
    rules = plan.get("rules", [])
    if not isinstance(rules, list):
        raise FaultPlanError("rules: expected an array")
    return seed, [parse_rule(rule, f"rules[{i}]") for i, rule in enumerate(rules)]


def load_fault_plan(source: Mapping[str, Any] | str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate a fault plan from a mapping or a JSON file."""
    if isinstance(source, Mapping):
        plan = dict(source)
    else:
        with open(source, encoding="utf-8") as handle:
            try:
                plan = json.load(handle)
            except ValueError as err:
                raise FaultPlanError(f"invalid JSON: {err}") from None
    parse_plan(plan)
    return plan


class FaultInjector:
    """The active plan and the seeded decision for each request."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._seed = 0
        self._rules: list[FaultRule] = []
        self._random = random.Random(0)

    def load(self, plan: Any) -> None:
        """Replace the plan (raise FaultPlanError and keep the old one if invalid)."""
        seed, rules = parse_plan(plan)
        with self._lock:
            self._seed, self._rules, self._random = seed, rules, random.Random(seed)

    def clear(self) -> None:
        """Remove every rule."""
        with self._lock:
            self._seed, self._rules, self._random = 0, [], random.Random(0)

    def describe(self) -> dict[str, Any]:
        """The active plan as JSON."""
        with self._lock:
            return {"seed": self._seed, "rules": [rule.describe() for rule in self._rules]}

    def decide(self, method: str, path: str) -> FaultRule | None:
        """The rule that fires for this request, if any."""
        with self._lock:
            for rule in self._rules:
                if rule.method not in ("*", method) or not rule.path.search(path):
                    continue
                if rule.times is not None and rule.fired >= rule.times:
                    continue
                # One draw per matching rule keeps the sequence a function of the seed.
                if self._random.random() < rule.probability:
                    rule.fired += 1
                    return rule
            return None
