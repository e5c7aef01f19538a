"""Which workloads are Nacos servers, which are their clients, and which client talks to which server.

A StatefulSet is a server when a container runs the nacos-server image or carries Nacos server env; any other
workload is a client when it is configured with a Nacos server address. Clients map to servers through Services:
`svc`, `svc.ns`, `svc.ns.svc[.cluster.local]`, pod DNS names (`nacos-0.nacos-headless.ns.svc...`), host lists.
The annotation nacosguard.io/role: server | client | none overrides detection.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from . import nacos
from .shapes import as_dict, as_list
from .model import Client, ObjectRef, PodConfig, ServerCluster
from .snapshot import Snapshot
from .sources import is_server_container, pod_config

ROLE_ANNOTATION = "nacosguard.io/role"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)
_IP = re.compile(r"^[\d.]+$|:")   # IPv4, or IPv6 (host names have no colon)


@dataclass(frozen=True, slots=True)
class Topology:
    servers: tuple[ServerCluster, ...]
    clients: tuple[Client, ...]


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
    annotations = as_dict(obj["metadata"].get("annotations"))
    role = annotations.get(ROLE_ANNOTATION)
    return role if role in ("server", "client", "none") else None


def _owned(obj: dict) -> bool:
    return any(isinstance(o, dict) and o.get("controller") for o in as_list(obj["metadata"].get("ownerReferences")))


def _owner_name(obj: dict, kind: str) -> str | None:
    for owner in as_list(obj["metadata"].get("ownerReferences")):
        if isinstance(owner, dict) and owner.get("kind") == kind and isinstance(owner.get("name"), str):
            return owner["name"]
    return None


def is_server(obj: dict, forced: frozenset[ObjectRef] = frozenset()) -> bool:
    if obj.get("kind") != "StatefulSet":
        return False
    if ref_of(obj) in forced:   # named by a NacosAuthCheck: a server whatever it looks like
        return True
    role = _role(obj)
    if role is not None:
        return role == "server"
    _, spec = pod_template(obj)
    return any(isinstance(c, dict) and is_server_container(c) for c in as_list(spec.get("containers")))


def discover(snapshot: Snapshot, servers: set[ObjectRef] | frozenset = frozenset()) -> Topology:
    """`servers`: StatefulSets to treat as Nacos servers whatever their pods look like."""
    workloads = [w for w in snapshot.workloads if _valid(w)]
    forced = frozenset(servers)
    server_sets = [w for w in workloads if is_server(w, forced)]
    pods_by_owner: dict[tuple[str, str], list[dict]] = {}
    for pod in workloads:
        if pod["kind"] == "Pod":
            owner = _owner_name(pod, "StatefulSet")
            if owner:
                pods_by_owner.setdefault((pod["metadata"]["namespace"], owner), []).append(pod)
    servers = tuple(_server(sts, pods_by_owner.get((sts["metadata"]["namespace"], sts["metadata"]["name"]), []),
                            snapshot) for sts in server_sets)
    server_keys = {(s.ref.namespace, s.ref.name) for s in servers}
    by_service = {}
    for server in servers:
        for name in sorted(server.service_names):
            by_service.setdefault((server.ref.namespace, name), []).append(server.ref)
    clients = []
    for obj in workloads:
        if _role(obj) in ("none", "server") or (obj["kind"] == "StatefulSet"
                                                and (obj["metadata"]["namespace"], obj["metadata"]["name"])
                                                in server_keys):
            continue
        if _owned(obj):  # its owner (Deployment, CronJob...) is checked instead
            continue
        client = _client(obj, snapshot, by_service)
        if client is not None:
            clients.append(client)
    return Topology(servers, tuple(clients))


def _valid(obj: dict) -> bool:
    metadata = obj.get("metadata")
    return isinstance(metadata, dict) and isinstance(metadata.get("name"), str) and isinstance(
        metadata.get("namespace"), str) and isinstance(obj.get("spec"), dict)


def _server(sts: dict, pods: list[dict], snapshot: Snapshot) -> ServerCluster:
    ref = ref_of(sts)
    metadata, spec = pod_template(sts)
    metadata = {**metadata, "annotations": {**as_dict(metadata.get("annotations")),
                                            **as_dict(sts["metadata"].get("annotations"))}}
    template = pod_config(ref, metadata, spec, snapshot, server=True)
    container = next((c for c in template.containers if c.server), None)
    pod_configs = tuple(sorted(
        (pod_config(ref_of(p), p["metadata"], p["spec"], snapshot, server=True, statuses=p.get("status"))
         for p in pods), key=lambda p: _ordinal(p.ref.name)))
    labels = template.labels
    services = {name for (namespace, name), service in snapshot.services.items()
                if namespace == ref.namespace and _selects(as_dict(service["spec"].get("selector")), labels)}
    if isinstance(sts["spec"].get("serviceName"), str):
        services.add(sts["spec"]["serviceName"])
    strategy = as_dict(sts["spec"].get("updateStrategy"))
    return ServerCluster(ref, template, container.name if container else "",
                         nacos.image_version(container.image) if container else None, pod_configs,
                         frozenset(services), as_dict(sts.get("status")).get("updateRevision"),
                         strategy.get("type") == "OnDelete")


def _ordinal(name: str) -> tuple[int, str]:
    head, _, tail = name.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (1 << 30, name)


def _selects(selector: dict, labels: dict) -> bool:
    return bool(selector) and all(labels.get(k) == v for k, v in selector.items())


def _client(obj: dict, snapshot: Snapshot, by_service: dict[tuple[str, str], list[ObjectRef]]) -> Client | None:
    ref = ref_of(obj)
    metadata, spec = pod_template(obj)
    metadata = {**metadata, "annotations": {**as_dict(metadata.get("annotations")),
                                            **as_dict(obj["metadata"].get("annotations"))}}
    template = pod_config(ref, metadata, spec, snapshot, server=False)
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
    the next pod (re)started will get."""
    return server.pods + (server.template,) if server.pods else (server.template,)
