"""The shipped manifests: they parse, the kustomizations name files that exist, the operator accepts the args the
Deployment passes, the CRD's schema accepts what the operator writes, and the roles grant no more than the code
uses."""
from __future__ import annotations

import argparse
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import jsonschema
import pytest
import yaml

from nacos_auth_guard.catalog import CONCERNS, PROBE_SUCCEEDED, finding
from nacos_auth_guard.cli import build_parser
from nacos_auth_guard.conditions import build_status
from nacos_auth_guard.model import ObjectRef

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CRD = yaml.safe_load((ROOT / "crds" / "nacosauthcheck.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


def kustomizations() -> list[Path]:
    return sorted(p for p in [*DEPLOY.rglob("kustomization.yaml"), ROOT / "crds" / "kustomization.yaml"])


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomization_resources_exist(path):
    kustomization = yaml.safe_load(path.read_text())
    for resource in kustomization.get("resources", []):
        target = (path.parent / resource).resolve()
        assert target.exists(), f"{path}: {resource} does not exist"
        if target.is_dir():
            assert (target / "kustomization.yaml").exists()
        else:
            list(yaml.safe_load_all(target.read_text()))


def rendered(overlay: str) -> list[dict]:
    """A small kustomize: resources, then JSON patches on the Deployment (enough for our own overlays)."""
    import jsonpatch
    path = DEPLOY / overlay if overlay else DEPLOY

    def load(directory: Path) -> list[dict]:
        kustomization = yaml.safe_load((directory / "kustomization.yaml").read_text())
        objects = []
        for resource in kustomization.get("resources", []):
            target = (directory / resource).resolve()
            objects += load(target) if target.is_dir() else [o for o in yaml.safe_load_all(target.read_text()) if o]
        for patch in kustomization.get("patches", []):
            for obj in objects:
                if obj["kind"] == patch["target"]["kind"] and obj["metadata"]["name"] == patch["target"]["name"]:
                    obj.update(jsonpatch.apply_patch(obj, yaml.safe_load(patch["patch"])))
        return objects
    return load(path)


OVERLAYS = ["base", "namespaced", "webhook", "webhook-deployment"]
WEBHOOK_OVERLAYS = ["webhook", "webhook-deployment"]


def deployments(objects: list[dict]) -> dict[str, tuple[dict, dict, argparse.Namespace]]:
    """name -> (Deployment, its container, the parsed command line)."""
    result = {}
    for obj in objects:
        if obj["kind"] == "Deployment":
            [container] = obj["spec"]["template"]["spec"]["containers"]
            args = [a.replace("$(POD_NAMESPACE)", "shop") for a in container["args"]]
            result[obj["metadata"]["name"]] = (obj, container, build_parser().parse_args(args))
    return result


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_operator_accepts_the_deployment_args(overlay):
    found = deployments(rendered(overlay))
    assert set(found) == ({"nacos-auth-guard", "nacos-auth-guard-webhook"} if overlay == "webhook-deployment"
                          else {"nacos-auth-guard"})
    for name, (deployment, container, parsed) in found.items():
        assert parsed.command == "run"
        if name == "nacos-auth-guard":   # kopf standalone: never two operator pods at once
            assert deployment["spec"]["strategy"]["type"] == "Recreate" and deployment["spec"]["replicas"] == 1
            assert not parsed.webhook_only
        else:   # writes nothing, so it can run side by side and roll without a gap
            assert parsed.webhook_only and deployment["spec"]["replicas"] >= 2
            assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
        security = container["securityContext"]
        assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert (parsed.webhook_port is not None) == (overlay in WEBHOOK_OVERLAYS and (
            overlay == "webhook" or name == "nacos-auth-guard-webhook"))


@pytest.mark.parametrize("overlay", WEBHOOK_OVERLAYS)
def test_webhook_wiring(overlay):
    """Service -> the pods that serve the webhooks -> the certificate cert-manager writes -> the configuration."""
    objects = rendered(overlay)
    namespace = yaml.safe_load((DEPLOY / overlay / "kustomization.yaml").read_text())["namespace"]
    by_kind = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    [service] = [s for s in by_kind["Service"] if s["metadata"]["name"] == "nacos-auth-guard-webhook"]
    [certificate] = by_kind["Certificate"]
    [configuration] = by_kind["ValidatingWebhookConfiguration"]
    [(deployment, container, parsed)] = [d for d in deployments(objects).values() if d[2].webhook_port]
    pod = deployment["spec"]["template"]
    assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
    for other, *_ in deployments(objects).values():   # no other Deployment's pods behind the webhook Service
        if other is not deployment:
            assert not service["spec"]["selector"].items() <= other["spec"]["template"]["metadata"]["labels"].items()
    [port] = service["spec"]["ports"]
    assert {"name": port["targetPort"], "containerPort": parsed.webhook_port} in container["ports"]
    probe = container["readinessProbe"]["httpGet"]
    assert (probe["path"], probe["port"], probe["scheme"]) == ("/readyz", port["targetPort"], "HTTPS")
    volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
    [mount] = [m for m in container["volumeMounts"] if volumes[m["name"]].get("secret", {}).get("secretName")
               == certificate["spec"]["secretName"]]
    assert (parsed.webhook_cert, parsed.webhook_key) == (f"{mount['mountPath']}/tls.crt",
                                                         f"{mount['mountPath']}/tls.key")
    assert f"{service['metadata']['name']}.{namespace}.svc" in certificate["spec"]["dnsNames"]
    assert configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"] == \
        f"{namespace}/{certificate['metadata']['name']}"
    for hook in configuration["webhooks"]:
        target = hook["clientConfig"]["service"]
        assert (target["name"], target["namespace"], target["port"]) == (service["metadata"]["name"], namespace,
                                                                         port["port"])
        [expression] = hook["namespaceSelector"]["matchExpressions"]
        assert expression["key"] == "kubernetes.io/metadata.name" and expression["operator"] == "NotIn"
        assert set(expression["values"]) == parsed.webhook_exclude_namespaces == {"kube-system", namespace}


def test_webhook_paths_are_the_handler_ids():
    from nacos_auth_guard.kube.webhooks import ROUTES, WATCHED
    config = yaml.safe_load((DEPLOY / "webhook" / "config" / "validatingwebhook.yaml").read_text())
    paths = {hook["clientConfig"]["service"]["path"] for hook in config["webhooks"]}
    assert paths == {f"/validate-{plural}" for _, _, plural, *_ in WATCHED} == {f"/{p}" for p in ROUTES}
    for hook in config["webhooks"]:
        group, version, plural = ROUTES[hook["clientConfig"]["service"]["path"][1:]]
        [rule] = hook["rules"]
        assert (rule["apiGroups"], rule["apiVersions"], rule["resources"]) == ([group], [version], [plural])
        [operations] = [w[4] for w in WATCHED if w[2] == plural]
        assert rule["operations"] == list(operations) and rule["scope"] == "Namespaced"
        assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Ignore"
        assert hook["matchPolicy"] == "Equivalent" and hook["timeoutSeconds"] <= 10
        assert hook["admissionReviewVersions"] == ["v1"]


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl (with kustomize) is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_small_renderer_agrees_with_kustomize(overlay):
    """rendered() above is a small kustomize; where kubectl exists, the real one must produce the same objects."""
    output = subprocess.run(["kubectl", "kustomize", str(DEPLOY / overlay)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    real = [o for o in yaml.safe_load_all(output) if o]
    ours = rendered(overlay)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in real) == \
        sorted((o["kind"], o["metadata"]["name"]) for o in ours)
    for name, (deployment, container, _) in deployments(real).items():
        [(_, our_container, _)] = [d for n, d in deployments(ours).items() if n == name]
        assert container["args"] == our_container["args"] and container["ports"] == our_container["ports"]
        assert container.get("readinessProbe") == our_container.get("readinessProbe")


def test_crd_schema_accepts_specs_and_the_status_we_write():
    check = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck", "metadata": {"name": "n"},
             "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny", "exclude": ["NAG105"],
                      "clients": {"selector": {"matchLabels": {"a": "b"}},
                                  "namespaceSelector": {"matchExpressions": [{"key": "k", "operator": "Exists"}]}},
                      "probe": {"enabled": True, "credentialsSecretRef": {"name": "nacos-probe", "usernameKey": "u"},
                                "intervalSeconds": 30, "timeoutSeconds": 5, "port": 8848, "scheme": "http"}}}
    jsonschema.validate(check, SCHEMA)
    sts = ObjectRef("StatefulSet", "shop", "nacos")
    findings = [finding("NAG205", sts, cluster=sts, groups="pods {nacos-0} and {nacos-1}", error="Invalid signature",
                        restart="kubectl rollout restart statefulset/nacos -n shop"),
                finding("NAG402", ObjectRef("Deployment", "shop", "a"), address="x")]
    probing = (*CONCERNS, PROBE_SUCCEEDED)
    for stalled in (None, ("InvalidSpec", "spec.enforcement must be one of Deny, Warn, Audit")):
        status = build_status(findings, previous=None, generation=1, now=datetime.now(timezone.utc), servers=3,
                              clients=1, stalled=stalled)
        jsonschema.validate({**check, "status": status}, SCHEMA)
        status = build_status(findings, previous=None, generation=1, now=datetime.now(timezone.utc), servers=3,
                              clients=1, stalled=stalled, concerns=probing,
                              pending={PROBE_SUCCEEDED: ("ProbePending", "The first probe run has not finished.")})
        jsonschema.validate({**check, "status": status}, SCHEMA)


@pytest.mark.parametrize("spec", [
    {},
    {"server": {"statefulSetName": "Nacos_Server"}},
    {"server": {"statefulSetName": "nacos"}, "enforcement": "Block"},
    {"server": {"statefulSetName": "nacos"}, "exclude": ["105"]},
    {"server": {"statefulSetName": "nacos"}, "probe": {"enabled": True, "credentialsSecretRef": {"name": "p"},
                                                       "intervalSeconds": 10}},
    {"server": {"statefulSetName": "nacos"}, "probe": {"enabled": True, "credentialsSecretRef": {}}},
    {"server": {"statefulSetName": "nacos"}, "probe": {"scheme": "ftp"}},
])
def test_crd_schema_rejects_bad_specs(spec):
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"spec": spec}, SCHEMA)


def test_crd_printer_columns():
    columns = {c["name"]: c for c in CRD["spec"]["versions"][0]["additionalPrinterColumns"]}
    assert list(columns) == ["Ready", "Reason", "Servers", "Clients", "Problems", "Age", "Message"]
    assert columns["Message"]["priority"] == 1
    assert CRD["spec"]["names"]["shortNames"] == ["nac"]


# Every API call the operator makes: (apiGroup, resource, verb). kube/ is the only code that talks to the API.
USED = {
    **{("", r, v): True for r in ("secrets", "configmaps", "services", "pods", "namespaces") for v in ("list", "watch")},
    **{("apps", r, v): True for r in ("statefulsets", "deployments", "daemonsets") for v in ("list", "watch")},
    **{("batch", r, v): True for r in ("jobs", "cronjobs") for v in ("list", "watch")},
    ("nacosguard.io", "nacosauthchecks", "list"): True, ("nacosguard.io", "nacosauthchecks", "watch"): True,
    ("nacosguard.io", "nacosauthchecks", "create"): True, ("nacosguard.io", "nacosauthchecks/status", "patch"): True,
    ("", "events", "create"): True, ("apiextensions.k8s.io", "customresourcedefinitions", "list"): True,
}
WRITES = {"create", "update", "patch", "delete", "deletecollection"}


def grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {(group, resource, verb) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


@pytest.mark.parametrize("overlay", ["base", "namespaced", "webhook-deployment"])
def test_roles_grant_what_the_code_uses_and_no_other_write(overlay):
    objects = rendered(overlay)
    granted = set().union(*(grants(o["rules"]) for o in objects if o["kind"] in ("Role", "ClusterRole")))
    missing = {use for use in USED if use not in granted}
    assert not missing, f"the code needs {missing}"
    writes = {g for g in granted if g[2] in WRITES}
    assert writes <= {("nacosguard.io", "nacosauthchecks", "create"), ("nacosguard.io", "nacosauthchecks/status",
                                                                        "patch"),
                      ("", "events", "create"), ("", "events", "patch"), ("events.k8s.io", "events", "create"),
                      ("events.k8s.io", "events", "patch")}


def test_secrets_are_readable_cluster_wide_only_in_the_cluster_wide_install():
    namespaced = rendered("namespaced")
    cluster_roles = [o for o in namespaced if o["kind"] == "ClusterRole"]
    assert not any(resource == "secrets" for role in cluster_roles for _, resource, _ in grants(role["rules"]))
    assert any(o["kind"] == "Role" and ("", "secrets", "watch") in grants(o["rules"]) for o in namespaced)


def test_the_webhook_deployment_reads_what_the_indexes_need_and_writes_nothing():
    objects = rendered("webhook-deployment")
    [binding] = [o for o in objects if o["kind"] == "ClusterRoleBinding"
                 and o["subjects"][0]["name"] == "nacos-auth-guard-webhook"]
    [role] = [o for o in objects if o["kind"] == "ClusterRole" and o["metadata"]["name"] == binding["roleRef"]["name"]]
    granted = grants(role["rules"])
    reads = {use for use in USED if use[2] in ("list", "watch")}
    assert reads <= granted, f"the indexes need {reads - granted}"
    assert not {g for g in granted if g[2] in WRITES}
    [(deployment, _, _)] = [d for n, d in deployments(objects).items() if n == "nacos-auth-guard-webhook"]
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == binding["subjects"][0]["name"]
