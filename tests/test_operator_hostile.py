"""Hostile input through the operator's own path (watch -> index -> compact forms -> evaluation -> status):
non-UTF-8 and invalid-Base64 Secret data, a 1 MB ConfigMap, an oversized Secret value, thousands of env vars.
The operator writes a status the CRD's schema accepts, with the findings the pure engine gives for the same
objects, and keeps running."""
from __future__ import annotations

import base64
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import yaml

from nacos_auth_guard.evaluation import evaluate, parse_spec
from nacos_auth_guard.snapshot import build_snapshot
from support.harness import Cluster
from support.objects import NS, config_map, env, healthy_cluster, pods_of, secret_env, spring_client, statefulset

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((ROOT / "crds" / "nacosauthcheck.yaml").read_text())["spec"]["versions"][0]["schema"][
    "openAPIV3Schema"]
STARTED = "2026-11-22T10:00:00Z"


def hostile_objects() -> list[dict]:
    auth = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nacos-auth", "namespace": NS},
            "type": "Opaque", "data": {
                "token": base64.b64encode(b"\xff\xfe\xfd" * 16).decode(),           # 48 bytes, not UTF-8
                "identity-key": "%%% not base64 %%%",                                # the API would refuse it
                "identity-value": base64.b64encode(b"\x80\x81\x82 identity").decode()}}
    huge_value = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "huge", "namespace": NS},
                  "type": "Opaque", "data": {"blob": base64.b64encode(b"\x00" * 900_000).decode()}}
    helm = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "sh.helm.release.v1.nacos.v1", "namespace": NS},
            "type": "helm.sh/release.v1", "data": {"release": base64.b64encode(b"H4sI" + b"\x00" * 1000).decode()}}
    properties = "".join(f"app.filler.{i}={'x' * 40}\n" for i in range(20_000))   # ~1 MB
    properties += ("nacos.core.auth.enabled=true\n"
                   "nacos.core.auth.plugin.nacos.token.secret.key=${NACOS_AUTH_TOKEN}\n"
                   "nacos.core.auth.server.identity.key=${NACOS_AUTH_IDENTITY_KEY}\n"
                   "nacos.core.auth.server.identity.value=${NACOS_AUTH_IDENTITY_VALUE}\n")
    big = config_map("nacos-config", {"application.properties": properties})
    sts = statefulset()
    pod_spec = sts["spec"]["template"]["spec"]
    pod_spec["containers"][0]["volumeMounts"] = [{"name": "conf", "mountPath": "/home/nacos/conf"}]
    pod_spec["volumes"] = [{"name": "conf", "configMap": {"name": "nacos-config"}}]
    crowded = spring_client("crowded")
    crowded["spec"]["template"]["spec"]["containers"][0]["env"] += [env(f"VAR_{i}", "v" * 20) for i in range(3000)]
    crowded["spec"]["template"]["spec"]["containers"][0]["env"].append(
        secret_env("SPRING_CLOUD_NACOS_PASSWORD", "huge", "blob"))
    others = [o for o in healthy_cluster() if o["kind"] not in ("Secret", "StatefulSet") or
              o["metadata"]["name"] != "nacos-auth"]
    others = [o for o in others if o["kind"] != "StatefulSet"]
    return [auth, huge_value, helm, big, sts, crowded, *others, *pods_of(sts, [STARTED] * 3)]


def test_hostile_objects_through_the_operator():
    objects = hostile_objects()
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*objects)
        cluster.start_operator()
        cluster.wait_for(lambda: (cluster.check("nacos").get("status") or {}).get("findings") is not None, 30,
                         message="a status")
        cluster.wait_for(lambda: cluster.check("nacos")["status"]["clients"] == 2, 10, message="both clients")
        check = cluster.check("nacos")
        jsonschema.validate(check, SCHEMA)
        written = sorted((f["code"], f["object"]) for f in check["status"]["findings"])
        # The pure engine on the same objects (as the apiserver stores them) gives the same findings.
        stored = [cluster.request("GET", f"/api/v1/namespaces/{NS}/secrets/{name}")[1]
                  for name in ("nacos-auth", "huge", "sh.helm.release.v1.nacos.v1")]
        rest = [o for o in objects if o["kind"] != "Secret"]
        snapshot = build_snapshot(stored + [o for o in objects if o["kind"] == "Secret" and o["metadata"]["name"]
                                            not in {s["metadata"]["name"] for s in stored}] + rest, complete=True)
        expected = evaluate(parse_spec(check), snapshot, datetime.now(timezone.utc))
        assert written == sorted((f.code, str(f.obj)) for f in expected.findings)
        assert ("NAG202", "StatefulSet/shop/nacos") in written   # a key that is not text: not Base64 either
        assert cluster.operator_alive()
