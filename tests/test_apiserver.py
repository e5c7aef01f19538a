"""The API server emulator's own tests: each behaviour the operator and the official client rely on."""
from __future__ import annotations

import json
import threading
import time
import urllib.error
import urllib.request

import kubernetes
import pytest

from support.harness import GROUP, PLURAL, TEST_USER, VERSION, Cluster


@pytest.fixture(scope="module")
def cluster():
    with Cluster(namespaces=["shop", "ops"]) as cluster:
        yield cluster


def secret(name: str, labels: dict | None = None) -> dict:
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "labels": labels or {}},
            "data": {"k": "dg=="}}


def test_namespace_from_the_url_and_server_fields(cluster):
    created = cluster.core.create_namespaced_secret("shop", secret("a"))
    assert created.metadata.namespace == "shop" and created.metadata.uid and created.metadata.resource_version
    assert created.metadata.creation_timestamp is not None and created.metadata.generation == 1


def test_generate_name(cluster):
    body = {"metadata": {"generateName": "ev-"}, "involvedObject": {"name": "x"}, "reason": "R", "message": "m"}
    first = cluster.core.create_namespaced_event("shop", body)
    second = cluster.core.create_namespaced_event("shop", body)
    assert first.metadata.name != second.metadata.name and first.metadata.name.startswith("ev-")


def test_conflict_on_create(cluster):
    cluster.core.create_namespaced_secret("shop", secret("dup"))
    with pytest.raises(kubernetes.client.ApiException) as error:
        cluster.core.create_namespaced_secret("shop", secret("dup"))
    assert error.value.status == 409


def test_namespaces_list_and_discovery(cluster):
    assert {"shop", "ops"} <= {n.metadata.name for n in cluster.core.list_namespace().items}
    groups = {g.name for g in kubernetes.client.ApisApi(cluster.api).get_api_versions().groups}
    assert {"apps", "batch", GROUP} <= groups
    resources = kubernetes.client.CustomObjectsApi(cluster.api)
    assert resources.list_namespaced_custom_object(GROUP, VERSION, "shop", PLURAL)["items"] == []


def test_label_and_field_selectors(cluster):
    cluster.core.create_namespaced_secret("ops", secret("s1", {"tier": "web", "team": "a"}))
    cluster.core.create_namespaced_secret("ops", secret("s2", {"tier": "db"}))
    names = lambda **kw: sorted(s.metadata.name for s in cluster.core.list_namespaced_secret("ops", **kw).items)
    assert names(label_selector="tier=web") == ["s1"]
    assert names(label_selector="tier in (web,db),!team") == ["s2"]
    assert names(label_selector="tier!=web") == ["s2"]
    assert names(field_selector="metadata.name=s2") == ["s2"]


def test_status_subresource_semantics(cluster):
    check = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NacosAuthCheck", "metadata": {"name": "c"},
             "spec": {"server": {"statefulSetName": "nacos"}}, "status": {"ignored": True}}
    created = cluster.custom.create_namespaced_custom_object(GROUP, VERSION, "shop", PLURAL, check)
    assert "status" not in created and created["metadata"]["generation"] == 1
    cluster.custom.patch_namespaced_custom_object(GROUP, VERSION, "shop", PLURAL, "c",
                                                  {"status": {"x": 1}, "metadata": {"labels": {"a": "b"}}})
    obj = cluster.check("c")
    assert "status" not in obj and obj["metadata"]["generation"] == 1   # metadata changes do not bump it
    cluster.custom.patch_namespaced_custom_object_status(GROUP, VERSION, "shop", PLURAL, "c",
                                                         {"status": {"x": 1}, "spec": {"enforcement": "Deny"}})
    obj = cluster.check("c")
    assert obj["status"] == {"x": 1} and "enforcement" not in obj["spec"]
    cluster.custom.patch_namespaced_custom_object(GROUP, VERSION, "shop", PLURAL, "c", {"spec": {"enforcement": "Deny"}})
    assert cluster.check("c")["metadata"]["generation"] == 2


def test_json_patch_with_test_op_and_put(cluster):
    cluster.core.create_namespaced_config_map("shop", {"metadata": {"name": "cm"}, "data": {"a": "1"}})
    patch = [{"op": "test", "path": "/data/a", "value": "1"}, {"op": "replace", "path": "/data/a", "value": "2"}]
    cluster.core.patch_namespaced_config_map("cm", "shop", patch)
    assert cluster.core.read_namespaced_config_map("cm", "shop").data == {"a": "2"}
    with pytest.raises(kubernetes.client.ApiException) as error:
        cluster.core.patch_namespaced_config_map("cm", "shop", [{"op": "test", "path": "/data/a", "value": "9"}])
    assert error.value.status == 422
    current = cluster.core.read_namespaced_config_map("cm", "shop")
    current.data = {"b": "3"}
    cluster.core.replace_namespaced_config_map("cm", "shop", current)
    assert cluster.core.read_namespaced_config_map("cm", "shop").data == {"b": "3"}


def test_delete_honours_finalizers(cluster):
    cluster.core.create_namespaced_config_map("shop", {"metadata": {"name": "fin", "finalizers": ["x/y"]}})
    cluster.core.delete_namespaced_config_map("fin", "shop")
    assert cluster.core.read_namespaced_config_map("fin", "shop").metadata.deletion_timestamp is not None
    cluster.core.patch_namespaced_config_map("fin", "shop", {"metadata": {"finalizers": None}})
    with pytest.raises(kubernetes.client.ApiException):
        cluster.core.read_namespaced_config_map("fin", "shop")


def watch_lines(cluster, path: str, count: int, timeout: float = 5, until: str | None = None) -> list[dict]:
    url = f"http://127.0.0.1:{cluster.server.port}{path}"
    lines = []
    with urllib.request.urlopen(url, timeout=timeout) as response:
        for raw in response:
            lines.append(json.loads(raw))
            if len(lines) >= count or lines[-1]["type"] == until:
                break
    return lines


def test_watch_from_a_resource_version_and_bookmark(cluster):
    listed = cluster.core.list_namespaced_config_map("shop")
    revision = listed.metadata.resource_version
    threading.Timer(0.1, lambda: cluster.core.create_namespaced_config_map(
        "shop", {"metadata": {"name": "later"}})).start()
    [event] = watch_lines(cluster, f"/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion={revision}", 1)
    assert (event["type"], event["object"]["metadata"]["name"]) == ("ADDED", "later")
    initial = watch_lines(cluster, "/api/v1/namespaces/shop/configmaps?watch=true&sendInitialEvents=true", 50,
                          until="BOOKMARK")
    assert {e["object"]["metadata"].get("name") for e in initial[:-1]} >= {"later"}
    assert initial[-1]["type"] == "BOOKMARK"
    assert initial[-1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"] == "true"


def test_lists_in_pages_from_one_snapshot_and_expire_after_compaction():
    """limit/continue as the API conventions describe chunked lists: pages of at most `limit` items in key order,
    all at the first page's resourceVersion even when objects change in between; a token from before a compaction
    gets 410 Expired."""
    with Cluster(namespaces=["pages"]) as cluster:
        for index in range(5):
            cluster.core.create_namespaced_secret("pages", secret(f"s{index}"))
        status, first = cluster.request("GET", "/api/v1/namespaces/pages/secrets?limit=2")
        assert status == 200 and [i["metadata"]["name"] for i in first["items"]] == ["s0", "s1"]
        assert first["metadata"]["remainingItemCount"] == 3
        cluster.core.delete_namespaced_secret("s3", "pages")
        cluster.core.create_namespaced_secret("pages", secret("s5"))
        names, token = [], first["metadata"]["continue"]
        while token:
            status, page = cluster.request("GET", f"/api/v1/namespaces/pages/secrets?limit=2&continue={token}")
            assert status == 200 and page["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
            names += [i["metadata"]["name"] for i in page["items"]]
            token = page["metadata"].get("continue")
        assert names == ["s2", "s3", "s4"]   # the snapshot: s3 still there, s5 not yet
        _, again = cluster.request("GET", "/api/v1/namespaces/pages/secrets?limit=2")
        cluster.core.create_namespaced_secret("pages", secret("s6"))
        cluster.server.compact()   # the history up to s6: the snapshot of `again` is gone
        status, expired = cluster.request("GET", f"/api/v1/namespaces/pages/secrets?limit=2&continue="
                                                 f"{again['metadata']['continue']}")
        assert (status, expired["reason"], expired["code"]) == (410, "Expired", 410)
        _, whole = cluster.request("GET", "/api/v1/namespaces/pages/secrets")
        assert "continue" not in whole["metadata"] and len(whole["items"]) == 6


def test_metadata_only_lists_and_watches(cluster):
    """Accept: ...;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1 (as=PartialObjectMetadata for a watch): each
    object's metadata alone, as client-go's metadata informers receive it."""
    import urllib.request
    cluster.core.create_namespaced_secret("ops", secret("partial", {"p": "1"}))

    def get(path: str, accept: str) -> list[dict]:
        request = urllib.request.Request(f"http://127.0.0.1:{cluster.server.port}{path}", headers={"Accept": accept})
        with urllib.request.urlopen(request, timeout=5) as response:
            return [json.loads(line) for line in response.read().splitlines() if line.strip()]
    [listed] = get("/api/v1/namespaces/ops/secrets?labelSelector=p%3D1",
                   "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json")
    assert listed["kind"] == "PartialObjectMetadataList"
    assert [(i["kind"], i["metadata"]["name"], "data" in i) for i in listed["items"]] == [
        ("PartialObjectMetadata", "partial", False)]
    events = get("/api/v1/namespaces/ops/secrets?watch=true&sendInitialEvents=true&timeoutSeconds=1&fieldSelector="
                 "metadata.name%3Dpartial", "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1")
    assert [(e["type"], e["object"]["kind"], "data" in e["object"]) for e in events[:-1]] == [
        ("ADDED", "PartialObjectMetadata", False)]


def test_watch_timeout_ends_the_stream(cluster):
    started = time.monotonic()
    assert watch_lines(cluster, "/api/v1/namespaces/ops/pods?watch=true&timeoutSeconds=1", 1) == []
    assert time.monotonic() - started < 3


def test_faults_and_request_counts(cluster):
    before = cluster.server.count("GET", "secrets")
    cluster.server.fail("GET", "secrets", 503, times=1)
    with pytest.raises(kubernetes.client.ApiException) as error:
        cluster.core.list_namespaced_secret("shop")
    assert error.value.status == 503
    cluster.core.list_namespaced_secret("shop")
    assert cluster.server.count("GET", "secrets") - before == 2


def test_requests_stay_fast_after_thousands(cluster):
    for _index in range(1500):
        cluster.request("GET", "/api/v1/namespaces/shop/secrets/a")
    started = time.perf_counter()
    for _index in range(100):
        cluster.request("GET", "/api/v1/namespaces/shop/secrets/a")
    assert (time.perf_counter() - started) / 100 < 0.02


def test_a_slow_request_is_cancelled_by_a_client_that_gives_up(cluster):
    cluster.server.delay("POST", "configmaps", 1.0)
    with pytest.raises(Exception):   # urllib3's read timeout
        cluster.core.create_namespaced_config_map("ops", {"metadata": {"name": "slow"}}, _request_timeout=0.3)
    time.sleep(1.0)
    with pytest.raises(kubernetes.client.ApiException):
        cluster.core.read_namespaced_config_map("slow", "ops")


def test_an_answer_late_request_is_done_although_the_client_timed_out(cluster):
    cluster.server.delay("POST", "configmaps", 1.0, answer_late=True)
    with pytest.raises(Exception):
        cluster.core.create_namespaced_config_map("ops", {"metadata": {"name": "late"}}, _request_timeout=0.3)
    assert cluster.core.read_namespaced_config_map("late", "ops").metadata.name == "late"


def test_a_watch_fault_410_is_an_in_stream_error(cluster):
    cluster.server.fail("WATCH", "configmaps", 410)
    [event] = watch_lines(cluster, "/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion=1", 5)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410


def test_a_watch_from_before_compaction_is_gone(cluster):
    old = cluster.core.list_namespaced_config_map("shop").metadata.resource_version
    cluster.core.create_namespaced_config_map("shop", {"metadata": {"name": "after-old"}})
    cluster.server.compact()
    current = cluster.core.list_namespaced_config_map("shop").metadata.resource_version
    [event] = watch_lines(cluster, f"/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion={old}", 5)
    assert event["type"] == "ERROR" and event["object"]["code"] == 410
    assert watch_lines(cluster, f"/api/v1/namespaces/shop/configmaps?watch=true&resourceVersion={current}"
                                "&timeoutSeconds=1", 1) == []


def test_outage_refuses_connections_then_serves_the_same_state_on_the_same_port(cluster):
    port = cluster.server.port
    cluster.core.create_namespaced_config_map("ops", {"metadata": {"name": "kept"}})
    lines: list = []
    watcher = threading.Thread(target=lambda: lines.extend(
        watch_lines(cluster, "/api/v1/namespaces/ops/secrets?watch=true&timeoutSeconds=30", 1, timeout=30)))
    watcher.start()
    time.sleep(0.2)
    cluster.server.go_offline()
    try:
        watcher.join(5)
        assert not watcher.is_alive() and lines == []   # the open watch was cut
        with pytest.raises(urllib.error.URLError):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/namespaces/ops/configmaps", timeout=2)
        cluster.server.store_directly("", "v1", "configmaps", "ops", "kept", None)   # meanwhile, elsewhere
    finally:
        cluster.server.go_online()
    assert cluster.server.port == port
    names = {c.metadata.name for c in cluster.core.list_namespaced_config_map("ops").items}
    assert "kept" not in names


def test_every_request_is_recorded_as_the_rbac_permission_it_needs(cluster):
    cluster.core.create_namespaced_secret("ops", secret("recorded"))
    cluster.server.access.clear()
    cluster.core.list_namespaced_secret("ops")
    cluster.core.read_namespaced_secret("recorded", "ops")
    cluster.core.list_secret_for_all_namespaces()
    cluster.custom.patch_namespaced_custom_object_status(GROUP, VERSION, "shop", PLURAL, "c", {"status": {"x": 2}})
    watch_lines(cluster, "/api/v1/namespaces/ops/pods?watch=true&timeoutSeconds=1", 1)
    assert set(cluster.server.access) == {
        (TEST_USER, "list", "", "secrets", "ops"), (TEST_USER, "get", "", "secrets", "ops"),
        (TEST_USER, "list", "", "secrets", None), (TEST_USER, "patch", GROUP, f"{PLURAL}/status", "shop"),
        (None, "watch", "", "pods", "ops")}   # watch_lines() sends no token
