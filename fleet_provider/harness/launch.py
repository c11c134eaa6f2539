"""How the Pulumi CLI starts the dynamic-provider host of a Python project, as data.

Every Python dynamic resource is served by the ``pulumi-python`` resource plugin. The engine runs
it by exec'ing the launcher script ``pulumi-resource-pulumi-python`` (shipped next to the
``pulumi`` binary; one on ``PATH`` is preferred), which picks an interpreter and runs
``<python> -u -m pulumi.dynamic <engine address>``. :func:`plugin_launch` computes what that
amounts to for a project directory and a CLI environment: the argv the launcher execs, the
working directory, and the environment the host gets, or the launcher's own error.
:func:`program_python` computes the interpreter the Python *language host* runs the program with,
which resolves a relative ``virtualenv`` differently (pulumi/pulumi#7061).

Sources, in pulumi/pulumi v3.259:

- ``pkg/engine/project.go`` (``getPwdMain``): the plugin's working directory;
- ``pkg/resource/plugin/plugin.go`` (``newPlugin``, ``execPlugin``): argv, ``cmd.Dir``, and the
  CLI's whole environment passed on;
- ``pkg/resource/plugin/provider_plugin.go`` (``NewProvider``): ``PULUMI_RUNTIME_<OPTION>``,
  ``PULUMI_PROJECT`` and ``PULUMI_CONFIG`` added to it;
- ``sdk/python/dist/pulumi-resource-pulumi-python``: the launcher script (unchanged since v3.145.0);
- ``sdk/python/toolchain/pip.go`` and ``sdk/python/toolchain/toolchain.go``: the language host's
  interpreter for the pip toolchain;
- ``sdk/go/common/workspace/paths.go`` and ``sdk/go/common/encoding/marshal.go``: which project
  file is read, and that it is decoded by gopkg.in/yaml.v3.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_ENGINE_ADDRESS = "127.0.0.1:0"
"""The engine address passed as the launcher's only argument (the host does not dial it)."""

PROJECT_FILES = ("Pulumi.json", "Pulumi.yaml", "Pulumi.yml")
"""Project file names, in the order the CLI tries them (sdk/go/common/workspace/paths.go,
``findProjectInDir``, over ``encoding.Exts`` in sdk/go/common/encoding/marshal.go)."""

VENV_DOCS = "https://www.pulumi.com/docs/intro/languages/python/#virtual-environments"

# POSIX, Shell Command Language 2.8.2 (Exit Status for Commands): 127 when a command is not found
# (dash, the usual /bin/sh, prints "<script>: <line>: <command>: not found" first).
COMMAND_NOT_FOUND = 127


class ProjectError(ValueError):
    """The project directory has no usable Pulumi project file (the CLI refuses it too)."""


class LaunchError(RuntimeError):
    """The launcher script would exit before starting the host.

    :attr:`stderr` is what it would print on stderr and :attr:`returncode` its exit status.
    """

    def __init__(self, stderr: str, returncode: int = 1) -> None:
        """Keep the launcher's stderr text and exit status."""
        super().__init__(stderr.rstrip("\n"))
        self.stderr = stderr
        self.returncode = returncode


@dataclass(frozen=True)
class PulumiProject:
    """The parts of a project file that decide how the Python processes start."""

    name: str
    root: Path
    """The directory holding the project file."""
    main_dir: Path
    """The program's directory: the working directory of the language host and the plugins."""
    options: dict[str, Any] = field(default_factory=dict)
    """``runtime.options`` as decoded from the project file."""


@dataclass(frozen=True)
class Launch:
    """How the engine starts the dynamic-provider host of one project."""

    argv: list[str]
    """What the launcher execs: ``[python, "-u", "-m", "pulumi.dynamic", engine_address]``, the
    interpreter spelt as the launcher passes it to ``execve``."""
    cwd: Path
    """The working directory: the program's main directory."""
    env: dict[str, str]
    """The host's environment, after the launcher's changes."""
    project: str
    """The project's name (``PULUMI_PROJECT``)."""
    engine_env: dict[str, str]
    """The environment the engine starts the launcher script with."""

    @property
    def python(self) -> str:
        """The interpreter the launcher execs, as an absolute path (``argv[0]`` may be relative
        to :attr:`cwd`, as the shell found it)."""
        return os.path.join(self.cwd, self.argv[0])


def _decode_yaml(text: str) -> Any:
    """Decode a project file as gopkg.in/yaml.v3 (YAML 1.2) does where it matters here.

    PyYAML follows YAML 1.1, where ``yes``/``no``/``on``/``off`` are booleans; yaml.v3, which the
    CLI decodes project files with (sdk/go/common/encoding/marshal.go), reads them as strings.
    """
    import yaml  # noqa: PLC0415 (a dev dependency: only the tests and benchmarks need it)

    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        """SafeLoader with YAML 1.2's booleans."""

    Loader.yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:bool",
        re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
        list("tTfF"),
    )
    return yaml.load(text, Loader=Loader)  # noqa: S506 (a SafeLoader)


def _go_format(value: Any) -> str:
    """``fmt.Sprintf("%v", value)`` for the scalars a YAML option can hold.

    provider_plugin.go formats every runtime option this way into ``PULUMI_RUNTIME_<OPTION>``.
    """
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def load_project(project_dir: str | os.PathLike[str]) -> PulumiProject:
    """Read the project file of ``project_dir`` and locate the program's directory.

    The directory is the one ``getPwdMain`` (pkg/engine/project.go) computes: the project root;
    ``main`` joined to the root and cleaned when it names a directory; its parent when it names a
    file. The path is cleaned lexically, as ``filepath.Clean`` does, without resolving symlinks.
    """
    root = Path(os.path.abspath(project_dir))
    for candidate in PROJECT_FILES:
        path = root / candidate
        if path.is_file():
            break
    else:
        raise ProjectError(f"no Pulumi project file ({', '.join(PROJECT_FILES)}) in {root}")
    manifest = _decode_yaml(path.read_text()) or {}
    if not isinstance(manifest, dict) or not isinstance(manifest.get("name"), str):
        raise ProjectError(f"{path}: the project has no name")
    runtime = manifest.get("runtime")
    # ProjectRuntimeInfo.UnmarshalYAML (sdk/go/common/workspace/project.go): either a bare name
    # or {name, options}.
    options = runtime.get("options") if isinstance(runtime, dict) else None
    main = manifest.get("main")
    pwd = str(root)
    if main:
        # pkg/engine/project.go, getPwdMain: a relative main is joined to the root and cleaned;
        # a directory becomes the working directory, a file's parent does.
        target = str(main)
        if not os.path.isabs(target):
            target = os.path.normpath(os.path.join(pwd, target))
        try:
            is_dir = stat.S_ISDIR(os.stat(target).st_mode)
        except OSError as exc:
            raise ProjectError(f"project 'main' could not be read: {exc}") from exc
        pwd = target if is_dir else os.path.dirname(target)
    return PulumiProject(
        name=manifest["name"],
        root=root,
        main_dir=Path(pwd),
        options=dict(options) if isinstance(options, dict) else {},
    )


def engine_environment(project: PulumiProject, environ: Mapping[str, str]) -> dict[str, str]:
    """The environment the engine starts the ``pulumi-python`` plugin with.

    plugin.go (``newPlugin``) passes the CLI's whole environment; provider_plugin.go
    (``NewProvider``) adds ``PULUMI_RUNTIME_<OPTION>`` for every ``runtime.options`` entry (its
    key upper-cased, its raw value formatted with ``%v``: a relative path stays relative),
    ``PULUMI_PROJECT`` and ``PULUMI_CONFIG`` (the config of the plugin's own namespace, in
    practice ``{}``). Those win over variables of the same name in the CLI's environment.
    """
    env = dict(environ)
    for key, value in project.options.items():
        env[f"PULUMI_RUNTIME_{str(key).upper()}"] = _go_format(value)
    env["PULUMI_PROJECT"] = project.name
    env["PULUMI_CONFIG"] = "{}"
    return env


def _shell_pwd(cwd: Path, env: Mapping[str, str]) -> str:
    """The ``$PWD`` a POSIX ``sh`` started in ``cwd`` with ``env`` sees.

    POSIX, the ``sh`` utility (ENVIRONMENT VARIABLES, PWD): the shell keeps an inherited
    ``PWD`` that is absolute, has no ``.`` or ``..`` component and names the working directory;
    otherwise it sets the physical path (``pwd -P``). The engine passes the CLI's own ``PWD``,
    which names the directory the CLI was run in, not the plugin's. (dash also keeps an inherited
    value with ``.`` or ``..`` components; a CLI's PWD seldom has any.)
    """
    inherited = env.get("PWD", "")
    if inherited.startswith("/") and not {".", ".."} & set(inherited.split("/")):
        try:
            if os.path.samefile(inherited, cwd):
                return inherited
        except OSError:
            pass
    return os.path.realpath(cwd)


def _is_executable_file(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and os.access(path, os.X_OK)


def shell_which(command: str, env: Mapping[str, str], cwd: str) -> str | None:
    """What ``sh`` in ``cwd`` execs for ``command``, or None when it would say "not found".

    POSIX, Shell Command Language 2.9.1 (Command Search and Execution): a command holding a
    ``/`` is taken as it is; any other is looked up along ``PATH`` as ``<entry>/<command>`` (an
    empty entry, the current directory, gives ``<command>`` itself), the first executable regular
    file winning. The result is the path string the shell passes to ``execve``, so it is relative
    to ``cwd`` when it is not absolute.
    """
    if "/" in command:
        return command if _is_executable_file(os.path.join(cwd, command)) else None
    for entry in env.get("PATH", os.defpath).split(":"):
        path = f"{entry}/{command}" if entry else command
        if _is_executable_file(os.path.join(cwd, path)):
            return path
    return None


def _poetry_virtualenv(cwd: str, env: Mapping[str, str]) -> str:
    """``$(poetry env info --path)``: its stdout less trailing newlines, "" when it cannot run."""
    poetry = shell_which("poetry", env, cwd)
    if poetry is None:
        return ""
    result = subprocess.run(
        [poetry, "env", "info", "--path"],
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    return result.stdout.decode(errors="replace").rstrip("\n")


def _missing_virtualenv(venv: str, pwd: str) -> LaunchError:
    """The message and exit status of pulumi-resource-pulumi-python when ``$venv/bin/python``
    is not a file: "doesn't appear to be a virtual environment" for a directory (``-d``), else
    "doesn't exist"."""
    if os.path.isdir(venv):
        problem = f'"{venv}" doesn\'t appear to be a virtual environment.'
    else:
        problem = f'"{venv}" doesn\'t exist.'
    return LaunchError(
        f"The 'virtualenv' option in Pulumi.yaml is set to \"{venv}\", but {problem}\n"
        "Run the following commands to create the virtual environment and install dependencies"
        " into it:\n"
        f"    1. python3 -m venv {venv}\n"
        f"    2. {venv}/bin/python -m pip install --upgrade pip setuptools wheel\n"
        f"    3. {venv}/bin/python -m pip install -r {pwd}/requirements.txt\n"
        f"For more information see: {VENV_DOCS}\n",
        1,
    )


def _launcher(cwd: Path, engine_env: Mapping[str, str], engine_address: str) -> Launch:
    """What ``sdk/python/dist/pulumi-resource-pulumi-python`` does, started in ``cwd``."""
    env = dict(engine_env)
    pwd = _shell_pwd(cwd, env)
    # dash and bash, as sh, export PWD to the commands they run, set to the value computed above.
    env["PWD"] = pwd
    # pulumi-resource-pulumi-python passes its arguments as an unquoted $@: split on whitespace.
    tail = ["-u", "-m", "pulumi.dynamic", *engine_address.split()]
    venv = env.get("PULUMI_RUNTIME_VIRTUALENV", "")
    # pulumi-resource-pulumi-python: with no virtualenv option, toolchain uv means ".venv"
    # (relative, so under the main directory) and toolchain poetry the output of
    # `poetry env info --path`.
    if not venv:
        toolchain = env.get("PULUMI_RUNTIME_TOOLCHAIN", "")
        if toolchain == "uv":
            venv = ".venv"
        elif toolchain == "poetry":
            venv = _poetry_virtualenv(pwd, env)
    if venv:
        # pulumi-resource-pulumi-python: drop one trailing "/", then make the path absolute
        # against $PWD, the main directory (the language host uses the project root instead, in
        # sdk/python/toolchain/pip.go: pulumi/pulumi#7061).
        venv = venv.removesuffix("/")
        if not venv.startswith("/"):
            venv = f"{pwd}/{venv}"
        if "PULUMI_RUNTIME_VIRTUALENV" in env:
            # pulumi-resource-pulumi-python assigns the variable it was given, which is exported:
            # the host sees the computed path.
            env["PULUMI_RUNTIME_VIRTUALENV"] = venv
        python = f"{venv}/bin/python"
        # pulumi-resource-pulumi-python: `[ -f "$VENV/bin/python" ]`, a regular file after
        # following symlinks; else the message of _missing_virtualenv and exit 1.
        if not os.path.isfile(python):
            raise _missing_virtualenv(venv, pwd)
        # pulumi-resource-pulumi-python: PATH gets $VENV/bin in front, a non-empty PYTHONHOME is
        # unset, and "$VENV/bin/python" runs.
        env["PATH"] = f"{venv}/bin:{env['PATH']}" if "PATH" in env else f"{venv}/bin:"
        if env.get("PYTHONHOME"):
            del env["PYTHONHOME"]
        return Launch([python, *tail], cwd, env, env.get("PULUMI_PROJECT", ""), dict(engine_env))
    # pulumi-resource-pulumi-python: with no virtualenv, "${PULUMI_PYTHON_CMD:-python3}" runs,
    # found as the shell finds commands (along PATH unless it holds a "/"), environment unchanged.
    command = env.get("PULUMI_PYTHON_CMD") or "python3"
    found = shell_which(command, env, pwd)
    if found is None:
        raise LaunchError(f"{command}: not found\n", COMMAND_NOT_FOUND)
    return Launch([found, *tail], cwd, env, env.get("PULUMI_PROJECT", ""), dict(engine_env))


def plugin_launch(
    project_dir: str | os.PathLike[str],
    environ: Mapping[str, str],
    engine_address: str = DEFAULT_ENGINE_ADDRESS,
) -> Launch:
    """How ``pulumi up`` in ``project_dir``, with ``environ``, starts the dynamic-provider host.

    ``environ`` is the CLI's environment. Raises :class:`LaunchError` with the launcher's stderr
    and exit status where the launcher would fail, :class:`ProjectError` where the CLI would.
    """
    project = load_project(project_dir)
    engine_env = engine_environment(project, environ)
    # pkg/resource/plugin/plugin.go: argv is the engine address alone (no logging or tracing flags
    # unless those are on) and cmd.Dir is the main directory (pkg/engine/project.go, getPwdMain).
    return _launcher(project.main_dir, engine_env, engine_address)


def program_python(project_dir: str | os.PathLike[str], environ: Mapping[str, str]) -> str:
    """The interpreter the Python language host runs the program with (the pip toolchain).

    sdk/python/toolchain/pip.go: a ``virtualenv`` option is joined to the project ROOT
    (``resolveVirtualEnvironmentPath``) and its ``bin/python`` is used; without one,
    ``CommandPath`` looks up ``PULUMI_PYTHON_CMD``, else ``python3`` then ``python``, on ``PATH``.
    sdk/python/toolchain/toolchain.go (``ResolveToolchain``): with no ``toolchain`` option, a
    ``uv.lock`` or ``poetry.lock`` in the main directory or above selects uv or poetry, which are
    not modelled here (:class:`ProjectError`). Raises :class:`ProjectError` when no interpreter
    is found.
    """
    project = load_project(project_dir)
    toolchain = project.options.get("toolchain")
    if toolchain is None:
        for directory in (project.main_dir, *project.main_dir.parents):
            if (directory / "uv.lock").exists() or (directory / "poetry.lock").exists():
                toolchain = "uv" if (directory / "uv.lock").exists() else "poetry"
                break
    if toolchain not in (None, "pip"):
        raise ProjectError(f"only the pip toolchain is modelled, not {toolchain!r}")
    virtualenv = project.options.get("virtualenv")
    if virtualenv:
        # filepath.Join cleans the result.
        venv = os.path.normpath(os.path.join(project.root, str(virtualenv)))
        python = os.path.join(venv, "bin", "python")
        # pip.go, ValidateVenv / IsVirtualEnv: the virtualenv must hold bin/python.
        if not os.path.isfile(python):
            raise ProjectError(f"{venv} is not a virtual environment (no bin/python)")
        return python
    commands = [environ["PULUMI_PYTHON_CMD"]] if environ.get("PULUMI_PYTHON_CMD") else []
    commands = commands or ["python3", "python"]
    for command in commands:
        found = _go_look_path(command, environ.get("PATH", ""), project.main_dir)
        if found is not None:
            return found
    raise ProjectError(f"failed to locate any of {commands} on your PATH")


def _go_look_path(command: str, path: str, cwd: Path) -> str | None:
    """Go's ``exec.LookPath`` (os/exec/lp_unix.go), which pip.go's ``CommandPath`` calls.

    A name holding a ``/`` is used as it is (relative to the language host's working directory,
    the main directory: pkg/host/host.go starts it in ``ctx.Pwd``). Any other is searched along
    ``PATH``, an empty entry meaning "."; the first hit wins, but a hit through a relative entry
    is an error (``exec.ErrDot``), so None.
    """
    if "/" in command:
        candidate = os.path.join(cwd, command)
        return candidate if _is_executable_file(candidate) else None
    for entry in path.split(":"):
        candidate = os.path.normpath(os.path.join(entry or ".", command))
        if _is_executable_file(os.path.join(cwd, candidate)):
            return candidate if os.path.isabs(candidate) else None
    return None
