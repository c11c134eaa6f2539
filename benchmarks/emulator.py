"""The Fleet emulator in its own process, with its test-control API."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

from benchmarks.procfs import cpu_seconds
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.harness.host import stop_process

POLICY = "bench-policy"
USER = "elastic"
PASSWORD = "changeme"  # noqa: S105 - the emulator's default login


class EmulatorProcess:
    """``python -m fleet_provider.emulator`` on a free loopback port, with its control API.

    The emulator runs in a process of its own, so neither the direct clients nor the gRPC
    clients share an interpreter lock with it. :attr:`admin` speaks to it over HTTP.
    """

    def __init__(self, kibana_version: str = "9.6.0") -> None:
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
        self.admin = KibanaAdmin(line, auth=(USER, PASSWORD), timeout=30.0)

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        return self._proc.pid

    def cpu_seconds(self) -> float:
        """CPU time the emulator has used so far."""
        return cpu_seconds(self.pid)

    def reset(self) -> None:
        """Forget every key, fault and count; the start-up policy is recreated."""
        self.admin.reset()

    def counts(self) -> dict[str, Any]:
        """``{"total": N, "by_route": {...}}`` of Kibana API requests so far."""
        return self.admin.request_count()

    def delay(self, delay_ms: float) -> None:
        """Delay every Fleet request by ``delay_ms`` (0 removes every fault)."""
        if delay_ms <= 0:
            self.admin.clear_faults()
            return
        rule = {"method": "*", "path": "^/api/fleet/", "action": "delay", "delay_ms": delay_ms}
        self.admin.set_faults({"seed": 1, "rules": [rule]})

    def stop(self) -> None:
        """Terminate the emulator and wait for it."""
        stop_process(self._proc)
        if self._proc.stdout is not None:
            self._proc.stdout.close()

    def __enter__(self) -> EmulatorProcess:
        """Use as a context manager."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Stop the emulator."""
        self.stop()
