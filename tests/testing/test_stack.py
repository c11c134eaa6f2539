"""emulator_stack: the real engine through the Automation API; needs the pulumi CLI."""

from __future__ import annotations

import shutil

import pulumi
import pytest

from fleet_provider import EnrollmentApiKey
from fleet_provider.testing import FleetEmulator, emulator_stack

needs_cli = pytest.mark.skipif(
    shutil.which("pulumi") is None, reason="emulator_stack needs the pulumi CLI, not on PATH"
)


def program() -> None:
    key = EnrollmentApiKey("ci", policy_id="fleet-server-policy")
    pulumi.export("key_id", key.id)
    pulumi.export("token", key.api_key)


@needs_cli
def test_up_and_destroy_an_inline_program(fleet_emulator: FleetEmulator) -> None:
    with emulator_stack(program, emulator=fleet_emulator) as stack:
        result = stack.up()
        key_id = result.outputs["key_id"].value
        assert result.outputs["token"].secret
        [item] = [k for k in fleet_emulator.keys() if k["id"] == key_id]
        assert item["api_key"] == result.outputs["token"].value
        stack.destroy()
    assert key_id not in {k["id"] for k in fleet_emulator.keys()}


def test_without_the_cli_it_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    stack = emulator_stack(program, emulator=None)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="needs the pulumi CLI"), stack:
        pass
