"""The admission decision, pure: the cluster as it is (a Snapshot) and as it would be after the change, evaluated
for every NacosAuthCheck that can see the object. Only problems the change introduces (or makes more severe)
count; a change that keeps or fixes an existing problem is allowed. The governing check's spec.enforcement
decides: Deny refuses on a new error (new warnings are still returned as warnings), Warn allows with warnings,
Audit allows silently.

The operator's settle window holds here too: a workload created now (or less than the window ago) may read a
Secret or ConfigMap that the same `kubectl apply -f dir/` sends a moment later, so its missing object is a warning,
never a refusal; the operator reports it if it is still missing when the window ends. A Secret deleted from under a
workload is refused at once.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .catalog import CATALOG
from .evaluation import CheckSpec, InvalidSpec, evaluate, parse_spec, settle
from .model import Finding, ObjectRef, Severity
from .shapes import as_dict
from .snapshot import WORKLOAD_KINDS, Snapshot, compact_config_map, compact_secret, slim_workload

MAX_WARNINGS = 10       # keep AdmissionResponse warnings short (kubectl prints each one)
MAX_WARNING_LENGTH = 384


@dataclass(frozen=True, slots=True)
class Decision:
    allowed: bool
    message: str = ""                           # why it is refused
    warnings: tuple[str, ...] = ()
    findings: tuple[Finding, ...] = field(default=(), repr=False)


def with_change(snapshot: Snapshot, kind: str, namespace: str, name: str, new: dict | None,
                now: datetime) -> Snapshot:
    """The snapshot as it would be once `new` (None: deleted) is stored. Keys whose value changes count as
    changed now, so pods started before are seen running the old value."""
    after = Snapshot(dict(snapshot.secrets), dict(snapshot.config_maps), dict(snapshot.services),
                     list(snapshot.workloads), list(snapshot.checks), snapshot.complete)
    key = (namespace, name)
    if kind in ("Secret", "ConfigMap"):
        table = after.secrets if kind == "Secret" else after.config_maps
        old = table.pop(key, None)
        if new is not None:
            data = compact_secret(new) if kind == "Secret" else compact_config_map(new)
            data.changed_at = dict(old.changed_at) if old else {}
            for item, value in data.data.items():
                if old is None or old.data.get(item) != value:
                    data.changed_at[item] = now
            table[key] = data
    elif kind in WORKLOAD_KINDS:
        kept = [w for w in after.workloads if not (
            w["kind"] == kind and w["metadata"].get("namespace") == namespace and w["metadata"].get("name") == name)]
        created = len(kept) == len(after.workloads)
        after.workloads = kept
        if new is not None:
            # The review's kind, namespace and name are what is stored, whatever the object's body says.
            metadata = {**as_dict(new.get("metadata")), "namespace": namespace, "name": name}
            if created:   # the apiserver stamps a new object now, whatever its body says
                metadata["creationTimestamp"] = now.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
            after.workloads.append(slim_workload({**new, "kind": kind, "metadata": metadata}))
    return after


def decide(checks: list[dict], before: Snapshot, after: Snapshot, now: datetime, *,
           object_path: str, settle_window: timedelta = timedelta(0)) -> Decision:
    """`checks`: the NacosAuthChecks whose scope includes the object's namespace; `settle_window`: the operator's
    (--settle-seconds)."""
    introduced: list[tuple[CheckSpec, Finding]] = []
    for body in checks:
        try:
            spec = parse_spec(body)
        except InvalidSpec:
            continue   # a broken check governs nothing; its status says why
        old: dict[tuple, Severity] = {}
        for item in evaluate(spec, before, now).findings:
            old[problem_of(item)] = max(old.get(problem_of(item), item.severity), item.severity)
        introduced += [(spec, f) for f in evaluate(spec, after, now).findings
                       if problem_of(f) not in old or f.severity > old[problem_of(f)]]
    if not introduced:
        return Decision(True)
    held = settle([f for _, f in introduced], after, now, settle_window, _Stored(before)).held
    visible = [(spec, f) for spec, f in introduced if spec.enforcement != "Audit" and f.severity >= Severity.WARNING]
    denying = [f for spec, f in visible if spec.enforcement == "Deny" and f.severity is Severity.ERROR
               and f not in held]
    warnings = tuple(_warning(object_path, f, settle_window if f in held else None)
                     for _, f in visible[:MAX_WARNINGS])
    findings = tuple(f for _, f in introduced)
    if denying:
        message = "; ".join(f"{f.code} {f.reason}: {f.message}" for f in denying[:3])
        return Decision(False, f"nacos-auth-guard: {message}", warnings, findings)
    return Decision(True, "", warnings, findings)


class _Stored:
    """The Secrets and ConfigMaps of a snapshot as a Container of ObjectRefs, looked up in its tables (a review
    should not copy every Secret of its scope to ask about the one it misses)."""

    def __init__(self, snapshot: Snapshot):
        self.tables = {"Secret": snapshot.secrets, "ConfigMap": snapshot.config_maps}

    def __contains__(self, ref: object) -> bool:
        return isinstance(ref, ObjectRef) and (ref.namespace, ref.name) in self.tables.get(ref.kind, {})


def problem_of(item: Finding) -> tuple:
    """What makes two findings the same problem: code, object, and the fix (the catalog's fixes name only what
    identifies the problem: the Secret, the key, the StatefulSet). So a second reference to a Secret that is
    already missing is the same problem, and a reference to another missing Secret is a new one."""
    return item.code, item.obj, item.message.split(" Fix: ", 1)[-1]


def _warning(path: str, item: Finding, settling: timedelta | None = None) -> str:
    """Short: what (the catalog title), where, and the fix; the full message is in the check's status.
    `settling`: the finding is held by the settle window, so the warning says the object may still come."""
    fix = item.message.split(" Fix: ", 1)[1] if " Fix: " in item.message else ""
    title = CATALOG[item.code].title
    if settling is not None and item.missing is not None:
        title = (f"{item.missing.kind} {item.missing.name} does not exist yet; reported as {item.reason} if still "
                 f"missing {settling.total_seconds():g} s after the workload was created")
    text = f"{path}: {item.code} {title} ({item.obj}). Fix: {fix}"
    return text if len(text) <= MAX_WARNING_LENGTH else text[: MAX_WARNING_LENGTH - 1] + "…"
