"""Live probe cost: one run against emulated Nacos pods on 127.0.0.1 (tests/support/nacos_emulator.py).

    python bench/bench_probe.py [--pods 3,5,7,16] [--repeat 5] [--concurrency 4]

A run is N logins and N*N reads. Reported per cluster size: requests, median wall time of a run, requests/second,
and the time of the pure part (findings from the results). Then the worst cases the limits bound: one pod that
refuses connections, and one that never answers (a 1 s timeout): the run costs about one timeout, not one per
request, because a pod that misses its login gets nothing more.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from nacos_auth_guard.evaluation import parse_spec  # noqa: E402
from nacos_auth_guard.probe import Credentials, probe_findings  # noqa: E402
from nacos_auth_guard.probe_client import run_probe  # noqa: E402
from support.nacos_emulator import NacosEmulator, Node  # noqa: E402

KEY = bytes(range(32))
USERS = {"nacos-probe": "bench-password"}
CREDENTIALS = Credentials("nacos-probe", "bench-password")
SPEC = parse_spec({"metadata": {"name": "nacos", "namespace": "bench"}, "spec": {
    "server": {"statefulSetName": "nacos"}, "probe": {"enabled": True, "credentialsSecretRef": {"name": "p"}}}})


def timed_runs(nodes: dict[str, Node], repeat: int, concurrency: int, timeout: float) -> tuple[list[float], object]:
    with NacosEmulator(nodes) as emulator:
        times, results = [], None
        for _ in range(repeat):
            started = time.perf_counter()
            results = asyncio.run(run_probe(emulator.targets(), CREDENTIALS, timeout=timeout,
                                            concurrency=concurrency))
            times.append(time.perf_counter() - started)
        return times, results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pods", default="3,5,7,16")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    print(f"{'pods':>5} {'requests':>9} {'run ms':>8} {'req/s':>8} {'findings us':>12}")
    for count in (int(n) for n in args.pods.split(",")):
        nodes = {f"nacos-{i}": Node(KEY, dict(USERS)) for i in range(count)}
        times, results = timed_runs(nodes, args.repeat, args.concurrency, 5.0)
        run = statistics.median(times)
        started = time.perf_counter()
        for _ in range(1000):
            probe_findings(SPEC, results)
        pure = (time.perf_counter() - started) / 1000
        print(f"{count:>5} {results.requests:>9} {run * 1000:>8.1f} {results.requests / run:>8.0f} {pure * 1e6:>12.1f}")
    for label, bad in (("refused", Node(KEY, dict(USERS), down=True)),
                       ("silent", Node(KEY, dict(USERS), delay=30))):
        nodes = {f"nacos-{i}": Node(KEY, dict(USERS)) for i in range(2)} | {"nacos-2": bad}
        times, results = timed_runs(nodes, 1, args.concurrency, 1.0)
        print(f"3 pods, one {label}: {results.requests} requests, run {times[0] * 1000:.0f} ms (timeout 1 s)")


if __name__ == "__main__":
    main()
