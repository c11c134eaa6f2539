"""Conformance fixtures: one target per session, a clean state for every test."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest

from tests.conformance.target import Target
from tests.conftest import StartEmulator


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Target:
    """The Kibana under test (the session emulator unless FLEET_CONFORMANCE_URL is set)."""
    real = Target.from_environment()
    if real is not None:
        return real
    emulator = request.getfixturevalue("emulator")
    return Target(emulator.url, emulator=True)


@pytest.fixture(autouse=True)
def _clean_target(request: pytest.FixtureRequest, target: Target) -> Iterator[None]:
    marker = request.node.get_closest_marker("emulator_only")
    if marker is not None:
        target.require_emulator(marker.args[0] if marker.args else "emulator switches")
    target.reset()
    yield
    if not target.is_emulator:
        target.reset()


@pytest.fixture
def policy_id(target: Target) -> str:
    """A fresh agent policy (with its Default key) in the default space."""
    return target.create_policy()


@pytest.fixture
def space(target: Target) -> str:
    """A new Kibana space on a space-aware target (emulator only: it creates the space)."""
    target.require("space_aware")
    space_id = f"conf-{uuid.uuid4().hex[:8]}"
    if target.is_emulator:
        response = target.post("/api/spaces/space", json={"id": space_id, "name": space_id})
        assert response.status_code == 200, response.text
        return space_id
    pytest.skip("creating spaces on a real Kibana is left to the operator")


@pytest.fixture(scope="session")
def at_version(start_emulator: StartEmulator) -> Callable[[str], Target]:
    """A Target on a session emulator of another Kibana version, reset on every call."""
    targets: dict[str, Target] = {}

    def make(version: str) -> Target:
        if version not in targets:
            server = start_emulator(kibana_version=version)
            targets[version] = Target(server.url, emulator=True)
        targets[version].reset()
        return targets[version]

    return make
