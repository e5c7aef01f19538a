"""The Secret and ConfigMap list-watch (kube/listwatch.py): its index rules without an apiserver, then against the
emulator its pages, its gate (no check evaluated before the first listing), and namespaced mode. Faults, 410 Gone
and the outage are in test_faults.py; what it may log in test_no_leaks.py."""
from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest

from nacos_auth_guard.kube import handlers, listwatch
from nacos_auth_guard.kube.settings import CONFIG
from support.harness import Cluster
from support.objects import NS, auth_secret, healthy_cluster, pods_of, secret, statefulset

STARTED = "2026-11-22T10:00:00Z"


def item(namespace: str, name: str, version: str) -> dict:
    return {"metadata": {"namespace": namespace, "name": name, "resourceVersion": version}}


def recording() -> tuple[listwatch.ListWatch, list]:
    calls: list = []
    watch = listwatch.ListWatch("secrets", ["/api/v1/secrets"],
                                observe=lambda ns, name, body: (name, body["metadata"]["resourceVersion"]),
                                changed=lambda ns, name: calls.append(("changed", ns, name)),
                                forget=lambda ns, name: calls.append(("forget", ns, name)))
    return watch, calls


def test_the_index_has_the_shape_of_a_kopf_index_and_skips_what_did_not_change():
    watch, calls = recording()
    watch.put(item("shop", "a", "1"))
    watch.put(item("shop", "b", "2"))
    watch.put(item("shop", "a", "1"))   # listed again after a gap, unchanged: no work, nothing marked
    assert [list(entries) for entries in watch.index.values()] == [[("a", "1"), ("b", "2")]]
    assert calls == [("changed", "shop", "a"), ("changed", "shop", "b")]
    watch.put(item("shop", "a", "3"))
    watch.remove(("shop", "a"))
    watch.remove(("shop", "b"))
    assert watch.index == {} and watch.versions == {}   # an empty namespace goes, as in kopf's index
    assert calls[2:] == [("changed", "shop", "a"), ("forget", "shop", "a"), ("changed", "shop", "a"),
                         ("forget", "shop", "b"), ("changed", "shop", "b")]
    assert watch.put({"metadata": {"namespace": "shop"}}) is None and watch.put("junk") is None


def test_an_object_the_index_function_fails_on_is_left_out_and_the_others_are_indexed(caplog):
    def observe(namespace, name, body):
        if name == "bad":
            raise KeyError("CANARY-value")
        return name
    watch = listwatch.ListWatch("secrets", ["/api/v1/secrets"], observe=observe, changed=lambda ns, name: None)
    for name in ("a", "bad", "b"):
        watch.put(item("shop", name, "1"))
    assert list(watch.index["shop"]) == ["a", "b"] and "bad" not in watch.index["shop"].by_name
    assert "Could not index secrets shop/bad (KeyError)" in caplog.text and "CANARY" not in caplog.text


def test_a_watch_that_ends_at_once_is_resumed_after_a_pause(monkeypatch):
    watch, _ = recording()
    pauses: list[float] = []

    async def ended_at_once(path, version):
        if len(pauses) == 3:
            raise asyncio.CancelledError
        return version

    async def listed(path):
        return "1"

    async def sleep(delay):
        pauses.append(delay)

    monkeypatch.setattr(watch, "_watch", ended_at_once)
    monkeypatch.setattr(watch, "_list", listed)
    monkeypatch.setattr(listwatch.asyncio, "sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        asyncio.run(watch._follow("/api/v1/secrets"))
    assert len(pauses) == 3 and pauses == sorted(pauses) and pauses[0] > 0


def test_a_watch_line_without_end_is_a_failure_not_unbounded_memory(monkeypatch):
    """A proxy answering a watch with endless bytes and no newline: the watch fails (and is retried) once the line
    passes MAX_EVENT_BYTES, instead of growing the buffer with it."""
    watch, _ = recording()
    monkeypatch.setattr(listwatch, "MAX_EVENT_BYTES", 1000)
    sent = []

    class Content:
        async def iter_any(self):
            for index in range(100):
                sent.append(index)
                yield b'{"type": "ADDED", "object": ' + b"x" * 100

    class Response:
        status, content = 200, Content()

        async def __aenter__(self):
            return self

        async def __aexit__(self, *exc):
            return False

    async def request(*args):
        return Response()

    monkeypatch.setattr(watch, "_request", request)
    with pytest.raises(listwatch.ApiError, match="an event over"):
        asyncio.run(watch._watch("/api/v1/secrets", "1"))
    assert len(sent) < 12


@pytest.mark.parametrize("event, expected", [
    ({"type": "ADDED", "object": item("shop", "a", "7")}, "7"),
    ({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}, "9"),
    ({"type": "BOOKMARK", "object": {"metadata": {}}}, "5"),
    ({"type": "ERROR", "object": {"code": 410, "reason": "Expired"}}, listwatch.Expired),
    ({"type": "ERROR", "object": {"code": 500}}, listwatch.ApiError),
], ids=["added", "bookmark", "bookmark-without-version", "410", "500"])
def test_watch_events_give_the_version_to_resume_from(event, expected):
    watch, _ = recording()
    if isinstance(expected, type):
        with pytest.raises(expected):
            watch._event(event, "5")
    else:
        assert watch._event(event, "5") == expected


@pytest.mark.parametrize("path, namespace", [
    ("/api/v1/secrets", None), ("/api/v1/namespaces/shop/secrets", "shop"), ("/api/v1/namespaces/a/configmaps", "a"),
])
def test_namespace_of_a_path(path, namespace):
    assert listwatch._namespace_of(path) == namespace


@pytest.mark.parametrize("error, text", [
    (listwatch.ApiError(503, "listing secrets"), "HTTP 503 listing secrets"),
    (aiohttp.ClientConnectionError("refused, with http://user:pw@host in it"), "ClientConnectionError"),
    (asyncio.TimeoutError(), "TimeoutError"),
    (ValueError("Expecting value: line 1"), "ValueError"),
    (KeyError("a bug"), None),
], ids=["api", "network", "timeout", "not-json", "bug"])
def test_failures_in_a_few_words_without_what_they_quote(error, text):
    assert listwatch.failure(error) == text


@pytest.mark.parametrize("namespaces, expected", [
    ([], ["/api/v1/secrets"]),
    (["shop", "ops"], ["/api/v1/namespaces/shop/secrets", "/api/v1/namespaces/ops/secrets"]),
])
def test_paths_cluster_wide_or_per_namespace(monkeypatch, namespaces, expected):
    monkeypatch.setattr(CONFIG, "namespaces", namespaces)
    assert listwatch.paths("secrets") == expected


# --- against the emulator ----------------------------------------------------------------------------------------

def test_secrets_are_listed_in_pages_and_no_check_is_evaluated_before_the_last(monkeypatch):
    monkeypatch.setattr(listwatch, "PAGE", 3)
    with Cluster(namespaces=[NS]) as cluster:
        objects = [*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3),
                   *(secret(f"unrelated-{index}", {"a": "b"}) for index in range(7))]
        cluster.apply(*objects)
        secrets = sum(o["kind"] == "Secret" for o in objects)
        cluster.server.delay("GET", "secrets", 0.7, times=3)   # the listing takes over 2 s; kopf's are done sooner
        cluster.start_operator(wait_for_webhooks=False)
        while True:
            patches = cluster.server.count("PATCH", "nacosauthchecks")
            if handlers.LISTWATCHES["secrets"].listed.is_set():
                break
            assert patches == 0, "a check was evaluated before every Secret was listed"
            time.sleep(0.02)
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", 20, message="Ready=True")
        # pages of 3, each asked once; and the one (empty) page of Helm releases
        assert cluster.server.count("GET", "secrets") == -(-secrets // 3) + 1 >= 4
        entries = {name for name, _ in handlers.RECONCILER.sweeper.entries("secret_index", NS)}
        assert {"nacos-auth", "orders-nacos", "unrelated-6"} <= entries


def test_namespaced_mode_lists_and_watches_only_its_namespaces():
    with Cluster(namespaces=[NS, "other"]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3),
                      auth_secret(namespace="other"))
        cluster.start_operator(namespaces=[NS])
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", 20, message="Ready=True")
        assert set(handlers.LISTWATCHES["secrets"].index) == {NS}
        cluster.delete("Secret", "orders-nacos")
        cluster.wait_for(lambda: cluster.reason("nacos", "SecretsResolved") == "SecretNotFound", 10,
                         message="the deletion seen through the namespace's watch")
        calls = {(plural, verb, namespace) for (_, verb, _, plural, namespace) in cluster.server.access
                 if plural in ("secrets", "configmaps") and verb in ("list", "watch")}
        assert calls == {(plural, verb, NS) for plural in ("secrets", "configmaps") for verb in ("list", "watch")}


def test_helm_releases_are_indexed_from_their_metadata_alone():
    """Their one key, without its value; listed and watched metadata-only, so the value is never sent."""
    release = {"apiVersion": "v1", "kind": "Secret", "type": "helm.sh/release.v1",
               "metadata": {"name": "sh.helm.release.v1.shop.v1", "namespace": NS, "labels": {"owner": "helm"}},
               "data": {"release": "SDRzSQ==" * 30_000}}
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3), release)
        cluster.start_operator()
        entries = dict(handlers.RECONCILER.sweeper.entries("secret_index", NS))
        assert entries["sh.helm.release.v1.shop.v1"].data == {"release": None}
        assert entries["nacos-auth"].data   # the others with their values
        cluster.apply({**release, "metadata": {**release["metadata"], "name": "sh.helm.release.v1.shop.v2"}})
        cluster.delete("Secret", "sh.helm.release.v1.shop.v1")
        cluster.wait_for(lambda: set(dict(handlers.RECONCILER.sweeper.entries("secret_index", NS))) >= {
            "sh.helm.release.v1.shop.v2"} and "sh.helm.release.v1.shop.v1" not in dict(
            handlers.RECONCILER.sweeper.entries("secret_index", NS)), message="the watch of Helm releases")
