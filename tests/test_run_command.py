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
from support.objects import NS, healthy_cluster, pods_of, secret, statefulset


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
             "--liveness", f"http://127.0.0.1:{liveness}/healthz", "--metrics-port", str(metrics_port),
             "--metrics-address", "127.0.0.1"],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            cluster.wait_for(lambda: process.poll() is not None or cluster.condition("nacos", "Ready") == "True",
                             timeout=30, message="Ready=True from the run command")
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            assert _get(f"http://127.0.0.1:{liveness}/healthz")[0] == 200
            status, text = _get(f"http://127.0.0.1:{metrics_port}/metrics")
            assert status == 200 and 'nacos_auth_guard_checks{ready="True"} 1.0' in text
            with pytest.raises(OSError):   # bound to 127.0.0.1 only: another loopback address is refused
                _get(f"http://127.0.0.2:{metrics_port}/metrics")
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
        assert process.returncode == 0, output[-3000:]


def test_webhook_only_command_serves_reviews_and_writes_nothing():
    from support.admission import WebhookClient, review
    from support.harness import webhook_ready
    from support.objects import spring_client
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 3),
                      {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
                       "metadata": {"name": "nacos", "namespace": NS},
                       "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny"}})
        writes = sum(cluster.server.count(m) for m in ("POST", "PUT", "PATCH", "DELETE"))
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "nacos_auth_guard.cli", "run", "-A", "--webhook-only", "--log-format", "plain",
             "--webhook-port", str(port), "--webhook-address", "127.0.0.1"],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            cluster.wait_for(lambda: process.poll() is not None or webhook_ready(port), timeout=30,
                             message="the webhook to be ready")
            assert process.poll() is None, process.stdout.read().decode()[-3000:]
            client = WebhookClient(port)
            # the command's default settle window (15 s): a new workload's missing Secret is a warning, not a refusal
            answer = client.answer(review("CREATE", spring_client("billing", secret_name="billing-nacos")))
            assert answer["allowed"] is True and "does not exist yet" in answer["warnings"][0]
            answer = client.answer(review("DELETE", old=secret("orders-nacos", {"username": "orders"})))
            client.close()
            assert answer["allowed"] is False and "NAG101" in answer["status"]["message"]
            assert sum(cluster.server.count(m) for m in ("POST", "PUT", "PATCH", "DELETE")) == writes
            assert "status" not in cluster.check("nacos")
        finally:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0].decode()
        assert process.returncode == 0, output[-3000:]


@pytest.mark.parametrize("args,message", [
    (["--webhook-only"], "--webhook-only needs --webhook-port"),
    (["--webhook-port", "9443", "--webhook-cert", "/nonexistent/tls.crt"], "--webhook-cert and --webhook-key go "
                                                                              "together"),
    (["--webhook-port", "9443", "--webhook-cert", "/nonexistent/tls.crt", "--webhook-key", "/nonexistent/tls.key"],
     "cannot load the webhook certificate /nonexistent/tls.crt with key /nonexistent/tls.key: No such file"),
])
def test_webhook_flags_are_checked_before_start(args, message, capsys):
    from nacos_auth_guard.cli import main
    assert main(["run", *args]) == 2
    assert message in capsys.readouterr().err
