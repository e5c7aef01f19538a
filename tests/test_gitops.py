"""The GitOps gates in the README agree with the statuses the operator writes: Flux's healthCheckExprs (evaluated
with a CEL interpreter, in Flux's order: inProgress, failed, current) and Argo CD's health.lua."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import celpy
import pytest
import yaml

from nacos_auth_guard.catalog import finding
from nacos_auth_guard.conditions import build_status
from nacos_auth_guard.model import ObjectRef
from test_argocd_health import health

ROOT = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
STS = ObjectRef("StatefulSet", "shop", "nacos")
CLIENT = ObjectRef("Deployment", "shop", "orders")


def readme_health_check_exprs() -> dict:
    section = (ROOT / "README.md").read_text().split("### GitOps", 1)[1].split("\n## ", 1)[0]
    [block] = [b for b in re.findall(r"```yaml\n(.*?)```", section, re.S) if "healthCheckExprs" in b]
    [entry] = yaml.safe_load(block)["healthCheckExprs"]
    assert (entry["apiVersion"], entry["kind"]) == ("nacosguard.io/v1alpha1", "NacosAuthCheck")
    return entry


def flux_status(entry: dict, obj: dict) -> str:
    """Flux evaluates inProgress, then failed, then current; the first true one wins; none: still in progress."""
    environment = celpy.Environment()
    variables = {key: celpy.json_to_cel(value) for key, value in obj.items()}
    for field, verdict in (("inProgress", "InProgress"), ("failed", "Failed"), ("current", "Current")):
        if field in entry and environment.program(environment.compile(entry[field])).evaluate(variables):
            return verdict
    return "InProgress"


def check(generation: int, findings=(), stalled=None) -> dict:
    status = build_status(list(findings), previous=None, generation=generation, now=NOW, servers=3, clients=1,
                          stalled=stalled)
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "nacos", "namespace": "shop", "generation": generation}, "status": status}


def stale_generation() -> dict:
    obj = check(1)
    obj["metadata"]["generation"] = 2   # the spec changed; the operator has not looked yet
    return obj


CASES = {
    "healthy": (check(1), "Current", "Healthy"),
    "warning only": (check(1, [finding("NAG402", CLIENT, address="nacos.elsewhere:8848")]), "Current", "Healthy"),
    "error finding": (check(3, [finding("NAG101", CLIENT, where="env X", name="orders-nacos",
                                        impact="the pod cannot start")]), "Failed", "Degraded"),
    "stalled": (check(1, stalled=("InvalidSpec", "spec.enforcement must be one of Deny, Warn, Audit")), "Failed",
                "Degraded"),
    "spec changed, not checked yet": (stale_generation(), "InProgress", "Progressing"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_flux_and_argo_read_the_operator_status_the_same_way(name):
    obj, flux, argo = CASES[name]
    assert flux_status(readme_health_check_exprs(), obj) == flux
    assert health(obj)["status"] == argo


def test_the_error_case_really_is_ready_false():
    obj = CASES["error finding"][0]
    assert {c["type"]: c["status"] for c in obj["status"]["conditions"]}["Ready"] == "False"
