"""Where teams already work, each proven with the real tool: pre-commit (PyPI), kubectl with its kustomize (Debian's
kubernetes-client or the machine's own kubectl package), promtool (Debian's prometheus), as support/tools.py finds
them."""
from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from support.harness import Cluster, free_port
from support.objects import NS, healthy_cluster, pods_of, spring_client, statefulset
from support.tools import kustomize, tool

ROOT = Path(__file__).resolve().parents[1]
MONITORING = ROOT / "deploy" / "monitoring"


def run(*command: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)


# pre-commit

@pytest.fixture(scope="module")
def hook_repo(tmp_path_factory) -> Path:
    """This checkout as it is on disk (tracked and new files), committed in a repo of its own: pre-commit installs
    a hook from a commit, and one commit lets the second run reuse the first one's environment."""
    repo = tmp_path_factory.mktemp("hook-repo")
    listed = run("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard", cwd=ROOT, check=True).stdout
    for name in filter(None, listed.split("\0")):
        if (ROOT / name).is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, repo / name)
    git = ("git", "-c", "user.name=test", "-c", "user.email=test@127.0.0.1", "-c", "commit.gpgsign=false")
    for command in (("init", "-q"), ("add", "-A"), ("commit", "-qm", "snapshot")):
        run(*git, *command, cwd=repo, check=True)
    return repo


def try_hook(hook_repo: Path, tmp_path: Path, hook: str, *files: str) -> subprocess.CompletedProcess:
    project = tmp_path / "project"
    project.mkdir(parents=True)
    for name in files:
        shutil.copy(ROOT / "examples" / name, project / name)
    run("git", "init", "-q", cwd=project, check=True)
    run("git", "add", "-A", cwd=project, check=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(hook_repo.parent / "pre-commit-home")}
    return run(tool("pre-commit"), "try-repo", str(hook_repo), hook, "--files", *files, cwd=project, env=env)


def test_pre_commit_hook_fails_on_a_broken_manifest_and_passes_a_healthy_one(hook_repo, tmp_path):
    broken = try_hook(hook_repo, tmp_path / "broken", "nacos-auth-guard", "client-no-credentials.yaml")
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert re.search(r"nacos-auth-guard lint\.+Failed", broken.stdout)
    assert "NAG401 ClientCredentialsMissing" in broken.stdout and "client-no-credentials.yaml:" in broken.stdout
    healthy = try_hook(hook_repo, tmp_path / "healthy", "nacos-auth-guard", "healthy.yaml")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert re.search(r"nacos-auth-guard lint\.+Passed", healthy.stdout)


def test_pre_commit_strict_hook_takes_the_files_as_the_whole_namespace(hook_repo, tmp_path):
    result = try_hook(hook_repo, tmp_path, "nacos-auth-guard-strict", "missing-references.yaml")
    assert result.returncode == 1 and "NAG101 SecretNotFound" in result.stdout, result.stdout + result.stderr


def test_the_hooks_lint_yaml_files_together():
    hooks = {hook["id"]: hook for hook in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert set(hooks) == {"nacos-auth-guard", "nacos-auth-guard-strict"}
    for hook in hooks.values():   # one process for all files: a Secret in one file serves a client in another
        assert hook["types"] == ["yaml"] and hook["require_serial"] is True and hook["language"] == "python"


# kubectl plugin

def test_kubectl_finds_and_runs_the_plugin():
    kubectl, plugin = tool("kubectl"), tool("kubectl-nacos_auth")   # the plugin: an entry point of this install
    env = {**os.environ, "PATH": f"{Path(plugin).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    listed = run(kubectl, "plugin", "list", env=env)
    assert plugin in listed.stdout, listed.stdout + listed.stderr
    explained = run(kubectl, "nacos-auth", "explain", "NAG205", env=env)
    assert explained.returncode == 0 and explained.stdout.startswith("NAG205 TokenKeyMismatch")
    usage = run(kubectl, "nacos-auth", "--help", env=env)
    assert usage.stdout.startswith("usage: kubectl nacos-auth ")
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), spring_client(secret_name="missing-creds"))
        scanned = run(kubectl, "nacos-auth", "scan", "-n", NS, "-o", "json",
                      env={**env, "KUBECONFIG": cluster.kubeconfig})
    assert scanned.returncode == 1, scanned.stdout + scanned.stderr
    assert "NAG101" in {f["code"] for f in json.loads(scanned.stdout)["findings"]}


# kustomize component

@pytest.mark.parametrize("install", ["base", "namespaced"])
def test_the_monitoring_component_adds_to_either_install(install, tmp_path):
    command = kustomize()
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    shutil.copytree(ROOT / "crds", tmp_path / "crds")
    overlay = tmp_path / "mine"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(yaml.safe_dump({
        "namespace": "ops", "resources": [f"../deploy/{install}"], "components": ["../deploy/monitoring"]}))
    output = run(*command, str(overlay))
    assert output.returncode == 0, output.stderr
    objects = {(o["kind"], o["metadata"]["name"]): o for o in yaml.safe_load_all(output.stdout) if o}
    monitor = objects["ServiceMonitor", "nacos-auth-guard"]
    service = objects["Service", "nacos-auth-guard-metrics"]
    assert monitor["metadata"]["namespace"] == service["metadata"]["namespace"] == "ops"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    assert {e["port"] for e in monitor["spec"]["endpoints"]} <= {p["name"] for p in service["spec"]["ports"]}
    assert ("PrometheusRule", "nacos-auth-guard") in objects
    dashboard = objects["ConfigMap", "nacos-auth-guard-dashboard"]
    assert dashboard["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert json.loads(dashboard["data"]["dashboard.json"]) == json.loads((MONITORING / "dashboard.json").read_text())


# Prometheus

def rule_groups() -> dict:
    return {"groups": yaml.safe_load((MONITORING / "prometheusrule.yaml").read_text())["spec"]["groups"]}


def test_promtool_checks_the_rules_and_their_alert_tests(tmp_path):
    promtool = tool("promtool")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump(rule_groups()))
    shutil.copy(ROOT / "tests" / "promtool" / "alerts_test.yaml", tmp_path)
    checked = run(promtool, "check", "rules", str(tmp_path / "rules.yaml"))
    assert checked.returncode == 0 and "SUCCESS: 8 rules found" in checked.stdout, checked.stdout + checked.stderr
    tested = run(promtool, "test", "rules", str(tmp_path / "alerts_test.yaml"))
    assert tested.returncode == 0 and "SUCCESS" in tested.stdout, tested.stdout + tested.stderr


def minutes(duration: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([mh])", duration).groups()
    return int(number) * (60 if unit == "h" else 1)


def test_every_alert_has_a_unit_test_that_fires_and_resolves_it():
    tests = yaml.safe_load((ROOT / "tests" / "promtool" / "alerts_test.yaml").read_text())["tests"]
    cases = [{**case, "eval_time": minutes(case["eval_time"])} for test in tests for case in test["alert_rule_test"]]
    for rule in rule_groups()["groups"][0]["rules"]:
        mine = [case for case in cases if case["alertname"] == rule["alert"]]
        assert any(case["exp_alerts"] for case in mine), f"{rule['alert']} never fires in a test"
        last_firing = max(case["eval_time"] for case in mine if case["exp_alerts"])
        assert any(not case["exp_alerts"] and case["eval_time"] > last_firing for case in mine), \
            f"{rule['alert']} never resolves in a test"


@pytest.fixture(scope="module")
def scrape() -> str:
    """/metrics of the real `run` command against the API emulator, once a check is Ready."""
    with Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 3))
        liveness, metrics_port = free_port(), free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "nacos_auth_guard.cli", "run", "-A", "--log-format", "plain",
             "--liveness", f"http://127.0.0.1:{liveness}/healthz", "--metrics-port", str(metrics_port)],
            env={**os.environ, "KUBECONFIG": cluster.kubeconfig}, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            cluster.wait_for(lambda: process.poll() is not None or cluster.condition("nacos", "Ready") == "True",
                             timeout=30, message="Ready=True from the run command")
            with urllib.request.urlopen(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5) as response:
                return response.read().decode()
        finally:
            process.send_signal(signal.SIGTERM)
            process.communicate(timeout=30)


def test_promtool_finds_no_problem_in_a_real_scrape(scrape):
    checked = run(tool("promtool"), "check", "metrics", input=scrape)
    assert checked.returncode == 0 and checked.stdout.strip() == "" and checked.stderr.strip() == "", \
        checked.stdout + checked.stderr


SUFFIXES = re.compile(r"_(total|bucket|count|sum|created)$")


def queried_names(text: str) -> set[str]:
    return set(re.findall(r"\bnacos_auth_guard_[a-z_]+", text))


def test_every_metric_the_rules_dashboard_and_alert_tests_use_is_in_the_scrape(scrape):
    families = set(re.findall(r"^# TYPE (\S+) ", scrape, re.M))
    samples = set(re.findall(r"^(nacos_auth_guard_[a-z_]+)", scrape, re.M))
    used = {
        "rules": queried_names((MONITORING / "prometheusrule.yaml").read_text()),
        "dashboard": queried_names((MONITORING / "dashboard.json").read_text()),
        "alert tests": queried_names((ROOT / "tests" / "promtool" / "alerts_test.yaml").read_text()),
    }
    assert all(used.values())
    for where, names in used.items():
        # a labelled counter shows only its HELP and TYPE lines until it first counts
        unknown = {n for n in names if not {n, SUFFIXES.sub("", n)} & (samples | families)}
        assert not unknown, f"the {where} query metrics the operator does not export: {sorted(unknown)}"
