"""The measured workloads: key lifecycles directly over HTTP and through the provider host."""

from __future__ import annotations

import http.client
import os
import re
import statistics
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
from google.protobuf import struct_pb2
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime.proto import provider_pb2

from benchmarks.emulator import PASSWORD, POLICY, USER, EmulatorProcess
from benchmarks.procfs import cpu_seconds, machine_busy_seconds, peak_rss_mib
from fleet_provider.harness.host import ProviderHost
from fleet_provider.harness.wire import to_struct

CONCURRENCY = 4
RESOURCE_TYPE = "pulumi-python:dynamic/fleet:EnrollmentApiKey"
KEYS_PATH = "/api/fleet/enrollment_api_keys"
# The emulator counts by literal path; a key's own path is shown as ".../{id}".
_KEY_ROUTE = re.compile(r"(?<=/enrollment_api_keys)/[^/]+$")
# The provider host must see only the stack config we send, never a developer's own Kibana.
EXCLUDE_ENV = ["KIBANA_*"]


def fleet_provider_blob() -> str:
    """The ``__provider`` input of an EnrollmentApiKey, as the resource serializes it."""
    from fleet_provider.enrollment_api_key import EnrollmentApiKeyProvider  # noqa: PLC0415

    return str(serialize_provider(EnrollmentApiKeyProvider()))


def plain_provider_blob() -> str:
    """The ``__provider`` input of a resource served by the trivial provider."""
    from benchmarks.plain_provider import PlainProvider  # noqa: PLC0415

    return str(serialize_provider(PlainProvider()))


def null_provider_blob() -> str:
    """The ``__provider`` input of a resource served by the provider that makes no HTTP call."""
    from benchmarks.plain_provider import NullProvider  # noqa: PLC0415

    return str(serialize_provider(NullProvider()))


PROVIDERS: dict[str, Callable[[], str]] = {
    "fleet": fleet_provider_blob,
    "plain": plain_provider_blob,
    "null": null_provider_blob,
}


@dataclass
class Run:
    """One measured run: wall time and the CPU each process used meanwhile."""

    seconds: float = 0.0
    emulator_cpu: float = 0.0
    client_cpu: float = 0.0
    host_cpu: float | None = None
    peak_rss_mib: float | None = None
    background_cores: float = 0.0
    rpc_ms: dict[str, float] = field(default_factory=dict)


@contextmanager
def measured(emulator: EmulatorProcess, host_pid: int | None = None) -> Iterator[Run]:
    """Measure what happens in the block: CPU of the emulator, this process and the host.

    ``background_cores`` is the CPU that other processes on the machine used meanwhile, in
    cores: a busy machine makes every number slower and noisier.
    """
    run = Run()
    machine = machine_busy_seconds()
    emulator_cpu = emulator.cpu_seconds()
    client_cpu = time.process_time()
    host_cpu = cpu_seconds(host_pid) if host_pid is not None else 0.0
    started = time.perf_counter()
    yield run
    elapsed = time.perf_counter() - started
    run.emulator_cpu = emulator.cpu_seconds() - emulator_cpu
    run.client_cpu = time.process_time() - client_cpu
    ours = run.emulator_cpu + run.client_cpu
    if host_pid is not None:
        run.host_cpu = cpu_seconds(host_pid) - host_cpu
        ours += run.host_cpu
    run.background_cores = max(0.0, machine_busy_seconds() - machine - ours) / elapsed


def run_threads(n: int, threads: int, work: Callable[[int], None]) -> float:
    """Run ``work(i)`` for i in range(n) on ``threads`` threads; the wall time in seconds."""
    errors: list[BaseException] = []
    start_line = threading.Barrier(threads + 1)

    def worker(first: int) -> None:
        start_line.wait()
        try:
            for i in range(first, n, threads):
                work(i)
        except BaseException as exc:
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(threads)]
    for thread in pool:
        thread.start()
    start_line.wait()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise errors[0]
    return elapsed


# -- direct ------------------------------------------------------------------------------


def direct_lifecycles(
    emulator: EmulatorProcess, n: int, tag: str, threads: int = CONCURRENCY
) -> Run:
    """Create, read and revoke ``n`` keys with ``requests``, one Session per thread."""
    url = emulator.url
    local = threading.local()

    def session() -> requests.Session:
        current: requests.Session | None = getattr(local, "session", None)
        if current is None:
            current = requests.Session()
            current.auth = (USER, PASSWORD)
            current.headers.update({"kbn-xsrf": "true", "elastic-api-version": "2023-10-31"})
            local.session = current
        return current

    def lifecycle(i: int) -> None:
        client = session()
        body = {"policy_id": POLICY, "name": f"{tag}-{i}"}
        created = client.post(f"{url}{KEYS_PATH}", json=body, timeout=30)
        created.raise_for_status()
        key_url = f"{url}{KEYS_PATH}/{created.json()['item']['id']}"
        read = client.get(key_url, timeout=30)
        read.raise_for_status()
        read.json()
        client.delete(key_url, timeout=30).raise_for_status()

    run_threads(threads, threads, lambda i: None)  # threads warm, as in the host runs
    with measured(emulator) as run:
        run.seconds = run_threads(n, threads, lifecycle)
    return run


# -- through the provider host -----------------------------------------------------------


def stack_config(url: str) -> dict[str, str]:
    """The stack config a user sets for the provider, pointing at the emulator."""
    return {"fleet:endpoint": url, "fleet:username": USER, "fleet:password": PASSWORD}


@dataclass
class Engine:
    """Sends Check, Diff, Create, Read and Delete to a host, shaped as the engine sends them.

    Every call's latency, as the engine would see it, is kept per method in ``latency``.
    """

    host: ProviderHost
    blob: str
    stack: str = "bench"
    latency: dict[str, list[float]] = field(default_factory=dict)

    def _call(self, method: str, request: Any) -> Any:
        started = time.perf_counter()
        response = self.host.call(method, request)
        self.latency.setdefault(method, []).append(time.perf_counter() - started)
        return response

    def latency_ms(self) -> dict[str, float]:
        """The median latency of each method so far, in milliseconds."""
        return {m: statistics.median(v) * 1000 for m, v in self.latency.items() if v}

    def urn(self, name: str) -> str:
        """The URN of resource ``name``."""
        return f"urn:pulumi:{self.stack}::fleet-provider::{RESOURCE_TYPE}::{name}"

    def news(self, name: str) -> struct_pb2.Struct:
        """A program's inputs: the policy, the resource name and the serialized provider."""
        return to_struct({"policy_id": POLICY, "resource_name": name, "__provider": self.blob})

    def check(self, name: str, news: struct_pb2.Struct | None = None) -> struct_pb2.Struct:
        """Check(olds={}, news); the checked inputs."""
        response = self._call(
            "Check",
            provider_pb2.CheckRequest(
                urn=self.urn(name),
                name=name,
                type=RESOURCE_TYPE,
                olds=struct_pb2.Struct(),
                news=news if news is not None else self.news(name),
                randomSeed=os.urandom(32),
            ),
        )
        if response.failures:
            raise RuntimeError(f"check failed: {response.failures}")
        inputs: struct_pb2.Struct = response.inputs
        return inputs

    def create(self, name: str, inputs: struct_pb2.Struct) -> tuple[str, struct_pb2.Struct]:
        """Create(properties=checked inputs); the id and the outputs."""
        response = self._call(
            "Create",
            provider_pb2.CreateRequest(
                urn=self.urn(name), name=name, type=RESOURCE_TYPE, properties=inputs
            ),
        )
        if not response.id:
            raise RuntimeError("create returned no id")
        return str(response.id), response.properties

    def diff(
        self, name: str, id_: str, outputs: struct_pb2.Struct, inputs: struct_pb2.Struct
    ) -> Any:
        """Diff(olds=outputs, news=checked inputs, old_inputs=inputs), as in ``pulumi up``."""
        return self._call(
            "Diff",
            provider_pb2.DiffRequest(
                id=id_,
                urn=self.urn(name),
                name=name,
                type=RESOURCE_TYPE,
                olds=outputs,
                news=inputs,
                old_inputs=inputs,
            ),
        )

    def read(
        self, name: str, id_: str, outputs: struct_pb2.Struct, inputs: struct_pb2.Struct
    ) -> tuple[struct_pb2.Struct, struct_pb2.Struct]:
        """Read(properties=outputs, inputs), as in ``pulumi refresh``; new outputs and inputs."""
        response = self._call(
            "Read",
            provider_pb2.ReadRequest(
                id=id_,
                urn=self.urn(name),
                name=name,
                type=RESOURCE_TYPE,
                properties=outputs,
                inputs=inputs,
            ),
        )
        if response.id != id_:
            raise RuntimeError(f"read lost key {id_}")
        return response.properties, (response.inputs if response.HasField("inputs") else inputs)

    def delete(
        self, name: str, id_: str, outputs: struct_pb2.Struct, inputs: struct_pb2.Struct
    ) -> None:
        """Delete(properties=outputs, old_inputs), as in ``pulumi destroy``."""
        self._call(
            "Delete",
            provider_pb2.DeleteRequest(
                id=id_,
                urn=self.urn(name),
                name=name,
                type=RESOURCE_TYPE,
                properties=outputs,
                old_inputs=inputs,
            ),
        )

    def lifecycle(self, name: str, news: struct_pb2.Struct | None = None) -> None:
        """Check, create, read and delete one key."""
        inputs = self.check(name, news)
        id_, outputs = self.create(name, inputs)
        outputs, inputs = self.read(name, id_, outputs, inputs)
        self.delete(name, id_, outputs, inputs)


def start_host() -> ProviderHost:
    """A fresh provider host (``python -m pulumi.dynamic``), not configured yet."""
    return ProviderHost(exclude_env=EXCLUDE_ENV, timeout=120.0)


def configure(host: ProviderHost, url: str) -> None:
    """Configure with the stack config, the password as a secret, as the engine does."""
    host.configure(stack_config(url), secret_keys=["fleet:password"])


@contextmanager
def configured_host(url: str) -> Iterator[ProviderHost]:
    """A fresh, configured provider host, closed afterwards."""
    host = start_host()
    try:
        configure(host, url)
        yield host
    finally:
        host.close()


def host_lifecycles(
    emulator: EmulatorProcess,
    provider: str,
    n: int,
    tag: str,
    warmup: int = 2 * CONCURRENCY,
    threads: int = CONCURRENCY,
) -> Run:
    """``n`` lifecycles through a fresh host serving ``provider`` ("fleet", "plain" or "null").

    A few warm-up lifecycles first (the first call unpickles the provider and imports it);
    the measured lifecycles' inputs are marshalled beforehand, as the engine's would be.
    """
    with configured_host(emulator.url) as host:
        engine = Engine(host, PROVIDERS[provider]())
        run_threads(warmup, threads, lambda i: engine.lifecycle(f"{tag}-warm-{i}"))
        engine.latency.clear()
        names = [f"{tag}-{i}" for i in range(n)]
        news = [engine.news(name) for name in names]
        with measured(emulator, host.pid) as run:
            run.seconds = run_threads(n, threads, lambda i: engine.lifecycle(names[i], news[i]))
        run.peak_rss_mib = peak_rss_mib(host.pid)
        run.rpc_ms = engine.latency_ms()
        return run


def cold_start(emulator: EmulatorProcess, provider: str, tag: str) -> float:
    """Seconds from spawning a host to its first completed create."""
    blob = PROVIDERS[provider]()
    started = time.perf_counter()
    host = start_host()
    try:
        configure(host, emulator.url)
        engine = Engine(host, blob)
        inputs = engine.check(tag)
        engine.create(tag, inputs)
        return time.perf_counter() - started
    finally:
        host.close()


def requests_per_operation(emulator: EmulatorProcess, k: int) -> dict[str, Any]:
    """Kibana requests the emulator counts per check, diff, create, read and delete.

    Runs on a fresh host with no warm-up, so a one-time request would show as a fraction.
    ``check`` asks Kibana about each policy once per command (``fleet_provider/preflight.py``),
    so its figure is per policy: all ``k`` keys share one policy here.
    """
    blob = PROVIDERS["fleet"]()
    result: dict[str, Any] = {}
    with configured_host(emulator.url) as host:
        engine = Engine(host, blob)
        names = [f"count-{i}" for i in range(k)]
        state: dict[str, Any] = {}

        def measure(op: str, step: Callable[[str], None], per: int = k) -> None:
            before = emulator.counts()
            for name in names:
                step(name)
            after = emulator.counts()
            routes: dict[str, int] = {}
            for route, count in after["by_route"].items():
                if count != before["by_route"].get(route, 0):
                    key = _KEY_ROUTE.sub("/{id}", route)
                    routes[key] = routes.get(key, 0) + count - before["by_route"].get(route, 0)
            result[op] = {"per_op": (after["total"] - before["total"]) / per, "routes": routes}

        def check(name: str) -> None:
            state[name] = {"inputs": engine.check(name)}

        def create(name: str) -> None:
            s = state[name]
            s["id"], s["outputs"] = engine.create(name, s["inputs"])

        def diff(name: str) -> None:
            s = state[name]
            response = engine.diff(name, s["id"], s["outputs"], s["inputs"])
            if response.changes != provider_pb2.DiffResponse.DIFF_NONE:
                raise RuntimeError(f"diff of an unchanged key reported changes: {response}")

        def read(name: str) -> None:
            s = state[name]
            s["outputs"], s["inputs"] = engine.read(name, s["id"], s["outputs"], s["inputs"])

        def delete(name: str) -> None:
            s = state[name]
            engine.delete(name, s["id"], s["outputs"], s["inputs"])

        measure("check", check, per=1)  # per policy: one policy for all k keys
        for op, step in (
            ("create", create),
            ("diff", diff),
            ("read", read),
            ("delete", delete),
        ):
            measure(op, step)
    return result


# -- emulator throughput -----------------------------------------------------------------


def emulator_throughput(
    emulator: EmulatorProcess, clients: int, seconds: float = 2.0
) -> dict[str, float]:
    """GET one key over keep-alive connections from ``clients`` threads for about ``seconds``.

    The clients use ``http.client`` (a fraction of ``requests``' CPU per call) so that the
    number is the emulator's and not the client process's.
    """
    created = emulator.admin.create_key(POLICY, f"throughput-{clients}")
    path = f"{KEYS_PATH}/{created['id']}"
    prepared = emulator.admin.http.prepare_request(requests.Request("GET", emulator.url))
    authorization = str(prepared.headers["Authorization"])
    parts = urlsplit(emulator.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    deadline_box: list[float] = []
    counts = [0] * clients
    barrier = threading.Barrier(clients + 1)
    errors: list[BaseException] = []

    def worker(slot: int) -> None:
        connection = http.client.HTTPConnection(host, port, timeout=30)
        barrier.wait()
        deadline = deadline_box[0]
        done = 0
        try:
            while time.perf_counter() < deadline:
                connection.request("GET", path, headers={"Authorization": authorization})
                response = connection.getresponse()
                response.read()
                if response.status != 200:
                    raise RuntimeError(f"GET {path}: {response.status}")
                done += 1
        except BaseException as exc:
            errors.append(exc)
        finally:
            counts[slot] = done
            connection.close()

    pool = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for thread in pool:
        thread.start()
    deadline_box.append(time.perf_counter() + seconds)
    emulator_before = emulator.cpu_seconds()
    started = time.perf_counter()
    barrier.wait()
    for thread in pool:
        thread.join()
    elapsed = time.perf_counter() - started
    emulator_cpu = emulator.cpu_seconds() - emulator_before
    if errors:
        raise errors[0]
    total = sum(counts)
    return {
        "requests_per_s": total / elapsed,
        "emulator_cpu_us_per_request": emulator_cpu / total * 1e6 if total else 0.0,
        "emulator_busy": emulator_cpu / elapsed,
    }
