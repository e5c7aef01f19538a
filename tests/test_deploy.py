"""The shipped manifests: they parse, the kustomizations name files that exist, the operator accepts the args the
Deployment passes, the CRD's schema accepts what the operator writes, and the roles grant exactly the calls the code
makes (recorded by running it against the API emulator)."""
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
from support.tools import kustomize

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
CRD = yaml.safe_load((ROOT / "crds" / "nacosauthcheck.yaml").read_text())
SCHEMA = CRD["spec"]["versions"][0]["schema"]["openAPIV3Schema"]


KUSTOMIZATION_NAMES = ("kustomization.yaml", "kustomization.yml", "Kustomization")  # what kustomize looks for
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition",
                  "ValidatingWebhookConfiguration"}


def kustomization_file(directory: Path) -> Path:
    [path] = [directory / name for name in KUSTOMIZATION_NAMES if (directory / name).exists()]
    return path


def kustomizations() -> list[Path]:
    return sorted(p for p in [*DEPLOY.rglob("kustomization.yaml"), ROOT / "crds" / "Kustomization"])


@pytest.mark.parametrize("path", kustomizations(), ids=lambda p: str(p.relative_to(ROOT)))
def test_kustomization_resources_exist(path):
    kustomization = yaml.safe_load(path.read_text())
    for resource in kustomization.get("resources", []):
        target = (path.parent / resource).resolve()
        assert target.exists(), f"{path}: {resource} does not exist"
        if target.is_dir():
            assert kustomization_file(target)
        else:
            list(yaml.safe_load_all(target.read_text()))


def rendered(overlay: str, namespace: str | None = None) -> list[dict]:
    """A small kustomize: resources, JSON patches on the Deployment, then the namespace (enough for our own
    overlays; test_the_small_renderer_agrees_with_kustomize holds it to the real one). `namespace` stands for a
    `kustomize edit set namespace` on the overlay."""
    import jsonpatch
    path = DEPLOY / overlay if overlay else DEPLOY

    def load(directory: Path, namespace: str | None = None) -> list[dict]:
        kustomization = yaml.safe_load(kustomization_file(directory).read_text())
        objects = []
        for resource in kustomization.get("resources", []):
            target = (directory / resource).resolve()
            objects += load(target) if target.is_dir() else [o for o in yaml.safe_load_all(target.read_text()) if o]
        for patch in kustomization.get("patches", []):
            for obj in objects:
                if obj["kind"] == patch["target"]["kind"] and obj["metadata"]["name"] == patch["target"]["name"]:
                    obj.update(jsonpatch.apply_patch(obj, yaml.safe_load(patch["patch"])))
        namespace = namespace or kustomization.get("namespace")
        if not namespace:
            return objects
        # kustomize (v5) moves every namespaced object, and a ServiceAccount subject with it where the subject names
        # no namespace or names that ServiceAccount where it was before; a subject naming any other namespace stays.
        moved = {(o["metadata"]["name"], o["metadata"].get("namespace")) for o in objects if o["kind"] == "ServiceAccount"}
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj["metadata"]["namespace"] = namespace
            for subject in obj.get("subjects", []) if obj["kind"].endswith("RoleBinding") else ():
                if subject["kind"] == "ServiceAccount" and (
                        "namespace" not in subject or (subject["name"], subject["namespace"]) in moved):
                    subject["namespace"] = namespace
        return objects
    return load(path, namespace)


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
    namespace = yaml.safe_load(kustomization_file(DEPLOY / overlay).read_text())["namespace"]
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


OWNERS = [None, [], [{"kind": "Deployment", "name": "d", "controller": True}],
          [{"kind": "Deployment", "name": "d"}], [{"kind": "DaemonSet", "name": "d", "controller": False}],
          [{"kind": "CronJob", "name": "c", "controller": True}], [{"kind": "NacosCluster", "name": "n", "controller": True}],
          [{"kind": "Secret", "name": "x"}, {"kind": "StatefulSet", "name": "s", "controller": True}]]


@pytest.mark.parametrize("owners", OWNERS)
def test_match_conditions_call_the_webhook_exactly_when_the_handler_would_judge(owners):
    """The apiserver's matchConditions (CEL, evaluated here by cel-python) and the handler's own test agree: a
    ReplicaSet, Pod or Job a controller made is spared the call, every other object is reviewed."""
    import celpy
    from nacos_auth_guard.discovery import controlled
    from nacos_auth_guard.kube.webhooks import SKIPPED_WHEN_CONTROLLED, WATCHED
    config = yaml.safe_load((DEPLOY / "webhook" / "config" / "validatingwebhook.yaml").read_text())
    kinds = {w[2]: w[3] for w in WATCHED}
    environment = celpy.Environment()
    metadata = {"name": "x"} if owners is None else {"name": "x", "ownerReferences": owners}
    conditioned = set()
    for hook in config["webhooks"]:
        kind = kinds[hook["rules"][0]["resources"][0]]
        called = all(environment.program(environment.compile(c["expression"])).evaluate(
            {"object": celpy.json_to_cel({"metadata": metadata})}) for c in hook.get("matchConditions", []))
        assert called is not (kind in SKIPPED_WHEN_CONTROLLED and controlled(metadata)), (kind, owners)
        if "matchConditions" in hook:
            conditioned.add(kind)
    assert conditioned == set(SKIPPED_WHEN_CONTROLLED)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_small_renderer_agrees_with_kustomize(overlay):
    """rendered() above is a small kustomize; where kubectl exists, the real one must produce the same objects."""
    output = subprocess.run([*kustomize(), str(DEPLOY / overlay)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    real = [o for o in yaml.safe_load_all(output) if o]
    ours = rendered(overlay)
    assert sorted((o["kind"], o["metadata"]["name"]) for o in real) == \
        sorted((o["kind"], o["metadata"]["name"]) for o in ours)
    for name, (deployment, container, _) in deployments(real).items():
        [(_, our_container, _)] = [d for n, d in deployments(ours).items() if n == name]
        assert container["args"] == our_container["args"] and container["ports"] == our_container["ports"]
        assert container.get("readinessProbe") == our_container.get("readinessProbe")
    assert service_account_homes(real) == service_account_homes(ours)


def service_account_homes(objects: list[dict]) -> list[tuple]:
    """(binding, ServiceAccount subject, the subject's namespace, the namespace that ServiceAccount is created in)."""
    created = {o["metadata"]["name"]: o["metadata"].get("namespace") for o in objects if o["kind"] == "ServiceAccount"}
    return sorted((binding["metadata"]["name"], s["name"], s.get("namespace"), created.get(s["name"]))
                  for binding in objects if binding["kind"].endswith("RoleBinding")
                  for s in binding["subjects"] if s["kind"] == "ServiceAccount")


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_bindings_follow_the_install_namespace(overlay):
    """Issue 10.12: after `kustomize edit set namespace shop` every binding still names the operator's own
    ServiceAccount (a subject that hard-codes a namespace binds a ServiceAccount that does not exist: 403 loops)."""
    homes = service_account_homes(rendered(overlay, namespace="shop"))
    assert homes and all(subject_namespace == created == "shop" for *_, subject_namespace, created in homes)


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kustomize_sets_the_namespace_of_every_binding(overlay, tmp_path):
    """The same with the real kustomize, on a copy whose overlay names another namespace."""
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copytree(ROOT / "crds", tmp_path / "crds")
    overlay_file = tmp_path / "deploy" / overlay / "kustomization.yaml"
    overlay_file.write_text(overlay_file.read_text().replace("\nnamespace: ", "\nnamespace: shop\n# was: "))
    output = subprocess.run([*kustomize(), str(overlay_file.parent)], capture_output=True, text=True,
                            timeout=60, check=True).stdout
    homes = service_account_homes([o for o in yaml.safe_load_all(output) if o])
    assert homes and all(subject_namespace == created == "shop" for *_, subject_namespace, created in homes)


def test_the_crd_directory_applies_with_f_and_k():
    """Issue 10.13: `kubectl apply -f crds/` reads every .yaml/.yml/.json file there, so the directory holds only the
    CRD; its kustomization is named `Kustomization`, which kustomize reads and `-f` does not."""
    assert sorted(p.name for p in (ROOT / "crds").iterdir() if p.suffix in (".yaml", ".yml", ".json")) == [
        "nacosauthcheck.yaml"]
    assert yaml.safe_load(kustomization_file(ROOT / "crds").read_text())["resources"] == ["nacosauthcheck.yaml"]


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


# --- RBAC: the roles against the API calls the code makes ----------------------------------------------------------
# The calls are recorded, not listed by hand: the real operator runs against the API emulator through everything
# that talks to the API (kopf's lists and watches, auto-discovery, status, Events, the sweeper's lists, the
# webhooks), and the emulator records each request as the RBAC permission it needs.
WRITES = {"create", "update", "patch", "delete", "deletecollection"}
WATCHED_NAMESPACE = "shop"


def operator_calls(mode: str) -> set[tuple[str, str, str, str | None]]:
    """(verb, API group, resource, namespace or None) of every request the operator made in `mode`."""
    from nacos_auth_guard.kube import handlers
    from nacos_auth_guard.kube.sweep import INDEXED
    from support.harness import OPERATOR_USER, Cluster
    from support.objects import healthy_cluster, pods_of, statefulset
    with Cluster(namespaces=[WATCHED_NAMESPACE, "elsewhere"]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 3))
        cluster.start_operator(webhook_only=mode == "webhook-only",
                               namespaces=[WATCHED_NAMESPACE] if mode == "namespaced" else None)
        if mode != "webhook-only":   # auto-discovery, a status, a finding and its Events
            cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True", message="Ready=True")
            cluster.delete("Secret", "orders-nacos")
            cluster.wait_for(lambda: len(cluster.events("orders")) == 1, message="an Event")
        sweeper = handlers.RECONCILER.sweeper   # every index checked against the API, as after a relist
        lists = cluster.server.count("GET", "statefulsets")
        cluster.operator_loop.call_soon_threadsafe(lambda: (sweeper.pending.update(INDEXED), sweeper.wake.set()))
        cluster.wait_for(lambda: cluster.server.count("GET", "statefulsets") > lists and not sweeper.pending,
                         message="a sweep of every index")
        return {call[1:] for call in cluster.server.access if call[0] == OPERATOR_USER}


@pytest.fixture(scope="module")
def calls() -> dict[str, set]:
    return {mode: operator_calls(mode) for mode in ("cluster-wide", "namespaced", "webhook-only")}


def grants(rules: list[dict]) -> set[tuple[str, str, str]]:
    return {(verb, group, resource) for rule in rules for group in rule["apiGroups"]
            for resource in rule["resources"] for verb in rule["verbs"]}


def roles_of(objects: list[dict], service_account: str) -> tuple[set, set]:
    """(cluster-wide grants, grants in the install's own namespace) of one ServiceAccount."""
    cluster_wide, namespaced = set(), set()
    for binding in objects:
        if binding["kind"] not in ("ClusterRoleBinding", "RoleBinding") or not any(
                s["kind"] == "ServiceAccount" and s["name"] == service_account for s in binding["subjects"]):
            continue
        [role] = [o for o in objects if o["kind"] == binding["roleRef"]["kind"]
                  and o["metadata"]["name"] == binding["roleRef"]["name"]]
        (cluster_wide if binding["kind"] == "ClusterRoleBinding" else namespaced).update(grants(role["rules"]))
    return cluster_wide, namespaced


@pytest.mark.parametrize("overlay,service_account,mode", [
    ("base", "nacos-auth-guard", "cluster-wide"),
    ("webhook", "nacos-auth-guard", "cluster-wide"),
    ("webhook-deployment", "nacos-auth-guard", "cluster-wide"),
    ("webhook-deployment", "nacos-auth-guard-webhook", "webhook-only"),
    ("namespaced", "nacos-auth-guard", "namespaced"),
])
def test_roles_grant_exactly_the_calls_the_code_makes(calls, overlay, service_account, mode):
    cluster_wide, in_namespace = roles_of(rendered(overlay), service_account)
    used = calls[mode]
    # Every call is allowed: a namespaced one by a Role in the watched namespace or a ClusterRole, a cluster-scoped
    # one (namespace None: every namespace, or a cluster-scoped resource) only by a ClusterRole.
    denied = {c for c in used if c[:3] not in cluster_wide and (c[3] is None or c[:3] not in in_namespace)}
    assert not denied, f"{overlay}: the {mode} operator makes calls its roles do not allow: {sorted(denied)}"
    # Nothing is granted that no call uses.
    needs_cluster_role = {c[:3] for c in used if c[3] is None or c[:3] not in in_namespace}
    unused = (cluster_wide - needs_cluster_role) | (in_namespace - {c[:3] for c in used if c[3] == WATCHED_NAMESPACE})
    assert not unused, f"{overlay}: {service_account} is granted what the code never uses: {sorted(unused)}"


def test_the_calls_are_recorded_and_the_webhook_writes_nothing(calls):
    assert ("patch", "nacosguard.io", "nacosauthchecks/status", WATCHED_NAMESPACE) in calls["cluster-wide"]
    assert ("create", "", "events", WATCHED_NAMESPACE) in calls["cluster-wide"]
    assert ("create", "nacosguard.io", "nacosauthchecks", WATCHED_NAMESPACE) in calls["cluster-wide"]
    assert ("watch", "", "secrets", None) in calls["cluster-wide"]
    assert not {c for c in calls["webhook-only"] if c[0] in WRITES}


def test_secrets_are_read_cluster_wide_only_in_the_cluster_wide_install(calls):
    """What the namespaced operator asks for, and what its ClusterRole allows: Secrets in its namespace only."""
    secrets = {c for c in calls["namespaced"] if c[2] == "secrets"}
    assert secrets and {c[3] for c in secrets} == {WATCHED_NAMESPACE}
    cluster_wide, in_namespace = roles_of(rendered("namespaced"), "nacos-auth-guard")
    assert not {g for g in cluster_wide if g[2] == "secrets"}
    assert ("watch", "", "secrets") in in_namespace
