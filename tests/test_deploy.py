"""The shipped manifests: they parse, the kustomizations name files that exist, the operator accepts the args the
Deployment passes, the CRD's schema accepts what the operator writes, and the roles grant no more than the code
uses."""
from __future__ import annotations

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


@pytest.mark.parametrize("overlay", ["base", "namespaced", "webhook"])
def test_operator_accepts_the_deployment_args(overlay):
    [deployment] = [o for o in rendered(overlay) if o["kind"] == "Deployment"]
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    args = [a.replace("$(POD_NAMESPACE)", "shop") for a in container["args"]]
    parsed = build_parser().parse_args(args)
    assert parsed.command == "run"
    assert deployment["spec"]["strategy"]["type"] == "Recreate" and deployment["spec"]["replicas"] == 1
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] and not security["allowPrivilegeEscalation"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    if overlay == "webhook":
        assert parsed.webhook_port == 9443 and parsed.webhook_cert == "/etc/webhook/tls.crt"


def test_webhook_paths_are_the_handler_ids():
    from nacos_auth_guard.kube.webhooks import WATCHED
    config = yaml.safe_load((DEPLOY / "webhook" / "validatingwebhook.yaml").read_text())
    paths = {hook["clientConfig"]["service"]["path"] for hook in config["webhooks"]}
    assert paths == {f"/validate-{plural}" for _, _, plural, *_ in WATCHED}
    for hook in config["webhooks"]:
        assert hook["sideEffects"] == "None" and hook["failurePolicy"] == "Ignore"
        assert hook["matchPolicy"] == "Equivalent" and hook["timeoutSeconds"] <= 10
        excluded = hook["namespaceSelector"]["matchExpressions"][0]["values"]
        assert {"kube-system", "nacos-auth-guard"} <= set(excluded)


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


@pytest.mark.parametrize("overlay", ["base", "namespaced"])
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
