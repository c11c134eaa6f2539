"""Test your own Pulumi programs that use fleet-provider: an emulator fixture, mocks, stacks.

- the pytest plugin (entry point ``fleet_provider`` in group ``pytest11``, :mod:`.plugin`):
  fixtures ``fleet_emulator`` and ``fleet_emulator_factory``;
- :class:`FleetEmulator`: a local emulator of Kibana's Fleet API and what it holds;
- :class:`FleetMocks`: ``pulumi.runtime.Mocks`` that run the real provider against it;
- :func:`emulator_stack`: a Pulumi Automation API stack pointed at it.

Built only on Pulumi's public test API (``pulumi.runtime.set_mocks``, ``Mocks``,
``@pulumi.runtime.test``) and the Automation API. Names are imported on first use, so loading
the pytest plugin does not import Pulumi.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fleet_provider.testing.emulator import EmulatorOptions, FleetEmulator
    from fleet_provider.testing.mocks import FleetMocks, FleetMocksError
    from fleet_provider.testing.stack import emulator_stack

__all__ = [
    "EmulatorOptions",
    "FleetEmulator",
    "FleetMocks",
    "FleetMocksError",
    "emulator_stack",
]

_LAZY = {
    "EmulatorOptions": "fleet_provider.testing.emulator",
    "FleetEmulator": "fleet_provider.testing.emulator",
    "FleetMocks": "fleet_provider.testing.mocks",
    "FleetMocksError": "fleet_provider.testing.mocks",
    "emulator_stack": "fleet_provider.testing.stack",
}


def __getattr__(name: str) -> Any:
    """Import a public name from its module on first use."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'fleet_provider.testing' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    """The public names, including those not imported yet."""
    return sorted(set(globals()) | set(__all__))
