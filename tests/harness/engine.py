"""A small Pulumi engine that drives the real dynamic-provider host the way the CLI does.

Typical use::

    with Hosts(exclude_env=["KIBANA_*"]) as hosts:
        engine = Engine(hosts, stack="dev")
        engine.up(program, config={"fleet:endpoint": url, "fleet:apiKey": secret(key)})
        engine.refresh()
        engine.destroy()

A program is a callable (it may return a mapping of exports) or a project directory. To make an
input unknown during preview, pass ``unknown_during_preview(value)`` as the input: the provider's
check and diff then receive ``pulumi.output.Unknown`` (the wire sentinel :data:`UNKNOWN`), while
``up`` sends ``value``.

The program runs in-process; its resource monitor is :class:`EngineMonitor`, whose
``RegisterResource`` performs the engine's steps against the host over gRPC and answers with the
real ids and outputs. What the engine does, and where pulumi/pulumi says so:

- every command starts fresh provider hosts, configured once each; ``up`` is a preview run and
  an update run, each in its own host (``pkg/engine/update.go``, ``pkg/backend/apply.go``);
  ``refresh`` and ``destroy`` configure theirs with the config stored in the state at the last
  ``up`` (the default provider's inputs; ``pkg/resource/deploy/target.go``, ``registry.go``),
  unless ``run_program=True`` (``pulumi refresh --run-program``);
- ``up(refresh=True)`` (``pulumi up --refresh``, or ``options: refresh: always`` in Pulumi.yaml,
  ``pkg/cmd/pulumi/operations/io.go``) reads every resource before the program runs, in the
  update's host configured with the stored config (``deployment_executor.go``);
- Check gets the old inputs and the program's inputs with ``ignore_changes`` applied; when Diff
  says replace, Check runs again with no olds and the program's raw inputs ("recompute the
  default values"); ``replace=[...]`` (``pulumi up --replace``) checks once with no olds and
  replaces without a Diff; untargeted resources under ``targets=[...]`` keep their old inputs
  without a Check (``pkg/resource/deploy/step_generator.go``);
- a delete-before-replace whose create fails leaves the old resource in the state, pending
  replacement; the next ``up`` replaces it whatever Diff says, without deleting it again
  (``pkg/resource/deploy/step.go``, ``step_generator.go``);
- aliases find the old state under the old URN; ``retain_on_delete`` skips the provider's Delete;
  ``replace_on_changes`` applies to the keys Diff reports changed; a ``pulumi:autonaming`` config
  without a random part forces delete-before-replace (``step_generator.go``,
  ``pkg/resource/autonaming/strategy.go``);
- registrations run concurrently (``--parallel`` defaults to four per CPU; the Python host
  serves four calls at once), and ``pkg/resource/plugin/provider_plugin.go`` shapes every
  request (secrets stripped, unknowns only in preview).
"""

from __future__ import annotations

import bisect
import hashlib
import json
import os
import re
import threading
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import grpc
import yaml
from google.protobuf import empty_pb2
from pulumi.runtime import mocks
from pulumi.runtime.proto import provider_pb2, resource_pb2

from fleet_provider.harness.host import PROVIDER_TYPE, ProviderHost, ProviderHostError, RpcCall
from fleet_provider.harness.wire import (
    SECRET_SIG,
    SECRET_SIG_KEY,
    UNKNOWN,
    PropertyMap,
    from_struct,
    split_secrets,
    to_struct,
    wrap_secrets,
)
from tests.harness.hosts import Hosts
from tests.harness.program import (
    NoMocks,
    Program,
    Project,
    run_program,
    sent_number,
    unknown_during_preview,
)

__all__ = [
    "UNKNOWN",
    "ConfigSecret",
    "Engine",
    "EngineError",
    "EngineMonitor",
    "Hosts",
    "OperationResult",
    "ProviderHost",
    "ProviderHostError",
    "ResourceState",
    "RpcCall",
    "Step",
    "secret",
    "unknown_during_preview",
]

STACK_TYPE = "pulumi:pulumi:Stack"
DYNAMIC_PREFIX = "pulumi-python:dynamic"
_DIFF_NAMES = {
    provider_pb2.DiffResponse.DIFF_UNKNOWN: "unknown",
    provider_pb2.DiffResponse.DIFF_NONE: "none",
    provider_pb2.DiffResponse.DIFF_SOME: "some",
}
# Steps that are the hidden halves of a replacement; summaries count the "replace" step instead.
_HIDDEN_OPS = {"create-replacement", "delete-replaced"}


@dataclass(frozen=True)
class ConfigSecret:
    """A stack config value set with ``pulumi config set --secret``."""

    value: str

    def __repr__(self) -> str:
        """Never show the value."""
        return "ConfigSecret([secret])"


def secret(value: str) -> ConfigSecret:
    """Mark a stack config value as secret."""
    return ConfigSecret(value)


class EngineError(Exception):
    """A failed deployment step, as the CLI would report it.

    ``details`` is everything the engine got (for a provider exception: the whole Python
    traceback the host sends as gRPC details); ``last_line`` is the line a user reads first.
    """

    def __init__(
        self,
        message: str,
        *,
        op: str = "",
        urn: str = "",
        details: str = "",
        code: grpc.StatusCode | None = None,
    ) -> None:
        """Describe a failure of ``op`` on ``urn``."""
        super().__init__(message)
        self.message = message
        self.op = op
        self.urn = urn
        self.details = details or message
        self.code = code
        self.steps: list[Step] = []

    @property
    def last_line(self) -> str:
        """The last non-empty line of the details (for a traceback: ``ExcType: message``)."""
        lines = [line for line in self.details.splitlines() if line.strip()]
        return lines[-1].strip() if lines else ""

    def __str__(self) -> str:
        """The message followed by the full details, as the CLI prints them."""
        if self.details and self.details != self.message:
            return f"{self.message}\n{self.details}"
        return self.message


def _flag(
    request: resource_pb2.RegisterResourceRequest, name: Literal["retainOnDelete", "protect"]
) -> bool:
    """A bool option: ``optional`` (with presence) in newer protos, a plain bool in older ones."""
    try:
        return request.HasField(name) and bool(getattr(request, name))
    except ValueError:  # "does not have presence"
        return bool(getattr(request, name))


@dataclass
class ResourceOptionsState:
    """The resource options the engine keeps in state for a resource."""

    delete_before_replace: bool | None = None
    additional_secret_outputs: list[str] = field(default_factory=list)
    retain_on_delete: bool = False
    protect: bool = False
    dependencies: list[str] = field(default_factory=list)
    replace_on_changes: list[str] = field(default_factory=list)
    ignore_changes: list[str] = field(default_factory=list)
    aliases: list[Any] = field(default_factory=list)
    """The request's ``aliases`` (``alias_pb2.Alias``: a URN or a spec)."""

    @classmethod
    def from_request(cls, request: resource_pb2.RegisterResourceRequest) -> ResourceOptionsState:
        """Read the options off a RegisterResource request."""
        return cls(
            delete_before_replace=(
                request.deleteBeforeReplace if request.deleteBeforeReplaceDefined else None
            ),
            additional_secret_outputs=list(request.additionalSecretOutputs),
            retain_on_delete=_flag(request, "retainOnDelete"),
            protect=_flag(request, "protect"),
            dependencies=list(request.dependencies),
            replace_on_changes=list(request.replaceOnChanges),
            ignore_changes=list(request.ignoreChanges),
            aliases=list(request.aliases),
        )


@dataclass
class ResourceState:
    """One resource in the stack state; values are plain, secretness is kept per top-level key."""

    urn: str
    type: str
    id: str
    inputs: PropertyMap
    outputs: PropertyMap
    secret_inputs: set[str]
    secret_outputs: set[str]
    options: ResourceOptionsState
    parent: str = ""
    delete: bool = False
    """True for the old half of a create-before-delete replacement still awaiting its delete."""
    pending_replacement: bool = False
    """True once a delete-before-replace deleted it and its replacement is not created yet."""

    @property
    def name(self) -> str:
        """The resource's logical name (last URN segment)."""
        return self.urn.rsplit("::", 1)[-1]

    def wire_inputs(self) -> PropertyMap:
        """Inputs with their secrets wrapped."""
        return wrap_secrets(self.inputs, self.secret_inputs)

    def wire_outputs(self) -> PropertyMap:
        """Outputs with their secrets wrapped."""
        return wrap_secrets(self.outputs, self.secret_outputs)


@dataclass(frozen=True)
class Step:
    """One step of an operation: ``op`` is Pulumi's step op (create, same, update, replace,
    create-replacement, delete-replaced, delete, refresh); ``detail`` holds what decided it."""

    op: str
    urn: str
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """The resource's logical name."""
        return self.urn.rsplit("::", 1)[-1]


@dataclass
class OperationResult:
    """What an operation did: its steps, the resources' outputs (plain) and the stack exports."""

    kind: str
    steps: list[Step]
    outputs: dict[str, PropertyMap]
    secret_outputs: dict[str, set[str]]
    exports: PropertyMap
    secret_exports: set[str]

    def ops(self, name: str | None = None) -> list[str]:
        """Ops in order: of one resource by name, or all as ``"op:name"``."""
        if name is not None:
            return [s.op for s in self.steps if s.name == name]
        return [f"{s.op}:{s.name}" for s in self.steps]

    def step(self, name: str, op: str) -> Step:
        """The (first) step ``op`` of resource ``name``."""
        for s in self.steps:
            if s.name == name and s.op == op:
                return s
        raise KeyError(f"no {op} step for {name}: {self.ops()}")

    @property
    def changes(self) -> dict[str, int]:
        """Counts per op, like the CLI summary (a replacement counts once, as "replace")."""
        return dict(Counter(s.op for s in self.steps if s.op not in _HIDDEN_OPS))


@dataclass
class _Diff:
    changes: str
    replaces: list[str]
    delete_before_replace: bool
    changed_keys: list[str]

    def as_detail(self) -> dict[str, Any]:
        return {
            "changes": self.changes,
            "replaces": self.replaces,
            "delete_before_replace": self.delete_before_replace,
        }


PARALLEL = (os.cpu_count() or 1) * 4
"""Steps in flight at once: ``pulumi up --parallel`` defaults to four per CPU since v3.100
(``pkg/cmd/pulumi/operations/up.go``); the Python host itself serves four at a time."""

AUTONAMING_KEY = "pulumi:autonaming"
# The pattern functions that add randomness (pkg/resource/autonaming/pattern.go).
_RANDOM_PARTS = re.compile(r"\$\{(hex|alphanum|string|num)\(\d+\)\}|\$\{uuid\}")


def autonaming_forces_delete_first(config: Mapping[str, Any], resource_type: str) -> bool:
    """Whether the stack's ``pulumi:autonaming`` config makes replacements delete-first.

    ``pkg/resource/autonaming/strategy.go``: ``verbatim`` and ``disabled`` give delete-before-
    replace, and so does a ``pattern`` without a random part; ``step_generator.go`` then sets
    the resource's deleteBeforeReplace, for dynamic resources too (the Python host never
    receives the autonaming options). The most specific entry wins: the resource type, then
    the package (``providers.pulumi-python``), then the top level.
    """
    raw = config.get(AUTONAMING_KEY)
    if raw is None:
        return False
    settings: Any = yaml.safe_load(raw) if isinstance(raw, str) else raw
    if not isinstance(settings, Mapping):
        return False
    package = (settings.get("providers") or {}).get("pulumi-python") or {}
    by_type = (package.get("resources") or {}).get(resource_type) or {}
    for entry in (by_type, package, settings):
        if "pattern" in entry:
            return _RANDOM_PARTS.search(str(entry["pattern"])) is None
        if entry.get("mode") in ("verbatim", "disabled"):
            return True
        if entry.get("mode") == "default":
            return False
    return False


class EngineMonitor(mocks.MockMonitor):
    """The resource monitor the program talks to; its RegisterResource is the engine."""

    def __init__(self, deployment: _Deployment) -> None:
        """Serve one program run of ``deployment``."""
        super().__init__(NoMocks())
        self.deployment = deployment

    def RegisterResource(self, request: Any) -> Any:
        """Run the engine's steps for one resource and answer with its real id and outputs."""
        return self.deployment.register(request)

    def RegisterResourceOutputs(self, request: Any) -> Any:
        """Capture the stack's exports."""
        self.deployment.register_outputs(request)
        return empty_pb2.Empty()


class _Command:
    """One engine run: a provider host started when first needed, configured once."""

    def __init__(
        self, engine: Engine, config: Mapping[str, str], secret_keys: Iterable[str]
    ) -> None:
        self.engine = engine
        self.config = dict(config)
        self.secret_keys = set(secret_keys)
        self._host: ProviderHost | None = None
        self._lock = threading.Lock()

    def host(self) -> ProviderHost:
        """The command's host; the engine loads the plugin at its first use."""
        with self._lock:
            if self._host is None:
                host = self.engine.hosts.start(self.engine.project_dir)
                self._host = host
                self.engine._call_host(lambda: host.configure(self.config, self.secret_keys), "")
            return self._host

    def close(self) -> None:
        """End the host, as the CLI ends its plugins after the run."""
        with self._lock:
            if self._host is not None:
                self._host.close()


class Engine:
    """One stack: its state, config and the commands run with fresh hosts from ``hosts``."""

    def __init__(
        self,
        hosts: Hosts,
        *,
        project: str = "fleet-provider",
        stack: str = "test",
        organization: str = "organization",
        refresh_always: bool = False,
    ) -> None:
        """A new, empty stack; ``refresh_always`` is Pulumi.yaml's ``options: refresh: always``."""
        self.hosts = hosts
        self.project = project
        self.stack = stack
        self.organization = organization
        self.refresh_always = refresh_always
        self.preview_before_up = True
        """``pulumi up`` previews first; False is ``--skip-preview``."""
        self.parallel = PARALLEL
        """``--parallel``: how many resource steps run at once (1 makes a run deterministic)."""
        self.project_dir: Path | None = None
        self.state: dict[str, ResourceState] = {}
        self.pending_deletes: list[ResourceState] = []
        self.exports: PropertyMap = {}
        self.secret_exports: set[str] = set()
        self.config: dict[str, str] = {}
        self.secret_config_keys: set[str] = set()
        self.stored_config: dict[str, str] = {}
        """The default provider's inputs in the state: the stack config of the last ``up``."""
        self.stored_secret_keys: set[str] = set()
        self.last_preview: OperationResult | None = None
        """The preview phase of the latest ``up``."""
        self._command: _Command | None = None
        self._lock = threading.RLock()
        self._op_lock = threading.Lock()
        self._salt = os.urandom(16)

    @property
    def host(self) -> ProviderHost:
        """The host of the latest command."""
        return self.hosts.last

    # ----------------------------------------------------------------- config

    def set_config(
        self, config: Mapping[str, str | ConfigSecret], secret_keys: Iterable[str] = ()
    ) -> None:
        """Replace the stack config (keys ``namespace:key``; values strings or ``secret(...)``)."""
        keys = set(secret_keys)
        self.config = {
            k: v.value if isinstance(v, ConfigSecret) else str(v) for k, v in config.items()
        }
        self.secret_config_keys = {
            k for k, v in config.items() if isinstance(v, ConfigSecret) or k in keys
        }

    def load_state(self, resources: Iterable[Mapping[str, Any]]) -> None:
        """Start from a saved state (as :meth:`saved_state` writes it), like ``stack import``."""
        with self._lock:
            self.state = {}
            for entry in resources:
                res = ResourceState(
                    urn=str(entry["urn"]),
                    type=str(entry["type"]),
                    id=str(entry["id"]),
                    inputs=dict(entry["inputs"]),
                    outputs=dict(entry["outputs"]),
                    secret_inputs=set(entry.get("secret_inputs", ())),
                    secret_outputs=set(entry.get("secret_outputs", ())),
                    options=ResourceOptionsState(
                        additional_secret_outputs=list(entry.get("additional_secret_outputs", ()))
                    ),
                )
                self.state[res.urn] = res

    def saved_state(self) -> list[dict[str, Any]]:
        """The resources with plain values, for :meth:`load_state` (secret keys listed)."""
        with self._lock:
            return [
                {
                    "urn": res.urn,
                    "type": res.type,
                    "id": res.id,
                    "inputs": res.inputs,
                    "outputs": res.outputs,
                    "secret_inputs": sorted(res.secret_inputs),
                    "secret_outputs": sorted(res.secret_outputs),
                    "additional_secret_outputs": res.options.additional_secret_outputs,
                }
                for res in self.state.values()
            ]

    # ------------------------------------------------------------- operations

    def up(
        self,
        program: Program,
        config: Mapping[str, str | ConfigSecret] | None = None,
        *,
        secret_keys: Iterable[str] = (),
        skip_preview: bool = False,
        refresh: bool | None = None,
        targets: Iterable[str] = (),
        replace: Iterable[str] = (),
    ) -> OperationResult:
        """Run ``pulumi up``: its preview, then the update, each with a host of its own.

        ``refresh`` is ``--refresh`` (by default the project's ``refresh: always``), ``targets``
        ``--target`` and ``replace`` ``--replace``, each by resource name. Raises EngineError.
        """
        with self._op_lock:
            if config is not None:
                self.set_config(config, secret_keys)
            self._use_program(program)
            refresh = self._refresh_option(refresh)
            options = _RunOptions(set(targets), set(replace))
            if self.preview_before_up and not skip_preview:
                self.last_preview = self._run(program, options, refresh, dry_run=True)
            return self._run(program, options, refresh, dry_run=False)

    def preview(
        self,
        program: Program,
        config: Mapping[str, str | ConfigSecret] | None = None,
        *,
        secret_keys: Iterable[str] = (),
        refresh: bool | None = None,
        targets: Iterable[str] = (),
        replace: Iterable[str] = (),
    ) -> OperationResult:
        """Run ``pulumi preview``: only Check, Diff (and Read with ``refresh``) reach the host."""
        with self._op_lock:
            if config is not None:
                self.set_config(config, secret_keys)
            self._use_program(program)
            options = _RunOptions(set(targets), set(replace))
            return self._run(program, options, self._refresh_option(refresh), dry_run=True)

    def refresh(self, *, run_program: bool = False) -> OperationResult:
        """Run ``pulumi refresh``: Read each resource, then Diff like the engine's refresh step.

        The host is configured with the config stored at the last ``up`` (``--run-program``:
        the current stack config).
        """
        with self._op_lock:
            command = self._stored_command(run_program)
            try:
                return self._refresh_all(command, dry_run=False)
            finally:
                self._end(command)

    def destroy(self, *, run_program: bool = False) -> OperationResult:
        """Run ``pulumi destroy``: Delete every resource in reverse order (retainOnDelete skips)."""
        with self._op_lock:
            command = self._stored_command(run_program)
            self._begin(command)
            steps: list[Step] = []
            try:
                if self.refresh_always and self.state:
                    # options: refresh: always applies to destroy too (operations/io.go).
                    self._refresh_all(command, dry_run=False)
                with self._lock:
                    doomed = [*self.pending_deletes[::-1], *list(self.state.values())[::-1]]
                for res in doomed:
                    steps.append(self.delete(res, "delete"))
            except EngineError as exc:
                exc.steps = steps
                raise
            finally:
                self._end(command)
            self.exports, self.secret_exports = {}, set()
            return self._result("destroy", steps)

    # --------------------------------------------------------------- commands

    def _use_program(self, program: Program) -> None:
        if isinstance(program, (str, os.PathLike)):
            project = Project.load(program)
            self.project_dir = project.root
            if project.refresh_always:
                self.refresh_always = True
        else:
            self.project_dir = None

    def _refresh_option(self, refresh: bool | None) -> bool:
        # An explicit --refresh[=bool] wins over the project option (operations/io.go).
        return self.refresh_always if refresh is None else refresh

    def _stored_command(self, run_program: bool) -> _Command:
        if run_program or not self.stored_config:
            return _Command(self, self.config, self.secret_config_keys)
        return _Command(self, self.stored_config, self.stored_secret_keys)

    def _begin(self, command: _Command) -> None:
        self._command = command

    def _end(self, command: _Command) -> None:
        command.close()
        self._command = None

    def _run(
        self, program: Program, options: _RunOptions, refresh: bool, *, dry_run: bool
    ) -> OperationResult:
        """One engine run of the program (preview or update), with its own host(s)."""
        saved = self._snapshot() if dry_run else None
        command = self._stored_command(run_program=False)
        try:
            if refresh and self.state:
                self._refresh_all(command, dry_run=dry_run)
            if command.config != self.config or command.secret_keys != self.secret_config_keys:
                # A changed config configures a new plugin process for the program's resources
                # and closes the one that read (registry.go Update, setProviderAndCloseOld).
                self._end(command)
                command = _Command(self, self.config, self.secret_config_keys)
            self._begin(command)
            if not dry_run:
                # The default provider is registered with the program's config first.
                self.stored_config = dict(self.config)
                self.stored_secret_keys = set(self.secret_config_keys)
            return _Deployment(self, dry_run=dry_run, options=options).run(program)
        finally:
            self._end(command)
            if saved is not None:
                self._restore(saved)

    def _snapshot(self) -> tuple[dict[str, ResourceState], list[ResourceState]]:
        with self._lock:
            return dict(self.state), list(self.pending_deletes)

    def _restore(self, saved: tuple[dict[str, ResourceState], list[ResourceState]]) -> None:
        with self._lock:
            self.state, self.pending_deletes = dict(saved[0]), list(saved[1])

    def _refresh_all(self, command: _Command, *, dry_run: bool) -> OperationResult:
        self._begin(command)
        steps: list[Step] = []
        try:
            with self._lock:
                resources = [*self.state.values(), *self.pending_deletes]
            for res in resources:
                # "Component, provider, and pending-replace resources never change with a
                # refresh" (step.go).
                if not res.pending_replacement:
                    steps.append(self._refresh_one(res))
        except EngineError as exc:
            exc.steps = steps
            raise
        return self._result("refresh", steps)

    def _refresh_one(self, old: ResourceState) -> Step:
        # step.go RefreshStep.Apply: Read with the old outputs as properties and the old inputs.
        resp = self.rpc(
            "Read",
            provider_pb2.ReadRequest(
                id=old.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                properties=to_struct(old.outputs),
                inputs=to_struct(old.inputs),
            ),
            old.urn,
        )
        if not resp.id:
            # "If the ID is blank treat this as a delete" (step.go): the resource leaves the state.
            self._forget(old)
            return Step("refresh", old.urn, {"deleted": True})
        outputs, provider_secrets = split_secrets(from_struct(resp.properties))
        # annotateSecrets: outputs that were secret in the old state stay secret.
        secret_outputs = provider_secrets | (old.secret_outputs & outputs.keys())
        secret_outputs |= set(old.options.additional_secret_outputs) & outputs.keys()
        inputs, secret_inputs = old.inputs, old.secret_inputs
        if resp.HasField("inputs"):
            inputs, provider_secrets = split_secrets(from_struct(resp.inputs))
            secret_inputs = provider_secrets | (old.secret_inputs & inputs.keys())
        new = replace(
            old,
            id=resp.id,
            inputs=inputs,
            outputs=outputs,
            secret_inputs=secret_inputs,
            secret_outputs=secret_outputs,
        )
        self._put(old, new)
        # step.go: after a refresh the engine diffs the refreshed state against the old inputs
        # (olds=refreshed outputs, news=old inputs) to show what the refresh changed.
        diff = self.diff(new, old.inputs, inputs)
        return Step(
            "refresh",
            old.urn,
            {"deleted": False, "outputs_changed": outputs != old.outputs, **diff.as_detail()},
        )

    # ------------------------------------------------------ provider requests

    def rpc(self, method: str, request: Any, urn: str) -> Any:
        """Send one RPC; a gRPC error (provider exception: UNKNOWN + traceback) → EngineError."""
        command = self._command
        if command is None:
            raise EngineError(f"{urn}: {method} outside of a command", op=method, urn=urn)
        host = command.host()
        return self._call_host(lambda: host.call(method, request), urn, method)

    def _call_host(self, send: Callable[[], Any], urn: str, method: str = "Configure") -> Any:
        try:
            return send()
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            details = (exc.details() if isinstance(exc, grpc.Call) else None) or str(exc)
            last = [line for line in details.splitlines() if line.strip()]
            raise EngineError(
                f"{urn or 'provider'}: {method} failed: {last[-1].strip() if last else code}",
                op=method,
                urn=urn,
                details=details,
                code=code,
            ) from None

    def check(
        self, urn: str, typ: str, olds: PropertyMap, news: PropertyMap, secret_news: set[str]
    ) -> tuple[PropertyMap, set[str]]:
        """Check; failures become an EngineError worded like the CLI's."""
        resp = self.rpc(
            "Check",
            provider_pb2.CheckRequest(
                urn=urn,
                name=urn.rsplit("::", 1)[-1],
                type=typ,
                olds=to_struct(olds),
                news=to_struct(news),
                randomSeed=os.urandom(32),
            ),
            urn,
        )
        if resp.failures:
            name = urn.rsplit("::", 1)[-1]
            # diag.GetResourcePropertyInvalidValueError / GetResourceInvalidError wording.
            lines = [
                f"{typ} resource '{name}': property {f.property} value {{{news.get(f.property)}}}"
                f" has a problem: {f.reason}"
                if f.property
                else f"{typ} resource '{name}' has a problem: {f.reason}"
                for f in resp.failures
            ]
            raise EngineError(lines[-1], op="Check", urn=urn, details="\n".join(lines))
        checked = from_struct(resp.inputs)
        # annotateSecrets(checked, news): an input that was secret stays secret.
        return checked, secret_news & checked.keys()

    def diff(
        self,
        old: ResourceState,
        news: PropertyMap,
        old_inputs: PropertyMap,
        *,
        ignore_changes: Iterable[str] = (),
    ) -> _Diff:
        """Diff(olds=old OUTPUTS, news, old_inputs); DIFF_UNKNOWN falls back to an input diff."""
        resp = self.rpc(
            "Diff",
            provider_pb2.DiffRequest(
                id=old.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                olds=to_struct(old.outputs),
                news=to_struct(news),
                old_inputs=to_struct(old_inputs),
                ignoreChanges=list(ignore_changes),
            ),
            old.urn,
        )
        changes = _DIFF_NAMES.get(resp.changes, "unknown")
        changed = list(resp.diffs)
        if changes == "unknown":
            # step_generator.go diffResource: an unknown diff becomes the engine's own diff of the
            # old and new inputs (__provider included, hence pulumi/pulumi#12401).
            changed = sorted(
                k for k in old_inputs.keys() | news.keys() if old_inputs.get(k) != news.get(k)
            )
            changes = "some" if changed else "none"
        return _Diff(changes, list(resp.replaces), resp.deleteBeforeReplace, changed)

    def create(
        self,
        urn: str,
        typ: str,
        inputs: PropertyMap,
        secret_inputs: set[str],
        parent: str,
        options: ResourceOptionsState,
    ) -> ResourceState:
        """Create; the new state gets the engine's secret annotations."""
        resp = self.rpc(
            "Create",
            provider_pb2.CreateRequest(
                urn=urn, name=urn.rsplit("::", 1)[-1], type=typ, properties=to_struct(inputs)
            ),
            urn,
        )
        if not resp.id:
            raise EngineError(
                f"{urn}: plugin returned empty resource.ID from create", op="Create", urn=urn
            )
        outputs, secret_outputs = self._annotate(
            from_struct(resp.properties), secret_inputs, options
        )
        return ResourceState(
            urn, typ, resp.id, inputs, outputs, set(secret_inputs), secret_outputs, options, parent
        )

    def update(
        self,
        old: ResourceState,
        inputs: PropertyMap,
        secret_inputs: set[str],
        options: ResourceOptionsState,
    ) -> ResourceState:
        """Update(olds=old outputs, news=checked inputs, old_inputs)."""
        resp = self.rpc(
            "Update",
            provider_pb2.UpdateRequest(
                id=old.id,
                urn=old.urn,
                name=old.name,
                type=old.type,
                olds=to_struct(old.outputs),
                news=to_struct(inputs),
                old_inputs=to_struct(old.inputs),
                ignoreChanges=options.ignore_changes,
            ),
            old.urn,
        )
        outputs, secret_outputs = self._annotate(
            from_struct(resp.properties), secret_inputs, options
        )
        return replace(
            old,
            inputs=inputs,
            outputs=outputs,
            secret_inputs=set(secret_inputs),
            secret_outputs=secret_outputs,
            options=options,
        )

    def delete(self, res: ResourceState, op: str, *, pending_replacement: bool = False) -> Step:
        """Delete(id, properties=outputs, old_inputs) unless retainOnDelete; drop from state.

        With ``pending_replacement`` (the delete of a delete-before-replace) the resource stays
        in the state marked pending replacement, set only once the delete succeeded (step.go).
        """
        if res.options.protect:
            raise EngineError(
                f"{res.urn}: unable to delete resource as it is currently marked for protection",
                op="Delete",
                urn=res.urn,
            )
        # A resource pending replacement was deleted already (step_generator.go emits no step
        # for it); retainOnDelete, read from the old state, skips the provider (step.go).
        if not res.options.retain_on_delete and not res.pending_replacement:
            self.rpc(
                "Delete",
                provider_pb2.DeleteRequest(
                    id=res.id,
                    urn=res.urn,
                    name=res.name,
                    type=res.type,
                    properties=to_struct(res.outputs),
                    old_inputs=to_struct(res.inputs),
                ),
                res.urn,
            )
        if pending_replacement:
            self._put(res, replace(res, pending_replacement=True))
        else:
            self._forget(res)
        return Step(op, res.urn, {"id": res.id, "retained": res.options.retain_on_delete})

    @staticmethod
    def _annotate(
        wire_outputs: PropertyMap, secret_inputs: set[str], options: ResourceOptionsState
    ) -> tuple[PropertyMap, set[str]]:
        """Outputs and their secret keys after a create/update, as the engine marks them.

        Secrets the provider returned stay secret (outputs are unmarshalled with KeepSecrets);
        annotateSecrets marks outputs whose same-named input was secret; the step executor then
        applies additionalSecretOutputs (step_executor.go).
        """
        outputs, secret_outputs = split_secrets(wire_outputs)
        secret_outputs |= secret_inputs & outputs.keys()
        secret_outputs |= set(options.additional_secret_outputs) & outputs.keys()
        return outputs, secret_outputs

    # ------------------------------------------------------------------ state

    def _put(self, old: ResourceState | None, new: ResourceState) -> None:
        """Store ``new`` in place of ``old`` (same position), or append it."""
        with self._lock:
            if old is not None and old.delete:
                self.pending_deletes = [new if r is old else r for r in self.pending_deletes]
                return
            if old is not None and old.urn != new.urn and self.state.get(old.urn) is old:
                # An aliased resource keeps its place in the state under its new URN.
                self.state = {new.urn if u == old.urn else u: r for u, r in self.state.items()}
            self.state[new.urn] = new

    def _forget(self, res: ResourceState) -> None:
        with self._lock:
            if res.delete:
                self.pending_deletes = [r for r in self.pending_deletes if r is not res]
            elif self.state.get(res.urn) is res:
                del self.state[res.urn]

    def resource(self, name: str) -> ResourceState:
        """The live (not pending-delete) resource named ``name``."""
        found = [r for r in self.state.values() if r.name == name]
        if len(found) != 1:
            raise KeyError(f"{len(found)} resources named {name!r} in state")
        return found[0]

    def outputs(self, name: str) -> PropertyMap:
        """The plain outputs of the resource named ``name``."""
        return dict(self.resource(name).outputs)

    @property
    def stack_urn(self) -> str:
        """The URN of the stack resource."""
        return f"urn:pulumi:{self.stack}::{self.project}::{STACK_TYPE}::{self.project}-{self.stack}"

    @property
    def provider_urn(self) -> str:
        """The URN of the default pulumi-python provider."""
        return f"urn:pulumi:{self.stack}::{self.project}::{PROVIDER_TYPE}::default"

    def _result(self, kind: str, steps: list[Step]) -> OperationResult:
        resources = list(self.state.values())
        return OperationResult(
            kind,
            steps,
            {r.name: dict(r.outputs) for r in resources},
            {r.name: set(r.secret_outputs) for r in resources},
            dict(self.exports),
            set(self.secret_exports),
        )

    def _encrypt(self, value: Any) -> dict[str, str]:
        # Like `pulumi stack export` without --show-secrets: the ciphertext never holds the value.
        digest = hashlib.sha256(self._salt + json.dumps(value, sort_keys=True).encode())
        return {SECRET_SIG_KEY: SECRET_SIG, "ciphertext": f"v1:{digest.hexdigest()[:24]}"}

    def _encrypted(self, values: PropertyMap, secret_keys: set[str]) -> PropertyMap:
        return {k: self._encrypt(v) if k in secret_keys else v for k, v in values.items()}

    def state_dict(self) -> dict[str, Any]:
        """The state as Pulumi stores it (``pulumi stack export``), secrets as ciphertext."""
        exports = self._encrypted(self.exports, self.secret_exports)
        provider_ref = f"{self.provider_urn}::{hashlib.sha256(self._salt).hexdigest()[:8]}"
        # The default provider's inputs are the whole stack config (default_providers.go).
        config = self._encrypted(dict(self.stored_config), self.stored_secret_keys)
        resources: list[dict[str, Any]] = [
            {"urn": self.stack_urn, "custom": False, "type": STACK_TYPE, "outputs": exports},
            {
                "urn": self.provider_urn,
                "custom": True,
                "id": provider_ref.rsplit("::", 1)[-1],
                "type": PROVIDER_TYPE,
                "inputs": config,
                "outputs": config,
            },
        ]
        for res in [*self.state.values(), *self.pending_deletes]:
            entry: dict[str, Any] = {
                "urn": res.urn,
                "custom": True,
                "id": res.id,
                "type": res.type,
                "inputs": self._encrypted(res.inputs, res.secret_inputs),
                "outputs": self._encrypted(res.outputs, res.secret_outputs),
                "parent": res.parent or self.stack_urn,
                "provider": provider_ref,
                "dependencies": res.options.dependencies,
                "additionalSecretOutputs": res.options.additional_secret_outputs,
            }
            if res.options.retain_on_delete:
                entry["retainOnDelete"] = True
            if res.options.protect:
                entry["protect"] = True
            if res.options.delete_before_replace is not None:
                entry["deleteBeforeReplace"] = res.options.delete_before_replace
            if res.delete:
                entry["delete"] = True
            if res.pending_replacement:
                entry["pendingReplacement"] = True
            resources.append(entry)
        return {"version": 3, "deployment": {"resources": resources}, "exports": exports}

    def state_json(self) -> str:
        """:meth:`state_dict` as JSON text, to scan for plaintext secrets."""
        return json.dumps(self.state_dict(), indent=2, sort_keys=True)


@dataclass(frozen=True)
class _RunOptions:
    """The command-line choices of one run: ``--target`` and ``--replace``, by resource name."""

    targets: set[str] = field(default_factory=set)
    replace: set[str] = field(default_factory=set)

    def targeted(self, urn: str) -> bool:
        """Whether ``--target`` leaves the resource in this run (everything, without targets)."""
        return not self.targets or urn.rsplit("::", 1)[-1] in self.targets

    def replaces(self, urn: str) -> bool:
        """Whether ``--replace`` names the resource."""
        return urn.rsplit("::", 1)[-1] in self.replace


class _Deployment:
    """One run of a program (up or preview): the engine side of the resource monitor."""

    def __init__(self, engine: Engine, *, dry_run: bool, options: _RunOptions) -> None:
        self.engine = engine
        self.dry_run = dry_run
        self.options = options
        self.steps: list[Step] = []
        self.seen: list[str] = []
        """Registered URNs in the order the program sent them, not the order they arrived in."""
        self._sent: dict[str, tuple[float, int]] = {}
        self.claimed: set[str] = set()
        self.responses: dict[str, tuple[PropertyMap, set[str]]] = {}
        self.replaced: list[ResourceState] = []
        self.failure: EngineError | None = None
        self.exports: PropertyMap = {}
        self.secret_exports: set[str] = set()
        self.old_order = list(engine.state)
        self.project = engine.project
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(engine.parallel)

    # ------------------------------------------------------------- the run

    def run(self, program: Program) -> OperationResult:
        """Run the program, then the deletes; raise the first EngineError of the run."""
        engine = self.engine
        monitor = EngineMonitor(self)
        try:
            run_program(
                program,
                monitor=monitor,
                project=engine.project,
                stack=engine.stack,
                organization=engine.organization,
                dry_run=self.dry_run,
                config=engine.config,
                secret_keys=engine.secret_config_keys,
            )
        except Exception as exc:
            error = self.failure or EngineError(
                f"program failed: {type(exc).__name__}: {exc}",
                op="program",
                details="".join(traceback.format_exception(exc)),
            )
            self._reorder()
            error.steps = list(self.steps)
            raise error from exc
        if self.failure is not None:  # the program swallowed the error; the engine does not
            self._reorder()
            self.failure.steps = list(self.steps)
            raise self.failure
        with engine._lock:
            try:
                self._delete_condemned()
            except EngineError as exc:
                self._reorder()
                exc.steps = list(self.steps)
                raise
            self._reorder()
            if not self.dry_run:
                engine.exports, engine.secret_exports = self.exports, self.secret_exports
        return self._result()

    def _result(self) -> OperationResult:
        if not self.dry_run:
            result = self.engine._result("up", self.steps)
            return result
        outputs = {urn.rsplit("::", 1)[-1]: v[0] for urn, v in self.responses.items()}
        secrets = {urn.rsplit("::", 1)[-1]: v[1] for urn, v in self.responses.items()}
        return OperationResult(
            "preview", self.steps, outputs, secrets, self.exports, self.secret_exports
        )

    def _reorder(self) -> None:
        """Registered resources in registration order (dependencies first), then the rest."""
        if self.dry_run:
            return
        with self.engine._lock:
            state = self.engine.state
            order = [u for u in self.seen if u in state] + [u for u in state if u not in self.seen]
            self.engine.state = {u: state[u] for u in order}

    def _delete_condemned(self) -> None:
        """Delete replaced and no-longer-declared resources, dependents first.

        step_generator.go GenerateDeletes/ScheduleDeletes: after the program, resources pending
        delete (old halves of replacements) and resources the program no longer registers are
        deleted in reverse dependency order; the old state's order is a topological order.
        Under ``--target`` only targeted resources are deleted.
        """
        engine = self.engine
        position = {urn: i for i, urn in enumerate(self.old_order)}
        pending = engine.pending_deletes + (self.replaced if self.dry_run else [])
        condemned = [(position.get(r.urn, -1), "delete-replaced", r) for r in pending]
        condemned += [
            (position[u], "delete", engine.state[u])
            for u in self.old_order
            if u not in self.claimed and u in engine.state and self.options.targeted(u)
        ]
        for _, op, res in sorted(condemned, key=lambda c: c[0], reverse=True):
            if self.dry_run:
                self.steps.append(Step(op, res.urn, {"id": res.id}))
            else:
                self.steps.append(engine.delete(res, op))

    # ---------------------------------------------------------- monitor side

    def urn(self, parent: str, typ: str, name: str) -> str:
        """A URN as the engine builds it: children of the stack carry no parent type."""
        if parent and parent != self.stack_urn:
            typ = parent.split("::")[2] + "$" + typ
        return f"urn:pulumi:{self.engine.stack}::{self.project}::{typ}::{name}"

    @property
    def stack_urn(self) -> str:
        """The stack's URN (its project may come from the program's Pulumi.yaml)."""
        stack = self.engine.stack
        return f"urn:pulumi:{stack}::{self.project}::{STACK_TYPE}::{self.project}-{stack}"

    def register_outputs(self, request: Any) -> None:
        """RegisterResourceOutputs: the stack's outputs are the program's exports."""
        if request.urn == self.stack_urn:
            self.exports, self.secret_exports = split_secrets(from_struct(request.outputs))

    def register(self, request: Any) -> Any:
        """RegisterResource: the engine's step generation and execution for one resource."""
        if request.type == STACK_TYPE:
            self.project = request.name[: -len(self.engine.stack) - 1]
            self.engine.project = self.project
            return resource_pb2.RegisterResourceResponse(urn=self.stack_urn)
        urn = self.urn(request.parent, request.type, request.name)
        if not request.custom:  # a component: nothing to do but acknowledge it
            return resource_pb2.RegisterResourceResponse(urn=urn, object=request.object)
        with self._lock:
            if self.failure is not None:
                raise EngineError(
                    f"{urn}: not registered, the deployment stopped after an earlier error",
                    op="RegisterResource",
                    urn=urn,
                )
            try:
                if not request.type.startswith(DYNAMIC_PREFIX) or request.importId:
                    raise EngineError(
                        f"{urn}: the harness engine only handles pulumi-python dynamic resources"
                        " without import",
                        op="RegisterResource",
                        urn=urn,
                    )
                if urn in self.seen:
                    raise EngineError(f"Duplicate resource URN '{urn}'", urn=urn)
            except EngineError as exc:
                self.failure = exc
                raise
            number = sent_number()
            self._sent[urn] = (float("inf") if number is None else number, len(self._sent))
            bisect.insort(self.seen, urn, key=self._sent.__getitem__)
        try:
            # Steps of independent resources run side by side, up to --parallel at once.
            with self._slots:
                resource_id, outputs, secret_keys = self._step(urn, request)
        except EngineError as exc:
            with self._lock:
                self.failure = self.failure or exc
            raise
        with self._lock:
            self.responses[urn] = (outputs, secret_keys)
        return resource_pb2.RegisterResourceResponse(
            urn=urn, id=resource_id, object=to_struct(wrap_secrets(outputs, secret_keys))
        )

    def _add(self, step: Step) -> None:
        with self._lock:
            self.steps.append(step)

    def _old(self, urn: str, request: Any) -> ResourceState | None:
        """The old state: under the URN first, then under each alias (getOldResource)."""
        engine = self.engine
        with engine._lock, self._lock:
            candidates = [urn, *(self._alias_urn(alias, request) for alias in request.aliases)]
            for candidate in candidates:
                old = engine.state.get(candidate)
                if old is not None and candidate not in self.claimed:
                    self.claimed.add(candidate)
                    return old
            self.claimed.add(urn)
        return None

    def _alias_urn(self, alias: Any, request: Any) -> str:
        """The URN an alias names: its URN, or its spec filled in from the resource."""
        if alias.urn:
            return str(alias.urn)
        spec = alias.spec
        parent = self.stack_urn if spec.noParent else (spec.parentUrn or request.parent)
        name = spec.name or request.name
        typ = spec.type or request.type
        stack = spec.stack or self.engine.stack
        project = spec.project or self.project
        if parent and parent != self.stack_urn:
            typ = parent.split("::")[2] + "$" + typ
        return f"urn:pulumi:{stack}::{project}::{typ}::{name}"

    def _step(self, urn: str, request: Any) -> tuple[str, PropertyMap, set[str]]:
        """Choose and run the step; return the id and outputs the program sees."""
        engine = self.engine
        options = ResourceOptionsState.from_request(request)
        # Secrets are stripped: the host answered Configure with acceptSecrets=False, so the
        # engine marshals every CRUD request with KeepSecrets=false (provider_plugin.go).
        raw_news, secret_news = split_secrets(from_struct(request.object))
        old = self._old(urn, request)
        if autonaming_forces_delete_first(engine.config, request.type):
            # step_generator.go: "If autonaming settings had no randomness in the name, we must
            # delete before creating a replacement" - over any resource option.
            options = replace(options, delete_before_replace=True)
        if not self.options.targeted(urn):
            return self._untargeted(urn, old, raw_news, secret_news, options)
        if old is None or self.options.replaces(urn):
            # A new resource, or one targeted by --replace: one Check with no olds and the
            # program's raw inputs (isTargetedReplace ignores the old state).
            checked, secret_checked = engine.check(urn, request.type, {}, raw_news, secret_news)
            if old is None:
                return self._create(urn, request, checked, secret_checked, options, "create")
            diff = _Diff("some", ["id"], False, [])
            return self._replace(urn, request, old, (checked, secret_checked), diff, options)
        # step_generator.go processIgnoreChanges: ignored inputs keep their old values.
        news = dict(raw_news)
        for key in options.ignore_changes:
            if key in old.inputs:
                news[key] = old.inputs[key]
            else:
                news.pop(key, None)
        checked, secret_checked = engine.check(urn, request.type, old.inputs, news, secret_news)
        diff = engine.diff(old, checked, old.inputs, ignore_changes=options.ignore_changes)
        if diff.changes == "some":
            # applyReplaceOnChanges: changed keys named by replaceOnChanges ("*" = all) replace.
            roc = set(options.replace_on_changes)
            diff.replaces += [
                k for k in diff.changed_keys if ("*" in roc or k in roc) and k not in diff.replaces
            ]
        if (diff.changes == "some" and diff.replaces) or old.pending_replacement:
            # "we need to recompute the default values": the replacement is checked again with
            # no olds and the program's raw inputs, without ignore_changes.
            renewed = engine.check(urn, request.type, {}, raw_news, secret_news)
            return self._replace(urn, request, old, renewed, diff, options)
        if diff.changes == "some":
            return self._update(old, urn, checked, secret_checked, diff, options)
        return self._same(old, urn, checked, secret_checked, options, diff)

    def _untargeted(
        self,
        urn: str,
        old: ResourceState | None,
        news: PropertyMap,
        secret_news: set[str],
        options: ResourceOptionsState,
    ) -> tuple[str, PropertyMap, set[str]]:
        # step_generator.go: "If not targeted, stub out the provider check and use the old
        # inputs directly"; a new untargeted resource is not created (SkippedCreate).
        if old is None:
            self._add(Step("skipped-create", urn))
            return "", news, secret_news
        self._add(Step("same", urn, {"targeted": False}))
        if not self.dry_run:
            self.engine._put(old, replace(old, urn=urn))
        return old.id, old.outputs, old.secret_outputs

    def _create(
        self,
        urn: str,
        request: Any,
        inputs: PropertyMap,
        secret_inputs: set[str],
        options: ResourceOptionsState,
        op: str,
        detail: Mapping[str, Any] | None = None,
        *,
        replacing: ResourceState | None = None,
    ) -> tuple[str, PropertyMap, set[str]]:
        if self.dry_run:
            # provider_plugin.go Create: with supportsPreview=False the preview outputs are the
            # inputs and the id is unknown ("").
            self._add(Step(op, urn, dict(detail or {})))
            return "", inputs, secret_inputs
        new = self.engine.create(urn, request.type, inputs, secret_inputs, request.parent, options)
        # A replacement takes the place of the resource pending replacement.
        self.engine._put(replacing, new)
        self._add(Step(op, urn, {"id": new.id, **(detail or {})}))
        return new.id, new.outputs, new.secret_outputs

    def _same(
        self,
        old: ResourceState,
        urn: str,
        inputs: PropertyMap,
        secret_inputs: set[str],
        options: ResourceOptionsState,
        diff: _Diff,
    ) -> tuple[str, PropertyMap, set[str]]:
        # step.go SameStep: the new state takes the new inputs and keeps the old outputs; the
        # step executor re-applies additionalSecretOutputs.
        secret_outputs = old.secret_outputs | (
            set(options.additional_secret_outputs) & old.outputs.keys()
        )
        self._add(Step("same", urn, diff.as_detail()))
        if not self.dry_run:
            new = replace(
                old,
                urn=urn,
                inputs=inputs,
                secret_inputs=set(secret_inputs),
                secret_outputs=secret_outputs,
                options=options,
            )
            self.engine._put(old, new)
        return old.id, old.outputs, secret_outputs

    def _update(
        self,
        old: ResourceState,
        urn: str,
        inputs: PropertyMap,
        secret_inputs: set[str],
        diff: _Diff,
        options: ResourceOptionsState,
    ) -> tuple[str, PropertyMap, set[str]]:
        detail = {**diff.as_detail(), "changed": diff.changed_keys}
        if self.dry_run:
            # provider_plugin.go Update: not sent in preview; the outputs are the new inputs.
            self._add(Step("update", urn, detail))
            return old.id, inputs, secret_inputs
        new = self.engine.update(old, inputs, secret_inputs, options)
        self.engine._put(old, replace(new, urn=urn))
        self._add(Step("update", urn, detail))
        return new.id, new.outputs, new.secret_outputs

    def _replace(
        self,
        urn: str,
        request: Any,
        old: ResourceState,
        renewed: tuple[PropertyMap, set[str]],
        diff: _Diff,
        options: ResourceOptionsState,
    ) -> tuple[str, PropertyMap, set[str]]:
        engine = self.engine
        inputs, secret_inputs = renewed
        # The resource option overrides the provider's deleteBeforeReplace.
        dbr = diff.delete_before_replace
        if options.delete_before_replace is not None:
            dbr = options.delete_before_replace
        detail = {**diff.as_detail(), "delete_before_replace": dbr}
        if dbr or old.pending_replacement:
            if old.pending_replacement:
                # "If the resource is already pending replacement we don't need to emit any
                # step": it was deleted by the run that failed to create its replacement.
                pass
            elif self.dry_run:
                self._add(Step("delete-replaced", urn, {"id": old.id}))
            else:
                self._add(engine.delete(old, "delete-replaced", pending_replacement=True))
            self._add(Step("replace", urn, detail))
            return self._create(
                urn, request, inputs, secret_inputs, options, "create-replacement", replacing=old
            )
        # Create-before-delete: create the replacement; the old one is deleted after the
        # program, and stays in state as pending delete until then. A failed create keeps it.
        if self.dry_run:
            result = self._create(
                urn, request, inputs, secret_inputs, options, "create-replacement"
            )
            self._add(Step("replace", urn, detail))
            with self._lock:
                self.replaced.append(old)
            return result
        new = engine.create(urn, request.type, inputs, secret_inputs, request.parent, options)
        with engine._lock:
            engine.pending_deletes.append(replace(old, delete=True))
            engine._put(old, new)
        self._add(Step("create-replacement", urn, {"id": new.id, **detail}))
        self._add(Step("replace", urn, detail))
        return new.id, new.outputs, new.secret_outputs
