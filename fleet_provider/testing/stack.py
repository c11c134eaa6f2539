"""emulator_stack: a Pulumi Automation API stack pointed at an emulator, for integration tests.

The real engine runs the program (``preview``, ``up``, ``refresh``, ``destroy``), so it needs
the ``pulumi`` CLI on ``PATH``. Its state lives in a throwaway local file backend with a
throwaway passphrase, both removed when the ``with`` block ends (and so is the stack file
``Pulumi.<stack>.yaml`` a project directory did not have before).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from pulumi import automation as auto

from fleet_provider.testing.emulator import FleetEmulator

PROJECT_NAME = "fleet-test"
"""The project name an inline program's stack gets."""
PASSPHRASE = "fleet-provider-test-passphrase"  # noqa: S105 - guards throwaway test state only
"""The passphrase of the throwaway backend's secrets."""
SECRET_CONFIG = frozenset({"fleet:password", "fleet:apiKey", "fleet:bearerToken"})
"""Config keys set as secrets."""


@contextlib.contextmanager
def emulator_stack(
    program_or_dir: Callable[[], Any] | str | os.PathLike[str],
    *,
    emulator: FleetEmulator,
    stack: str = "test",
    config: Mapping[str, str] | None = None,
) -> Iterator[auto.Stack]:
    """An Automation API stack of an inline program or a project directory, on the emulator.

    The stack config is the emulator's ``fleet:*`` settings (credentials as secrets), then
    ``config``. The dynamic-provider host runs this interpreter (``PULUMI_PYTHON_CMD``), so it
    imports the fleet-provider installed here.
    """
    if shutil.which("pulumi") is None:
        raise RuntimeError("emulator_stack needs the pulumi CLI on PATH, and there is none")
    scratch = Path(tempfile.mkdtemp(prefix="fleet-stack-"))
    created: list[Path] = []
    try:
        state = scratch / "state"
        state.mkdir()
        env = {
            "PULUMI_BACKEND_URL": state.as_uri(),
            "PULUMI_CONFIG_PASSPHRASE": PASSPHRASE,
            "PULUMI_PYTHON_CMD": sys.executable,
            "PULUMI_SKIP_UPDATE_CHECK": "true",
        }
        if callable(program_or_dir):
            work_dir = scratch / "project"
            work_dir.mkdir()
            result = auto.create_or_select_stack(
                stack_name=stack,
                project_name=PROJECT_NAME,
                program=program_or_dir,
                opts=auto.LocalWorkspaceOptions(
                    work_dir=str(work_dir),
                    env_vars=env,
                    project_settings=auto.ProjectSettings(name=PROJECT_NAME, runtime="python"),
                ),
            )
        else:
            # A project directory's stack config goes to its Pulumi.<stack>.yaml
            # (LocalWorkspace.save_stack_settings); one that was not there is removed again.
            stack_file = Path(program_or_dir) / f"Pulumi.{stack}.yaml"
            if not stack_file.exists():
                created.append(stack_file)
            result = auto.create_or_select_stack(
                stack_name=stack,
                work_dir=os.fspath(program_or_dir),
                opts=auto.LocalWorkspaceOptions(env_vars=env),
            )
        values = {**emulator.config, **(config or {})}
        result.set_all_config(
            {
                key: auto.ConfigValue(value, secret=key in SECRET_CONFIG)
                for key, value in values.items()
            }
        )
        yield result
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        for path in created:
            path.unlink(missing_ok=True)
