"""The operator end to end against the API server emulator: break a healthy cluster in each way the catalog covers,
watch the right condition flip with the right reason and an Event on the right object, repair it, and restart."""
from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from support.harness import Cluster
from support.objects import (KEY_A, KEY_B, NS, auth_secret, env, healthy_cluster, nacos_token, pods_of, secret,
                             secret_env, server_env, spring_client, statefulset)

STARTED = "2026-11-22T10:00:00Z"
SERVER = "nacos-headless.shop.svc.cluster.local:8848"


def now_iso(offset: float = 0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cluster_objects() -> list[dict]:
    return healthy_cluster() + pods_of(statefulset(), [STARTED] * 3)


@pytest.fixture()
def cluster():
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*cluster_objects())
        cluster.start_operator()
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")
        yield cluster


def reason_events(cluster: Cluster, name: str, reason: str, kind: str = "Warning") -> list:
    return [e for e in cluster.events(name) if e["reason"] == reason and e["type"] == kind]


def wait_condition(cluster: Cluster, kind: str, status: str, reason: str | None = None) -> None:
    cluster.wait_for(lambda: cluster.condition("nacos", kind) == status
                     and (reason is None or cluster.reason("nacos", kind) == reason),
                     message=f"{kind}={status} {reason or ''}")


def test_healthy_cluster_gets_a_check_and_becomes_ready(cluster):
    check = cluster.check("nacos")
    assert check["metadata"]["ownerReferences"][0]["kind"] == "StatefulSet"
    status = check["status"]
    assert (status["servers"], status["clients"], status["problems"]) == (3, 1, 0)
    assert status["observedGeneration"] == check["metadata"]["generation"]
    assert {c["type"] for c in status["conditions"]} == {
        "Ready", "Reconciling", "Stalled", "SecretsResolved", "TokenKeyValid", "TokenKeyConsistent",
        "IdentityConsistent", "ClientsConfigured", "TokensValid"}
    assert cluster.events() == []


def test_deleted_client_secret_then_repaired(cluster):
    cluster.delete("Secret", "orders-nacos")
    wait_condition(cluster, "SecretsResolved", "False", "SecretNotFound")
    assert cluster.condition("nacos", "Ready") == "False"
    cluster.wait_for(lambda: reason_events(cluster, "orders", "SecretNotFound"), message="Event on the Deployment")
    assert reason_events(cluster, "nacos", "SecretNotFound")
    event = reason_events(cluster, "orders", "SecretNotFound")[0]
    assert event["involvedObject"]["kind"] == "Deployment" and "orders-nacos" in event["message"]
    assert event["reportingComponent"] == "nacos-auth-guard" or event["source"]["component"] == "nacos-auth-guard"
    cluster.apply(secret("orders-nacos", {"username": "orders", "password": "pw-orders-2"}))
    wait_condition(cluster, "Ready", "True")
    cluster.wait_for(lambda: reason_events(cluster, "orders", "SecretNotFound", "Normal"), message="Normal Event")


def test_one_pod_restarted_with_another_key(cluster):
    other = [e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", KEY_B) for e in server_env()]
    pod = pods_of(statefulset(), [STARTED] * 3, revision="nacos-old", env_overrides={1: other})[1]
    cluster.delete("Pod", "nacos-1")
    cluster.apply(pod)
    wait_condition(cluster, "TokenKeyConsistent", "False", "TokenKeyMismatch")
    check = cluster.check("nacos")["status"]
    mismatch = next(f for f in check["findings"] if f["code"] == "NAG205")
    assert "{nacos-1}" in mismatch["message"] and KEY_B not in str(check)
    cluster.wait_for(lambda: reason_events(cluster, "nacos", "TokenKeyMismatch"), message="Event")
    cluster.delete("Pod", "nacos-1")
    cluster.apply(pods_of(statefulset(), [STARTED] * 3)[1])
    wait_condition(cluster, "TokenKeyConsistent", "True")


def test_secret_rotated_after_pods_started(cluster):
    cluster.apply(auth_secret(key=KEY_B))
    wait_condition(cluster, "TokenKeyConsistent", "False", "TokenKeyStale")
    assert cluster.condition("nacos", "Ready") == "True"   # latent: a warning until a pod restarts
    finding = next(f for f in cluster.check("nacos")["status"]["findings"] if f["code"] == "NAG206")
    assert finding["severity"] == "warning" and "rollout restart" in finding["message"]
    # One pod restarts: now the cluster is split, an error.
    restarted = pods_of(statefulset(), [now_iso(5)] * 3)[0]
    cluster.delete("Pod", "nacos-0")
    cluster.apply(restarted)
    wait_condition(cluster, "Ready", "False", "TokenKeyStale")
    # All pods restarted together: resolved.
    for pod in pods_of(statefulset(), [now_iso(5)] * 3):
        cluster.delete("Pod", pod["metadata"]["name"])
        cluster.apply(pod)
    wait_condition(cluster, "Ready", "True")
    wait_condition(cluster, "TokenKeyConsistent", "True")


def test_client_credentials_removed(cluster):
    cluster.apply(spring_client(secret_name="orders-nacos") | {"spec": {
        **spring_client()["spec"], "template": {"metadata": {"labels": {"app": "orders"}}, "spec": {"containers": [{
            "name": "app", "image": "shop/orders:1.8.3", "env": [env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", SERVER)]
        }]}}}})
    wait_condition(cluster, "ClientsConfigured", "False", "ClientCredentialsMissing")
    cluster.wait_for(lambda: reason_events(cluster, "orders", "ClientCredentialsMissing"), message="Event")


def test_static_token_expires(cluster):
    token = nacos_token(KEY_A, int(time.time()) + 3600 * 24 * 90, "batch")
    cluster.apply(secret("batch-token", {"token": token}),
                  spring_client("batch") | {"spec": {**spring_client("batch")["spec"], "template": {
                      "metadata": {"labels": {"app": "batch"}}, "spec": {"containers": [{
                          "name": "app", "image": "shop/batch:3", "env": [
                              env("NACOS_SERVER_ADDR", SERVER), secret_env("NACOS_ACCESS_TOKEN", "batch-token",
                                                                           "token")]}]}}}})
    cluster.wait_for(lambda: cluster.check("nacos")["status"]["clients"] == 2, message="two clients")
    assert cluster.condition("nacos", "TokensValid") == "True"
    expired = nacos_token(KEY_A, int(time.time()) - 60, "batch")
    cluster.apply(secret("batch-token", {"token": expired}))
    wait_condition(cluster, "TokensValid", "False", "AccessTokenExpired")
    cluster.wait_for(lambda: reason_events(cluster, "batch", "AccessTokenExpired"), message="Event")


def test_cronjob_script_with_an_expired_token(cluster):
    """An OpenAPI caller (checks/openapi.py) is a workload like any other: a CronJob whose ConfigMap script sends
    an expired token gets the finding and the Event. The operator scopes findings to the clients of a check's
    server, so this one names its server the way clients do (NACOS_SERVER_ADDR, then `$NACOS_SERVER_ADDR` in the
    script's URL)."""
    expired = nacos_token(KEY_A, int(time.time()) - 60, "export")
    script = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "export-script", "namespace": NS},
              "data": {"export.sh": f"curl -H 'accessToken: {expired}' http://$NACOS_SERVER_ADDR/nacos/v1/cs/configs\n"}}
    pod = {"restartPolicy": "OnFailure", "containers": [{
        "name": "export", "image": "curlimages/curl:8.10.1", "command": ["sh", "/scripts/export.sh"],
        "env": [env("NACOS_SERVER_ADDR", SERVER)], "volumeMounts": [{"name": "s", "mountPath": "/scripts"}]}],
        "volumes": [{"name": "s", "configMap": {"name": "export-script"}}]}
    cluster.apply(script, {"apiVersion": "batch/v1", "kind": "CronJob",
                           "metadata": {"name": "config-export", "namespace": NS},
                           "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}})
    wait_condition(cluster, "TokensValid", "False", "AccessTokenExpired")
    cluster.wait_for(lambda: reason_events(cluster, "config-export", "AccessTokenExpired"), message="Event")


def test_no_reads_per_reconcile_and_no_write_for_a_no_op_change(cluster):
    time.sleep(0.3)
    reads, writes = cluster.server.count("GET"), cluster.server.count("PATCH", "nacosauthchecks")
    unrelated = secret("unrelated", {"a": "b"})
    cluster.apply(unrelated)
    relabelled = auth_secret()
    relabelled["metadata"]["labels"] = {"team": "platform"}   # a change, but not one the checks care about
    cluster.apply(relabelled)
    time.sleep(0.5)
    assert cluster.server.count("PATCH", "nacosauthchecks") == writes
    # The harness's own apply() does GETs only on conflicts; the operator does none.
    assert cluster.server.count("GET") - reads <= 1


def test_metadata_edit_after_pods_started_is_not_a_rotation(cluster):
    """managedFields moves a key's time on any edit by the manager that owns it (a Helm upgrade relabels its
    Secrets): with the same value, the pods do not run a stale key."""
    time.sleep(0.3)
    writes = cluster.server.count("PATCH", "nacosauthchecks")
    relabelled = auth_secret(changed={"token": now_iso()})
    relabelled["metadata"]["labels"] = {"helm.sh/chart": "nacos-2.0.1"}
    cluster.apply(relabelled)
    time.sleep(0.5)
    assert cluster.server.count("PATCH", "nacosauthchecks") == writes
    assert cluster.condition("nacos", "TokenKeyConsistent") == "True"
    # The same edit with a new value is a rotation.
    cluster.apply(auth_secret(key=KEY_B, changed={"token": now_iso()}))
    wait_condition(cluster, "TokenKeyConsistent", "False", "TokenKeyStale")


def test_a_known_rotation_stays_an_error_after_a_restart(cluster):
    """The operator saw the key's value change: an error. Restarted, it sees the Secret for the first time, and its
    managedFields alone would only say "written"; the status recorded the change (names and a time, no value)."""
    cluster.apply(auth_secret(key=KEY_B, changed={"token": now_iso()}))
    wait_condition(cluster, "TokenKeyConsistent", "False", "TokenKeyStale")
    status = cluster.check("nacos")["status"]
    [stale] = [f for f in status["findings"] if f["code"] == "NAG206"]
    assert stale["severity"] == "warning" and " changed at " in stale["message"]   # every pod is on the old key
    assert [(c["secret"], c["key"]) for c in status["keyChanges"]] == [("nacos-auth", "token")]
    writes = cluster.server.count("PATCH", "nacosauthchecks")
    cluster.kill_operator()
    cluster.start_operator()
    time.sleep(1.0)
    assert cluster.check("nacos")["status"] == status
    assert cluster.server.count("PATCH", "nacosauthchecks") == writes
    # A label edit by the same manager moves the write time past the recorded change: from then on, the write
    # is all that is known, and the finding says so one level lower.
    cluster.kill_operator()
    relabelled = auth_secret(key=KEY_B, changed={"token": now_iso(2)})
    relabelled["metadata"]["labels"] = {"helm.sh/chart": "nacos-2.0.2"}
    cluster.apply(relabelled)
    cluster.start_operator()
    cluster.wait_for(lambda: [f["severity"] for f in cluster.check("nacos")["status"]["findings"]] == ["info"],
                     message="NAG206 as info")
    assert "whether the key's value changed then cannot be told" in cluster.check("nacos")["status"]["findings"][0][
        "message"]


def test_restart_posts_no_duplicate_events_and_keeps_status(cluster):
    cluster.delete("Secret", "orders-nacos")
    wait_condition(cluster, "SecretsResolved", "False", "SecretNotFound")
    cluster.wait_for(lambda: reason_events(cluster, "orders", "SecretNotFound"), message="Event")
    time.sleep(0.3)
    before_status = cluster.check("nacos")["status"]
    before_events = len(cluster.events())
    writes = cluster.server.count("PATCH", "nacosauthchecks")
    cluster.stop_operator()
    cluster.start_operator()
    time.sleep(1.0)
    assert cluster.check("nacos")["status"] == before_status
    assert len(cluster.events()) == before_events
    assert cluster.server.count("PATCH", "nacosauthchecks") == writes


def test_no_annotations_or_finalizers_on_objects_we_do_not_own(cluster):
    cluster.delete("Secret", "orders-nacos")
    wait_condition(cluster, "SecretsResolved", "False")
    for kind, name in (("statefulsets", "nacos"), ("deployments", "orders"), ("secrets", "nacos-auth"),
                       ("pods", "nacos-0")):
        group = "apis/apps/v1" if kind in ("statefulsets", "deployments") else "api/v1"
        _, obj = cluster.request("GET", f"/{group}/namespaces/{NS}/{kind}/{name}")
        metadata = obj["metadata"]
        assert not metadata.get("finalizers"), (kind, metadata.get("finalizers"))
        assert not any("kopf" in key or "nacosguard" in key for key in (metadata.get("annotations") or {})), kind


def test_check_for_a_missing_statefulset_is_stalled(cluster):
    cluster.apply({"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
                   "metadata": {"name": "prod", "namespace": NS}, "spec": {"server": {"statefulSetName": "nacos-prod"}}})
    cluster.wait_for(lambda: cluster.condition("prod", "Stalled") == "True", message="Stalled")
    assert cluster.reason("prod", "Ready") == "ServerNotFound"


def test_a_deployment_server_gets_its_own_check_and_a_mid_rollout_key_split():
    """Standalone Nacos as a Deployment (the usual shape in application repositories): the operator creates a
    check that names it by kind and name, finds its pods through their ReplicaSets, and reports two ReplicaSets
    mid-rollout that run different keys, with the Event on the Deployment."""
    from support.objects import replica_pods, server_workload, service
    with Cluster(namespaces=["web"]) as cluster:
        server = server_workload("Deployment", namespace="web")
        other_key = [e for e in server_env() if e["name"] != "NACOS_AUTH_TOKEN"] + [env("NACOS_AUTH_TOKEN", KEY_B)]
        cluster.apply(auth_secret(namespace="web"), server, service("nacos-headless", {"app": "nacos"}, "web"),
                      *replica_pods(server, "5d8f6", [STARTED]), *replica_pods(server, "77c4b", [STARTED], other_key))
        cluster.start_operator()
        cluster.wait_for(lambda: cluster.condition("nacos", "TokenKeyConsistent", "web") == "False",
                         message="TokenKeyConsistent=False")
        check = cluster.check("nacos", "web")
        assert check["spec"]["server"] == {"kind": "Deployment", "name": "nacos"}
        assert check["metadata"]["ownerReferences"][0]["kind"] == "Deployment"
        assert check["status"]["servers"] == 2
        cluster.wait_for(lambda: [e for e in cluster.events("nacos", "web") if e["reason"] == "TokenKeyMismatch"
                                  and e["involvedObject"]["kind"] == "Deployment"], message="Event on the Deployment")


def test_a_cronjob_that_curls_the_server_with_an_expired_token_is_reported_and_its_script_watched():
    """An OpenAPI caller with no client settings (issue 13.4): the operator reports it as lint does, with a
    Warning Event on the CronJob, and fixing the script's ConfigMap resolves it."""
    from support.objects import config_map
    from test_openapi import SCRIPT_CRONJOB
    expired = nacos_token(KEY_A, int((datetime.now(timezone.utc) - timedelta(hours=1)).timestamp()))
    script = "#!/bin/sh\ncurl -H 'accessToken: {}' http://nacos-headless.shop.svc.cluster.local:8848/nacos/v2/cs/config\n"
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*cluster_objects(), config_map("export-script", {"export.sh": script.format(expired)}),
                      SCRIPT_CRONJOB)
        cluster.start_operator()
        cluster.wait_for(lambda: any(f["code"] == "NAG502" and "CronJob" in f["object"]
                                     for f in cluster.check("nacos").get("status", {}).get("findings", [])),
                         message="NAG502 on the CronJob")
        cluster.wait_for(lambda: any(e["involvedObject"]["kind"] == "CronJob" and e["reason"] == "AccessTokenExpired"
                                     and e["type"] == "Warning" for e in cluster.events()), message="the Event")
        cluster.apply(config_map("export-script", {"export.sh": script.format("$NACOS_TOKEN")}))
        cluster.wait_for(lambda: not cluster.check("nacos")["status"]["findings"], message="resolved by the fix")
