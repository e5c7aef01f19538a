"""Client logins' pure rules, table-driven: the configs a Spring Cloud Alibaba client loads, and Nacos's permission
decision per version (sources named in operator/nacos_auth_guard/client_probe.py)."""
from __future__ import annotations

import pytest

from nacos_auth_guard.client_probe import (ConfigRead, Permission, RefusedConfig, config_reads, joined_resource,
                                           permission_granted)

C = "spring.cloud.nacos.config."


def ids(props, profiles=()):
    reads, problems = config_reads(props, profiles)
    return [(r.namespace, r.group, r.data_id) for r in reads], problems


@pytest.mark.parametrize("props,profiles,expected", [
    # NacosPropertySourceLocator.loadApplicationConfiguration@2023.0.0.0-RC1: prefix, prefix.ext, prefix-profile.ext
    ({"spring.application.name": "orders"}, (),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.properties")]),
    ({"spring.application.name": "orders", C + "file-extension": "yaml", "spring.profiles.active": "prod, eu"}, (),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.yaml"), ("", "DEFAULT_GROUP", "orders-prod.yaml"),
      ("", "DEFAULT_GROUP", "orders-eu.yaml")]),
    # profiles given from outside win over the property
    ({"spring.application.name": "orders", "spring.profiles.active": "dev"}, ("prod",),
     [("", "DEFAULT_GROUP", "orders"), ("", "DEFAULT_GROUP", "orders.properties"),
      ("", "DEFAULT_GROUP", "orders-prod.properties")]),
    # prefix beats name beats spring.application.name; relaxed binding (fileExtension == file-extension)
    ({"spring.application.name": "app", C + "name": "named", C + "prefix": "pre", C + "fileExtension": "json"}, (),
     [("", "DEFAULT_GROUP", "pre"), ("", "DEFAULT_GROUP", "pre.json")]),
    ({"spring.application.name": "app", C + "name": "named"}, (),
     [("", "DEFAULT_GROUP", "named"), ("", "DEFAULT_GROUP", "named.properties")]),
    # namespace "public" becomes "" (NacosConfigProperties.resolveNamespace); group applies to the app's own configs
    ({"spring.application.name": "a", C + "namespace": "public", C + "group": "G"}, (),
     [("", "G", "a"), ("", "G", "a.properties")]),
    ({"spring.application.name": "a", C + "namespace": "dev-ns"}, (),
     [("dev-ns", "DEFAULT_GROUP", "a"), ("dev-ns", "DEFAULT_GROUP", "a.properties")]),
    # shared, then extension, then the application's (NacosPropertySourceLocator.locate); their group defaults
    # to DEFAULT_GROUP, not to spring.cloud.nacos.config.group
    ({C + "group": "APP", C + "shared-configs[0].data-id": "common.yaml",
      C + "extension-configs[1].data-id": "ext.yaml", C + "extension-configs[1].group": "EXT",
      C + "extension-configs[0].dataId": "first.yaml", "spring.application.name": "a"}, (),
     [("", "DEFAULT_GROUP", "common.yaml"), ("", "DEFAULT_GROUP", "first.yaml"), ("", "EXT", "ext.yaml"),
      ("", "APP", "a"), ("", "APP", "a.properties")]),
    # spring.config.import nacos: entries (NacosConfigDataLocationResolver): path = data ID, ?group= the group
    ({"spring.config.import": "optional:nacos:orders.yaml?group=ORD&refreshEnabled=true, nacos:base.yaml,"
                              " classpath:x.yml", C + "group": "APP"}, (),
     [("", "ORD", "orders.yaml"), ("", "APP", "base.yaml")]),
    ({}, (), []),
    ({"SPRING.APPLICATION.NAME": "Loud"}, (), [("", "DEFAULT_GROUP", "Loud"), ("", "DEFAULT_GROUP", "Loud.properties")]),
])
def test_config_reads(props, profiles, expected):
    assert ids(props, profiles) == (expected, [])


@pytest.mark.parametrize("entry,message", [
    ("nacos:", "dataId must be specified"),            # NacosConfigDataLocationResolver.java:165@2023.0.0.0-RC1
    ("optional:nacos:/", "dataId must be specified"),
    ("nacos:a/b.yaml", "illegal dataId"),              # dataIdFor: more than one path segment
])
def test_config_import_problems(entry, message):
    reads, problems = config_reads({"spring.config.import": entry})
    assert reads == [] and problems == [RefusedConfig(f"spring.config.import {entry}", message)]


def test_origin_names_the_property():
    reads, _ = config_reads({"spring.application.name": "a", "spring.profiles.active": "p",
                             C + "shared-configs[0].data-id": "s"})
    assert [r.origin for r in reads] == [C + "shared-configs[0]", "spring.application.name",
                                         "spring.application.name", "spring.application.name + profile p"]
    assert isinstance(reads[0], ConfigRead)


V2, V3 = (2, 4, 3), (3, 0, 3)


@pytest.mark.parametrize("version,namespace,expected", [
    (V2, "", ":DEFAULT_GROUP:config/a"),            # NacosRoleServiceImpl.joinResource@2.4.3: public is ""
    (V2, "public", ":DEFAULT_GROUP:config/a"),
    ((2, 2, 0), "public", ":DEFAULT_GROUP:config/a"),  # NamespaceUtil.processNamespaceParameter@2.2.0
    (V3, "", "public:DEFAULT_GROUP:config/a"),      # AbstractCheckedRoleService.joinResource@3.0.3
    (V3, "public", "public:DEFAULT_GROUP:config/a"),
    (V2, "dev", "dev:DEFAULT_GROUP:config/a"),
    (V3, "dev", "dev:DEFAULT_GROUP:config/a"),
])
def test_joined_resource(version, namespace, expected):
    assert joined_resource(version, namespace, "DEFAULT_GROUP", "config", "a") == expected


def granted(version, roles, perms, namespace="", group="DEFAULT_GROUP", kind="config", name="a", action="r"):
    return permission_granted(version, roles, [Permission(*p) for p in perms], namespace, group, kind, name, action)


@pytest.mark.parametrize("version,roles,perms,request_,expected", [
    (V2, ["ROLE_ADMIN"], [], {}, True),                                     # global admin passes everything
    (V2, [], [("*:*:*", "rw")], {}, False),                                 # no role: no permission
    (V2, ["dev"], [(":*:*", "r")], {}, True),                               # 2.x: public is ""
    (V2, ["dev"], [("public:*:*", "r")], {}, False),                        # ... so "public:" never matches it
    (V3, ["dev"], [("public:*:*", "r")], {}, True),                         # 3.x: public named
    (V3, ["dev"], [(":*:*", "r")], {}, True),                               # 3.x: ":" prefixed with public
    (V2, ["dev"], [("dev:*:*", "rw")], {"namespace": "dev"}, True),
    (V2, ["dev"], [("dev:*:*", "rw")], {"namespace": "prod"}, False),
    (V2, ["dev"], [("dev:*:*", "w")], {"namespace": "dev"}, False),        # action must contain r
    (V2, ["dev"], [("dev:*:*", "w")], {"namespace": "dev", "action": "w"}, True),
    (V2, ["dev"], [("dev:G:config/*", "r")], {"namespace": "dev", "group": "G"}, True),
    (V2, ["dev"], [("dev:G:config/*", "r")], {"namespace": "dev", "kind": "naming"}, False),
    (V2, ["dev"], [("dev:*:naming/*", "r")], {"namespace": "dev", "kind": "naming", "name": "svc"}, True),
    (V2, ["dev"], [("dev:*:*", "r")], {"namespace": "dev", "name": "console/users"}, False),   # console resources
    (V2, ["dev"], [("dev", "r")], {"namespace": "dev"}, False),             # whole-string match (Pattern.matches)
    (V2, ["dev"], [("dev:(:*", "r")], {"namespace": "dev"}, False),         # broken regex: not granted
    (V2, ["a", "b"], [("x:*:*", "r"), ("dev:*:*", "r")], {"namespace": "dev"}, True),   # any role's permission
])
def test_permission_granted(version, roles, perms, request_, expected):
    assert granted(version, roles, perms, **request_) is expected


# --- plan_client_logins: which logins a check's clients make, and what each reads ------------------------------------

from nacos_auth_guard.client_login import ClientLoginResult, ConfigReadResult, NamingReadResult, ReadOutcome  # noqa: E402
from nacos_auth_guard.client_probe import ClientLogin, NamingRead, client_login_findings, plan_client_logins  # noqa: E402
from nacos_auth_guard.discovery import discover  # noqa: E402
from nacos_auth_guard.evaluation import parse_spec  # noqa: E402
from nacos_auth_guard.model import ObjectRef, Severity  # noqa: E402
from nacos_auth_guard.probe import Answer, Credentials  # noqa: E402
from nacos_auth_guard.snapshot import build_snapshot  # noqa: E402
from support.objects import (NS, auth_secret, config_map, deployment, env, secret, secret_env, service,  # noqa: E402
                             statefulset)

ADDR = f"nacos-headless.{NS}.svc.cluster.local:8848"
SERVER = ObjectRef("StatefulSet", NS, "nacos")
CLIENT = ObjectRef("Deployment", NS, "orders")


def plan(env_list, *extra, check_spec=None):
    objects = [auth_secret(), statefulset(), service("nacos-headless", {"app": "nacos"}),
               secret("orders-nacos", {"username": "orders", "password": "pw-1", "other-user": "audit",
                                       "other-pw": "pw-2"}),
               deployment("orders", env_list), *extra]
    snapshot = build_snapshot(objects, default_namespace=NS)
    spec = parse_spec({"metadata": {"name": "nacos", "namespace": NS},
                       "spec": {"server": {"statefulSetName": "nacos"}, **(check_spec or {})}})
    return plan_client_logins(spec, discover(snapshot, servers={SERVER}), snapshot)


SHARED_LOGIN = [secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username"),
                secret_env("SPRING_CLOUD_NACOS_PASSWORD", "orders-nacos", "password")]


@pytest.mark.parametrize("env_list,expected", [
    # one shared login for both modules, config reads from the app name, discovery from its own service
    ([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", ADDR), env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", ADDR),
      env("SPRING_APPLICATION_NAME", "orders"), env("SPRING_CLOUD_NACOS_CONFIG_NAMESPACE", "dev"), *SHARED_LOGIN],
     [("orders", "pw-1", [("dev", "orders"), ("dev", "orders.properties")], NamingRead("", "DEFAULT_GROUP", "orders"),
       True, False)]),
    # the server address only: the login is checked, no module is known to be in use
    ([env("SPRING_CLOUD_NACOS_SERVER_ADDR", ADDR), env("SPRING_APPLICATION_NAME", "orders"), *SHARED_LOGIN],
     [("orders", "pw-1", [], None, False, False)]),
    # each module with its own user: two logins (NacosConfigProperties / NacosDiscoveryProperties fall back only
    # to the shared spring.cloud.nacos.username)
    ([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", ADDR), env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", ADDR),
      env("SPRING_CLOUD_NACOS_DISCOVERY_SERVICE", "orders-svc"), env("SPRING_CLOUD_NACOS_DISCOVERY_GROUP", "G"),
      secret_env("SPRING_CLOUD_NACOS_CONFIG_USERNAME", "orders-nacos", "username"),
      secret_env("SPRING_CLOUD_NACOS_CONFIG_PASSWORD", "orders-nacos", "password"),
      secret_env("SPRING_CLOUD_NACOS_DISCOVERY_USERNAME", "orders-nacos", "other-user"),
      secret_env("SPRING_CLOUD_NACOS_DISCOVERY_PASSWORD", "orders-nacos", "other-pw")],
     [("orders", "pw-1", [], None, False, False), ("audit", "pw-2", [], NamingRead("", "G", "orders-svc"), False, False)]),
    # NACOS_USERNAME-style env: both modules alike
    ([env("NACOS_SERVER_ADDR", ADDR), secret_env("NACOS_USERNAME", "orders-nacos", "username"),
      secret_env("NACOS_PASSWORD", "orders-nacos", "password")],
     [("orders", "pw-1", [], None, False, False)]),
    # a password from a Secret the input does not hold, or a missing key: nothing to log in with (static checks say)
    ([env("SPRING_CLOUD_NACOS_SERVER_ADDR", ADDR), secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username"),
      secret_env("SPRING_CLOUD_NACOS_PASSWORD", "elsewhere", "password")], []),
    ([env("SPRING_CLOUD_NACOS_SERVER_ADDR", ADDR), secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "nokey"),
      secret_env("SPRING_CLOUD_NACOS_PASSWORD", "orders-nacos", "password")], []),
    # a module switched off is not read, whatever else it sets
    ([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", ADDR), env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", ADDR),
      env("SPRING_CLOUD_NACOS_DISCOVERY_ENABLED", "false"), env("SPRING_CLOUD_NACOS_CONFIG_ENABLED", "false"),
      env("SPRING_APPLICATION_NAME", "orders"), *SHARED_LOGIN],
     [("orders", "pw-1", [], None, False, False)]),
    # no credentials at all: NAG401's business
    ([env("SPRING_CLOUD_NACOS_SERVER_ADDR", ADDR)], []),
])
def test_plan_client_logins(env_list, expected):
    logins = plan(env_list)
    got = [(x.credentials.username, x.credentials.password, [(r.namespace, r.data_id) for r in x.reads], x.naming,
            x.config_namespace_set, x.naming_namespace_set) for x in logins]
    assert got == expected
    for login in logins:
        assert login.client == CLIENT and "orders-nacos" in login.where
        assert "pw-" not in repr(login) and "pw-" not in login.where   # the Credentials repr hides them


def test_plan_reads_a_mounted_bootstrap_file_and_skips_unknown_inputs():
    bootstrap = ("spring:\n  application:\n    name: orders\n  cloud:\n    nacos:\n      config:\n"
                 f"        server-addr: {ADDR}\n        file-extension: yaml\n        shared-configs:\n"
                 "          - data-id: common.yaml\n            group: SHARED\n")
    mount = {"volumeMounts": [{"name": "conf", "mountPath": "/app/config/bootstrap.yml", "subPath": "bootstrap.yml"}]}
    pod_extra = {"volumes": [{"name": "conf", "configMap": {"name": "orders-conf"}}]}
    objects = [auth_secret(), statefulset(), service("nacos-headless", {"app": "nacos"}),
               secret("orders-nacos", {"username": "orders", "password": "pw-1"}),
               config_map("orders-conf", {"bootstrap.yml": bootstrap})]
    workload = deployment("orders", SHARED_LOGIN, **pod_extra)
    workload["spec"]["template"]["spec"]["containers"][0].update(mount)
    snapshot = build_snapshot([*objects, workload], default_namespace=NS)
    spec = parse_spec({"metadata": {"name": "nacos", "namespace": NS}, "spec": {"server": {"statefulSetName": "nacos"}}})
    [login] = plan_client_logins(spec, discover(snapshot, servers={SERVER}), snapshot)
    assert [(r.group, r.data_id) for r in login.reads] == [("SHARED", "common.yaml"), ("DEFAULT_GROUP", "orders"),
                                                           ("DEFAULT_GROUP", "orders.yaml")]
    # the app name from a ConfigMap the input does not hold: no data ID can be derived, none is judged
    unknown = deployment("orders", [*SHARED_LOGIN, env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", ADDR),
                                    {"name": "SPRING_APPLICATION_NAME",
                                     "valueFrom": {"configMapKeyRef": {"name": "absent", "key": "name"}}}])
    snapshot = build_snapshot([*objects, unknown], default_namespace=NS)
    [login] = plan_client_logins(spec, discover(snapshot, servers={SERVER}), snapshot)
    assert login.reads == ()


def test_plan_follows_the_client_selector():
    env_list = [env("SPRING_CLOUD_NACOS_SERVER_ADDR", ADDR), *SHARED_LOGIN]
    assert plan(env_list, check_spec={"clients": {"selector": {"matchLabels": {"app": "orders"}}}})
    assert plan(env_list, check_spec={"clients": {"selector": {"matchLabels": {"app": "billing"}}}}) == []


# --- client_login_findings: what each answer means ---------------------------------------------------------------------

LOGIN = ClientLogin(CLIENT, "app", Credentials("orders", "pw-1"), "env SPRING_CLOUD_NACOS_PASSWORD (Secret orders-nacos "
                    "key 'password')", "env SPRING_CLOUD_NACOS_PASSWORD (Secret orders-nacos key 'password')",
                    (ConfigRead("dev", "DEFAULT_GROUP", "orders.yaml", "spring.application.name"),
                     ConfigRead("dev", "SHARED", "common.yaml", "spring.cloud.nacos.config.shared-configs[0]")),
                    NamingRead("dev", "DEFAULT_GROUP", "orders"), True, True)
DENIED = Answer(403, "authorization failed!")
OK = Answer(200, "")


def results(*outcomes, naming=ReadOutcome.READABLE):
    answers = {ReadOutcome.DENIED: DENIED, ReadOutcome.READABLE: OK, ReadOutcome.MISSING: Answer(404, "config data not exist"),
               ReadOutcome.FAILED: Answer(500, "")}
    reads = tuple(ConfigReadResult(read, outcome, answers[outcome]) for read, outcome in zip(LOGIN.reads, outcomes))
    return ClientLoginResult("nacos-0", True, OK, reads, 3, NamingReadResult(naming, answers[naming]))


@pytest.mark.parametrize("login,result,version,expected", [
    (LOGIN, ClientLoginResult("nacos-0", False, Answer(403, "user not found!")), (2, 4, 3), [("NAG611", "error")]),
    (LOGIN, ClientLoginResult("nacos-0", False, Answer(None, "timed out after 5 s")), (2, 4, 3), [("NAG615", "warning")]),
    (LOGIN, ClientLoginResult("nacos-0", False, Answer(500, "")), (2, 4, 3), [("NAG615", "warning")]),
    (LOGIN, results(ReadOutcome.READABLE, ReadOutcome.READABLE), (2, 4, 3), [("NAG616", "info")]),
    (LOGIN, results(ReadOutcome.DENIED, ReadOutcome.DENIED, naming=ReadOutcome.DENIED), (2, 4, 3),
     [("NAG612", "error"), ("NAG613", "error")]),
    # a derived data ID that does not exist is normal; a named one is worth an info
    (LOGIN, results(ReadOutcome.MISSING, ReadOutcome.READABLE), (2, 4, 3), [("NAG616", "info")]),
    (LOGIN, results(ReadOutcome.READABLE, ReadOutcome.MISSING), (2, 4, 3), [("NAG614", "info"), ("NAG616", "info")]),
    (LOGIN, results(ReadOutcome.FAILED, ReadOutcome.READABLE, naming=ReadOutcome.FAILED), (2, 4, 3),
     [("NAG615", "warning"), ("NAG615", "warning")]),
    # the namespace only defaulted in the input: the application's own files may set another one
    (ClientLogin(CLIENT, "app", Credentials("orders", "pw-1"), "w", "w",
                 (ConfigRead("", "DEFAULT_GROUP", "orders.yaml", "spring.application.name"),)),
     results(ReadOutcome.DENIED), (2, 4, 3), [("NAG612", "warning")]),
])
def test_client_login_findings(login, result, version, expected):
    findings = client_login_findings(login, result, SERVER, version, 8848, "http")
    assert [(f.code, str(f.severity)) for f in findings] == expected
    for item in findings:
        assert item.obj == CLIENT and item.cluster == SERVER and "pw-1" not in item.message


def test_login_failure_names_the_secret_and_the_default_user_on_2_4():
    failed = ClientLoginResult("nacos-0", False, Answer(403, "user not found!"))
    [item] = client_login_findings(LOGIN, failed, SERVER, (2, 4, 3), 8848, "http")
    assert 'pod nacos-0 answered HTTP 403 "user not found!"' in item.message
    assert "Secret orders-nacos key 'password'" in item.message and "built-in" not in item.message
    default = ClientLogin(CLIENT, "app", Credentials("nacos", "nacos"), "w", "w")
    for version, hinted in (((2, 4, 0), True), ((2, 3, 2), False), (None, False)):
        [item] = client_login_findings(default, failed, SERVER, version, 8848, "http")
        assert ("servers from 2.4.0 do not create" in item.message) is hinted


def test_denied_reads_say_what_and_how_to_grant():
    [denied, _] = client_login_findings(LOGIN, results(ReadOutcome.DENIED, ReadOutcome.DENIED,
                                                       naming=ReadOutcome.DENIED), SERVER, (2, 4, 3), 8848, "http")
    assert "orders.yaml (group DEFAULT_GROUP, from spring.application.name)" in denied.message
    assert "common.yaml (group SHARED" in denied.message and "namespace dev" in denied.message
    assert 'HTTP 403 "authorization failed!"' in denied.message and "resource=dev:*:*&action=r" in denied.message


B = "nacos.config."


@pytest.mark.parametrize("props,expected", [
    # NacosConfigLoader.loadConfig@0.3.0-RC: nothing is loaded at start without bootstrap.enable
    ({B + "data-ids": "a,b"}, []),
    ({B + "bootstrap.enable": "true", B + "data-ids": "a,b", B + "namespace": "dev"},
     [("dev", "DEFAULT_GROUP", "a", B + "data-ids"), ("dev", "DEFAULT_GROUP", "b", B + "data-ids")]),
    # data-id wins over data-ids; the group applies to the global ones
    ({B + "bootstrap.enable": "true", B + "data-id": "one", B + "data-ids": "a,b", B + "group": "G"},
     [("", "G", "one", B + "data-ids")]),
    # ext-config: its own group (default DEFAULT_GROUP, not the global one) and namespace (else the global one)
    ({B + "bootstrap.enable": "true", B + "group": "G", B + "namespace": "dev", B + "ext-config[0].data-ids": "x",
      B + "ext-config[1].data-id": "y", B + "ext-config[1].namespace": "prod", B + "ext-config[1].group": "H"},
     [("dev", "DEFAULT_GROUP", "x", B + "ext-config[0]"), ("prod", "H", "y", B + "ext-config[1]")]),
    ({B + "bootstrap.enable": "true", B + "namespace": "public", B + "data-id": "a"},
     [("", "DEFAULT_GROUP", "a", B + "data-ids")]),
])
def test_boot_config_reads(props, expected):
    from nacos_auth_guard.client_probe import boot_config_reads
    assert [(r.namespace, r.group, r.data_id, r.origin) for r in boot_config_reads(props)] == expected


def test_plan_reads_nacos_spring_boot_properties():
    logins = plan([env("NACOS_CONFIG_SERVER_ADDR", ADDR), env("NACOS_CONFIG_BOOTSTRAP_ENABLE", "true"),
                   env("NACOS_CONFIG_DATA_IDS", "orders.yaml,common.yaml"), env("NACOS_CONFIG_NAMESPACE", "dev"),
                   secret_env("NACOS_CONFIG_USERNAME", "orders-nacos", "username"),
                   secret_env("NACOS_CONFIG_PASSWORD", "orders-nacos", "password")])
    assert [(x.credentials.username, [(r.namespace, r.data_id) for r in x.reads], x.config_namespace_set)
            for x in logins] == [("orders", [("dev", "orders.yaml"), ("dev", "common.yaml")], True)]
