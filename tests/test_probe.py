"""The live probe's pure part, table-driven: targets and credentials from a snapshot, reading Nacos's answers,
and the findings a run's results add up to."""
from __future__ import annotations

import base64
import json

import pytest

from nacos_auth_guard.evaluation import parse_spec
from nacos_auth_guard.model import Severity
from nacos_auth_guard.probe import (Answer, Api, ClockReading, LoginResult, Outcome, ProbeResults, ReadResult,
                                    classify_read, parse_login, plan_probe, probe_findings, read_answer,
                                    token_expiry)
from nacos_auth_guard.snapshot import build_snapshot
from support.objects import NS, healthy_cluster, pods_of, replica_pods, secret, server_workload, statefulset

STARTED = "2026-11-22T10:00:00Z"


def check_spec(probe: dict | None = None, exclude: list | None = None):
    spec = {"server": {"statefulSetName": "nacos"},
            "probe": {"enabled": True, "credentialsSecretRef": {"name": "nacos-probe"}, **(probe or {})}}
    if exclude:
        spec["exclude"] = exclude
    return parse_spec({"metadata": {"name": "nacos", "namespace": NS}, "spec": spec})


SPEC = check_spec()


# --- answers ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("status,message,outcome", [
    (403, "authorization failed!", Outcome.ACCEPTED),
    (403, "Code: 403, Message: authorization failed!.", Outcome.ACCEPTED),
    (404, "config data not exist", Outcome.ACCEPTED),
    (404, "resource not found", Outcome.ACCEPTED),
    (200, "resource not found", Outcome.ACCEPTED),
    (200, "", Outcome.ACCEPTED),
    (403, "Invalid signature", Outcome.SIGNATURE),
    (403, "Code: 401, Message: Invalid signature.", Outcome.SIGNATURE),
    (403, "token invalid!", Outcome.SIGNATURE),
    (403, "token expired!", Outcome.EXPIRED),
    (403, "Code: 401, Message: token expired!.", Outcome.EXPIRED),
    (403, "user not found!", Outcome.REFUSED),
    (403, "unsupported signature algorithm", Outcome.REFUSED),
    (403, "Invalid server identity key or value, Please make sure set ...", Outcome.REFUSED),
    (404, "No message available", Outcome.REFUSED),      # no such endpoint: says nothing about the token
    (401, "authorization failed!", Outcome.REFUSED),
    (500, "Server failed, x", Outcome.REFUSED),
    (302, "", Outcome.REFUSED),
])
def test_classify_read(status, message, outcome):
    assert classify_read(status, message) is outcome


@pytest.mark.parametrize("body,content_type,described", [
    (b'{"timestamp":"2026-11-24T10:00:00.000+00:00","status":403,"error":"Forbidden","message":"Invalid signature",'
     b'"path":"/nacos/v1/cs/configs"}', "application/json", 'HTTP 403 "Invalid signature"'),
    (b'{"code":20004,"message":"resource not found","data":null}', "application/json", 'HTTP 403 "resource not found"'),
    (b'{"code":403,"message":"access denied","data":"user not found!"}', "application/json",
     'HTTP 403 "user not found!"'),
    (b"user not found!", "text/plain", 'HTTP 403 "user not found!"'),
    (b"config data not exist\n", "text/plain", 'HTTP 403 "config data not exist"'),
    (b"Code: 401, Message: Invalid signature.", "text/plain", 'HTTP 403 "Code: 401, Message: Invalid signature."'),
    (b"<html><body><h1>Whitelabel Error Page</h1><div>There was an unexpected error (type=Forbidden, status=403)."
     b"</div><div>token expired!</div></body></html>", "text/html;charset=UTF-8", 'HTTP 403 "token expired!"'),
    # Anything else: its shape, never its text.
    (b'{"message": ""}', "application/json", "HTTP 403 with a body under 256 bytes of type application/json"),
    (b"user not found! pw-123", "text/plain", "HTTP 403 with a body under 256 bytes of type text/plain"),
    (b"Code: 401, Message: pw-123.", "text/plain", "HTTP 403 with a body under 256 bytes of type text/plain"),
    (b"x" * 500, "text/plain; charset=pw-123", "HTTP 403 with a body under 4 KiB of type text/plain"),
    (b"x" * 70000, "", "HTTP 403 with a body of 64 KiB or more and no content type"),
    (b"\xff\xfe", "text/pw-123", "HTTP 403 with a body under 256 bytes of another content type"),
    (b"", "", "HTTP 403 with an empty body"),
])
def test_read_answer_quotes_only_what_nacos_says(body, content_type, described):
    assert read_answer(403, body, content_type).describe() == described


def token(claims: dict) -> str:
    payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"eyJhbGciOiJIUzI1NiJ9.{payload}.c2ln"


@pytest.mark.parametrize("status,body,ok,ttl,problem", [
    (200, json.dumps({"accessToken": "tok-1", "tokenTtl": 18000, "globalAdmin": False}).encode(), True, 18000, ""),
    (200, json.dumps({"accessToken": "tok-1", "tokenTtl": "300"}).encode(), True, 300, ""),
    (200, json.dumps({"accessToken": "tok-1"}).encode(), True, None, ""),
    (200, json.dumps({"accessToken": "tok-1", "tokenTtl": True}).encode(), True, None, ""),
    (200, json.dumps({"accessToken": ""}).encode(), False, None, "a body without accessToken"),
    (200, b'{"code":0,"data":"Bearer x"}', False, None, "a body without accessToken"),
    (200, b"[]", False, None, "a body without accessToken"),
    (200, b"<html>", False, None, "a body that is not JSON"),
    (403, b"user not found!", False, None, ""),
])
def test_parse_login(status, body, ok, ttl, problem):
    parsed = parse_login(status, body)
    assert (parsed.ok, parsed.ttl, parsed.problem) == (ok, ttl, problem)
    assert (parsed.token == "tok-1") is ok and "tok-1" not in repr(parsed)


@pytest.mark.parametrize("value,exp", [
    (token({"sub": "a", "exp": 1700000000}), 1700000000),
    (token({"sub": "a"}), None),
    (token({"sub": "a", "exp": "1"}), None),
    (token({"sub": "a", "exp": True}), None),
    ("AUTH_DISABLED", None),
    ("a.!!!.c", None),
    ("a." + base64.urlsafe_b64encode(b"[1]").decode() + ".c", None),
])
def test_token_expiry(value, exp):
    assert token_expiry(value) == exp


def test_clock_bounds_cover_truncation_and_latency():
    reading = ClockReading(server=1000, sent=990.2, received=990.7)
    assert reading.offset_bounds == pytest.approx((9.3, 10.8))


# --- what to probe ---------------------------------------------------------------------------------------------------

PROBE_SECRET = secret("nacos-probe", {"username": "nacos-probe", "password": "pw-probe"})


def ready_pods(ips=("10.0.0.10", "10.0.0.11", "10.0.0.12"), ready=(True, True, True), image=None):
    sts = statefulset(image=image) if image else statefulset()
    pods = pods_of(sts, [STARTED] * len(ips))
    for pod, ip, is_ready in zip(pods, ips, ready):
        if ip is not None:
            pod["status"]["podIP"] = ip
        pod["status"]["conditions"] = [{"type": "PodScheduled", "status": "True"},
                                       {"type": "Ready", "status": "True" if is_ready else "False"}]
    return pods


def plan(objects, spec=SPEC):
    return plan_probe(spec, build_snapshot(objects, complete=True))


def test_targets_are_the_ready_pods_ips_and_the_spec_port():
    result = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods(ready=(True, False, True)),
                  check_spec({"port": 8849}))
    assert [(t.pod, t.host, t.port, t.api) for t in result.targets] == [
        ("nacos-0", "10.0.0.10", 8849, Api.V1), ("nacos-2", "10.0.0.12", 8849, Api.V1)]
    assert (result.credentials.username, result.credentials.password) == ("nacos-probe", "pw-probe")
    assert "pw-probe" not in repr(result) and result.problems == ()


def test_only_this_statefulsets_pods():
    other = pods_of(statefulset("other"), [STARTED])[0]
    other["status"].update(podIP="10.0.0.99", conditions=[{"type": "Ready", "status": "True"}])
    result = plan(healthy_cluster() + [PROBE_SECRET, other] + ready_pods())
    assert [t.pod for t in result.targets] == ["nacos-0", "nacos-1", "nacos-2"]


@pytest.mark.parametrize("kind,pods", [
    ("Deployment", ["nacos-5d8f6-x5d8f", "nacos-77c4b-x77c4"]),   # both ReplicaSets of a rollout
    ("ReplicaSet", ["nacos-x5d8f"]),
    ("Pod", ["nacos"]),
])
def test_targets_of_a_server_in_another_workload(kind, pods):
    server = server_workload(kind)
    members = [server] if kind == "Pod" else replica_pods(server, "5d8f6", [STARTED])
    if kind == "Deployment":
        members += replica_pods(server, "77c4b", [STARTED])
    for number, pod in enumerate(members):
        pod.setdefault("status", {}).update(podIP=f"10.0.1.{number + 1}", conditions=[{"type": "Ready", "status": "True"}])
    spec = parse_spec({"metadata": {"name": "nacos", "namespace": NS}, "spec": {
        "server": {"kind": kind, "name": "nacos"}, "probe": {"enabled": True,
                                                            "credentialsSecretRef": {"name": "nacos-probe"}}}})
    result = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods() + ([] if kind == "Pod" else [server]) + members,
                  spec)
    assert [t.pod for t in result.targets] == pods


@pytest.mark.parametrize("image,api", [("nacos/nacos-server:v3.0.1", Api.V3), ("nacos/nacos-server:v2.2.3", Api.V1),
                                       ("nacos/nacos-server:latest", None)])
def test_api_follows_the_pods_image(image, api):
    result = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods(image=image))
    assert {t.api for t in result.targets} == {api}


def test_addresses_must_be_ips():
    result = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods(ips=("fd00::7", "nacos.example.com", None)))
    assert [(t.pod, t.host) for t in result.targets] == [("nacos-0", "fd00::7")]
    assert result.skipped == ("nacos-1", "nacos-2")
    result = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods(ips=("nacos.example.com",)))
    [problem] = result.problems
    assert problem.code == "NAG603" and "pods {nacos-0} are ready but have no valid pod IP" in problem.message


def test_no_ready_pod():
    [problem] = plan(healthy_cluster() + [PROBE_SECRET] + ready_pods(ready=(False, False, False))).problems
    assert (problem.code, problem.severity) == ("NAG603", Severity.WARNING)
    assert "could not check any pod of StatefulSet/shop/nacos: none of its pods is ready" in problem.message


@pytest.mark.parametrize("credentials,problem", [
    (None, "names Secret nacos-probe, which does not exist in namespace shop"),
    (secret("nacos-probe", {"username": "u"}), "reads key 'password' of Secret nacos-probe, which has no such key"),
    (secret("nacos-probe", {"username": "u", "password": ""}), "reads key 'password' of Secret nacos-probe, which is "
                                                               "empty"),
    ({**secret("nacos-probe", {}), "data": {"username": "dQ==", "password": base64.b64encode(b"\xff").decode()}},
     "reads key 'password' of Secret nacos-probe, whose value cannot be read"),
    ({**secret("nacos-probe", {}), "data": {"username": "not base64!", "password": "cA=="}},
     "reads key 'username' of Secret nacos-probe, whose value cannot be read"),
])
def test_credentials_problems(credentials, problem):
    objects = healthy_cluster() + ready_pods() + ([credentials] if credentials else [])
    [finding] = plan(objects).problems
    assert (finding.code, finding.reason, str(finding.obj)) == ("NAG605", "ProbeCredentialsMissing",
                                                                "NacosAuthCheck/shop/nacos")
    assert problem in finding.message and "keys 'username' and 'password'" in finding.message


def test_custom_keys():
    objects = healthy_cluster() + ready_pods() + [secret("nacos-probe", {"user": "u", "pass": "p"})]
    result = plan(objects, check_spec({"credentialsSecretRef": {"name": "nacos-probe", "usernameKey": "user",
                                                                "passwordKey": "pass"}}))
    assert result.problems == () and len(result.targets) == 3


# --- findings --------------------------------------------------------------------------------------------------------

PODS = ("nacos-0", "nacos-1", "nacos-2")
ACCEPTED = Answer(403, "authorization failed!")
SIGNATURE = Answer(403, "Invalid signature")


def results(accepts=lambda issuer, verifier: True, logins=None, unreachable=(), clocks=None, ttl=18000,
            pods=PODS) -> ProbeResults:
    logins = logins or {}
    login_results = tuple(
        LoginResult(pod, False, Answer(None, "connection refused"), reachable=False) if pod in unreachable
        else LoginResult(pod, pod not in logins, logins.get(pod, Answer(200, "")), ttl=ttl if pod not in logins
                         else None) for pod in pods)
    issuers = [r.pod for r in login_results if r.ok]
    reads = []
    for issuer in issuers:
        for verifier in pods:
            if verifier in unreachable:
                continue
            verdict = accepts(issuer, verifier)
            if verdict is True:
                reads.append(ReadResult(issuer, verifier, Outcome.ACCEPTED, ACCEPTED))
            elif verdict is False:
                reads.append(ReadResult(issuer, verifier, Outcome.SIGNATURE, SIGNATURE))
            else:
                reads.append(ReadResult(issuer, verifier, *verdict))
    return ProbeResults(pods, login_results, tuple(reads), clocks or {})


def keys(mapping):
    return lambda issuer, verifier: mapping[issuer] == mapping[verifier]


def clocks(offsets: dict[str, float]) -> dict[str, ClockReading]:
    return {pod: ClockReading(1000 + offset, 999.9, 1000.1) for pod, offset in offsets.items()}


def codes(findings):
    return [(f.code, str(f.severity)) for f in findings]


def test_all_agree():
    assert probe_findings(SPEC, results(clocks=clocks({"nacos-0": 0, "nacos-1": 1, "nacos-2": 0}))) == []


@pytest.mark.parametrize("mapping,groups", [
    ({"nacos-0": "a", "nacos-1": "b", "nacos-2": "a"}, "pods {nacos-0, nacos-2} and {nacos-1}"),
    ({"nacos-0": "a", "nacos-1": "b", "nacos-2": "c"}, "pods {nacos-0} and {nacos-1} and {nacos-2}"),
    ({"nacos-0": "b", "nacos-1": "a", "nacos-2": "a"}, "pods {nacos-0} and {nacos-1, nacos-2}"),
])
def test_pods_with_other_keys_are_grouped(mapping, groups):
    [finding] = probe_findings(SPEC, results(keys(mapping)))
    assert (finding.code, finding.reason, finding.severity) == ("NAG602", "ProbeTokenRejected", Severity.ERROR)
    assert finding.message.startswith(f"{groups} of StatefulSet/shop/nacos reject each other's tokens (")
    assert 'answered HTTP 403 "Invalid signature" to the token from' in finding.message


def test_a_pod_without_a_token_is_grouped_by_what_it_accepts():
    mapping = {"nacos-0": "a", "nacos-1": "a", "nacos-2": "b"}
    found = probe_findings(SPEC, results(keys(mapping), logins={"nacos-2": Answer(403, "user not found!")}))
    assert codes(found) == [("NAG601", "error"), ("NAG602", "error")]
    assert found[1].message.startswith("pods {nacos-0, nacos-1} and {nacos-2} of")


def test_login_failures_quote_the_answer():
    answer = Answer(403, "user not found!")
    [finding] = probe_findings(SPEC, results(logins={pod: answer for pod in PODS}))
    assert (finding.code, finding.reason) == ("NAG601", "ProbeLoginFailed")
    assert ('cannot log in on pods {nacos-0, nacos-1, nacos-2} of StatefulSet/shop/nacos: nacos-0, nacos-1, nacos-2 '
            'answered HTTP 403 "user not found!"') in finding.message
    assert "Secret nacos-probe" in finding.message


def test_different_login_answers_are_listed():
    [finding] = probe_findings(SPEC, results(logins={"nacos-0": Answer(403, "user not found!"),
                                                     "nacos-2": Answer(500, "Server failed, db down")}))
    assert 'nacos-0 answered HTTP 403 "user not found!"; nacos-2 answered HTTP 500 "Server failed, db down"' \
        in finding.message


def test_a_pod_down():
    [finding] = probe_findings(SPEC, results(unreachable=("nacos-1",)))
    assert (finding.code, finding.severity) == ("NAG603", Severity.WARNING)
    assert "could not check pods {nacos-1} of StatefulSet/shop/nacos: nacos-1: connection refused" in finding.message
    assert "port 8848 (http" in finding.message


def test_refused_and_unanswered_reads():
    def verdict(issuer, verifier):
        if verifier == "nacos-1":
            return Outcome.REFUSED, Answer(500, "Over tps control")
        if verifier == "nacos-2":
            return Outcome.UNREACHABLE, Answer(None, "no answer within 5 s")
        return True
    [finding] = probe_findings(SPEC, results(verdict))
    assert finding.code == "NAG603" and "pods {nacos-1, nacos-2}" in finding.message
    assert 'nacos-1: answered HTTP 500 "Over tps control" to the token from nacos-' in finding.message
    assert "nacos-2: no answer within 5 s (with the token from nacos-" in finding.message


def test_own_token_expired_is_not_a_skew():
    def verdict(issuer, verifier):
        return (Outcome.EXPIRED, Answer(403, "token expired!")) if issuer == verifier == "nacos-0" else True
    assert codes(probe_findings(SPEC, results(verdict))) == [("NAG603", "warning")]


def test_a_fresh_token_rejected_as_expired_is_a_clock_error():
    def verdict(issuer, verifier):
        return (Outcome.EXPIRED, Answer(403, "token expired!")) if verifier == "nacos-2" != issuer else True
    [finding] = probe_findings(SPEC, results(verdict, clocks=clocks({"nacos-0": 0, "nacos-1": 0, "nacos-2": 20000})))
    assert (finding.code, finding.reason, finding.severity) == ("NAG604", "ProbeClockSkew", Severity.ERROR)
    assert "nacos-2 is at least 19998 s ahead of nacos-0" in finding.message
    assert "nacos-2 answers 403 token expired! to a token nacos-0 has just issued" in finding.message


@pytest.mark.parametrize("offsets,expected", [
    ({"nacos-0": 0, "nacos-1": 8, "nacos-2": 0}, []),                         # within latency and truncation
    ({"nacos-0": 0, "nacos-1": 13, "nacos-2": 0}, [("NAG604", "warning")]),
    ({"nacos-0": -900, "nacos-1": 0, "nacos-2": 1000}, [("NAG604", "error")]),  # 1900 s > 18000 s / 10
    # NacosClientAuthServiceImpl.java:136-138@2.5.1: clients keep a random reserve of 1/15 to 1/10 of the lifetime.
    ({"nacos-0": 0, "nacos-1": 0, "nacos-2": 1300}, [("NAG604", "error")]),   # 1300 s > 18000 s / 15
    ({"nacos-0": 0, "nacos-1": 0, "nacos-2": 1100}, [("NAG604", "warning")]),
    ({"nacos-0": 0}, []),
])
def test_clock_skew(offsets, expected):
    found = probe_findings(SPEC, results(clocks=clocks(offsets)))
    assert codes(found) == expected
    if expected:
        ahead, behind = max(offsets, key=offsets.get), min(offsets, key=offsets.get)
        assert f"{ahead} is at least" in found[0].message and f"ahead of {behind}" in found[0].message
        assert "(1200 s)" in found[0].message


def test_excluded_codes():
    spec = check_spec(exclude=["NAG603"])
    assert probe_findings(spec, results(unreachable=("nacos-1",))) == []
