"""Operator reaction latency, API calls and memory at realistic scale.

    python bench/bench_operator.py [--clusters 20] [--clients 500] [--secrets 2000] [--flips 100] [--realistic]

The operator runs as its own process (`nacos-auth-guard run -A`) against the in-process API server emulator
(tests/support/apiserver.py), as it would against a cluster. Each of --clusters namespaces holds a Nacos
StatefulSet with 3 Pods and its Services, --clients/--clusters Spring client Deployments, and --secrets/--clusters
Secrets (auth keys, client credentials, unrelated ones). Then:
  * flips: delete a client's credentials Secret, time until the check's SecretsResolved condition is False; put it
    back, time until it is True again (each a sample; median and p99);
  * no-op changes: relabel an unrelated Secret, count status writes (must be 0);
  * reads: GET requests the operator makes while it handles all of that (must be 0: it reads its indexes);
  * memory: the operator's RSS and peak RSS (VmHWM).
With --realistic the Secrets that are not Nacos's are what clusters hold: Helm release Secrets (a `release` key of
100-150 KB, --helm-share of them), TLS and service-account-token Secrets, image pull Secrets and small Opaque ones.
Start-up also reports the CPU seconds the emulator and the operator spent until every check was Ready, and how
long the emulator takes to serve every Secret alone (one list, and pages of 100).
"""
from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import urllib.request
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from measure import metric, operator_process, percentile, rss  # noqa: E402
from support.harness import Cluster, free_port  # noqa: E402
from support.objects import (auth_secret, pods_of, secret, service, spring_client,  # noqa: E402
                             statefulset)


def b64(size: int, rng: random.Random) -> str:
    return base64.b64encode(rng.randbytes(size)).decode()


def unrelated_secret(index: int, namespace: str, helm_share: float, rng: random.Random) -> dict:
    """A Secret as clusters hold them, nothing to do with Nacos (sizes of real ones)."""
    draw = rng.random()
    metadata: dict = {"name": f"unrelated-{index:04d}", "namespace": namespace}
    if draw < helm_share:   # data.release: base64 of base64 of gzipped JSON, 100-150 KB in the object
        metadata.update(name=f"sh.helm.release.v1.app-{index:04d}.v{rng.randint(1, 9)}",
                        labels={"owner": "helm", "name": f"app-{index:04d}", "status": "deployed"})
        kind, data = "helm.sh/release.v1", {"release": b64(rng.randint(75_000, 112_000), rng)}
    elif draw < helm_share + 0.15:
        kind, data = "kubernetes.io/tls", {"tls.crt": b64(rng.randint(1_200, 3_500), rng), "tls.key": b64(1_700, rng),
                                           "ca.crt": b64(1_200, rng)}
    elif draw < helm_share + 0.30:
        metadata["annotations"] = {"kubernetes.io/service-account.name": f"sa-{index:04d}"}
        kind, data = "kubernetes.io/service-account-token", {
            "ca.crt": b64(1_100, rng), "namespace": base64.b64encode(namespace.encode()).decode(),
            "token": b64(700, rng)}
    elif draw < helm_share + 0.35:
        kind, data = "kubernetes.io/dockerconfigjson", {".dockerconfigjson": b64(300, rng)}
    else:
        kind, data = "Opaque", {"api-key": b64(24, rng), "url": b64(40, rng)}
    return {"apiVersion": "v1", "kind": "Secret", "metadata": metadata, "type": kind, "data": data}


def populate(cluster: Cluster, clusters: int, clients: int, secrets: int, helm_share: float | None = None
             ) -> list[tuple[str, str]]:
    """Returns (namespace, client secret name) pairs to flip. helm_share: realistic unrelated Secrets."""
    rng = random.Random(15)
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
            objects.append(secret(f"unrelated-{extra:03d}", {"tls.crt": "x" * 64}, ns) if helm_share is None
                           else unrelated_secret(extra, ns, helm_share, rng))
        if helm_share is not None:   # the no-op changes relabel this one
            objects.append(secret("unrelated-000", {"tls.crt": "x" * 64}, ns))
        cluster.apply(*objects)
    return flippable


def ready_state(cluster: Cluster, namespace: str, kind: str = "SecretsResolved") -> str | None:
    obj = cluster.server.peek("nacosguard.io", "v1alpha1", "nacosauthchecks", namespace, "nacos")
    for condition in ((obj or {}).get("status") or {}).get("conditions") or []:
        if condition["type"] == kind:
            return condition["status"]
    return None


def wait(predicate, timeout: float = 30.0, interval: float = 0.001) -> float:
    started = time.perf_counter()
    while not predicate():
        if time.perf_counter() - started > timeout:
            raise SystemExit("timed out waiting for the operator")
        time.sleep(interval)
    return time.perf_counter() - started


def cpu_seconds(stat: str) -> float:
    """utime + stime of a /proc .../stat file."""
    fields = Path(stat).read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def serve_time(port: int, path: str) -> float:
    """Seconds for the emulator to answer a list, following `continue` (the answer read, not parsed)."""
    import json
    started, token = time.perf_counter(), ""
    while True:
        query = f"{'&' if '?' in path else '?'}continue={token}" if token else ""
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}{query}", timeout=300) as response:
            body = response.read()
        if "limit=" not in path:
            return time.perf_counter() - started
        # only the page's tail is parsed for its continue token: the metadata comes before the items
        token = json.loads(body[:body.index(b'"items"')].rstrip(b", ") + b"}")["metadata"].get("continue", "")
        if not token:
            return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--secrets", type=int, default=2000)
    parser.add_argument("--flips", type=int, default=100)
    parser.add_argument("--noops", type=int, default=50)
    parser.add_argument("--realistic", action="store_true",
                        help="unrelated Secrets as clusters hold them: Helm releases, TLS, service-account tokens")
    parser.add_argument("--helm-share", type=float, default=0.25,
                        help="with --realistic: the share of unrelated Secrets that are Helm releases")
    args = parser.parse_args()
    print(f"load average at the start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    with Cluster(namespaces=["default"]) as cluster:
        setup_started = time.perf_counter()
        flippable = populate(cluster, args.clusters, args.clients, args.secrets,
                             args.helm_share if args.realistic else None)
        populated = time.perf_counter() - setup_started
        listed = {label: min(serve_time(cluster.server.port, path) for _ in range(2))
                  for label, path in (("one list", "/api/v1/secrets"), ("pages of 100", "/api/v1/secrets?limit=100"))}
        stored = sum(len(o.get("data", {}).get("release", ""))
                     for o in cluster.server.objects[("", "v1", "secrets")].values())
        metrics_port = free_port()
        emulator_stat = f"/proc/self/task/{cluster.server.thread.native_id}/stat"
        emulator_before = cpu_seconds(emulator_stat)
        with operator_process(cluster.kubeconfig, "--metrics-port", str(metrics_port)) as operator:
            started = time.perf_counter()
            namespaces = sorted({ns for ns, _ in flippable})
            # polled every 20 ms: the poll shares the emulator's GIL
            wait(lambda: all(ready_state(cluster, ns, "Ready") == "True" for ns in namespaces), timeout=600,
                 interval=0.02)
            initial = time.perf_counter() - started
            emulator_cpu = cpu_seconds(emulator_stat) - emulator_before
            operator_cpu = cpu_seconds(f"/proc/{operator.pid}/stat")
            ready_rss = rss(operator.pid)
            print(f"setup: {args.clusters} Nacos clusters, {len(flippable)} clients, "
                  f"{args.secrets} Secrets{' (realistic)' if args.realistic else ''}, {3 * args.clusters} server "
                  f"Pods (objects created in {populated:.1f}s; Helm release payloads {stored / 1e6:.0f} MB)")
            print("emulator serving every Secret alone: " + ", ".join(f"{label} {seconds:.2f}s"
                                                                     for label, seconds in listed.items()))
            print(f"initial: every check Ready in {initial:.2f}s after the operator started (CPU: emulator "
                  f"{emulator_cpu:.1f}s, operator {operator_cpu:.1f}s); operator RSS then {ready_rss[0]} MB, "
                  f"peak {ready_rss[1]} MB")
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
