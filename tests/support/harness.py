"""End-to-end harness: the API server emulator in one thread, the real operator (kopf) in another, and the
official Kubernetes client for the test itself; all three meet only through a kubeconfig, as in a cluster.

    with Cluster(namespaces=["shop"]) as cluster:
        cluster.apply(*objects)
        cluster.start_operator()
        cluster.wait_for(lambda: cluster.condition("nacos", "Ready") == "True")
"""
from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import threading
import time
from pathlib import Path

import kubernetes
import yaml

from .apiserver import ApiServer

ROOT = Path(__file__).resolve().parents[2]
CRD = ROOT / "crds" / "nacosauthcheck.yaml"
GROUP, VERSION, PLURAL = "nacosguard.io", "v1alpha1", "nacosauthchecks"
# The emulator records each request under its bearer token: the operator's (and anything else using the kubeconfig,
# such as `scan`) is OPERATOR_USER, the test's own client is TEST_USER, raw harness requests carry none.
OPERATOR_USER, TEST_USER = "nacos-auth-guard", "test-client"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def webhook_ready(port: int, https: bool = False) -> bool:
    """GET /readyz on the webhook port (what the Deployment's readinessProbe asks)."""
    import http.client
    import ssl
    if https:
        context = ssl.create_default_context()
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE   # the kubelet does not verify either
        connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=2, context=context)
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def wait_for(predicate, timeout: float = 10.0, interval: float = 0.02, message: str = "condition"):
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            result = predicate()
            if result:
                return result
        except kubernetes.client.ApiException as error:   # not there yet
            last_error = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}" + (f" ({last_error})" if last_error else ""))


class Cluster:
    def __init__(self, namespaces=("shop",), crds=(CRD,)) -> None:
        self.namespaces = list(namespaces)
        self.crds = list(crds)
        self.server = ApiServer()
        self.operator_thread: threading.Thread | None = None
        self.webhook_port: int | None = None

    # --- lifecycle ----------------------------------------------------------------------------------------------------
    def __enter__(self) -> "Cluster":
        for crd in self.crds:
            self.server.load_crd(str(crd))
        url = self.server.start()
        self.directory = tempfile.TemporaryDirectory()
        self.kubeconfig = os.path.join(self.directory.name, "kubeconfig")
        with open(self.kubeconfig, "w") as handle:
            yaml.safe_dump({"apiVersion": "v1", "kind": "Config", "current-context": "emulator",
                            "clusters": [{"name": "emulator", "cluster": {"server": url}}],
                            "users": [{"name": "operator", "user": {"token": OPERATOR_USER}}],
                            "contexts": [{"name": "emulator", "context": {"cluster": "emulator", "user": "operator",
                                                                          "namespace": self.namespaces[0]}}]},
                           handle)
        self._saved_env = {k: os.environ.get(k) for k in ("KUBECONFIG", "KUBERNETES_SERVICE_HOST")}
        os.environ["KUBECONFIG"] = self.kubeconfig
        os.environ.pop("KUBERNETES_SERVICE_HOST", None)
        self._saved_default = kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = self.kubeconfig
        configuration = kubernetes.client.Configuration()
        kubernetes.config.load_kube_config(config_file=self.kubeconfig, client_configuration=configuration)
        configuration.refresh_api_key_hook = None   # it would put the kubeconfig's token back
        configuration.api_key["BearerToken"] = f"Bearer {TEST_USER}"   # the test's own calls, told apart
        self.api = kubernetes.client.ApiClient(configuration)
        self.core = kubernetes.client.CoreV1Api(self.api)
        self.apps = kubernetes.client.AppsV1Api(self.api)
        self.custom = kubernetes.client.CustomObjectsApi(self.api)
        for namespace in self.namespaces:
            self.core.create_namespace({"metadata": {"name": namespace, "labels": {
                "kubernetes.io/metadata.name": namespace}}})
        from nacos_auth_guard.kube import kubeapi
        kubeapi.reset()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_operator()
        self.server.stop()
        self.api.close()
        kubernetes.config.kube_config.KUBE_CONFIG_DEFAULT_LOCATION = self._saved_default
        for key, value in self._saved_env.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        self.directory.cleanup()

    # --- the operator -------------------------------------------------------------------------------------------------
    def start_operator(self, *, auto_discover: bool = True, resync_seconds: float = 300.0, webhooks: bool = True,
                       namespaces: list[str] | None = None, timeout: float = 20.0, webhook_only: bool = False,
                       webhook_cert: str | None = None, webhook_key: str | None = None,
                       webhook_exclude_namespaces: frozenset[str] = frozenset({"kube-system"}),
                       webhook_reload_seconds: float = 10.0, wait_for_webhooks: bool = True,
                       retry_max_seconds: float = 15.0, api_timeout_seconds: float = 60.0,
                       settle_seconds: float = 0.0) -> None:
        import kopf

        from nacos_auth_guard.kube import handlers, kubeapi, settings
        if webhooks:
            from nacos_auth_guard.kube import webhooks as _  # noqa: F401 - registers the validate handlers
        kubeapi.reset()
        self.webhook_port = self.webhook_port or free_port()
        settings.CONFIG.namespaces = list(namespaces or [])
        settings.CONFIG.auto_discover = auto_discover
        settings.CONFIG.resync_seconds = resync_seconds
        # Tests apply a cluster moments before they start the operator: a finding is expected at once unless a
        # test is about the settle window (the command's default is 15 s).
        settings.CONFIG.settle_seconds = settle_seconds
        settings.CONFIG.webhook_port = self.webhook_port
        settings.CONFIG.webhook_address = "127.0.0.1"
        settings.CONFIG.webhook_cert, settings.CONFIG.webhook_key = webhook_cert, webhook_key
        settings.CONFIG.webhook_exclude_namespaces = webhook_exclude_namespaces
        settings.CONFIG.webhook_only = webhook_only
        settings.CONFIG.webhook_reload_seconds = webhook_reload_seconds
        if webhook_only:
            settings.CONFIG.auto_discover = False
        settings.CONFIG.metrics_port = None
        settings.CONFIG.retry_max_seconds = retry_max_seconds
        settings.CONFIG.api_timeout_seconds = api_timeout_seconds
        self._stop = threading.Event()
        ready = threading.Event()
        self.operator_errors: list[BaseException] = []

        def run() -> None:
            loop = self.operator_loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(kopf.operator(
                    registry=kopf.get_default_registry(), standalone=True, clusterwide=not namespaces,
                    namespaces=namespaces or (), stop_flag=self._stop, ready_flag=ready))
            except BaseException as error:  # noqa: BLE001 - surfaced by the test through operator_errors
                self.operator_errors.append(error)
            finally:
                loop.close()

        self.operator_thread = threading.Thread(target=run, name="operator", daemon=True)
        self.operator_thread.start()
        wait_for(lambda: ready.is_set() and handlers.RECONCILER is not None or self.operator_errors, timeout,
                 message="the operator to start")
        if self.operator_errors:
            raise self.operator_errors[0]
        if webhooks and wait_for_webhooks:   # they answer once kopf has scanned the resources and loaded every index
            wait_for(lambda: webhook_ready(self.webhook_port, https=webhook_cert is not None), timeout,
                     message="the webhooks to be ready")

    def stop_operator(self) -> None:
        """As SIGTERM: kopf shuts down gracefully, cancelling what is in flight."""
        if self.operator_thread is not None:
            self._stop.set()
            self.operator_thread.join(30)
            assert not self.operator_thread.is_alive(), "the operator did not stop"
            self.operator_thread = None

    def kill_operator(self) -> None:
        """As SIGKILL: the operator's event loop stops wherever it is, nothing of it runs any more, and its memory
        is gone. A request already handed to a worker thread still completes, as one already on the wire would."""
        from nacos_auth_guard.kube import handlers
        if self.operator_thread is None:
            return
        self.operator_loop.call_soon_threadsafe(self.operator_loop.stop)
        self.operator_thread.join(10)
        assert not self.operator_thread.is_alive(), "the operator's loop did not stop"
        self._stop.set()   # kopf waits for the flag in an executor thread: release it, or Python cannot exit
        self.operator_thread = None
        self.operator_errors.clear()   # "event loop stopped before the future completed": that was the point
        handlers.RECONCILER = None
        handlers.LISTWATCHES.clear()
        handlers._secret_digests.clear()
        self.webhook_port = None       # the dead loop's listening socket is never closed
        self.server.drop_watches()     # the dead process's connections end

    def operator_alive(self) -> bool:
        """The operator still runs: kopf has not exited, and no task of the reconciler has died."""
        from nacos_auth_guard.kube import handlers
        reconciler = handlers.RECONCILER
        return (self.operator_thread is not None and self.operator_thread.is_alive() and not self.operator_errors
                and reconciler is not None
                and not any(task.done() for task in [*reconciler.tasks, reconciler.sweeper.task] if task))

    # --- objects ------------------------------------------------------------------------------------------------------
    def apply(self, *objects: dict) -> None:
        """Create, or replace when the object exists (a small kubectl apply)."""
        for obj in objects:
            group, _, version = obj["apiVersion"].rpartition("/")
            resource = next(r for r in self.server.resources.values()
                            if r.kind == obj["kind"] and r.group == group and r.version == version)
            namespace = obj["metadata"].get("namespace", self.namespaces[0]) if resource.namespaced else None
            base = f"/api/{version}" if not group else f"/apis/{group}/{version}"
            prefix = f"{base}/namespaces/{namespace}" if namespace else base
            path = f"{prefix}/{resource.plural}"
            name = obj["metadata"]["name"]
            status, _ = self.request("POST", path, obj)
            if status == 409:
                _, current = self.request("GET", f"{path}/{name}")
                body = {**obj, "metadata": {**obj["metadata"],
                                            "resourceVersion": current["metadata"]["resourceVersion"]}}
                status, _ = self.request("PUT", f"{path}/{name}", body)
            assert status in (200, 201), f"apply {obj['kind']} {name}: HTTP {status}"

    def request(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        """A raw API call (the official client's generic call is private API and changes between versions)."""
        import json
        import urllib.error
        import urllib.request
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(f"http://127.0.0.1:{self.server.port}{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"{}")

    def delete(self, kind: str, name: str, namespace: str | None = None) -> None:
        namespace = namespace or self.namespaces[0]
        body = kubernetes.client.V1DeleteOptions()
        if kind == "Secret":
            self.core.delete_namespaced_secret(name, namespace, body=body)
        elif kind == "ConfigMap":
            self.core.delete_namespaced_config_map(name, namespace, body=body)
        elif kind == "Deployment":
            self.apps.delete_namespaced_deployment(name, namespace, body=body)
        elif kind == "Pod":
            self.core.delete_namespaced_pod(name, namespace, body=body)
        else:
            raise ValueError(kind)

    def check(self, name: str, namespace: str | None = None) -> dict:
        return self.custom.get_namespaced_custom_object(GROUP, VERSION, namespace or self.namespaces[0], PLURAL, name)

    def condition(self, name: str, kind: str, namespace: str | None = None) -> str | None:
        for condition in (self.check(name, namespace).get("status") or {}).get("conditions") or []:
            if condition["type"] == kind:
                return condition["status"]
        return None

    def reason(self, name: str, kind: str = "Ready") -> str | None:
        for condition in (self.check(name).get("status") or {}).get("conditions") or []:
            if condition["type"] == kind:
                return condition["reason"]
        return None

    def events(self, name: str | None = None, namespace: str | None = None) -> list:
        """Events (as dicts) on the object called `name`, oldest first."""
        items = self.core.list_namespaced_event(namespace or self.namespaces[0]).items
        events = [self.api.sanitize_for_serialization(e) for e in items]
        return [e for e in events if name is None or e["involvedObject"]["name"] == name]

    def wait_for(self, predicate, timeout: float = 10.0, message: str = "condition"):
        return wait_for(predicate, timeout, message=message)
