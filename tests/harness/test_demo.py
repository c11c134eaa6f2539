"""``make demo`` on a machine without the Pulumi CLI: scripts/demo.sh runs tests/harness/demo.py."""

from __future__ import annotations

import base64
import os
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from fleet_provider.emulator.keys import new_key
from fleet_provider.emulator.versions import KibanaVersion
from tests.harness import demo as demo_module
from tests.harness.demo import NOTICE
from tests.harness.engine import Engine, EngineError

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
DEMO = ROOT / "scripts" / "demo.sh"
MARKER = "FLEET_DEMO_TEST_MARKER"
"""Set in the demo's environment, so every process it starts (which inherits it) can be found."""

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not Path("/proc/self/environ").is_file(), reason="no /proc to find the demo's processes in"
    ),
]
# scripts/demo.sh runs .venv/bin/python, as make demo does after creating .venv.
needs_venv = pytest.mark.skipif(
    not VENV_PYTHON.is_file(), reason=f"{VENV} does not exist (make venv creates it)"
)

# The emulator's tokens: base64 of "<20-char id>:<22-char secret>" (keys.py new_key), 43 bytes,
# so 58 base64 characters and "==". A window ending at "==" can start at one place only.
TOKEN_SHAPE = re.compile(r"[A-Za-z0-9+/]{58}==")
DECODED_SHAPE = re.compile(r"[A-Za-z0-9_-]{20}:[A-Za-z0-9_-]{22}")
HEADERS = [
    "Previewing update (demo):",
    "Updating (demo):",
    "Refreshing (demo):",
    "Destroying (demo):",
]


def api_keys_in(text: str) -> list[str]:
    """Every emulator-shaped enrollment token in ``text``."""
    found = []
    for match in TOKEN_SHAPE.finditer(text):
        try:
            decoded = base64.b64decode(match.group(), validate=True).decode("ascii")
        except (ValueError, UnicodeDecodeError):
            continue
        if DECODED_SHAPE.fullmatch(decoded):
            found.append(match.group())
    return found


def survivors(marker: str) -> list[str]:
    """The live processes whose environment holds ``MARKER=marker``: "pid command" each."""
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile, or not ours
            continue
        if needle in environ:
            found.append(f"{entry.name} {command.strip()}")
    return found


def demo_env(marker: str) -> dict[str, str]:
    """A developer's shell on a machine without the CLI: no pulumi on PATH, nothing activated.

    A Kibana of the developer's own in ``KIBANA_*`` must not be what the demo talks to.
    """
    dropped = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PULUMI_PYTHON_CMD", "PWD"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith(("PYTEST_", "KIBANA_", "PULUMI_RUNTIME_"))
    }
    venv_bin = os.path.normpath(VENV / "bin")
    path = [
        p
        for p in env.get("PATH", "").split(os.pathsep)
        if os.path.normpath(p) != venv_bin and shutil.which("pulumi", path=p) is None
    ]
    env["PATH"] = os.pathsep.join(path)
    if shutil.which("dirname", path=env["PATH"]) is None:
        pytest.skip("taking pulumi off PATH takes the shell's tools too")
    env.update(
        {
            MARKER: marker,
            "KIBANA_ENDPOINT": "http://127.0.0.1:9",
            "KIBANA_API_KEY": "a-developers-own-kibana-key",
        }
    )
    # What `make demo` checks first: here it finds no CLI.
    lookup = subprocess.run(
        ["bash", "-c", "command -v pulumi"], env=env, capture_output=True, check=False
    )
    assert lookup.returncode != 0, lookup.stdout
    return env


def port_is_closed(url: str) -> bool:
    """Nothing listens at ``url``'s host and port any more."""
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname, parts.port or 80), timeout=2):
            return False
    except OSError:
        return True


def emulator_url(output: str) -> str:
    """The URL of the "Kibana Fleet emulator at <url> (pid N)" line."""
    match = re.search(r"^Kibana Fleet emulator at (http://\S+) \(pid (\d+)\)$", output, re.M)
    assert match, output
    return match.group(1)


def section(output: str, header: str) -> str:
    """What one command printed: from its header to the next command's (or the end)."""
    start = output.index(header)
    ends = [output.find(h, start + 1) for h in HEADERS if output.find(h, start + 1) > start]
    return output[start : min(ends) if ends else len(output)]


def test_the_token_detector_finds_the_emulators_tokens() -> None:
    key = new_key(
        {"id": "p"}, "id", None, None, datetime.now(timezone.utc), KibanaVersion.parse("9.6.0")
    )
    token = str(key["api_key"])
    assert api_keys_in(f'    enrollment_token: "{token}"\nx{token}y') == [token, token]
    assert api_keys_in("enrollment_token: [secret]") == []


def test_survivors_finds_a_process_with_the_marker() -> None:
    marker = uuid.uuid4().hex
    with subprocess.Popen(["sleep", "30"], env={**os.environ, MARKER: marker}) as child:
        try:
            assert [s.split()[0] for s in survivors(marker)] == [str(child.pid)]
        finally:
            child.kill()


@needs_venv
def test_make_demo_without_the_cli_runs_the_quickstart_through_the_harness() -> None:
    marker = uuid.uuid4().hex
    result = subprocess.run(
        ["bash", str(DEMO)],
        cwd=ROOT,
        env=demo_env(marker),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    lines = result.stdout.splitlines()
    assert lines[0] == NOTICE and "\n" not in NOTICE
    assert "No Pulumi CLI found" in NOTICE and "examples/quickstart/__main__.py" in NOTICE
    assert [output.index(h) for h in HEADERS] == sorted(output.index(h) for h in HEADERS)

    resource = "pulumi-python:dynamic/fleet:EnrollmentApiKey"
    preview = section(output, HEADERS[0])
    assert re.search(rf"^ \+   └─ {resource} +linux-hosts +create$", preview, re.M), preview
    assert "    + 2 to create" in preview
    up = section(output, HEADERS[1])
    assert re.search(
        r"^ \+   pulumi:pulumi:Stack +fleet-provider-quickstart-demo +created$", up, re.M
    )
    assert re.search(rf"^ \+   └─ {resource} +linux-hosts +created$", up, re.M), up
    assert "\nOutputs:\n    enrollment_token: [secret]\n" in up
    assert "    + 2 created" in up
    key_id = re.search(r'^    key_id +: "([0-9a-f-]{36})"$', up, re.M)
    assert key_id, up
    assert "    2 unchanged" in section(output, HEADERS[2])
    assert "    - 2 deleted" in section(output, HEADERS[3])
    # The emulator served the create and, for destroy, the revocation of that very key.
    assert "POST /api/fleet/enrollment_api_keys 200" in output
    assert f"DELETE /api/fleet/enrollment_api_keys/{key_id.group(1)} 200" in output

    assert "[secret]" in result.stdout
    assert api_keys_in(output) == []
    assert "Traceback" not in output
    assert survivors(marker) == []
    assert port_is_closed(emulator_url(output))


@needs_venv
@pytest.mark.parametrize(
    ("signum", "group", "during"),
    [(signal.SIGINT, True, HEADERS[1]), (signal.SIGTERM, False, HEADERS[2])],
    ids=["ctrl-c-during-up", "kill-during-refresh"],
)
def test_an_interrupted_demo_leaves_no_process_running(
    signum: signal.Signals, group: bool, during: str
) -> None:
    """Ctrl-C (SIGINT to the whole foreground group, as a terminal sends it) or a plain kill of
    the demo as a command starts its provider host: everything it started is stopped, at once."""
    marker = uuid.uuid4().hex
    demo = subprocess.Popen(
        ["bash", str(DEMO)],
        cwd=ROOT,
        env=demo_env(marker),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    lines: queue.Queue[str | None] = queue.Queue()

    def read() -> None:
        assert demo.stdout is not None
        for line in demo.stdout:
            lines.put(line)
        lines.put(None)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 60
        while not seen or seen[-1].strip() != during:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.1))
            assert line is not None, "".join(seen)
            seen.append(line)
        if group:
            os.killpg(demo.pid, signum)
        else:
            demo.send_signal(signum)
        sent = time.monotonic()
        status = demo.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.wait()
    reader.join(timeout=10)
    while (line := lines.get(timeout=1)) is not None:
        seen.append(line)
    output = "".join(seen)
    assert status == 128 + signum, output
    assert f"interrupted ({signum.name})" in output
    assert survivors(marker) == []
    assert port_is_closed(emulator_url(output))
    assert api_keys_in(output) == []
    # Every child stopped on its SIGTERM: none needed stop_process's SIGKILL, 10 s later.
    assert took < 8, f"{took:.1f}s to stop"


def test_a_failed_command_stops_everything_and_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command that fails with its provider host running: the demo stops it and the emulator."""
    marker = uuid.uuid4().hex
    monkeypatch.setenv(MARKER, marker)  # inherited by the emulator and the hosts
    started = []

    def failing_refresh(engine: Engine, *, run_program: bool = False) -> None:
        started.append(engine.hosts.start(demo_module.ROOT))
        raise EngineError("urn:pulumi:demo::p::t::linux-hosts: Read failed: boom", op="Read")

    monkeypatch.setattr(Engine, "refresh", failing_refresh)
    assert demo_module.main() == 1
    out, err = capsys.readouterr()
    assert "error: urn:pulumi:demo::p::t::linux-hosts: Read failed: boom" in err
    assert "Destroying (demo):" not in out
    assert len(started) == 1 and not started[0].alive
    assert survivors(marker) == []
    assert port_is_closed(emulator_url(out))
    assert api_keys_in(out + err) == []
