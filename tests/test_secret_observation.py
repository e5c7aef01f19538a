"""When the operator dates a Secret key's last change (the stale-key check compares it with container start times):
the API's managedFields time on first sight, and afterwards only when the value itself changed."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import pytest

from nacos_auth_guard.kube import handlers

T0, T1, T2 = "2026-11-20T10:00:00Z", "2026-11-21T10:00:00Z", "2026-11-22T10:00:00Z"


def at(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)


def secret(value: str, managed_time: str | None) -> dict:
    metadata: dict = {"name": "auth", "namespace": "ns"}
    if managed_time:
        metadata["managedFields"] = [{"manager": "helm", "operation": "Update", "time": managed_time,
                                      "fieldsType": "FieldsV1", "fieldsV1": {"f:data": {"f:token": {}}}}]
    return {"kind": "Secret", "metadata": metadata, "type": "Opaque",
            "data": {"token": base64.b64encode(value.encode()).decode()}}


NOW = "now"   # the operator's own clock at the observation

# Each case: observations as (value, managedFields time) and the change time the last one reports.
CASES = {
    "first sight: the API's time": ([("a", T0)], T0),
    "first sight without managedFields: unknown": ([("a", None)], None),
    "same value, newer API time (a label edit)": ([("a", T0), ("a", T1)], T0),
    "same value, several metadata edits": ([("a", T0), ("a", T1), ("a", T2)], T0),
    "new value, newer API time: the API's": ([("a", T0), ("b", T1)], T1),
    "label edit, then a new value: the new value's": ([("a", T0), ("a", T1), ("b", T2)], T2),
    "new value, API time not newer: the operator's clock": ([("a", T1), ("b", T1)], NOW),
    "new value without managedFields: the operator's clock": ([("a", None), ("b", None)], NOW),
    "new value, then unchanged: stays": ([("a", T0), ("b", T1), ("b", T2)], T1),
}


@pytest.fixture(autouse=True)
def fresh_memory():
    handlers._secret_digests.clear()
    yield
    handlers._secret_digests.clear()


@pytest.mark.parametrize("observations, expected", CASES.values(), ids=CASES.keys())
def test_change_time_of_a_key(observations, expected):
    before = datetime.now(timezone.utc)
    for value, managed_time in observations:
        data = handlers._observe_secret("ns", "auth", secret(value, managed_time))
    changed = data.changed_at.get("token")
    if expected is None:
        assert changed is None
    elif expected == NOW:
        assert before <= changed <= datetime.now(timezone.utc)
    else:
        assert changed == at(expected)


def test_the_memory_holds_no_value():
    handlers._observe_secret("ns", "auth", secret("canary-value-123", T0))
    assert "canary-value-123" not in repr(handlers._secret_digests)
