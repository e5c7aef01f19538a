"""What the operator logs on a real apiserver: not one INFO line per watch event, and a refusal it cannot fix
(an Event into a namespace being deleted) named by its cause, once, without retries."""
from __future__ import annotations

import logging
import time

from support.harness import Cluster
from support.objects import NS, healthy_cluster, pods_of, secret, statefulset

STARTED = "2026-11-22T10:00:00Z"


def _start(cluster: Cluster) -> None:
    cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3))
    cluster.start_operator(retry_max_seconds=0.5, api_timeout_seconds=2.0)
    cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")


def test_watch_events_log_no_info_line_each(caplog):
    caplog.set_level(logging.INFO)
    with Cluster(namespaces=[NS]) as cluster:
        _start(cluster)
        caplog.clear()
        for revision in range(5):   # five watch events on one Secret, each indexed by the Secret list-watch
            edited = secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"})
            edited["metadata"]["labels"] = {"revision": str(revision)}
            cluster.apply(edited)
        time.sleep(1.0)
        assert cluster.operator_alive()
    succeeded = [r for r in caplog.records if r.name == "kopf.objects" and r.getMessage().endswith(" succeeded.")]
    assert succeeded == []


def test_the_watch_handler_filter_keeps_warnings_errors_and_other_lines():
    from nacos_auth_guard.kube.settings import _WatchHandlerSuccesses

    def record(level: int, message: str, local: bool = True) -> logging.LogRecord:
        item = logging.LogRecord("kopf.objects", level, __file__, 1, message, None, None)
        item.k8s_skip = local
        return item
    keep = _WatchHandlerSuccesses().filter
    assert not keep(record(logging.INFO, "Handler 'secret_changed' succeeded."))
    assert keep(record(logging.ERROR, "Handler 'secret_changed' failed with an exception and will try again"))
    assert keep(record(logging.WARNING, "Handler 'secret_changed' succeeded."))
    assert keep(record(logging.INFO, "Created NacosAuthCheck shop/nacos for the Nacos StatefulSet it found"))
    assert keep(record(logging.INFO, "Handler 'create' succeeded.", local=False))   # posted as an Event: kept


def test_an_event_into_a_terminating_namespace_is_logged_with_its_cause_and_not_retried(caplog):
    caplog.set_level(logging.INFO)
    with Cluster(namespaces=[NS]) as cluster:
        _start(cluster)
        namespace = cluster.request("GET", f"/api/v1/namespaces/{NS}")[1]
        namespace["metadata"]["deletionTimestamp"] = "2026-11-22T11:00:00Z"
        cluster.server.store_directly("", "v1", "namespaces", None, NS, namespace)
        posts = cluster.server.count("POST", "events")
        cluster.delete("Secret", "orders-nacos")
        # The status of an existing object can still be written; the two Warning Events cannot be created.
        cluster.wait_for(lambda: cluster.reason("nacos", "SecretsResolved") == "SecretNotFound",
                         message="SecretsResolved=False")
        time.sleep(1.5)   # > every retry backoff (capped at 0.5 s)
        assert cluster.server.count("POST", "events") - posts == 2   # one attempt each, no retries
        assert cluster.events() == []
        assert cluster.operator_alive()
    lines = [r for r in caplog.records if r.name == "nacos_auth_guard" and "being terminated" in r.getMessage()]
    assert len(lines) == 2 and {r.levelno for r in lines} == {logging.INFO}
    assert "Not posting Warning Event SecretNotFound for NacosAuthCheck" in lines[0].getMessage()
    assert not [r for r in caplog.records if r.name == "nacos_auth_guard" and r.levelno >= logging.WARNING]
