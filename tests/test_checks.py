"""Every check of the catalog, table-driven: objects in, exact (code, object, severity) out."""
from __future__ import annotations

import base64
import copy
from datetime import datetime, timedelta, timezone

import jwt
import pytest

from nacos_auth_guard.catalog import CATALOG
from nacos_auth_guard.checks import CheckContext, run_checks
from nacos_auth_guard.discovery import service_candidates, split_addresses
from nacos_auth_guard.nacos import OLD_DEFAULT_KEY
from nacos_auth_guard.snapshot import build_snapshot
from support.objects import (IMAGE, KEY_A, KEY_B, NS, auth_secret, config_map, deployment, env, healthy_cluster,
                             nacos_token, pods_of, secret, secret_env, server_env, spring_client, statefulset)

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
EARLY, ROTATED, LATE = "2026-11-20T08:00:00Z", "2026-11-21T09:30:00Z", "2026-11-22T10:00:00Z"
SERVER = "nacos-headless.shop.svc.cluster.local:8848"


def token(key: str, expires: datetime, sub: str = "nacos", **header) -> str:
    return nacos_token(key, int(expires.timestamp()), sub, **header)


def run(objects: list[dict], complete: bool = True, exclude=()) -> list[tuple[str, str, str]]:
    snapshot = build_snapshot(copy.deepcopy(objects), complete=complete)
    findings = run_checks(CheckContext.build(snapshot, NOW), exclude=exclude)
    return sorted((f.code, f.obj.name, str(f.severity)) for f in findings)


def no_exp_token(key: str) -> str:
    return jwt.encode({"sub": "nacos"}, base64.b64decode(key), "HS256", headers={"typ": None})


def replace(objects: list[dict], kind: str, name: str, new: dict | None) -> list[dict]:
    out = [o for o in objects if not (o["kind"] == kind and o["metadata"]["name"] == name)]
    return out + ([new] if new else [])


def with_env(name: str, env_list: list[dict], **kwargs) -> list[dict]:
    """The healthy cluster with the server's env replaced."""
    return replace(healthy_cluster(), "StatefulSet", "nacos", statefulset(env_list=env_list, **kwargs))


def server_env_with(**overrides) -> list[dict]:
    """Server env with some variables replaced (value str) or removed (value None)."""
    result = [e for e in server_env() if e["name"] not in overrides]
    return result + [env(name, value) for name, value in overrides.items() if value is not None]


def client(env_list: list[dict], name: str = "orders") -> dict:
    return deployment(name, [env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", SERVER)] + env_list)


def commanded(name: str, command: list[str]) -> dict:
    """A workload with no Nacos settings whose container runs `command`."""
    obj = deployment(name, [])
    obj["spec"]["template"]["spec"]["containers"][0]["command"] = command
    return obj


def key_in_mounted_file(env_list: list[dict]) -> list[dict]:
    """A 3.x cluster whose key is a literal in a mounted application.properties (a ConfigMap)."""
    sts = statefulset(env_list=env_list, image="nacos/nacos-server:v3.2.3",
                      pod_spec={"volumes": [{"name": "conf", "configMap": {"name": "nacos-conf"}}]})
    sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "conf", "mountPath": "/home/nacos/conf/application.properties", "subPath": "application.properties"}]
    conf = config_map("nacos-conf", {"application.properties": f"nacos.core.auth.plugin.nacos.token.secret.key={KEY_A}\n"
                                     "nacos.core.auth.server.identity.key=${NACOS_AUTH_IDENTITY_KEY:}\n"
                                     "nacos.core.auth.server.identity.value=${NACOS_AUTH_IDENTITY_VALUE:}\n"})
    return replace(healthy_cluster(), "StatefulSet", "nacos", sts) + [conf]


def server_file(text: str, image: str = IMAGE) -> list[dict]:
    """The healthy cluster with a mounted application.properties over the image's."""
    sts = statefulset(image=image, pod_spec={"volumes": [{"name": "conf", "configMap": {"name": "nacos-conf"}}]})
    sts["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
        {"name": "conf", "mountPath": "/home/nacos/conf/application.properties", "subPath": "application.properties"}]
    return replace(healthy_cluster(), "StatefulSet", "nacos", sts) + [
        config_map("nacos-conf", {"application.properties": text})]


def mismatched_identity(image: str, env_list: list[dict]) -> list[dict]:
    """Three pods of `image` with `env_list`; pod 0 sends another identity value."""
    sts = statefulset(env_list=env_list, image=image)
    other = [e if e["name"] != "NACOS_AUTH_IDENTITY_VALUE" else secret_env(
        "NACOS_AUTH_IDENTITY_VALUE", "nacos-auth-old", "identity-value") for e in env_list]
    return replace(healthy_cluster(), "StatefulSet", "nacos", sts) + [OLD_IDENTITY] + pods_of(
        sts, [LATE] * 3, env_overrides={0: other})


HEALTHY = healthy_cluster()
STS = statefulset()
POD_ENV_KEY_B = [e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", KEY_B) for e in server_env()]
POD_ENV_OTHER_ID = [e if e["name"] != "NACOS_AUTH_IDENTITY_VALUE" else secret_env(
    "NACOS_AUTH_IDENTITY_VALUE", "nacos-auth-old", "identity-value") for e in server_env()]
OLD_IDENTITY = secret("nacos-auth-old", {"identity-value": "0f3e2d1c9b8a7766"})
ROTATED_SECRET = auth_secret(changed={"token": ROTATED})
AUTH_OFF_POD = [e if e["name"] != "NACOS_AUTH_ENABLE" else env("NACOS_AUTH_ENABLE", "false") for e in server_env()]
CHECK_CR = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
            "metadata": {"name": "main", "namespace": NS}, "spec": {"server": {"statefulSetName": "nacos-prod"}}}

CASES = [
    # (id, objects, complete, expected findings)
    ("healthy cluster", HEALTHY, True, []),
    ("healthy cluster with pods", HEALTHY + pods_of(STS, [LATE] * 3), True, []),
    ("NAG001 check names a missing StatefulSet", HEALTHY + [CHECK_CR], True, [("NAG001", "main", "error")]),
    ("NAG001 not claimed when the input may be partial", HEALTHY + [CHECK_CR], False, []),
    ("a valid check on the server in the input", HEALTHY + [{**CHECK_CR, "spec": {
        "server": {"statefulSetName": "nacos"}, "enforcement": "Deny", "probe": {"enabled": False}}}], True, []),
    ("NAG002 a spec the operator refuses", HEALTHY + [{**CHECK_CR, "spec": {
        "server": {"statefulSetName": "nacos"}, "enforcement": "Block"}}], False, [("NAG002", "main", "error")]),
    ("NAG002 no server named", HEALTHY + [{**CHECK_CR, "spec": {"server": {"statefulSet": "nacos"}}}], True,
     [("NAG002", "main", "error")]),
    ("NAG101 client secret missing", replace(HEALTHY, "Secret", "orders-nacos", None), True,
     [("NAG101", "orders", "error")]),
    ("NAG101 unknown in partial input", replace(HEALTHY, "Secret", "orders-nacos", None), False, []),
    ("NAG101 optional reference is a warning",
     with_env("nacos", server_env_with(NACOS_AUTH_TOKEN=None) + [secret_env("NACOS_AUTH_TOKEN", "gone", "t", True)]),
     True, [("NAG101", "nacos", "warning")]),
    ("NAG102 key missing", replace(HEALTHY, "Secret", "orders-nacos", secret("orders-nacos", {"user": "x",
                                                                                             "password": "y"})),
     True, [("NAG102", "orders", "error")]),
    ("NAG103 configmap missing", with_env("nacos", server_env_with(NACOS_AUTH_ENABLE=None) + [
        {"name": "NACOS_AUTH_ENABLE", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "auth"}}}]), True,
     [("NAG103", "nacos", "error")]),
    ("NAG104 configmap key missing", with_env("nacos", server_env_with(NACOS_AUTH_ENABLE=None) + [
        {"name": "NACOS_AUTH_ENABLE", "valueFrom": {"configMapKeyRef": {"name": "flags", "key": "auth"}}}])
     + [config_map("flags", {"other": "true"})], True, [("NAG104", "nacos", "error")]),
    ("NAG105 literal key and identity value", with_env("nacos", server_env_with(
        NACOS_AUTH_TOKEN=KEY_A, NACOS_AUTH_IDENTITY_VALUE="b7c1e0d2f9a84c55")), True,
     [("NAG105", "nacos", "warning"), ("NAG105", "nacos", "warning")]),
    ("NAG105 not raised while auth is off", with_env("nacos", server_env_with(
        NACOS_AUTH_TOKEN=KEY_A, NACOS_AUTH_ENABLE="false")), True, []),
    ("NAG105 client password literal", replace(HEALTHY, "Deployment", "orders", client(
        [env("SPRING_CLOUD_NACOS_USERNAME", "orders"), env("SPRING_CLOUD_NACOS_PASSWORD", "pw-literal")])),
     True, [("NAG105", "orders", "warning")]),
    ("NAG201 auth on, no key", with_env("nacos", server_env_with(NACOS_AUTH_TOKEN=None)), True,
     [("NAG201", "nacos", "error")]),
    ("NAG201 empty key", with_env("nacos", server_env_with(NACOS_AUTH_TOKEN=None) + [
        secret_env("NACOS_AUTH_TOKEN", "empty", "token")]) + [secret("empty", {"token": ""})], True,
     [("NAG201", "nacos", "error")]),
    ("NAG202 key not Base64", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(key="not base64!")), True,
     [("NAG202", "nacos", "error")]),
    ("NAG202 key not text", replace(HEALTHY, "Secret", "nacos-auth", {
        **auth_secret(), "data": {**auth_secret()["data"], "token": "//79/A=="}}), True,
     [("NAG202", "nacos", "error")]),
    ("NAG203 key too short", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(key="c2hvcnQta2V5")), True,
     [("NAG203", "nacos", "error")]),
    ("NAG204 published key", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(
        key="SecretKey012345678901234567890123456789012345678901234567890123456789")), True,
     [("NAG204", "nacos", "error")]),   # 69 characters: 2.3.0+ drops the lone last one and gets 51 bytes
    # Published keys in the forms users copy (nacos.WELL_KNOWN_KEY_TEXTS); severity follows what checks tokens.
    ("NAG204 the Base64 of the published text", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(
        key=base64.b64encode(OLD_DEFAULT_KEY.encode()).decode())), True, [("NAG204", "nacos", "error")]),
    ("NAG204 the Base64 of its Base64", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(
        key=base64.b64encode(base64.b64encode(OLD_DEFAULT_KEY.encode())).decode())), True,
     [("NAG204", "nacos", "error")]),
    ("NAG204 the Base64 of the Base64 of Nacos' example", replace(HEALTHY, "Secret", "nacos-auth", auth_secret(
        key=base64.b64encode(b"VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=").decode())), True,
     [("NAG204", "nacos", "error")]),
    ("the decoded text of Nacos' example is too short to sign: NAG203, not NAG204", replace(
        HEALTHY, "Secret", "nacos-auth", auth_secret(key="ThisIsMyCustomSecretKey012345678")), True,
     [("NAG203", "nacos", "error")]),
    ("the chart's 'nil' key with auth on: too short, no forgery", replace(HEALTHY, "Secret", "nacos-auth",
                                                                       auth_secret(key="nil")), True,
     [("NAG203", "nacos", "error")]),
    ("NAG204 warning: auth off everywhere (2.4.3)", replace(
        with_env("nacos", server_env_with(NACOS_AUTH_ENABLE="false")), "Secret", "nacos-auth",
        auth_secret(key=OLD_DEFAULT_KEY)), True, [("NAG204", "nacos", "warning")]),
    ("NAG204 warning: an old image's default key with auth off (2.0.3)", with_env(
        "nacos", [env("MODE", "cluster")], image="nacos/nacos-server:v2.0.3"), True, [("NAG204", "nacos", "warning")]),
    ("NAG204 error: 3.x auth off, admin and console auth on by default", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None), image="nacos/nacos-server:v3.0.3"), "Secret", "nacos-auth",
        auth_secret(key=OLD_DEFAULT_KEY)), True, [("NAG204", "nacos", "error")]),
    ("NAG204 error: 3.x with only admin auth on", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None, NACOS_AUTH_CONSOLE_ENABLE="false"),
        image="nacos/nacos-server:v3.0.3"), "Secret", "nacos-auth", auth_secret(key=OLD_DEFAULT_KEY)), True,
     [("NAG204", "nacos", "error")]),
    ("NAG204 warning: 3.x with every kind of auth off", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None, NACOS_AUTH_CONSOLE_ENABLE="false",
                                 NACOS_AUTH_ADMIN_ENABLE="false"), image="nacos/nacos-server:v3.0.3"),
        "Secret", "nacos-auth", auth_secret(key=OLD_DEFAULT_KEY)), True, [("NAG204", "nacos", "warning")]),
    ("NAG202 warning where the server falls back to the text's bytes (2.2.1-2.2.x)",
     replace(with_env("nacos", server_env(), image="nacos/nacos-server:v2.2.3"), "Secret", "nacos-auth",
             auth_secret(key="this-is-not-base64-but-it-is-long-enough!")), True, [("NAG202", "nacos", "warning")]),
    ("a trailing newline (echo | base64) is skipped by the decoder", replace(HEALTHY, "Secret", "nacos-auth",
                                                                             auth_secret(key=KEY_A + "\n")), True, []),
    ("NAG204 old image default", with_env("nacos", [env("NACOS_AUTH_ENABLE", "true")],
                                          image="nacos/nacos-server:v2.0.3"), True,
     [("NAG204", "nacos", "error"), ("NAG303", "nacos", "error")]),
    ("NAG205 one pod on another key", HEALTHY + pods_of(STS, [LATE] * 3, env_overrides={1: POD_ENV_KEY_B}), True,
     [("NAG205", "nacos", "error")]),
    ("NAG205 template changed, pods not yet", replace(HEALTHY, "StatefulSet", "nacos", statefulset(
        env_list=server_env_with(NACOS_AUTH_TOKEN=None) + [secret_env("NACOS_AUTH_TOKEN", "nacos-auth-v2", "token")]))
     + [auth_secret("nacos-auth-v2", key=KEY_B)] + pods_of(STS, [LATE] * 3), True, [("NAG205", "nacos", "error")]),
    ("NAG205 compares references when secrets are not in the input",
     [STS] + pods_of(STS, [LATE] * 2) + pods_of(statefulset(env_list=server_env("other")), [LATE] * 3)[2:], False,
     [("NAG205", "nacos", "error"), ("NAG302", "nacos", "error")]),
    # From managedFields alone a write is known, not a value change (KNOWN_CHANGE below: the operator's case).
    ("NAG206 secret written between pod starts",
     replace(HEALTHY, "Secret", "nacos-auth", ROTATED_SECRET) + pods_of(STS, [EARLY, LATE, LATE]), True,
     [("NAG206", "nacos", "warning")]),
    ("NAG206 secret written after all pods started",
     replace(HEALTHY, "Secret", "nacos-auth", ROTATED_SECRET) + pods_of(STS, [EARLY, EARLY, EARLY]), True,
     [("NAG206", "nacos", "info")]),
    ("NAG206 not raised when pods started after the change",
     replace(HEALTHY, "Secret", "nacos-auth", ROTATED_SECRET) + pods_of(STS, [LATE] * 3), True, []),
    ("NAG207 auth off on one pod", HEALTHY + pods_of(STS, [LATE] * 3, env_overrides={2: AUTH_OFF_POD}), True,
     [("NAG207", "nacos", "error")]),
    ("NAG208 user agent bypass", with_env("nacos", server_env() + [
        env("NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE", "true")]), True, [("NAG208", "nacos", "error")]),
    ("NAG301 identity missing", with_env("nacos", server_env_with(NACOS_AUTH_IDENTITY_VALUE=None)), True,
     [("NAG301", "nacos", "error")]),
    # RemoteRequestAuthFilter.java:76-80, InnerApiAuthEnabled.java:75-80@3.0.3: 3.x checks the identity on its
    # cluster-internal APIs even with auth off; 2.x only with auth on.
    ("NAG302 3.x with auth off still checks the identity between nodes",
     mismatched_identity(image="nacos/nacos-server:v3.0.3", env_list=AUTH_OFF_POD), True,
     [("NAG302", "nacos", "error")]),
    ("2.x with auth off checks no identity", mismatched_identity(image="nacos/nacos-server:v2.4.3", env_list=AUTH_OFF_POD), True, []),
    ("NAG302 identity differs", HEALTHY + [OLD_IDENTITY]
     + pods_of(STS, [LATE] * 3, env_overrides={0: POD_ENV_OTHER_ID}), True, [("NAG302", "nacos", "error")]),
    ("NAG303 published identity", replace(HEALTHY, "Secret", "nacos-auth", secret("nacos-auth", {
        "token": KEY_A, "identity-key": "serverIdentity", "identity-value": "security"})), True,
     [("NAG303", "nacos", "error")]),
    # AbstractWebAuthFilter.java:90-97 (MATCHED skips auth), AuthConfig.java:64, NacosServerAdminAuthConfig.java:115
    # @3.0.3: 3.x's admin filter trusts the identity header, with admin auth on by default, auth.enabled or not.
    ("NAG303 3.x auth off: the published identity opens the admin API", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None), image="nacos/nacos-server:v3.0.3"), "Secret", "nacos-auth",
        secret("nacos-auth", {"token": KEY_A, "identity-key": "serverIdentity", "identity-value": "security"})),
     True, [("NAG303", "nacos", "error")]),
    ("3.x with admin and client auth off: the identity opens nothing", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None, NACOS_AUTH_ADMIN_ENABLE="false"),
        image="nacos/nacos-server:v3.0.3"), "Secret", "nacos-auth",
        secret("nacos-auth", {"token": KEY_A, "identity-key": "serverIdentity", "identity-value": "security"})),
     True, []),
    ("2.x auth off: the published identity opens nothing", replace(with_env(
        "nacos", server_env_with(NACOS_AUTH_ENABLE=None), image="nacos/nacos-server:v2.4.3"), "Secret", "nacos-auth",
        secret("nacos-auth", {"token": KEY_A, "identity-key": "serverIdentity", "identity-value": "security"})),
     True, []),
    ("NAG401 client without credentials", replace(HEALTHY, "Deployment", "orders", client([])), True,
     [("NAG401", "orders", "error")]),
    ("NAG401 username without password", replace(HEALTHY, "Deployment", "orders", client(
        [secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username")])), True,
     [("NAG401", "orders", "error")]),
    # NacosConfigProperties.java:118-124, NacosDiscoveryProperties.java:668-673@2022.0.0.0: each module falls back
    # only to spring.cloud.nacos.username/password, never to the other module's.
    ("NAG404 config module with only discovery's login", replace(HEALTHY, "Deployment", "orders", client([
        secret_env("SPRING_CLOUD_NACOS_DISCOVERY_USERNAME", "orders-nacos", "username"),
        secret_env("SPRING_CLOUD_NACOS_DISCOVERY_PASSWORD", "orders-nacos", "password")])), True,
     [("NAG404", "orders", "error")]),
    ("NAG404 discovery module with only config's login", replace(HEALTHY, "Deployment", "orders", client([
        env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", SERVER),
        secret_env("SPRING_CLOUD_NACOS_CONFIG_USERNAME", "orders-nacos", "username"),
        secret_env("SPRING_CLOUD_NACOS_CONFIG_PASSWORD", "orders-nacos", "password")])), True,
     [("NAG404", "orders", "error")]),
    # seata-spring-boot-starter's Nacos client sends only seata.registry.nacos.* logins (NacosRegistryServiceImpl
    # .java:196-204@v1.4.2); the app's Spring Cloud Alibaba login never reaches it
    ("NAG405 a Seata registry without a login in an app that logs in", replace(HEALTHY, "Deployment", "orders", client([
        secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username"),
        secret_env("SPRING_CLOUD_NACOS_PASSWORD", "orders-nacos", "password"), env("SEATA_REGISTRY_TYPE", "nacos"),
        env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)])), True, [("NAG405", "orders", "error")]),
    ("a discovery module that is off needs no login", replace(HEALTHY, "Deployment", "orders", client([
        env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", SERVER), env("SPRING_CLOUD_NACOS_DISCOVERY_ENABLED", "false"),
        secret_env("SPRING_CLOUD_NACOS_CONFIG_USERNAME", "orders-nacos", "username"),
        secret_env("SPRING_CLOUD_NACOS_CONFIG_PASSWORD", "orders-nacos", "password")])), True, []),
    ("the shared login reaches both modules", replace(HEALTHY, "Deployment", "orders", client([
        env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", SERVER),
        secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username"),
        secret_env("SPRING_CLOUD_NACOS_PASSWORD", "orders-nacos", "password")])), True, []),
    # mysql-schema.sql:211@2.3.2 creates user nacos/nacos; 2.4.0 dropped it.
    ("NAG403 client logs in as nacos/nacos", replace(HEALTHY, "Deployment", "orders", client(
        [secret_env("NACOS_USERNAME", "orders-login", "u"), secret_env("NACOS_PASSWORD", "orders-login", "p")]))
     + [secret("orders-login", {"u": "nacos", "p": "nacos"})], True, [("NAG403", "orders", "warning")]),
    ("a user named nacos with a password of its own is fine", replace(HEALTHY, "Deployment", "orders", client(
        [secret_env("NACOS_USERNAME", "orders-login", "u"), secret_env("NACOS_PASSWORD", "orders-login", "p")]))
     + [secret("orders-login", {"u": "nacos", "p": "Zq9-own-password"})], True, []),
    ("NAG401 not raised when the server has auth off",
     replace(with_env("nacos", server_env_with(NACOS_AUTH_ENABLE="false")), "Deployment", "orders", client([])),
     True, []),
    ("NAG402 address matches no service", replace(HEALTHY, "Deployment", "orders", spring_client(
        server="nacos.elsewhere.svc.cluster.local:8848")), True, [("NAG402", "orders", "info")]),
    ("NAG501 malformed token", replace(HEALTHY, "Deployment", "orders", client(
        [env("NACOS_ACCESS_TOKEN", "not-a-jwt")])), True,
     [("NAG105", "orders", "warning"), ("NAG501", "orders", "error")]),
    ("NAG502 expired token", HEALTHY + [secret("tok", {"t": token(KEY_A, NOW - timedelta(hours=1))}), client(
        [secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")], True, [("NAG502", "batch", "error")]),
    ("NAG503 token expiring", HEALTHY + [secret("tok", {"t": token(KEY_A, NOW + timedelta(days=2))}), client(
        [secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")], True, [("NAG503", "batch", "warning")]),
    # ConfigController.java:233 @Secured@2.5.0; AbstractAuthenticationManager.java:58@2.4.3: "user not found!"
    ("NAG506 a curl of the config API with no token", HEALTHY + [commanded("exporter", [
        "sh", "-c", "curl -s 'http://nacos-headless.shop.svc.cluster.local:8848/nacos/v1/cs/configs?dataId=a&group=G'"
    ])], True, [("NAG506", "exporter", "error")]),
    # The address names no known server: checked against every known key; no key verifies it, but it may be sent
    # to a Nacos outside the input, so a warning.
    ("NAG504 warning: a token for an unknown address that no known key signed", HEALTHY + [
        secret("tok", {"t": token(KEY_B, NOW + timedelta(days=90))}), deployment("batch", [
            env("NACOS_SERVER_ADDR", "nacos.elsewhere.example.com:8848"),
            secret_env("NACOS_ACCESS_TOKEN", "tok", "t")])],
     True, [("NAG402", "batch", "info"), ("NAG504", "batch", "warning")]),
    ("a token for an unknown address that a known key signed: that server is its target", HEALTHY + [
        secret("tok", {"t": token(KEY_A, NOW + timedelta(days=90))}), deployment("batch", [
            env("NACOS_SERVER_ADDR", "nacos.elsewhere.example.com:8848"),
            secret_env("NACOS_ACCESS_TOKEN", "tok", "t")])],
     True, [("NAG402", "batch", "info")]),
    ("NAG504 token from another key", HEALTHY + [secret("tok", {"t": token(KEY_B, NOW + timedelta(days=90))}),
                                                 client([secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")],
     True, [("NAG504", "batch", "error")]),
    ("NAG501 token made by another tool (typ header): 2.2.1+ rejects it",
     HEALTHY + [secret("tok", {"t": token(KEY_A, NOW + timedelta(days=90), typ="JWT")}),
                client([secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")], True, [("NAG501", "batch", "error")]),
    # NacosJwtPayload.java:31@2.2.1: exp starts as the parse time; jjwt before 2.2.1 checks exp only when present.
    ("NAG505 token without exp: 2.2.1+ accepts it forever",
     HEALTHY + [secret("tok", {"t": no_exp_token(KEY_A)}), client([secret_env("NACOS_ACCESS_TOKEN", "tok", "t")],
                                                                  "batch")], True, [("NAG505", "batch", "warning")]),
    ("NAG505 token without exp: jjwt-based 2.2.0 never expires it either",
     with_env("nacos", server_env(), image="nacos/nacos-server:v2.2.0") + [
         secret("tok", {"t": no_exp_token(KEY_A)}), client([secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")],
     True, [("NAG505", "batch", "warning")]),
    # Version rules (alibaba/nacos JwtTokenManager, AuthConfigs; nacos-docker docker-startup.sh).
    ("2.4.3, auth off, no key: the key is not loaded", with_env("nacos", [env("MODE", "cluster")]), True, []),
    # JwtTokenManager.java:73@2.2.1 throws on a bad key whatever auth says; :80@2.2.2 only with auth on.
    ("2.2.1 loads the key at startup even with auth off", with_env(
        "nacos", [env("MODE", "cluster"), env("NACOS_AUTH_TOKEN", ""), env("NACOS_AUTH_IDENTITY_KEY", ""),
                  env("NACOS_AUTH_IDENTITY_VALUE", "")], image="nacos/nacos-server:v2.2.1"), True,
     [("NAG201", "nacos", "error")]),
    # nacos-docker build/conf/application.properties:28,32,33@v2.2.1: ${NACOS_AUTH_TOKEN} etc. without a default;
    # v2.2.2 added the empty defaults (:29,33,34@v2.2.2).
    ("v2.2.1 image without the NACOS_AUTH_* env: unresolvable placeholders, auth on or off", with_env(
        "nacos", [env("MODE", "cluster")], image="nacos/nacos-server:v2.2.1"), True,
     [("NAG201", "nacos", "error"), ("NAG301", "nacos", "error")]),
    ("v2.2.1 image with the env set (empty identity, auth off): it starts", with_env(
        "nacos", [env("MODE", "cluster"), secret_env("NACOS_AUTH_TOKEN", "nacos-auth", "token"),
                  env("NACOS_AUTH_IDENTITY_KEY", ""), env("NACOS_AUTH_IDENTITY_VALUE", "")],
        image="nacos/nacos-server:v2.2.1"), True, []),
    ("2.2.2, auth off, no key: it starts", with_env(
        "nacos", [env("MODE", "cluster")], image="nacos/nacos-server:v2.2.2"), True, []),
    ("2.2.3, auth off, no key: it starts", with_env(
        "nacos", [env("MODE", "cluster")], image="nacos/nacos-server:v2.2.3"), True, []),
    ("3.x, auth off: console auth (on by default) needs a valid key",
     replace(with_env("nacos", server_env_with(NACOS_AUTH_ENABLE=None), image="nacos/nacos-server:v3.2.3"),
             "Secret", "nacos-auth", auth_secret(key="c2hvcnQta2V5")), True, [("NAG203", "nacos", "error")]),
    ("3.x, auth and console auth off: a short key is not loaded",
     replace(with_env("nacos", server_env_with(NACOS_AUTH_ENABLE=None, NACOS_AUTH_CONSOLE_ENABLE="false"),
                      image="nacos/nacos-server:v3.2.3"),
             "Secret", "nacos-auth", auth_secret(key="c2hvcnQta2V5")), True, []),
    ("3.x image without the env its startup script requires, auth off",
     with_env("nacos", [env("MODE", "cluster")], image="nacos/nacos-server:v3.2.3"), True,
     [("NAG201", "nacos", "error"), ("NAG301", "nacos", "error")]),
    # nacos/nacos-server:latest is 3.x (from any registry); another repository's untagged build is a guess: the SCA
    # example chart's sca-community/nacos-server goes with nacos-server:v2.1.0 in its docker-compose file.
    ("latest of nacos/nacos-server, mirrored: the 3.x script applies",
     with_env("nacos", [env("MODE", "cluster")], image="registry.example.com/nacos/nacos-server:latest"), True,
     [("NAG201", "nacos", "error"), ("NAG301", "nacos", "error")]),
    ("another repository's untagged image: the 3.x script may not apply, a warning",
     with_env("nacos", [env("MODE", "cluster")], image="registry.cn-hangzhou.aliyuncs.com/sca-community/nacos-server"),
     True, [("NAG201", "nacos", "warning"), ("NAG301", "nacos", "warning")]),
    ("3.x key only in a mounted file: the startup script still exits without env NACOS_AUTH_TOKEN",
     key_in_mounted_file(server_env_with(NACOS_AUTH_TOKEN=None)), True,
     [("NAG105", "nacos", "warning"), ("NAG201", "nacos", "error")]),
    ("3.x key in a mounted file and the env the script wants set", key_in_mounted_file(server_env_with(
        NACOS_AUTH_TOKEN="see-application.properties")), True, [("NAG105", "nacos", "warning")]),
    # AuthConfigs.java:101@2.3.1 lets standalone start without one, but AuthFilter.java:92-98@2.4.3 then answers
    # every request with 403: still an error.
    ("standalone 2.4.3 with auth on still needs an identity", with_env("nacos", server_env_with(
        MODE="standalone", NACOS_AUTH_IDENTITY_KEY=None, NACOS_AUTH_IDENTITY_VALUE=None)), True,
     [("NAG301", "nacos", "error")]),
    ("standalone 2.3.0 with auth on still needs one", with_env("nacos", server_env_with(
        MODE="standalone", NACOS_AUTH_IDENTITY_KEY=None, NACOS_AUTH_IDENTITY_VALUE=None),
        image="nacos/nacos-server:v2.3.0"), True, [("NAG301", "nacos", "error")]),
    # AuthFilter.java:74@1.4.0 bypasses for the User-Agent unconditionally; :76@1.4.1 only with the setting, whose
    # code default is true (AuthConfigs.java:71@1.4.1, no line in the jar); false in the jar from 1.4.2
    # (console application.properties:130@1.4.2); 2.5.0's filter no longer reads it (AuthFilter.java:93@2.5.0).
    ("NAG208 1.4.0 skips auth for the User-Agent whatever the setting", with_env("nacos", server_env() + [
        env("NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE", "false")], image="nacos/nacos-server:1.4.0"), True,
     [("NAG208", "nacos", "error")]),
    ("1.4.1 image: nacos-docker's file sets it false (build/conf/application.properties:27@0e15aa0)", with_env(
        "nacos", server_env(), image="nacos/nacos-server:1.4.1"), True, []),
    ("NAG208 1.4.1 with its own file: the jar leaves the setting at its code default, true",
     server_file("nacos.core.auth.enabled=true\n", image="nacos/nacos-server:1.4.1"), True,
     [("NAG204", "nacos", "error"), ("NAG208", "nacos", "error"), ("NAG303", "nacos", "error")]),   # jar defaults
    # v1.4.5-v1.4.8 images default to no key and no identity (build/conf/application.properties:24,29,30@v1.4.5);
    # the v1.4.4 image writes the key under the 2.1 name its server does not read, so the jar's published key applies.
    ("v1.4.5 image, auth on, no env: no key and no identity", with_env(
        "nacos", [env("NACOS_AUTH_ENABLE", "true")], image="nacos/nacos-server:v1.4.5"), True,
     [("NAG201", "nacos", "error"), ("NAG301", "nacos", "error")]),
    ("v1.4.4 image ignores NACOS_AUTH_TOKEN: the published key", with_env(
        "nacos", server_env(), image="nacos/nacos-server:v1.4.4"), True, [("NAG204", "nacos", "error")]),
    ("NAG303 nacos-docker's env/*.env identity 2222/2xxx", with_env("nacos", server_env_with(
        NACOS_AUTH_IDENTITY_KEY="2222", NACOS_AUTH_IDENTITY_VALUE="2xxx")), True,
     [("NAG105", "nacos", "warning"), ("NAG303", "nacos", "error")]),   # and it is a literal
    ("1.4.2's jar turns the bypass off", with_env("nacos", server_env(), image="nacos/nacos-server:1.4.2"), True, []),
    ("NAG208 2.4.3 still reads userAgentAuthWhite", with_env("nacos", server_env() + [
        env("NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE", "true")], image="nacos/nacos-server:v2.4.3"), True,
     [("NAG208", "nacos", "error")]),
    ("2.5.0 no longer reads userAgentAuthWhite", with_env("nacos", server_env() + [
        env("NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE", "true")], image="nacos/nacos-server:v2.5.0"), True, []),
    ("3.x no longer reads userAgentAuthWhite", with_env("nacos", server_env() + [
        env("NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE", "true")], image="nacos/nacos-server:v3.2.3"), True, []),
    ("a half-done auth rollout is NAG207 alone, not also NAG205",
     HEALTHY + pods_of(STS, [LATE] * 3, env_overrides={2: [env("MODE", "cluster")]}), True,
     [("NAG207", "nacos", "error")]),
    ("NAG106 a mounted server file Nacos refuses: OriginTrackedPropertiesLoader.java:225@2.4.3",
     server_file("nacos.core.auth.enabled=true\nnacos.logs.path=C:\\users\\nacos\n"), True,
     [("NAG106", "nacos", "error")]),
    ("valid token", HEALTHY + [secret("tok", {"t": token(KEY_A, NOW + timedelta(days=90))}), client(
        [secret_env("NACOS_ACCESS_TOKEN", "tok", "t")], "batch")], True, []),
]


@pytest.mark.parametrize("objects,complete,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_checks(objects, complete, expected):
    assert run(objects, complete) == sorted(expected)


def test_every_code_but_probe_is_covered_by_a_case():
    covered = {code for case in CASES for code, _, _ in case[3]}
    assert covered == {code for code in CATALOG if not code.startswith("NAG6")}


def test_exclude_and_ignore_annotation():
    broken = replace(HEALTHY, "Deployment", "orders", client([]))
    assert run(broken, exclude=["NAG401"]) == []
    annotated = client([])
    annotated["metadata"]["annotations"] = {"nacosguard.io/ignore": "NAG105, nag401"}
    assert run(replace(HEALTHY, "Deployment", "orders", annotated)) == []


def test_messages_name_objects_and_fixes():
    snapshot = build_snapshot(replace(HEALTHY, "Secret", "orders-nacos", None), complete=True)
    [found] = run_checks(CheckContext.build(snapshot, NOW))
    assert "orders-nacos" in found.message and "SPRING_CLOUD_NACOS_USERNAME" in found.message
    assert "CreateContainerConfigError" in found.message and "Fix: create Secret orders-nacos" in found.message
    assert found.cluster.name == "nacos"


MISSING_MOUNT = deployment("reports", [env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", SERVER)],
                           volumes=[{"name": "bootstrap", "configMap": {"name": "reports-bootstrap"}}])
MISSING_MOUNT["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
    {"name": "bootstrap", "mountPath": "/app/config"}]

MESSAGE_CASES = [
    # (id, objects, code, text the message must hold, text it must not hold)
    ("a missing Secret key is named once", replace(HEALTHY, "Secret", "orders-nacos", secret(
        "orders-nacos", {"username": "orders", "pasword": "x"})), "NAG102",
     "env SPRING_CLOUD_NACOS_PASSWORD of container app in Deployment/shop/orders reads key 'password' of Secret "
     "orders-nacos, which has no such key", "(Secret orders-nacos key"),
    ("a mounted ConfigMap that does not exist is one reference: the volume", HEALTHY + [MISSING_MOUNT], "NAG103",
     "volume bootstrap of container app in Deployment/shop/reports references ConfigMap reports-bootstrap",
     "more reference"),
    ("key mismatch on 2.2.1+ says what clients see: Invalid signature",
     HEALTHY + pods_of(STS, [LATE] * 3, env_overrides={1: POD_ENV_KEY_B}), "NAG205",
     'get 403 "Invalid signature"', "token invalid!."),
    ("key mismatch on 2.2.0 (jjwt) says token invalid!", with_env("nacos", server_env(),
                                                                    image="nacos/nacos-server:v2.2.0")
     + pods_of(statefulset(image="nacos/nacos-server:v2.2.0"), [LATE] * 3, env_overrides={1: POD_ENV_KEY_B}),
     "NAG205", 'get 403 "token invalid!"', "Invalid signature"),
    ("a split under OnDelete is fixed by deleting the pods, not by a rollout restart",
     replace(HEALTHY, "StatefulSet", "nacos", statefulset(updateStrategy={"type": "OnDelete"}))
     + pods_of(STS, [LATE] * 3, env_overrides={1: POD_ENV_KEY_B}), "NAG205",
     "kubectl delete pod nacos-0 nacos-1 nacos-2 -n shop (its updateStrategy is OnDelete", "rollout restart statefulset"),
    ("a stale key under RollingUpdate is fixed by a rollout restart",
     replace(HEALTHY, "Secret", "nacos-auth", ROTATED_SECRET) + pods_of(STS, [EARLY, LATE, LATE]), "NAG206",
     "Fix: restart all pods of StatefulSet/shop/nacos together so they all load the current key: kubectl rollout "
     "restart statefulset/nacos -n shop.", "delete pod"),
    ("v2.1.0 ignores NACOS_AUTH_TOKEN: the fix is an upgrade", with_env("nacos", server_env(),
                                                                          image="nacos/nacos-server:v2.1.0"), "NAG204",
     "(the image ignores NACOS_AUTH_TOKEN: its application.properties feeds it into nacos.core.auth.default.token."
     "secret.key, which Nacos 2.1.0 does not read; alibaba/nacos#9830)", "Fix: replace"),
    ("an old image's default key says it is the default", with_env("nacos", [env("NACOS_AUTH_ENABLE", "true")],
                                                                    image="nacos/nacos-server:v2.0.3"), "NAG204",
     "is a published default value (the image's default: nothing sets the key)", "ignores"),
    ("NAG204 names the kinds of auth a forged token passes (3.x defaults: admin API and console)", replace(
        with_env("nacos", server_env_with(NACOS_AUTH_ENABLE=None), image="nacos/nacos-server:v3.0.3"),
        "Secret", "nacos-auth", auth_secret(key=OLD_DEFAULT_KEY)), "NAG204",
     "that the admin API (nacos.core.auth.admin.enabled) and the console (nacos.core.auth.console.enabled) accept",
     "client and open API"),
    ("NAG204 with auth on says the client API accepts forged tokens", replace(HEALTHY, "Secret", "nacos-auth",
                                                                             auth_secret(key=OLD_DEFAULT_KEY)),
     "NAG204", "anyone can sign a token for any user, the admin nacos included, that the client and open API "
     "(nacos.core.auth.enabled) accepts", "auth is off"),
    ("NAG204 with auth off everywhere forges nothing today", replace(
        with_env("nacos", server_env_with(NACOS_AUTH_ENABLE="false")), "Secret", "nacos-auth",
        auth_secret(key=OLD_DEFAULT_KEY)), "NAG204", "auth is off, so no request checks a token today", "accepts"),
    ("a non-Base64 key on 2.0.3 (no UTF-8 fallback before 2.0.4): an error, logins fail", replace(
        with_env("nacos", server_env(), image="nacos/nacos-server:v2.0.3"), "Secret", "nacos-auth",
        auth_secret(key="abc!def" * 8)), "NAG202",
     "the server cannot derive its signing key: Nacos 2.0.3 starts, but every login fails", "falls back"),
    ("identity mismatch reads as English", HEALTHY + [OLD_IDENTITY]
     + pods_of(STS, [LATE] * 3, env_overrides={0: POD_ENV_OTHER_ID}), "NAG302",
     "with different server identity values:", "identity value:"),
    # A mismatch falls through to user auth (AuthFilter.java:92-98@2.4.3): the peer gets the login failure text.
    ("identity mismatch quotes the user-auth answer, not the no-identity one", HEALTHY + [OLD_IDENTITY]
     + pods_of(STS, [LATE] * 3, env_overrides={0: POD_ENV_OTHER_ID}), "NAG302",
     'cluster-internal HTTP calls between them fail with 403 "user not found!"', "Invalid server identity key"),
    ("a token that is not a JWT", replace(HEALTHY, "Deployment", "orders", client(
        [secret_env("NACOS_ACCESS_TOKEN", "orders-nacos", "password")])), "NAG501",
     'is not a valid Nacos token, not a JWT (DecodeError): every request fails with 403 "token invalid!".', "(("),
]


@pytest.mark.parametrize("objects,code,wanted,unwanted", [c[1:] for c in MESSAGE_CASES],
                         ids=[c[0] for c in MESSAGE_CASES])
def test_messages_read_well(objects, code, wanted, unwanted):
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    [message] = [f.message for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == code]
    assert wanted in message and unwanted not in message, message


# Each case: pod start times, when the key's value is known to have changed (None: only its managedFields write
# time, ROTATED, is known), and the NAG206 severity and words.
KNOWN_CHANGE = {
    "changed between pod starts: error": ([EARLY, LATE, LATE], ROTATED, "error",
                                           "changed at 2026-11-21T09:30:00Z, after pods {nacos-0} of"),
    "changed after all pods started: warning": ([EARLY] * 3, ROTATED, "warning",
                                                "every pod still runs the previous key, so nothing fails yet"),
    "written between pod starts: warning": ([EARLY, LATE, LATE], None, "warning",
                                            "was written at 2026-11-21T09:30:00Z (its managedFields time; whether "
                                            "the key's value changed then cannot be told from it), after pods "
                                            "{nacos-0} of StatefulSet/shop/nacos started: if it did, they still run "
                                            "the previous key"),
    "written after all pods started: info": ([EARLY] * 3, None, "info", "if it did, every pod still runs"),
    "changed before every pod started: nothing": ([LATE] * 3, ROTATED, None, ""),
}


@pytest.mark.parametrize("started,changed,severity,words", KNOWN_CHANGE.values(), ids=KNOWN_CHANGE.keys())
def test_a_stale_key_is_an_error_only_when_its_value_change_is_known(started, changed, severity, words):
    snapshot = build_snapshot(copy.deepcopy(replace(HEALTHY, "Secret", "nacos-auth", ROTATED_SECRET)
                                            + pods_of(STS, started)), complete=True)
    if changed is not None:   # what the operator knows once it saw the value change
        snapshot.secrets[("shop", "nacos-auth")].changed_at["token"] = datetime.fromisoformat(
            changed.replace("Z", "+00:00"))
    found = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == "NAG206"]
    assert [str(f.severity) for f in found] == ([severity] if severity else [])
    assert all(words in f.message for f in found), [f.message for f in found]


def test_group_message_names_pods():
    objects = HEALTHY + pods_of(STS, [LATE] * 3, env_overrides={1: POD_ENV_KEY_B})
    [found] = run_checks(CheckContext.build(build_snapshot(copy.deepcopy(objects), complete=True), NOW))
    assert "pods {nacos-0, nacos-2, new pods from the current template} and {nacos-1}" in found.message


@pytest.mark.parametrize("value,expected", [
    ("nacos-headless:8848", ["nacos-headless"]),
    ("http://nacos-0.nacos-headless.shop.svc.cluster.local:8848/nacos,nacos-1.nacos-headless:8848",
     ["nacos-0.nacos-headless.shop.svc.cluster.local", "nacos-1.nacos-headless"]),
    ("10.0.0.7:8848 [::1]:8848", ["10.0.0.7", "::1"]),
])
def test_split_addresses(value, expected):
    assert split_addresses(value) == expected


@pytest.mark.parametrize("host,expected", [
    ("nacos", [("shop", "nacos")]),
    ("nacos.infra", [("infra", "nacos"), ("shop", "infra")]),
    ("nacos.infra.svc", [("infra", "nacos")]),
    ("nacos.infra.svc.cluster.local", [("infra", "nacos")]),
    ("nacos-0.nacos-headless.infra.svc.cluster.local", [("infra", "nacos-headless")]),
    ("nacos-0.nacos-headless.infra", [("infra", "nacos-headless")]),
    ("10.1.2.3", []),
    ("nacos.example.com.cn", []),
])
def test_service_candidates(host, expected):
    assert service_candidates(host, "shop") == expected


def test_client_maps_to_server_in_another_namespace():
    objects = healthy_cluster("infra") + [secret("creds", {"username": "u", "password": "p"}),
                                          spring_client("billing", server="nacos-headless.infra:8848",
                                                        secret_name="creds")]
    snapshot = build_snapshot(objects, complete=True)
    ctx = CheckContext.build(snapshot, NOW)
    billing = next(c for c in ctx.topology.clients if c.ref.name == "billing")
    assert [s.name for s in billing.servers] == ["nacos"] and billing.servers[0].namespace == "infra"


@pytest.mark.parametrize("image,text", [
    # NacosAuthManager.java:141@2.2.0.1; AbstractAuthenticationManager.java:58@2.2.1, :41@3.0.3; AuthResult.java:26@3.0.3
    ("nacos/nacos-server:v2.2.0.1", '403 "unknown user!"'),
    ("nacos/nacos-server:v2.4.3", '403 "user not found!"'),
    ("nacos/nacos-server:v3.0.3",
     '403 "Code: 401, Message: User not found! Please check user exist or password is right!."'),
])
def test_client_messages_quote_what_that_version_sends(image, text):
    objects = replace(replace(HEALTHY, "Deployment", "orders", client([])), "StatefulSet", "nacos",
                      statefulset(env_list=server_env(), image=image))
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    [nag401] = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == "NAG401"]
    assert text in nag401.message


NO_IDENTITY = dict(NACOS_AUTH_IDENTITY_KEY="", NACOS_AUTH_IDENTITY_VALUE="")


@pytest.mark.parametrize("image,mode,impact", [
    # AuthConfigs.java:101@2.2.1 stops startup; :101@2.3.1 exempts standalone; AuthFilter.java:92-98@2.4.3 and
    # AbstractProtocolAuthService.java:96@2.5.0 then refuse requests (2.5: the @Secured ones).
    ("v2.2.0.1", "cluster", 'the server starts, but answers every HTTP request, login and console included, with 403 '
                            '"Invalid server identity key or value"'),
    ("v2.3.0", "standalone", "the server refuses to start"),
    ("v2.3.1", "standalone", "the server starts, but answers every HTTP request, login and console included,"),
    ("v2.3.1", "cluster", "the server refuses to start"),
    ("v2.5.0", "standalone", 'answers every request to a client or console API with 403 "Invalid server identity'),
])
def test_missing_identity_impact_per_version(image, mode, impact):
    objects = with_env("nacos", server_env_with(MODE=mode, **NO_IDENTITY), image=f"nacos/nacos-server:{image}")
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    [nag301] = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == "NAG301"]
    assert impact in nag301.message, nag301.message


@pytest.mark.parametrize("image,wanted", [
    ("nacos/nacos-server:v2.3.2", "Nacos 2.3.2 creates that user as the admin"),
    ("nacos/nacos-server:v2.4.0", 'creates no default user (2.4.0 dropped it), so the login fails with 403 '
                                  '"user not found!"'),
])
def test_default_admin_login_per_version(image, wanted):
    objects = replace(replace(HEALTHY, "Deployment", "orders", client(
        [secret_env("NACOS_USERNAME", "orders-login", "u"), secret_env("NACOS_PASSWORD", "orders-login", "p")])),
        "StatefulSet", "nacos", statefulset(env_list=server_env(), image=image)) + [
        secret("orders-login", {"u": "nacos", "p": "nacos"})]
    snapshot = build_snapshot(copy.deepcopy(objects), complete=True)
    [nag403] = [f for f in run_checks(CheckContext.build(snapshot, NOW)) if f.code == "NAG403"]
    assert wanted in nag403.message, nag403.message
