"""Canary secrets, and the check that none of them, nor an encoding or hash of one, appears in an output."""
from __future__ import annotations

import base64
import hashlib

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

SECRETS = (TOKEN_KEY, OTHER_KEY, SHORT_KEY, BAD_KEY, IDENTITY_VALUE, PASSWORD, ACCESS_TOKEN)


def forbidden_forms(value: str) -> set[str]:
    """The value, its Base64 forms, its decoding, and common hashes of each."""
    forms = {value, base64.b64encode(value.encode()).decode()}
    try:
        forms.add(base64.b64decode(value, validate=True).decode("utf-8", "ignore"))
    except ValueError:
        pass
    for form in list(forms):
        for algorithm in ("md5", "sha1", "sha256"):
            digest = hashlib.new(algorithm, form.encode())
            forms |= {digest.hexdigest(), base64.b64encode(digest.digest()).decode()}
    return {form for form in forms if len(form) >= 8}


FORBIDDEN = set().union(*(forbidden_forms(v) for v in SECRETS)) | {"CANARY"}


def assert_no_secret(text: str, where: str = "output") -> None:
    leaks = sorted(form for form in FORBIDDEN if form in text)
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
                                                                          f"spring.cloud.nacos.server-addr={server}\n"},
                            namespace)
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
    return reviews
