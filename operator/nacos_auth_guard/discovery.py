"""Which workloads are Nacos servers, which are their clients, and which client talks to which server.

A StatefulSet, Deployment, ReplicaSet or bare Pod is a server when a container (in any position) runs the
nacos-server image or carries Nacos server env; its Pods are found through their owner references (a Deployment's
through the ReplicaSet named `<deployment>-<pod-template-hash>`). Any other workload is a client when it is
configured with a Nacos server address, and an OpenAPI caller when its command/args, env or mounted files call
the Nacos OpenAPI or hold a JWT-shaped token (a CronJob exporting configs with curl). Clients map to servers through Services:
`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`, pod DNS names (`nacos-0.nacos-headless.ns.svc...`), host lists.
The annotation nacosguard.io/role: server | client | none overrides detection.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import nacos, openapi
from .shapes import as_dict, as_list
from .model import Caller, Client, ObjectRef, PodConfig, ServerCluster
from .snapshot import Snapshot
from .sources import is_server_container, pod_config, workload_texts

ROLE_ANNOTATION = "nacosguard.io/role"
SERVER_KINDS = ("StatefulSet", "Deployment", "ReplicaSet", "Pod")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_IP = re.compile(r"^[\d.]+$|:")   # IPv4, or IPv6 (host names have no colon)


@dataclass(frozen=True, slots=True)
class Topology:
    servers: tuple[ServerCluster, ...]
    clients: tuple[Client, ...]
    callers: tuple[Caller, ...] = ()


def ref_of(obj: dict) -> ObjectRef:
    metadata = obj["metadata"]
    return ObjectRef(obj["kind"], metadata["namespace"], metadata["name"])


def pod_template(obj: dict) -> tuple[dict, dict]:
    """(metadata, spec) of the pods a workload runs."""
    spec = as_dict(obj.get("spec"))
    if obj["kind"] == "Pod":
        return obj["metadata"], spec
    if obj["kind"] == "CronJob":
        spec = as_dict(as_dict(spec.get("jobTemplate")).get("spec"))
    template = as_dict(spec.get("template"))
    return as_dict(template.get("metadata")), as_dict(template.get("spec"))


def _role(obj: dict) -> str | None:
    annotations = as_dict(as_dict(obj.get("metadata")).get("annotations"))
    role = annotations.get(ROLE_ANNOTATION)
    return role if role in ("server", "client", "none") else None


def controlled(metadata: dict) -> bool:
    """A controller made it (an ownerReference with controller: true)."""
    return any(isinstance(o, dict) and o.get("controller") is True for o in as_list(metadata.get("ownerReferences")))


def pod_owners(pod: dict) -> tuple[ObjectRef, ...]:
    """The workloads a Pod belongs to: its controlling StatefulSet or ReplicaSet, the Deployment that owns that
    ReplicaSet (named `<deployment>-<pod-template-hash>` by the Deployment controller, so no ReplicaSet object is
    needed), or the Pod itself when nothing controls it."""
    metadata = pod["metadata"]
    namespace = metadata.get("namespace")
    owners = [o for o in as_list(metadata.get("ownerReferences")) if isinstance(o, dict) and o.get("controller")]
    if not owners:
        return (ObjectRef("Pod", namespace, metadata.get("name")),)
    refs: list[ObjectRef] = []
    for owner in owners:
        kind, name = owner.get("kind"), owner.get("name")
        if kind not in ("StatefulSet", "ReplicaSet") or not isinstance(name, str):
            continue
        refs.append(ObjectRef(kind, namespace, name))
        template_hash = as_dict(metadata.get("labels")).get("pod-template-hash")
        if kind == "ReplicaSet" and isinstance(template_hash, str) and name.endswith("-" + template_hash):
            refs.append(ObjectRef("Deployment", namespace, name[:-len(template_hash) - 1]))
    return tuple(refs)


def is_server(obj: dict, forced: frozenset[ObjectRef] = frozenset()) -> bool:
    if obj.get("kind") not in SERVER_KINDS:
        return False
    if ref_of(obj) in forced:   # named by a NacosAuthCheck: a server whatever it looks like
        return True
    if controlled(obj["metadata"]):   # a StatefulSet's Pod, a Deployment's ReplicaSet: its owner's member
        return False
    return runs_nacos(obj)


def runs_nacos(obj: dict) -> bool:
    """The role annotation says server, or (without one) a container runs the Nacos server."""
    role = _role(obj)
    if role is not None:
        return role == "server"
    _, spec = pod_template(obj)
    return any(isinstance(c, dict) and is_server_container(c) for c in as_list(spec.get("containers")))


@dataclass(frozen=True, slots=True)
class Roles:
    """The input's workloads by role, before any is resolved: the Nacos servers, the Pods of each server workload,
    and the others that no server owns (each a client, an OpenAPI caller, or neither)."""
    servers: list[dict]
    pods_by_owner: dict[ObjectRef, list[dict]]
    others: list[dict]


def roles(snapshot: Snapshot, servers: set[ObjectRef] | frozenset = frozenset()) -> Roles:
    """`servers`: workloads to treat as Nacos servers whatever their pods look like."""
    workloads = [w for w in snapshot.workloads if _valid(w)]
    forced = frozenset(servers)
    server_workloads = [w for w in workloads if is_server(w, forced)]
    server_refs = {ref_of(w) for w in server_workloads}
    pods_by_owner: dict[ObjectRef, list[dict]] = {}
    for pod in workloads:
        if pod["kind"] == "Pod":
            for owner in pod_owners(pod):
                if owner in server_refs and owner.kind != "Pod":
                    pods_by_owner.setdefault(owner, []).append(pod)
    others = [obj for obj in workloads if ref_of(obj) not in server_refs
              and not controlled(obj["metadata"])]   # an owned one: its owner is checked
    return Roles(server_workloads, pods_by_owner, others)


def discover(snapshot: Snapshot, servers: set[ObjectRef] | frozenset = frozenset(),
             share: tuple[int, int] = (0, 1), classified: Roles | None = None) -> Topology:
    """`servers`: workloads to treat as Nacos servers whatever their pods look like. `share` (part, parts): every
    server, and of the other workloads only that part, to check a large input in parts (checks.check_in_parts).
    `classified`: roles(snapshot, servers), when the caller has it."""
    classified = classified if classified is not None else roles(snapshot, servers)
    server_workloads, pods_by_owner, others = classified.servers, classified.pods_by_owner, classified.others
    services = _ServiceIndex(snapshot, server_workloads)
    resolved: dict = {}   # pod_config's resolutions of this snapshot, shared by pods written alike
    found = tuple(_server(w, pods_by_owner.get(ref_of(w), []), snapshot, services, resolved)
                  for w in server_workloads)
    by_service: dict[tuple[str, str], list[ObjectRef]] = {}
    for server in found:
        for name in sorted(server.service_names):
            by_service.setdefault((server.ref.namespace, name), []).append(server.ref)
    clients, callers = [], []
    part, parts = share
    for obj in others[len(others) * part // parts:len(others) * (part + 1) // parts]:
        caller = _caller(obj, snapshot, by_service)
        if caller is not None:
            callers.append(caller)
        if _role(obj) in ("none", "server"):
            continue
        client = _client(obj, snapshot, by_service, resolved)
        if client is not None:
            clients.append(client)
    return Topology(found, tuple(clients), tuple(callers))


def _caller(obj: dict, snapshot: Snapshot, by_service: dict[tuple[str, str], list[ObjectRef]]) -> Caller | None:
    ref = ref_of(obj)
    texts, env, references = workload_texts(ref, pod_template(obj)[1], snapshot)

    def targets_of(host: str) -> list[ObjectRef]:
        return [s for c in service_candidates(host, ref.namespace) for s in by_service.get(c, ())]

    calls = [(t, call, tuple(targets_of(call.host))) for t in texts
             for call in openapi.find_calls(t.text, env, lambda h: bool(targets_of(h)))]
    if not calls and not any(openapi.JWT_SHAPE.search(t.text) for t in texts):
        return None
    servers = tuple(dict.fromkeys(s for *_, reached in calls for s in reached))
    labels = {k: v for k, v in as_dict(obj["metadata"].get("labels")).items() if isinstance(v, str)}
    return Caller(ref, tuple(texts), tuple(calls), servers, references, labels)


class _ServiceIndex:
    """The Services of the input by one label pair of their selector: the pair fewest server pod templates carry,
    so that finding the Services of a server compares it with few selectors (not every Service of the input:
    hundreds of tenants with `app: nacos` servers would make that servers x Services)."""

    def __init__(self, snapshot: Snapshot, server_workloads: list[dict]):
        carried: dict[tuple[str, str, str], int] = {}
        for workload in server_workloads:
            namespace = workload["metadata"]["namespace"]
            for label, value in as_dict(pod_template(workload)[0].get("labels")).items():
                if isinstance(value, str):   # as pod_config reads labels: another value matches no selector
                    key = (namespace, label, value)
                    carried[key] = carried.get(key, 0) + 1
        self.buckets: dict[tuple[str, str, str], list[tuple[str, dict]]] = {}
        for (namespace, name), service in snapshot.services.items():
            selector = as_dict(as_dict(service.get("spec")).get("selector"))
            pairs = [(namespace, k, v) for k, v in selector.items() if isinstance(v, str)]
            if not pairs or len(pairs) != len(selector):
                continue   # selects nothing (no selector), or nothing a label can equal
            if any(pair not in carried for pair in pairs):
                continue   # no server template carries that pair: it selects no server
            rarest = min(pairs, key=carried.__getitem__)
            self.buckets.setdefault(rarest, []).append((name, selector))

    def selecting(self, namespace: str, labels: dict) -> set[str]:
        """Names of the Services whose selector `labels` satisfy."""
        names = set()
        for pair in labels.items():
            for name, selector in self.buckets.get((namespace, *pair), ()):
                if all(labels.get(k) == v for k, v in selector.items()):
                    names.add(name)
        return names


def _valid(obj: dict) -> bool:
    metadata = obj.get("metadata")
    return isinstance(metadata, dict) and isinstance(metadata.get("name"), str) and isinstance(
        metadata.get("namespace"), str) and isinstance(obj.get("spec"), dict)


def _server(workload: dict, pods: list[dict], snapshot: Snapshot, services: _ServiceIndex,
            resolved: dict | None = None) -> ServerCluster:
    ref = ref_of(workload)
    spec = workload["spec"]
    if ref.kind == "Pod":   # a bare Pod is its own template and its only member
        template = pod_config(ref, workload["metadata"], spec, snapshot, server=True, statuses=workload.get("status"),
                              resolved=resolved)
        pod_configs: tuple[PodConfig, ...] = (template,)
    else:
        metadata, pod_spec = pod_template(workload)
        metadata = {**metadata, "annotations": {**as_dict(metadata.get("annotations")),
                                                **as_dict(workload["metadata"].get("annotations"))}}
        template = pod_config(ref, metadata, pod_spec, snapshot, server=True, resolved=resolved)
        pod_configs = tuple(sorted(
            (pod_config(ref_of(p), p["metadata"], p["spec"], snapshot, server=True, statuses=p.get("status"),
                        resolved=resolved)
             for p in pods), key=lambda p: _ordinal(p.ref.name)))
    container = next((c for c in template.containers if c.server), None)
    names = services.selecting(ref.namespace, template.labels)
    if ref.kind == "StatefulSet" and isinstance(spec.get("serviceName"), str):
        names.add(spec["serviceName"])
    on_delete = ref.kind == "StatefulSet" and as_dict(spec.get("updateStrategy")).get("type") == "OnDelete"
    return ServerCluster(ref, template, container.name if container else "",
                         nacos.image_version(container.image) if container else None, pod_configs,
                         frozenset(names), on_delete)


def _ordinal(name: str) -> tuple[int, str]:
    head, _, tail = name.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (1 << 30, name)


def _client(obj: dict, snapshot: Snapshot, by_service: dict[tuple[str, str], list[ObjectRef]],
            resolved: dict | None = None) -> Client | None:
    ref = ref_of(obj)
    metadata, spec = pod_template(obj)
    metadata = {**metadata, "annotations": {**as_dict(metadata.get("annotations")),
                                            **as_dict(obj["metadata"].get("annotations"))}}
    template = pod_config(ref, metadata, spec, snapshot, server=False, resolved=resolved)
    addresses: list[str] = []
    configured = False
    for container in template.containers:
        setting = container.settings.get("serverAddr")
        if setting is not None:
            configured = True
            if setting.value:
                addresses.extend(split_addresses(setting.value))
    if not configured and _role(obj) != "client":
        return None
    targets: list[ObjectRef] = []
    for address in addresses:
        for candidate in service_candidates(address, ref.namespace):
            targets += [server for server in by_service.get(candidate, ()) if server not in targets]
    labels = {k: v for k, v in as_dict(obj["metadata"].get("labels")).items() if isinstance(v, str)}
    return Client(ref, template, tuple(addresses), tuple(targets), labels)


def split_addresses(value: str) -> list[str]:
    """"http://nacos-0.nacos:8848,nacos-1.nacos:8848" -> host names, without scheme, port and path."""
    hosts = []
    for item in re.split(r"[,;\s]+", value.strip()):
        item = _SCHEME.sub("", item).split("/", 1)[0]
        if item.startswith("["):           # [::1]:8848
            host = item[1:].split("]", 1)[0]
        else:
            host = item.rsplit(":", 1)[0] if item.count(":") == 1 else item
        if host:
            hosts.append(host.lower().rstrip("."))
    return hosts


def service_candidates(host: str, namespace: str) -> list[tuple[str, str]]:
    """(namespace, service) pairs a cluster DNS name can denote, most specific first."""
    if _IP.match(host):
        return []
    labels = host.split(".")
    if "svc" in labels[1:]:
        index = labels.index("svc", 1)
        if index >= 2:
            return [(labels[index - 1], labels[index - 2])]
        return []
    if len(labels) == 1:
        return [(namespace, labels[0])]
    if len(labels) == 2:   # svc.ns, or pod.svc in the client's namespace
        return [(labels[1], labels[0]), (namespace, labels[1])]
    if len(labels) == 3:   # pod.svc.ns
        return [(labels[2], labels[1])]
    return []


def members(server: ServerCluster) -> tuple[PodConfig, ...]:
    """The pod configurations a cluster runs or will run: its Pods and, when Pods are known, the template that
    the next pod (re)started will get (a bare Pod is its own template)."""
    if server.ref.kind == "Pod" or not server.pods:
        return (server.template,)
    return server.pods + (server.template,)
