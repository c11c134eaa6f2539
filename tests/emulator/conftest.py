"""Fixtures for the emulator's own tests: a fresh state for every test."""

from __future__ import annotations

import pytest
import requests

from fleet_provider.emulator import EmulatorServer

AUTH = ("elastic", "changeme")
XSRF = {"kbn-xsrf": "true"}
KEYS = "/api/fleet/enrollment_api_keys"


@pytest.fixture
def server(emulator: EmulatorServer) -> EmulatorServer:
    """The session emulator (9.5.0, policy ``fleet-server-policy``), reset."""
    emulator.reset()
    return emulator


@pytest.fixture
def http() -> requests.Session:
    """An authenticated session."""
    session = requests.Session()
    session.auth = AUTH
    return session
