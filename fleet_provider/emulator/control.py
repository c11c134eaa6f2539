"""The ``/_emulator`` test-control API: faults, request counters and reset.

These paths need no credentials and are not counted.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

from .faults import FaultInjector, FaultPlanError
from .messages import ApiRequest, ApiResponse, error_response, json_response

PREFIX = "/_emulator/"


class RequestCounter:
    """How many Kibana API requests arrived, per ``METHOD /literal/path``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, method: str, path: str) -> None:
        """Record one request."""
        with self._lock:
            self._counts[f"{method} {path}"] += 1

    def clear(self) -> None:
        """Forget every count."""
        with self._lock:
            self._counts.clear()

    def snapshot(self) -> dict[str, Any]:
        """``{"total": N, "by_route": {...}}``."""
        with self._lock:
            return {"total": sum(self._counts.values()), "by_route": dict(self._counts)}


class ControlApi:
    """Answers ``/_emulator/*`` requests."""

    def __init__(
        self, faults: FaultInjector, counter: RequestCounter, reset: Callable[[], None]
    ) -> None:
        self.faults = faults
        self.counter = counter
        self._reset = reset

    def handle(self, request: ApiRequest) -> ApiResponse:
        """Answer one control request."""
        route = (request.method, request.path.rstrip("/"))
        if route == ("GET", "/_emulator/faults"):
            return json_response(200, self.faults.describe())
        if route == ("POST", "/_emulator/faults"):
            try:
                self.faults.load(json.loads(request.body or b"null"))
            except ValueError as err:  # FaultPlanError and JSON errors
                prefix = "" if isinstance(err, FaultPlanError) else "invalid JSON: "
                return error_response(400, f"invalid fault plan: {prefix}{err}")
            return json_response(200, self.faults.describe())
        if route == ("DELETE", "/_emulator/faults"):
            self.faults.clear()
            return json_response(200, self.faults.describe())
        if route == ("GET", "/_emulator/requests"):
            return json_response(200, self.counter.snapshot())
        if route == ("DELETE", "/_emulator/requests"):
            self.counter.clear()
            return json_response(200, self.counter.snapshot())
        if route == ("POST", "/_emulator/reset"):
            self._reset()
            return json_response(200, {"reset": True})
        return error_response(404, "Not Found")
