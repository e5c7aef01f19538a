"""The admission decision: only what a change introduces counts, and enforcement decides how it is answered."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from nacos_auth_guard.admission import decide, with_change
from nacos_auth_guard.snapshot import build_snapshot
from nacos_auth_guard.evaluation import evaluate, parse_spec
from support.objects import (KEY_B, NS, auth_secret, deployment, env, healthy_cluster, pods_of, secret, secret_env,
                             server_env, spring_client, statefulset)

NOW = datetime(2026, 11, 24, 12, tzinfo=timezone.utc)
STARTED = "2026-11-22T10:00:00Z"


def check(enforcement: str) -> dict:
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "nacos", "namespace": NS}, "spec": {"server": {"statefulSetName": "nacos"},
                                                                   "enforcement": enforcement}}


def cluster() -> list[dict]:
    return healthy_cluster() + pods_of(statefulset(), [STARTED] * 3)


def answer(enforcement: str, kind: str, name: str, new: dict | None, objects=None, window: float = 0.0):
    before = build_snapshot(copy.deepcopy(objects or cluster()), complete=True)
    after = with_change(before, kind, NS, name, copy.deepcopy(new), NOW)
    return decide([check(enforcement)], before, after, NOW, object_path="spec.template",
                  settle_window=timedelta(seconds=window))


MISSING_SECRET_CLIENT = spring_client("billing", secret_name="billing-nacos")
NEW_KEY_STS = statefulset(env_list=[e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", KEY_B)
                                    for e in server_env()])


@pytest.mark.parametrize("enforcement,allowed,warned", [("Deny", False, True), ("Warn", True, True),
                                                        ("Audit", True, False)])
def test_new_missing_secret_reference(enforcement, allowed, warned):
    decision = answer(enforcement, "Deployment", "billing", MISSING_SECRET_CLIENT)
    assert decision.allowed is allowed and bool(decision.warnings) is warned
    assert [f.code for f in decision.findings] == ["NAG101"]
    if not allowed:
        assert "NAG101 SecretNotFound" in decision.message and "billing-nacos" in decision.message
    if warned:
        assert decision.warnings[0].startswith("spec.template: NAG101 A referenced Secret does not exist "
                                               "(Deployment/shop/billing). Fix: create Secret billing-nacos")


def test_statefulset_template_with_another_key_than_running_pods():
    decision = answer("Deny", "StatefulSet", "nacos", NEW_KEY_STS)
    assert not decision.allowed and [f.code for f in decision.findings] == ["NAG105", "NAG205"]


def test_deleting_a_secret_in_use():
    decision = answer("Deny", "Secret", "nacos-auth", None)
    assert not decision.allowed and "NAG101" in decision.message


def test_rotating_a_key_running_pods_use_warns_even_under_deny():
    decision = answer("Deny", "Secret", "nacos-auth", auth_secret(key=KEY_B))
    assert decision.allowed and [f.code for f in decision.findings] == ["NAG206"]
    assert "restart all pods" in decision.warnings[0]


def test_unchanged_or_fixing_changes_are_allowed_silently():
    broken = cluster() + [MISSING_SECRET_CLIENT]
    same = copy.deepcopy(MISSING_SECRET_CLIENT)
    same["metadata"]["labels"]["version"] = "2"
    assert answer("Deny", "Deployment", "billing", same, broken).warnings == ()
    assert answer("Deny", "Deployment", "billing", same, broken).allowed
    fixed = spring_client("billing")
    assert answer("Deny", "Deployment", "billing", fixed, broken).allowed
    unrelated = secret("unrelated", {"a": "b"})
    assert answer("Deny", "Secret", "unrelated", unrelated) == answer("Deny", "Secret", "unrelated", None)


def test_no_governing_check_allows():
    before = build_snapshot(cluster(), complete=True)
    after = with_change(before, "Secret", NS, "nacos-auth", None, NOW)
    assert decide([], before, after, NOW, object_path="data").allowed


def test_adding_a_client_that_reads_its_key_from_a_missing_secret_via_env():
    client = spring_client("payments")
    client["spec"]["template"]["spec"]["containers"][0]["env"].append(secret_env("NACOS_ACCESS_TOKEN", "t", "x"))
    decision = answer("Warn", "Deployment", "payments", client)
    assert decision.allowed and any("NAG101" in w for w in decision.warnings)


def _broken(name: str, references: list[tuple[str, str, str, bool | None]]) -> dict:
    """A client of the server whose Nacos settings come from (env name, Secret, key, optional) references."""
    return deployment(name, [env("NACOS_SERVER_ADDR", "nacos-headless.shop.svc.cluster.local:8848")]
                      + [secret_env(variable, secret_name, key, optional)
                         for variable, secret_name, key, optional in references])


U, P, T = "NACOS_USERNAME", "NACOS_PASSWORD", "NACOS_ACCESS_TOKEN"


@pytest.mark.parametrize("before,after,new_codes", [
    # one more reference to a Secret that is already missing: the same problem
    ([(U, "gone", "u", None)], [(U, "gone", "u", None), (P, "gone", "p", None)], []),
    # a reference to another missing Secret on the same Deployment: a new problem
    ([(U, "gone", "u", None)], [(U, "gone", "u", None), (P, "also-gone", "p", None)], ["NAG101"]),
    # a missing key in a Secret that exists, next to an existing missing key: new (another key)
    ([(U, "orders-nacos", "x", None)], [(U, "orders-nacos", "x", None), (P, "orders-nacos", "y", None)],
     ["NAG102"]),
    # an optional reference (warning) made required (error): worse, so it counts
    ([(T, "gone", "t", True)], [(T, "gone", "t", False)], ["NAG101"]),
    # the other way round: better, so it does not
    ([(T, "gone", "t", False)], [(T, "gone", "t", True)], []),
])
def test_what_counts_as_a_new_problem_on_an_already_broken_object(before, after, new_codes):
    existing = _broken("legacy", before)
    broken_before = build_snapshot(cluster() + [existing], complete=True)
    assert evaluate(parse_spec(check("Deny")), broken_before, NOW).findings   # it is broken already
    decision = answer("Deny", "Deployment", "legacy", _broken("legacy", after), cluster() + [existing])
    assert [f.code for f in decision.findings] == new_codes
    assert decision.allowed is (not new_codes)


def _created(at: str) -> dict:
    client = copy.deepcopy(MISSING_SECRET_CLIENT)
    client["metadata"]["creationTimestamp"] = at
    return client


LONG_AGO, MOMENTS_AGO = "2026-11-01T00:00:00Z", "2026-11-24T11:59:55Z"


@pytest.mark.parametrize("objects,new,window,allowed,held", [
    # created now (any creationTimestamp in the body is the apiserver's to set): its Secret may come next
    (None, MISSING_SECRET_CLIENT, 15, True, True),
    (None, _created(LONG_AGO), 15, True, True),
    # no window (--settle-seconds 0): refused at once
    (None, MISSING_SECRET_CLIENT, 0, False, False),
    # an update of a workload created 5 s ago is still in the window; of one created long ago, not
    ("moments", _created(MOMENTS_AGO), 15, True, True),
    ("long ago", _created(LONG_AGO), 15, False, False),
])
def test_the_settle_window_holds_a_missing_secret_of_a_new_workload(objects, new, window, allowed, held):
    existing = {"moments": [_created(MOMENTS_AGO)], "long ago": [_created(LONG_AGO)]}.get(objects, [])
    # the existing workload read another Secret, so the reference to billing-nacos is new in the update
    for item in existing:
        item["spec"]["template"]["spec"]["containers"][0]["env"] = []
    decision = answer("Deny", "Deployment", "billing", new, cluster() + existing, window)
    assert decision.allowed is allowed and [f.code for f in decision.findings] == ["NAG101"]
    [warning] = decision.warnings
    if held:
        assert warning.startswith("spec.template: NAG101 Secret billing-nacos does not exist yet; reported as "
                                  "SecretNotFound if still missing 15 s after the workload was created "
                                  "(Deployment/shop/billing). Fix: create Secret billing-nacos")
    else:
        assert "NAG101 SecretNotFound" in decision.message and "does not exist yet" not in warning


def test_the_settle_window_never_holds_a_secret_deleted_from_under_a_workload():
    objects = cluster()
    [orders] = [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"] == "orders"]
    orders["metadata"]["creationTimestamp"] = MOMENTS_AGO   # young, but its Secret existed
    decision = answer("Deny", "Secret", "orders-nacos", None, objects, window=3600)
    assert not decision.allowed and "NAG101" in decision.message and "orders-nacos" in decision.message
