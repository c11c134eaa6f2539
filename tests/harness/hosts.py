"""A fresh dynamic-provider host for every command, as the Pulumi CLI starts one per engine run.

pulumi/pulumi ``pkg/engine/update.go``: "Ensure we have a plugin host for the operation", and
``pkg/host/host.go`` loads a new plugin process for every provider load: ``pulumi preview``,
``pulumi refresh`` and ``pulumi destroy`` each start their own ``pulumi-python`` process, and
``pulumi up`` two (its preview, then the update; ``pkg/backend/apply.go``). Each is configured
once, at its start, with the config of that command.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from fleet_provider.harness.host import ProviderHost, RpcCall


class Hosts:
    """Starts a new :class:`ProviderHost` per command and keeps every one for inspection.

    A program given as a project directory is served by a host launched by that project's
    rules (working directory, ``runtime.options``, virtualenv); a program callable by a host
    whose working directory is the repository root, where the callable's module lives.
    """

    def __init__(
        self,
        env: Mapping[str, str] | None = None,
        *,
        exclude_env: Iterable[str] = (),
        timeout: float = 30.0,
    ) -> None:
        """Hosts get ``env`` on top of this process's environment, minus ``exclude_env``."""
        self.env = dict(env or {})
        self.exclude_env = list(exclude_env)
        self.timeout = timeout
        self.started: list[ProviderHost] = []
        self._lock = threading.Lock()

    def start(self, project_dir: str | os.PathLike[str] | None = None) -> ProviderHost:
        """A new host process for one command."""
        if project_dir is not None:
            host = ProviderHost.from_project(
                Path(project_dir),
                env=self.env,
                exclude_env=self.exclude_env,
                timeout=self.timeout,
            )
        else:
            host = ProviderHost(env=self.env, exclude_env=self.exclude_env, timeout=self.timeout)
        with self._lock:
            self.started.append(host)
        return host

    @property
    def last(self) -> ProviderHost:
        """The host of the latest command."""
        with self._lock:
            return self.started[-1]

    @property
    def calls(self) -> list[RpcCall]:
        """Every RPC sent to any host, in order of the hosts."""
        with self._lock:
            hosts = list(self.started)
        return [call for host in hosts for call in host.calls]

    def calls_of(self, method: str) -> list[RpcCall]:
        """The calls of one RPC method across every host, oldest first."""
        return [call for call in self.calls if call.method == method]

    @property
    def stdout(self) -> str:
        """What every host printed on stdout."""
        with self._lock:
            return "".join(host.stdout for host in self.started)

    @property
    def stderr(self) -> str:
        """What every host printed on stderr (tracebacks, warnings, log lines)."""
        with self._lock:
            return "".join(host.stderr for host in self.started)

    @property
    def output(self) -> str:
        """stdout and stderr of every host, for scanning everything printed."""
        return self.stdout + self.stderr

    def close(self) -> None:
        """Stop every host still running."""
        with self._lock:
            hosts = list(self.started)
        for host in hosts:
            host.close()

    def __enter__(self) -> Hosts:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
