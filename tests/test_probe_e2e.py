"""The live probe in the operator, end to end: the API server emulator, the real operator, and the Nacos auth
emulator standing in for the server pods (every pod's IP is 127.0.0.1 and spec.probe.port is the emulated
node's port). The interval is the CRD's minimum, 30 s, so the one test that needs a second run takes ~31 s."""
from __future__ import annotations

import base64
import logging
import time

import pytest

from support import canary
from support.harness import Cluster
from support.nacos_emulator import NacosEmulator, Node
from support.objects import KEY_A, NS, deployment, env, healthy_cluster, pods_of, secret, secret_env, statefulset

STARTED = "2026-11-22T10:00:00Z"
INTERVAL = 30


def ready_pods(sts: dict) -> list[dict]:
    pods = pods_of(sts, [STARTED] * 3)
    for pod in pods:
        pod["status"]["podIP"] = "127.0.0.1"
        pod["status"]["conditions"] = [{"type": "Ready", "status": "True"}]
    return pods


def probe_check(name: str, port: int, secret_name: str) -> dict:
    return {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"server": {"statefulSetName": name},
                     "probe": {"enabled": True, "credentialsSecretRef": {"name": secret_name},
                               "intervalSeconds": INTERVAL, "timeoutSeconds": 2, "port": port}}}


def condition(cluster: Cluster, name: str, kind: str = "ProbeSucceeded") -> tuple[str, str] | None:
    for item in (cluster.check(name).get("status") or {}).get("conditions") or []:
        if item["type"] == kind:
            return item["status"], item["reason"]
    return None


def test_probe_runs_once_per_interval_and_reports_a_login_failure():
    with NacosEmulator({"nacos": Node(base64.b64decode(KEY_A), {"nacos-probe": "pw-probe-1"})}) as nacos, \
            Cluster(namespaces=[NS]) as cluster:
        cluster.apply(*healthy_cluster(), *ready_pods(statefulset()),
                      secret("nacos-probe", {"username": "nacos-probe", "password": "pw-probe-1"}),
                      probe_check("nacos", nacos.ports["nacos"], "nacos-probe"))
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos") == ("True", "ProbeSucceeded"), message="probe passed")
        first_run = time.monotonic()
        assert nacos.logins() == 3 and nacos.stats["nacos"].reads == 9
        assert cluster.condition("nacos", "Ready") == "True"

        # A burst of 50 relevant changes (pods relabelled, the credentials Secret rewritten, ending with a wrong
        # password): each one reconciles the check, none of them runs the probe before the interval is up.
        from nacos_auth_guard.kube import metrics
        reconciles = metrics.REGISTRY.get_sample_value("nacos_auth_guard_reconcile_duration_seconds_count")
        pods = ready_pods(statefulset())
        for index in range(50):
            if index % 2:
                pod = pods[index % 3]
                pod["metadata"]["labels"]["burst"] = str(index)
                cluster.apply(pod)
            else:
                password = "pw-probe-WRONG" if index == 48 else "pw-probe-1"
                cluster.apply(secret("nacos-probe", {"username": "nacos-probe", "password": password,
                                                     "note": str(index)}))
        time.sleep(2)
        assert metrics.REGISTRY.get_sample_value("nacos_auth_guard_reconcile_duration_seconds_count") \
            - reconciles >= 3, "the burst did not reach the reconciler"
        assert nacos.logins() == 3, "the burst made the probe run before its interval"
        assert condition(cluster, "nacos") == ("True", "ProbeSucceeded")   # the last run's verdict stands

        cluster.wait_for(lambda: condition(cluster, "nacos") == ("False", "ProbeLoginFailed"),
                         timeout=INTERVAL + 10, message="the next run reports the wrong password")
        assert time.monotonic() - first_run >= INTERVAL - 1
        assert nacos.logins() == 6   # exactly one more run
        status = cluster.check("nacos")["status"]
        assert cluster.condition("nacos", "Ready") == "False"
        message = next(f["message"] for f in status["findings"] if f["code"] == "NAG601")
        assert 'answered HTTP 403 "user not found!"' in message and "pw-probe" not in str(status)
        cluster.wait_for(lambda: [e for e in cluster.events("nacos") if e["reason"] == "ProbeLoginFailed"
                                  and e["type"] == "Warning"], message="a ProbeLoginFailed Event")


def test_probing_off_means_no_condition_and_disabling_stops_it():
    with NacosEmulator({"nacos": Node(base64.b64decode(KEY_A), {"nacos-probe": "pw"})}) as nacos, \
            Cluster(namespaces=[NS]) as cluster:
        check = probe_check("nacos", nacos.ports["nacos"], "nacos-probe")
        cluster.apply(*healthy_cluster(), *ready_pods(statefulset()), check)   # no credentials Secret yet
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos") == ("False", "ProbeCredentialsMissing"),
                         message="missing credentials")
        assert nacos.logins() == 0
        cluster.apply(secret("nacos-probe", {"username": "nacos-probe", "password": "pw"}))
        cluster.wait_for(lambda: condition(cluster, "nacos") == ("True", "ProbeSucceeded"), message="probe passed")
        assert nacos.logins() == 3
        check["spec"]["probe"]["enabled"] = False
        cluster.apply(check)
        cluster.wait_for(lambda: condition(cluster, "nacos") is None, message="ProbeSucceeded gone")
        from nacos_auth_guard.kube import handlers
        assert handlers.RECONCILER.prober.schedules == {}


def test_operator_outputs_hold_no_probe_secret(caplog):
    """Canary password, key and the tokens signed with it: not in status, Events, logs at DEBUG or metrics."""
    caplog.set_level(logging.DEBUG)
    node = Node(base64.b64decode(canary.TOKEN_KEY), {"probe-ok": canary.PASSWORD},
                echo_password=lambda value: f"bad password {value}")
    with NacosEmulator({"nacos": node}) as nacos, Cluster(namespaces=[NS]) as cluster:
        port = nacos.ports["nacos"]
        other = statefulset("nacos-b")
        cluster.apply(*healthy_cluster(), *ready_pods(statefulset()), other, *ready_pods(other),
                      secret("probe-ok", {"username": "probe-ok", "password": canary.PASSWORD}),
                      secret("probe-bad", {"username": "probe-missing", "password": canary.PASSWORD}),
                      probe_check("nacos", port, "probe-ok"), probe_check("nacos-b", port, "probe-bad"))
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos") == ("True", "ProbeSucceeded")
                         and condition(cluster, "nacos-b") == ("False", "ProbeLoginFailed"), message="both verdicts")
        cluster.wait_for(lambda: [e for e in cluster.events() if e["reason"] == "ProbeLoginFailed"], message="Event")
        from nacos_auth_guard.kube import metrics
        outputs = {"status": str([cluster.check(n)["status"] for n in ("nacos", "nacos-b")]),
                   "events": str(cluster.events()), "metrics": metrics.exposition()}
        issued = nacos.issued()
    outputs["logs"] = caplog.text
    assert len(issued) == 3 and "nacos_auth_guard_probe_runs" in outputs["metrics"]
    assert "answered HTTP 403 with a body under 256 bytes" in outputs["status"]   # it quoted the password; we did not
    assert "Probe of NacosAuthCheck shop/nacos-b" in outputs["logs"]   # the DEBUG logs were captured
    forbidden = set().union(*(canary.forbidden_forms(token) for token in issued))
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
        assert not [form for form in forbidden if form in text], f"{where} leaks an issued token"


@pytest.mark.parametrize("spec,error", [
    ({"enabled": True}, "credentialsSecretRef.name"),
    ({"enabled": True, "credentialsSecretRef": {"name": "p"}, "intervalSeconds": 5}, "intervalSeconds"),
])
def test_invalid_probe_spec_stalls_the_check(spec, error):
    with Cluster(namespaces=[NS]) as cluster:
        check = probe_check("nacos", 8848, "p")
        check["spec"]["probe"] = spec
        cluster.apply(*healthy_cluster(), check)
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos", "Stalled") == ("True", "InvalidSpec"), message="Stalled")
        assert error in next(c["message"] for c in cluster.check("nacos")["status"]["conditions"]
                             if c["type"] == "Ready")


CLIENT_INTERVAL = 60   # the CRD's minimum: longer than the probe's 30 s, so the second run skips unchanged clients


def login_client(name: str, namespace: str = "dev") -> dict:
    """A Spring Cloud Alibaba client of nacos with config and discovery in `namespace`, its login in Secret
    <name>-nacos."""
    address = f"nacos-headless.{NS}.svc.cluster.local:8848"
    return deployment(name, [env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", address),
                             env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", address),
                             env("SPRING_APPLICATION_NAME", name), env("SPRING_CLOUD_NACOS_CONFIG_NAMESPACE", namespace),
                             env("SPRING_CLOUD_NACOS_DISCOVERY_NAMESPACE", namespace),
                             secret_env("SPRING_CLOUD_NACOS_USERNAME", f"{name}-nacos", "username"),
                             secret_env("SPRING_CLOUD_NACOS_PASSWORD", f"{name}-nacos", "password")])


def test_client_logins_report_each_outcome_once_per_interval(caplog):
    """A healthy client, a wrong password, a user that does not exist and a user without read on its namespace:
    each gets its finding, condition and Event on its own workload; a client whose credentials did not change is
    not logged in again before spec.probe.clients.intervalSeconds, one whose password changed is, at the next run;
    no password or token reaches the status, Events, logs or metrics."""
    caplog.set_level(logging.DEBUG)
    users = {"nacos-probe": "pw-probe-1", "orders": canary.PASSWORD, "billing": "pw-billing-1", "stock": "pw-stock-1"}
    node = Node(base64.b64decode(KEY_A), users, roles={"orders": ("dev-reader",), "billing": ("dev-reader",),
                                                       "stock": ("prod-editor",)},
                permissions={"dev-reader": (("dev:*:*", "r"),), "prod-editor": (("prod:*:*", "rw"),)})
    logins = {"orders": ("orders", canary.PASSWORD), "billing": ("billing", "pw-billing-WRONG"),
              "audit": ("audit", "pw-audit-1"), "stock": ("stock", "pw-stock-1")}
    with NacosEmulator({"nacos": node}) as nacos, Cluster(namespaces=[NS]) as cluster:
        check = probe_check("nacos", nacos.ports["nacos"], "nacos-probe")
        check["spec"]["probe"]["clients"] = {"enabled": True, "intervalSeconds": CLIENT_INTERVAL}
        cluster.apply(*healthy_cluster()[:3], *ready_pods(statefulset()),
                      secret("nacos-probe", {"username": "nacos-probe", "password": "pw-probe-1"}),
                      *[secret(f"{name}-nacos", {"username": user, "password": password})
                        for name, (user, password) in logins.items()],
                      *[login_client(name) for name in logins], check)
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos", "ClientsAuthenticated") == ("False", "ClientLoginFailed"),
                         message="the client logins' verdict")
        first_run = time.monotonic()
        status = cluster.check("nacos")["status"]
        found = sorted((f["object"], f["code"], f["severity"]) for f in status["findings"] if f["code"] >= "NAG611")
        assert found == [(f"Deployment/{NS}/audit", "NAG611", "error"), (f"Deployment/{NS}/billing", "NAG611", "error"),
                         (f"Deployment/{NS}/orders", "NAG616", "info"), (f"Deployment/{NS}/stock", "NAG612", "error"),
                         (f"Deployment/{NS}/stock", "NAG613", "error")]
        assert condition(cluster, "nacos") == ("True", "ProbeSucceeded")   # the server pods agree
        messages = {(f["object"].rsplit("/", 1)[1], f["code"]): f["message"] for f in status["findings"]}
        assert 'answered HTTP 403 "user not found!"' in messages["billing", "NAG611"]
        assert "Secret billing-nacos key 'password'" in messages["billing", "NAG611"]
        assert "stock.properties (group DEFAULT_GROUP" in messages["stock", "NAG612"]
        assert "resource=dev:*:*&action=r" in messages["stock", "NAG612"]
        for name, reason in (("billing", "ClientLoginFailed"), ("audit", "ClientLoginFailed"),
                             ("stock", "ClientConfigReadDenied"), ("stock", "ClientServiceReadDenied")):
            cluster.wait_for(lambda: [e for e in cluster.events(name) if e["reason"] == reason
                                      and e["type"] == "Warning" and e["involvedObject"]["kind"] == "Deployment"],
                             message=f"a {reason} Event on Deployment {name}")
        assert not [e for e in cluster.events("orders") if e["type"] == "Warning"]
        assert nacos.logins() == 3 + 4

        # billing's password is corrected: the next run (30 s) logs in as billing only; the others wait for 60 s
        cluster.apply(secret("billing-nacos", {"username": "billing", "password": "pw-billing-1"}))
        cluster.wait_for(lambda: not [f for f in cluster.check("nacos")["status"]["findings"]
                                      if f["object"].endswith("/billing") and f["code"] == "NAG611"],
                         timeout=INTERVAL + 10, message="billing logs in after its password was corrected")
        assert time.monotonic() - first_run >= INTERVAL - 1
        assert nacos.logins() == 3 + 4 + 3 + 1
        cluster.wait_for(lambda: [e for e in cluster.events("billing") if e["type"] == "Normal"
                                  and e["reason"] == "ClientLoginFailed"], message="a Normal Event: resolved")
        from nacos_auth_guard.kube import metrics
        assert metrics.REGISTRY.get_sample_value("nacos_auth_guard_client_logins_total", {"outcome": "refused"}) >= 2
        assert metrics.REGISTRY.get_sample_value("nacos_auth_guard_client_reads_total",
                                                 {"kind": "config", "outcome": "denied"}) >= 2
        outputs = {"status": str(cluster.check("nacos")["status"]), "events": str(cluster.events()),
                   "metrics": metrics.exposition()}
        issued = nacos.issued()
    outputs["logs"] = caplog.text
    assert "Client logins of NacosAuthCheck shop/nacos" in outputs["logs"]
    forbidden = set().union(*(canary.forbidden_forms(token) for token in issued))
    for where, text in outputs.items():
        canary.assert_no_secret(text, where)
        assert "pw-billing" not in text and "pw-stock" not in text and "pw-audit" not in text, where
        assert not [form for form in forbidden if form in text], f"{where} leaks an issued token"


def test_client_logins_need_the_probe():
    with Cluster(namespaces=[NS]) as cluster:
        check = probe_check("nacos", 8848, "p")
        check["spec"]["probe"] = {"clients": {"enabled": True}}
        cluster.apply(*healthy_cluster(), check)
        cluster.start_operator()
        cluster.wait_for(lambda: condition(cluster, "nacos", "Stalled") == ("True", "InvalidSpec"), message="Stalled")
        assert "spec.probe.clients.enabled needs spec.probe.enabled" in cluster.check("nacos")["status"]["conditions"][0][
            "message"]
