"""``python -m benchmarks``: the provider through the real host against direct HTTP calls.

Measures, in one run with interleaved rounds and medians: the lifecycle of N keys through the
dynamic-provider host over gRPC against the same calls made with ``requests`` (at loopback
speed and with every Fleet request delayed), the provider's own CPU per lifecycle, Kibana
requests per operation, cold start, the emulator's throughput, and the host's peak memory.
Prints a table and writes a JSON file.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.emulator import EmulatorProcess
from benchmarks.workloads import (
    CONCURRENCY,
    Run,
    cold_start,
    direct_lifecycles,
    emulator_throughput,
    host_lifecycles,
    requests_per_operation,
)

DEFAULT_OUT = Path(__file__).resolve().parent / "results" / "latest.json"
HTTP_PER_LIFECYCLE = 3  # create, read, delete; check asks about each policy once per host

TARGETS = {
    "ratio_loopback": 1.6,
    "ratio_delay": 1.15,
    "cold_start_ratio": 1.2,
    "emulator_rps_8": 1000.0,
}
# check: one GET of the agent policy per policy per command (per host), not per key.
REQUESTS_PER_OP = {"check": 1, "diff": 0, "create": 1, "read": 1, "delete": 1}
# The direct baseline is emulator-bound, and a ratio meaningless, when it asks for more than
# this share of the emulator's measured capacity, or keeps the emulator this busy.
SATURATION_SHARE = 0.7
SATURATION_BUSY = 0.8
# Other processes using this much CPU (in cores) during the runs make the numbers suspect.
BUSY_MACHINE_CORES = 0.25
MODES = {
    "direct": "direct requests",
    "fleet": "provider host",
    "plain": "host, trivial provider",
    "null": "host, no-HTTP provider",
}


def log(message: str) -> None:
    """Progress on stderr."""
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def machine() -> dict[str, Any]:
    """Where the numbers were taken."""
    model = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu": model,
        "python": platform.python_version(),
        "platform": platform.platform(),
        # Set, hosts compile the provider's sources on every start (no .pyc is written).
        "PYTHONDONTWRITEBYTECODE": os.environ.get("PYTHONDONTWRITEBYTECODE", ""),
    }


def median(values: list[float]) -> float:
    """The median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


def lifecycle_rounds(
    emulator: EmulatorProcess, n: int, rounds: int, delay_ms: float, modes: list[str]
) -> dict[str, list[Run]]:
    """Interleaved rounds of each mode (see MODES); the order rotates every round."""
    runs: dict[str, list[Run]] = {mode: [] for mode in modes}
    for r in range(rounds):
        order = modes[r % len(modes) :] + modes[: r % len(modes)]
        for mode in order:
            emulator.reset()  # a clean store each run; reset also clears faults
            emulator.delay(delay_ms)
            tag = f"{mode}-{int(delay_ms)}-{r}"
            if mode == "direct":
                run = direct_lifecycles(emulator, n, tag)
            else:
                run = host_lifecycles(emulator, mode, n, tag)
            runs[mode].append(run)
            log(
                f"delay {delay_ms:g} ms, round {r + 1}/{rounds}, {mode}: {run.seconds:.2f} s"
                f" (host CPU {run.host_cpu or 0:.2f} s, emulator CPU {run.emulator_cpu:.2f} s,"
                f" others {run.background_cores:.2f} cores)"
            )
    emulator.delay(0)
    return runs


def summarize_lifecycle(runs: dict[str, list[Run]], n: int, capacity: float) -> dict[str, Any]:
    """Medians per mode, the ratio provider/direct, and whether the ratio means anything."""
    seconds = {mode: median([r.seconds for r in rs]) for mode, rs in runs.items()}
    direct, fleet = seconds["direct"], seconds["fleet"]
    direct_rps = HTTP_PER_LIFECYCLE * n / direct
    busy = median([r.emulator_cpu / r.seconds for r in runs["direct"]])
    reasons = []
    if capacity and direct_rps > SATURATION_SHARE * capacity:
        reasons.append(
            f"the direct baseline asked {direct_rps:.0f} req/s, over {SATURATION_SHARE:.0%} of "
            f"the emulator's {capacity:.0f} req/s"
        )
    if busy > SATURATION_BUSY:
        reasons.append(f"the emulator was {busy:.0%} busy during the direct baseline")
    rpc_ms = {
        mode: {
            method: median([r.rpc_ms[method] for r in rs if method in r.rpc_ms])
            for method in ("Check", "Create", "Read", "Delete")
        }
        for mode, rs in runs.items()
        if mode != "direct"
    }
    return {
        "seconds": seconds,
        "ms_per_lifecycle": {mode: s / n * 1000 for mode, s in seconds.items()},
        "ratio": None if reasons else fleet / direct,
        "ratio_refused": "; ".join(reasons) or None,
        "direct_requests_per_s": direct_rps,
        "emulator_busy_during_direct": busy,
        "background_cores": median([r.background_cores for rs in runs.values() for r in rs]),
        "rpc_latency_ms": rpc_ms,
        "runs": {mode: [dataclasses.asdict(r) for r in rs] for mode, rs in runs.items()},
    }


def main(argv: list[str] | None = None) -> int:
    """Run every benchmark, print the table, write the JSON file."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--n", type=int, default=300, help="keys per lifecycle run (300)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds (7)")
    parser.add_argument("--delay-ms", type=float, default=20.0, help="the slow-Kibana delay (20)")
    parser.add_argument("--count-keys", type=int, default=20, help="keys per request count (20)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="the JSON file to write")
    args = parser.parse_args(argv)
    if args.n < CONCURRENCY or args.rounds < 1 or args.count_keys < 1:
        parser.error(f"--n must be at least {CONCURRENCY}, --rounds and --count-keys at least 1")

    started = time.perf_counter()
    results: dict[str, Any] = {
        "machine": machine(),
        "parameters": {
            "n": args.n,
            "rounds": args.rounds,
            "delay_ms": args.delay_ms,
            "concurrency": CONCURRENCY,
            "count_keys": args.count_keys,
        },
        "targets": TARGETS,
    }
    with EmulatorProcess() as emulator:
        log(f"emulator at {emulator.url} (pid {emulator.pid})")

        log("emulator throughput")
        emulator.reset()
        throughput = {str(c): emulator_throughput(emulator, c) for c in (1, 4, 8)}
        results["emulator_throughput"] = throughput
        capacity = max(t["requests_per_s"] for t in throughput.values())

        log("requests per operation")
        emulator.reset()
        results["requests_per_op"] = requests_per_operation(emulator, args.count_keys)

        log("cold start")
        cold: dict[str, list[float]] = {"fleet": [], "plain": []}
        for r in range(args.rounds):
            for mode in ("fleet", "plain") if r % 2 == 0 else ("plain", "fleet"):
                emulator.reset()
                cold[mode].append(cold_start(emulator, mode, f"cold-{mode}-{r}"))
        results["cold_start"] = {
            "fleet_s": median(cold["fleet"]),
            "plain_s": median(cold["plain"]),
            "ratio": median(cold["fleet"]) / median(cold["plain"]),
            "runs": cold,
        }

        log(f"lifecycles of {args.n} keys at loopback speed")
        loopback = lifecycle_rounds(
            emulator, args.n, args.rounds, 0.0, ["direct", "fleet", "plain", "null"]
        )
        results["lifecycle_loopback"] = summarize_lifecycle(loopback, args.n, capacity)

        log(f"lifecycles of {args.n} keys with every Fleet request delayed {args.delay_ms:g} ms")
        delayed = lifecycle_rounds(
            emulator, args.n, args.rounds, args.delay_ms, ["direct", "fleet"]
        )
        results["lifecycle_delay"] = summarize_lifecycle(delayed, args.n, capacity)
        emulator.reset()

    def cpu_ms(mode: str) -> float:
        return median([(r.host_cpu or 0.0) / args.n for r in loopback[mode]]) * 1000

    results["host_cpu_per_lifecycle"] = {
        "fleet_ms": cpu_ms("fleet"),
        "plain_ms": cpu_ms("plain"),
        "null_ms": cpu_ms("null"),
        "provider_own_ms": cpu_ms("fleet") - cpu_ms("plain"),
        "direct_client_ms": median([r.client_cpu / args.n for r in loopback["direct"]]) * 1000,
    }
    results["peak_rss_mib"] = {
        mode: max(r.peak_rss_mib or 0.0 for r in loopback[mode]) for mode in ("fleet", "plain")
    }
    results["peak_rss_mib"]["after_resources"] = args.n + 2 * CONCURRENCY
    results["met"] = targets_met(results)
    results["elapsed_s"] = time.perf_counter() - started

    print(render(results))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    log(f"wrote {args.out} after {results['elapsed_s']:.0f} s")
    return 0


def targets_met(results: dict[str, Any]) -> dict[str, bool | None]:
    """Each target: met (True), missed (False) or not measurable (None)."""

    def at_most(value: float | None, limit: float) -> bool | None:
        return None if value is None else value <= limit

    per_op = results["requests_per_op"]
    return {
        "ratio_loopback": at_most(
            results["lifecycle_loopback"]["ratio"], TARGETS["ratio_loopback"]
        ),
        "ratio_delay": at_most(results["lifecycle_delay"]["ratio"], TARGETS["ratio_delay"]),
        "requests_per_op": all(per_op[op]["per_op"] == REQUESTS_PER_OP[op] for op in per_op),
        "cold_start_ratio": at_most(results["cold_start"]["ratio"], TARGETS["cold_start_ratio"]),
        "emulator_rps_8": results["emulator_throughput"]["8"]["requests_per_s"]
        >= TARGETS["emulator_rps_8"],
    }


def render(results: dict[str, Any]) -> str:
    """The results as a plain-text table."""
    p = results["parameters"]
    met = results["met"]
    rows: list[tuple[str, str, str, str]] = []

    def mark(key: str) -> str:
        return {True: "yes", False: "NO", None: "n/a"}[met.get(key)]

    def lifecycle(label: str, key: str, target_key: str) -> None:
        s = results[key]
        seconds = s["seconds"]
        ratio = "refused" if s["ratio"] is None else f"{s['ratio']:.2f}"
        rows.append(
            (
                f"1. lifecycle {label}: provider host / direct",
                f"{seconds['fleet']:.2f} s / {seconds['direct']:.2f} s = {ratio}",
                f"<= {TARGETS[target_key]}",
                mark(target_key),
            )
        )
        for mode in ("plain", "null"):
            if mode in seconds:
                rows.append((f"   {MODES[mode]}", f"{seconds[mode]:.2f} s", "", ""))
        if s["ratio_refused"]:
            rows.append(("   ratio refused", s["ratio_refused"], "", ""))
        if s["background_cores"] > BUSY_MACHINE_CORES:
            rows.append(
                (
                    "   warning: busy machine",
                    f"other processes used {s['background_cores']:.2f} cores meanwhile",
                    "",
                    "",
                )
            )

    lifecycle("loopback", "lifecycle_loopback", "ratio_loopback")
    lifecycle(f"{p['delay_ms']:g} ms", "lifecycle_delay", "ratio_delay")
    cpu = results["host_cpu_per_lifecycle"]
    rows.append(
        (
            "2. host CPU per lifecycle: provider - trivial",
            f"{cpu['fleet_ms']:.2f} - {cpu['plain_ms']:.2f} = {cpu['provider_own_ms']:+.2f} ms",
            "",
            "",
        )
    )
    rows.append(("   host, no-HTTP provider", f"{cpu['null_ms']:.2f} ms", "", ""))
    rows.append(("   direct requests, client CPU", f"{cpu['direct_client_ms']:.2f} ms", "", ""))
    per_op = results["requests_per_op"]
    rows.append(
        (
            "3. requests per op: " + ", ".join(per_op),
            ", ".join(f"{per_op[op]['per_op']:g}" for op in per_op),
            ", ".join(str(REQUESTS_PER_OP[op]) for op in per_op),
            mark("requests_per_op"),
        )
    )
    cold = results["cold_start"]
    rows.append(
        (
            "4. cold start to first create: provider / trivial",
            f"{cold['fleet_s']:.2f} s / {cold['plain_s']:.2f} s = {cold['ratio']:.2f}",
            f"<= {TARGETS['cold_start_ratio']}",
            mark("cold_start_ratio"),
        )
    )
    tp = results["emulator_throughput"]
    rows.append(
        (
            "5. emulator GET one key, 1 / 8 clients",
            f"{tp['1']['requests_per_s']:.0f} / {tp['8']['requests_per_s']:.0f} req/s",
            f">= {TARGETS['emulator_rps_8']:.0f} at 8",
            mark("emulator_rps_8"),
        )
    )
    rss = results["peak_rss_mib"]
    rows.append(
        (
            f"6. host peak RSS after {rss['after_resources']} keys: provider (trivial)",
            f"{rss['fleet']:.1f} MiB ({rss['plain']:.1f} MiB)",
            "",
            "",
        )
    )
    header = ("metric", f"N={p['n']}, {p['rounds']} rounds, medians", "target", "met")
    widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]

    def line(row: tuple[str, str, str, str]) -> str:
        return " | ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip()

    sep = "-+-".join("-" * w for w in widths)
    return "\n".join([line(header), sep, *(line(row) for row in rows)])


if __name__ == "__main__":
    sys.exit(main())
