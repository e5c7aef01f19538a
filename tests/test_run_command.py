"""`nacos-auth-guard run` as users start it: its own process, configured only by flags and the kubeconfig.

The e2e tests drive kopf in a thread through the harness; this one proves the command line itself starts the
operator (cluster-wide and namespaced), serves liveness and metrics, and stops cleanly on SIGTERM.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from support.harness import Cluster, free_port
from support.objects import NS, healthy_cluster, pods_of, statefulset


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return response.status, response.read().decode()


@pytest.mark.parametrize("scope", [["-A"], ["-n", NS]], ids=["cluster-wide", "namespaced"])
def test_run_command_starts_serves_and_stops(scope):
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 3))
        liveness, metrics_port = free_port(), free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "nacos_auth_guard.cli", "run", *scope, "--log-format", "plain",
             "--liveness", f"http://127.0.0.1:{liveness}/healthz", "--metrics-port", str(metrics_port)],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            cluster.wait_for(lambda: process.poll() is not None or cluster.condition("nacos", "Ready") == "True",
                             timeout=30, message="Ready=True from the run command")
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            assert _get(f"http://127.0.0.1:{liveness}/healthz")[0] == 200
            status, text = _get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert status == 200 and 'nacos_auth_guard_checks{ready="True"} 1.0' in text
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
        assert process.returncode == 0, output[-3000:]
