"""``python -m benchmarks.profile_host``: where the provider host's CPU goes, by py-spy.

Runs key lifecycles through a fresh host at loopback speed while ``py-spy record --gil``
samples it (only the thread holding the interpreter lock, so samples are CPU, not waiting),
then prints each part's share: the provider's own code, its HTTP calls, the dynamic-provider
host's marshalling and dispatch, and the gRPC server. Needs py-spy (``pip install py-spy``).
"""

from __future__ import annotations

import argparse
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from benchmarks.emulator import EmulatorProcess
from benchmarks.workloads import CONCURRENCY, PROVIDERS, Engine, configured_host, run_threads

# The first matching rule, walking a sample's stack from the root, names its part.
PARTS = (
    ("provider: HTTP (requests, urllib3, http.client)", ("requests/", "urllib3/", "http/client")),
    ("provider: own code", ("fleet_provider/", "benchmarks/plain_provider")),
    ("host: pulumi marshalling and dispatch", ("pulumi/", "asyncio/", "google/protobuf")),
    ("host: gRPC server", ("grpc/",)),
)
_PROVIDER_FRAME = re.compile(r"fleet_provider/|benchmarks/plain_provider")


def part_of(frames: list[str]) -> str:
    """The part of the host a sample belongs to (see PARTS)."""
    inside_provider = False
    for frame in frames:
        if _PROVIDER_FRAME.search(frame):
            inside_provider = True
        if inside_provider and any(m in frame for m in PARTS[0][1]):
            return PARTS[0][0]
    if inside_provider:
        return PARTS[1][0]
    for name, markers in PARTS[2:]:
        if any(m in frame for frame in frames for m in markers):
            return name
    return "host: threads and queues"


def summarize(raw: Path, top: int) -> str:
    """Shares by part and the functions with the most inclusive samples."""
    parts: Counter[str] = Counter()
    functions: Counter[str] = Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        parts[part_of(frames)] += count
        for name in {re.sub(r" \(.*", "", frame) for frame in frames}:
            functions[name] += count
    if not total:
        return "no samples"
    lines = [f"{total} samples while holding the GIL", "", "share  part"]
    lines += [f"{100 * c / total:5.1f}% {name}" for name, c in parts.most_common()]
    lines += ["", "share  function (inclusive)"]
    lines += [f"{100 * c / total:5.1f}% {name}" for name, c in functions.most_common(top)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Profile the host serving one provider and print where its CPU goes."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile_host", description=__doc__)
    parser.add_argument("--provider", choices=sorted(PROVIDERS), default="fleet")
    parser.add_argument("--n", type=int, default=1000, help="key lifecycles to sample (1000)")
    parser.add_argument("--rate", type=int, default=250, help="samples per second (250)")
    parser.add_argument("--top", type=int, default=30, help="functions to list (30)")
    args = parser.parse_args(argv)
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(py_spy).exists():
        print("py-spy is not installed: pip install py-spy", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp, EmulatorProcess() as emulator:
        raw = Path(tmp) / "host.txt"
        with configured_host(emulator.url) as host:
            engine = Engine(host, PROVIDERS[args.provider]())
            run_threads(2 * CONCURRENCY, CONCURRENCY, lambda i: engine.lifecycle(f"warm-{i}"))
            command = [py_spy, "record", "--pid", str(host.pid), "--gil", "--nonblocking"]
            command += ["--rate", str(args.rate), "--format", "raw", "--output", str(raw)]
            spy = subprocess.Popen(
                command,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
            time.sleep(1.0)  # py-spy attaches
            seconds = run_threads(
                args.n, CONCURRENCY, lambda i: engine.lifecycle(f"{args.provider}-{i}")
            )
            spy.send_signal(signal.SIGINT)
            _, err = spy.communicate(timeout=60)
        if not raw.exists():
            print(f"py-spy wrote nothing: {err.decode(errors='replace')}", file=sys.stderr)
            return 1
        print(f"{args.n} lifecycles through the host ({args.provider}) in {seconds:.2f} s")
        print(summarize(raw, args.top))
    return 0


if __name__ == "__main__":
    sys.exit(main())
