"""OpenAPI callers: tokens and logins in scripts (openapi.py, checks/openapi.py), table-driven without kopf."""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone

import pytest

from nacos_auth_guard import openapi
from nacos_auth_guard.checks import CheckContext, run_checks
from nacos_auth_guard.nacos import nacos_header_algorithm
from nacos_auth_guard.snapshot import build_snapshot
from support.objects import (KEY_A, KEY_B, NS, config_map, env, healthy_cluster, meta, nacos_token, secret,
                             server_env)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
HOST = "http://nacos-headless.shop.svc.cluster.local:8848"
GOOD = nacos_token(KEY_A, int((NOW + timedelta(days=30)).timestamp()))
EXPIRED = nacos_token(KEY_A, int((NOW - timedelta(hours=1)).timestamp()))
SOON = nacos_token(KEY_A, int((NOW + timedelta(days=2)).timestamp()))
OTHER_KEY = nacos_token(KEY_B, int((NOW + timedelta(days=30)).timestamp()))


def cronjob(command: list[str], env_list: list[dict] = (), volumes: list[dict] = (), mounts: list[dict] = ()) -> dict:
    container = {"name": "export", "image": "curlimages/curl:8.10.1", "command": command, "env": list(env_list),
                 "volumeMounts": list(mounts)}
    pod = {"containers": [container], "volumes": list(volumes), "restartPolicy": "OnFailure"}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": meta("config-export", NS),
            "spec": {"schedule": "0 3 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}}}


def findings(extra: list[dict]):
    snapshot = build_snapshot(copy.deepcopy(healthy_cluster() + extra), complete=True)
    return [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.obj.name == "config-export"]


def curl(token: str) -> list[str]:
    return ["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=a&group=DEFAULT_GROUP&accessToken={token}'"]


SCRIPT_CM = config_map("export-script", {"export.sh": "#!/bin/sh\nset -e\n"
                                         f"curl -H 'accessToken: {EXPIRED}' \\\n  {HOST}/nacos/v2/cs/config?dataId=a\n"})


SCRIPT_CM_UNAUTHENTICATED = config_map("export-script",
                                       {"export.sh": f"#!/bin/sh\ncurl -s {HOST}/nacos/v1/cs/configs\n"})


@pytest.mark.parametrize("objects, expected", [
    ([cronjob(curl(EXPIRED))], {"NAG502"}),                                   # curl, query parameter
    ([cronjob(curl(SOON))], {"NAG503"}),
    ([cronjob(curl(OTHER_KEY))], {"NAG504"}),                                 # another key: Invalid signature
    ([cronjob(curl(GOOD))], set()),
    ([cronjob(["wget", "-qO-", "--header", f"Authorization: Bearer {EXPIRED}", f"{HOST}/nacos/v1/ns/instance/list"])],
     {"NAG502"}),                                                             # wget, Bearer header
    ([cronjob(["http", f"{HOST}/nacos/v1/cs/configs", f"accessToken:{EXPIRED}"])], {"NAG502"}),   # httpie header
    ([cronjob(["sh", "-c", f"curl \"{HOST}/nacos/v1/cs/configs?accessToken=$NACOS_TOKEN\""],
              [env("NACOS_TOKEN", OTHER_KEY)])], {"NAG504"}),                 # token in env, $VAR in the URL
    ([SCRIPT_CM, cronjob(["sh", "/scripts/export.sh"],
                         volumes=[{"name": "s", "configMap": {"name": "export-script"}}],
                         mounts=[{"name": "s", "mountPath": "/scripts/export.sh", "subPath": "export.sh"}])],
     {"NAG502"}),                                                             # a script in a ConfigMap, by subPath
    ([cronjob(["sh", "-c", f"curl -X POST {HOST}/nacos/v1/auth/login -d username=nacos -d password=nacos"])],
     {"NAG105"}),                                                             # literal login password
    ([cronjob(["sh", "-c", f"curl -X POST {HOST}/nacos/v3/auth/user/login -d username=ops -d password=$NACOS_PW"],
              [env("NACOS_PW", "from-env")])], set()),                        # password from env: not literal here
    # a curl/wget of a secured API with no identity at all: 403 "user not found!" (2.4.3, auth on)
    ([cronjob(["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=a&group=DEFAULT_GROUP'"])], {"NAG506"}),
    ([cronjob(["wget", "-qO-", f"{HOST}/nacos/v2/ns/instance/list?serviceName=orders"])], {"NAG506"}),
    ([SCRIPT_CM_UNAUTHENTICATED, cronjob(["sh", "/scripts/export.sh"],
                                         volumes=[{"name": "s", "configMap": {"name": "export-script"}}],
                                         mounts=[{"name": "s", "mountPath": "/scripts/export.sh",
                                                  "subPath": "export.sh"}])], {"NAG506"}),
    # what may carry an identity, or is not secured: no finding
    ([cronjob(["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=a&accessToken=$TOKEN'"])], set()),
    ([cronjob(["sh", "-c", f"curl -s -H 'serverIdentity: x' '{HOST}/nacos/v1/cs/configs?dataId=a'"])], set()),
    ([cronjob(["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=a&username=ops&password=$PW'"])], set()),
    ([cronjob(["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=$DATA_ID'"])], set()),
    ([cronjob(["sh", "-c", f"curl -sf {HOST}/nacos/v1/console/health/readiness"])], set()),
    ([cronjob(["python", "-c", f"import urllib.request; urllib.request.urlopen('{HOST}/nacos/v1/cs/configs')"])],
     set()),
    ([cronjob(["sh", "-c", "curl -s 'http://nacos.elsewhere:8848/nacos/v1/cs/configs?dataId=a'"])], set()),
    # a call to a Nacos outside the input with a token no known key signed: a warning (it may be that Nacos's)
    ([cronjob(["sh", "-c", f"curl -s 'http://10.1.2.3:8848/nacos/v1/cs/configs?dataId=a&accessToken={OTHER_KEY}'"])],
     {"NAG504"}),
])
def test_openapi_callers(objects, expected):
    assert {f.code for f in findings(objects)} == expected


def test_a_token_sent_outside_the_input_is_only_a_warning():
    outside = f"curl 'http://10.1.2.3:8848/nacos/v1/cs/configs?accessToken={OTHER_KEY}'"
    [item] = findings([cronjob(["sh", "-c", outside])])
    assert (item.code, item.severity.name) == ("NAG504", "WARNING")
    [item] = findings([cronjob(curl(OTHER_KEY))])   # sent to the server of the input: an error
    assert (item.code, item.severity.name) == ("NAG504", "ERROR")


def test_another_services_jwt_held_by_a_workload_that_calls_no_nacos_is_not_a_nacos_token():
    """A JWT whose header Nacos never writes (pyjwt's {"alg":"HS256","typ":"JWT"} here), in the env of a workload
    that makes no Nacos call: another service's token. Checked as a Nacos token, it drew a warning from every
    server of the input. One that Nacos wrote (its exact header) is still checked: it may be sent anywhere."""
    import jwt
    partner = jwt.encode({"sub": "svc", "exp": int((NOW + timedelta(days=30)).timestamp())}, KEY_B,
                         algorithm="HS256")
    assert nacos_header_algorithm(partner) is None
    sleeper = ["sleep", "infinity"]
    assert findings([cronjob(sleeper, [env("PARTNER_API_TOKEN", partner)])]) == []
    [item] = findings([cronjob(sleeper, [env("NACOS_TOKEN_COPY", OTHER_KEY)])])
    assert (item.code, item.severity.name) == ("NAG504", "WARNING")
    # sent to a Nacos, the same foreign JWT is a token that server refuses
    sent = ["sh", "-c", f"curl -s '{HOST}/nacos/v1/cs/configs?dataId=a&accessToken={partner}'"]
    assert [f.code for f in findings([cronjob(sent)])] == ["NAG501"]


def test_finding_names_the_place_and_no_token():
    (found,) = findings([SCRIPT_CM, cronjob(["sh", "/scripts/export.sh"],
                                            volumes=[{"name": "s", "configMap": {"name": "export-script"}}],
                                            mounts=[{"name": "s", "mountPath": "/scripts/export.sh",
                                                     "subPath": "export.sh"}])])
    assert "line 3 of /scripts/export.sh (ConfigMap export-script key 'export.sh')" in found.message
    assert "token expired!" in found.message and EXPIRED not in found.message


def test_secret_mounted_login_is_not_plaintext():
    script = secret("export-script", {"export.sh": f"curl {HOST}/nacos/v1/auth/users/login -d password=pw1"})
    job = cronjob(["sh", "/s/export.sh"], volumes=[{"name": "s", "secret": {"secretName": "export-script"}}],
                  mounts=[{"name": "s", "mountPath": "/s"}])
    assert findings([script, job]) == []


@pytest.mark.parametrize("text, env_values, calls", [
    (f"curl {HOST}/nacos/v1/cs/configs", {}, [("nacos-headless.shop.svc.cluster.local", False, ())]),
    ("curl http://example.com/api", {}, []),
    ("curl http://$NACOS/nacos/v1/auth/login -d username=a -d password=b", {"NACOS": "nacos:8848"},
     [("nacos", True, ("password", "username"))]),
    ("curl -X POST 'http://n:8848/nacos/v1/auth/users/login?username=a&password=$P'", {},
     [("n", True, ("username",))]),
    ("requests.post('http://n:8848/nacos/v3/auth/user/login', data={'username': u})", {}, [("n", True, ())]),
])
def test_find_calls(text, env_values, calls):
    found = openapi.find_calls(text, env_values)
    assert [(c.host, c.login, c.literal_login) for c in found] == calls


def test_find_calls_by_host():
    assert [c.host for c in openapi.find_calls("wget http://nacos:8848/health", {}, lambda h: h == "nacos")] == ["nacos"]


def test_jwt_strings_lines():
    assert openapi.jwt_strings(f"a\nb {GOOD} c") == [(GOOD, 2)]
    assert openapi.jwt_strings("eyJ no") == []


SCRIPT_CRONJOB = cronjob(["sh", "/scripts/export.sh"], volumes=[{"name": "s", "configMap": {"name": "export-script"}}],
                         mounts=[{"name": "s", "mountPath": "/scripts/export.sh", "subPath": "export.sh"}])
SERVER_CHECK = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck", "metadata": meta("nacos", NS),
                "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny"}}


@pytest.mark.parametrize("selector,reported", [({}, True), ({"matchLabels": {"team": "export"}}, False)])
def test_the_operator_reports_a_caller_of_its_server_and_watches_its_script(selector, reported):
    """A CronJob with no Nacos client settings, only a script that curls the server: the check of that server (not
    only lint) reports its expired token, and a change of the script's ConfigMap re-evaluates the check."""
    from nacos_auth_guard.evaluation import evaluate, parse_spec
    check = copy.deepcopy(SERVER_CHECK)
    check["spec"]["clients"] = {"selector": selector}
    snapshot = build_snapshot(copy.deepcopy(healthy_cluster() + [SCRIPT_CM, SCRIPT_CRONJOB]), complete=True)
    result = evaluate(parse_spec(check), snapshot, NOW)
    caller = [f.code for f in result.findings if f.obj.name == "config-export"]
    assert caller == (["NAG502"] if reported else [])
    assert (("ConfigMap", NS, "export-script") in result.dependencies) is reported


def test_a_token_sent_to_no_known_server_and_refused_by_every_one_is_one_warning_for_them_all():
    """Three servers with three keys, none of which signed the token a CronJob sends to an address outside the
    input: one warning naming them (it drew one per server: servers x such tokens), and each server's check still
    reports it."""
    from nacos_auth_guard.evaluation import evaluate, parse_spec
    from support.objects import auth_secret, statefulset
    keys = {"nacos": KEY_A, "nacos-b": "c2Vjb25kLXNlcnZlci1rZXktMzItYnl0ZXMtbG9uZy1DQ0NDCg==",
            "nacos-c": "dGhpcmQtc2VydmVyLWtleS0zMi1ieXRlcy1sb25nLURERERECg=="}
    servers = [obj for name, key in keys.items() if name != "nacos" for obj in (
        auth_secret(f"{name}-auth", key), statefulset(name, server_env(f"{name}-auth")))]
    outside = ["sh", "-c", f"curl -s 'http://10.1.2.3:8848/nacos/v1/cs/configs?dataId=a&accessToken={OTHER_KEY}'"]
    [item] = findings(servers + [cronjob(outside)])
    assert (item.code, item.severity.name, item.cluster) == ("NAG504", "WARNING", None)
    assert {str(c) for c in item.clusters} == {f"StatefulSet/{NS}/{name}" for name in keys}
    assert "any of the 3 servers with a known key (StatefulSet/shop/nacos, " in item.message
    snapshot = build_snapshot(copy.deepcopy(healthy_cluster() + servers + [cronjob(outside)]), complete=True)
    for name in keys:
        check = {**SERVER_CHECK, "metadata": meta(name, NS), "spec": {"server": {"statefulSetName": name}}}
        result = evaluate(parse_spec(check), snapshot, NOW)
        assert [f.code for f in result.findings if f.obj.name == "config-export"] == ["NAG504"], name


def test_a_caller_of_another_server_is_not_this_checks():
    from nacos_auth_guard.evaluation import evaluate, parse_spec
    elsewhere = copy.deepcopy(SCRIPT_CM)
    elsewhere["data"]["export.sh"] = elsewhere["data"]["export.sh"].replace("nacos-headless.shop", "nacos.other")
    snapshot = build_snapshot(copy.deepcopy(healthy_cluster() + [elsewhere, SCRIPT_CRONJOB]), complete=True)
    result = evaluate(parse_spec(SERVER_CHECK), snapshot, NOW)
    # the target is unknown: its token is checked against every known server's key, and KEY_A signs it, so no
    # NAG504; its expiry does not concern a server this check knows it calls
    assert [f.code for f in result.findings if f.obj.name == "config-export"] == []


def test_the_webhook_refuses_a_new_caller_with_an_expired_token_under_deny():
    from nacos_auth_guard.admission import decide, with_change
    before = build_snapshot(copy.deepcopy(healthy_cluster() + [SCRIPT_CM, SERVER_CHECK]), complete=True)
    after = with_change(before, "CronJob", NS, "config-export", copy.deepcopy(SCRIPT_CRONJOB), NOW)
    decision = decide([SERVER_CHECK], before, after, NOW, object_path="spec.jobTemplate.spec.template")
    assert not decision.allowed and "NAG502" in decision.message
    assert decision.warnings[0].startswith("spec.jobTemplate.spec.template: NAG502")


def on_version(image: str, server_env_extra: list[dict] = ()) -> list[dict]:
    from support.objects import server_env, statefulset
    return [o for o in healthy_cluster() if o["kind"] != "StatefulSet"] + [
        statefulset(image=image, env_list=server_env() + list(server_env_extra))]


def calls_of(url: str, *flags: str) -> dict:
    return cronjob(["sh", "-c", " ".join(["curl", "-s", *flags, f"'{url}'"])])


@pytest.mark.parametrize("image,call,extra,expected", [
    # 2.x (ConfigController, InstanceController: every mapping @Secured, 2.0.0-2.5.0)
    ("v2.4.3", calls_of(f"{HOST}/nacos/v2/cs/config?dataId=a&group=G"), [], 'user not found!'),
    ("v2.4.3", calls_of(f"{HOST}/nacos/v1/cs/configs?search=accurate&dataId=&group="), [], 'user not found!'),
    ("v2.4.3", calls_of(f"{HOST}/nacos/v1/ns/instance?serviceName=a&ip=1.2.3.4&port=80", "-X", "PUT"), [], None),
    ("v2.1.0", calls_of(f"{HOST}/nacos/v1/cs/configs?dataId=a&group=G"), [], 'unknown user!'),
    # 3.x: the client API is judged, the v1/v2 admin and console mappings answer 410 first (ApiCompatibilityFilter)
    ("v3.0.3", calls_of(f"{HOST}/nacos/v1/cs/configs?dataId=a&group=G"), [],
     "Code: 401, Message: User not found! Please check user exist or password is right!."),
    ("v3.0.3", calls_of(f"{HOST}/nacos/v3/client/cs/config?dataId=a&groupName=G"), [],
     "Code: 401, Message: User not found! Please check user exist or password is right!."),
    ("v3.0.3", calls_of(f"{HOST}/nacos/v1/ns/instance/list?serviceName=orders"), [],
     "Code: 401, Message: User not found! Please check user exist or password is right!."),
    ("v3.0.3", calls_of(f"{HOST}/nacos/v2/cs/config?dataId=a&group=G"), [], None),
    ("v3.0.3", calls_of(f"{HOST}/nacos/v1/cs/configs?search=accurate&dataId=&group="), [], None),
    ("v3.0.3", calls_of(f"{HOST}/nacos/v1/cs/configs?dataId=a&group=G"),
     [env("NACOS_CORE_API_COMPATIBILITY_CLIENT_ENABLED", "false")], None),   # 410: v1 switched off
])
def test_a_call_that_sends_no_identity_per_version(image, call, extra, expected):
    snapshot = build_snapshot(copy.deepcopy(on_version(f"nacos/nacos-server:{image}", extra) + [call]), complete=True)
    found = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.obj.name == "config-export"]
    if expected is None:
        assert found == []
    else:
        [item] = found
        assert item.code == "NAG506" and f'403 "{expected}"' in item.message
        login = "/nacos/v3/auth/user/login" if image.startswith("v3") else "/nacos/v1/auth/login"
        assert f"curl -s -X POST {HOST}{login} " in item.message
