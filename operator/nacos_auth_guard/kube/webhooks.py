"""Validating admission webhooks, served by kopf from the operator's own indexes (no API reads). Side-effect free:
no Events, no status, no state; a dry-run request is answered exactly like a real one.

The ValidatingWebhookConfiguration is ours (deploy/webhook), so kopf does not manage one; its paths are the
handler ids below.
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone

import kopf

from ..admission import decide, with_change
from ..evaluation import InvalidSpec, parse_spec
from ..shapes import as_dict
from . import handlers

logger = logging.getLogger("nacos_auth_guard.admission")

# (group, version, plural, kind, operations, warning path)
WATCHED = (
    ("apps", "v1", "deployments", "Deployment", ("CREATE", "UPDATE"), "spec.template"),
    ("apps", "v1", "statefulsets", "StatefulSet", ("CREATE", "UPDATE"), "spec.template"),
    ("", "v1", "secrets", "Secret", ("CREATE", "UPDATE", "DELETE"), "data"),
    ("", "v1", "configmaps", "ConfigMap", ("CREATE", "UPDATE", "DELETE"), "data"),
)


def _decide(kind: str, path: str, namespace: str, name: str, operation: str, new: dict | None,
            warnings: list) -> None:
    """Appends the warnings to kopf's list; raises kopf.AdmissionError to refuse."""
    reconciler = handlers.RECONCILER
    if reconciler is None or not namespace or not name:
        return   # not ready yet, or a cluster-scoped object: allow (failurePolicy decides when we are down)
    checks, scope = [], frozenset()
    for _, store in list(reconciler.indices["check_index"].items()):
        for _, body in store:
            try:
                spec = parse_spec(body)
            except InvalidSpec:
                continue
            check_scope = reconciler.scope_of(spec.namespace, spec.namespace_selector)
            if namespace in check_scope:
                checks.append(body)
                scope |= check_scope
    if not checks:
        return
    now = datetime.now(timezone.utc)
    before = reconciler.snapshot(scope)
    after = with_change(before, kind, namespace, name, None if operation == "DELETE" else new, now)
    decision = decide(checks, before, after, now, object_path=path if operation != "DELETE" else "metadata.name")
    warnings.extend(decision.warnings)
    if decision.findings:
        logger.info("%s %s %s/%s: %d new finding(s) (%s), %s", operation, kind, namespace, name,
                    len(decision.findings), ",".join(sorted({f.code for f in decision.findings})),
                    "allowed" if decision.allowed else "denied")
    if not decision.allowed:
        raise kopf.AdmissionError(decision.message, code=403)


def _register(group: str, version: str, plural: str, kind: str, operations: tuple[str, ...], path: str) -> None:
    resource = (group, version, plural) if group else (version, plural)

    @kopf.on.validate(*resource, id=f"validate-{plural}", operations=operations, side_effects=False)
    def validate(body, old, operation, namespace, name, warnings, **_):
        new = dict(body) if operation != "DELETE" else None
        metadata = as_dict((new or dict(old or {})).get("metadata"))
        _decide(kind, path, namespace or metadata.get("namespace"), name or metadata.get("name"), operation, new,
                warnings)


for _resource in WATCHED:
    _register(*_resource)
