"""``make demo`` without the Pulumi CLI: the quickstart through the engine-faithful harness.

``scripts/demo.sh`` runs ``python -m tests.harness.demo`` from the repository root when
``command -v pulumi`` fails. Like the script's CLI path it starts the emulator
(``python -m fleet_provider.emulator --port 0``) and points the provider at it with the
``KIBANA_*`` variables; then it runs the root project (``Pulumi.yaml``, whose ``main`` is
``examples/quickstart``) through :class:`tests.harness.engine.Engine`: ``pulumi preview``, then
``pulumi up``, ``pulumi refresh`` and ``pulumi destroy``, each ``--yes --skip-preview``. Each
command starts its own real dynamic-provider host (``python -m pulumi.dynamic``), as the CLI
does, and is printed the way the CLI prints it. Secret values show as ``[secret]``. Every host
and the emulator are stopped before it exits, also after a failure, Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import FrameType
from typing import Any, TypeVar

from fleet_provider.harness.host import stop_process
from fleet_provider.harness.wire import contains_unknown
from tests.harness.engine import Engine, EngineError, Hosts, OperationResult
from tests.harness.program import Project

T = TypeVar("T")

ROOT = Path(__file__).resolve().parents[2]
"""The repository root: the project the demo runs (its ``main`` is examples/quickstart)."""

STACK = "demo"
"""The stack name, as ``pulumi stack init demo`` in scripts/demo.sh."""

POLICY = "fleet-server-policy"
"""The emulator's agent policy, the quickstart's default ``policyId``."""

QUICKSTART = "examples/quickstart/__main__.py"
"""The program, as the CLI runs it."""

NOTICE = (
    f"No Pulumi CLI found on PATH: running the same quickstart ({QUICKSTART}) through this"
    " project's engine-faithful harness instead (tests/harness: the real dynamic-provider host,"
    " driven as the Pulumi engine drives it)."
)
"""The one line printed first when no ``pulumi`` is on PATH."""

STEP_OPS = [
    "same",
    "create",
    "update",
    "delete",
    "replace",
    "create-replacement",
    "delete-replaced",
]
"""The step ops the summary counts, in the CLI's order (``StepOps`` in
pkg/resource/deploy/step.go)."""

_PREFIX = {
    "same": "  ",
    "create": "+ ",
    "update": "~ ",
    "delete": "- ",
    "replace": "+-",
    "create-replacement": "++",
    "delete-replaced": "--",
}
"""``RawPrefix`` in pkg/resource/deploy/step.go."""

_DONE = {
    "same": "",
    "create": "created",
    "update": "updated",
    "delete": "deleted",
    "replace": "replaced",
    "create-replacement": "created replacement",
    "delete-replaced": "deleted original",
}
"""A row's status once its step is done (``getStepDoneDescription``, pkg/backend/display/
progress.go); a preview shows the op itself (``getPreviewDoneText``)."""


# ------------------------------------------------------------------------------------ display


def _format_duration(seconds: float) -> str:
    """``Duration:`` as the CLI prints it: rounded up to a second, Go's ``time.Duration`` text."""
    # renderSummaryEvent (pkg/backend/display/diff.go): math.Ceil of the seconds.
    total = math.ceil(seconds)
    minutes, secs = divmod(total, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def format_value(value: Any, secret: bool) -> str | None:
    """One stack output as the CLI prints it; None for what it leaves out (nulls, empties)."""
    # printPrimitivePropertyValue (pkg/backend/display/object_diff.go): a secret is "[secret]"
    # unless --show-secrets, an unknown "[unknown]", a string quoted (Go %q). The harness keeps
    # secretness per top-level key, so a value holding a secret anywhere is shown as one.
    if secret:
        return "[secret]"
    if contains_unknown(value):
        return "[unknown]"
    # shouldPrintPropertyValue: nulls, empty strings, arrays and objects are not printed.
    if value is None or value in ("", [], {}):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (int, float)):
        return repr(value)
    # Objects and arrays on one line as JSON (the CLI spreads them over several lines); the
    # quickstart exports only strings.
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def render_outputs(exports: Mapping[str, Any], secret_keys: Iterable[str]) -> list[str]:
    """The ``Outputs:`` section: keys sorted, names padded to the longest (``maxKey``)."""
    secrets = set(secret_keys)
    keys = sorted(exports)
    if not keys:
        return []
    # getResourceOutputsPropertiesString: the root stack's outputs are always printed, one per
    # line at indent 1 (four spaces), as printPropertyTitle's "%-<maxkey>s: ".
    width = max(len(k) for k in keys)
    lines = []
    for key in keys:
        text = format_value(exports[key], key in secrets)
        if text is not None:
            lines.append(f"    {key:<{width}}: {text}")
    return ["Outputs:", *lines, ""] if lines else []


def _display_op(steps: list[Any]) -> str:
    """The one op a resource's row shows for its steps in one command."""
    ops = [s.op for s in steps]
    if "replace" in ops:
        # getStepOp (progress.go): create-replacement, replace and delete-original are shown as
        # one "replace" once done.
        return "replace"
    last = steps[-1]
    if last.op == "refresh":
        # RefreshStep.ResultOp (step.go): deleted when Read found nothing, else same or update
        # by the engine's diff of the refreshed state against the old inputs.
        if last.detail.get("deleted"):
            return "delete"
        return "same" if last.detail.get("changes") == "none" else "update"
    return str(last.op)


def render(
    result: OperationResult,
    *,
    project: str,
    stack_op: str,
    preview: bool,
    seconds: float,
) -> list[str]:
    """A finished command as the CLI shows it: the resource table, outputs and summary."""
    by_urn: dict[str, list[Any]] = {}
    for step in result.steps:
        by_urn.setdefault(step.urn, []).append(step)
    # The stack resource (pulumi:pulumi:Stack) is a row and counts in the summary like any other:
    # created by the first update, deleted by destroy, same otherwise. The harness answers its
    # RegisterResource without a step (engine.py, _Deployment.register), so it is added here.
    rows = [(stack_op, "pulumi:pulumi:Stack", f"{project}-{STACK}")]
    for urn, steps in by_urn.items():
        # The URN's type, as Type.DisplayName (sdk/go/common/tokens/tokens.go) leaves it: it
        # shortens "pkg:mod/file:Name" only when file is camelCase(Name), so a dynamic resource
        # shows as pulumi-python:dynamic/fleet:EnrollmentApiKey.
        typ = urn.split("::")[2].rsplit("$", 1)[-1]
        rows.append((_display_op(steps), typ, urn.rsplit("::", 1)[-1]))

    def status(op: str) -> str:
        return ("" if op == "same" else op) if preview else _DONE.get(op, op)

    # rows.go: the columns are the op, Type, Name, Plan (preview) or Status, and Info; children
    # of the stack are drawn under it with ├─ and └─ (every resource here is the stack's child).
    table = [("", "Type", "Name", "Plan" if preview else "Status", "Info")]
    for index, (op, typ, name) in enumerate(rows):
        tree = "" if index == 0 else ("└─ " if index == len(rows) - 1 else "├─ ")
        table.append((_PREFIX.get(op, "  "), tree + typ, name, status(op), ""))
    widths = [max(len(row[i]) for row in table) for i in range(1, 4)]
    lines = [""]
    for prefix, typ, name, state, info in table:
        cells = [typ.ljust(widths[0]), name.ljust(widths[1]), state.ljust(widths[2]), info]
        lines.append(f" {prefix or '  '}  " + "  ".join(cells).rstrip())
    lines.append("")
    lines += render_outputs(result.exports, result.secret_exports)

    # renderSummaryEvent (diff.go): a line per kind of change ("+ 2 created", "+ 2 to create"),
    # "N changes" when there are several kinds, then "N unchanged"; Duration after a deployment.
    counts = Counter(op for op, _, _ in rows)
    lines.append("Resources:")
    kinds = [op for op in STEP_OPS if op != "same" and counts[op]]
    for op in kinds:
        what = f"to {op}" if preview else _DONE[op].split(" ")[0]
        lines.append(f"    {_PREFIX[op]}{counts[op]} {what}")
    pieces = []
    if len(kinds) >= 2:
        total = sum(counts[op] for op in kinds)
        pieces.append(f"{total} change{'s' if total != 1 else ''}")
    if counts["same"]:
        pieces.append(f"{counts['same']} unchanged")
    if pieces:
        lines.append("    " + ". ".join(pieces))
    if not preview:
        lines += ["", f"Duration: {_format_duration(seconds)}"]
    lines.append("")
    return lines


# ----------------------------------------------------------------------------------- processes


class Emulator:
    """``python -m fleet_provider.emulator`` in a child process, started as scripts/demo.sh does."""

    def __init__(self, python: str = sys.executable, timeout: float = 30.0) -> None:
        """Nothing runs until :meth:`start`."""
        self.python = python
        self.timeout = timeout
        self.url = ""
        self._proc: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._first = threading.Event()
        self._reader: threading.Thread | None = None

    @property
    def pid(self) -> int:
        """The emulator's process id."""
        assert self._proc is not None
        return self._proc.pid

    def start(self) -> str:
        """Start it with one agent policy on a free port; return its URL (its first line)."""
        self._proc = subprocess.Popen(
            [self.python, "-m", "fleet_provider.emulator", "--port", "0", "--policy", POLICY],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, name="emulator-log", daemon=True)
        self._reader.start()
        self._first.wait(self.timeout)
        first = self._lines[0] if self._lines else ""
        if not first.startswith("http://"):
            self.stop()
            raise RuntimeError(f"the emulator did not start: {''.join(self._lines).strip()}")
        self.url = first.strip()
        return self.url

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            self._lines.append(line)
            self._first.set()
        self._first.set()

    @property
    def requests(self) -> list[str]:
        """The access log: one line per request served (method, path, status, time)."""
        return [line.rstrip("\n") for line in self._lines[1:]]

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 10 s) and read the rest of its log."""
        if self._proc is not None:
            stop_process(self._proc)
        if self._reader is not None:
            self._reader.join(timeout=5)


class Interrupted(KeyboardInterrupt):
    """SIGINT, SIGTERM or SIGHUP arrived: stop everything and exit with 128 + the signal."""

    def __init__(self, signum: int) -> None:
        """Remember which signal."""
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _on_signal(signum: int, frame: FrameType | None) -> None:
    raise Interrupted(signum)


def _ignore(signum: int, frame: FrameType | None) -> None:
    """A handler that does nothing (exec resets it in children, unlike SIG_IGN)."""


class Commands:
    """Runs each engine command on a worker thread, so a signal lands in the main thread only.

    The main thread waits, and on Ctrl-C closes every provider host until the worker gives up,
    including a host the worker was starting at that moment (it joins ``hosts`` only once it is
    up), then returns: no host outlives the demo.
    """

    def __init__(self, hosts: Hosts) -> None:
        """Commands whose provider hosts ``hosts`` starts."""
        self.hosts = hosts
        self._done = threading.Event()
        self._done.set()

    def run(self, command: Callable[[], T]) -> T:
        """Run ``command`` to its end; its exception is raised here."""
        outcome: list[Any] = []
        done = self._done = threading.Event()

        def work() -> None:
            try:
                outcome.append((True, command()))
            except BaseException as exc:  # re-raised in the main thread
                outcome.append((False, exc))
            finally:
                done.set()

        threading.Thread(target=work, name="demo-command", daemon=True).start()
        # An Event the worker sets last, not Thread.is_alive(): the interrupt may land inside
        # Thread.join(), and stop() must not take a worker still running for one that ended.
        while not done.wait(0.1):
            pass
        ok, value = outcome[0]
        if not ok:
            raise value
        result: T = value
        return result

    def stop(self, timeout: float = 30.0) -> None:
        """Close every host until the worker has ended (or ``timeout`` passed), then once more."""
        deadline = time.monotonic() + timeout
        while not self._done.is_set() and time.monotonic() < deadline:
            self.hosts.close()
            self._done.wait(0.1)
        self.hosts.close()


# ---------------------------------------------------------------------------------------- main


def notice() -> str:
    """The first line: why the harness runs and what it runs."""
    cli = shutil.which("pulumi")
    if cli is None:
        return NOTICE
    # Run directly (python -m tests.harness.demo) beside a CLI: say so instead.
    return NOTICE.replace("No Pulumi CLI found on PATH", f"Not using the Pulumi CLI at {cli}", 1)


def _say(lines: Iterable[str] | str = "") -> None:
    text = lines if isinstance(lines, str) else "\n".join(lines)
    print(text, flush=True)


def run_demo(emulator: Emulator, commands: Commands) -> None:
    """Start the emulator, then preview, up, refresh and destroy the quickstart stack."""
    url = emulator.start()
    _say([f"Kibana Fleet emulator at {url} (pid {emulator.pid})", ""])
    commands.hosts.env["KIBANA_ENDPOINT"] = url
    engine = Engine(commands.hosts, stack=STACK)
    project = Project.load(ROOT).name

    def command(
        label: str,
        run: Callable[[], OperationResult],
        stack_op: str,
        *,
        preview: bool = False,
    ) -> OperationResult:
        # pkg/backend/apply.go ActionLabel: "Previewing update", "Updating", "Refreshing", ...
        _say(f"{label} ({STACK}):")
        started = time.monotonic()
        result = commands.run(run)
        _say(
            render(
                result,
                project=project,
                stack_op=stack_op,
                preview=preview,
                seconds=time.monotonic() - started,
            )
        )
        return result

    command("Previewing update", lambda: engine.preview(ROOT), "create", preview=True)
    command("Updating", lambda: engine.up(ROOT, skip_preview=True), "create")
    command("Refreshing", engine.refresh, "same")
    command("Destroying", engine.destroy, "delete")


def _set_handlers(handler: Any, signums: Iterable[int]) -> dict[int, Any]:
    """Set ``handler`` for each signal; return the handlers they had."""
    return {signum: signal.signal(signum, handler) for signum in signums}


def main() -> int:
    """``make demo`` without the CLI; 0 when every command succeeded."""
    _say(notice())
    # SIGINT raises KeyboardInterrupt already; SIGTERM and SIGHUP stop the demo the same way
    # instead of killing it with its children left running. Only the main thread may set them.
    in_main_thread = threading.current_thread() is threading.main_thread()
    stops = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
    previous: dict[int, Any] = {}
    if in_main_thread:
        previous = {signal.SIGINT: signal.getsignal(signal.SIGINT)}
        previous.update(_set_handlers(_on_signal, stops[1:]))
    emulator = Emulator()
    # The provider reads its connection from the KIBANA_* variables, as under scripts/demo.sh's
    # CLI path; a developer's own KIBANA_* never reach it. The root Pulumi.yaml sets no
    # virtualenv, so the launcher runs PULUMI_PYTHON_CMD (launch.py, pulumi-resource-pulumi-python):
    # this interpreter, as demo.sh sets it for the CLI.
    hosts = Hosts(
        env={
            "KIBANA_ENDPOINT": "",  # the emulator's URL, once it is up
            "KIBANA_USERNAME": "elastic",
            "KIBANA_PASSWORD": "changeme",
            "PULUMI_PYTHON_CMD": os.path.abspath(sys.executable),
        },
        exclude_env=["KIBANA_*"],
    )
    commands = Commands(hosts)
    status = 0
    try:
        run_demo(emulator, commands)
    except KeyboardInterrupt as exc:
        stopped_by = exc.signum if isinstance(exc, Interrupted) else int(signal.SIGINT)
        name = signal.Signals(stopped_by).name
        print(
            f"interrupted ({name}): stopping the provider hosts and the emulator", file=sys.stderr
        )
        status = 128 + stopped_by
    except EngineError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        status = 1
    except Exception as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        status = 1
    finally:
        # A second Ctrl-C (or SIGTERM) must not cut the clean-up short. Caught, not SIG_IGN: a
        # host the worker starts meanwhile would inherit an ignored SIGTERM and outlive close().
        if in_main_thread:
            _set_handlers(_ignore, stops)
        commands.stop()
        emulator.stop()
        if in_main_thread:
            for signum, handler in previous.items():
                signal.signal(signum, handler)
    if status == 0:
        _say(["--- emulator requests ---", *emulator.requests])
    return status


if __name__ == "__main__":
    raise SystemExit(main())
