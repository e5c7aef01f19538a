"""Input as users feed it: files that are no Kubernetes object are notes, templates are named, OpenShift Templates
are read through their objects, and an object written twice is a warning whose copies are checked apart."""
from __future__ import annotations

import json

import pytest
import yaml

from nacos_auth_guard.cli import main
from nacos_auth_guard.manifests import not_an_object, read_manifests
from nacos_auth_guard.nacos import OLD_DEFAULT_KEY
from support.objects import auth_secret, env, healthy_cluster, spring_client, statefulset

NO_CREDS = spring_client("billing")
NO_CREDS["spec"]["template"]["spec"]["containers"][0]["env"] = NO_CREDS["spec"]["template"]["spec"][
    "containers"][0]["env"][:2]


def lint_json(capsys, *args: str) -> tuple[int, dict, str]:
    code = main(["lint", *args, "-o", "json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


KUSTOMIZATION = "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources: [nacos.yaml]\n"


@pytest.mark.parametrize("name, text, says", [
    ("kustomization.yaml", "resources: [nacos.yaml]\nnamespace: shop\n", "kustomize build"),
    ("base.yaml", KUSTOMIZATION, "kustomize build"),
    ("components.yaml", "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n", "kustomize build"),
    ("Chart.yaml", "apiVersion: v2\nname: nacos\nversion: 1.0.0\n", "helm template"),
    ("values.yaml", "nacos:\n  authToken: nil\n", "helm template"),
    ("values-prod.yml", "replicaCount: 3\n", "helm template"),
    ("kind.yaml", "apiVersion: kind.x-k8s.io/v1alpha4\nkind: Cluster\nnodes: [{role: control-plane}]\n",
     "another tool's configuration"),
    ("docker-compose.yml", "version: '3'\nservices: {nacos: {image: nacos/nacos-server}}\n", "not a Kubernetes"),
])
def test_yaml_that_is_no_kubernetes_object_is_a_note(tmp_path, capsys, name, text, says):
    (tmp_path / name).write_text(text)
    write_cluster(tmp_path)
    code, report, err = lint_json(capsys, str(tmp_path))
    assert code == 1 and report["errors"] == []   # the real finding still fails the run; no input error
    [note] = report["notes"]
    assert note["level"] == "note" and says in note["message"] and note["file"].endswith(name)
    assert note["line"] == 1 and note["document"] == 1
    assert [f["code"] for f in report["findings"]] == ["NAG401"]


def write_cluster(directory) -> None:
    (directory / "cluster.yaml").write_text(yaml.safe_dump_all(healthy_cluster() + [NO_CREDS]))


@pytest.mark.parametrize("document", [
    {"apiVersion": "v1", "kind": "Secret", "data": {}},                    # a Kubernetes kind without metadata
    {"kind": "Deployment", "metadata": {"name": "x"}},                      # meant as an object: no apiVersion
    {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {}},     # a custom resource without a name
])
def test_broken_kubernetes_objects_stay_errors(document):
    assert not_an_object(document, "app.yaml") is None


def test_a_helm_charts_own_files_are_notes_when_a_directory_is_linted(tmp_path, capsys):
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: nacos\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("image: nacos/nacos-server:v2.4.3\n")
    (chart / "templates" / "statefulset.yaml").write_text(
        "{{- if .Values.enabled }}\napiVersion: apps/v1\nkind: StatefulSet\n{{- end }}\n")
    write_cluster(tmp_path)
    code, report, _ = lint_json(capsys, str(tmp_path))
    assert code == 1 and report["errors"] == [] and report["summary"]["sources"] == 4
    messages = sorted(note["message"] for note in report["notes"])
    assert len(messages) == 3 and all("helm template" in m for m in messages)
    assert any("a template of the Helm chart" in m and "statefulset.yaml" in m for m in messages)


@pytest.mark.parametrize("text", [
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n",     # broken YAML
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: \"{{ .Values.name }}\"\n",  # valid YAML
    "{{- include \"nacos.labels\" . }}\n",
])
def test_an_unrendered_helm_template_names_helm_template(tmp_path, capsys, text):
    path = tmp_path / "deployment.yaml"
    path.write_text(text)
    code, report, _ = lint_json(capsys, str(path))
    [error] = report["errors"]
    assert code == 2 and "unrendered Helm template" in error["message"] and "helm template" in error["message"]


def test_broken_yaml_with_template_braces_hints_at_rendering(tmp_path, capsys):
    path = tmp_path / "app.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ name }}\n  labels: [\n")
    code, report, _ = lint_json(capsys, str(path))
    [error] = report["errors"]
    assert code == 2 and error["message"].startswith("invalid YAML") and "helm template" in error["message"]


def test_rendered_go_template_text_in_data_is_not_a_template(tmp_path, capsys):
    """Prometheus rules and Alertmanager templates carry `{{ $labels }}` / `{{ range }}` in rendered output."""
    rules = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "alerts", "namespace": "shop"},
             "data": {"rules.yaml": "summary: '{{ $labels.instance }} down'\n{{ range .Alerts }}{{ end }}"}}
    path = tmp_path / "alerts.yaml"
    path.write_text(yaml.safe_dump_all(healthy_cluster() + [rules]))
    code, report, _ = lint_json(capsys, str(path))
    assert code == 0 and report["errors"] == [] and report["notes"] == []


def test_openshift_template_is_linted_through_its_objects_with_its_parameters(tmp_path, capsys):
    sts = statefulset(env_list=[env("NACOS_AUTH_ENABLE", "true"), env("NACOS_AUTH_TOKEN", "${TOKEN}")],
                      namespace="${NAMESPACE}")
    template = {"apiVersion": "template.openshift.io/v1", "kind": "Template", "metadata": {"name": "nacos"},
                "parameters": [{"name": "NAMESPACE", "value": "midware"},
                               {"name": "TOKEN", "value": OLD_DEFAULT_KEY}],
                "objects": [sts]}
    path = tmp_path / "template.yaml"
    text = yaml.safe_dump(template)
    path.write_text(text)
    code, report, _ = lint_json(capsys, str(path), "--exclude", "NAG105,NAG301")
    assert report["errors"] == [] and report["summary"]["objects"] == 1
    item_line = text.splitlines().index("- apiVersion: apps/v1") + 1
    assert {(f["code"], f["object"]["namespace"], f["line"]) for f in report["findings"]} == {
        ("NAG204", "midware", item_line)}


@pytest.mark.parametrize("as_json", [False, True])
def test_each_item_of_a_list_points_at_its_own_line(tmp_path, capsys, as_json):
    """`kubectl get -o yaml` is one List document: a finding names the item's line, not the List's."""
    listing = {"apiVersion": "v1", "kind": "List", "items": healthy_cluster() + [NO_CREDS]}
    text = json.dumps(listing, indent=1) if as_json else "# kubectl get all -o yaml\n" + yaml.safe_dump(listing)
    path = tmp_path / ("list.json" if as_json else "list.yaml")
    path.write_text(text)
    code, report, _ = lint_json(capsys, str(path))
    [nag401] = report["findings"]
    item = "\n".join(text.splitlines()[nag401["line"] - 1:nag401["line"] + 6])   # the item's first lines
    assert nag401["line"] > 3 and ("name: billing" in item or '"name": "billing"' in item), item


def test_an_object_in_two_files_is_a_warning_and_each_copy_is_checked_alone(tmp_path, capsys):
    """Two alternative manifests of one Deployment: one sends credentials, one does not. Merged, the good one's env
    would hide the other; each must be judged as it is, at its own file and line."""
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(healthy_cluster()))
    (tmp_path / "b.yaml").write_text("# the same app without credentials\n---\n" + yaml.safe_dump(
        {**NO_CREDS, "metadata": {**NO_CREDS["metadata"], "name": "orders"}}))
    code, report, err = lint_json(capsys, str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"))
    assert code == 1 and report["errors"] == []
    [warning] = report["notes"]
    assert warning["level"] == "warning" and "Deployment/shop/orders is written 2 times" in warning["message"]
    assert "a.yaml:" in warning["message"] and "b.yaml:2" in warning["message"]
    assert [(f["code"], f["object"]["name"], f["file"].rsplit("/", 1)[1], f["line"]) for f in report["findings"]] == [
        ("NAG401", "orders", "b.yaml", 2)]


def test_a_duplicated_secret_is_judged_per_copy(tmp_path, capsys):
    """The same Secret once with a random key and once with the published default: the default is found, and its
    finding points at the StatefulSet, which is written once."""
    published = auth_secret(key=OLD_DEFAULT_KEY)
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(healthy_cluster()))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(published))
    code, report, _ = lint_json(capsys, str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml"))
    assert "Secret/shop/nacos-auth is written 2 times" in report["notes"][0]["message"]
    assert [(f["code"], f["file"].rsplit("/", 1)[1]) for f in report["findings"]] == [("NAG204", "a.yaml")]


def test_copies_alike_are_checked_once_and_reported_at_every_place(tmp_path, capsys, monkeypatch):
    """Rendered files that each repeat the same objects (a Namespace, a shared client): nothing differs between
    the copies, so one input is checked, and a copy's finding is placed where each copy is written. Copies that
    differ still get an input per file."""
    from nacos_auth_guard import cli
    calls = []
    check = cli.check_objects
    monkeypatch.setattr(cli, "check_objects", lambda objects, *a, **k: calls.append(len(objects)) or check(
        objects, *a, **k))
    namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "shop"}}
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(healthy_cluster() + [namespace]))
    for name in ("b.yaml", "c.yaml", "d.yaml"):
        (tmp_path / name).write_text(yaml.safe_dump_all([namespace, NO_CREDS]))
    code, report, _ = lint_json(capsys, str(tmp_path))
    assert code == 1 and len(calls) == 1 and len(report["notes"]) == 2   # each object written more than once
    assert [(f["code"], f["file"].rsplit("/", 1)[1], f["line"]) for f in report["findings"]] == [
        ("NAG401", name, 5) for name in ("b.yaml", "c.yaml", "d.yaml")]
    calls.clear()
    (tmp_path / "d.yaml").write_text(yaml.safe_dump_all([namespace, {**NO_CREDS, "spec": {
        **NO_CREDS["spec"], "replicas": 5}}]))
    lint_json(capsys, str(tmp_path))
    assert len(calls) == 3   # d.yaml's copy differs: as before, one input per file that holds a copy


@pytest.mark.parametrize("first, second, alike", [
    ({"a": 1, "b": [1, "x"]}, {"a": 1, "b": [1, "x"]}, True),
    ({"optional": True}, {"optional": 1}, False),   # equal to Python, not to a check that asks `is True`
    ({"a": "1"}, {"a": 1}, False),
    ({"a": 1, "b": 2}, {"b": 2, "a": 1}, False),     # another order: checked apart, as before
])
def test_copies_are_alike_only_when_written_alike(first, second, alike):
    from nacos_auth_guard.manifests import _same
    assert _same(first, second) is alike


def test_without_duplicates_there_is_one_variant(tmp_path):
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(healthy_cluster()))
    manifests = read_manifests([str(tmp_path / "a.yaml")])
    [(objects, locations, places)] = list(manifests.variants())
    assert objects == manifests.objects and len(locations) == len(objects) and manifests.notes == []
    assert places == {}


def test_notes_and_warnings_are_sarif_notifications(tmp_path, capsys):
    import sarif_pydantic
    (tmp_path / "kustomization.yaml").write_text(KUSTOMIZATION)
    write_cluster(tmp_path)
    (tmp_path / "copy.yaml").write_text(yaml.safe_dump(NO_CREDS))
    main(["lint", str(tmp_path), "-o", "sarif"])
    out = capsys.readouterr().out
    sarif_pydantic.Sarif.model_validate_json(out)
    [invocation] = json.loads(out)["runs"][0]["invocations"]
    levels = sorted(n["level"] for n in invocation["toolExecutionNotifications"])
    assert invocation["executionSuccessful"] is True and levels == ["note", "warning"]
    assert all(n["locations"][0]["physicalLocation"]["region"]["startLine"] >= 1
               for n in invocation["toolExecutionNotifications"])


def test_item_lines_follow_indentation_and_fall_back_to_the_document_line():
    from nacos_auth_guard.manifests import _item_lines
    indented = ("apiVersion: v1\nkind: List\nitems:\n  # a comment\n  - kind: ConfigMap\n    data:\n      x: |\n"
                "        - not an item\n  -   kind: Secret\nmetadata: {}\n")
    assert _item_lines(indented, 1, "items") == [5, 9]
    assert _item_lines("kind: List\nitems: []\n", 1, "items") == []
    assert _item_lines("---\nkind: Template\nobjects:\n- a: 1\n- b: 2\n", 1, "objects") == [4, 5]


def test_a_large_input_parsed_in_two_processes_reads_as_in_one(tmp_path, monkeypatch):
    """Whatever the files hold (errors, a value only pickle carries, a skipped Helm template, stdin among them),
    splitting the files between this process and a forked child changes nothing that is read, nor its order."""
    from nacos_auth_guard import manifests as module
    (tmp_path / "a.yaml").write_text(yaml.safe_dump_all(healthy_cluster()))
    (tmp_path / "b.yaml").write_text("kind: Secret\napiVersion: v1\nmetadata: {name: s, namespace: x}\n"
                                     "data: {k: !!timestamp 2020-01-01}\n---\na: [unclosed\n---\n- 1\n")
    (tmp_path / "c.yaml").write_bytes(b"kind: \xff\n")
    (tmp_path / "d.yaml").write_text("kind: ConfigMap\napiVersion: v1\nmetadata: {name: {{ .Values.x }}}\n")
    chart = tmp_path / "chart"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "templates" / "x.yaml").write_text("kind: Secret\n")
    for index in range(6):
        (tmp_path / f"e{index}.yaml").write_text(yaml.safe_dump_all([NO_CREDS] * 5))
    monkeypatch.setattr("sys.stdin", type("Stdin", (), {"buffer": __import__("io").BytesIO(b"kind: x\n")})())

    def read(threshold: int):
        monkeypatch.setattr(module, "PARALLEL_MIN_BYTES", threshold)
        monkeypatch.setattr("sys.stdin.buffer", __import__("io").BytesIO(b"- not an object\n"))
        found = read_manifests([str(tmp_path), "-", str(tmp_path / "e0.yaml")])
        return (found.objects, found.object_locations, found.errors, found.notes, found.sources)

    alone = read(1 << 62)
    # On any machine, and in a test process whose other tests left threads running (the child only parses).
    monkeypatch.setattr(module, "can_fork", lambda: True)
    forked = []
    real_fork = module.os.fork
    monkeypatch.setattr(module.os, "fork", lambda: forked.append(1) or real_fork())
    assert read(0) == alone and forked == [1]
    assert any("line" in str(error) for error in alone[2]) and len(alone[0]) > 30


def test_no_fork_while_another_thread_runs():
    """A thread holding a lock (logging's, an import's) at the fork would leave the child stuck: parse alone."""
    import threading
    from nacos_auth_guard import forked as module
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not module.can_fork()
    finally:
        stop.set()
        thread.join()


def test_can_fork_without_sched_getaffinity(monkeypatch):
    """macOS and the BSDs have os.fork but not os.sched_getaffinity: lint must not fail there."""
    from nacos_auth_guard import forked
    monkeypatch.delattr(forked.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(forked.os, "cpu_count", lambda: 1)
    assert forked.can_fork() is False


@pytest.mark.parametrize("loadavg,cores,elsewhere,forks", [
    ("0.10 0.20 0.30 1/120 4242\n", 2, 0, True),       # only this process runs: the second core is idle
    ("1.10 1.00 0.90 2/120 4242\n", 2, 1, False),      # another process keeps the other core busy
    ("1.10 1.00 0.90 2/120 4242\n", 4, 1, True),
    ("garbage\n", 2, 0, True),                          # unreadable: assumed idle, as where there is no /proc
    (None, 2, 0, True),
])
def test_a_child_is_forked_only_onto_an_idle_core(tmp_path, monkeypatch, loadavg, cores, elsewhere, forks):
    import threading
    from nacos_auth_guard import forked
    path = tmp_path / "loadavg"
    if loadavg is not None:
        path.write_text(loadavg)
    monkeypatch.setattr(forked, "LOADAVG", str(path))
    monkeypatch.setattr(forked.os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    monkeypatch.setattr(threading, "active_count", lambda: 1)
    assert forked.runnable_elsewhere() == elsewhere
    assert forked.can_fork() is (forks and hasattr(forked.os, "fork"))
