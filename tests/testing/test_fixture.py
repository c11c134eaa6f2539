"""The pytest plugin's fixtures: what fleet_emulator exposes, resets, and where options come from."""

from __future__ import annotations

import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import requests

from fleet_provider.emulator.server import DEFAULT_VERSION
from fleet_provider.testing import FleetEmulator
from fleet_provider.testing.plugin import EmulatorFactory

POLICY = "fleet-server-policy"


def test_it_exposes_where_it_is_and_how_to_log_in(fleet_emulator: FleetEmulator) -> None:
    assert fleet_emulator.url.startswith("http://127.0.0.1:")
    assert fleet_emulator.config == {
        "fleet:endpoint": fleet_emulator.url,
        "fleet:username": "elastic",
        "fleet:password": "changeme",
    }
    assert fleet_emulator.env == {
        "KIBANA_ENDPOINT": fleet_emulator.url,
        "KIBANA_USERNAME": "elastic",
        "KIBANA_PASSWORD": "changeme",
    }
    status = requests.get(
        f"{fleet_emulator.url}/api/status", auth=("elastic", "changeme"), timeout=5
    )
    assert status.json()["version"]["number"] == DEFAULT_VERSION == fleet_emulator.kibana_version


def test_a_new_policy_gets_its_default_key_and_keys_filter(fleet_emulator: FleetEmulator) -> None:
    fleet_emulator.add_policy("edge")
    fleet_emulator.add_policy("ops-policy", space_id=None)
    revoked = fleet_emulator.admin.create_key("edge", "old")
    fleet_emulator.admin.revoke(revoked["id"])
    [default] = fleet_emulator.keys("edge")
    assert default["name"].startswith("Default (") and default["active"] is True
    assert {"id", "name", "active", "api_key", "policy_id", "created_at"} <= default.keys()
    assert len(fleet_emulator.keys("edge", include_inactive=True)) == 2
    assert {k["policy_id"] for k in fleet_emulator.keys()} == {POLICY, "edge", "ops-policy"}


def test_keys_in_a_space(fleet_emulator_factory: EmulatorFactory) -> None:
    emulator = fleet_emulator_factory(spaces=["ops"])
    emulator.add_policy("in-ops", space_id="ops")
    assert [k["policy_id"] for k in emulator.keys(space_id="ops")] == ["in-ops"]
    assert "in-ops" not in {k["policy_id"] for k in emulator.keys()}


def test_each_test_starts_from_the_reset_state_first(fleet_emulator: FleetEmulator) -> None:
    fleet_emulator.add_policy("left-over")
    assert len(fleet_emulator.keys()) == 2


def test_each_test_starts_from_the_reset_state_second(fleet_emulator: FleetEmulator) -> None:
    assert [k["policy_id"] for k in fleet_emulator.keys()] == [POLICY]


def test_the_factory_starts_one_per_set_of_options(
    fleet_emulator: FleetEmulator, fleet_emulator_factory: EmulatorFactory
) -> None:
    old = fleet_emulator_factory(kibana_version="8.19.0", policies=[])
    assert old.kibana_version == "8.19.0" and old.url != fleet_emulator.url
    assert old.keys() == []
    assert fleet_emulator_factory(kibana_version="8.19.0", policies=[]) is old
    assert fleet_emulator_factory() is fleet_emulator


def test_options_come_from_the_ini_file_and_the_command_line(tmp_path: Path) -> None:
    (tmp_path / "pytest.ini").write_text(
        "[pytest]\nfleet_kibana_version = 8.19.0\nfleet_users =\n    ops:ops-pass:superuser\n"
        "fleet_policies =\n    a\n    b\n"
    )
    (tmp_path / "test_user.py").write_text(
        textwrap.dedent(
            """
            from pathlib import Path

            def test_options(fleet_emulator):
                Path("url.txt").write_text(fleet_emulator.url)
                assert fleet_emulator.config["fleet:username"] == "ops"
                assert sorted({k["policy_id"] for k in fleet_emulator.keys()}) == ["a", "b"]
                assert fleet_emulator.kibana_version == __import__("os").environ["EXPECTED"]
            """
        )
    )

    def run(*args: str, expected: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
            cwd=tmp_path,
            env={"EXPECTED": expected, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    from_ini = run(expected="8.19.0")
    assert from_ini.returncode == 0, from_ini.stdout + from_ini.stderr
    from_flag = run("--fleet-kibana-version", "9.0.0", expected="9.0.0")
    assert from_flag.returncode == 0, from_flag.stdout + from_flag.stderr
    # Nothing is left running once the session is over.
    port = int((tmp_path / "url.txt").read_text().rsplit(":", 1)[1])
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0
