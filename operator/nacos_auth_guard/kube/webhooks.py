"""Validating admission webhooks, served by kopf from the operator's own indexes (no API reads). Side-effect free:
no Events, no status, no state; a dry-run request is answered exactly like a real one.

The ValidatingWebhookConfiguration is ours (deploy/webhook), so kopf does not manage one; its paths are the
handler ids below (ROUTES), served by kube/admission_server.py.
"""
from __future__ import annotations

import gc
import logging
import time
from datetime import datetime, timedelta, timezone

import kopf

from ..admission import Decision, decide, with_change
from ..discovery import controlled
from ..evaluation import InvalidSpec, parse_spec
from ..shapes import as_dict
from . import handlers, metrics
from .settings import CONFIG

logger = logging.getLogger("nacos_auth_guard.admission")


class _RefusalIsNotAnError(logging.Filter):
    """kopf logs every refused review ('Webhook ... failed permanently: <our message>') at ERROR. A refusal is the
    webhook doing its job, and the line below records it at INFO; a crash is still logged (kopf, admission_server)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.msg if isinstance(record.msg, str) else ""
        return not (record.levelno == logging.ERROR and message.startswith("Webhook ")
                    and " failed permanently: " in message)


logging.getLogger("kopf.objects").addFilter(_RefusalIsNotAnError())

# (group, version, plural, kind, operations, warning path)
WATCHED = (
    ("apps", "v1", "deployments", "Deployment", ("CREATE", "UPDATE"), "spec.template"),
    ("apps", "v1", "statefulsets", "StatefulSet", ("CREATE", "UPDATE"), "spec.template"),
    ("apps", "v1", "replicasets", "ReplicaSet", ("CREATE", "UPDATE"), "spec.template"),
    ("apps", "v1", "daemonsets", "DaemonSet", ("CREATE", "UPDATE"), "spec.template"),
    ("batch", "v1", "jobs", "Job", ("CREATE", "UPDATE"), "spec.template"),
    ("batch", "v1", "cronjobs", "CronJob", ("CREATE", "UPDATE"), "spec.jobTemplate.spec.template"),
    ("", "v1", "pods", "Pod", ("CREATE", "UPDATE"), "spec"),
    ("", "v1", "secrets", "Secret", ("CREATE", "UPDATE", "DELETE"), "data"),
    ("", "v1", "configmaps", "ConfigMap", ("CREATE", "UPDATE", "DELETE"), "data"),
)
ROUTES = {f"validate-{plural}": (group, version, plural) for group, version, plural, *_ in WATCHED}

# A ReplicaSet, Pod or Job made by a controller (a Deployment's ReplicaSets, a StatefulSet's pods, a CronJob's Jobs)
# is judged with its owner, never on its own (discovery.controlled: the engine reads such objects only as members
# of their owner). Reviewing it could only refuse a pod its controller makes, stalling the rollout the webhook already
# allowed. The configuration's matchConditions (the same test in CEL, tests/test_deploy.py proves they agree) spare
# the apiserver the call; the handler checks it again.
SKIPPED_WHEN_CONTROLLED = ("ReplicaSet", "Pod", "Job")
NOT_READY = 503   # the status code of a refusal that means "cannot check yet"; admission_server makes it HTTP 503

_indexed = False


def indexes_ready() -> bool:
    """True once every index holds its initial listing. Before, a review would be judged against a partial
    cluster (a Secret not listed yet looks missing), so the webhook answers 503 and /readyz is not ready."""
    return _indexed and handlers.listed()


@kopf.on.startup()
async def _forget_readiness(**_):
    global _indexed
    _indexed = False


# kopf calls no on.event handler before every index of the operator has its initial listing; namespaces always
# exist, so the first namespace event is the moment the indexes are complete.
@kopf.on.event("v1", "namespaces", id="webhook-readiness")
async def _indexes_loaded(**_):
    global _indexed
    if not _indexed:
        # The indexes and kopf's state are now most of the heap and live as long as the process: take them out
        # of the cyclic GC, whose full collections over them paused answers by up to ~170 ms (bench_admission).
        gc.freeze()
    _indexed = True


def _governing_checks(reconciler, namespace: str) -> tuple[list[dict], frozenset[str]]:
    """The NacosAuthChecks whose scope includes `namespace`, and the union of their scopes."""
    checks, scope = [], frozenset()
    for _, store in list(reconciler.indices["check_index"].items()):
        for _, body in store:
            try:
                spec = parse_spec(body)
            except InvalidSpec:
                continue   # a broken check governs nothing; its status says why
            check_scope = reconciler.scope_of(spec.namespace, spec.namespace_selector)
            if namespace in check_scope:
                checks.append(body)
                scope |= check_scope
    return checks, scope


def _decide(kind: str, path: str, namespace: str, name: str, operation: str, new: dict | None) -> Decision | None:
    """None: not ours to judge (excluded namespace, no governing check, a cluster-scoped object)."""
    if not namespace or not name or namespace in CONFIG.webhook_exclude_namespaces:
        return None
    reconciler = handlers.RECONCILER
    if reconciler is None or not indexes_ready():
        raise kopf.AdmissionError("nacos-auth-guard is starting: its indexes are still loading", code=NOT_READY)
    checks, scope = _governing_checks(reconciler, namespace)
    if not checks:
        return None
    now = datetime.now(timezone.utc)
    before = reconciler.snapshot(scope)
    after = with_change(before, kind, namespace, name, new, now)
    return decide(checks, before, after, now, object_path=path if operation != "DELETE" else "metadata.name",
                  settle_window=timedelta(seconds=CONFIG.settle_seconds))


def _register(group: str, version: str, plural: str, kind: str, operations: tuple[str, ...], path: str) -> None:
    resource = (group, version, plural) if group else (version, plural)

    # async: it reads the indexes the event loop updates (kopf runs sync handlers in a thread pool).
    @kopf.on.validate(*resource, id=f"validate-{plural}", operations=operations, side_effects=False)
    async def validate(body, old, operation, namespace, name, warnings, dryrun, **_):
        started = time.perf_counter()
        new = dict(body) if operation != "DELETE" else None
        metadata = as_dict((new or dict(old or {})).get("metadata"))
        namespace, name = namespace or metadata.get("namespace"), name or metadata.get("name")
        try:
            decision = (None if kind in SKIPPED_WHEN_CONTROLLED and controlled(metadata)
                        else _decide(kind, path, namespace, name, operation, new))
        except kopf.AdmissionError:
            metrics.ADMISSIONS.labels(resource=plural, outcome="unready").inc()
            raise
        outcome = ("skipped" if decision is None else "denied" if not decision.allowed
                   else "warned" if decision.warnings else "allowed")
        metrics.ADMISSIONS.labels(resource=plural, outcome=outcome).inc()
        metrics.ADMISSION_SECONDS.observe(time.perf_counter() - started)
        if decision is None:
            return
        warnings.extend(decision.warnings)
        if decision.findings:
            logger.info("%s%s %s %s/%s: %d new finding(s) (%s), %s", operation, " (dry run)" if dryrun else "", kind,
                        namespace, name, len(decision.findings),
                        ",".join(sorted({f.code for f in decision.findings})), outcome)
        if not decision.allowed:
            raise kopf.AdmissionError(decision.message, code=403)


for _resource in WATCHED:
    _register(*_resource)
