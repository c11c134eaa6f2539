"""The real Python dynamic-provider host (``python -m pulumi.dynamic``) in a child process."""

from __future__ import annotations

import fnmatch
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import IO, Any

import grpc
from google.protobuf import empty_pb2
from google.protobuf.message import Message
from pulumi.runtime import rpc
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from fleet_provider.harness.launch import Launch, plugin_launch
from fleet_provider.harness.wire import to_struct

# This file is <root>/fleet_provider/harness/host.py, so parents[2] is <root>: the directory that
# holds the fleet_provider package, in a checkout the repository root, where the providers of
# tests/ and benchmarks/ that the host unpickles live too.
REPO_ROOT = Path(__file__).resolve().parents[2]
"""The repository root, put on the host's PYTHONPATH so it can import the project's modules."""

PULUMI_VERSION = tuple(int(part) for part in metadata.version("pulumi").split(".")[:3])
"""The installed pulumi SDK, whose ``python -m pulumi.dynamic`` is the host."""

HOST_SENDS_TRACEBACK = PULUMI_VERSION >= (3, 260)
"""The host answers a failed call with the whole traceback, whose last line is
``module.ExcType: message`` (``_abort_with_traceback`` in ``pulumi/dynamic/__main__.py``, from
pulumi 3.260.0). An older host leaves the exception to gRPC, whose answer is only
``Exception calling application: <message>``: no exception type, no cause."""

PROJECT_ERROR = (
    "fleet_provider.exceptions." if HOST_SENDS_TRACEBACK else "Exception calling application: "
)
"""How a failed call's last line starts when the provider raised one of its own errors (an
older host names no exception type, so there any raised exception starts the same way)."""


def as_host_shows(line: str) -> str:
    """``line`` (``module.ExcType: message``) as this pulumi's host reports a failed call.

    From pulumi 3.260 the last line of the traceback, unchanged; before, gRPC's
    ``Exception calling application: message`` (see :data:`HOST_SENDS_TRACEBACK`).
    A line that names no exception type is returned as it is.
    """
    head, sep, message = line.partition(": ")
    if HOST_SENDS_TRACEBACK or not sep or " " in head or "." not in head:
        return line
    return f"Exception calling application: {message}"


HOST_SENDS_READ_INPUTS = PULUMI_VERSION >= (3, 216)
"""The host sends ``ReadResult.inputs`` to the engine (from pulumi 3.216.0); with an older one a
refresh leaves the inputs in the state as they were."""

PROVIDER_TYPE = "pulumi:providers:pulumi-python"
"""Type token of the default provider that serves every Python dynamic resource."""


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate a child process and wait for it, killing it if it lingers for 10 seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


class _Drain(threading.Thread):
    """Copies everything a pipe yields into a buffer, so the child never blocks on a full pipe."""

    def __init__(self, pipe: IO[bytes], name: str) -> None:
        super().__init__(name=name, daemon=True)
        self._pipe = pipe
        self._buffer = bytearray()
        self._changed = threading.Condition()
        self.closed = False

    def run(self) -> None:
        """Read until EOF."""
        while chunk := os.read(self._pipe.fileno(), 65536):
            with self._changed:
                self._buffer.extend(chunk)
                self._changed.notify_all()
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def text(self) -> str:
        """Everything read so far, decoded leniently."""
        with self._changed:
            return self._buffer.decode("utf-8", errors="replace")

    def first_line(self, timeout: float) -> str | None:
        """Wait for the first complete line; None on EOF or timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while b"\n" not in self._buffer and not self.closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                self._changed.wait(remaining)
            if b"\n" not in self._buffer:
                return None
            return self._buffer.split(b"\n", 1)[0].decode("utf-8", errors="replace")


@dataclass(frozen=True)
class RpcCall:
    """One RPC sent to the host: its method name, request and outcome (None when it succeeded)."""

    method: str
    request: Message
    error: str | None = None

    @property
    def urn(self) -> str:
        """The URN of the request, or "" when the request has none."""
        return str(getattr(self.request, "urn", ""))


class ProviderHostError(RuntimeError):
    """The provider host could not be started or reached."""


def inherited_env(*, inherit_env: bool, exclude_env: Iterable[str]) -> dict[str, str]:
    """This process's environment (or only its PATH) minus the ``exclude_env`` fnmatch patterns."""
    patterns = list(exclude_env)
    base = dict(os.environ) if inherit_env else {"PATH": os.environ.get("PATH", "")}
    return {k: v for k, v in base.items() if not any(fnmatch.fnmatch(k, p) for p in patterns)}


def build_env(
    env: Mapping[str, str] | None,
    *,
    inherit_env: bool,
    exclude_env: Iterable[str],
    project: str,
) -> dict[str, str]:
    """The host environment: inherited variables minus ``exclude_env`` patterns, then ours."""
    result = inherited_env(inherit_env=inherit_env, exclude_env=exclude_env)
    # The engine passes PULUMI_PROJECT and PULUMI_CONFIG (only the pulumi-python namespace, so in
    # practice "{}") to the plugin: pkg/resource/plugin/provider_plugin.go, pkg/host/host.go.
    result["PULUMI_PROJECT"] = project
    result["PULUMI_CONFIG"] = "{}"
    result["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(REPO_ROOT), result.get("PYTHONPATH", "")) if p
    )
    result.update(env or {})
    return result


class ProviderHost:
    """Spawns ``python -u -m pulumi.dynamic`` and talks to it over gRPC like the engine does.

    The host prints its port as the first stdout line; everything it prints afterwards (including
    provider ``print`` output and the gRPC server's own logging) is captured in full and exposed
    as :attr:`stdout` / :attr:`stderr` / :attr:`output`. Every RPC carries a deadline.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        inherit_env: bool = True,
        exclude_env: Iterable[str] = (),
        cwd: str | os.PathLike[str] | None = None,
        project: str = "fleet-provider",
        timeout: float = 30.0,
        python: str = sys.executable,
    ) -> None:
        """Start the host; ``exclude_env`` holds variable names or fnmatch patterns to drop."""
        self._start(
            [python, "-u", "-m", "pulumi.dynamic", "127.0.0.1:0"],
            cwd=os.fspath(cwd) if cwd is not None else os.fspath(REPO_ROOT),
            env=build_env(env, inherit_env=inherit_env, exclude_env=exclude_env, project=project),
            project=project,
            timeout=timeout,
        )

    @classmethod
    def from_project(
        cls,
        project_dir: str | os.PathLike[str],
        *,
        env: Mapping[str, str] | None = None,
        inherit_env: bool = True,
        exclude_env: Iterable[str] = (),
        timeout: float = 30.0,
    ) -> ProviderHost:
        """Start the host as ``pulumi up`` in ``project_dir`` would, by the launcher's rules.

        The CLI's environment is this process's (only its PATH when ``inherit_env`` is false)
        minus the ``exclude_env`` patterns, with ``env`` on top; :func:`.launch.plugin_launch`
        adds the engine's variables and applies the launcher's choice of interpreter, working
        directory and environment. Unlike :meth:`__init__`, nothing puts the repository on
        ``PYTHONPATH``: the interpreter must have ``fleet_provider`` installed. Raises
        :class:`.launch.LaunchError` with the launcher's stderr where the launcher would exit.
        The resolved :class:`.launch.Launch` is kept as :attr:`launch`.
        """
        environ = inherited_env(inherit_env=inherit_env, exclude_env=exclude_env)
        environ.update(env or {})
        launch = plugin_launch(project_dir, environ)
        host = cls.__new__(cls)
        host._start(
            launch.argv,
            executable=launch.python,
            cwd=launch.cwd,
            env=launch.env,
            project=launch.project,
            timeout=timeout,
            launch=launch,
        )
        return host

    def _start(
        self,
        argv: list[str],
        *,
        cwd: str | os.PathLike[str],
        env: dict[str, str],
        project: str,
        timeout: float,
        executable: str | None = None,
        launch: Launch | None = None,
    ) -> None:
        """Spawn ``argv`` (``executable`` if given, else ``argv[0]``) in ``cwd`` with exactly
        ``env``, and connect to the port it prints."""
        self.project = project
        self.timeout = timeout
        self.launch = launch
        """How :meth:`from_project` started the host; None for a host started by the constructor."""
        self.calls: list[RpcCall] = []
        self.configured_with: dict[str, str] | None = None
        self._lock = threading.Lock()
        self.env = env
        self._proc = subprocess.Popen(
            argv,
            executable=executable,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=self.env,
            cwd=os.fspath(cwd),
        )
        assert self._proc.stdout is not None
        assert self._proc.stderr is not None
        self._out = _Drain(self._proc.stdout, "provider-host-stdout")
        self._err = _Drain(self._proc.stderr, "provider-host-stderr")
        self._out.start()
        self._err.start()
        self._channel: grpc.Channel | None = None
        try:
            self._connect()
        except BaseException:
            self.close()
            raise

    def _connect(self) -> None:
        line = self._out.first_line(self.timeout)
        if line is None or not line.strip().isdigit():
            if self._proc.poll() is not None:
                self._err.join(timeout=5)
            raise ProviderHostError(
                f"provider host did not print its port (first line {line!r})\n"
                f"stderr:\n{self._err.text()}"
            )
        self.port = int(line)
        self._channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        grpc.channel_ready_future(self._channel).result(timeout=self.timeout)
        self.stub = provider_pb2_grpc.ResourceProviderStub(self._channel)
        # The engine asks for the plugin's info right after loading it (provider_plugin.go).
        self.call("GetPluginInfo", empty_pb2.Empty())

    def call(self, method: str, request: Message) -> Any:
        """Send one RPC with a deadline and log it; gRPC errors propagate as ``grpc.RpcError``."""
        try:
            response = getattr(self.stub, method)(request, timeout=self.timeout)
        except grpc.RpcError as exc:
            details = exc.details() if isinstance(exc, grpc.Call) else str(exc)
            with self._lock:
                self.calls.append(RpcCall(method, request, details or str(exc)))
            raise
        with self._lock:
            self.calls.append(RpcCall(method, request))
        return response

    def configure(self, config: Mapping[str, str], secret_keys: Iterable[str] = ()) -> Any:
        """Send Configure with the whole stack config, secret values wrapped, as the engine does.

        The engine marshals Configure with KeepSecrets (provider_plugin.go, Configure); the Python
        server unwraps top-level secrets and answers acceptSecrets=False
        (pulumi/dynamic/__main__.py, Configure).
        """
        secrets = set(secret_keys)
        args = {k: rpc.wrap_rpc_secret(v) if k in secrets else v for k, v in config.items()}
        # The provider's type, name and URN are fields of ConfigureRequest only in newer SDKs.
        identity: dict[str, Any] = {
            "type": PROVIDER_TYPE,
            "name": "default",
            "urn": f"urn:pulumi:stack::{self.project}::{PROVIDER_TYPE}::default",
        }
        known = provider_pb2.ConfigureRequest.DESCRIPTOR.fields_by_name
        response = self.call(
            "Configure",
            provider_pb2.ConfigureRequest(
                args=to_struct(args),
                acceptSecrets=True,
                acceptResources=True,
                sends_old_inputs=True,
                sends_old_inputs_to_delete=True,
                **{k: v for k, v in identity.items() if k in known},
            ),
        )
        self.configured_with = dict(config)
        return response

    def calls_of(self, method: str) -> list[RpcCall]:
        """The logged calls of one RPC method, oldest first."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    @property
    def stdout(self) -> str:
        """Everything the host printed on stdout, port line included."""
        return self._out.text()

    @property
    def stderr(self) -> str:
        """Everything the host printed on stderr (tracebacks, warnings, provider output)."""
        return self._err.text()

    @property
    def output(self) -> str:
        """stdout and stderr together, for scanning everything the host printed."""
        return self.stdout + self.stderr

    @property
    def pid(self) -> int:
        """The host's process id."""
        return self._proc.pid

    @property
    def alive(self) -> bool:
        """Whether the host process is still running."""
        return self._proc.poll() is None

    def close(self) -> None:
        """Close the channel, terminate the host and wait for it and the drain threads."""
        if self._channel is not None:
            self._channel.close()
            self._channel = None
        stop_process(self._proc)
        self._out.join(timeout=5)
        self._err.join(timeout=5)

    def __enter__(self) -> ProviderHost:
        """Use the host as a context manager."""
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Terminate the host."""
        self.close()
