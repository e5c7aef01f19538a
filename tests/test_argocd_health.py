"""deploy/argocd/health.lua, run by a real Lua 5.1 (Argo CD's gopher-lua is 5.1) on sample objects."""
from __future__ import annotations

from pathlib import Path

import pytest
from lupa import lua51

SCRIPT = (Path(__file__).resolve().parents[1] / "deploy" / "argocd" / "health.lua").read_text()


def health(obj: dict) -> dict:
    runtime = lua51.LuaRuntime(unpack_returned_tuples=True)

    def to_lua(value):
        if isinstance(value, dict):
            return runtime.table_from({k: to_lua(v) for k, v in value.items()})
        if isinstance(value, list):
            return runtime.table_from([to_lua(v) for v in value])
        return value

    runtime.globals().obj = to_lua(obj)
    result = runtime.execute(SCRIPT)
    return {"status": result["status"], "message": result["message"]}


def check(conditions=None, generation=1, observed=1) -> dict:
    obj = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
           "metadata": {"name": "nacos", "generation": generation}}
    if conditions is not None:
        obj["status"] = {"observedGeneration": observed, "conditions": conditions}
    return obj


def ready(status: str, reason: str = "AllChecksPassed", message: str = "Every check passed.") -> dict:
    return {"type": "Ready", "status": status, "reason": reason, "message": message}


@pytest.mark.parametrize("obj,expected", [
    (check([ready("True")]), "Healthy"),
    (check([{"type": "Stalled", "status": "False"}, ready("False", "TokenKeyMismatch", "pods differ")]), "Degraded"),
    (check([ready("Unknown", "Checking", "...")]), "Progressing"),
    (check(), "Progressing"),
    (check([ready("True")], generation=3, observed=2), "Progressing"),
    (check([{"type": "TokenKeyValid", "status": "True"}]), "Progressing"),
])
def test_health(obj, expected):
    assert health(obj)["status"] == expected


def test_message_carries_reason():
    assert health(check([ready("False", "SecretNotFound", "Secret x is missing")]))["message"] == \
        "SecretNotFound: Secret x is missing"
