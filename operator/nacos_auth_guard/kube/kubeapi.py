"""The operator's few API calls outside kopf's watches, through the official client (kopf has no public call to
patch another object). Synchronous; the reconciler runs them in a worker thread. Every call has a timeout: the
client's default is none, and one hung request would stall every check behind it."""
from __future__ import annotations

import json
import os
import threading
import urllib.parse
from typing import Iterator

import kubernetes
import urllib3

from ..shapes import as_dict
from .settings import CONFIG, GROUP, PLURAL, VERSION

_lock = threading.Lock()
_client: kubernetes.client.ApiClient | None = None
# A metadata-only list: names and uids without the objects' data (Secret values never leave the apiserver).
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json"


def api_client() -> kubernetes.client.ApiClient:
    """In-cluster credentials in a pod, the kubeconfig elsewhere (KUBECONFIG, as kubectl)."""
    global _client
    with _lock:
        if _client is None:
            configuration = kubernetes.client.Configuration()
            if os.environ.get("KUBERNETES_SERVICE_HOST"):
                kubernetes.config.load_incluster_config(client_configuration=configuration)
            else:
                kubernetes.config.load_kube_config(client_configuration=configuration)
            configuration.retries = 0   # we retry ourselves, with backoff; urllib3's retries only add delay
            _client = kubernetes.client.ApiClient(configuration)
        return _client


def reset() -> None:
    """Forget the client (tests point the kubeconfig somewhere new)."""
    global _client
    with _lock:
        _client = None


def _timeout() -> tuple[float, float]:
    return min(10.0, CONFIG.api_timeout_seconds), CONFIG.api_timeout_seconds   # (connect, read)


def patch_check_status(namespace: str, name: str, status: dict) -> None:
    kubernetes.client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": status}, _request_timeout=_timeout())


def create_check(namespace: str, body: dict) -> None:
    kubernetes.client.CustomObjectsApi(api_client()).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body, _request_timeout=_timeout())


class NamespaceTerminating(Exception):
    """The apiserver refuses new objects in a namespace being deleted (NamespaceLifecycle admission): an Event
    posted there can never succeed, so it is not retried."""


def terminating(status: int, data: bytes) -> bool:
    """Whether a refusal is the apiserver's 403 for a namespace being deleted: reason Forbidden, cause
    NamespaceTerminating, message '... unable to create new content in namespace X because it is being
    terminated' (k8s plugin/pkg/admission/namespace/lifecycle)."""
    if status != 403:
        return False
    try:
        document = json.loads(data)
    except ValueError:
        return False
    document = as_dict(document)
    causes = as_dict(document.get("details")).get("causes")
    return (any(as_dict(cause).get("reason") == "NamespaceTerminating" for cause in causes or [])
            if isinstance(causes, list) else False) or "because it is being terminated" in str(
        document.get("message"))


def create_event(body: dict) -> bool:
    """Creates a core/v1 Event; False when one of that name exists (it was posted before: a retry or a restart).
    Raises NamespaceTerminating when the namespace is being deleted."""
    path = f"/api/v1/namespaces/{body['metadata']['namespace']}/events"
    status, data = _call(path, "POST", body)
    if status == 409:
        return False
    if terminating(status, data):
        raise NamespaceTerminating(body["metadata"]["namespace"])
    if status not in (200, 201):
        raise kubernetes.client.ApiException(status=status, reason=f"creating an Event in {path}")
    return True


def failure(error: BaseException) -> str | None:
    """An API call's failure in a few words (the status, never the response body: it may quote what we sent);
    None when the error is not an API or network failure (a bug: log its traceback)."""
    if isinstance(error, kubernetes.client.ApiException):
        return f"HTTP {error.status} {error.reason or ''}".strip()
    if isinstance(error, (urllib3.exceptions.HTTPError, OSError, TimeoutError)):
        return type(error).__name__
    return None


def list_identities(path: str) -> set[tuple[str | None, str, str | None]]:
    """(namespace, name, uid) of every object a list path returns: metadata only, page by page."""
    identities: set[tuple[str | None, str, str | None]] = set()
    for status, document in list_pages(api_client(), path, METADATA_ONLY, _timeout()):
        if status != 200:
            raise kubernetes.client.ApiException(status=status, reason=f"listing {path}")
        for item in document.get("items") or []:
            metadata = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(metadata, dict) and isinstance(metadata.get("name"), str):
                identities.add((metadata.get("namespace"), metadata["name"], metadata.get("uid")))
    return identities


PAGE = 500   # items per list request, as kubectl pages: a cluster's Secrets (Helm releases) can be huge


def list_pages(client: kubernetes.client.ApiClient, path: str, accept: str,
               timeout: float | tuple[float, float]) -> Iterator[tuple[int, dict]]:
    """(HTTP status, document) of each page of a list, following `continue`; ends after a page that is not 200
    (its document is the apiserver's Status, or {} when the body is not a JSON object)."""
    token = ""
    while True:
        query = urllib.parse.urlencode({"limit": PAGE, **({"continue": token} if token else {})})
        status, data = _call(f"{path}?{query}", "GET", client=client, accept=accept, timeout=timeout)
        try:
            document = json.loads(data)
        except ValueError:
            document = {}
        if not isinstance(document, dict):
            document = {}
        yield status, document
        token = as_dict(document.get("metadata")).get("continue") or ""
        if status != 200 or not token:
            return


def _call(path: str, method: str, body: dict | None = None, *, client: kubernetes.client.ApiClient | None = None,
          accept: str = "application/json", timeout: float | tuple[float, float] | None = None) -> tuple[int, bytes]:
    """One request through a client's connection and credentials, without its typed API classes: CoreV1Api
    imports every core model class on first use (0.5 s and 15 MB RSS in the operator, measured)."""
    client = client or api_client()
    headers = {"Accept": accept, **({"Content-Type": "application/json"} if body is not None else {})}
    method, url, headers, body, _ = client.param_serialize(method, path, header_params=headers, body=body,
                                                           auth_settings=["BearerToken"])
    response = client.call_api(method, url, header_params=headers, body=body,
                               _request_timeout=timeout or _timeout())
    return response.status, response.read()
