"""Fault injection: seeded rules that make chosen requests fail the way networks do.

A plan is ``{"seed": 7, "rules": [{"method": "POST", "path": "^/api/...$",
"action": "drop_after_commit", "probability": 0.2, "times": 3}]}``. Rules are tried
in order for every Kibana API request; the first that matches and fires wins. The
same seed and the same request sequence give the same decisions. ``apply_fault``
turns the rule that fired into the bad answer (or no answer) the client sees.
"""

from __future__ import annotations

import json
import os
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

from .messages import ApiRequest, ApiResponse, error_response, reason

ACTIONS = ("status", "html", "garbage", "delay", "reset", "drop_after_commit")
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
}
_HTML_PAGE = (
    "<html>\r\n<head><title>{status} {reason}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)
_GARBAGE = b'{"item":{"id":"'


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
        for name in ("status", "retry_after", "message"):
            if getattr(self, name) is not None:
                data[name] = getattr(self, name)
        if self.action == "delay":
            data["delay_ms"] = self.delay_ms
        return data


def _number(rule: Mapping[str, Any], key: str, where: str) -> float | None:
    value = rule.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise FaultPlanError(f"{where}.{key}: expected a number")
    return float(value)


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
    status = rule.get("status")
    if action in ("status", "html"):
        if status is None and action == "html":
            status = 502
        if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
            raise FaultPlanError(f"{where}.status: expected an HTTP status between 100 and 599")
    elif status is not None:
        raise FaultPlanError(f"{where}.status: only for the status and html actions")
    retry_after = _number(rule, "retry_after", where)
    if retry_after is not None and retry_after < 0:
        raise FaultPlanError(f"{where}.retry_after: expected a number of seconds >= 0")
    delay_ms = _number(rule, "delay_ms", where)
    if action == "delay" and (delay_ms is None or delay_ms < 0):
        raise FaultPlanError(f"{where}.delay_ms: expected a number of milliseconds >= 0")
    message = rule.get("message")
    if message is not None and not isinstance(message, str):
        raise FaultPlanError(f"{where}.message: expected a string")
    return FaultRule(
        method=method.upper(),
        path=compiled,
        action=action,
        probability=probability,
        times=times,
        status=status,
        retry_after=retry_after,
        delay_ms=delay_ms or 0.0,
        message=message,
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


def apply_fault(
    rule: FaultRule,
    request: ApiRequest,
    handle: Callable[[ApiRequest], ApiResponse],
    drop: Callable[[str], NoReturn],
) -> ApiResponse:
    """Answer ``request`` as ``rule`` says; ``handle`` is the real API, ``drop`` hangs up."""
    if rule.action == "reset":
        drop("reset")
    if rule.action == "drop_after_commit":
        handle(request)
        drop("dropped")
    if rule.action == "delay":
        time.sleep(rule.delay_ms / 1000)
        return handle(request)
    if rule.action == "garbage":
        return ApiResponse(200, _GARBAGE)
    status = rule.status or 502
    if rule.action == "html":
        page = _HTML_PAGE.format(status=status, reason=reason(status))
        return ApiResponse(status, page.encode(), "text/html")
    headers = {}
    if rule.retry_after is not None:
        headers["Retry-After"] = f"{rule.retry_after:g}"
    return error_response(status, rule.message or reason(status), headers)
