"""Canary secrets, and the check that none of them, nor an encoding or hash of one, appears in an output.

The one place for a no-leak test to start from: the canaries and their forbidden forms (`assert_no_secret`), a
cluster that carries them wherever the checks read a secret (`canary_objects`), the operator's outputs read back
from a running harness (`operator_outputs`), every log record of the process at DEBUG (`captured_logs`), and
admission reviews that hold them (`admission_reviews`). A new output path adds its reader here or feeds its text
to `assert_no_secret`.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import hashlib
import json
import logging
from typing import Iterator

import jwt

# Each canary is a value an output must never show. The token key is valid Base64 of 32+ bytes so that it
# flows through every check rather than stopping at the first.
TOKEN_KEY = base64.b64encode(b"CANARY-token-key-0123456789abcdefXYZ").decode()
OTHER_KEY = base64.b64encode(b"CANARY-other-key-0123456789abcdefXYZ").decode()
SHORT_KEY = base64.b64encode(b"CANARY-short").decode()
BAD_KEY = "CANARY-not-base64!"
IDENTITY_VALUE = "CANARY-identity-value-7f3a"
PASSWORD = "CANARY-password-91c2"
ACCESS_TOKEN = jwt.encode({"sub": "CANARY-user", "exp": 1700000000}, base64.b64decode(OTHER_KEY), "HS256")

# Nacos server addresses with a canary where credentials can sit in one (userinfo, query, parameters, fragment),
# some with a separator inside the password, so that no cut of one may show a piece of it either.
CREDENTIAL_ADDRESSES = (
    f"http://orders:{PASSWORD}@nacos.elsewhere:8848/nacos", f"{PASSWORD}@nacos.elsewhere:8848",
    f"nacos.elsewhere:8848/nacos?accessToken={ACCESS_TOKEN}", f"nacos.elsewhere:8848?password={PASSWORD}",
    f"nacos.elsewhere:8848;password={PASSWORD}", f"nacos.elsewhere:8848#{PASSWORD}",
    f"orders:{PASSWORD[:9]},{PASSWORD[9:]}@nacos.elsewhere:8848", f"nacos.elsewhere:8848?password=x@{PASSWORD}",
)

FOREIGN_HEADER_TOKEN = ".".join(base64.urlsafe_b64encode(json.dumps(part).encode()).decode().rstrip("=") for part in (
    {"alg": PASSWORD}, {"sub": "CANARY-user", "exp": 1700000000})) + ".c2ln"

SECRETS = (TOKEN_KEY, OTHER_KEY, SHORT_KEY, BAD_KEY, IDENTITY_VALUE, PASSWORD, ACCESS_TOKEN)


def forbidden_forms(value: str) -> set[str]:
    """The value, its Base64 (standard and URL-safe, padded or not) and hex forms, its decoding, and the md5, sha1,
    sha256 and sha512 digests of each (hex either case, Base64), also cut to 12 characters (a "fingerprint")."""
    raw = [value.encode()]
    try:
        raw.append(base64.b64decode(value, validate=True))
    except ValueError:
        pass
    forms: set[str] = set()
    for data in raw:
        encoded = base64.b64encode(data).decode()
        forms |= {data.decode("utf-8", "ignore"), encoded, encoded.rstrip("="), data.hex(),
                  base64.urlsafe_b64encode(data).decode().rstrip("=")}
    digested = set(raw) | {form.encode() for form in forms}
    for data in digested:
        for algorithm in ("md5", "sha1", "sha256", "sha512"):
            digest = hashlib.new(algorithm, data)
            for text in (digest.hexdigest(), digest.hexdigest().upper(), base64.b64encode(digest.digest()).decode()):
                forms |= {text, text[:12]}
    return {form for form in forms if len(form) >= 8}


# How a server's answer can echo a secret without quoting it exactly (what an exact-copy filter misses).
MANGLERS = {
    "prefix": lambda v: f"bad password {v[: len(v) // 2]}",
    "percent": lambda v: "".join(f"%{b:02X}" for b in v.encode()),
    "html": lambda v: "".join(f"&#{ord(c)};" for c in v),
    "json": lambda v: '{"message": "' + "".join(f"\\u{ord(c):04x}" for c in v) + '"}',
    "swapcase": lambda v: f"user not found! {v.swapcase()}",
    "spaced": lambda v: " \t ".join(v),
    "base64": lambda v: base64.b64encode(v.encode()).decode(),
    "masked": lambda v: f"{v[:4]}{'*' * (len(v) - 8)}{v[-4:]}",
    "wrapped": lambda v: f"Code: 401, Message: {v}.",
}


def mangled_forms(value: str) -> set[str]:
    """Each mangled copy of `value`, and the pieces of it a message might keep (cut at 12 characters)."""
    forms = {mangle(value) for mangle in MANGLERS.values()}
    return forms | {form[-12:] for form in forms} | {" ".join(form.split()) for form in forms}


FORBIDDEN = set().union(*(forbidden_forms(v) for v in SECRETS)) | {"CANARY"}
# Compared without case: a copy that an output lower- or upper-cased is still a copy.
_FORBIDDEN_FOLDED = {form.casefold() for form in FORBIDDEN}


def assert_no_secret(text: str, where: str = "output") -> None:
    folded = text.casefold()
    leaks = sorted(form for form in _FORBIDDEN_FOLDED if form in folded)
    assert not leaks, f"{where} leaks secret material ({len(leaks)} form(s)), e.g. {leaks[0][:12]}..."


def properties_client(namespace: str = "shop") -> dict:
    """A client that reads its Nacos settings from a mounted application.properties (ConfigMap inventory-conf)
    and its password from Secret inventory-nacos."""
    from .objects import deployment, env, secret_env
    client = deployment("inventory", [env("NACOS_SERVER_ADDR", f"nacos-headless.{namespace}.svc.cluster.local:8848"),
                                      secret_env("NACOS_PASSWORD", "inventory-nacos", "password")], namespace,
                        volumes=[{"name": "conf", "configMap": {"name": "inventory-conf"}}])
    client["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "conf", "mountPath": "/app/config"}]
    return client


def admission_reviews(namespace: str = "shop") -> list[tuple[str, dict | bytes]]:
    """(path, body) pairs a webhook must answer without echoing a canary: new workloads with literal canary
    credentials, Secret edits and deletions whose old and new data hold canaries, a StatefulSet split onto a
    canary key, and malformed reviews that carry canaries where the webhook reads the fields it complains about."""
    from .admission import review
    from .objects import auth_secret, config_map, deployment, env, secret, server_env, spring_client, statefulset
    server = f"nacos-headless.{namespace}.svc.cluster.local:8848"
    literal = deployment("payments", [env("NACOS_SERVER_ADDR", server), env("NACOS_USERNAME", "payments"),
                                      env("NACOS_PASSWORD", PASSWORD), env("NACOS_ACCESS_TOKEN", ACCESS_TOKEN)],
                         namespace)
    properties = config_map("inventory-conf", {"application.properties": f"spring.cloud.nacos.password={PASSWORD}\n"
                                                                          f"spring.cloud.nacos.server-addr={server}\n",
                                               **unreadable_config_files()}, namespace)
    literal_key = statefulset("nacos-short", namespace=namespace, env_list=[
        e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", OTHER_KEY)
        for e in server_env("nacos-short-auth")])
    old_credentials = secret("orders-nacos", {"username": "orders", "pasword": PASSWORD}, namespace)
    bad_key = auth_secret("nacos-short-auth", key=SHORT_KEY, namespace=namespace)
    bad_key["data"]["token"] = BAD_KEY   # not Base64: the check reads it, the answer must not quote it
    reviews = [
        ("/validate-deployments", review("CREATE", literal)),
        ("/validate-deployments", review("CREATE", properties_client(namespace))),
        ("/validate-configmaps", review("CREATE", properties)),
        ("/validate-statefulsets", review("UPDATE", literal_key, statefulset(
            "nacos-short", namespace=namespace, env_list=server_env("nacos-short-auth")))),
        ("/validate-secrets", review("DELETE", old=old_credentials)),
        ("/validate-secrets", review("UPDATE", auth_secret("nacos-short-auth", key=OTHER_KEY, namespace=namespace),
                                     auth_secret("nacos-short-auth", key=SHORT_KEY, namespace=namespace))),
        ("/validate-secrets", review("UPDATE", bad_key, auth_secret("nacos-short-auth", key=SHORT_KEY,
                                                                      namespace=namespace))),
        ("/validate-deployments", review("CREATE", spring_client("orders", server=server, namespace=namespace))),
        ("/validate-pods", review("CREATE", {"apiVersion": "v1", "kind": "Pod", "metadata": literal["metadata"],
                                             "spec": literal["spec"]["template"]["spec"]})),
        ("/validate-cronjobs", review("CREATE", {
            "apiVersion": "batch/v1", "kind": "CronJob", "metadata": literal["metadata"],
            "spec": {"schedule": "0 * * * *", "jobTemplate": {"spec": {"template": literal["spec"]["template"]}}}})),
    ]
    malformed = review("CREATE", literal)
    malformed["apiVersion"] = PASSWORD
    reviews.append(("/validate-deployments", malformed))
    wrong_object = review("CREATE", literal)
    wrong_object["request"]["object"] = TOKEN_KEY
    reviews.append(("/validate-deployments", wrong_object))
    wrong_operation = review("CREATE", literal)
    wrong_operation["request"]["operation"] = IDENTITY_VALUE
    reviews.append(("/validate-deployments", wrong_operation))
    reviews.append((f"/validate-{TOKEN_KEY}", review("CREATE", literal)))
    reviews.append(("/validate-secrets", f'{{"apiVersion": "{ACCESS_TOKEN}", '.encode()))
    wrong_metadata = review("CREATE", copy.deepcopy(literal))
    wrong_metadata["request"]["object"]["metadata"] = PASSWORD
    reviews.append(("/validate-deployments", wrong_metadata))
    deep = review("CREATE", copy.deepcopy(literal))
    node = deep["request"]["object"]["spec"]
    for _ in range(150):
        node["x"] = {}
        node = node["x"]
    node["password"] = PASSWORD
    reviews.append(("/validate-deployments", deep))
    return reviews


def canary_objects(namespace: str = "shop") -> list[dict]:
    """A cluster that trips every check that handles a secret value, with canaries in every such place: literal
    env values, Secret data (keys, identity, passwords, a static token), a pod on another key."""
    from .objects import (auth_secret, config_map, deployment, env, pods_of, secret, secret_env, server_env,
                          service, spring_client, statefulset)
    server = f"nacos-headless.{namespace}.svc.cluster.local:8848"
    literal_env = [e for e in server_env() if e["name"] not in ("NACOS_AUTH_TOKEN", "NACOS_AUTH_IDENTITY_VALUE")]
    literal_env += [env("NACOS_AUTH_TOKEN", TOKEN_KEY), env("NACOS_AUTH_IDENTITY_VALUE", IDENTITY_VALUE)]
    sts = statefulset(env_list=literal_env, namespace=namespace)
    other_pod_env = [e if e["name"] != "NACOS_AUTH_TOKEN" else env("NACOS_AUTH_TOKEN", OTHER_KEY)
                     for e in literal_env]
    objects = [sts, service("nacos-headless", {"app": "nacos"}, namespace),
               *pods_of(sts, ["2026-11-22T10:00:00Z"] * 3, env_overrides={1: other_pod_env})]
    for name, key in (("nacos-short", SHORT_KEY), ("nacos-bad", BAD_KEY)):
        objects += [auth_secret(f"{name}-auth", key=key, namespace=namespace),
                    statefulset(name, env_list=server_env(f"{name}-auth"), namespace=namespace)]
    objects += [
        secret("orders-nacos", {"username": "orders", "pasword": PASSWORD}, namespace),
        spring_client(namespace=namespace, server=server),
        deployment("batch", [env("NACOS_SERVER_ADDR", server), env("NACOS_ACCESS_TOKEN", ACCESS_TOKEN)], namespace),
        deployment("legacy", [env("NACOS_SERVER_ADDR", server), env("NACOS_USERNAME", "legacy"),
                              env("NACOS_PASSWORD", PASSWORD)], namespace),
        secret("reports-token", {"token": ACCESS_TOKEN}, namespace),
        deployment("reports", [env("NACOS_SERVER_ADDR", server),
                               secret_env("NACOS_ACCESS_TOKEN", "reports-token", "token")], namespace),
        config_map("billing-conf", unreadable_config_files(), namespace),
        deployment("billing", [env("NACOS_SERVER_ADDR", server)], namespace,
                   volumes=[{"name": "conf", "configMap": {"name": "billing-conf"}}]),
    ]
    objects[-1]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "conf",
                                                                                "mountPath": "/app/config"}]
    # A token whose header names a canary as its algorithm: NAG501 must not quote the header.
    objects.append(deployment("foreign-token", [env("NACOS_SERVER_ADDR", server),
                                                env("NACOS_ACCESS_TOKEN", FOREIGN_HEADER_TOKEN)], namespace))
    # An OpenAPI caller (checks/openapi.py): a script in a ConfigMap with a static token and a literal login.
    objects.append(config_map("exporter-script", {"export.sh": (
        f"curl -H 'Authorization: Bearer {ACCESS_TOKEN}' http://{server}/nacos/v1/cs/configs\n"
        f"curl -X POST http://{server}/nacos/v1/auth/login -d username=ops -d password={PASSWORD}\n")}, namespace))
    objects.append(deployment("exporter", [], namespace,
                              volumes=[{"name": "script", "configMap": {"name": "exporter-script"}}]))
    objects[-1]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "script",
                                                                                "mountPath": "/scripts"}]
    # A curl with no identity (NAG506) whose query holds a canary: the message prints only scheme://host:port.
    objects.append(deployment("auditor", [], namespace))
    objects[-1]["spec"]["template"]["spec"]["containers"][0]["command"] = [
        "sh", "-c", f"curl -s 'http://{server}/nacos/v1/cs/configs?dataId={TOKEN_KEY}&group=DEFAULT_GROUP'"]
    # A Seata server (seata.py) whose registry.conf holds a canary password (NAG105 names the ConfigMap, key and
    # line), one whose password comes through ${SEATA_PW} from a literal env, and one whose broken registry.conf
    # has a canary where its parser stops (NAG106).
    seata_conf = (f'registry {{\n  type = "nacos"\n  nacos {{\n    serverAddr = "{server}"\n    username = "seata"\n'
                  f'    password = "{PASSWORD}"\n  }}\n}}\n')
    objects.append(config_map("seata-conf", {"registry.conf": seata_conf}, namespace))
    objects.append(config_map("seata-env-conf", {"registry.conf": seata_conf.replace(f'"{PASSWORD}"', "${SEATA_PW}")},
                              namespace))
    broken_conf = f'registry {{\n  nacos {{ password = "{PASSWORD}\n'
    objects.append(config_map("seata-broken-conf", {"registry.conf": broken_conf}, namespace))
    for name, conf, env_list in (("seata", "seata-conf", []), ("seata-env", "seata-env-conf",
                                                               [env("SEATA_PW", PASSWORD)]),
                                 ("seata-broken", "seata-broken-conf", [])):
        objects.append(deployment(name, env_list, namespace, image="seataio/seata-server:1.4.2",
                                  volumes=[{"name": "conf", "configMap": {"name": conf}}]))
        objects[-1]["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "conf", "mountPath": "/seata-server/resources"}]
    # Server addresses that carry credentials and match no Service: NAG402 quotes the address.
    for index, address in enumerate(CREDENTIAL_ADDRESSES):
        objects.append(deployment(f"elsewhere-{index}", [env("NACOS_SERVER_ADDR", address)], namespace))
    return objects


def unreadable_config_files() -> dict[str, str]:
    """Mounted config files their readers refuse (NAG106), each with a canary where the error is (issue 10)."""
    return {"application.yml": f"spring:\n  cloud:\n    nacos:\n      password: !!bool {PASSWORD}\n",
            "bootstrap.yml": f"spring.cloud.nacos.password: !{PASSWORD}\n",
            "bootstrap.properties": f"spring.cloud.nacos.password=C:\\users\\{PASSWORD}\n"}


class CapturedLogs:
    def __init__(self) -> None:
        self.records: list[logging.LogRecord] = []

    def text(self) -> str:
        """Each record as the operator prints it with `--log-format json` (kopf's formatter, which adds the object
        it is about), and every attribute of the record (arguments, extras, exception) besides."""
        try:
            import kopf
            from kopf._core.actions.loggers import make_formatter
            formatter: logging.Formatter = make_formatter(log_format=kopf.LogFormat.JSON)
        except (ImportError, AttributeError):   # kopf internals moved: the attributes below still hold everything
            formatter = logging.Formatter()
        lines = []
        for record in self.records:
            lines.append(formatter.format(record))
            lines.append(repr({key: value for key, value in vars(record).items() if key != "msg"}))
        return "\n".join(lines)

    def messages(self) -> list[str]:
        return [record.getMessage() for record in self.records]


@contextlib.contextmanager
def captured_logs() -> Iterator[CapturedLogs]:
    """Every log record of the process at DEBUG, from every thread and library (kopf, ours, the clients)."""
    captured = CapturedLogs()

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            record.getMessage()   # render now, while the arguments are as they were
            captured.records.append(record)

    root = logging.getLogger()
    handler, level = Keep(logging.DEBUG), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield captured
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def operator_outputs(cluster, checks: list[str]) -> dict[str, str]:
    """What the operator wrote and serves, read back from a running harness: the checks' status, every Event in
    the cluster's namespaces, and the metrics exposition."""
    from nacos_auth_guard.kube import metrics
    return {"status": json.dumps([cluster.check(name).get("status") for name in checks]),
            "events": json.dumps([e for namespace in cluster.namespaces for e in cluster.events(namespace=namespace)]),
            "metrics": metrics.exposition()}
