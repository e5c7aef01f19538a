"""Operator reaction latency, API calls and memory at realistic scale.

    python bench/bench_operator.py [--clusters 20] [--clients 500] [--secrets 2000] [--flips 100]

The operator runs as its own process (`nacos-auth-guard run -A`) against the in-process API server emulator
(tests/support/apiserver.py), as it would against a cluster. Each of --clusters namespaces holds a Nacos
StatefulSet with 3 Pods and its Services, --clients/--clusters Spring client Deployments, and --secrets/--clusters
Secrets (auth keys, client credentials, unrelated ones). Then:
  * flips: delete a client's credentials Secret, time until the check's SecretsResolved condition is False; put it
    back, time until it is True again (each a sample; median and p99);
  * no-op changes: relabel an unrelated Secret, count status writes (must be 0);
  * reads: GET requests the operator makes while it handles all of that (must be 0: it reads its indexes);
  * memory: the operator's RSS and peak RSS (VmHWM).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from measure import metric, operator_process, percentile, rss  # noqa: E402
from support.harness import Cluster, free_port  # noqa: E402
from support.objects import (auth_secret, pods_of, secret, service, spring_client,  # noqa: E402
                             statefulset)


def populate(cluster: Cluster, clusters: int, clients: int, secrets: int) -> list[tuple[str, str]]:
    """Returns (namespace, client secret name) pairs to flip."""
    flippable = []
    per_ns_clients, per_ns_secrets = clients // clusters, secrets // clusters
    for index in range(clusters):
        ns = f"team-{index:02d}"
        cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})
        sts = statefulset(namespace=ns)
        objects = [auth_secret(namespace=ns), sts, service("nacos-headless", {"app": "nacos"}, ns),
                   service("nacos", {"app": "nacos"}, ns, headless=False),
                   *pods_of(sts, ["2026-11-20T08:00:00Z"] * 3)]
        for client in range(per_ns_clients):
            name = f"svc-{client:03d}"
            objects += [secret(f"{name}-nacos", {"username": name, "password": f"pw-{index}-{client}"}, ns),
                        spring_client(name, server=f"nacos-headless.{ns}.svc.cluster.local:8848",
                                      secret_name=f"{name}-nacos", namespace=ns)]
            flippable.append((ns, f"{name}-nacos"))
        for extra in range(max(0, per_ns_secrets - per_ns_clients - 1)):
            objects.append(secret(f"unrelated-{extra:03d}", {"tls.crt": "x" * 64}, ns))
        cluster.apply(*objects)
    return flippable


def ready_state(cluster: Cluster, namespace: str, kind: str = "SecretsResolved") -> str | None:
    obj = cluster.server.peek("nacosguard.io", "v1alpha1", "nacosauthchecks", namespace, "nacos")
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == kind:
            return condition["status"]
    return None


def wait(predicate, timeout: float = 30.0) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit("timed out waiting for the operator")
        time.sleep(0.001)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--secrets", type=int, default=2000)
    parser.add_argument("--flips", type=int, default=100)
    parser.add_argument("--noops", type=int, default=50)
    args = parser.parse_args()
    with Cluster(namespaces=["default"]) as cluster:
        setup_started = time.perf_counter()
        flippable = populate(cluster, args.clusters, args.clients, args.secrets)
        populated = time.perf_counter() - setup_started
        metrics_port = free_port()
        with operator_process(cluster.kubeconfig, "--metrics-port", str(metrics_port)) as operator:
            started = time.perf_counter()
            namespaces = sorted({ns for ns, _ in flippable})
            wait(lambda: all(ready_state(cluster, ns, "Ready") == "True" for ns in namespaces), timeout=120)
            initial = time.perf_counter() - started
            print(f"setup: {args.clusters} Nacos clusters, {len(flippable)} clients, "
                  f"{args.secrets} Secrets, {3 * args.clusters} server Pods "
                  f"(objects created in {populated:.1f}s)")
            print(f"initial: every check Ready in {initial:.2f}s after the operator started")
            time.sleep(1.0)
            reads_before = cluster.server.count("GET")
            writes_before = cluster.server.count("PATCH", "nacosauthchecks")
            reconciles_before = metric(metrics_port, "nacos_auth_guard_reconcile_duration_seconds_count")
            samples = []
            for index in range(args.flips // 2):
                ns, name = flippable[(index * 37) % len(flippable)]
                _, original = cluster.request("GET", f"/api/v1/namespaces/{ns}/secrets/{name}")
                cluster.request("DELETE", f"/api/v1/namespaces/{ns}/secrets/{name}")
                samples.append(wait(lambda: ready_state(cluster, ns) == "False"))
                body = {k: v for k, v in original.items() if k in ("apiVersion", "kind", "data", "type")}
                body["metadata"] = {"name": name, "namespace": ns}
                cluster.request("POST", f"/api/v1/namespaces/{ns}/secrets", body)
                samples.append(wait(lambda: ready_state(cluster, ns) == "True"))
            time.sleep(0.5)
            flip_writes = cluster.server.count("PATCH", "nacosauthchecks") - writes_before
            bench_gets = args.flips // 2   # the benchmark's own GET of each Secret before deleting it
            noop_writes_before = cluster.server.count("PATCH", "nacosauthchecks")
            for index in range(args.noops):
                ns = namespaces[index % len(namespaces)]
                cluster.request("PATCH", f"/api/v1/namespaces/{ns}/secrets/unrelated-000",
                                {"metadata": {"labels": {"touched": str(index)}}})
                cluster.request("PATCH", f"/api/v1/namespaces/{ns}/secrets/nacos-auth",
                                {"metadata": {"labels": {"touched": str(index)}}})
            time.sleep(1.0)
            noop_writes = cluster.server.count("PATCH", "nacosauthchecks") - noop_writes_before
            operator_reads = cluster.server.count("GET") - reads_before - bench_gets
            reconciles = metric(metrics_port, "nacos_auth_guard_reconcile_duration_seconds_count") - reconciles_before
            reconcile_seconds = metric(metrics_port, "nacos_auth_guard_reconcile_duration_seconds_sum")
            total_reconciles = metric(metrics_port, "nacos_auth_guard_reconcile_duration_seconds_count")
            current, peak = rss(operator.pid)
            print(f"secret change -> condition flip ({len(samples)} samples): median {statistics.median(samples) * 1000:.1f} ms, "
                  f"p99 {percentile(samples, 0.99) * 1000:.1f} ms, max {max(samples) * 1000:.1f} ms")
            print(f"reconciles during the run: {reconciles:.0f} (mean evaluation "
                  f"{reconcile_seconds / max(total_reconciles, 1) * 1000:.2f} ms); status writes for "
                  f"{len(samples)} flips: {flip_writes}")
            print(f"API reads (GET) by the operator during the run: {operator_reads} "
                  f"({operator_reads / max(reconciles, 1):.2f} per reconcile)")
            print(f"status writes for {2 * args.noops} no-op changes: {noop_writes}")
            print(f"operator RSS: {current} MB now, {peak} MB peak")


if __name__ == "__main__":
    main()
