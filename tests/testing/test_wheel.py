"""Done when: a user's project with only the built wheel and pytest tests its program.

The wheel is built from this checkout and installed into a fresh virtualenv (this interpreter,
no access to the checkout); the user's tests use the ``fleet_emulator`` fixture and FleetMocks,
and a mocks-only unit test of a look-up runs with networking refused.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import venv
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]

PROGRAM = '''
import pulumi
from fleet_provider import EnrollmentApiKey, get_enrollment_api_keys


class ConfigMap(pulumi.CustomResource):
    """Another provider's resource: a Kubernetes ConfigMap holding the token."""

    def __init__(self, name, data):
        super().__init__("kubernetes:core/v1:ConfigMap", name, {"data": data})


linux = EnrollmentApiKey("linux", policy_id="fleet-server-policy")
windows = EnrollmentApiKey("windows", policy_id="fleet-server-policy", name="windows-hosts")
agent_config = ConfigMap("agent", data={"token": linux.api_key})
'''

USER_TESTS = """
import asyncio

import pulumi
import pytest
from fleet_provider import EnrollmentApiKey
from fleet_provider.testing import FleetMocks, FleetMocksError


@pytest.fixture
def mocks(fleet_emulator):
    pulumi.runtime.set_mocks(FleetMocks(fleet_emulator), preview=False)


@pulumi.runtime.test
def test_two_real_keys_with_secret_tokens(mocks, fleet_emulator):
    import program

    async def check():
        ids = [await program.linux.id.future(), await program.windows.id.future()]
        assert await program.linux.api_key.is_secret()
        assert await program.windows.api_key.is_secret()
        tokens = [await program.linux.api_key.future(), await program.windows.api_key.future()]
        active = {k["id"]: k for k in fleet_emulator.keys("fleet-server-policy")}
        assert [active[i]["api_key"] for i in ids] == tokens
        assert all(active[i]["active"] for i in ids)
        assert await program.agent_config.id.future() == "agent_id"

    return pulumi.Output.from_input(asyncio.ensure_future(check()))


def test_a_bad_input_is_the_providers_one_line_error(mocks):
    @pulumi.runtime.test
    def run():
        return EnrollmentApiKey("bad", policy_id="fleet-server-policy", expiration="90x").id

    with pytest.raises(FleetMocksError) as caught:
        run()
    assert str(caught.value) == (
        "pulumi-python:dynamic/fleet:EnrollmentApiKey resource 'bad': property expiration "
        "value {90x} has a problem: expiration '90x' is not a duration: use a whole number "
        "followed by d, h, m or s, e.g. 30d, 24h, 90m, 60s"
    )
"""

OFFLINE_TEST = """
import asyncio
import socket

import pulumi


def refuse(*args, **kwargs):
    raise OSError("no network in a unit test")


socket.socket.connect = refuse
socket.create_connection = refuse


class Mocks(pulumi.runtime.Mocks):
    def call(self, args):
        assert args.token == "fleet:index:getEnrollmentApiKeys"
        assert args.args == {"policyId": "p1", "includeInactive": False}
        return {"items": [{"id": "k1", "name": "Default", "active": True, "api_key": "tok"}]}

    def new_resource(self, args):
        return args.name + "_id", args.inputs


pulumi.runtime.set_mocks(Mocks(), preview=False)


@pulumi.runtime.test
def test_a_look_up_under_mocks_needs_no_kibana():
    from fleet_provider import get_enrollment_api_keys

    [key] = get_enrollment_api_keys(policy_id="p1")
    assert key.name == "Default"

    async def check():
        assert await key.api_key.is_secret() and await key.api_key.future() == "tok"

    return pulumi.Output.from_input(asyncio.ensure_future(check()))
"""


def run(*args: str, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


def test_a_users_project_tests_its_program_with_the_wheel(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    run(
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "-q",
        "--no-deps",
        "-w",
        str(dist),
        str(ROOT),
        cwd=tmp_path,
    )
    [wheel] = dist.glob("fleet_provider-*.whl")
    env_dir = tmp_path / "venv"
    venv.create(env_dir, with_pip=True)
    python = str(env_dir / "bin" / "python")
    run(python, "-m", "pip", "install", "-q", str(wheel), "pytest", cwd=tmp_path)

    project = tmp_path / "user-project"
    project.mkdir()
    (project / "program.py").write_text(textwrap.dedent(PROGRAM))
    (project / "test_program.py").write_text(textwrap.dedent(USER_TESTS))
    (project / "test_offline.py").write_text(textwrap.dedent(OFFLINE_TEST))
    clean = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(tmp_path)}
    # Each file in a process of its own: set_mocks is process-wide, as in a user's CI.
    for test_file in ("test_program.py", "test_offline.py"):
        out = run(
            python,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            test_file,
            cwd=project,
            env=clean,
        )
        assert " passed" in out and "failed" not in out
    # The package under test is the installed wheel, not this checkout.
    where = run(
        python,
        "-c",
        "import fleet_provider; print(fleet_provider.__file__)",
        cwd=project,
        env=clean,
    )
    assert str(env_dir) in where and str(ROOT) not in where
