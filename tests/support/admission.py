"""AdmissionReview requests as the apiserver sends them, and a small client for the webhook port."""
from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import ssl
import uuid

RESOURCES = {"Deployment": ("apps", "v1", "deployments"), "StatefulSet": ("apps", "v1", "statefulsets"),
             "ReplicaSet": ("apps", "v1", "replicasets"), "DaemonSet": ("apps", "v1", "daemonsets"),
             "Job": ("batch", "v1", "jobs"), "CronJob": ("batch", "v1", "cronjobs"), "Pod": ("", "v1", "pods"),
             "Secret": ("", "v1", "secrets"), "ConfigMap": ("", "v1", "configmaps")}


def review(operation: str, obj: dict | None = None, old: dict | None = None, *, dry_run: bool = False,
           kind: str | None = None) -> dict:
    """An admission.k8s.io/v1 AdmissionReview for `obj` (CREATE, UPDATE) or `old` (DELETE, UPDATE)."""
    subject = obj if obj is not None else old
    kind = kind or subject["kind"]
    group, version, plural = RESOURCES[kind]
    metadata = subject["metadata"]
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": {
        "uid": str(uuid.uuid4()),
        "kind": {"group": group, "version": version, "kind": kind},
        "resource": {"group": group, "version": version, "resource": plural},
        "requestKind": {"group": group, "version": version, "kind": kind},
        "requestResource": {"group": group, "version": version, "resource": plural},
        "name": metadata["name"], "namespace": metadata.get("namespace"), "operation": operation,
        "userInfo": {"username": "kubernetes-admin", "groups": ["system:masters", "system:authenticated"]},
        "object": obj, "oldObject": old, "dryRun": dry_run,
        "options": {"apiVersion": "meta.k8s.io/v1", "kind": f"{operation.capitalize()}Options"},
    }}


def path_of(kind: str) -> str:
    return f"/validate-{RESOURCES[kind][2]}"


class WebhookClient:
    """One keep-alive connection, like the apiserver's; HTTPS when `ca` (a PEM file) is given."""

    def __init__(self, port: int, ca: str | None = None) -> None:
        if ca is None:
            self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        else:
            context = ssl.create_default_context(cafile=ca)   # verifies the chain and the IP address SAN
            self.connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=context)

    def post(self, path: str, body: bytes | dict) -> tuple[int, dict | str]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.connection.request("POST", path, body=data, headers={"Content-Type": "application/json"})
        response = self.connection.getresponse()
        text = response.read().decode()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(text)
        return response.status, text

    def answer(self, request: dict) -> dict:
        """The AdmissionResponse for a review, asserting the call itself succeeded."""
        kind = request["request"]["kind"]["kind"]
        status, body = self.post(path_of(kind), request)
        assert status == 200, (status, body)
        assert body["response"]["uid"] == request["request"]["uid"]
        assert body["apiVersion"] == "admission.k8s.io/v1" and body["kind"] == "AdmissionReview"
        return body["response"]

    def close(self) -> None:
        self.connection.close()


def certificate(directory, common_name: str = "nacos-auth-guard-webhook.nacos-auth-guard.svc",
                serial: int | None = None) -> tuple[str, str, str]:
    """A self-signed serving certificate (it is its own CA), as cert-manager's Secret mounts it: returns the
    paths of tls.crt and tls.key, and the certificate's serial number as text."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    serial = serial or x509.random_serial_number()
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(serial).not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(common_name),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = f"{directory}/tls.crt", f"{directory}/tls.key"
    with open(cert_path, "wb") as handle:
        handle.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "wb") as handle:
        handle.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption()))
    return cert_path, key_path, str(serial)


def served_serial(port: int) -> str:
    """The serial number of the certificate a new TLS handshake with 127.0.0.1:port presents."""
    import socket

    from cryptography import x509
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE   # only reading what is presented
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            der = tls.getpeercert(binary_form=True)
    return str(x509.load_der_x509_certificate(der).serial_number)
