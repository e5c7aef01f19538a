"""Admission latency under a steady load, with a realistic cluster indexed.

    python bench/bench_admission.py [--clusters 20] [--clients 500] [--secrets 2000] [--rate 50] [--duration 30]
                                    [--http]

The operator runs as its own process (`nacos-auth-guard run -A --webhook-port ...`, HTTPS with a certificate made
here) against the in-process API server emulator (tests/support/apiserver.py). Each of --clusters namespaces holds
a Nacos StatefulSet with 3 Pods and its Services, --clients/--clusters Spring client Deployments with their
credentials Secrets, and unrelated Secrets up to --secrets in all; half the namespaces' checks enforce Deny, the
other half Warn, and a few namespaces have no check at all. Once every index is loaded (/readyz), this process
sends --rate AdmissionReviews per second for --duration seconds (open loop: each request leaves on schedule,
whether or not the previous ones were answered) over keep-alive connections of its own aiohttp client, a mix of:
new Deployments with and without a missing Secret, relabelled Deployments, Secret edits (unrelated, and a rotated
token key), deletions of Secrets in use and unused, StatefulSet updates, ConfigMaps, and objects no check governs.
Reported: median, p99 and max latency (request sent -> answer read), errors, the answers by outcome, the server's
own decision time (from its metrics), and the operator's RSS and peak RSS (VmHWM).
"""
from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import ssl
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import aiohttp  # noqa: E402

from measure import metric, operator_process, percentile, rss  # noqa: E402
from support.admission import certificate, path_of, review  # noqa: E402
from support.harness import Cluster, free_port, webhook_ready  # noqa: E402
from support.objects import (KEY_B, auth_secret, pods_of, secret, service, spring_client,  # noqa: E402
                             statefulset)

STARTED = "2026-11-20T08:00:00Z"


def namespace_of(index: int) -> str:
    return f"team-{index:02d}"


def populate(cluster: Cluster, clusters: int, clients: int, secrets: int, unchecked: int) -> None:
    per_ns_clients = clients // clusters
    for index in range(clusters + unchecked):
        ns = namespace_of(index)
        per_ns_secrets = secrets // (clusters + unchecked) + (index < secrets % (clusters + unchecked))
        cluster.request("POST", "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {
            "name": ns, "labels": {"kubernetes.io/metadata.name": ns}}})
        if index >= clusters:   # namespaces with clients of nothing we know, and no check
            cluster.apply(*(secret(f"app-{n:03d}", {"password": f"pw-{n}"}, ns) for n in range(per_ns_secrets)))
            continue
        sts = statefulset(namespace=ns)
        objects = [auth_secret(namespace=ns), sts, service("nacos-headless", {"app": "nacos"}, ns),
                   service("nacos", {"app": "nacos"}, ns, headless=False), *pods_of(sts, [STARTED] * 3),
                   {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
                    "metadata": {"name": "nacos", "namespace": ns},
                    "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny" if index % 2 else "Warn"}}]
        for client in range(per_ns_clients):
            name = f"svc-{client:03d}"
            objects += [secret(f"{name}-nacos", {"username": name, "password": f"pw-{index}-{client}"}, ns),
                        spring_client(name, server=f"nacos-headless.{ns}.svc.cluster.local:8848",
                                      secret_name=f"{name}-nacos", namespace=ns)]
        for extra in range(max(0, per_ns_secrets - per_ns_clients - 1)):
            objects.append(secret(f"unrelated-{extra:03d}", {"tls.crt": "x" * 64}, ns))
        cluster.apply(*objects)


def review_mix(clusters: int, clients: int, unchecked: int) -> list[dict]:
    """One of each kind of review per namespace; the load cycles through them."""
    mix = []
    per_ns = clients // clusters
    for index in range(clusters):
        ns = namespace_of(index)
        server = f"nacos-headless.{ns}.svc.cluster.local:8848"
        client = spring_client("svc-000", server=server, secret_name="svc-000-nacos", namespace=ns)
        relabelled = copy.deepcopy(client)
        relabelled["metadata"]["labels"]["release"] = "2"
        unrelated = secret("unrelated-000", {"tls.crt": "x" * 64}, ns)
        mix += [
            review("CREATE", spring_client("billing", server=server, secret_name="billing-nacos", namespace=ns)),
            review("CREATE", spring_client(f"svc-{per_ns:03d}", server=server, secret_name="svc-000-nacos",
                                           namespace=ns)),
            review("UPDATE", relabelled, client),
            review("UPDATE", secret("unrelated-000", {"tls.crt": "y" * 64}, ns), unrelated),
            review("UPDATE", auth_secret(namespace=ns, key=KEY_B), auth_secret(namespace=ns)),
            review("DELETE", old=secret("svc-001-nacos", {"username": "svc-001", "password": "p"}, ns)),
            review("DELETE", old=unrelated),
            review("UPDATE", statefulset(namespace=ns), statefulset(namespace=ns)),
            review("CREATE", {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "app-config",
                                                                                      "namespace": ns},
                              "data": {"application.properties": "server.port=8080\n"}}),
        ]
    for index in range(clusters, clusters + unchecked):
        ns = namespace_of(index)
        mix.append(review("CREATE", spring_client("web", server="nacos.elsewhere:8848", secret_name="web-nacos",
                                                  namespace=ns)))
    return mix


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")   # utime + stime


def wait_until_idle(pid: int, timeout: float = 120.0) -> float:
    """After readiness kopf still runs every on.event handler once per object (and the operator evaluates and
    writes each check): wait until the process uses under 5% of a CPU for a second. Returns the seconds waited."""
    started = time.perf_counter()
    while time.perf_counter() - started < timeout:
        before = cpu_seconds(pid)
        time.sleep(1.0)
        if cpu_seconds(pid) - before < 0.05:
            return time.perf_counter() - started
    raise SystemExit("the operator never settled")


async def load(url: str, ca: str | None, requests: list[tuple[str, bytes]], rate: float, duration: float,
               connections: int) -> tuple[list[float], Counter, list[str]]:
    context = ssl.create_default_context(cafile=ca) if ca else None
    connector = aiohttp.TCPConnector(limit=connections, ssl=context if context else False)
    latencies: list[float] = []
    outcomes: Counter = Counter()
    errors: list[str] = []

    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=10)) as session:
        async def one(path: str, body: bytes) -> None:
            sent = time.perf_counter()
            try:
                async with session.post(url + path, data=body,
                                        headers={"Content-Type": "application/json"}) as response:
                    payload = await response.read()
                    elapsed = time.perf_counter() - sent
                    if response.status != 200:
                        errors.append(f"HTTP {response.status}")
                        return
                answer = json.loads(payload)["response"]
                latencies.append(elapsed)
                outcomes["denied" if not answer["allowed"] else "warned" if answer.get("warnings") else "allowed"] += 1
            except Exception as error:  # noqa: BLE001 - counted and shown
                errors.append(type(error).__name__)

        # Warm the connections (TLS handshakes) before the clock starts, as a running apiserver has.
        await asyncio.gather(*(one(*requests[i % len(requests)]) for i in range(connections)))
        latencies.clear()
        outcomes.clear()
        tasks = []
        total = int(rate * duration)
        started = time.perf_counter()
        for index in range(total):
            delay = started + index / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(*requests[index % len(requests)])))
        await asyncio.gather(*tasks)
    return latencies, outcomes, errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--secrets", type=int, default=2000)
    parser.add_argument("--unchecked", type=int, default=2, help="namespaces without any NacosAuthCheck")
    parser.add_argument("--rate", type=float, default=50.0, help="requests per second")
    parser.add_argument("--duration", type=float, default=30.0, help="seconds of load")
    parser.add_argument("--connections", type=int, default=4, help="keep-alive connections (an apiserver keeps "
                                                                    "a few per webhook)")
    parser.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
    parser.add_argument("--at-ready", action="store_true",
                        help="start the load the moment /readyz answers, while the operator still handles its "
                             "startup (default: once it is idle)")
    parser.add_argument("--webhook-only", action="store_true", help="run the operator as `run --webhook-only`")
    args = parser.parse_args()
    with Cluster(namespaces=["default"]) as cluster, tempfile.TemporaryDirectory() as directory:
        setup_started = time.perf_counter()
        populate(cluster, args.clusters, args.clients, args.secrets, args.unchecked)
        populated = time.perf_counter() - setup_started
        cert, key, _ = certificate(directory)
        port, metrics_port = free_port(), free_port()
        options = ["--webhook-port", str(port), "--webhook-address", "127.0.0.1", "--metrics-port", str(metrics_port)]
        if not args.http:
            options += ["--webhook-cert", cert, "--webhook-key", key]
        if args.webhook_only:
            options.append("--webhook-only")
        with operator_process(cluster.kubeconfig, *options) as operator:
            started = time.perf_counter()
            cluster.wait_for(lambda: operator.poll() is not None or webhook_ready(port, https=not args.http),
                             timeout=180, message="the webhooks to be ready")
            if operator.poll() is not None:
                raise SystemExit(f"the operator exited with {operator.returncode} (BENCH_LOG=file to see why)")
            ready = time.perf_counter() - started
            settled = 0.0 if args.at_ready else wait_until_idle(operator.pid)
            secrets = len(cluster.server.objects[("", "v1", "secrets")])
            mix = review_mix(args.clusters, args.clients, args.unchecked)
            requests = [(path_of(r["request"]["kind"]["kind"]), json.dumps(r).encode()) for r in mix]
            print(f"setup: {args.clusters} Nacos clusters (checks: half Deny, half Warn) + {args.unchecked} "
                  f"namespaces without a check, {args.clients} clients, {secrets} Secrets indexed, "
                  f"{3 * args.clusters} server Pods (objects created in {populated:.1f}s)")
            print(f"webhooks ready (every index loaded) {ready:.2f}s after the operator started"
                  + (f", the operator idle {settled:.1f}s later (load starts then)" if not args.at_ready else
                     " (load starts at once)")
                  + f"; {'HTTP' if args.http else 'HTTPS'}, {args.connections} keep-alive connections, "
                    f"{len(mix)} distinct reviews")
            decisions_before = metric(metrics_port, "nacos_auth_guard_admission_duration_seconds_sum")
            count_before = metric(metrics_port, "nacos_auth_guard_admission_duration_seconds_count")
            load_started = time.perf_counter()
            latencies, outcomes, errors = asyncio.run(load(
                f"{'http' if args.http else 'https'}://127.0.0.1:{port}", None if args.http else cert, requests,
                args.rate, args.duration, args.connections))
            wall = time.perf_counter() - load_started
            decided = metric(metrics_port, "nacos_auth_guard_admission_duration_seconds_count") - count_before
            decision_seconds = (metric(metrics_port, "nacos_auth_guard_admission_duration_seconds_sum")
                                - decisions_before)
            current, peak = rss(operator.pid)
            answered = len(latencies)
            print(f"load: {answered + len(errors)} requests in {wall:.1f}s ({(answered + len(errors)) / wall:.1f}/s "
                  f"offered {args.rate:g}/s); answers: {dict(sorted(outcomes.items()))}; errors: {len(errors)}"
                  + (f" {Counter(errors).most_common(3)}" if errors else ""))
            if latencies:
                print(f"latency (request sent -> answer read): median {statistics.median(latencies) * 1000:.2f} ms, "
                      f"p99 {percentile(latencies, 0.99) * 1000:.2f} ms, max {max(latencies) * 1000:.2f} ms")
            print(f"server decision time (metrics): mean {decision_seconds / max(decided, 1) * 1000:.2f} ms over "
                  f"{decided:.0f} reviews")
            print(f"operator RSS: {current} MB now, {peak} MB peak")


if __name__ == "__main__":
    main()
