"""The pytest plugin (entry point ``fleet_provider``, group ``pytest11``): emulator fixtures.

``fleet_emulator`` is one emulator per session on 127.0.0.1, reset before each test;
``fleet_emulator_factory(**options)`` starts (or reuses, then resets) one per set of options.
Options come from the command line or the ini file::

    --fleet-kibana-version X.Y.Z   fleet_kibana_version   (default: the newest emulated)
    --fleet-user NAME:PASSWORD:ROLE fleet_users            (default elastic:changeme:superuser)
    --fleet-space ID               fleet_spaces           (default: none)
    --fleet-policy ID              fleet_policies         (default fleet-server-policy)
    --fleet-faults FILE            fleet_faults           (a fault plan, JSON)

Every emulator the session started is stopped at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from fleet_provider.testing.emulator import EmulatorOptions, FleetEmulator

EmulatorFactory = Callable[..., FleetEmulator]
"""``fleet_emulator_factory``: ``EmulatorOptions.create`` keywords in, a reset emulator out."""

_OPTIONS = (
    # (command line, ini name, help, takes several)
    ("--fleet-kibana-version", "fleet_kibana_version", "Kibana version to emulate, X.Y.Z", False),
    ("--fleet-user", "fleet_users", "emulator login NAME:PASSWORD:ROLE (the first is used)", True),
    ("--fleet-space", "fleet_spaces", "Kibana space the emulator holds after each reset", True),
    ("--fleet-policy", "fleet_policies", "agent policy the emulator holds after each reset", True),
    ("--fleet-faults", "fleet_faults", "fault plan (JSON file) loaded after each reset", False),
)


def pytest_addoption(parser: pytest.Parser) -> None:
    """Add the ``--fleet-*`` command-line options and their ini settings."""
    group = parser.getgroup("fleet-provider", "fleet-provider emulator")
    for flag, ini, text, several in _OPTIONS:
        group.addoption(flag, action="append" if several else "store", dest=ini, help=text)
        if several:
            parser.addini(ini, text, type="linelist")
        else:
            parser.addini(ini, text, type="string")


def _setting(config: pytest.Config, name: str) -> Any:
    """The command line's value of an option, else the ini file's; None when neither sets it."""
    value = config.getoption(name)
    if value:
        return value
    ini = config.getini(name)
    return ini or None


def options_from(config: pytest.Config, **overrides: Any) -> EmulatorOptions:
    """The session's emulator options, with ``overrides`` (``EmulatorOptions.create`` keywords)."""
    given: dict[str, Any] = {
        "kibana_version": _setting(config, "fleet_kibana_version"),
        "users": _setting(config, "fleet_users"),
        "spaces": _setting(config, "fleet_spaces"),
        "policies": _setting(config, "fleet_policies"),
        "faults": _setting(config, "fleet_faults"),
    }
    given.update(overrides)
    return EmulatorOptions.create(**given)


@pytest.fixture(scope="session")
def fleet_emulator_factory(pytestconfig: pytest.Config) -> Iterator[EmulatorFactory]:
    """Start an emulator per set of options, reused and reset on each call; stopped at the end."""
    started: dict[EmulatorOptions, FleetEmulator] = {}

    def factory(**overrides: Any) -> FleetEmulator:
        options = options_from(pytestconfig, **overrides)
        emulator = started.get(options)
        if emulator is None:
            emulator = started[options] = FleetEmulator(options)
        else:
            emulator.reset()
        return emulator

    try:
        yield factory
    finally:
        for emulator in started.values():
            emulator.close()


@pytest.fixture
def fleet_emulator(fleet_emulator_factory: EmulatorFactory) -> FleetEmulator:
    """The session's emulator, reset: only the start-up policies, their Default keys, spaces."""
    return fleet_emulator_factory()
