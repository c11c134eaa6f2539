"""Kibana killed right after it stored a key, down past the retry window, then restarted.

The emulator runs as its own process with its state in a SQLite file (``--data``). Kibana
stores the key and the connection drops before the answer; while the provider looks the key up,
the process is killed with SIGKILL. The look-up and the retried create meet a dead Kibana, so
``up`` fails saying the key may exist. Kibana comes back on the same port with the same data, and
the rerun adopts the key the first run created: one active key, tracked, none after ``destroy``.
"""

from __future__ import annotations

import contextlib
import json
import queue
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.harness.host import as_host_shows
from tests.harness.engine import ConfigSecret, Engine, EngineError, Hosts, secret

pytestmark = pytest.mark.e2e

REPO_ROOT = Path(__file__).resolve().parents[2]
POLICY = "fleet-server-policy"
KEYS = "^/api/fleet/enrollment_api_keys$"
START_TIMEOUT = 20.0
# The create is stored and its answer lost; the look-up that follows is held long enough for
# the process to be killed before it can answer.
LOST_CREATE = {
    "seed": 1,
    "rules": [
        {"method": "POST", "path": KEYS, "action": "drop_after_commit", "times": 1},
        {"method": "GET", "path": KEYS, "action": "delay", "delay_ms": 30000},
    ],
}


@dataclass
class Emulator:
    """A ``fleet-emulator`` process and the Kibana URL it printed."""

    process: subprocess.Popen[str]
    url: str

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def _first_line(stream: IO[str], timeout: float) -> str:
    """The first line ``stream`` gives within ``timeout`` seconds ("" if none)."""
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(stream.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout).strip()
    except queue.Empty:
        return ""


@contextlib.contextmanager
def emulator(data: Path, port: int, logs: Path, *extra: str) -> Iterator[Emulator]:
    """Run ``python -m fleet_provider.emulator`` on ``port`` (0: a free one) with ``data``.

    The process is killed on the way out, whatever happened.
    """
    argv = [
        sys.executable,
        "-m",
        "fleet_provider.emulator",
        "--port",
        str(port),
        "--data",
        str(data),
        "--policy",
        POLICY,
        "--quiet",
        *extra,
    ]
    with logs.open("a") as stderr:
        process = subprocess.Popen(
            argv, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=stderr, text=True
        )
    try:
        assert process.stdout is not None
        url = _first_line(process.stdout, START_TIMEOUT)
        if not url.startswith("http://"):
            pytest.fail(f"the emulator did not start: {logs.read_text()}")
        yield Emulator(process, url)
    finally:
        if process.poll() is None:
            process.kill()
        process.wait()
        if process.stdout is not None:
            process.stdout.close()


def provider_keys(data: Path) -> list[str]:
    """Ids of the keys in the emulator's SQLite file, the policies' Default keys aside.

    Read-only, so the store the emulator writes is never touched.
    """
    with contextlib.closing(sqlite3.connect(f"{data.as_uri()}?mode=ro", uri=True)) as db:
        rows = db.execute("SELECT id, doc FROM enrollment_api_keys ORDER BY seq").fetchall()
    return [key_id for key_id, doc in rows if not json.loads(doc)["name"].startswith("Default")]


class KillOnStore(threading.Thread):
    """SIGKILLs a process as soon as a new key is in its SQLite file."""

    def __init__(self, process: subprocess.Popen[str], data: Path) -> None:
        super().__init__(daemon=True)
        self.process = process
        self.data = data
        self.stop = threading.Event()
        self.killed_after: str | None = None
        """The id of the stored key the process was killed after."""

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                stored = provider_keys(self.data)
            except sqlite3.Error:
                stored = []
            if stored:
                self.process.send_signal(signal.SIGKILL)
                self.killed_after = stored[0]
                return
            time.sleep(0.002)


def one_key() -> None:
    key = EnrollmentApiKey("linux-hosts", policy_id=POLICY)
    pulumi.export("key_id", key.id)


def active(url: str) -> set[str]:
    """Ids of the active keys on the policy, its Default key aside."""
    return {
        k["id"]
        for k in KibanaAdmin(url).keys(POLICY)
        if k["active"] and not k["name"].startswith("Default")
    }


def test_a_key_stored_just_before_kibana_was_killed_is_adopted_after_the_restart(
    tmp_path: Path,
) -> None:
    data = tmp_path / "kibana.sqlite"
    faults = tmp_path / "faults.json"
    faults.write_text(json.dumps(LOST_CREATE))
    logs = tmp_path / "emulator.log"
    with (
        Hosts(exclude_env=["KIBANA_*"]) as hosts,
        emulator(data, 0, logs, "--faults", str(faults)) as first,
    ):
        engine = Engine(hosts, stack="kill-restart")
        # One retry, each attempt waiting at most 5 s: Kibana stays down until the whole
        # retry window has passed and `up` has failed.
        config: dict[str, str | ConfigSecret] = {
            "fleet:endpoint": first.url,
            "fleet:username": "elastic",
            "fleet:password": secret("changeme"),
            "fleet:maxRetries": "1",
            "fleet:timeout": "5",
        }
        watcher = KillOnStore(first.process, data)
        watcher.start()
        try:
            with pytest.raises(EngineError) as caught:
                engine.up(one_key, config)
        finally:
            watcher.stop.set()
            watcher.join(timeout=10)
        stored = watcher.killed_after
        line = caught.value.last_line
        assert stored is not None, f"no key was stored, so Kibana was not killed: {line}"
        assert first.process.wait(timeout=10) == -signal.SIGKILL
        shown = as_host_shows("fleet_provider.exceptions.TransportError: Cannot reach Kibana at")
        assert line.startswith(shown), line
        assert line.endswith("The key may exist in Kibana: the next pulumi up adopts it."), line
        assert engine.state == {}
        assert provider_keys(data) == [stored]

        # Back on the same port with the same data, without faults.
        with emulator(data, first.port, logs) as second:
            assert second.url == first.url
            assert active(second.url) == {stored}
            again = engine.up(one_key, config)
            assert again.changes == {"create": 1}
            assert again.exports["key_id"] == stored
            assert engine.resource("linux-hosts").id == stored
            assert active(second.url) == {stored}
            assert provider_keys(data) == [stored]

            engine.destroy()
            assert active(second.url) == set()
            assert engine.state == {}
