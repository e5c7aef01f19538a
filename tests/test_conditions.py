"""Findings -> status: kstatus conditions, transitions, bounds."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from nacos_auth_guard.catalog import finding
from nacos_auth_guard.conditions import MAX_FINDINGS, build_status, finding_keys, same_status
from nacos_auth_guard.model import ObjectRef, Severity

T0 = datetime(2026, 11, 24, 10, 0, tzinfo=timezone.utc)
STS = ObjectRef("StatefulSet", "shop", "nacos")
APP = ObjectRef("Deployment", "shop", "orders")
RESTART = "kubectl rollout restart statefulset/nacos -n shop"
MISMATCH = finding("NAG205", STS, cluster=STS, groups="pods {nacos-0} and {nacos-1}", error="Invalid signature",
                   restart=RESTART)
NO_CREDS = finding("NAG401", APP, cluster=STS, server=str(STS), error="user not found!")
PLAINTEXT = finding("NAG105", APP, setting="The Nacos password", where="env X", origin="workload")
UNKNOWN = finding("NAG402", APP, address="nacos.other")


def conditions(status: dict) -> dict:
    return {c["type"]: c for c in status["conditions"]}


def status_for(findings, previous=None, now=T0, **kwargs):
    return build_status(findings, previous=previous, generation=3, now=now, servers=3, clients=1, **kwargs)


def test_healthy():
    status = status_for([])
    ready = conditions(status)["Ready"]
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == ("True", "AllChecksPassed", 3)
    assert conditions(status)["Stalled"]["status"] == "False"
    assert conditions(status)["Reconciling"]["status"] == "False"
    assert all(c["status"] == "True" for t, c in conditions(status).items() if t not in ("Stalled", "Reconciling"))
    assert status["observedGeneration"] == 3 and status["problems"] == 0


def test_error_sets_ready_false_and_its_concern():
    status = status_for([MISMATCH, NO_CREDS, UNKNOWN])
    by_type = conditions(status)
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "TokenKeyMismatch")
    assert "(and 1 more)" in by_type["Ready"]["message"]
    assert by_type["TokenKeyConsistent"]["reason"] == "TokenKeyMismatch"
    assert by_type["ClientsConfigured"]["status"] == "False"
    assert by_type["SecretsResolved"]["status"] == "True"
    assert status["summary"] == {"errors": 2, "warnings": 0, "infos": 1} and status["problems"] == 2


def test_warnings_keep_ready_true_but_show_in_their_concern():
    by_type = conditions(status_for([PLAINTEXT]))
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("True", "PassedWithWarnings")
    assert (by_type["SecretsResolved"]["status"], by_type["SecretsResolved"]["reason"]) == ("False",
                                                                                             "PlaintextCredential")


def test_transition_time_changes_only_on_flip():
    first = status_for([MISMATCH])
    later = status_for([MISMATCH], previous=first, now=T0 + timedelta(minutes=5))
    assert conditions(later)["Ready"]["lastTransitionTime"] == "2026-11-24T10:00:00Z"
    assert same_status(first, later)
    fixed = status_for([], previous=later, now=T0 + timedelta(minutes=9))
    assert conditions(fixed)["Ready"]["lastTransitionTime"] == "2026-11-24T10:09:00Z"
    assert conditions(fixed)["SecretsResolved"]["lastTransitionTime"] == "2026-11-24T10:00:00Z"
    assert not same_status(later, fixed)


def test_stalled_when_server_missing_or_spec_invalid():
    missing = finding("NAG001", ObjectRef("NacosAuthCheck", "shop", "main"), check="main", server_kind="StatefulSet", server="nacos")
    by_type = conditions(status_for([missing]))
    assert (by_type["Stalled"]["status"], by_type["Stalled"]["reason"]) == ("True", "ServerNotFound")
    assert (by_type["Ready"]["status"], by_type["Ready"]["reason"]) == ("False", "ServerNotFound")
    by_type = conditions(status_for([], stalled=("InvalidSpec", "spec.enforcement must be ...")))
    assert by_type["Ready"]["reason"] == "InvalidSpec" and by_type["Stalled"]["status"] == "True"


def test_findings_are_bounded_and_most_severe_first():
    many = [finding("NAG402", ObjectRef("Deployment", "shop", f"app-{i}"), address="x") for i in range(80)]
    status = status_for(many + [MISMATCH])
    assert len(status["findings"]) == MAX_FINDINGS and status["findingsTotal"] == 81
    assert status["findings"][0]["code"] == "NAG205"
    assert ("NAG205", "StatefulSet/shop/nacos") in finding_keys(status)


def test_messages_fit_the_api_limits():
    long = finding("NAG205", STS, cluster=STS, groups="pods {" + ", ".join(f"nacos-{i}" for i in range(400)) + "}",
                   error="Invalid signature", restart=RESTART)
    status = status_for([long])
    assert all(len(c["message"]) <= 1024 for c in status["conditions"])
    assert all(len(f["message"]) <= 1024 for f in status["findings"])
    assert Severity.ERROR > Severity.WARNING


def test_pending_concern_is_unknown_until_a_finding_says_otherwise():
    from nacos_auth_guard.catalog import CONCERNS, PROBE_SUCCEEDED
    concerns = (*CONCERNS, PROBE_SUCCEEDED)
    pending = {PROBE_SUCCEEDED: ("ProbePending", "The first probe run has not finished yet.")}
    probe = conditions(status_for([], concerns=concerns, pending=pending))[PROBE_SUCCEEDED]
    assert (probe["status"], probe["reason"]) == ("Unknown", "ProbePending")
    assert conditions(status_for([], concerns=concerns, pending=pending))["Ready"]["status"] == "True"
    login = finding("NAG601", STS, cluster=STS, secret="p", pods="pods {nacos-0}", detail="x", username_key="u",
                    password_key="w")
    probe = conditions(status_for([login], concerns=concerns, pending=pending))[PROBE_SUCCEEDED]
    assert (probe["status"], probe["reason"]) == ("False", "ProbeLoginFailed")
    assert PROBE_SUCCEEDED not in conditions(status_for([]))
