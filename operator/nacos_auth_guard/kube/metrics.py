"""Prometheus metrics. Labels are codes, severities and outcomes: never object data."""
from __future__ import annotations

from collections import Counter

import prometheus_client

REGISTRY = prometheus_client.CollectorRegistry()
FINDINGS = prometheus_client.Gauge(
    "nacos_auth_guard_findings", "Current findings over all NacosAuthChecks", ["code", "severity"], registry=REGISTRY)
CHECKS = prometheus_client.Gauge(
    "nacos_auth_guard_checks", "NacosAuthChecks by Ready status", ["ready"], registry=REGISTRY)
RECONCILE_SECONDS = prometheus_client.Histogram(
    "nacos_auth_guard_reconcile_duration_seconds", "Time to evaluate one NacosAuthCheck from the indexes",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5), registry=REGISTRY)
STATUS_WRITES = prometheus_client.Counter(
    "nacos_auth_guard_status_writes", "Status patches written (only when the status changed)", registry=REGISTRY)
EVENTS = prometheus_client.Counter(
    "nacos_auth_guard_events", "Kubernetes Events posted", ["type"], registry=REGISTRY)
RECONCILE_RETRIES = prometheus_client.Counter(
    "nacos_auth_guard_reconcile_retries", "Failed reconciles (status or Event writes) scheduled for a retry",
    registry=REGISTRY)
PROBE_RUNS = prometheus_client.Counter(
    "nacos_auth_guard_probe_runs", "Live probe runs by result (succeeded: no finding)", ["result"],
    registry=REGISTRY)
PROBE_REQUESTS = prometheus_client.Counter(
    "nacos_auth_guard_probe_requests", "HTTP requests the live probe sent to Nacos pods", registry=REGISTRY)
PROBE_SECONDS = prometheus_client.Histogram(
    "nacos_auth_guard_probe_duration_seconds", "Time one live probe run took",
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0), registry=REGISTRY)
CLIENT_LOGINS = prometheus_client.Counter(
    "nacos_auth_guard_client_logins", "Logins the operator made as a client (spec.probe.clients), by outcome "
    "(logged_in; refused: Nacos answered 403; unverified: no answer or another one)", ["outcome"], registry=REGISTRY)
CLIENT_READS = prometheus_client.Counter(
    "nacos_auth_guard_client_reads", "Reads made with a client's token, by kind (config, naming) and outcome "
    "(readable, missing, denied, failed)", ["kind", "outcome"], registry=REGISTRY)
ADMISSIONS = prometheus_client.Counter(
    "nacos_auth_guard_admission_reviews", "Admission reviews answered, by resource and outcome "
    "(allowed, warned, denied, skipped: excluded namespace or no governing check, unready: indexes loading)",
    ["resource", "outcome"],
    registry=REGISTRY)
ADMISSION_SECONDS = prometheus_client.Histogram(
    "nacos_auth_guard_admission_duration_seconds", "Time to decide one admission review from the indexes",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0), registry=REGISTRY)

_per_check: dict[tuple[str, str], Counter] = {}
_ready: dict[tuple[str, str], str] = {}


def record(key: tuple[str, str], findings: Counter, ready: str) -> None:
    """Replace one check's contribution to the gauges."""
    _per_check[key] = findings
    _ready[key] = ready
    _publish()


def forget(key: tuple[str, str]) -> None:
    _per_check.pop(key, None)
    _ready.pop(key, None)
    _publish()


def _publish() -> None:
    total = Counter()
    for counts in _per_check.values():
        total.update(counts)
    FINDINGS.clear()
    for (code, severity), value in total.items():
        FINDINGS.labels(code=code, severity=severity).set(value)
    CHECKS.clear()
    for value, count in Counter(_ready.values()).items():
        CHECKS.labels(ready=value).set(count)


def serve(port: int, address: str = "0.0.0.0") -> None:
    prometheus_client.start_http_server(port, addr=address, registry=REGISTRY)


def exposition() -> str:
    return prometheus_client.generate_latest(REGISTRY).decode()
