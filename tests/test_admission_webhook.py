"""The validating webhooks end to end: AdmissionReviews over HTTP (and HTTPS) to the running operator's webhook
port, answered from its indexes, in each enforcement mode. The apiserver never calls webhooks in the emulator, so
these tests are the apiserver: the requests are what it sends (tests/support/admission.py)."""
from __future__ import annotations

import copy
import logging
import re
import threading

import pytest

from nacos_auth_guard.admission import MAX_WARNING_LENGTH
from support.admission import WebhookClient, review
from support.harness import Cluster
from support.objects import (KEY_B, auth_secret, config_map, deployment, env, healthy_cluster, pods_of, secret,
                             secret_env, server_env, spring_client, statefulset)

STARTED = "2026-11-22T10:00:00Z"
MODES = {"deny": "Deny", "warn": "Warn", "audit": "Audit"}
WARNING = re.compile(r"^(spec\.template|data|metadata\.name): NAG\d{3} [^\n]+$")


def check(namespace: str, enforcement: str) -> dict:
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "nacos", "namespace": namespace},
            "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": enforcement}}


def server_address(namespace: str) -> str:
    return f"nacos-headless.{namespace}.svc.cluster.local:8848"


def settings_client(namespace: str) -> dict:
    """A client whose username comes from a ConfigMap key (so deleting the ConfigMap breaks it)."""
    return deployment("inventory", [env("NACOS_SERVER_ADDR", server_address(namespace)),
                                    {"name": "NACOS_USERNAME", "valueFrom": {"configMapKeyRef": {
                                        "name": "inventory-nacos", "key": "username"}}},
                                    secret_env("NACOS_PASSWORD", "orders-nacos", "password")], namespace)


def governed(namespace: str, enforcement: str) -> list[dict]:
    """A healthy Nacos cluster with running pods, a check with `enforcement`, and one client that is already
    broken (its Secret never existed): an existing problem a change may keep."""
    sts = statefulset(namespace=namespace)
    return [*healthy_cluster(namespace), *pods_of(sts, [STARTED] * 3), check(namespace, enforcement),
            config_map("inventory-nacos", {"username": "inventory"}, namespace), settings_client(namespace),
            spring_client("legacy", server=server_address(namespace), secret_name="legacy-nacos",
                          namespace=namespace)]


@pytest.fixture(scope="module")
def cluster():
    with Cluster(namespaces=[*MODES, "kube-system", "plain"]) as cluster:
        for namespace, enforcement in MODES.items():
            cluster.apply(*governed(namespace, enforcement))
        cluster.apply(*governed("kube-system", "Deny"))   # excluded: never evaluated, whatever its check says
        cluster.start_operator()
        for namespace in MODES:
            cluster.wait_for(lambda: cluster.condition("nacos", "Ready", namespace) == "False",
                             message=f"the check in {namespace} to see the broken client")
        yield cluster


@pytest.fixture()
def client(cluster):
    client = WebhookClient(cluster.webhook_port)
    yield client
    client.close()


def missing_secret_client(namespace: str) -> dict:
    return spring_client("billing", server=server_address(namespace), secret_name="billing-nacos",
                         namespace=namespace)


def assert_short_warnings(warnings: list[str]) -> None:
    for warning in warnings:
        assert WARNING.match(warning) and len(warning) <= MAX_WARNING_LENGTH, warning


# --- each enforcement mode ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("namespace", list(MODES))
def test_deployment_referencing_a_missing_secret(client, namespace, caplog):
    caplog.set_level(logging.INFO)
    answer = client.answer(review("CREATE", missing_secret_client(namespace)))
    outcome = {"deny": "denied", "warn": "warned", "audit": "allowed"}[namespace]
    assert [r.getMessage() for r in caplog.records if r.name == "nacos_auth_guard.admission"] == [
        f"CREATE Deployment {namespace}/billing: 1 new finding(s) (NAG101), {outcome}"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]   # a refusal is not an error
    if namespace == "deny":
        assert answer["allowed"] is False and answer["status"]["code"] == 403
        message = answer["status"]["message"]
        assert "NAG101 SecretNotFound" in message and "billing-nacos" in message and "Fix: create Secret" in message
    else:
        assert answer["allowed"] is True and "status" not in answer
    if namespace == "audit":
        assert "warnings" not in answer
    else:
        [warning] = answer["warnings"]
        assert warning.startswith("spec.template: NAG101 A referenced Secret does not exist "
                                  f"(Deployment/{namespace}/billing). Fix: create Secret billing-nacos")
        assert_short_warnings(answer["warnings"])


def as_kind(workload: dict, kind: str, owner: str | None = None) -> dict:
    """`workload`'s pod template as a bare `kind` (or one made by an `owner` controller)."""
    template = workload["spec"]["template"]
    metadata = copy.deepcopy(workload["metadata"])
    if owner:
        metadata["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": owner, "name": "maker", "controller": True,
                                        "uid": "00000000-0000-0000-0000-000000000009"}]
    api = {"Pod": "v1", "Job": "batch/v1", "CronJob": "batch/v1"}.get(kind, "apps/v1")
    spec = {"Pod": template["spec"], "Job": {"template": template},
            "CronJob": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}}}.get(
        kind, {"selector": workload["spec"]["selector"], "template": template})
    return {"apiVersion": api, "kind": kind, "metadata": metadata, "spec": spec}


@pytest.mark.parametrize("kind,path", [("ReplicaSet", "spec.template"), ("DaemonSet", "spec.template"),
                                       ("Job", "spec.template"), ("CronJob", "spec.jobTemplate.spec.template"),
                                       ("Pod", "spec")])
def test_every_workload_kind_is_reviewed_unless_a_reviewed_controller_made_it(client, kind, path):
    bare = as_kind(missing_secret_client("deny"), kind)
    answer = client.answer(review("CREATE", bare))
    assert answer["allowed"] is False and "NAG101 SecretNotFound" in answer["status"]["message"], answer
    [warning] = answer["warnings"]
    assert warning.startswith(f"{path}: NAG101 A referenced Secret does not exist ({kind}/deny/billing)")
    if kind in ("ReplicaSet", "Pod", "Job"):   # one a controller made is judged with its owner, not again
        for owner in ("Deployment", "StatefulSet", "CronJob", "NacosCluster"):
            made = client.answer(review("CREATE", as_kind(missing_secret_client("deny"), kind, owner)))
            assert made["allowed"] is True and "warnings" not in made, (kind, owner)


@pytest.mark.parametrize("namespace", list(MODES))
def test_statefulset_template_with_another_key_than_the_running_pods(client, namespace):
    old = statefulset(namespace=namespace)
    new = statefulset(namespace=namespace, env_list=[
        e if e["name"] != "NACOS_AUTH_TOKEN" else secret_env("NACOS_AUTH_TOKEN", "nacos-auth-next", "token")
        for e in server_env()])
    answer = client.answer(review("UPDATE", new, old))
    assert answer["allowed"] is (namespace != "deny")
    if namespace == "deny":
        assert "NAG101" in answer["status"]["message"]   # the new Secret does not exist either
    key_literal = statefulset(namespace=namespace, env_list=[
        e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", KEY_B) for e in server_env()])
    answer = client.answer(review("UPDATE", key_literal, old))
    assert answer["allowed"] is (namespace != "deny")
    if namespace == "deny":
        assert "NAG205 TokenKeyMismatch" in answer["status"]["message"]
        assert "{nacos-0, nacos-1, nacos-2}" in answer["status"]["message"]
    if namespace != "audit":
        assert {w.split(" ")[1] for w in answer["warnings"]} == {"NAG105", "NAG205"}
        assert_short_warnings(answer["warnings"])


@pytest.mark.parametrize("namespace", list(MODES))
def test_deleting_a_secret_that_the_server_uses(client, namespace):
    answer = client.answer(review("DELETE", old=auth_secret(namespace=namespace)))
    assert answer["allowed"] is (namespace != "deny")
    if namespace == "deny":
        assert "NAG101" in answer["status"]["message"] and "nacos-auth" in answer["status"]["message"]
    if namespace == "warn":
        assert answer["warnings"] and all(w.startswith("metadata.name: NAG101") for w in answer["warnings"])
    if namespace == "audit":
        assert "warnings" not in answer


def test_deleting_a_config_map_a_client_reads(client):
    denied = client.answer(review("DELETE", old=config_map("inventory-nacos", {"username": "inventory"}, "deny")))
    assert not denied["allowed"] and "NAG103" in denied["status"]["message"]
    assert "inventory-nacos" in denied["status"]["message"]
    unused = client.answer(review("DELETE", old=config_map("unused", {"a": "b"}, "deny")))
    assert unused["allowed"] and "warnings" not in unused


@pytest.mark.parametrize("namespace", list(MODES))
def test_editing_the_token_key_running_server_pods_use_warns_even_under_deny(client, namespace):
    """The pods keep the key they started with: the edit is allowed (it is how a rotation starts), with the fix."""
    answer = client.answer(review("UPDATE", auth_secret(namespace=namespace, key=KEY_B),
                                  auth_secret(namespace=namespace)))
    assert answer["allowed"] is True
    if namespace == "audit":
        assert "warnings" not in answer
        return
    [warning] = answer["warnings"]
    assert warning.startswith(f"data: NAG206 Pods run a token key that is no longer the Secret's "
                              f"(StatefulSet/{namespace}/nacos). Fix: restart all pods of StatefulSet/{namespace}/"
                              f"nacos together")
    assert f"kubectl rollout restart statefulset/nacos -n {namespace}" in warning
    assert_short_warnings(answer["warnings"])


def test_a_change_that_keeps_an_existing_problem_is_allowed_silently(client):
    broken = spring_client("legacy", server=server_address("deny"), secret_name="legacy-nacos", namespace="deny")
    relabelled = copy.deepcopy(broken)
    relabelled["metadata"]["labels"]["team"] = "platform"
    answer = client.answer(review("UPDATE", relabelled, broken))
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_a_change_that_fixes_a_problem_is_allowed_silently(client):
    broken = spring_client("legacy", server=server_address("deny"), secret_name="legacy-nacos", namespace="deny")
    fixed = spring_client("legacy", server=server_address("deny"), namespace="deny")   # orders-nacos exists
    answer = client.answer(review("UPDATE", fixed, broken))
    assert answer["allowed"] is True and set(answer) == {"uid", "allowed"}


def test_changes_the_checks_do_not_care_about_are_allowed_silently(client):
    for request in (review("CREATE", secret("unrelated", {"a": "b"}, "deny")),
                    review("UPDATE", auth_secret(namespace="deny"), auth_secret(namespace="deny")),
                    review("DELETE", old=secret("unrelated", {"a": "b"}, "deny"))):
        answer = client.answer(request)
        assert answer["allowed"] is True and "warnings" not in answer and "status" not in answer


# --- what is not ours to judge ------------------------------------------------------------------------------------

def test_objects_in_excluded_namespaces_are_allowed_without_a_check(client, cluster):
    """kube-system holds a Deny check and a healthy cluster: evaluated, these changes would be refused."""
    for request in (review("CREATE", missing_secret_client("kube-system")),
                    review("DELETE", old=auth_secret(namespace="kube-system"))):
        answer = client.answer(request)
        assert answer == {"uid": request["request"]["uid"], "allowed": True}
    assert cluster.condition("nacos", "Ready", "kube-system") == "False"   # the operator itself does watch it


def test_objects_no_check_governs_are_allowed_silently(client):
    answer = client.answer(review("CREATE", missing_secret_client("plain")))
    assert answer["allowed"] is True and set(answer) == {"uid", "allowed"}


# --- dry run: the same answer, no side effect ---------------------------------------------------------------------

def test_dry_run_is_answered_like_a_real_request_and_changes_nothing(client, cluster):
    writes = {method: cluster.server.count(method) for method in ("POST", "PUT", "PATCH", "DELETE")}
    events = len(cluster.events(namespace="deny"))
    for request in (review("CREATE", missing_secret_client("deny")), review("DELETE", old=auth_secret(
            namespace="deny"))):
        real = client.answer(request)
        dry = client.answer({**request, "request": {**request["request"], "dryRun": True}})
        assert {k: v for k, v in dry.items() if k != "uid"} == {k: v for k, v in real.items() if k != "uid"}
        assert real["allowed"] is False
    assert {method: cluster.server.count(method) for method in writes} == writes
    assert len(cluster.events(namespace="deny")) == events


# --- bad requests -------------------------------------------------------------------------------------------------

def valid_review() -> dict:
    return review("CREATE", missing_secret_client("deny"))


def without(path: str) -> dict:
    request = valid_review()
    node = request
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    del node[last]
    return request


def replaced(path: str, value) -> dict:
    request = valid_review()
    node = request
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    return request


@pytest.mark.parametrize("body,expected", [
    (b"", "the body is not JSON"),
    (b"{not json", "the body is not JSON"),
    (b"\xff\xfe", "the body is not JSON"),
    (b"[]", "the body must be an AdmissionReview object, not a JSON list"),
    (b'"review"', "not a JSON str"),
    (b"{}", "apiVersion must be admission.k8s.io/v1 and kind AdmissionReview"),
    (replaced("apiVersion", "admission.k8s.io/v1beta1"), "apiVersion must be admission.k8s.io/v1"),
    (without("request"), "request is missing or not an object"),
    (without("request.uid"), "request.uid is missing"),
    (replaced("request.operation", "PATCH"), "request.operation must be one of CREATE, UPDATE, DELETE, CONNECT"),
    (without("request.resource"), "request.resource must have string group, version and resource"),
    (replaced("request.resource", {"group": "", "version": "v1", "resource": "secrets"}),
     "/validate-deployments checks apps/v1/deployments, not v1/secrets"),
    (without("request.userInfo"), "request.userInfo is missing"),
    (replaced("request.object", "a string"), "request.object must be an object or null"),
    (replaced("request.object", None), "a CREATE review must carry request.object"),
    (replaced("request.dryRun", "yes"), "request.dryRun a boolean"),
], ids=lambda value: value if isinstance(value, str) else None)
def test_malformed_reviews_get_a_clear_400_and_the_server_goes_on(client, cluster, body, expected, caplog):
    status, text = client.post("/validate-deployments", body)
    assert status == 400 and isinstance(text, str)
    assert text.startswith("nacos-auth-guard: not a usable AdmissionReview: ") and expected in text
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert client.answer(valid_review())["allowed"] is False   # the same connection still serves
    assert cluster.operator_thread.is_alive()


def test_a_delete_review_without_the_old_object_is_a_400(client):
    request = review("DELETE", old=auth_secret(namespace="deny"))
    request["request"]["oldObject"] = None
    status, text = client.post("/validate-secrets", request)
    assert status == 400 and "a DELETE review must carry request.oldObject" in text


def test_unknown_paths_are_a_404_naming_the_webhooks(client):
    status, text = client.post("/validate-ingresses", valid_review())
    assert status == 404
    assert text == ("nacos-auth-guard: no webhook at this path; the webhooks are /validate-configmaps, "
                    "/validate-cronjobs, /validate-daemonsets, /validate-deployments, /validate-jobs, /validate-pods, "
                    "/validate-replicasets, /validate-secrets, /validate-statefulsets\n")


def test_a_review_of_a_large_secret_update_is_answered(client):
    """Both versions of a 900 KiB Secret: above kopf's own server's 1 MiB limit (it answers 413)."""
    big = auth_secret(namespace="deny")
    big["data"]["ca.pem"] = "QUJD" * (900 * 1024 // 4)
    answer = client.answer(review("UPDATE", big, copy.deepcopy(big)))
    assert answer == {"uid": answer["uid"], "allowed": True}


def test_a_crash_inside_the_check_is_a_failed_call_so_failure_policy_decides(client, monkeypatch, caplog):
    from nacos_auth_guard.kube import webhooks

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(webhooks, "decide", broken)
    status, text = client.post("/validate-deployments", valid_review())
    assert status == 500 and text == "nacos-auth-guard: the check failed; see the operator log\n"
    assert any("answered HTTP 500" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert client.answer(valid_review())["allowed"] is False


def test_concurrent_reviews_from_many_connections(cluster):
    """The apiserver keeps several connections; answers must not mix."""
    results, errors = {}, []

    def worker(index: int) -> None:
        client = WebhookClient(cluster.webhook_port)
        try:
            for round_ in range(10):
                namespace = list(MODES)[(index + round_) % 3]
                answer = client.answer(review("CREATE", missing_secret_client(namespace)))
                results[(index, round_)] = (namespace, answer["allowed"])
        except Exception as error:  # noqa: BLE001 - surfaced below
            errors.append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors and len(results) == 80
    assert all(allowed is (namespace != "deny") for namespace, allowed in results.values())


# --- HTTPS, and cert-manager's renewals ---------------------------------------------------------------------------

def test_https_reviews_and_a_renewed_certificate_is_served_without_a_restart(tmp_path, caplog):
    import os
    import ssl

    from support.admission import certificate, served_serial
    live, staging = tmp_path / "live", tmp_path / "staging"
    live.mkdir()
    staging.mkdir()
    cert, key, first = certificate(live)
    with Cluster(namespaces=["deny"]) as cluster:
        cluster.apply(*governed("deny", "Deny"))
        cluster.start_operator(webhook_cert=cert, webhook_key=key, webhook_reload_seconds=0.05)
        old_ca = str(tmp_path / "first-ca.pem")
        os.link(cert, old_ca)
        client = WebhookClient(cluster.webhook_port, ca=old_ca)
        answer = client.answer(review("CREATE", missing_secret_client("deny")))
        assert answer["allowed"] is False and "NAG101" in answer["status"]["message"]
        assert served_serial(cluster.webhook_port) == first
        with pytest.raises(ConnectionError):   # plain HTTP is not served: the server hangs up
            WebhookClient(cluster.webhook_port).post("/validate-deployments", valid_review())

        # cert-manager renews: the kubelet swaps in both files at once.
        new_cert, new_key, second = certificate(staging)
        os.replace(new_key, key)
        os.replace(new_cert, cert)
        cluster.wait_for(lambda: served_serial(cluster.webhook_port) == second, timeout=5,
                         message="the renewed certificate on a new handshake")
        assert client.answer(valid_review())["allowed"] is False   # an open connection carries on
        renewed = WebhookClient(cluster.webhook_port, ca=cert)
        assert renewed.answer(valid_review())["allowed"] is False
        with pytest.raises(ssl.SSLCertVerificationError):   # a new handshake no longer presents the old one
            WebhookClient(cluster.webhook_port, ca=old_ca).post("/validate-deployments", valid_review())

        # A renewal that does not load (a key that does not match) keeps the certificate being served.
        certificate(staging)
        os.replace(staging / "tls.key", key)
        cluster.wait_for(lambda: any("does not load" in r.getMessage() for r in caplog.records), timeout=5,
                         message="the warning about the broken renewal")
        assert served_serial(cluster.webhook_port) == second
        assert renewed.answer(valid_review())["allowed"] is False
        client.close()
        renewed.close()


# --- the webhook as a Deployment of its own -----------------------------------------------------------------------

def test_webhook_only_serves_from_its_indexes_and_writes_nothing():
    lone = statefulset(namespace="other")   # a Nacos server with no check: the full operator would create one
    with Cluster(namespaces=["deny", "other"]) as cluster:
        cluster.apply(*governed("deny", "Deny"), lone, auth_secret(namespace="other"))
        writes = {method: cluster.server.count(method) for method in ("POST", "PUT", "PATCH", "DELETE")}
        cluster.start_operator(webhook_only=True)
        client = WebhookClient(cluster.webhook_port)
        answer = client.answer(review("CREATE", missing_secret_client("deny")))
        assert answer["allowed"] is False and "NAG101" in answer["status"]["message"]
        answer = client.answer(review("UPDATE", auth_secret(namespace="deny", key=KEY_B),
                                      auth_secret(namespace="deny")))
        assert answer["allowed"] and "NAG206" in answer["warnings"][0]
        cluster.apply(secret("touched", {"a": "b"}, "deny"))   # a change the full operator would react to
        import time
        time.sleep(0.5)
        assert "status" not in cluster.check("nacos", "deny")
        assert cluster.custom.list_namespaced_custom_object("nacosguard.io", "v1alpha1", "other",
                                                            "nacosauthchecks")["items"] == []
        assert cluster.events(namespace="deny") == [] and cluster.events(namespace="other") == []
        after = {method: cluster.server.count(method) for method in writes}
        assert after == {**writes, "POST": writes["POST"] + 1}   # only the test's own Secret
        client.close()


def test_reviews_before_every_index_is_loaded_get_503_and_readyz_says_not_ready():
    """Half-loaded indexes give wrong answers: a Secret not listed yet looks missing (a false refusal), a check
    not listed yet lets anything through. Until every index has its listing the webhook cannot check, says so
    with a 503 (failurePolicy decides), and /readyz keeps the Service from routing to it."""
    import socket

    from support.harness import webhook_ready

    def port_open(port: int) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", port)) == 0

    with Cluster(namespaces=["deny"]) as cluster:
        cluster.apply(*governed("deny", "Deny"))
        cluster.server.fail("GET", "secrets", 503, times=2)   # the Secret listing is retried with a backoff
        cluster.start_operator(wait_for_webhooks=False)
        port = cluster.webhook_port
        cluster.wait_for(lambda: port_open(port), message="the webhook port")
        client = WebhookClient(port)
        uses_an_existing_secret = spring_client("billing", server=server_address("deny"), namespace="deny")
        request = review("CREATE", uses_an_existing_secret)
        status, text = client.post("/validate-deployments", request)
        assert (status, text) == (503, "nacos-auth-guard is starting: its indexes are still loading\n")
        assert not webhook_ready(port)
        cluster.wait_for(lambda: webhook_ready(port), timeout=20, message="readiness")
        assert client.answer(request) == {"uid": request["request"]["uid"], "allowed": True}
        client.close()
