"""Which workloads are Nacos servers (StatefulSet, Deployment, ReplicaSet, bare Pod, Nacos in any container
position), which Pods belong to them, and which Services front them; table-driven, without kopf."""
from __future__ import annotations

import copy
from datetime import datetime, timezone

import pytest

from nacos_auth_guard.checks import CheckContext, run_checks
from nacos_auth_guard.discovery import _ServiceIndex, discover, pod_owners
from nacos_auth_guard.evaluation import evaluate, parse_spec
from nacos_auth_guard.model import ObjectRef
from nacos_auth_guard.snapshot import build_snapshot
from support.objects import (KEY_B, NS, auth_secret, env, pods_of, replica_pods, secret, server_env,
                             server_workload, service, spring_client, statefulset)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
EARLY, LATE = "2026-11-20T08:00:00Z", "2026-11-22T10:00:00Z"
CLIENT_SECRET = secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"})


def topology(objects: list[dict], servers=frozenset()):
    return discover(build_snapshot(copy.deepcopy(objects), complete=True), servers)


def findings(objects: list[dict]) -> list[tuple[str, str, str]]:
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    return sorted((f.code, f.obj.kind, f.obj.name) for f in run_checks(CheckContext.build(snapshot, NOW)))


def fronted(server: dict) -> list[dict]:
    """A server with its Secret, a Service selecting it and a client that reaches it through that Service."""
    return [auth_secret(), server, service("nacos-headless", {"app": "nacos"}), CLIENT_SECRET, spring_client()]


DEPLOYMENT = server_workload("Deployment")
REPLICA_SET = server_workload("ReplicaSet")


@pytest.mark.parametrize("objects,servers,pods", [
    ("statefulset", [("StatefulSet", "nacos")], ["nacos-0", "nacos-1"]),
    ("deployment", [("Deployment", "nacos")], ["nacos-5d8f6-x5d8f", "nacos-5d8f6-y5d8f"]),
    ("deployment mid-rollout", [("Deployment", "nacos")],
     ["nacos-5d8f6-x5d8f", "nacos-77c4b-x77c4"]),
    ("bare replicaset", [("ReplicaSet", "nacos")], ["nacos-x5d8f"]),
    ("bare pod", [("Pod", "nacos")], ["nacos"]),
    ("nacos as the second container", [("Deployment", "nacos")], []),
    ("named by a check though it runs no nacos image", [("Deployment", "registry")], []),
], ids=lambda v: v if isinstance(v, str) else None)
def test_servers_in_any_workload(objects, servers, pods):
    shapes = {
        "statefulset": lambda: (sts := statefulset(replicas=2), [sts, *pods_of(sts, [EARLY, EARLY])]),
        "deployment": lambda: (None, [DEPLOYMENT, *replica_pods(DEPLOYMENT, "5d8f6", [EARLY, EARLY])]),
        "deployment mid-rollout": lambda: (None, [DEPLOYMENT, *replica_pods(DEPLOYMENT, "5d8f6", [EARLY]),
                                                  *replica_pods(DEPLOYMENT, "77c4b", [LATE])]),
        "bare replicaset": lambda: (None, [REPLICA_SET, *replica_pods(REPLICA_SET, "5d8f6", [EARLY])]),
        "bare pod": lambda: (None, [server_workload("Pod")]),
        "nacos as the second container": lambda: (None, [server_workload("Deployment", sidecar=True)]),
        "named by a check though it runs no nacos image": lambda: (None, [
            server_workload("Deployment", "registry", image="corp/registry:7", env_list=[])]),
    }
    _, built = shapes[objects]()
    forced = {ObjectRef("Deployment", NS, "registry")}
    found = topology(built + [service("nacos-headless", {"app": "nacos"})], forced).servers
    assert [(s.ref.kind, s.ref.name) for s in found] == servers
    assert sorted(p.ref.name for p in found[0].pods) == pods
    assert found[0].container == "nacos"
    if servers[0][1] == "nacos":
        assert found[0].service_names >= {"nacos-headless"}


@pytest.mark.parametrize("owners,labels,expected", [
    ([], {}, [("Pod", "web")]),
    ([{"kind": "StatefulSet", "name": "nacos", "controller": True}], {}, [("StatefulSet", "nacos")]),
    ([{"kind": "ReplicaSet", "name": "nacos-5d8f6", "controller": True}], {"pod-template-hash": "5d8f6"},
     [("ReplicaSet", "nacos-5d8f6"), ("Deployment", "nacos")]),
    # a ReplicaSet not named after the hash was not made by a Deployment
    ([{"kind": "ReplicaSet", "name": "nacos-rs", "controller": True}], {"pod-template-hash": "5d8f6"},
     [("ReplicaSet", "nacos-rs")]),
    ([{"kind": "Job", "name": "export", "controller": True}], {}, []),
    ([{"kind": "StatefulSet", "name": "nacos"}], {}, [("Pod", "web")]),   # not a controller: nothing controls it
])
def test_pod_owners(owners, labels, expected):
    pod = {"kind": "Pod", "metadata": {"name": "web", "namespace": NS, "labels": labels,
                                       "ownerReferences": owners}}
    assert [(o.kind, o.name) for o in pod_owners(pod)] == expected


def test_owned_workloads_are_members_not_servers():
    """A Deployment's ReplicaSet and a StatefulSet's Pods run Nacos too, but only their owner is a server."""
    sts = statefulset(replicas=1)
    owned_rs = copy.deepcopy(REPLICA_SET)
    owned_rs["metadata"].update(name="nacos-5d8f6", ownerReferences=[
        {"apiVersion": "apps/v1", "kind": "Deployment", "name": "nacos", "uid": "u", "controller": True}])
    other = server_workload("Deployment", "nacos")
    other["metadata"]["namespace"] = "other"
    found = topology([sts, *pods_of(sts, [EARLY]), DEPLOYMENT, owned_rs, *replica_pods(DEPLOYMENT, "5d8f6", [EARLY]),
                      other]).servers
    assert sorted((s.ref.kind, s.ref.namespace) for s in found) == [
        ("Deployment", "other"), ("Deployment", NS), ("StatefulSet", NS)]
    assert [len(s.pods) for s in sorted(found, key=lambda s: s.ref)] == [0, 1, 1]


@pytest.mark.parametrize("kind", ["Deployment", "ReplicaSet", "Pod"])
def test_every_server_check_applies_to_other_workloads(kind):
    """What a StatefulSet server gets, the same server as another workload gets (clients included: no NAG402)."""
    healthy = fronted(server_workload(kind))
    assert findings(healthy) == []
    no_key = fronted(server_workload(kind, env_list=[e for e in server_env() if e["name"] != "NACOS_AUTH_TOKEN"]))
    assert findings(no_key) == [("NAG201", kind, "nacos")]
    no_credentials = [o for o in fronted(server_workload(kind)) if o["kind"] != "Secret" or o["metadata"]["name"]
                      != "orders-nacos"]
    no_credentials[-1]["spec"]["template"]["spec"]["containers"][0]["env"] = [
        env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", "nacos-headless:8848")]
    assert findings(no_credentials) == [("NAG401", "Deployment", "orders")]


def test_a_latest_image_without_a_key_as_a_deployment():
    """The corpus' usual standalone shape: kompose output, `latest`, no auth env (3.x console auth is on by default
    and needs the key: NacosServerAdminAuthConfig / the image's application.properties@v3.0.3)."""
    server = server_workload("Deployment", image="nacos/nacos-server:latest", env_list=[env("MODE", "standalone")])
    assert ("NAG201", "Deployment", "nacos") in findings([server])


def test_key_mismatch_across_two_replicasets_mid_rollout():
    other_key = [e for e in server_env() if e["name"] != "NACOS_AUTH_TOKEN"] + [env("NACOS_AUTH_TOKEN", KEY_B)]
    objects = [auth_secret(), DEPLOYMENT, *replica_pods(DEPLOYMENT, "5d8f6", [EARLY, EARLY]),
               *replica_pods(DEPLOYMENT, "77c4b", [LATE], env_list=other_key)]
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    [mismatch] = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == "NAG205"]
    assert mismatch.obj == ObjectRef("Deployment", NS, "nacos")
    assert "nacos-5d8f6-x5d8f, nacos-5d8f6-y5d8f" in mismatch.message and "nacos-77c4b-x77c4" in mismatch.message
    assert "kubectl rollout restart deployment/nacos -n shop" in mismatch.message


def test_a_check_names_a_deployment_server():
    objects = fronted(server_workload("Deployment", env_list=[e for e in server_env()
                                                              if e["name"] != "NACOS_AUTH_TOKEN"]))
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    check = {"metadata": {"name": "main", "namespace": NS}, "spec": {"server": {"kind": "Deployment", "name": "nacos"}}}
    result = evaluate(parse_spec(check), snapshot, NOW)
    assert [(f.code, f.obj.kind) for f in result.findings] == [("NAG201", "Deployment")]
    assert (result.clients, result.stalled) == (1, None)
    legacy = {"metadata": {"name": "main", "namespace": NS}, "spec": {"server": {"statefulSetName": "nacos"}}}
    assert evaluate(parse_spec(legacy), snapshot, NOW).stalled[0] == "ServerNotFound"


def test_services_are_matched_without_comparing_every_server_with_every_service():
    """300 tenants, each a Nacos Deployment `app: nacos, tenant: tN` and its Service: every Service is filed under
    its tenant's pair, which one server carries, not under `app: nacos`, which all 300 carry (issue 10.4)."""
    objects = []
    for tenant in range(300):
        server = server_workload("Deployment", f"nacos-{tenant}")
        for labels in (server["metadata"]["labels"], server["spec"]["template"]["metadata"]["labels"]):
            labels.update(app="nacos", tenant=f"t{tenant}")
        objects += [server, service(f"nacos-{tenant}", {"app": "nacos", "tenant": f"t{tenant}"})]
    snapshot = build_snapshot(objects, complete=True)
    index = _ServiceIndex(snapshot, snapshot.workloads)
    assert max(len(bucket) for bucket in index.buckets.values()) == 1
    assert all(server.service_names == {server.ref.name} for server in discover(snapshot).servers)


@pytest.mark.parametrize("env_list", [[{"name": ["NACOS_AUTH_TOKEN"]}], [{"name": {"a": 1}}], "NACOS_SERVERS", [None]])
def test_env_that_is_no_list_of_names_makes_no_server_and_no_crash(env_list):
    """Every kind that can be a server is read for server env: a hostile one is simply not a server."""
    server = server_workload("Deployment", image="corp/app:1", env_list=[])
    server["spec"]["template"]["spec"]["containers"][0]["env"] = env_list
    assert topology([server]).servers == ()


def test_label_values_that_are_not_text_select_nothing_and_crash_nothing():
    server = server_workload("Deployment")
    server["spec"]["template"]["metadata"]["labels"] = {"app": ["nacos"], "tier": "registry"}
    [found] = topology([server, service("nacos", {"app": "nacos"}), service("registry", {"tier": "registry"})]).servers
    assert found.service_names == {"registry"}


CUSTOM = "registry.example.com/middleware/config-center:1.0"


@pytest.mark.parametrize("image,server_env_set,annotations,kept", [
    ("nacos/nacos-server:v2.4.3", False, {}, True),
    (CUSTOM, True, {}, True),                                   # Nacos server env: recognisable
    (CUSTOM, False, {}, False),                                 # a custom build with its settings in its image
    (CUSTOM, False, {"nacosguard.io/role": "server"}, True),
])
def test_the_operator_keeps_a_deployments_pods_only_when_they_look_like_nacos(image, server_env_set, annotations,
                                                                              kept):
    """README: a server named by spec.server that runs a custom image needs the role annotation on its pod template
    for its pods to be kept (kube/handlers.pod_index)."""
    import asyncio
    from nacos_auth_guard.kube.handlers import pod_index
    from support.objects import replica_pods, server_workload
    server = server_workload("Deployment", image=image, env_list=None if server_env_set else [env("JVM_XMS", "1g")])
    server["spec"]["template"]["metadata"]["annotations"] = annotations
    [pod, *_] = replica_pods(server, "7d9f8c6b5", ["2026-11-22T10:00:00Z"])
    pod["metadata"]["annotations"] = annotations
    assert (asyncio.run(pod_index(namespace="shop", body=pod)) is not None) is kept


def test_pods_written_alike_are_resolved_once_and_anything_else_on_its_own(monkeypatch):
    """The resolution cache (sources._resolution_key): a StatefulSet's template and Pods with the same containers
    and volumes share one resolution; a Pod whose env differs, and content marshal cannot carry (a !!timestamp
    value, read by repr instead), get their own; nothing is shared across namespaces."""
    from nacos_auth_guard import sources
    calls = []
    real = sources._resolve_pod
    monkeypatch.setattr(sources, "_resolve_pod", lambda ref, *a: calls.append(ref.name) or real(ref, *a))
    sts = statefulset()
    pods = pods_of(sts, [EARLY] * 3)
    pods[2]["spec"]["containers"][0]["env"].append({"name": "EXTRA", "value": "x"})
    other = statefulset()
    other["metadata"]["namespace"] = "other"
    timestamped = copy.deepcopy(other)
    timestamped["metadata"]["name"] = "dated"
    timestamped["spec"]["template"]["spec"]["containers"][0]["env"].append(
        {"name": "WHEN", "value": datetime(2026, 1, 1, tzinfo=timezone.utc)})
    found = topology([sts, *pods, auth_secret(), other, auth_secret(namespace="other"), timestamped])
    assert sorted(calls) == sorted(["nacos", "nacos-2", "nacos", "dated"])
    by_name = {(s.ref.namespace, s.ref.name): s for s in found.servers}
    cluster = by_name[(NS, "nacos")]
    assert [p.containers[0].settings == cluster.template.containers[0].settings for p in cluster.pods] == [
        True, True, True]   # EXTRA is no setting: the same settings, resolved on their own
    assert {p.ref.name for p in cluster.pods} == {"nacos-0", "nacos-1", "nacos-2"}
