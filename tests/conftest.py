"""Shared fixtures: the Fleet emulator, started once per session."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fleet_provider.client import forget_kibana_versions
from fleet_provider.emulator import EmulatorServer
from fleet_provider.emulator.admin import KibanaAdmin

DEFAULT_POLICY = "fleet-server-policy"
# A superuser, and a user whose role can read keys but not create or revoke them: the
# emulator's fleet-setup role (Kibana's Fleet: Read may not even list keys).
TEST_USERS = ["elastic:changeme:superuser", "viewer:viewer-pass:fleet-setup"]

StartEmulator = Callable[..., EmulatorServer]


@pytest.fixture(scope="session")
def start_emulator() -> Iterator[StartEmulator]:
    """Start (or reuse) an emulator with the given EmulatorServer keywords.

    ``start_emulator(kibana_version="8.19.0")`` returns the session's server for those
    keywords (``policies`` defaults to ``["fleet-server-policy"]``); callers that need
    an empty state reset it with ``server.reset()``. All are stopped at session end.
    """
    servers: dict[str, EmulatorServer] = {}

    def start(**options: Any) -> EmulatorServer:
        options.setdefault("policies", [DEFAULT_POLICY])
        key = repr(sorted((name, repr(value)) for name, value in options.items()))
        if key not in servers:
            servers[key] = EmulatorServer(**options).start()
        return servers[key]

    yield start
    for server in servers.values():
        server.stop()


@pytest.fixture(scope="session")
def emulator_at(start_emulator: StartEmulator) -> Callable[[str], EmulatorServer]:
    """The session's emulator for a Kibana version, with ``TEST_USERS`` and the default policy."""

    def at(version: str = "9.6.0") -> EmulatorServer:
        return start_emulator(kibana_version=version, users=TEST_USERS)

    return at


@pytest.fixture(scope="session")
def emulator(start_emulator: StartEmulator) -> EmulatorServer:
    """The session's emulator: Kibana 9.6.0 with agent policy ``fleet-server-policy``."""
    return start_emulator(kibana_version="9.6.0")


@pytest.fixture
def admin(emulator: EmulatorServer) -> KibanaAdmin:
    """The session's emulator, reset, seen as an operator would; cached versions forgotten."""
    admin = KibanaAdmin(emulator.url)
    admin.reset()
    forget_kibana_versions()
    return admin
