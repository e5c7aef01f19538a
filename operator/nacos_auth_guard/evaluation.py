"""One NacosAuthCheck evaluated against a Snapshot: which findings concern its server cluster and clients.
Pure, shared by the operator (status, Events) and the admission check."""
from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .catalog import CATALOG, finding
from .checks import CheckContext, run_checks
from .discovery import SERVER_KINDS, Topology, discover
from .model import Client, Finding, ObjectRef
from .shapes import as_dict, as_list
from .snapshot import Snapshot, parse_time

ENFORCEMENTS = ("Deny", "Warn", "Audit")
MIN_PROBE_INTERVAL = 30   # seconds; the CRD's minimum too
MIN_CLIENT_INTERVAL = 60  # seconds between two logins of one client; the CRD's minimum too


@dataclass(frozen=True, slots=True)
class ProbeSpec:
    """spec.probe when enabled: the least-privilege user's Secret and how to reach the server pods."""
    secret: str
    username_key: str = "username"
    password_key: str = "password"
    interval: int = 300
    timeout: int = 5
    port: int = 8848
    scheme: str = "http"
    clients_interval: int | None = None   # spec.probe.clients: seconds between two logins of a client; None: off


@dataclass(frozen=True, slots=True)
class CheckSpec:
    """A NacosAuthCheck's spec, validated (the API server validates too; the emulator and old CRDs may not)."""
    namespace: str
    name: str
    server_kind: str                    # one of discovery.SERVER_KINDS
    server_name: str
    enforcement: str = "Warn"
    exclude: tuple[str, ...] = ()
    client_selector: dict = field(default_factory=dict)
    namespace_selector: dict | None = None
    token_warning_days: int = 7
    generation: int | None = None
    probe: ProbeSpec | None = None      # None: probing is off

    @property
    def ref(self) -> ObjectRef:
        return ObjectRef("NacosAuthCheck", self.namespace, self.name)

    @property
    def server(self) -> ObjectRef:
        return ObjectRef(self.server_kind, self.namespace, self.server_name)


class InvalidSpec(ValueError):
    pass


def server_of(spec: dict) -> tuple[str, str]:
    """(kind, name) of the workload spec.server names: `{kind, name}` (kind defaults to StatefulSet) or the older
    `{statefulSetName}`."""
    server = spec.get("server")
    if not isinstance(server, dict):
        raise InvalidSpec("spec.server must name the Nacos server workload: {kind, name} or {statefulSetName}")
    kind, name, legacy = server.get("kind", "StatefulSet"), server.get("name"), server.get("statefulSetName")
    if kind not in SERVER_KINDS:
        raise InvalidSpec(f"spec.server.kind must be one of {', '.join(SERVER_KINDS)}")
    if name is not None and legacy is not None:
        raise InvalidSpec("spec.server names its workload twice: set spec.server.name or spec.server.statefulSetName, "
                          "not both")
    if legacy is not None:
        if kind != "StatefulSet":
            raise InvalidSpec(f"spec.server.statefulSetName names a StatefulSet, but spec.server.kind is {kind}: "
                              f"use spec.server.name")
        name = legacy
    if not isinstance(name, str) or not name:
        field_name = "statefulSetName" if legacy is not None else "name"
        raise InvalidSpec(f"spec.server.{field_name} must name the Nacos server workload (spec.server.kind: StatefulSet, "
                          "Deployment, ReplicaSet or Pod)")
    return kind, name


def parse_spec(obj: dict) -> CheckSpec:
    metadata = as_dict(obj.get("metadata"))
    spec = as_dict(obj.get("spec"))
    namespace, name = metadata.get("namespace"), metadata.get("name")
    if not isinstance(namespace, str) or not isinstance(name, str):
        raise InvalidSpec("metadata.name and metadata.namespace are required")
    server_kind, server_name = server_of(spec)
    enforcement = spec.get("enforcement", "Warn")
    if enforcement not in ENFORCEMENTS:
        raise InvalidSpec(f"spec.enforcement must be one of {', '.join(ENFORCEMENTS)}")
    exclude = spec.get("exclude", [])
    if not isinstance(exclude, list) or not all(isinstance(c, str) and c.upper() in CATALOG for c in exclude):
        raise InvalidSpec("spec.exclude must list finding codes such as NAG105")
    clients = as_dict(spec.get("clients"))
    selectors = [clients.get("selector"), clients.get("namespaceSelector")]
    for selector in selectors:
        if selector is not None and not valid_selector(selector):
            raise InvalidSpec("spec.clients selectors must be label selectors (matchLabels, matchExpressions)")
    days = spec.get("tokenExpiryWarningDays", 7)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 365:
        raise InvalidSpec("spec.tokenExpiryWarningDays must be a whole number from 0 to 365")
    generation = metadata.get("generation")
    return CheckSpec(namespace, name, server_kind, server_name, enforcement, tuple(c.upper() for c in exclude),
                     as_dict(clients.get("selector")), clients.get("namespaceSelector"), days,
                     generation if isinstance(generation, int) else None, parse_probe(spec.get("probe")))


def _whole(value: object, default: int, low: int, high: int, field: str) -> int:
    value = default if value is None else value
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        raise InvalidSpec(f"spec.probe.{field} must be a whole number from {low} to {high}")
    return value


def _switch(obj: dict, path: str) -> bool:
    enabled = obj.get("enabled", False)
    if not isinstance(enabled, bool):
        raise InvalidSpec(f"{path}.enabled must be true or false")
    return enabled


def _clients_interval(clients: object, probing: bool) -> int | None:
    if clients is None:
        return None
    if not isinstance(clients, dict):
        raise InvalidSpec("spec.probe.clients must be an object (enabled, intervalSeconds)")
    enabled = _switch(clients, "spec.probe.clients")
    interval = _whole(clients.get("intervalSeconds"), 3600, MIN_CLIENT_INTERVAL, 86400 * 7, "clients.intervalSeconds")
    if enabled and not probing:
        raise InvalidSpec("spec.probe.clients.enabled needs spec.probe.enabled: true (client logins run with the "
                          "probe, on its port and scheme)")
    return interval if enabled else None


def parse_probe(probe: object) -> ProbeSpec | None:
    if probe is None:
        return None
    if not isinstance(probe, dict):
        raise InvalidSpec("spec.probe must be an object (enabled, credentialsSecretRef, intervalSeconds, ...)")
    enabled = _switch(probe, "spec.probe")
    ref = probe.get("credentialsSecretRef")
    if ref is not None and not isinstance(ref, dict):
        raise InvalidSpec("spec.probe.credentialsSecretRef must be an object with name, usernameKey, passwordKey")
    ref = as_dict(ref)
    for field_name in ("name", "usernameKey", "passwordKey"):
        if field_name in ref and (not isinstance(ref[field_name], str) or not ref[field_name]):
            raise InvalidSpec(f"spec.probe.credentialsSecretRef.{field_name} must be a non-empty string")
    interval = _whole(probe.get("intervalSeconds"), 300, MIN_PROBE_INTERVAL, 86400 * 7, "intervalSeconds")
    timeout = _whole(probe.get("timeoutSeconds"), 5, 1, 60, "timeoutSeconds")
    port = _whole(probe.get("port"), 8848, 1, 65535, "port")
    scheme = probe.get("scheme", "http")
    if scheme not in ("http", "https"):
        raise InvalidSpec("spec.probe.scheme must be http or https")
    clients_interval = _clients_interval(probe.get("clients"), enabled)
    if not enabled:
        return None
    if "name" not in ref:
        raise InvalidSpec("spec.probe.credentialsSecretRef.name must name the Secret with the probe user's "
                          "username and password when spec.probe.enabled is true")
    return ProbeSpec(ref["name"], ref.get("usernameKey", "username"), ref.get("passwordKey", "password"),
                     interval, timeout, port, scheme, clients_interval)


def valid_selector(selector: object) -> bool:
    if not isinstance(selector, dict):
        return False
    labels = selector.get("matchLabels", {})
    if not isinstance(labels, dict) or not all(isinstance(v, str) for v in labels.values()):
        return False
    for expression in as_list(selector.get("matchExpressions")):
        if not isinstance(expression, dict) or expression.get("operator") not in (
                "In", "NotIn", "Exists", "DoesNotExist") or not isinstance(expression.get("key"), str):
            return False
    return isinstance(selector.get("matchExpressions", []), list)


def selects(selector: dict, labels: dict) -> bool:
    """metav1.LabelSelector semantics; an empty selector selects everything."""
    if any(labels.get(k) != v for k, v in as_dict(selector.get("matchLabels")).items()):
        return False
    for expression in as_list(selector.get("matchExpressions")):
        key, operator = expression.get("key"), expression.get("operator")
        values = [v for v in as_list(expression.get("values")) if isinstance(v, str)]
        present = key in labels
        if (operator == "In" and (not present or labels[key] not in values)) or \
           (operator == "NotIn" and present and labels[key] in values) or \
           (operator == "Exists" and not present) or (operator == "DoesNotExist" and present):
            return False
    return True


@dataclass(frozen=True, slots=True)
class Evaluation:
    findings: list[Finding]
    servers: int                        # server pods seen (the template counts as one when no Pod is known)
    clients: int
    stalled: tuple[str, str] | None     # (reason, message) when the check cannot run
    dependencies: frozenset[tuple[str, str, str]] = frozenset()   # (kind, namespace, name) of Secrets/ConfigMaps


def check_clients(spec: CheckSpec, topology: Topology) -> list[Client]:
    """The clients a check watches: those that reach its server and that its client selector selects."""
    return [c for c in topology.clients if spec.server in c.servers and selects(spec.client_selector, c.labels)]


def evaluate(spec: CheckSpec, snapshot: Snapshot, now: datetime) -> Evaluation:
    workload = next((w for w in snapshot.workloads if w["kind"] == spec.server_kind
                     and w["metadata"]["namespace"] == spec.namespace and w["metadata"]["name"] == spec.server_name),
                    None)
    if workload is None:
        missing = finding("NAG001", spec.ref, check=spec.name, server_kind=spec.server_kind, server=spec.server_name)
        return Evaluation([missing], 0, 0, (missing.reason, missing.message))
    topology = discover(snapshot, servers={spec.server})
    ctx = CheckContext.build(snapshot, now, timedelta(days=spec.token_warning_days), topology)
    server = ctx.servers_by_ref[spec.server]
    clients = {c.ref for c in check_clients(spec, topology)}
    # An OpenAPI caller belongs to the servers its calls reach; one whose target is unknown has its tokens checked
    # against every server's key, and a finding then names the server (f.cluster) or servers (f.clusters) it
    # concerns.
    callers = [c for c in topology.callers if (spec.server in c.servers or not c.servers)
               and selects(spec.client_selector, c.labels)]
    members = clients | {c.ref for c in callers}
    findings = [f for f in run_checks(ctx, exclude=spec.exclude)
                if (f.cluster == spec.server or spec.server in f.clusters)
                and (f.obj == spec.server or f.obj.kind == "Pod" or f.obj in members)]
    pods = (server.template, *server.pods, *(c.template for c in topology.clients))
    dependencies = frozenset([(r.kind, pod.ref.namespace, r.name) for pod in pods for r in pod.references]
                             + [(r.kind, c.ref.namespace, r.name) for c in callers for r in c.references])
    reaching = clients | {c.ref for c in callers if spec.server in c.servers}
    return Evaluation(findings, len(server.pods) or 1, len(reaching), None, dependencies)



SETTLING_CODES = frozenset({"NAG101", "NAG103"})   # a Secret or ConfigMap that does not exist (yet)


@dataclass(frozen=True, slots=True)
class Settled:
    """Findings split by the settle window: `reported` now; `held` until `until` (then evaluate again)."""
    reported: list[Finding]
    held: list[Finding]
    until: datetime | None

    @property
    def pending(self) -> dict[str, tuple[str, str]]:
        """Conditions for the status while findings are held: SecretsResolved Unknown, Reconciling True."""
        if not self.held:
            return {}
        first = min(self.held, key=lambda f: (f.obj, f.code))
        more = f" (and {len(self.held) - 1} more)" if len(self.held) > 1 else ""
        message = (f"{first.missing.kind} {first.missing.name} read by {first.obj} does not exist yet{more}; "
                   f"reported as {first.reason} if still missing at {self.until:%Y-%m-%dT%H:%M:%SZ}.")
        return {CATALOG[first.code].concern: ("WaitingForReferences", message),
                "Reconciling": ("WaitingForReferences", message)}


def settle(findings: list[Finding], snapshot: Snapshot, now: datetime, window: timedelta,
           existed: Container[ObjectRef]) -> Settled:
    """A workload applied moments before the Secret or ConfigMap it reads (`kubectl apply -f dir/` goes by file
    name, so statefulset.yaml before secret.yaml) is not broken: its missing object is held back until the
    workload is `window` old. One the caller saw exist (`existed`: deleted from under the workload) and one
    missing from an older workload are reported at once."""
    if window <= timedelta(0):
        return Settled(list(findings), [], None)
    created = {ObjectRef(w["kind"], w["metadata"].get("namespace"), w["metadata"].get("name")):
               parse_time(w["metadata"].get("creationTimestamp")) for w in snapshot.workloads}
    reported, held, until = [], [], None
    for item in findings:
        born = created.get(item.obj)
        due = born + window if born is not None else None
        if (item.code in SETTLING_CODES and item.missing is not None and item.missing not in existed
                and due is not None and now < due):
            held.append(item)
            until = due if until is None else min(until, due)
        else:
            reported.append(item)
    return Settled(reported, held, until)
