"""The probe's HTTP against the Nacos auth emulator (pods on 127.0.0.1, one port each): the root causes only a live
probe sees, and the limits it keeps whatever the servers do."""
from __future__ import annotations

import base64
import json
import logging
import time
from datetime import datetime, timezone

import pytest

from nacos_auth_guard.conditions import build_status
from nacos_auth_guard.evaluation import parse_spec
from nacos_auth_guard.model import Severity
from nacos_auth_guard.probe import USER_AGENT, Api, Credentials, probe_findings
from nacos_auth_guard.probe_client import run_probe
from support import canary
from support.nacos_emulator import NacosEmulator, Node

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
USERS = {"nacos-probe": "pw-probe-1"}
CREDENTIALS = Credentials("nacos-probe", "pw-probe-1")
SPEC = parse_spec({"metadata": {"name": "nacos", "namespace": "shop"}, "spec": {
    "server": {"statefulSetName": "nacos"}, "probe": {"enabled": True, "credentialsSecretRef": {"name": "nacos-probe"},
                                                      "timeoutSeconds": 2}}})


def cluster(**overrides: Node) -> dict[str, Node]:
    nodes = {f"nacos-{i}": Node(KEY, dict(USERS)) for i in range(3)}
    nodes.update(overrides)
    return nodes


async def probe(nodes: dict[str, Node], credentials: Credentials = CREDENTIALS, **options):
    with NacosEmulator(nodes) as emulator:
        started = time.monotonic()
        results = await run_probe(emulator.targets(options.pop("api", None)), credentials,
                                  **{"timeout": 2.0, **options})
        emulator.elapsed = time.monotonic() - started
        return probe_findings(SPEC, results), results, emulator


def codes(findings) -> list[str]:
    return [f.code for f in findings]


@pytest.mark.asyncio
async def test_all_agree():
    findings, results, emulator = await probe(cluster())
    assert findings == []
    assert [s.logins for s in emulator.stats.values()] == [1, 1, 1]
    assert [s.reads for s in emulator.stats.values()] == [3, 3, 3]   # every pod's token on every pod
    assert set(results.clocks) == {"nacos-0", "nacos-1", "nacos-2"}
    assert results.requests == 3 * 2 + 9   # versions unknown: each 2.x login tried v3 first


@pytest.mark.asyncio
async def test_one_pod_with_another_key():
    findings, _, _ = await probe(cluster(**{"nacos-1": Node(OTHER_KEY, dict(USERS))}))
    [finding] = findings
    assert (finding.code, finding.reason) == ("NAG602", "ProbeTokenRejected")
    assert finding.message.startswith("pods {nacos-0, nacos-2} and {nacos-1} of StatefulSet/shop/nacos reject each "
                                      "other's tokens (nacos-0 answered HTTP 403 \"Invalid signature\" to the token "
                                      "from nacos-1)")


@pytest.mark.asyncio
async def test_user_missing():
    findings, _, emulator = await probe({f"nacos-{i}": Node(KEY, {"admin": "x"}) for i in range(3)})
    [finding] = findings
    assert (finding.code, finding.reason, finding.severity) == ("NAG601", "ProbeLoginFailed", Severity.ERROR)
    assert 'nacos-0, nacos-1, nacos-2 answered HTTP 403 "user not found!"' in finding.message
    assert sum(s.reads for s in emulator.stats.values()) == 0   # no token, nothing to present


@pytest.mark.asyncio
async def test_wrong_password_quotes_the_server_not_the_password():
    wrong = Credentials("nacos-probe", "pw-probe-WRONG")
    findings, results, _ = await probe(cluster(**{"nacos-2": Node(KEY, dict(USERS), version=3)}), wrong)
    [finding] = findings
    assert finding.code == "NAG601" and "pw-probe" not in finding.message + repr(results)
    assert ('nacos-0, nacos-1 answered HTTP 403 "user not found!"; nacos-2 answered HTTP 403 "User not found! '
            'Please check user exist or password is right!"') in finding.message


@pytest.mark.asyncio
async def test_one_pod_down():
    findings, _, emulator = await probe(cluster(**{"nacos-2": Node(KEY, dict(USERS), down=True)}))
    [finding] = findings
    assert (finding.code, finding.severity) == ("NAG603", Severity.WARNING)
    assert "could not check pods {nacos-2} of StatefulSet/shop/nacos: nacos-2: connection refused" in finding.message
    assert [emulator.stats[p].reads for p in ("nacos-0", "nacos-1")] == [2, 2]   # nobody sends more to nacos-2


@pytest.mark.asyncio
async def test_clock_skew_warning():
    findings, _, _ = await probe(cluster(**{"nacos-1": Node(KEY, dict(USERS), clock_offset=60)}))
    [finding] = findings
    assert (finding.code, finding.reason, finding.severity) == ("NAG604", "ProbeClockSkew", Severity.WARNING)
    assert "nacos-1 is at least 5" in finding.message and "s ahead of nacos-" in finding.message


@pytest.mark.asyncio
async def test_clock_skew_beyond_the_token_lifetime():
    findings, _, _ = await probe(cluster(**{"nacos-2": Node(KEY, dict(USERS), clock_offset=20000)}))
    [finding] = findings
    assert (finding.code, finding.severity) == ("NAG604", Severity.ERROR)
    assert "nacos-2 answers 403 token expired! to a token nacos-0 has just issued" in finding.message


@pytest.mark.asyncio
async def test_timeout_is_per_request_and_not_retried():
    findings, _, emulator = await probe(cluster(**{"nacos-1": Node(KEY, dict(USERS), delay=3)}), timeout=0.3,
                                        api=Api.V1)
    assert emulator.elapsed < 1.5
    [finding] = findings
    assert finding.code == "NAG603" and "nacos-1: no answer within 0.3 s" in finding.message
    assert emulator.stats["nacos-1"].requests == [("POST", "/nacos/v1/auth/login")]   # no retry, no reads


@pytest.mark.asyncio
async def test_concurrency_is_bounded():
    nodes = {f"nacos-{i}": Node(KEY, dict(USERS), delay=0.05) for i in range(6)}
    findings, results, emulator = await probe(nodes, concurrency=2, api=Api.V1)
    assert findings == [] and len(results.reads) == 36
    assert emulator.total.max_in_flight == 2


@pytest.mark.asyncio
async def test_versions_and_endpoints():
    nodes = cluster(**{"nacos-1": Node(KEY, dict(USERS), version=3)})
    findings, _, emulator = await probe(nodes)   # versions unknown: v3 login first, v1 on 404
    assert findings == []
    v2, v3 = emulator.stats["nacos-0"].requests, emulator.stats["nacos-1"].requests
    assert [r for r in v2 if r[0] == "POST"] == [("POST", "/nacos/v3/auth/user/login"),
                                                 ("POST", "/nacos/v1/auth/login")]
    assert [r for r in v3 if r[0] == "POST"] == [("POST", "/nacos/v3/auth/user/login")]
    assert {path.split("?")[0] for method, path in v3 if method == "GET"} == {"/nacos/v3/client/cs/config"}
    assert {path.split("?")[0] for method, path in v2 if method == "GET"} == {"/nacos/v1/cs/configs"}
    findings, _, emulator = await probe(cluster(), api=Api.V1)   # versions known from the image: no detour
    assert all(path == "/nacos/v1/auth/login" for s in emulator.stats.values() for m, path in s.requests if m == "POST")


@pytest.mark.asyncio
async def test_requests_carry_no_identity_no_secret_in_urls(monkeypatch):
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")    # proxies from the environment are not used
    findings, _, emulator = await probe(cluster())
    assert findings == []
    for stats in emulator.stats.values():
        assert stats.identity_headers == 0 and stats.user_agents == {USER_AGENT}
        assert not any("pw-probe" in path or "eyJ" in path or "accessToken" in path for _, path in stats.requests)


@pytest.mark.asyncio
async def test_redirects_are_not_followed():
    nodes = cluster()
    with NacosEmulator({"elsewhere": Node(KEY, dict(USERS))}) as elsewhere:
        nodes["nacos-1"] = Node(KEY, dict(USERS), redirect_to=f"http://127.0.0.1:{elsewhere.ports['elsewhere']}/x")
        findings, _, _ = await probe(nodes, api=Api.V1)
        assert elsewhere.stats["elsewhere"].requests == []
    assert codes(findings) == ["NAG601", "NAG603"]
    assert 'nacos-1 answered HTTP 307' in findings[0].message


@pytest.mark.asyncio
async def test_https_to_a_plain_server_fails_cleanly():
    findings, _, _ = await probe(cluster(), scheme="https", api=Api.V1)
    [finding] = findings
    assert finding.code == "NAG603" and "pods {nacos-0, nacos-1, nacos-2}" in finding.message


@pytest.mark.asyncio
async def test_no_secret_in_any_output(caplog):
    """Canary password, keys and the tokens they sign: none of them, nor an encoding or hash, in findings, status,
    results or logs at DEBUG."""
    caplog.set_level(logging.DEBUG)
    users = {"nacos-probe": canary.PASSWORD}
    nodes = {"nacos-0": Node(base64.b64decode(canary.TOKEN_KEY), users),
             "nacos-1": Node(base64.b64decode(canary.OTHER_KEY), users, version=3),
             "nacos-2": Node(base64.b64decode(canary.TOKEN_KEY), {},
                             echo_password=lambda value: f"bad password {value}"),
             "nacos-3": Node(base64.b64decode(canary.TOKEN_KEY), users, clock_offset=25000)}
    with NacosEmulator(nodes) as emulator:
        results = await run_probe(emulator.targets(), Credentials("nacos-probe", canary.PASSWORD), timeout=2)
        issued = emulator.issued()
    findings = probe_findings(SPEC, results)
    assert {"NAG601", "NAG602", "NAG604"} <= set(codes(findings)), codes(findings)   # every path was taken
    assert len(issued) == 3
    status = build_status(findings, previous=None, generation=1, now=datetime.now(timezone.utc), servers=4,
                          clients=0)
    outputs = {"findings": "\n".join(f.message for f in findings), "status": json.dumps(status),
               "results": repr(results), "logs": caplog.text}
    forbidden = set().union(*(canary.forbidden_forms(token) for token in issued))
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
        leaks = [form for form in forbidden if form in text]
        assert not leaks, f"{where} leaks an issued token"
    # nacos-2 quoted the password: only the shape of its answer is shown.
    assert "nacos-2 answered HTTP 403 with a body under 256 bytes of type text/plain" in outputs["findings"]


@pytest.mark.asyncio
@pytest.mark.parametrize("mangle", list(canary.MANGLERS.values()), ids=list(canary.MANGLERS))
async def test_no_mangled_copy_of_a_secret_in_any_output(caplog, mangle):
    """A server that echoes the password (login) or the token (read) cut off, escaped, case-changed, spread out,
    Base64-encoded or masked: findings, status, results and logs show the answer's shape, never its text."""
    caplog.set_level(logging.DEBUG)
    users = {"nacos-probe": canary.PASSWORD}
    nodes = {"nacos-0": Node(base64.b64decode(canary.TOKEN_KEY), {}, echo_password=mangle),   # login fails: echoes it
             "nacos-1": Node(base64.b64decode(canary.TOKEN_KEY), users, echo_token=mangle)}      # reads echo the token
    with NacosEmulator(nodes) as emulator:
        results = await run_probe(emulator.targets(), Credentials("nacos-probe", canary.PASSWORD), timeout=2)
        issued = emulator.issued()
    findings = probe_findings(SPEC, results)
    assert {"NAG601", "NAG603"} <= set(codes(findings)), codes(findings)   # both echoing paths were taken
    status = build_status(findings, previous=None, generation=1, now=datetime.now(timezone.utc), servers=2,
                          clients=0)
    outputs = {"findings": "\n".join(f.message for f in findings), "status": json.dumps(status),
               "results": repr(results), "logs": caplog.text}
    forbidden = set().union(*(canary.mangled_forms(secret) | canary.forbidden_forms(secret)
                              for secret in (canary.PASSWORD, *issued)))
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
        leaks = [form for form in forbidden if form in text]
        assert not leaks, f"{where} holds a mangled copy of a secret, e.g. {leaks[0][:6]}..."
    assert "answered HTTP 403 with a body" in outputs["findings"]
