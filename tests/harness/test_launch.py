"""The CLI's rules for starting the dynamic-provider host, and the shipped projects under them."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2

from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from fleet_provider.harness.host import ProviderHost
from fleet_provider.harness.launch import (
    Launch,
    LaunchError,
    ProjectError,
    engine_environment,
    load_project,
    plugin_launch,
    program_python,
)
from fleet_provider.harness.wire import from_struct, to_struct

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".venv"
VENV_PYTHON = VENV / "bin" / "python"
PROJECTS = [ROOT, *sorted(p.parent for p in (ROOT / "examples").glob("*/Pulumi.yaml"))]
LAUNCHER_NAME = "pulumi-resource-pulumi-python"

needs_venv = pytest.mark.skipif(
    not VENV_PYTHON.is_file(), reason=f"{VENV} does not exist (make venv creates it)"
)


def project_id(project: Path) -> str:
    """A test id: the project's directory relative to the repository."""
    return str(project.relative_to(ROOT)) if project != ROOT else "root"


def clean_environ() -> dict[str, str]:
    """This process's environment without anything that picks an interpreter or a module path.

    What is left is what a developer's shell has before activating anything, so an interpreter
    that imports ``fleet_provider`` here has it installed.
    """
    dropped = {"PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PULUMI_PYTHON_CMD", "PWD"}
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in dropped and not k.startswith(("PULUMI_RUNTIME_", "PYTEST_"))
    }
    venv_bin = os.path.normpath(VENV / "bin")
    path = [p for p in env.get("PATH", "").split(os.pathsep) if os.path.normpath(p) != venv_bin]
    env["PATH"] = os.pathsep.join(path)
    return env


def write_executable(path: Path, text: str) -> Path:
    """Write an executable script, creating its directory."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


def recorder(path: Path) -> Path:
    """A stand-in interpreter that prints its argv, working directory and environment as JSON."""
    return write_executable(
        path,
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        "print(json.dumps({'argv': sys.argv, 'cwd': os.getcwd(), 'env': dict(os.environ)}))\n",
    )


def make_project(directory: Path, options: str = "", main: str | None = None) -> Path:
    """A project directory with a Pulumi.yaml, ``options`` being the runtime.options lines."""
    lines = ["name: launch-test", "runtime:", "  name: python", "  options:", "    toolchain: pip"]
    lines += [f"    {line}" for line in options.splitlines() if line]
    if main is not None:
        lines.append(f"main: {main}")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Pulumi.yaml").write_text("\n".join(lines) + "\n")
    program = directory / (main or ".")
    program.mkdir(parents=True, exist_ok=True)
    (program / "__main__.py").write_text("")
    return directory


def missing_message(venv: str, pwd: str, problem: str) -> str:
    """The launcher's stderr when ``$venv/bin/python`` is not there."""
    return (
        f'The \'virtualenv\' option in Pulumi.yaml is set to "{venv}", but "{venv}" {problem}\n'
        "Run the following commands to create the virtual environment and install dependencies into it:\n"
        f"    1. python3 -m venv {venv}\n"
        f"    2. {venv}/bin/python -m pip install --upgrade pip setuptools wheel\n"
        f"    3. {venv}/bin/python -m pip install -r {pwd}/requirements.txt\n"
        "For more information see: https://www.pulumi.com/docs/intro/languages/python/#virtual-environments\n"
    )


# ------------------------------------------------------------------------------------------------
# The shipped projects, with the environment make demo (and the README) sets up


@dataclass(frozen=True)
class DemoRun:
    """What ``scripts/demo.sh`` ran the CLI with: each call's argv, working directory, env."""

    calls: list[dict[str, Any]]
    output: str

    def env(self, index: int = 0) -> dict[str, str]:
        """The environment of one CLI call (0: stack init, 1: up, ...)."""
        env: dict[str, str] = self.calls[index]["env"]
        return env


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory: pytest.TempPathFactory) -> DemoRun:
    """Run ``scripts/demo.sh`` with a stand-in ``pulumi`` that records how it was called."""
    if not VENV_PYTHON.is_file():
        pytest.skip(f"{VENV} does not exist (make venv creates it)")
    tmp = tmp_path_factory.mktemp("demo")
    record = tmp / "calls.jsonl"
    write_executable(
        tmp / "bin" / "pulumi",
        f"#!{sys.executable}\n"
        "import json, os, sys\n"
        f"with open({str(record)!r}, 'a') as f:\n"
        "    call = {'argv': sys.argv[1:], 'cwd': os.getcwd(), 'env': dict(os.environ)}\n"
        "    f.write(json.dumps(call) + '\\n')\n",
    )
    env = clean_environ()
    env["PATH"] = f"{tmp / 'bin'}{os.pathsep}{env['PATH']}"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "demo.sh")],
        cwd=tmp,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    calls = [json.loads(line) for line in record.read_text().splitlines()]
    return DemoRun(calls, result.stdout + result.stderr)


@pytest.fixture(scope="module")
def activated_env() -> dict[str, str]:
    """The environment after ``. .venv/bin/activate``, as the README says to run the CLI."""
    if not VENV_PYTHON.is_file():
        pytest.skip(f"{VENV} does not exist (make venv creates it)")
    result = subprocess.run(
        [
            "bash",
            "-c",
            '. .venv/bin/activate && "$0" -c "import json, os; print(json.dumps(dict(os.environ)))"',
            sys.executable,
        ],
        cwd=ROOT,
        env=clean_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    env: dict[str, str] = json.loads(result.stdout)
    return env


# Run in the host's working directory with the host's environment, this imports fleet_provider
# with the working directory taken off sys.path, and says where the module and its distribution
# come from.
WHERE_FROM = """
import importlib.metadata, json, os, sys
sys.path[:] = [p for p in sys.path if p not in ("", ".", os.getcwd())]
import fleet_provider
dist = importlib.metadata.distribution("fleet-provider")
print(json.dumps({"file": fleet_provider.__file__, "prefix": sys.prefix,
                  "dist": str(dist.locate_file(""))}))
"""


def assert_imports_installed_fleet_provider(python: str, cwd: Path, env: dict[str, str]) -> None:
    """``python`` in ``cwd`` with ``env`` imports ``fleet_provider`` from its own installation.

    The program's directory holds no ``fleet_provider`` of its own and nothing puts the checkout
    on ``PYTHONPATH``, so the import cannot come from ``sys.path[0]`` (the working directory,
    as for ``python -m pulumi.dynamic``). With the working directory taken off ``sys.path`` the
    import still works, the ``fleet-provider`` distribution is installed in that interpreter's
    prefix, and the module is the checkout's (an editable install) or lies in that prefix.
    """
    assert Path(python).is_file(), python
    assert not (cwd / "fleet_provider").exists() and not (cwd / "fleet_provider.py").exists()
    assert "PYTHONPATH" not in env
    plain = subprocess.run(
        [python, "-c", "import fleet_provider"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert plain.returncode == 0, plain.stderr
    where = subprocess.run(
        [python, "-c", WHERE_FROM],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert where.returncode == 0, where.stderr
    found = json.loads(where.stdout)
    prefix = Path(found["prefix"]).resolve()
    module = Path(found["file"]).resolve()
    assert not module.is_relative_to(cwd.resolve())
    assert Path(found["dist"]).resolve().is_relative_to(prefix)
    assert module == (ROOT / "fleet_provider" / "__init__.py").resolve() or module.is_relative_to(
        prefix
    )


def test_demo_runs_the_cli_at_the_root_with_venv_active(demo_run: DemoRun) -> None:
    commands = [call["argv"][:2] for call in demo_run.calls]
    assert commands == [
        ["stack", "init"],
        ["up", "--yes"],
        ["stack", "output"],
        ["destroy", "--yes"],
        ["stack", "rm"],
    ]
    for index, call in enumerate(demo_run.calls):
        assert os.path.samefile(str(call["cwd"]), ROOT)
        env = demo_run.env(index)
        assert env["PULUMI_PYTHON_CMD"] == str(VENV_PYTHON)
        assert env["PATH"].split(os.pathsep)[0] == str(VENV / "bin")
        assert env["KIBANA_ENDPOINT"].startswith("http://127.0.0.1:")
    assert "Kibana Fleet emulator at http://127.0.0.1:" in demo_run.output


@needs_venv
@pytest.mark.parametrize("project", PROJECTS, ids=project_id)
def test_host_of_a_shipped_project_imports_fleet_provider_under_make_demo(
    project: Path, demo_run: DemoRun
) -> None:
    launch = plugin_launch(project, demo_run.env(1))
    assert os.path.normpath(launch.python) == str(VENV_PYTHON)
    assert_imports_installed_fleet_provider(launch.python, launch.cwd, launch.env)


@needs_venv
@pytest.mark.parametrize("project", PROJECTS, ids=project_id)
def test_host_of_a_shipped_project_imports_fleet_provider_once_venv_is_activated(
    project: Path, activated_env: dict[str, str]
) -> None:
    launch = plugin_launch(project, activated_env)
    assert Path(os.path.normpath(launch.python)).parent == VENV / "bin"
    assert_imports_installed_fleet_provider(launch.python, launch.cwd, launch.env)


@needs_venv
@pytest.mark.parametrize("project", PROJECTS, ids=project_id)
def test_program_and_host_of_a_shipped_project_use_the_same_interpreter(
    project: Path, demo_run: DemoRun, activated_env: dict[str, str]
) -> None:
    for environ in (demo_run.env(1), activated_env):
        launch = plugin_launch(project, environ)
        program = program_python(project, environ)
        assert os.path.normpath(program) == os.path.normpath(launch.python)
        assert_imports_installed_fleet_provider(program, launch.cwd, clean_environ())


@needs_venv
@pytest.mark.parametrize("project", PROJECTS[1:], ids=project_id)
def test_examples_name_the_venv_themselves(project: Path) -> None:
    # Run in the example's directory without activating anything, as the README allows.
    launch = plugin_launch(project, clean_environ())
    assert os.path.normpath(launch.python) == str(VENV_PYTHON)
    assert launch.env["PATH"].startswith(f"{project}/../../.venv/bin:")
    assert_imports_installed_fleet_provider(launch.python, launch.cwd, launch.env)


def test_root_project_runs_the_quickstart_without_a_virtualenv_option() -> None:
    project = load_project(ROOT)
    assert project.main_dir == ROOT / "examples" / "quickstart"
    assert project.options == {"toolchain": "pip"}


# ------------------------------------------------------------------------------------------------
# The launch rules, one at a time

BASE_PATH = "/usr/bin:/bin"


def base_environ(tmp_path: Path) -> dict[str, str]:
    """A controlled CLI environment: the CLI was run in ``tmp_path`` (its PWD).

    PYTHONCOERCECLOCALE=0 keeps the stand-in interpreters from adding LC_CTYPE to the
    environment they report (PEP 538), so what they see is what they were given.
    """
    return {"PATH": BASE_PATH, "PWD": str(tmp_path), "PYTHONCOERCECLOCALE": "0"}


def test_relative_virtualenv_with_main_resolves_against_main(tmp_path: Path) -> None:
    # The root Pulumi.yaml as it was: main: examples/quickstart, virtualenv: .venv, with .venv at
    # the root. The language host finds it; the launcher looks under examples/quickstart.
    project = make_project(tmp_path / "repo", "virtualenv: .venv", main="examples/quickstart")
    recorder(project / ".venv" / "bin" / "python")
    environ = base_environ(tmp_path)
    assert program_python(project, environ) == str(project / ".venv" / "bin" / "python")
    with pytest.raises(LaunchError) as raised:
        plugin_launch(project, environ)
    pwd = os.path.realpath(project / "examples" / "quickstart")
    assert raised.value.stderr == missing_message(f"{pwd}/.venv", pwd, "doesn't exist.")
    assert raised.value.returncode == 1


def test_virtualenv_that_is_not_one(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "virtualenv: not-a-venv")
    (project / "not-a-venv" / "bin").mkdir(parents=True)
    with pytest.raises(LaunchError) as raised:
        plugin_launch(project, base_environ(tmp_path))
    venv = f"{os.path.realpath(project)}/not-a-venv"
    assert raised.value.stderr == missing_message(
        venv, os.path.realpath(project), "doesn't appear to be a virtual environment."
    )
    assert raised.value.returncode == 1


def test_virtualenv_runs_its_python_with_its_bin_first_and_no_pythonhome(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "virtualenv: venv")
    recorder(project / "venv" / "bin" / "python")
    environ = {**base_environ(tmp_path), "PYTHONHOME": "/somewhere", "PULUMI_PYTHON_CMD": "nope"}
    launch = plugin_launch(project, environ, engine_address="127.0.0.1:4242")
    pwd = os.path.realpath(project)
    assert launch.argv == [f"{pwd}/venv/bin/python", "-u", "-m", "pulumi.dynamic", "127.0.0.1:4242"]
    assert launch.cwd == project
    assert launch.env["PATH"] == f"{pwd}/venv/bin:{BASE_PATH}"
    assert "PYTHONHOME" not in launch.env
    assert launch.env["PWD"] == pwd
    assert launch.env["PYTHONCOERCECLOCALE"] == "0"
    assert launch.env["PULUMI_RUNTIME_VIRTUALENV"] == f"{pwd}/venv"
    assert launch.engine_env["PATH"] == BASE_PATH


@pytest.mark.parametrize(
    ("option", "venv"),
    [
        ("venv/", "{pwd}/venv"),
        ("venv//", "{pwd}/venv/"),
        ("{abs}", "{abs}"),
        ("{abs}/", "{abs}"),
        ("./venv", "{pwd}/./venv"),
        ("../p/venv", "{pwd}/../p/venv"),
    ],
)
def test_virtualenv_trailing_slash_and_absolute_paths(
    tmp_path: Path, option: str, venv: str
) -> None:
    project = make_project(tmp_path / "p")
    recorder(project / "venv" / "bin" / "python")
    absolute = str(project / "venv")
    (project / "Pulumi.yaml").write_text(
        f"name: t\nruntime:\n  name: python\n  options:\n    virtualenv: {option.format(abs=absolute)}\n"
    )
    launch = plugin_launch(project, base_environ(tmp_path))
    expected = venv.format(pwd=os.path.realpath(project), abs=absolute)
    assert launch.python == f"{expected}/bin/python"
    assert launch.env["PATH"] == f"{expected}/bin:{BASE_PATH}"


def test_no_virtualenv_runs_python3_from_path(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    python3 = recorder(tmp_path / "bin" / "python3")
    recorder(tmp_path / "later" / "python3")
    environ = {**base_environ(tmp_path), "PATH": f"{tmp_path}/bin:{tmp_path}/later:{BASE_PATH}"}
    launch = plugin_launch(project, environ)
    assert launch.argv == [str(python3), "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"]
    pwd = os.path.realpath(project)
    assert launch.env == {**engine_environment(load_project(project), environ), "PWD": pwd}
    # The language host tries python3, then python, with the same PATH.
    assert program_python(project, environ) == str(python3)


def test_no_python3_on_path(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    with pytest.raises(LaunchError) as raised:
        plugin_launch(project, {**base_environ(tmp_path), "PATH": str(tmp_path / "empty")})
    assert raised.value.stderr == "python3: not found\n"
    assert raised.value.returncode == 127


@pytest.mark.parametrize("form", ["absolute", "relative", "name"])
def test_pulumi_python_cmd_without_virtualenv(tmp_path: Path, form: str) -> None:
    project = make_project(tmp_path / "p")
    chosen = recorder(project / "tools" / "mypython")
    recorder(tmp_path / "bin" / "python3")
    command = {"absolute": str(chosen), "relative": "tools/mypython", "name": "mypython"}[form]
    environ = {
        **base_environ(tmp_path),
        "PATH": f"{tmp_path}/bin:{project}/tools:{BASE_PATH}",
        "PULUMI_PYTHON_CMD": command,
    }
    launch = plugin_launch(project, environ)
    assert os.path.normpath(launch.python) == str(chosen)
    assert launch.env["PULUMI_PYTHON_CMD"] == command
    assert os.path.normpath(program_python(project, environ)) == str(chosen)


def test_empty_pulumi_python_cmd_means_python3(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    python3 = recorder(tmp_path / "bin" / "python3")
    environ = {**base_environ(tmp_path), "PATH": f"{tmp_path}/bin", "PULUMI_PYTHON_CMD": ""}
    assert plugin_launch(project, environ).python == str(python3)


def test_pulumi_python_cmd_is_ignored_when_a_virtualenv_is_set(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "virtualenv: venv")
    recorder(project / "venv" / "bin" / "python")
    other = recorder(tmp_path / "other")
    launch = plugin_launch(project, {**base_environ(tmp_path), "PULUMI_PYTHON_CMD": str(other)})
    assert launch.python == f"{os.path.realpath(project)}/venv/bin/python"


def test_toolchain_uv_defaults_to_dot_venv_of_the_main_directory(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", main="app")
    (project / "Pulumi.yaml").write_text(
        "name: t\nruntime:\n  name: python\n  options:\n    toolchain: uv\nmain: app\n"
    )
    environ = base_environ(tmp_path)
    main = os.path.realpath(project / "app")
    with pytest.raises(LaunchError) as raised:
        plugin_launch(project, environ)
    assert raised.value.stderr == missing_message(f"{main}/.venv", main, "doesn't exist.")
    recorder(project / "app" / ".venv" / "bin" / "python")
    assert plugin_launch(project, environ).python == f"{main}/.venv/bin/python"


def test_toolchain_poetry_asks_poetry(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    (project / "Pulumi.yaml").write_text(
        "name: t\nruntime:\n  name: python\n  options:\n    toolchain: poetry\n"
    )
    venv = tmp_path / "poetry-venv"
    recorder(venv / "bin" / "python")
    write_executable(tmp_path / "bin" / "poetry", f"#!/bin/sh\necho '{venv}'\n")
    environ = {**base_environ(tmp_path), "PATH": f"{tmp_path}/bin:{BASE_PATH}"}
    assert plugin_launch(project, environ).python == f"{venv}/bin/python"


def test_engine_environment(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "virtualenv: ../v\nflag: yes\nstrict: true\ncount: 3")
    environ = {
        "PATH": BASE_PATH,
        "PULUMI_PROJECT": "stale",
        "PULUMI_CONFIG": '{"a": 1}',
        "PULUMI_RUNTIME_TYPECHECKER": "mypy",
    }
    assert engine_environment(load_project(project), environ) == {
        "PATH": BASE_PATH,
        "PULUMI_RUNTIME_TOOLCHAIN": "pip",
        "PULUMI_RUNTIME_VIRTUALENV": "../v",
        "PULUMI_RUNTIME_FLAG": "yes",
        "PULUMI_RUNTIME_STRICT": "true",
        "PULUMI_RUNTIME_COUNT": "3",
        "PULUMI_RUNTIME_TYPECHECKER": "mypy",
        "PULUMI_PROJECT": "launch-test",
        "PULUMI_CONFIG": "{}",
    }


def test_inherited_runtime_virtualenv_applies_when_pulumi_yaml_has_none(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    recorder(tmp_path / "v" / "bin" / "python")
    environ = {**base_environ(tmp_path), "PULUMI_RUNTIME_VIRTUALENV": str(tmp_path / "v")}
    assert plugin_launch(project, environ).python == f"{tmp_path}/v/bin/python"


def test_main_naming_a_file_runs_in_its_directory(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", "virtualenv: venv")
    (project / "src").mkdir()
    (project / "src" / "prog.py").write_text("")
    recorder(project / "src" / "venv" / "bin" / "python")
    with (project / "Pulumi.yaml").open("a") as f:
        f.write("main: src/prog.py\n")
    launch = plugin_launch(project, base_environ(tmp_path))
    assert launch.cwd == project / "src"
    assert launch.python == f"{os.path.realpath(project / 'src')}/venv/bin/python"


def test_main_that_does_not_exist(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p")
    with (project / "Pulumi.yaml").open("a") as f:
        f.write("main: nowhere\n")
    with pytest.raises(ProjectError, match="project 'main' could not be read"):
        plugin_launch(project, base_environ(tmp_path))


def test_pwd_kept_when_it_names_the_main_directory(tmp_path: Path) -> None:
    real = make_project(tmp_path / "real", "virtualenv: venv")
    recorder(real / "venv" / "bin" / "python")
    (tmp_path / "link").symlink_to(real)
    link = tmp_path / "link"
    logical = plugin_launch(link, {**base_environ(tmp_path), "PWD": str(link)})
    assert logical.python == f"{link}/venv/bin/python"
    physical = plugin_launch(link, base_environ(tmp_path))
    assert physical.python == f"{os.path.realpath(real)}/venv/bin/python"


# ------------------------------------------------------------------------------------------------
# The same rules against the real launcher script, when a Pulumi CLI installation provides one

Scenario = Callable[[Path], tuple[Path, dict[str, str]]]


def _relative_venv(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p", "virtualenv: venv/")
    recorder(project / "venv" / "bin" / "python")
    return project, {**base_environ(tmp), "PYTHONHOME": "/x"}


def _broken_root(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "repo", "virtualenv: .venv", main="examples/quickstart")
    recorder(project / ".venv" / "bin" / "python")
    return project, base_environ(tmp)


def _not_a_venv(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p", "virtualenv: v")
    (project / "v").mkdir()
    return project, base_environ(tmp)


def _absolute_venv(tmp: Path) -> tuple[Path, dict[str, str]]:
    recorder(tmp / "abs" / "bin" / "python")
    return make_project(tmp / "p", f"virtualenv: {tmp}/abs/"), base_environ(tmp)


def _uv(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p", main="app")
    (project / "Pulumi.yaml").write_text(
        "name: t\nruntime:\n  name: python\n  options:\n    toolchain: uv\nmain: app\n"
    )
    recorder(project / "app" / ".venv" / "bin" / "python")
    return project, base_environ(tmp)


def _python3_on_path(tmp: Path) -> tuple[Path, dict[str, str]]:
    recorder(tmp / "bin" / "python3")
    return make_project(tmp / "p"), {**base_environ(tmp), "PATH": f"{tmp}/bin:{BASE_PATH}"}


def _python_cmd(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p")
    recorder(project / "tools" / "py")
    return project, {**base_environ(tmp), "PULUMI_PYTHON_CMD": "tools/py"}


def _logical_pwd(tmp: Path) -> tuple[Path, dict[str, str]]:
    real = make_project(tmp / "real", "virtualenv: venv")
    recorder(real / "venv" / "bin" / "python")
    (tmp / "link").symlink_to(real)
    return tmp / "link", {**base_environ(tmp), "PWD": str(tmp / "link")}


def _double_slash(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p", "virtualenv: venv//")
    recorder(project / "venv" / "bin" / "python")
    return project, base_environ(tmp)


def _empty_virtualenv_uv(tmp: Path) -> tuple[Path, dict[str, str]]:
    # An empty PULUMI_RUNTIME_VIRTUALENV in the CLI's environment is exported, so the host sees
    # the .venv path the launcher computed.
    project = make_project(tmp / "p")
    (project / "Pulumi.yaml").write_text(
        "name: t\nruntime:\n  name: python\n  options:\n    toolchain: uv\n"
    )
    recorder(project / ".venv" / "bin" / "python")
    return project, {**base_environ(tmp), "PULUMI_RUNTIME_VIRTUALENV": ""}


def _poetry(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p")
    (project / "Pulumi.yaml").write_text(
        "name: t\nruntime:\n  name: python\n  options:\n    toolchain: poetry\n"
    )
    recorder(tmp / "pv" / "bin" / "python")
    write_executable(tmp / "bin" / "poetry", f"#!/bin/sh\necho '{tmp}/pv/'\n")
    return project, {**base_environ(tmp), "PATH": f"{tmp}/bin:{BASE_PATH}"}


def _python3_in_cwd_via_empty_path_entry(tmp: Path) -> tuple[Path, dict[str, str]]:
    project = make_project(tmp / "p")
    recorder(project / "python3")
    return project, {**base_environ(tmp), "PATH": f"{tmp}/none::{BASE_PATH}/"}


def _no_python3(tmp: Path) -> tuple[Path, dict[str, str]]:
    return make_project(tmp / "p"), {**base_environ(tmp), "PATH": f"{tmp}/none"}


SCENARIOS: dict[str, Scenario] = {
    "double-slash": _double_slash,
    "empty-virtualenv-uv": _empty_virtualenv_uv,
    "poetry": _poetry,
    "empty-path-entry": _python3_in_cwd_via_empty_path_entry,
    "no-python3": _no_python3,
    "relative-venv": _relative_venv,
    "broken-root": _broken_root,
    "not-a-venv": _not_a_venv,
    "absolute-venv": _absolute_venv,
    "uv": _uv,
    "python3-on-path": _python3_on_path,
    "python-cmd": _python_cmd,
    "logical-pwd": _logical_pwd,
}


def find_launcher() -> str | None:
    """The launcher the CLI would run: one on PATH first, else the one next to ``pulumi``."""
    found = shutil.which(LAUNCHER_NAME)
    if found is None and (pulumi := shutil.which("pulumi")) is not None:
        beside = Path(pulumi).resolve().parent / LAUNCHER_NAME
        found = str(beside) if beside.is_file() else None
    return found


@pytest.fixture(scope="module")
def launcher() -> Iterator[str]:
    """The real launcher script, or skip."""
    found = find_launcher()
    if found is None:
        pytest.skip(f"no {LAUNCHER_NAME} on PATH or next to a pulumi CLI")
    yield found


@pytest.mark.parametrize("name", SCENARIOS)
def test_matches_the_real_launcher(name: str, tmp_path: Path, launcher: str) -> None:
    project_dir, environ = SCENARIOS[name](tmp_path)
    project = load_project(project_dir)
    real = subprocess.run(
        [launcher, "127.0.0.1:0"],
        cwd=project.main_dir,
        env=engine_environment(project, environ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    try:
        launch: Launch | None = plugin_launch(project_dir, environ)
    except LaunchError as error:
        launch = None
        assert real.returncode == error.returncode
        if error.returncode == 1:
            assert real.stderr == error.stderr
        else:
            # The shell's "not found" starts with the script's name and line number.
            assert real.stderr.endswith(f": {error.stderr}")
    if launch is not None:
        assert real.returncode == 0, real.stderr
        seen = json.loads(real.stdout)
        assert seen["argv"] == launch.argv
        assert os.path.samefile(seen["cwd"], launch.cwd)
        # A bash acting as sh also exports SHLVL and _.
        env = {k: v for k, v in seen["env"].items() if k not in ("SHLVL", "_")}
        assert env == launch.env


# ------------------------------------------------------------------------------------------------
# ProviderHost.from_project


@needs_venv
def test_from_project_starts_the_quickstart_host(emulator: EmulatorServer) -> None:
    with ProviderHost.from_project(
        ROOT / "examples" / "quickstart", exclude_env=["PYTHONPATH", "PULUMI_*", "KIBANA_*"]
    ) as host:
        assert host.launch is not None
        assert os.path.normpath(host.launch.python) == str(VENV_PYTHON)
        assert host.launch.cwd == ROOT / "examples" / "quickstart"
        assert host.project == "fleet-provider-quickstart"
        info = host.call("GetPluginInfo", empty_pb2.Empty())
        assert info.version
        # The host unpickles the provider, so it imports fleet_provider from its interpreter.
        from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider

        host.configure(
            {
                "fleet:endpoint": emulator.url,
                "fleet:username": "elastic",
                "fleet:password": "changeme",
            },
            secret_keys=["fleet:password"],
        )
        kind = "pulumi-python:dynamic/fleet:EnrollmentApiKey"
        urn = f"urn:pulumi:demo::fleet-provider-quickstart::{kind}::linux-hosts"
        news = {
            "policy_id": "fleet-server-policy",
            "resource_name": "linux-hosts",
            "__provider": str(serialize_provider(EnrollmentApiKeyProvider())),
        }
        checked = host.call(
            "Check",
            provider_pb2.CheckRequest(
                urn=urn,
                name="linux-hosts",
                type=kind,
                olds=struct_pb2.Struct(),
                news=to_struct(news),
                randomSeed=os.urandom(32),
            ),
        )
        assert not checked.failures
        created = host.call(
            "Create",
            provider_pb2.CreateRequest(
                urn=urn, name="linux-hosts", type=kind, properties=checked.inputs
            ),
        )
        key = KibanaAdmin(emulator.url).get_key(created.id)
        assert key is not None and key["active"] is True
        assert from_struct(created.properties)["policy_id"] == "fleet-server-policy"
        host.call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=created.id, urn=urn, name="linux-hosts", type=kind, properties=created.properties
            ),
        )
        revoked = KibanaAdmin(emulator.url).get_key(created.id)
        assert revoked is not None and revoked["active"] is False


@needs_venv
def test_from_project_of_the_root_with_make_demo_environment(demo_run: DemoRun) -> None:
    with ProviderHost.from_project(ROOT, env=demo_run.env(1), inherit_env=False) as host:
        assert host.launch is not None
        assert host.launch.python == str(VENV_PYTHON)
        assert host.call("GetPluginInfo", empty_pb2.Empty()).version


def test_from_project_of_the_broken_root_raises_the_launcher_message(tmp_path: Path) -> None:
    project = make_project(tmp_path / "repo", "virtualenv: .venv", main="examples/quickstart")
    recorder(project / ".venv" / "bin" / "python")
    with pytest.raises(LaunchError) as raised:
        ProviderHost.from_project(project, env={"PWD": str(tmp_path)})
    pwd = os.path.realpath(project / "examples" / "quickstart")
    assert raised.value.stderr == missing_message(f"{pwd}/.venv", pwd, "doesn't exist.")
    assert str(raised.value) == raised.value.stderr.rstrip("\n")
