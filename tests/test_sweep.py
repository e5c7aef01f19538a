"""The sweeper's rules, without kopf: what it marks gone after a relist, what it must keep (an object that an
event touched while the list was in flight), and that an event for a marked object brings it back."""
from __future__ import annotations

import asyncio

from nacos_auth_guard.kube import kubeapi, sweep
from nacos_auth_guard.kube.settings import CONFIG

POD_A = {"kind": "Pod", "metadata": {"name": "nacos-0", "namespace": "shop", "uid": "old"}}
POD_B = {"kind": "Pod", "metadata": {"name": "nacos-0", "namespace": "shop", "uid": "new"}}
POD_C = {"kind": "Pod", "metadata": {"name": "nacos-1", "namespace": "shop", "uid": "c"}}


def indices() -> dict:
    return {"pod_index": {"shop": [POD_A, POD_B, POD_C]},
            "secret_index": {"shop": [("nacos-auth", object()), ("orders-nacos", object())]},
            "namespace_index": {"shop": [{}], "gone-ns": [{}]}}


def run(sweeper: sweep.Sweeper, index: str, listed: set, during=None) -> set:
    def list_identities(path):
        if during:
            during()
        return listed
    original = kubeapi.list_identities
    kubeapi.list_identities = list_identities
    try:
        return asyncio.run(sweeper.sweep(index))
    finally:
        kubeapi.list_identities = original


def test_entries_the_apiserver_no_longer_has_are_skipped(monkeypatch):
    monkeypatch.setattr(CONFIG, "namespaces", [])
    gone_in: list = []
    sweeper = sweep.Sweeper(indices(), lambda index, namespace: gone_in.append((index, namespace)))
    # nacos-0 was replaced under its name (uid old -> new); nacos-1 is still there.
    found = run(sweeper, "pod_index", {("shop", "nacos-0", "new"), ("shop", "nacos-1", "c")})
    assert found == {("shop", "nacos-0", "old")} and gone_in == [("pod_index", "shop")]
    assert list(sweeper.entries("pod_index", "shop")) == [POD_B, POD_C]
    # The index keeps no uid for Secrets: by name.
    run(sweeper, "secret_index", {("shop", "nacos-auth", "u1")})
    assert [name for name, _ in sweeper.entries("secret_index", "shop")] == ["nacos-auth"]
    run(sweeper, "namespace_index", {(None, "shop", "u2")})
    assert list(sweeper.namespaces("namespace_index")) == ["shop"]


def test_an_object_touched_while_the_list_was_in_flight_is_kept(monkeypatch):
    monkeypatch.setattr(CONFIG, "namespaces", [])
    sweeper = sweep.Sweeper(indices(), lambda *_: None)
    # The list misses nacos-1 (created after it was taken), but its event arrives meanwhile: keep it.
    found = run(sweeper, "pod_index", {("shop", "nacos-0", "old"), ("shop", "nacos-0", "new")},
                during=lambda: sweeper.observed("pods", "shop", "nacos-1", "c", "ADDED"))
    assert found == set() and len(list(sweeper.entries("pod_index", "shop"))) == 3


def test_an_event_for_a_swept_object_brings_it_back_and_a_relist_is_noticed(monkeypatch):
    monkeypatch.setattr(CONFIG, "namespaces", ["shop"])
    sweeper = sweep.Sweeper(indices(), lambda *_: None)
    assert sweeper._paths("pod_index") == ["/api/v1/namespaces/shop/pods"]
    run(sweeper, "secret_index", set())
    assert list(sweeper.entries("secret_index", "shop")) == []
    sweeper.observed("secrets", "shop", "orders-nacos", "u3", "ADDED")
    assert [name for name, _ in sweeper.entries("secret_index", "shop")] == ["orders-nacos"]
    assert not sweeper.pending
    sweeper.observed("secrets", "shop", "orders-nacos", "u3", None)   # listed again: kopf relisted
    assert sweeper.pending == {"secret_index"}
