"""No output path shows a secret value, key, token, or an encoding or hash of one: lint text, JSON, SARIF and
stderr; the operator's status, Events and logs, the webhook's replies (allowed, warnings, status message, error
bodies) and logs, and the metrics."""
from __future__ import annotations

import json

import pytest
import yaml

from nacos_auth_guard.cli import main
from support import canary
from support.objects import (auth_secret, deployment, env, pods_of, secret, server_env, service,
                             spring_client, statefulset)

SERVER = "nacos-headless.shop.svc.cluster.local:8848"


def canary_objects() -> list[dict]:
    """A cluster that trips every check that handles a secret value, with canaries in every such place."""
    literal_env = [e for e in server_env() if e["name"] not in ("NACOS_AUTH_TOKEN", "NACOS_AUTH_IDENTITY_VALUE")]
    literal_env += [env("NACOS_AUTH_TOKEN", canary.TOKEN_KEY), env("NACOS_AUTH_IDENTITY_VALUE", canary.IDENTITY_VALUE)]
    sts = statefulset(env_list=literal_env)
    other_pod_env = [e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", canary.OTHER_KEY)
                     for e in literal_env]
    objects = [sts, service("nacos-headless", {"app": "nacos"}),
               *pods_of(sts, ["2026-11-22T10:00:00Z"] * 3, env_overrides={1: other_pod_env})]
    for name, key in (("nacos-short", canary.SHORT_KEY), ("nacos-bad", canary.BAD_KEY)):
        objects += [auth_secret(f"{name}-auth", key=key),
                    statefulset(name, env_list=server_env(f"{name}-auth"))]
    objects += [
        secret("orders-nacos", {"username": "orders", "pasword": canary.PASSWORD}),
        spring_client(),
        deployment("batch", [env("NACOS_SERVER_ADDR", SERVER), env("NACOS_ACCESS_TOKEN", canary.ACCESS_TOKEN)]),
        deployment("legacy", [env("NACOS_SERVER_ADDR", SERVER), env("NACOS_USERNAME", "legacy"),
                              env("NACOS_PASSWORD", canary.PASSWORD)]),
    ]
    return objects


@pytest.fixture()
def manifest(tmp_path):
    path = tmp_path / "cluster.yaml"
    text = yaml.safe_dump_all(canary_objects())
    # A broken document that holds a canary: its error message must not quote it.
    text += f"---\nkind: Secret\nmetadata: {{name: broken\ndata: {{token: {canary.TOKEN_KEY}}}\n"
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
        # Proof the canaries went through the checks that read them.
        assert {"NAG102", "NAG105", "NAG202", "NAG203", "NAG205", "NAG501"} <= codes or \
               {"NAG102", "NAG105", "NAG202", "NAG203", "NAG205", "NAG502", "NAG504"} <= codes, codes


def test_canary_check_catches_a_leak():
    with pytest.raises(AssertionError):
        canary.assert_no_secret(f"message with {canary.IDENTITY_VALUE}")
    import hashlib
    with pytest.raises(AssertionError):
        canary.assert_no_secret(hashlib.sha256(canary.PASSWORD.encode()).hexdigest())


def test_operator_webhook_and_scan_outputs_hold_no_secret(caplog, capsys):
    import logging

    from nacos_auth_guard.kube import metrics
    from support.admission import WebhookClient
    from support.harness import Cluster
    caplog.set_level(logging.DEBUG)
    checks = [{"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
               "metadata": {"name": name, "namespace": "shop"},
               "spec": {"server": {"statefulSetName": name}, "enforcement": enforcement}}
              for name, enforcement in (("nacos", "Deny"), ("nacos-short", "Warn"), ("nacos-bad", "Deny"))]
    with Cluster(namespaces=["shop"]) as cluster:
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
                assert {"NAG105", "NAG202", "NAG205", "NAG502"} <= {f["code"] for f in json.loads(out)["findings"]}
    for index, reply in enumerate(replies):
        canary.assert_no_secret(reply, f"webhook reply {index}")
    canary.assert_no_secret(status_and_events, "NacosAuthCheck status and Events")
    logs = "\n".join(record.getMessage() + (f"\n{record.exc_text}" if record.exc_text else "")
                     for record in caplog.records)
    canary.assert_no_secret(logs, "operator and webhook logs (debug)")
    canary.assert_no_secret(metrics.exposition(), "metrics")
    # Proof the canaries went through the checks and into every kind of reply.
    warned = {w.split(" ")[1] for v in verdicts for w in v.get("warnings", [])}
    denied = " ".join(v["status"]["message"] for v in verdicts if not v["allowed"])
    assert {"NAG105", "NAG202"} <= warned, warned   # a literal canary key; a canary that is not Base64
    assert all(code in denied for code in ("NAG101", "NAG502")), denied   # a canary token read and checked
    assert len(verdicts) == 8 and len(replies) == 13
