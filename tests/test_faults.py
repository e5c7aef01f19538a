"""Faults between the operator and the apiserver (errors, timeouts, conflicts, dropped and expired watches, an
outage) and operator restarts, graceful and abrupt. After each, the status is the one a fault-free run writes,
every Event a fault-free run posts exists exactly once, and the operator never exited.

The scenario: a healthy cluster; the client's credentials Secret is deleted (SecretsResolved=False, two Warning
Events: on the NacosAuthCheck and on the Deployment), then restored (Ready=True, two Normal Events).
"""
from __future__ import annotations

import time
from collections import Counter

import pytest

from support.harness import Cluster
from support.objects import NS, healthy_cluster, pods_of, secret, statefulset

STARTED = "2026-11-22T10:00:00Z"
FAST = {"retry_max_seconds": 0.5, "api_timeout_seconds": 1.0}   # quick retries, and a timeout a delay can beat
BROKEN_EVENTS = Counter({("NacosAuthCheck", "nacos", "Warning", "SecretNotFound"): 1,
                         ("Deployment", "orders", "Warning", "SecretNotFound"): 1})
REPAIRED_EVENTS = BROKEN_EVENTS + Counter({("NacosAuthCheck", "nacos", "Normal", "SecretNotFound"): 1,
                                           ("Deployment", "orders", "Normal", "SecretNotFound"): 1})


def start(cluster: Cluster, **options) -> None:
    cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3))
    cluster.start_operator(**{**FAST, **options})
    cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")


@pytest.fixture()
def cluster():
    with Cluster(namespaces=[NS]) as cluster:
        start(cluster)
        yield cluster


def events(cluster: Cluster) -> Counter:
    return Counter((e["involvedObject"]["kind"], e["involvedObject"]["name"], e["type"], e["reason"])
                   for e in cluster.events())


def broken(cluster: Cluster) -> bool:
    return cluster.reason("nacos", "SecretsResolved") == "SecretNotFound"


def repaired(cluster: Cluster) -> bool:
    return cluster.condition("nacos", "Ready") == "True" and cluster.condition("nacos", "SecretsResolved") == "True"


def settle(cluster: Cluster, expected: Counter, timeout: float = 20.0) -> None:
    """Waits for the expected Events, then a while longer: a duplicate would come from a retry still pending."""
    cluster.wait_for(lambda: events(cluster) == expected, timeout, message=f"Events {dict(expected)}")
    time.sleep(1.5)   # > every retry backoff (FAST caps them at 0.5 s)
    assert events(cluster) == expected
    assert cluster.operator_alive()


def stable_status(cluster: Cluster) -> dict:
    """The status without its clock readings (what a fault-free run would also have written)."""
    status = dict(cluster.check("nacos")["status"])
    status.pop("lastCheckedTime")
    status["conditions"] = [{k: v for k, v in c.items() if k != "lastTransitionTime"} for c in status["conditions"]]
    return status


def break_and_repair(cluster: Cluster) -> None:
    cluster.delete("Secret", "orders-nacos")
    cluster.wait_for(lambda: broken(cluster), 20, message="SecretsResolved=False")
    settle(cluster, BROKEN_EVENTS)
    cluster.server.clear_faults()
    cluster.apply(secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"}))
    cluster.wait_for(lambda: repaired(cluster), 20, message="Ready=True again")
    settle(cluster, REPAIRED_EVENTS)


# --- the operator's own writes -------------------------------------------------------------------------------------

@pytest.mark.parametrize("status", [500, 503, 409, 0], ids=["500", "503", "409-conflict", "connection-dropped"])
def test_failed_status_patches_are_retried(cluster, status):
    patches = cluster.server.count("PATCH", "nacosauthchecks")
    cluster.server.fail("PATCH", "nacosauthchecks", status, times=3, subresource="status")
    break_and_repair(cluster)
    assert cluster.server.count("PATCH", "nacosauthchecks") - patches == 2 + 3   # two writes, three failures


def test_a_status_patch_that_times_out_is_retried(cluster):
    """The apiserver answers only after the client gave up (and applies the patch late): a retry writes the same
    status again, and the Events posted before the first attempt are not posted again."""
    cluster.server.delay("PATCH", "nacosauthchecks", 3.0, subresource="status")                    # never applied
    cluster.server.delay("PATCH", "nacosauthchecks", 3.0, subresource="status", answer_late=True)  # applied
    break_and_repair(cluster)


@pytest.mark.parametrize("status", [500, 0], ids=["500", "connection-dropped"])
def test_failed_event_posts_are_retried_not_lost(cluster, status):
    """kopf.event() would drop an Event after its retries (or post it twice after a timeout that succeeded):
    the operator posts its own, named after the transition, before the status that records it."""
    cluster.server.fail("POST", "events", status, times=12)   # kopf would give up after 9 attempts
    break_and_repair(cluster)


def test_an_event_post_that_times_out_but_succeeded_is_not_duplicated(cluster):
    cluster.server.delay("POST", "events", 2.5, times=2, answer_late=True)
    break_and_repair(cluster)


# --- kopf's lists and watches ----------------------------------------------------------------------------------------

def test_list_errors_longer_than_kopfs_retry_budget_do_not_stop_the_operator():
    """kopf gives up on a request after 9 attempts (~54 s) and then exits: the operator retries forever."""
    with Cluster(namespaces=[NS]) as cluster:
        cluster.server.fail("GET", "secrets", 503, times=12)
        cluster.server.fail("GET", "configmaps", 500, times=4)
        cluster.server.delay("GET", "services", 2.0, times=2)   # two list timeouts
        cluster.server.fail("WATCH", "pods", 500, times=12)
        cluster.server.delay("WATCH", "configmaps", 2.0, times=2)   # watches that answer late
        start(cluster, retry_max_seconds=0.2, timeout=30)
        # Ready needs the listings, not the pods' watch: that one may still be retrying (past kopf's budget)
        cluster.wait_for(lambda: cluster.server.count("GET", "secrets") >= 13
                         and cluster.server.count("WATCH", "pods") >= 13, 10, message="every fault retried past")
        break_and_repair(cluster)


def test_dropped_watch_streams_resume(cluster):
    cluster.server.drop_watches()
    cluster.server.fail("WATCH", "*", 0, times=5)   # and a few reconnects cut too
    break_and_repair(cluster)


def test_410_gone_relists_and_forgets_what_was_deleted_during_the_gap(cluster):
    """The watches are down while the Secret is deleted and a server pod is replaced (same name, new uid, another
    key), and the history is compacted: kopf resumes with 410 Gone and lists again. kopf would keep the deleted
    Secret and the old pod in its indexes forever; the sweeper must drop them."""
    from support.objects import KEY_B, env, server_env
    cluster.server.fail("WATCH", "*", 503, times=10_000)
    cluster.server.drop_watches()
    time.sleep(0.5)
    cluster.server.store_directly("", "v1", "secrets", NS, "orders-nacos", None)
    other = [e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", KEY_B) for e in server_env()]
    replaced = pods_of(statefulset(), [STARTED] * 3, env_overrides={2: other})[2]
    cluster.server.store_directly("", "v1", "pods", NS, "nacos-2", None)
    cluster.apply(replaced)   # a POST: the watches are down, so no one sees it yet
    cluster.server.compact()
    lists = cluster.server.count("GET", "secrets")
    cluster.server.clear_faults()
    cluster.wait_for(lambda: broken(cluster) and cluster.reason("nacos", "TokenKeyConsistent") == "TokenKeyMismatch",
                     20, message="the deletion and the replaced pod seen")
    assert cluster.server.count("GET", "secrets") > lists   # kopf listed again
    mismatch = next(f for f in cluster.check("nacos")["status"]["findings"] if f["code"] == "NAG205")
    assert "{nacos-2}" in mismatch["message"]   # one nacos-2, the new one: the old pod is not counted
    assert cluster.operator_alive()


def test_410_gone_relists_configmaps_and_forgets_the_one_deleted_during_the_gap():
    """The ConfigMap list-watch recovers from 410 Gone as the Secret one does: a client takes env from a
    ConfigMap (envFrom), deleted while the watches are down and the history compacted."""
    from support.objects import config_map, spring_client
    billing = spring_client("billing")
    billing["spec"]["template"]["spec"]["containers"][0]["envFrom"] = [{"configMapRef": {"name": "nacos-settings"}}]
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(config_map("nacos-settings", {"SPRING_CLOUD_NACOS_CONFIG_GROUP": "SHOP"}), billing)
        start(cluster)
        cluster.wait_for(lambda: cluster.condition("nacos", "SecretsResolved") == "True", message="resolved")
        cluster.server.fail("WATCH", "*", 503, times=10_000)
        cluster.server.drop_watches()
        time.sleep(0.5)
        cluster.server.store_directly("", "v1", "configmaps", NS, "nacos-settings", None)
        cluster.server.compact()
        lists = cluster.server.count("GET", "configmaps")
        cluster.server.clear_faults()
        cluster.wait_for(lambda: cluster.reason("nacos", "SecretsResolved") == "ConfigMapNotFound", 20,
                         message="the ConfigMap's deletion seen after 410")
        assert cluster.server.count("GET", "configmaps") > lists   # listed again
        assert cluster.operator_alive()


def test_apiserver_unreachable_for_30_seconds(cluster):
    """The longest test of the suite (the outage itself lasts 30 s). Meanwhile the Secret is deleted through
    another apiserver and the history compacted, so the watches resume with 410 Gone."""
    cluster.server.go_offline()
    started = time.monotonic()
    cluster.server.store_directly("", "v1", "secrets", NS, "orders-nacos", None)   # via another apiserver
    cluster.server.compact()
    time.sleep(30 - (time.monotonic() - started))
    cluster.server.go_online()
    online = time.monotonic()
    cluster.wait_for(lambda: broken(cluster), 30, message="the deletion seen after the outage")
    print(f"converged {time.monotonic() - online:.1f}s after the apiserver came back")
    settle(cluster, BROKEN_EVENTS)
    cluster.apply(secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"}))
    cluster.wait_for(lambda: repaired(cluster), 20, message="Ready=True again")
    settle(cluster, REPAIRED_EVENTS)


# --- restarts ----------------------------------------------------------------------------------------------------------

def uninterrupted_run() -> tuple[dict, Counter]:
    with Cluster(namespaces=[NS]) as cluster:
        start(cluster)
        cluster.delete("Secret", "orders-nacos")
        cluster.wait_for(lambda: broken(cluster), 20, message="SecretsResolved=False")
        settle(cluster, BROKEN_EVENTS)
        return stable_status(cluster), events(cluster)


@pytest.fixture(scope="module")
def reference() -> tuple[dict, Counter]:
    return uninterrupted_run()


@pytest.mark.parametrize("stop", ["kill", "graceful"])
@pytest.mark.parametrize("in_flight", ["status-written-answer-lost", "status-lost", "events-partly-posted"])
def test_a_restart_mid_reconcile_ends_as_if_it_never_stopped(reference, stop, in_flight):
    with Cluster(namespaces=[NS]) as cluster:
        start(cluster)
        if in_flight == "status-written-answer-lost":   # the status is written; the operator dies waiting
            cluster.server.delay("PATCH", "nacosauthchecks", 1.5, subresource="status", answer_late=True)
            method, plural = "PATCH", "nacosauthchecks"
        elif in_flight == "status-lost":                # the write dies with the operator
            cluster.server.fail("PATCH", "nacosauthchecks", 0, delay=1.5, subresource="status")
            method, plural = "PATCH", "nacosauthchecks"
        else:                                            # the first Event is posted, the second never sent
            cluster.server.delay("POST", "events", 1.5, answer_late=True)
            method, plural = "POST", "events"
        before = cluster.server.count(method, plural)
        cluster.delete("Secret", "orders-nacos")
        cluster.wait_for(lambda: cluster.server.count(method, plural) > before, message=f"{method} {plural} sent")
        cluster.kill_operator() if stop == "kill" else cluster.stop_operator()
        time.sleep(2.0)   # the delayed request completes (or not) while no operator runs
        cluster.start_operator(**FAST)
        cluster.wait_for(lambda: broken(cluster), 20, message="SecretsResolved=False")
        status, posted = reference
        settle(cluster, posted)
        assert stable_status(cluster) == status
