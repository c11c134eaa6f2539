"""Fixtures for end-to-end tests: emulators by Kibana version and provider hosts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fleet_provider.emulator import EmulatorServer
from tests.harness.engine import Engine, ProviderHost, secret
from tests.kibana import KibanaAdmin

POLICY = "fleet-server-policy"
USERS = ["elastic:changeme:superuser", "viewer:viewer-pass:fleet-read"]
# The provider must see only what each test gives it, never a developer's own Kibana settings.
KIBANA_ENV = ["KIBANA_*"]


@pytest.fixture(scope="session")
def emulators() -> Iterator[Callable[[str], EmulatorServer]]:
    """Emulators by Kibana version, started on first use and stopped at the end."""
    started: dict[str, EmulatorServer] = {}

    def get(version: str = "9.5.0") -> EmulatorServer:
        if version not in started:
            server = EmulatorServer(port=0, kibana_version=version, policies=[POLICY], users=USERS)
            server.start()
            started[version] = server
        return started[version]

    yield get
    for server in started.values():
        server.stop()


@dataclass
class Stack:
    """A stack under test: the engine, its provider host, and the Kibana behind it."""

    engine: Engine
    host: ProviderHost
    kibana: KibanaAdmin
    url: str

    def config(self, **extra: str) -> dict[str, object]:
        """Stack config pointing at the emulator, the password as a secret."""
        config: dict[str, object] = {
            "fleet:endpoint": self.url,
            "fleet:username": "elastic",
            "fleet:password": secret("changeme"),
        }
        config.update({f"fleet:{k}": v for k, v in extra.items()})
        return config


@pytest.fixture
def make_stack(
    emulators: Callable[[str], EmulatorServer],
) -> Iterator[Callable[..., Stack]]:
    """Start a provider host against a freshly reset emulator of the given Kibana version."""
    hosts: list[ProviderHost] = []

    def make(version: str = "9.5.0", env: dict[str, str] | None = None) -> Stack:
        server = emulators(version)
        admin = KibanaAdmin(server.url)
        admin.reset()
        host = ProviderHost(env=env or {}, exclude_env=KIBANA_ENV)
        hosts.append(host)
        return Stack(Engine(host, stack="e2e"), host, admin, server.url)

    yield make
    for host in hosts:
        host.close()
