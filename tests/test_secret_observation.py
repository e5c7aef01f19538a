"""When the operator knows a Secret key's value changed (the stale-key check compares it with container start times):
only once it saw the value itself change, dated by the API's managedFields time of that write when it is newer than
the one seen before, else by its own clock. On first sight it knows only the write time (`written_at`): a label edit
by the same manager moves that too."""
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

# Each case: observations as (value, managedFields time) and the value change the last one knows (None: none).
CASES = {
    "first sight: no change known": ([("a", T0)], None),
    "first sight without managedFields: unknown": ([("a", None)], None),
    "same value, newer API time (a label edit)": ([("a", T0), ("a", T1)], None),
    "same value, several metadata edits": ([("a", T0), ("a", T1), ("a", T2)], None),
    "new value, newer API time: the API's": ([("a", T0), ("b", T1)], T1),
    "label edit, then a new value: the new value's": ([("a", T0), ("a", T1), ("b", T2)], T2),
    "new value, API time not newer: the operator's clock": ([("a", T1), ("b", T1)], NOW),
    "new value without managedFields: the operator's clock": ([("a", None), ("b", None)], NOW),
    "new value, then unchanged: stays": ([("a", T0), ("b", T1), ("b", T2)], T1),
    "new value, then a label edit: stays": ([("a", T0), ("b", T1), ("b", T2), ("b", T2)], T1),
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


def test_first_sight_keeps_the_write_time_apart_and_a_later_metadata_edit_does_not_move_it():
    data = handlers._observe_secret("ns", "auth", secret("a", T0))
    assert (data.changed_at, data.written_at) == ({}, {"token": at(T0)})
    data = handlers._observe_secret("ns", "auth", secret("a", T1))   # same value: a label edit
    assert (data.changed_at, data.written_at) == ({}, {"token": at(T0)})
    data = handlers._observe_secret("ns", "auth", secret("b", T2))
    assert (data.changed_at, data.written_at) == ({"token": at(T2)}, {"token": at(T2)})


# A change recorded in a NacosAuthCheck's status before a restart: (managedFields time now, recorded change, known).
RECALL = {
    "not written since: known again": (T1, T1, True),
    "written before the recorded change (clock): known": (T0, T1, True),
    "written since (maybe a label edit, maybe another change): not known": (T2, T1, False),
    "no managedFields: known": (None, T1, True),
}


@pytest.mark.parametrize("written, recorded, known", RECALL.values(), ids=RECALL.keys())
def test_a_recorded_change_is_recalled_after_a_restart(written, recorded, known):
    data = handlers._observe_secret("ns", "auth", secret("b", written))
    handlers._recall_key_change("ns", "auth", "token", at(recorded), data)
    assert data.changed_at == ({"token": at(recorded)} if known else {})
    again = handlers._observe_secret("ns", "auth", secret("b", written))   # the next event keeps what is known
    assert again.changed_at == data.changed_at
