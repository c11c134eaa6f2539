"""Every example's program, unit-tested as a user would: under FleetMocks, against the emulator.

New examples are picked up as they appear (any ``examples/<name>`` with a ``Pulumi.yaml``);
each runs with its first stack file's config, the agent policies that config names created.
"""

from __future__ import annotations

import json
import os
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml
from pulumi.runtime.mocks import MockMonitor

from fleet_provider.model import RESOURCE_TYPE
from fleet_provider.testing import FleetEmulator, FleetMocks

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = sorted(p.name for p in EXAMPLES.iterdir() if (p / "Pulumi.yaml").is_file())


def stack_config(example: Path) -> dict[str, str]:
    """The first stack file's config, as the engine hands it to a program: strings, JSON."""
    files = sorted(example.glob("Pulumi.*.yaml"))
    if not files:
        return {}
    document = yaml.safe_load(files[0].read_text()) or {}
    return {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (document.get("config") or {}).items()
    }


def policies_named(value: Any) -> set[str]:
    """Every agent policy id a config value names (``policy_id`` / ``policyId`` fields)."""
    if isinstance(value, dict):
        found = {
            str(v)
            for k, v in value.items()
            if k in ("policy_id", "policyId") and isinstance(v, str)
        }
        return found.union(*(policies_named(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(policies_named(v) for v in value))
    return set()


def test_there_are_examples() -> None:
    assert "quickstart" in NAMES


@pytest.mark.parametrize("name", NAMES)
def test_example_under_fleet_mocks(
    name: str, fleet_emulator: FleetEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    example = EXAMPLES / name
    project = str(yaml.safe_load((example / "Pulumi.yaml").read_text())["name"])
    config = stack_config(example)
    for key, value in config.items():
        parsed = json.loads(value) if value[:1] in "[{" else value
        named = policies_named(parsed) | (
            {value} if key.endswith((":policyId", ":policy_id")) else set()
        )
        for policy in sorted(named - {k["policy_id"] for k in fleet_emulator.keys()}):
            fleet_emulator.add_policy(policy)
    before = {k["id"] for k in fleet_emulator.keys()}

    mocks = FleetMocks(fleet_emulator)
    monitor = MockMonitor(mocks)
    pulumi.runtime.set_mocks(mocks, project=project, stack="test", preview=False, monitor=monitor)
    pulumi.runtime.set_all_config(config)
    monkeypatch.chdir(example)

    @pulumi.runtime.test
    def run() -> None:
        runpy.run_path(os.fspath(example / "__main__.py"), run_name="__main__")

    run()
    keys = [
        r
        for r in monitor.get_registered_resources().values()
        if r.urn.split("::")[2].split("$")[-1] == RESOURCE_TYPE  # parent types come first
    ]
    assert keys, f"{name} declares no EnrollmentApiKey"
    active = {k["id"]: k for k in fleet_emulator.keys(include_inactive=True)}
    for key in keys:
        item = active[key.id]  # a real key in the emulator, created or adopted
        assert item["active"] is True
        assert key.state["name"] and key.state["full_name"] == item["name"]
        token = key.state["api_key"]
        assert isinstance(token, pulumi.Output)  # returned as a secret Output
    created = {key.id for key in keys} - before
    adopted = {key.id for key in keys} & before
    assert len(created) + len(adopted) == len(keys)
