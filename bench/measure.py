"""What the operator benchmarks share: the operator as its own process against the API emulator, and how they read
it (Prometheus metrics, RSS from /proc, percentiles)."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import urllib.request
from pathlib import Path
from typing import Iterator


@contextlib.contextmanager
def operator_process(kubeconfig: str, *args: str) -> Iterator[subprocess.Popen]:
    """`nacos-auth-guard run -A ARGS`, logging to $BENCH_LOG (default: nowhere) in $BENCH_LOG_FORMAT (plain)."""
    command = [sys.executable, "-m", "nacos_auth_guard.cli", "run", "-A", "--resync-seconds", "3600",
               "--log-format", os.environ.get("BENCH_LOG_FORMAT", "plain"), *args]
    with open(os.environ.get("BENCH_LOG", os.devnull), "wb") as log:
        operator = subprocess.Popen(command, env={**os.environ, "KUBECONFIG": kubeconfig}, stdout=log,
                                    stderr=subprocess.STDOUT)
        try:
            yield operator
        finally:
            operator.terminate()
            operator.wait(30)


def rss(pid: int) -> tuple[int, int]:
    """(current, peak) resident memory of a process, in MB."""
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    return int(fields["VmRSS"].split()[0]) // 1024, int(fields["VmHWM"].split()[0]) // 1024


def metric(port: int, name: str) -> float:
    """The sum of a metric's samples (all label sets) on the operator's /metrics."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
               if line.startswith(name + " ") or line.startswith(name + "{"))


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]
