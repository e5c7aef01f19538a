"""A NacosAuthCheck evaluated against a snapshot: spec validation, scoping to its server and clients."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from nacos_auth_guard.evaluation import InvalidSpec, evaluate, parse_spec, selects, settle
from nacos_auth_guard.model import ObjectRef
from nacos_auth_guard.snapshot import build_snapshot
from support.objects import NS, deployment, env, healthy_cluster, secret, service, spring_client, statefulset

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)


def check(spec: dict, name: str = "nacos") -> dict:
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": name, "namespace": NS, "generation": 2}, "spec": spec}


@pytest.mark.parametrize("spec,error", [
    ({}, "statefulSetName"),
    ({"server": {"statefulSetName": ""}}, "statefulSetName"),
    ({"server": {"statefulSetName": "nacos"}, "enforcement": "Block"}, "enforcement"),
    ({"server": {"statefulSetName": "nacos"}, "exclude": ["NAG999"]}, "exclude"),
    ({"server": {"statefulSetName": "nacos"}, "clients": {"selector": {"matchLabels": {"a": 1}}}}, "selector"),
    ({"server": {"statefulSetName": "nacos"}, "tokenExpiryWarningDays": "7"}, "tokenExpiryWarningDays"),
    ({"server": "nacos"}, "statefulSetName"),
])
def test_invalid_specs_are_explained(spec, error):
    with pytest.raises(InvalidSpec, match=error):
        parse_spec(check(spec))


def test_valid_spec_defaults():
    spec = parse_spec(check({"server": {"statefulSetName": "nacos"}, "exclude": ["nag105"]}))
    assert (spec.enforcement, spec.exclude, spec.token_warning_days, spec.generation) == ("Warn", ("NAG105",), 7, 2)


@pytest.mark.parametrize("selector,labels,expected", [
    ({}, {"a": "1"}, True),
    ({"matchLabels": {"team": "shop"}}, {"team": "shop"}, True),
    ({"matchLabels": {"team": "shop"}}, {"team": "ops"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "In", "values": ["web", "api"]}]}, {"tier": "api"}, True),
    ({"matchExpressions": [{"key": "tier", "operator": "NotIn", "values": ["web"]}]}, {"tier": "web"}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "Exists"}]}, {}, False),
    ({"matchExpressions": [{"key": "tier", "operator": "DoesNotExist"}]}, {}, True),
])
def test_label_selectors(selector, labels, expected):
    assert selects(selector, labels) is expected


def two_clusters() -> list[dict]:
    no_creds = deployment("billing", [env("NACOS_SERVER_ADDR", "nacos-headless:8848")])
    other = statefulset("other", env_list=[env("NACOS_AUTH_ENABLE", "true")])
    return healthy_cluster() + [no_creds, other, service("other-headless", {"app": "other"})]


def test_findings_are_scoped_to_the_checks_server():
    snapshot = build_snapshot(two_clusters(), complete=True)
    result = evaluate(parse_spec(check({"server": {"statefulSetName": "nacos"}})), snapshot, NOW)
    assert [(f.code, f.obj.name) for f in result.findings] == [("NAG401", "billing")]
    assert (result.servers, result.clients, result.stalled) == (1, 2, None)
    assert ("Secret", NS, "nacos-auth") in result.dependencies and ("Secret", NS, "orders-nacos") in result.dependencies
    other = evaluate(parse_spec(check({"server": {"statefulSetName": "other"}}, "other")), snapshot, NOW)
    assert sorted(f.code for f in other.findings) == ["NAG201", "NAG301"] and other.clients == 0


def test_client_selector_and_exclude():
    snapshot = build_snapshot(two_clusters(), complete=True)
    selected = {"server": {"statefulSetName": "nacos"}, "clients": {"selector": {"matchLabels": {"app": "orders"}}}}
    assert evaluate(parse_spec(check(selected)), snapshot, NOW).findings == []
    excluded = {"server": {"statefulSetName": "nacos"}, "exclude": ["NAG401"]}
    assert evaluate(parse_spec(check(excluded)), snapshot, NOW).findings == []


def test_missing_statefulset_stalls():
    snapshot = build_snapshot(healthy_cluster(), complete=True)
    result = evaluate(parse_spec(check({"server": {"statefulSetName": "nacos-prod"}})), snapshot, NOW)
    assert [f.code for f in result.findings] == ["NAG001"] and result.stalled[0] == "ServerNotFound"


def test_a_statefulset_named_by_a_check_is_a_server_whatever_it_runs():
    custom = statefulset("registry", image="corp/registry:7", env_list=[env("REGISTRY_AUTH", "on")])
    snapshot = build_snapshot([custom, spring_client(server="registry:8848")], complete=True)
    result = evaluate(parse_spec(check({"server": {"statefulSetName": "registry"}})), snapshot, NOW)
    assert result.stalled is None


PROBE = {"server": {"statefulSetName": "nacos"}}


@pytest.mark.parametrize("probe,error", [
    ("on", "spec.probe must be an object"),
    ({"enabled": "true"}, "spec.probe.enabled"),
    ({"enabled": True}, "credentialsSecretRef.name"),
    ({"enabled": True, "credentialsSecretRef": "nacos-probe"}, "credentialsSecretRef must be an object"),
    ({"enabled": True, "credentialsSecretRef": {"name": ""}}, "credentialsSecretRef.name"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p", "passwordKey": 1}}, "passwordKey"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "intervalSeconds": 29}, "intervalSeconds"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "intervalSeconds": True}, "intervalSeconds"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "timeoutSeconds": 0}, "timeoutSeconds"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "port": 70000}, "port"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "scheme": "ftp"}, "scheme"),
    ({"enabled": False, "port": "8848"}, "port"),   # validated even while off, as the CRD does
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "clients": True}, "spec.probe.clients must be an object"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "clients": {"enabled": 1}}, "spec.probe.clients.enabled"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "clients": {"enabled": True, "intervalSeconds": 59}},
     "spec.probe.clients.intervalSeconds must be a whole number from 60"),
    ({"clients": {"enabled": True}}, "spec.probe.clients.enabled needs spec.probe.enabled"),
])
def test_invalid_probe_specs_are_explained(probe, error):
    with pytest.raises(InvalidSpec, match=error):
        parse_spec(check({**PROBE, "probe": probe}))


def test_probe_spec():
    assert parse_spec(check(PROBE)).probe is None
    assert parse_spec(check({**PROBE, "probe": {"enabled": False, "credentialsSecretRef": {"name": "p"}}})).probe is None
    probe = parse_spec(check({**PROBE, "probe": {"enabled": True, "credentialsSecretRef": {"name": "p"}}})).probe
    assert (probe.secret, probe.username_key, probe.password_key, probe.interval, probe.timeout, probe.port,
            probe.scheme) == ("p", "username", "password", 300, 5, 8848, "http")
    probe = parse_spec(check({**PROBE, "probe": {
        "enabled": True, "credentialsSecretRef": {"name": "p", "usernameKey": "u", "passwordKey": "w"},
        "intervalSeconds": 30, "timeoutSeconds": 60, "port": 8080, "scheme": "https"}})).probe
    assert (probe.username_key, probe.password_key, probe.interval, probe.timeout, probe.port, probe.scheme) == (
        "u", "w", 30, 60, 8080, "https")
    assert probe.clients_interval is None
    for clients, interval in (({"enabled": True}, 3600), ({"enabled": True, "intervalSeconds": 60}, 60),
                              ({"enabled": False, "intervalSeconds": 60}, None)):
        probe = parse_spec(check({**PROBE, "probe": {"enabled": True, "credentialsSecretRef": {"name": "p"},
                                                     "clients": clients}})).probe
        assert probe.clients_interval == interval


WINDOW = timedelta(seconds=15)
ORDERS_SECRET = ObjectRef("Secret", NS, "orders-nacos")


def _created(obj: dict, at: datetime | None) -> dict:
    if at is not None:
        obj["metadata"]["creationTimestamp"] = f"{at:%Y-%m-%dT%H:%M:%SZ}"
    return obj


# Each case: the client Deployment's age (None: no creationTimestamp), whether its Secret was seen before,
# and whether its NAG101 is held back.
@pytest.mark.parametrize("age,existed,held", [
    (timedelta(seconds=2), False, True),      # applied moments before its Secret: wait
    (timedelta(seconds=14), False, True),
    (timedelta(seconds=15), False, False),    # the window is over: still missing, so reported
    (timedelta(days=3), False, False),        # an old workload: its Secret is missing, not late
    (timedelta(seconds=2), True, False),      # the Secret was there and is gone: deleted from under it
    (None, False, False),                     # no creation time known: nothing to wait for
], ids=["2s", "14s", "15s", "3d", "deleted", "no-creationTimestamp"])
def test_a_missing_secret_of_a_new_workload_waits_the_settle_window(age, existed, held):
    objects = [o for o in healthy_cluster() if o["metadata"]["name"] != "orders-nacos"]
    for obj in objects:
        if obj["kind"] == "Deployment":
            _created(obj, NOW - age if age is not None else None)
    snapshot = build_snapshot(objects, complete=True)
    findings = evaluate(parse_spec(check({"server": {"statefulSetName": "nacos"}})), snapshot, NOW).findings
    assert [(f.code, f.missing) for f in findings] == [("NAG101", ORDERS_SECRET)]
    settled = settle(findings, snapshot, NOW, WINDOW, {ORDERS_SECRET} if existed else set())
    assert (settled.held, settled.reported) == ((findings, []) if held else ([], findings))
    if held:
        assert settled.until == NOW - age + WINDOW
        reason, message = settled.pending["SecretsResolved"]
        assert settled.pending["Reconciling"] == (reason, message) and reason == "WaitingForReferences"
        assert message == (f"Secret orders-nacos read by Deployment/{NS}/orders does not exist yet; reported as "
                           f"SecretNotFound if still missing at {NOW - age + WINDOW:%Y-%m-%dT%H:%M:%SZ}.")
    else:
        assert settled.until is None and settled.pending == {}


def test_the_settle_window_holds_only_missing_objects_and_zero_turns_it_off():
    """A missing key of a Secret that exists is an edit to make, not an object on its way: reported at once."""
    objects = [_created(o, NOW) for o in healthy_cluster() if o["metadata"]["name"] != "orders-nacos"]
    objects.append(secret("orders-nacos", {"username": "orders"}))   # no password key
    snapshot = build_snapshot(objects, complete=True)
    findings = evaluate(parse_spec(check({"server": {"statefulSetName": "nacos"}})), snapshot, NOW).findings
    assert [f.code for f in findings] == ["NAG102"]
    assert settle(findings, snapshot, NOW, WINDOW, set()).reported == findings
    missing = [o for o in objects if o["metadata"]["name"] != "orders-nacos"]
    snapshot = build_snapshot(missing, complete=True)
    findings = evaluate(parse_spec(check({"server": {"statefulSetName": "nacos"}})), snapshot, NOW).findings
    assert settle(findings, snapshot, NOW, WINDOW, set()).held == findings
    assert settle(findings, snapshot, NOW, timedelta(0), set()).reported == findings
