"""The Fleet emulator in its own process, with its test-control API."""

from __future__ import annotations

import subprocess
import sys
from types import TracebackType
from typing import Any

import requests

from benchmarks.procfs import cpu_seconds

POLICY = "bench-policy"
USER = "elastic"
PASSWORD = "changeme"  # noqa: S105 - the emulator's default login


class EmulatorProcess:
    """``python -m fleet_provider.emulator`` on a free loopback port, with its control API.

    The emulator runs in a process of its own, so neither the direct clients nor the gRPC
    clients share an interpreter lock with it.
    """

    def __init__(self, kibana_version: str = "9.5.0") -> None:
        self._proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fleet_provider.emulator",
                "--port",
                "0",
                "--quiet",
                "--kibana-version",
                kibana_version,
                "--policy",
                POLICY,
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline().strip()
        if not line.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the emulator did not print its URL (got {line!r})")
        self.url = line
        self._control = requests.Session()

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        return self._proc.pid

    def cpu_seconds(self) -> float:
        """CPU time the emulator has used so far."""
        return cpu_seconds(self.pid)

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        response = self._control.request(method, f"{self.url}/_emulator/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def reset(self) -> None:
        """Forget every key, fault and count; the start-up policy is recreated."""
        self._call("POST", "reset")

    def counts(self) -> dict[str, Any]:
        """``{"total": N, "by_route": {...}}`` of Kibana API requests so far."""
        result: dict[str, Any] = self._call("GET", "requests")
        return result

    def delay(self, delay_ms: float) -> None:
        """Delay every Fleet request by ``delay_ms`` (0 removes every fault)."""
        if delay_ms <= 0:
            self._call("DELETE", "faults")
            return
        rule = {"method": "*", "path": "^/api/fleet/", "action": "delay", "delay_ms": delay_ms}
        self._call("POST", "faults", {"seed": 1, "rules": [rule]})

    def stop(self) -> None:
        """Terminate the emulator and wait for it."""
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        """Use as a context manager."""
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the emulator."""
        self.stop()
