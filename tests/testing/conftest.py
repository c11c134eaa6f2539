"""Helpers for the tests of fleet_provider.testing: run a program under mocks, then forget them."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any

import pulumi
import pytest
from pulumi.runtime import mocks, settings


@pytest.fixture(autouse=True)
def no_mocks_left() -> Iterator[None]:
    """After each test, the Pulumi settings are the SDK's defaults again (no mock monitor).

    ``set_mocks`` configures the process's ambient settings (``pulumi/runtime/settings.py``
    ``configure``), which other tests in the session must not inherit.
    """
    yield
    settings.configure(settings.Settings(project="project", stack="stack"))
    settings.ROOT.set(None)
    pulumi.runtime.set_all_config({})


def run_mocked(
    the_mocks: mocks.Mocks,
    program: Callable[[], Any],
    *,
    preview: bool = False,
    project: str = "project",
    stack: str = "stack",
) -> Any:
    """Run ``program`` under ``the_mocks`` as ``@pulumi.runtime.test`` does; what it resolved to.

    ``program`` may return anything Output-like; its resolved value is returned.
    """
    pulumi.runtime.set_mocks(the_mocks, project=project, stack=stack, preview=preview)
    result: list[Any] = []

    @pulumi.runtime.test
    def body() -> Any:
        return pulumi.Output.from_input(program()).apply(result.append)

    body()
    return result[0] if result else None


def resolved(output: Any) -> Any:
    """An Output's value and secretness, as a pair (inside a running program)."""

    async def both() -> tuple[Any, bool]:
        return await output.future(), await output.is_secret()

    return asyncio.ensure_future(both())
