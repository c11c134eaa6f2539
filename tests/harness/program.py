"""Running a Pulumi program in-process against the harness engine, as the language host would."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import inspect
import itertools
import os
import runpy
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from inspect import isawaitable
from pathlib import Path
from typing import Any, TypeVar

import pulumi
import yaml
from pulumi.runtime import mocks, run_in_stack, set_all_config
from pulumi.runtime.settings import ROOT, Settings, configure

T = TypeVar("T")

ProgramFn = Callable[[], Any]
"""A program callable: registers resources; may return a mapping of exports or an awaitable."""

Program = ProgramFn | str | os.PathLike[str]
"""A program: a callable, or a Pulumi project directory (Pulumi.yaml + __main__.py)."""


@dataclass(frozen=True)
class Project:
    """A Pulumi project directory: its name (from Pulumi.yaml) and the program directory."""

    name: str
    root: Path
    main: Path
    refresh_always: bool = False
    """``options: refresh: always``: every up, preview and destroy refreshes first."""

    @classmethod
    def load(cls, directory: str | os.PathLike[str]) -> Project:
        """Read ``Pulumi.yaml``; ``main:`` may move the program (and the cwd) to a subdirectory."""
        root = Path(directory).resolve()
        manifest = yaml.safe_load((root / "Pulumi.yaml").read_text()) or {}
        main = root / str(manifest.get("main", "."))
        # sdk/go/common/workspace/project.go ProjectOptions.Refresh: only "always" counts.
        options = manifest.get("options") or {}
        return cls(
            name=str(manifest["name"]),
            root=root,
            main=main.resolve(),
            refresh_always=options.get("refresh") == "always",
        )


def unknown_during_preview(value: T) -> pulumi.Output[T]:
    """An Output that is unknown during preview and ``value`` during up (like a computed output).

    During preview ``pulumi.runtime.is_dry_run()`` is true and the SDK serialises an unknown
    Output as the unknown sentinel, which is what reaches the provider's check and diff.
    """
    if not pulumi.runtime.is_dry_run():
        return pulumi.Output.from_input(value)

    async def resolved(result: Any) -> Any:
        return result

    return pulumi.Output(set(), resolved(None), resolved(False))


_sent = threading.local()


class _NumberingExecutor(ThreadPoolExecutor):
    """The program's default executor: each call runs knowing the order it was submitted in.

    The SDK sends every RPC to the monitor from the event loop's default executor
    (``run_in_executor(None, ...)`` in pulumi/runtime/resource.py), so the RegisterResource calls
    of independent resources race each other on the worker threads: a woken idle worker and a
    worker just started for the next call reach the monitor in either order (on Python 3.13 the
    new worker usually wins). ``submit`` runs on the loop's thread, in the order the program
    declared the resources, so this number is that order.
    """

    def __init__(self) -> None:
        super().__init__(thread_name_prefix="asyncio")
        self._numbers = itertools.count()

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """Submit ``fn`` numbered: ``sent_number()`` tells it while it runs."""
        number = next(self._numbers)

        def numbered() -> T:
            _sent.number = number
            try:
                return fn(*args, **kwargs)
            finally:
                del _sent.number

        return super().submit(numbered)


def sent_number() -> int | None:
    """The submission number of the SDK call running on this thread (None outside one)."""
    number: int | None = getattr(_sent, "number", None)
    return number


class NoMocks(mocks.Mocks):
    """The engine monitor handles registrations itself; anything else is unsupported."""

    # The monitor deploys for real: fleet-provider's look-ups ask the configured Kibana and its
    # resources leave naming to the provider, as in a deployment (fleet_provider/_sdk.py
    # active_mocks).
    fleet_provider_mocked = False

    def call(self, args: mocks.MockCallArgs) -> tuple[dict[str, Any], list[tuple[str, str]] | None]:
        """Invokes are not supported by the harness."""
        raise NotImplementedError(f"the harness engine does not support invoke {args.token}")

    def new_resource(self, args: mocks.MockResourceArgs) -> tuple[str | None, dict[str, Any]]:
        """Reads (``get``/``import``) are not supported by the harness."""
        raise NotImplementedError(f"the harness engine does not support reading {args.name}")


def _entry_point(program: ProgramFn) -> Callable[[], Awaitable[None] | None]:
    """Wrap a program callable so that a returned mapping becomes exports (like pulumi.run)."""

    def export_all(result: Any) -> None:
        if isinstance(result, Mapping):
            for key, value in result.items():
                pulumi.export(str(key), value)

    def run() -> Awaitable[None] | None:
        result = program()
        if isawaitable(result):

            async def finish() -> None:
                export_all(await result)

            return finish()
        export_all(result)
        return None

    return run


@contextlib.contextmanager
def _project_directory(project: Project) -> Iterator[None]:
    """Run with the program directory as cwd, forgetting the modules it imported afterwards."""
    before = set(sys.modules)
    old_cwd = os.getcwd()
    os.chdir(project.main)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        for name in set(sys.modules) - before:
            file = getattr(sys.modules[name], "__file__", None) or ""
            if file.startswith(str(project.root)):
                del sys.modules[name]


def run_program(
    program: Program,
    *,
    monitor: mocks.MockMonitor,
    project: str,
    stack: str,
    organization: str,
    dry_run: bool,
    config: Mapping[str, str],
    secret_keys: Iterable[str],
) -> None:
    """Run ``program`` to completion with ``monitor`` as the resource monitor.

    This follows the SDK's inline-program host (pulumi/automation/_server.py, ``Run``): fresh
    settings and config inside a copied ``contextvars`` context, then ``run_in_stack`` on a new
    event loop, on a thread of its own. Every pulumi global (``settings.SETTINGS``, config, the
    root stack) is a ContextVar, so nothing leaks into the caller once the context is left.
    ``set_mocks`` is not used because it creates and finishes a root Stack eagerly, which would
    swallow the program's ``pulumi.export`` calls.
    """
    if isinstance(program, (str, os.PathLike)):
        proj = Project.load(program)

        def fn() -> None:
            # The Python language host runs the project directory with runpy, as __main__.
            runpy.run_path(str(proj.main), run_name="__main__")

        with _project_directory(proj):
            _run_in_context(
                fn, monitor, proj.name, stack, organization, dry_run, config, secret_keys
            )
        return
    _run_in_context(
        _entry_point(program), monitor, project, stack, organization, dry_run, config, secret_keys
    )


def _quiet_unobserved(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Drop "exception was never retrieved" noise from a failed run's leftover futures.

    The SDK's program hosts do the same (pulumi/automation/_server.py
    ``_suppress_unobserved_task_logging``); the failure itself is reported by the engine.
    """
    if "never retrieved" not in str(context.get("message", "")):
        loop.default_exception_handler(context)


def _run_in_context(
    fn: Callable[[], Awaitable[None] | None],
    monitor: mocks.MockMonitor,
    project: str,
    stack: str,
    organization: str,
    dry_run: bool,
    config: Mapping[str, str],
    secret_keys: Iterable[str],
) -> None:
    def run() -> None:
        # Settings takes root_directory (pulumi.runtime.get_root_directory) only in newer SDKs.
        extra: dict[str, Any] = {}
        if "root_directory" in inspect.signature(Settings).parameters:
            extra["root_directory"] = os.getcwd()
        configure(
            Settings(
                project=project,
                stack=stack,
                monitor=monitor,
                engine=mocks.MockEngine(None),
                dry_run=dry_run,
                organization=organization,
                **extra,
            )
        )
        ROOT.set(None)
        set_all_config(dict(config), list(secret_keys))
        loop = asyncio.new_event_loop()
        loop.set_exception_handler(_quiet_unobserved)
        loop.set_default_executor(_NumberingExecutor())
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(run_in_stack(fn))
        finally:
            for task in asyncio.all_tasks(loop):
                task.cancel()
                with contextlib.suppress(BaseException):
                    loop.run_until_complete(task)
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()
            asyncio.set_event_loop(None)

    # A thread of its own keeps the event loop (and the copied context) away from the caller's
    # thread, as the Automation API runs inline programs on gRPC worker threads.
    errors: list[BaseException] = []

    def target() -> None:
        try:
            contextvars.copy_context().run(run)
        except BaseException as exc:  # re-raised in the caller's thread
            errors.append(exc)

    thread = threading.Thread(target=target, name="pulumi-program")
    thread.start()
    thread.join()
    if errors:
        raise errors[0]
