"""The operator's few API writes, through the official client (kopf has no public call to patch another object).
Synchronous; the reconciler runs them in a worker thread."""
from __future__ import annotations

import os
import threading

import kubernetes

from .settings import GROUP, PLURAL, VERSION

_lock = threading.Lock()
_client: kubernetes.client.ApiClient | None = None


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
            _client = kubernetes.client.ApiClient(configuration)
        return _client


def reset() -> None:
    """Forget the client (tests point the kubeconfig somewhere new)."""
    global _client
    with _lock:
        _client = None


def patch_check_status(namespace: str, name: str, status: dict) -> None:
    kubernetes.client.CustomObjectsApi(api_client()).patch_namespaced_custom_object_status(
        GROUP, VERSION, namespace, PLURAL, name, {"status": status})


def create_check(namespace: str, body: dict) -> None:
    kubernetes.client.CustomObjectsApi(api_client()).create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, body)
