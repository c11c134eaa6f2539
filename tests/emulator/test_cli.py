"""The command line: first line is the URL, state in --data survives, bad options fail."""

from __future__ import annotations

import base64
import json
import re
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

from fleet_provider.emulator import server
from fleet_provider.emulator.cli import main

KEYS = "/api/fleet/enrollment_api_keys"
XSRF = {"kbn-xsrf": "true"}


class Running:
    """A running ``python -m fleet_provider.emulator`` process."""

    def __init__(self, process: subprocess.Popen[str], url: str) -> None:
        self.process = process
        self.url = url

    def stop(self) -> str:
        """SIGTERM, wait, and return everything printed after the URL line."""
        self.process.send_signal(signal.SIGTERM)
        out, _ = self.process.communicate(timeout=10)
        return out


@contextmanager
def emulator_cli(*args: str) -> Iterator[Running]:
    """Start the CLI on a free port and wait for its URL line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "fleet_provider.emulator", "--port", "0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], 20)
        assert ready, "the emulator printed nothing within 20 s"
        url = process.stdout.readline().strip()
        yield Running(process, url)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=10)


def test_cli_prints_the_base_url_first() -> None:
    with emulator_cli("--quiet") as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.url)
        response = requests.get(running.url + KEYS, auth=("elastic", "changeme"), timeout=10)
        assert response.status_code == 200


def test_cli_stops_cleanly_on_sigterm() -> None:
    with emulator_cli("--quiet") as running:
        running.stop()
        assert running.process.returncode == 0


def test_cli_logs_one_line_per_request() -> None:
    with emulator_cli() as running:
        requests.get(running.url + KEYS + "?page=1", auth=("elastic", "changeme"), timeout=10)
        requests.get(running.url + KEYS, timeout=10)
        lines = running.stop().splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"GET /api/fleet/enrollment_api_keys 200 \d+\.\dms", lines[0])
    assert re.fullmatch(r"GET /api/fleet/enrollment_api_keys 401 \d+\.\dms", lines[1])


def test_cli_log_contains_no_secret() -> None:
    password, api_key, token = "s3cret-pw", "c2VjcmV0LWtleQ==", "s3cret-token"
    with emulator_cli(
        "--user",
        f"ops:{password}:superuser",
        "--api-key",
        f"{api_key}:superuser",
        "--bearer-token",
        f"{token}:superuser",
        "--policy",
        "p1",
    ) as running:
        created = requests.post(
            running.url + KEYS + "?apiVersion=q-s3cret",
            auth=("ops", password),
            headers=XSRF,
            json={"policy_id": "p1"},
            timeout=10,
        )
        ok = requests.post(
            running.url + KEYS,
            auth=("ops", password),
            headers=XSRF,
            json={"policy_id": "p1"},
            timeout=10,
        ).json()["item"]
        requests.get(running.url + KEYS, headers={"Authorization": f"ApiKey {api_key}"}, timeout=10)
        requests.get(running.url + KEYS, headers={"Authorization": f"Bearer {token}"}, timeout=10)
        requests.get(running.url + KEYS, auth=("ops", "wrong-pw"), timeout=10)
        log = running.stop()
    assert created.status_code == 400
    basic = base64.b64encode(f"ops:{password}".encode()).decode()
    for secret in (password, basic, api_key, token, "wrong-pw", "q-s3cret", ok["api_key"]):
        assert secret not in log
    assert len(log.splitlines()) == 5


def test_cli_data_file_survives_a_restart(tmp_path: Path) -> None:
    data = str(tmp_path / "fleet.db")
    with emulator_cli("--quiet", "--data", data, "--policy", "p1") as running:
        item = requests.post(
            running.url + KEYS,
            auth=("elastic", "changeme"),
            headers=XSRF,
            json={"policy_id": "p1", "name": "kept"},
            timeout=10,
        ).json()["item"]
        running.stop()
    with emulator_cli("--quiet", "--data", data, "--policy", "p1") as running:
        read = requests.get(
            f"{running.url}{KEYS}/{item['id']}", auth=("elastic", "changeme"), timeout=10
        )
        listed = requests.get(running.url + KEYS, auth=("elastic", "changeme"), timeout=10)
    assert read.json()["item"] == {**item, "hidden": False}
    # The start-up policy is not created twice, so it still has one Default key.
    assert listed.json()["total"] == 2


def test_cli_loads_a_fault_plan_file(tmp_path: Path) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(
        json.dumps({"rules": [{"path": "^/api/status$", "action": "status", "status": 503}]})
    )
    with emulator_cli("--quiet", "--faults", str(plan)) as running:
        response = requests.get(running.url + "/api/status", timeout=10)
    assert response.status_code == 503


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["--port", "abc"], "--port"),
        (["--port", "70000"], "--port"),
        (["--kibana-version", "7.17.0"], "--kibana-version"),
        (["--kibana-version", "nine"], "--kibana-version"),
        (["--user", "elastic"], "--user"),
        (["--user", "ops:pw:admin"], "--user"),
        (["--api-key", "abc"], "--api-key"),
        (["--bearer-token", "tok:root"], "--bearer-token"),
        (["--policy", " "], "--policy"),
        (["--data", "/no/such/dir/fleet.db"], "--data"),
        (["--faults", "/no/such/faults.json"], "--faults"),
    ],
)
def test_cli_bad_option_is_an_error_naming_it(
    args: list[str], option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
    assert exit_info.value.code == 2
    assert f"argument {option}" in capsys.readouterr().err


def test_cli_invalid_fault_plan_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "faults.json"
    plan.write_text(json.dumps({"rules": [{"action": "explode"}]}))
    with pytest.raises(SystemExit):
        main(["--faults", str(plan)])
    assert "argument --faults: rules[0].action: expected one of" in capsys.readouterr().err


def test_cli_busy_port_is_reported(capsys: pytest.CaptureFixture[str]) -> None:
    with emulator_cli("--quiet") as running:
        port = running.url.rsplit(":", 1)[1]
        started = time.monotonic()
        assert main(["--port", port, "--quiet"]) == 1
    assert "cannot listen" in capsys.readouterr().err
    assert time.monotonic() - started < 10


def test_server_main_still_runs_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    # Console scripts installed before the command line moved to ``cli`` name ``server:main``.
    with pytest.raises(SystemExit) as exit_info:
        server.main(["--port", "abc"])
    assert exit_info.value.code == 2
    assert "argument --port" in capsys.readouterr().err


def test_cli_base_path_serves_kibana_under_it() -> None:
    with emulator_cli("--quiet", "--base-path", "/kibana", "--policy", "p1") as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/kibana", running.url)
        root = running.url.removesuffix("/kibana")
        auth = ("elastic", "changeme")
        status = requests.get(running.url + "/api/status", auth=auth, timeout=10)
        keys = requests.get(running.url + "/s/default" + KEYS, auth=auth, timeout=10)
        bare = requests.get(root + "/api/status", auth=auth, timeout=10)
        control = requests.get(root + "/_emulator/requests", timeout=10)
    assert (status.status_code, keys.json()["total"]) == (200, 1)
    assert (bare.status_code, bare.json()) == (
        404,
        {"statusCode": 404, "error": "Not Found", "message": "Not Found"},
    )
    assert control.json()["by_route"] == {
        "GET /kibana/api/status": 1,
        "GET /kibana/s/default/api/fleet/enrollment_api_keys": 1,
        "GET /api/status": 1,
    }


@pytest.mark.parametrize("base_path", ["kibana", "/kibana/", "/"])
def test_cli_bad_base_path_is_an_error_naming_it(
    base_path: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["--base-path", base_path])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert (
        f"argument --base-path: base path {base_path!r} must start with a slash, don't end" in err
    )


def test_emulator_server_refuses_a_bad_base_path() -> None:
    with pytest.raises(ValueError, match="must start with a slash, don't end with one"):
        server.EmulatorServer(base_path="kibana/")
