"""`nacos-auth-guard scan` against the API server emulator: lint's reports and exit codes from a live cluster,
and a clear error (exit 2) for every way the API can refuse."""
from __future__ import annotations

import json

import pytest
import yaml

from nacos_auth_guard.cli import main
from support.harness import Cluster, free_port
from support.objects import healthy_cluster, pods_of, spring_client, statefulset

STARTED = "2026-11-22T10:00:00Z"


def cluster_objects(namespace: str) -> list[dict]:
    return [*healthy_cluster(namespace), *pods_of(statefulset(namespace=namespace), [STARTED] * 3)]


def broken_client(namespace: str) -> dict:
    return spring_client("billing", server=f"nacos-headless.{namespace}.svc.cluster.local:8848",
                         secret_name="billing-nacos", namespace=namespace)


@pytest.fixture(scope="module")
def cluster():
    with Cluster(namespaces=["shop", "team", "empty"]) as cluster:
        cluster.apply(*cluster_objects("shop"), *cluster_objects("team"), broken_client("team"))
        yield cluster


def scan(cluster: Cluster, capsys, *args: str) -> tuple[int, str, str]:
    code = main(["scan", "--kubeconfig", cluster.kubeconfig, *args])
    out, err = capsys.readouterr()
    return code, out, err


def codes(out: str) -> set[tuple[str, str]]:
    return {(f["code"], f["object"]["namespace"]) for f in json.loads(out)["findings"]}


def test_a_healthy_namespace_exits_0(cluster, capsys):
    code, out, err = scan(cluster, capsys, "-n", "shop", "-o", "json")
    report = json.loads(out)
    assert code == 0 and err == ""
    assert report["errors"] == [] and report["summary"]["error"] == 0
    assert report["summary"]["objects"] == 8   # 2 Secrets, the StatefulSet, its 3 Pods and Service, a Deployment


def test_the_kubeconfig_namespace_is_the_default(cluster, capsys):
    code, out, _ = scan(cluster, capsys, "-o", "json")   # the harness's context names "shop"
    assert code == 0 and json.loads(out)["summary"]["objects"] > 0


def test_a_problem_exits_1_in_each_format(cluster, capsys):
    code, out, _ = scan(cluster, capsys, "-n", "team", "-o", "json")
    assert code == 1 and ("NAG101", "team") in codes(out)
    code, out, _ = scan(cluster, capsys, "-n", "team", "--color", "never")
    assert code == 1 and "Deployment/team/billing" in out and "NAG101 SecretNotFound" in out
    code, out, _ = scan(cluster, capsys, "-n", "team", "-o", "sarif")
    results = json.loads(out)["runs"][0]["results"]
    assert code == 1 and any(r["ruleId"] == "NAG101" for r in results)
    assert scan(cluster, capsys, "-n", "team", "--fail-on", "none")[0] == 0
    assert scan(cluster, capsys, "-n", "team", "--exclude", "NAG101")[0] == 0


def test_namespaces_repeatable_and_all(cluster, capsys):
    _, both, _ = scan(cluster, capsys, "-n", "shop", "-n", "team", "-o", "json")
    _, everything, _ = scan(cluster, capsys, "-A", "-o", "json")
    _, shop, _ = scan(cluster, capsys, "-n", "shop", "-o", "json")
    assert codes(both) == codes(everything) == {("NAG101", "team")} and codes(shop) == set()
    assert json.loads(both)["summary"]["objects"] == json.loads(everything)["summary"]["objects"]
    _, empty, _ = scan(cluster, capsys, "-n", "empty", "-o", "json")
    assert json.loads(empty)["summary"]["objects"] == 0


def test_another_context_brings_its_own_namespace(cluster, capsys, tmp_path):
    config = yaml.safe_load(open(cluster.kubeconfig))
    config["contexts"].append({"name": "team", "context": {"cluster": "emulator", "user": "tester",
                                                           "namespace": "team"}})
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(config))
    code = main(["scan", "--kubeconfig", str(path), "--context", "team", "-o", "json"])
    assert code == 1 and ("NAG101", "team") in codes(capsys.readouterr().out)


def test_forbidden_secrets_is_a_clear_error_and_not_a_flood_of_missing_secrets(cluster, capsys):
    cluster.server.fail("GET", "secrets", 403, times=1)
    code, out, err = scan(cluster, capsys, "-n", "shop", "--color", "never")
    assert code == 2
    assert "input error: not allowed to list secrets in namespace shop (HTTP 403): injected fault. Fix: grant " \
           "list on secrets to this user (RBAC)" in err
    assert "SecretNotFound" not in out   # unread is unknown, not missing
    cluster.server.fail("GET", "secrets", 403, times=1)
    code, out, _ = scan(cluster, capsys, "-n", "team", "-o", "json")
    report = json.loads(out)
    [error] = report["errors"]
    assert code == 2 and error["message"].startswith("not allowed to list secrets in namespace team (HTTP 403)")
    assert report["summary"]["objects"] > 0   # everything else was still read and checked


@pytest.mark.parametrize("status,expected", [
    (401, "the API server refused the kubeconfig's credentials (HTTP 401) listing configmaps"),
    (500, "cannot list configmaps in namespace shop: HTTP 500: injected fault"),
])
def test_other_api_errors_exit_2_with_the_reason(cluster, capsys, status, expected):
    cluster.server.fail("GET", "configmaps", status, times=1)
    code, _, err = scan(cluster, capsys, "-n", "shop")
    assert code == 2 and expected in err


def test_a_missing_crd_is_not_an_error(cluster, capsys):
    cluster.server.fail("GET", "nacosauthchecks", 404, times=1)
    assert scan(cluster, capsys, "-n", "shop")[0] == 0


def test_an_unreachable_api_server_is_one_clear_error(tmp_path, capsys):
    port = free_port()   # nothing listens there
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "gone",
        "clusters": [{"name": "gone", "cluster": {"server": f"http://127.0.0.1:{port}"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "u"}}]}))
    code = main(["scan", "--kubeconfig", str(path), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2 and report["findings"] == [] and len(report["errors"]) == 1
    assert report["errors"][0]["message"].startswith(f"cannot reach the API server at http://127.0.0.1:{port} (")


def test_a_kubeconfig_that_does_not_load_exits_2(tmp_path, capsys):
    assert main(["scan", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "cannot load the kubeconfig" in capsys.readouterr().err


def test_lists_are_read_page_by_page():
    """The emulator does not page; a stub API client shows the continue tokens are followed."""
    from nacos_auth_guard.kube import cli as kube_cli

    class Response:
        def __init__(self, document):
            self.status, self.document = 200, document

        def read(self):
            return json.dumps(self.document).encode()

    class Client:
        def __init__(self):
            self.urls = []

        def param_serialize(self, method, path, header_params, auth_settings, body=None):
            return method, path, header_params, body, None

        def call_api(self, method, url, header_params, _request_timeout, body=None):
            self.urls.append(url)
            page = url.split("continue=")[1] if "continue=" in url else "0"
            following = {"0": "1", "1": "2", "2": ""}[page]
            return Response({"metadata": {"continue": following}, "items": [{"page": page}]})

    client = Client()
    assert kube_cli._list(client, "/api/v1/namespaces/shop/secrets") == (
        200, [{"page": "0"}, {"page": "1"}, {"page": "2"}], "")
    assert client.urls == ["/api/v1/namespaces/shop/secrets?limit=500",
                           "/api/v1/namespaces/shop/secrets?limit=500&continue=1",
                           "/api/v1/namespaces/shop/secrets?limit=500&continue=2"]
