"""Fixtures for end-to-end tests: stacks of a provider host against a reset emulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin
from tests.harness.engine import Engine, Hosts, secret

POLICY = "fleet-server-policy"
# The provider must see only what each test gives it, never a developer's own Kibana settings.
KIBANA_ENV = ["KIBANA_*"]


@dataclass
class Stack:
    """A stack under test: the engine, the provider hosts of its commands, and the Kibana."""

    engine: Engine
    host: Hosts
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
    emulator_at: Callable[[str], EmulatorServer],
) -> Iterator[Callable[..., Stack]]:
    """Start a provider host against a freshly reset emulator of the given Kibana version."""
    hosts: list[Hosts] = []

    def make(version: str = "9.6.0", env: dict[str, str] | None = None) -> Stack:
        server = emulator_at(version)
        admin = KibanaAdmin(server.url)
        admin.reset()
        host = Hosts(env=env or {}, exclude_env=KIBANA_ENV)
        hosts.append(host)
        return Stack(Engine(host, stack="e2e"), host, admin, server.url)

    yield make
    for host in hosts:
        host.close()
