"""`kubectl apply -f dir/` in its usual order: the workloads before the Secrets they read (file names sort so).
The operator waits a settle window before it reports a missing Secret of a workload created moments ago, and
evaluates again when the window ends; a Secret deleted from under a workload is reported at once."""
from __future__ import annotations

import time
from collections import Counter

from support.admission import WebhookClient, review
from support.harness import Cluster
from support.objects import NS, healthy_cluster, pods_of, secret, spring_client, statefulset

STARTED = "2026-11-22T10:00:00Z"
WINDOW = 3.0


def _without_orders_secret() -> list[dict]:
    return [o for o in healthy_cluster() if o["metadata"]["name"] != "orders-nacos"]


def _events(cluster: Cluster) -> Counter:
    return Counter((e["involvedObject"]["kind"], e["type"], e["reason"]) for e in cluster.events())


def _waiting(cluster: Cluster) -> bool:
    return cluster.reason("nacos", "SecretsResolved") == "WaitingForReferences"


def test_a_secret_applied_after_its_workload_is_no_finding():
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*_without_orders_secret(), *pods_of(statefulset(), [STARTED] * 3))
        cluster.start_operator(settle_seconds=WINDOW)
        cluster.wait_for(lambda: _waiting(cluster), message="SecretsResolved waiting")
        status = cluster.check("nacos")["status"]
        conditions = {c["type"]: c for c in status["conditions"]}
        assert conditions["SecretsResolved"]["status"] == "Unknown"
        assert conditions["Reconciling"]["status"] == "True"
        assert "Secret orders-nacos read by Deployment/shop/orders does not exist yet" in conditions[
            "Reconciling"]["message"]
        assert conditions["Ready"]["status"] == "True" and status["findings"] == []
        cluster.apply(secret("orders-nacos", {"username": "orders", "password": "pw-orders-1"}))
        cluster.wait_for(lambda: cluster.condition("nacos", "SecretsResolved") == "True", message="resolved")
        time.sleep(WINDOW + 0.5)   # past the window: the re-evaluation then finds nothing either
        assert cluster.condition("nacos", "Ready") == "True" and cluster.condition("nacos", "Reconciling") == "False"
        assert _events(cluster) == Counter()


def test_a_secret_still_missing_when_the_window_ends_is_reported_then():
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*_without_orders_secret(), *pods_of(statefulset(), [STARTED] * 3))
        started = time.monotonic()
        cluster.start_operator(settle_seconds=WINDOW)
        cluster.wait_for(lambda: _waiting(cluster), message="SecretsResolved waiting")
        # Nothing else changes: the operator evaluates again by itself when the window ends.
        cluster.wait_for(lambda: cluster.reason("nacos", "SecretsResolved") == "SecretNotFound", WINDOW + 10,
                         message="SecretNotFound after the window")
        assert time.monotonic() - started >= WINDOW - 1.0   # creationTimestamp has whole seconds
        assert cluster.condition("nacos", "Ready") == "False" and cluster.condition("nacos", "Reconciling") == "False"
        cluster.wait_for(lambda: _events(cluster) == Counter({("NacosAuthCheck", "Warning", "SecretNotFound"): 1,
                                                              ("Deployment", "Warning", "SecretNotFound"): 1}),
                         message="the Warning Events")


def test_a_secret_deleted_from_under_a_new_workload_is_reported_at_once():
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3))
        cluster.start_operator(settle_seconds=60.0)   # every workload is younger than this
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")
        cluster.delete("Secret", "orders-nacos")
        cluster.wait_for(lambda: cluster.reason("nacos", "SecretsResolved") == "SecretNotFound", 5,
                         message="SecretNotFound at once")


def test_the_webhook_holds_a_new_workloads_missing_secret_and_refuses_a_deletion():
    """Under Deny, `kubectl apply -f dir/` must not be refused for deployment.yaml because secret.yaml comes next;
    deleting a Secret a workload reads is still refused."""
    deny = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "nacos", "namespace": NS},
            "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny"}}
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), [STARTED] * 3), deny)
        cluster.start_operator(settle_seconds=60.0)
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")
        client = WebhookClient(cluster.webhook_port)
        try:
            created = client.answer(review("CREATE", spring_client("billing", secret_name="billing-nacos")))
            assert created["allowed"] is True
            [warning] = created["warnings"]
            assert warning.startswith("spec.template: NAG101 Secret billing-nacos does not exist yet; reported as "
                                      "SecretNotFound if still missing 60 s after the workload was created")
            deleted = client.answer(review("DELETE", old=secret("orders-nacos", {"username": "orders"})))
            assert deleted["allowed"] is False and "NAG101 SecretNotFound" in deleted["status"]["message"]
        finally:
            client.close()
