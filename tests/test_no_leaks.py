"""No output path shows a secret value, key, token, or an encoding or hash of one: lint text, JSON, SARIF and
stderr; the operator's status, Events and logs, the webhook's replies (allowed, warnings, status message, error
bodies) and logs, and the metrics."""
from __future__ import annotations

import base64
import hashlib
import json
import time

import pytest
import yaml

from nacos_auth_guard.cli import main
from support import canary
from support.objects import auth_secret, secret


canary_objects = canary.canary_objects


@pytest.fixture()
def manifest(tmp_path):
    path = tmp_path / "cluster.yaml"
    text = yaml.safe_dump_all(canary_objects())
    # A broken document that holds a canary: its error message must not quote it.
    text += f"---\nkind: Secret\nmetadata: {{name: broken\ndata: {{token: {canary.TOKEN_KEY}}}\n"
    # Passwords YAML reads as tags (`!...`) or that a standard tag cannot read: errors name neither (issue 10.6).
    for tagged in (f"!{canary.PASSWORD}", f"!!bool {canary.PASSWORD}", f"!!int {canary.PASSWORD}"):
        text += f"---\napiVersion: v1\nkind: Secret\nmetadata: {{name: tagged}}\nstringData: {{password: {tagged}}}\n"
    path.write_text(text)
    return path


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_lint_outputs_hold_no_secret(manifest, capsys, fmt):
    code = main(["lint", str(manifest), "-o", fmt, "--color", "always", "--strict-refs"])
    out, err = capsys.readouterr()
    assert code == 2   # the broken document is an input error
    canary.assert_no_secret(out, f"lint -o {fmt} stdout")
    canary.assert_no_secret(err, f"lint -o {fmt} stderr")
    if fmt == "json":
        codes = {f["code"] for f in json.loads(out)["findings"]}
        quoted = [f for f in json.loads(out)["findings"] if f["code"] == "NAG402"]
        assert len(quoted) == len(canary.CREDENTIAL_ADDRESSES), quoted   # each address with credentials quoted
        # Proof the canaries went through the checks that read them.
        assert "NAG506" in codes, codes
        seata = sorted(f["code"] for f in json.loads(out)["findings"] if f["object"]["name"].startswith("seata"))
        assert seata == ["NAG105", "NAG105", "NAG106"], seata   # the Seata registry.conf canaries were read
        assert {"NAG102", "NAG105", "NAG106", "NAG202", "NAG203", "NAG205", "NAG501"} <= codes or \
               {"NAG102", "NAG105", "NAG106", "NAG202", "NAG203", "NAG205", "NAG502", "NAG504"} <= codes, codes


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_notes_duplicates_and_templates_hold_no_secret(tmp_path, capsys, fmt):
    """The input paths that are not checks: a duplicate warning over two copies of the canary Secrets, an OpenShift
    Template whose parameter carries a canary, skipped kustomization/values files and a Helm template holding one."""
    objects = canary_objects()
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(objects))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump_all([o for o in objects if o["kind"] == "Secret"]))
    (tmp_path / "template.yaml").write_text(yaml.safe_dump({
        "apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": {"name": "t"},
        "parameters": [{"name": "PASSWORD", "value": canary.PASSWORD}],
        "objects": [secret("from-template", {"password": "${PASSWORD}"})]}))
    (tmp_path / "kustomization.yaml").write_text(
        f"secretGenerator:\n- name: s\n  literals: [password={canary.PASSWORD}]\n")
    (tmp_path / "values.yaml").write_text(f"nacos:\n  authToken: {canary.TOKEN_KEY}\n")
    (tmp_path / "helm.yaml").write_text(f"token: {{{{ .Values.token | default \"{canary.TOKEN_KEY}\" }}}}\n")
    main(["lint", str(tmp_path), "-o", fmt, "--strict-refs"])
    out, err = capsys.readouterr()
    assert "written 2 times" in (out + err) and "kustomize build" in (out + err)
    canary.assert_no_secret(out, f"lint -o {fmt} stdout")
    canary.assert_no_secret(err, f"lint -o {fmt} stderr")


@pytest.mark.parametrize("leak", [
    lambda v: f"message with {v}", lambda v: base64.b64encode(v.encode()).decode(),
    lambda v: base64.urlsafe_b64encode(v.encode()).decode().rstrip("="), lambda v: v.encode().hex(),
    lambda v: hashlib.md5(v.encode()).hexdigest(), lambda v: hashlib.sha1(v.encode()).hexdigest().upper(),
    lambda v: hashlib.sha256(v.encode()).hexdigest(), lambda v: f"fingerprint {hashlib.sha256(v.encode()).hexdigest()[:12]}",
    lambda v: base64.b64encode(hashlib.sha256(v.encode()).digest()).decode(),
], ids=["plain", "base64", "base64url", "hex", "md5", "sha1-upper", "sha256", "sha256-prefix", "sha256-base64"])
@pytest.mark.parametrize("value", [canary.IDENTITY_VALUE, canary.PASSWORD, canary.ACCESS_TOKEN])
def test_canary_check_catches_a_leak(leak, value):
    with pytest.raises(AssertionError):
        canary.assert_no_secret(leak(value))


def test_the_decoded_key_and_its_digests_are_forbidden_too():
    key = base64.b64decode(canary.TOKEN_KEY)
    for text in (key.decode(), hashlib.sha256(key).hexdigest(), hashlib.sha1(key).hexdigest()[:12]):
        with pytest.raises(AssertionError):
            canary.assert_no_secret(text)


def test_operator_webhook_and_scan_outputs_hold_no_secret(capsys):
    from nacos_auth_guard.kube import metrics
    from support.admission import WebhookClient
    from support.harness import Cluster
    checks = [{"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"server": {"statefulSetName": name}, "enforcement": enforcement}}
              for name, enforcement in (("nacos", "Deny"), ("nacos-short", "Warn"), ("nacos-bad", "Deny"))]
    with canary.captured_logs() as logs, Cluster(namespaces=["shop"]) as cluster:
        cluster.apply(*canary_objects(), *checks, canary.properties_client(),
                      secret("inventory-nacos", {"username": "inventory", "password": canary.PASSWORD}))
        cluster.start_operator()
        cluster.wait_for(lambda: all(cluster.condition(c["metadata"]["name"], "Ready") == "False" for c in checks),
                         message="every check to report its findings")
        cluster.wait_for(lambda: len(cluster.events()) >= 3, message="Events")
        client = WebhookClient(cluster.webhook_port)
        replies, verdicts = [], []
        for path, body in canary.admission_reviews():
            status, reply = client.post(path, body)
            replies.append(json.dumps(reply) if isinstance(reply, dict) else reply)
            if status == 200:
                verdicts.append(reply["response"])
            else:
                assert status in (400, 404), (status, reply)
        client.close()
        status_and_events = json.dumps([cluster.check(c["metadata"]["name"]) for c in checks] + cluster.events())
        capsys.readouterr()
        for fmt in ("text", "json", "sarif"):
            assert main(["scan", "--kubeconfig", cluster.kubeconfig, "-o", fmt, "--color", "always"]) == 1
            out, err = capsys.readouterr()
            canary.assert_no_secret(out + err, f"scan -o {fmt}")
            if fmt == "json":
                assert {"NAG105", "NAG106", "NAG202", "NAG205", "NAG502"} <= {
                    f["code"] for f in json.loads(out)["findings"]}
    for index, reply in enumerate(replies):
        canary.assert_no_secret(reply, f"webhook reply {index}")
    canary.assert_no_secret(status_and_events, "NacosAuthCheck status and Events")
    assert "Deployment/shop/exporter" in status_and_events   # the OpenAPI caller's findings went out too
    assert "NAG506" in status_and_events
    canary.assert_no_secret(logs.text(), "operator and webhook logs (debug, formatted, every record attribute)")
    assert "Indexed shop/nacos-short-auth from secrets" in logs.messages()   # the Secret list-watch's DEBUG records
    canary.assert_no_secret(metrics.exposition(), "metrics")
    # Proof the canaries went through the checks and into every kind of reply.
    warned = {w.split(" ")[1] for v in verdicts for w in v.get("warnings", [])}
    denied = " ".join(v["status"]["message"] for v in verdicts if not v["allowed"])
    assert {"NAG105", "NAG202"} <= warned, warned   # a literal canary key; a canary that is not Base64
    assert all(code in denied for code in ("NAG101", "NAG502")), denied   # a canary token read and checked
    assert "NAG106" in denied, denied   # the reviewed ConfigMap's unreadable files, canaries where they break
    assert len(verdicts) == 10 and len(replies) == 17
    assert {w.split(" ")[0] for v in verdicts for w in v.get("warnings", [])} >= {
        "spec:", "spec.jobTemplate.spec.template:"}   # the bare Pod and the CronJob were judged


def test_operator_outputs_hold_no_secret_through_faults_and_a_restart():
    """The paths only trouble takes: failed status writes and Event posts retried, a Secret fixed meanwhile, a
    watch gap ending in 410 Gone while a canary Secret is deleted (the sweeper), a killed and restarted operator.
    Status, Events, metrics and every log record at DEBUG hold no canary."""
    from support.harness import Cluster
    names = ("nacos", "nacos-short", "nacos-bad")
    with canary.captured_logs() as logs, Cluster(namespaces=["shop"]) as cluster:
        cluster.apply(*canary_objects())
        cluster.start_operator(retry_max_seconds=0.3, api_timeout_seconds=1.0)
        cluster.wait_for(lambda: all(cluster.condition(n, "Ready") == "False" for n in names), 20,
                         message="every check to report its findings")
        cluster.server.fail("PATCH", "nacosauthchecks", 500, times=2, subresource="status")
        cluster.server.fail("POST", "events", 500, times=2)
        cluster.apply(secret("orders-nacos", {"username": "orders", "password": canary.PASSWORD}))   # fixed
        cluster.wait_for(lambda: any(e["type"] == "Normal" for e in cluster.events("orders")), 20,
                         message="the fix's Normal Event")
        cluster.server.fail("WATCH", "*", 503, times=10_000)
        cluster.server.drop_watches()
        time.sleep(0.5)   # the streams end before the deletion, so no watch reports it
        cluster.server.store_directly("", "v1", "secrets", "shop", "nacos-bad-auth", None)
        cluster.server.compact()
        cluster.server.clear_faults()
        cluster.wait_for(lambda: any(f["code"] == "NAG101" for f in cluster.check("nacos-bad")["status"]["findings"]),
                         20, message="the Secret deleted during the gap")
        cluster.kill_operator()
        cluster.start_operator()
        cluster.apply(auth_secret("nacos-short-auth", key=canary.OTHER_KEY))   # rotated onto another canary
        cluster.wait_for(lambda: cluster.reason("nacos-short", "TokenKeyValid") != "TokenKeyTooShort", 20,
                         message="the rotated key evaluated")
        namespace = cluster.request("GET", "/api/v1/namespaces/shop")[1]   # deleted: its Events are refused
        namespace["metadata"]["deletionTimestamp"] = "2026-11-22T11:00:00Z"
        cluster.server.store_directly("", "v1", "namespaces", None, "shop", namespace)
        cluster.delete("Secret", "orders-nacos")
        cluster.wait_for(lambda: any("being terminated" in m for m in logs.messages()), 20,
                         message="the refused Event logged")
        outputs = canary.operator_outputs(cluster, list(names))
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
    canary.assert_no_secret(logs.text(), "logs (debug, formatted, every record attribute)")
    messages = logs.messages()
    # Proof the trouble paths ran and logged.
    assert any("failed (HTTP 500" in m for m in messages), "a failed status write or Event post"
    assert any("deleted while a watch was down" in m for m in messages), "the sweeper"
    assert "1 secrets deleted while a watch was down are dropped" in messages, "the Secret list-watch's relist"
    assert any(m.startswith("Watching secrets failed (HTTP 503") for m in messages), "the Secret watch's retries"
    assert '"keyChanges": [{"secret": "nacos-short-auth"' in outputs["status"], "the rotation recorded"


def _kubeconfig(path, server: str, token: str) -> str:
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "c", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": {"token": token}}],
        "contexts": [{"name": "c", "context": {"cluster": "c", "user": "u"}}]}))
    return str(path)


@pytest.mark.parametrize("server,token,expected", [
    ("http://admin:{password}@127.0.0.1:{port}", "t", "cannot reach the API server at http://127.0.0.1:{port} ("),
    ("http://127.0.0.1:{port}/?token={token}", "t", "cannot reach the API server at http://127.0.0.1:{port}/ ("),
    ("http://127.0.0.1:{port}#{password}", "t", "cannot reach the API server at http://127.0.0.1:{port} ("),
    ("http://127.0.0.1:{port}", "{token}\n", "the kubeconfig's user token holds a line break"),
    ("http://127.0.0.1:{port}", "{token}\r\nX-Other: 1", "the kubeconfig's user token holds a line break"),
], ids=["userinfo", "query", "fragment", "token-newline", "token-crlf"])
def test_scan_kubeconfig_errors_hold_no_secret(tmp_path, capsys, server, token, expected):
    """A kubeconfig server URL with credentials, and a token no HTTP header can carry: a clear error, exit 2."""
    from support.harness import free_port
    port = free_port()   # nothing listens there
    values = dict(password=canary.PASSWORD, token=canary.ACCESS_TOKEN, port=port)
    path = _kubeconfig(tmp_path / "kubeconfig", server.format(**values), token.format(**values))
    code = main(["scan", "--kubeconfig", path, "-o", "json"])
    out, err = capsys.readouterr()
    assert code == 2
    assert expected.format(port=port) in out + err
    canary.assert_no_secret(out + err, "scan with a kubeconfig that carries credentials")


@pytest.mark.parametrize("command", ["lint", "scan"])
def test_a_crash_exits_3_naming_where_never_what(tmp_path, capsys, monkeypatch, command):
    """An internal error has its own exit code (never 1, "findings"), and its message names the exception type and
    our line, never the exception's text: a KeyError holds the value it choked on."""
    import nacos_auth_guard.checks

    def crash(*_, **__):
        raise KeyError(canary.PASSWORD)
    monkeypatch.setattr(nacos_auth_guard.checks, "check_in_parts", crash)   # cli imports it when a command runs
    from support.harness import free_port
    if command == "lint":
        path = tmp_path / "c.yaml"
        path.write_text(yaml.safe_dump_all(canary_objects()))
        args = ["lint", str(path)]
    else:   # nothing listens: scan still checks what it read (nothing), and the checks crash
        args = ["scan", "--kubeconfig", _kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{free_port()}", "t")]
    code = main(args)
    out, err = capsys.readouterr()
    assert code == 3
    assert "nacos-auth-guard: internal error (KeyError at test_no_leaks.py:" not in err   # ours, not the test's
    assert "nacos-auth-guard: internal error (KeyError at cli.py:" in err and "this is a bug" in err, err
    canary.assert_no_secret(out + err, f"{command} crash")


@pytest.mark.parametrize("password", [canary.PASSWORD, "wrong"])
def test_client_login_results_and_logs_hold_no_secret(password):
    import asyncio

    from nacos_auth_guard.client_login import run_client_login
    from nacos_auth_guard.client_probe import ClientLogin, NamingRead, client_login_findings, config_reads
    from nacos_auth_guard.model import ObjectRef
    from nacos_auth_guard.probe import Credentials
    from support.nacos_emulator import NacosEmulator, Node

    reads, _ = config_reads({"spring.application.name": "orders"})
    node = Node(base64.b64decode(canary.TOKEN_KEY), users={"orders": canary.PASSWORD}, roles={"orders": ("r",)},
                permissions={"r": ((":*:*", "r"),)})
    client = ObjectRef("Deployment", "shop", "orders")
    login = ClientLogin(client, "app", Credentials("orders", password), "env P (Secret s key 'p')", "env P",
                        tuple(reads), NamingRead("dev", "DEFAULT_GROUP", "orders"))
    with canary.captured_logs() as logs, NacosEmulator({"nacos-0": node}) as nacos:
        result = asyncio.run(run_client_login(nacos.targets()[0], login.credentials, login.reads, login.naming))
        issued = nacos.issued()
    findings = client_login_findings(login, result, ObjectRef("StatefulSet", "shop", "nacos"), (2, 4, 3), 8848, "http")
    assert findings   # NAG611 for the wrong password; NAG613 (dev is not granted) and NAG616 otherwise
    text = (repr(result) + repr(login) + result.answer.describe() + "".join(r.answer.describe() for r in result.reads)
            + "\n".join(logs.messages()) + "\n".join(f.message for f in findings))
    canary.assert_no_secret(text, "client login")
    assert all(token not in text for token in issued) and result.logged_in is (password == canary.PASSWORD)


def test_settle_window_outputs_hold_no_secret():
    """The paths the settle window takes: a young client (a literal canary password, its username from a Secret that
    does not exist yet) held as WaitingForReferences in the status, and the webhook's held warning for it."""
    from support.admission import WebhookClient, review
    from support.harness import Cluster
    from support.objects import env, secret_env, spring_client
    young = spring_client("billing", secret_name="billing-nacos")
    young["spec"]["template"]["spec"]["containers"][0]["env"] = [
        env("NACOS_SERVER_ADDR", "nacos-headless.shop.svc.cluster.local:8848"),
        secret_env("NACOS_USERNAME", "billing-nacos", "username"), env("NACOS_PASSWORD", canary.PASSWORD)]
    names = ("nacos", "nacos-short", "nacos-bad")
    with canary.captured_logs() as logs, Cluster(namespaces=["shop"]) as cluster:
        cluster.apply(*canary_objects(), young)
        cluster.start_operator(settle_seconds=600.0)
        cluster.wait_for(lambda: cluster.reason("nacos", "Reconciling") == "WaitingForReferences", 20,
                         message="the young client's Secret held")
        client = WebhookClient(cluster.webhook_port)
        reply = client.answer(review("CREATE", {**young, "metadata": {**young["metadata"], "name": "billing-2"}}))
        client.close()
        outputs = canary.operator_outputs(cluster, list(names))
    assert any("does not exist yet" in w for w in reply.get("warnings", [])), reply   # the held warning path ran
    assert "Secret billing-nacos read by Deployment/shop/billing does not exist yet" in outputs["status"]
    canary.assert_no_secret(json.dumps(reply), "webhook reply with a held warning")
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
    canary.assert_no_secret(logs.text(), "logs (debug, formatted, every record attribute)")
