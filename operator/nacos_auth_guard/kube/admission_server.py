"""The HTTP(S) endpoint of the validating webhooks: a kopf webhook server (kopf.WebhookServerProtocol) that hands
each AdmissionReview to kopf, which calls the handlers in kube/webhooks.py.

Why not kopf.WebhookServer (measured with kopf 1.45.2): it caps a request body at aiohttp's default 1 MiB, so a
review of an update to a large Secret or ConfigMap (it carries both versions) gets a 413 and escapes the check;
it answers a review that is not one ({}, [], a string as the object) with a 500 and a traceback; and on a
certificate renewal it closes the listener and binds it again. This one accepts reviews up to MAX_REVIEW_BYTES,
answers a malformed review with a 400 that says what is wrong, and loads a renewed certificate into the TLS
context it serves from (new handshakes get the new certificate, the socket stays open, and a renewal that does not
load keeps the previous certificate).
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
from collections.abc import AsyncIterator, Callable, Mapping

import aiohttp.web

logger = logging.getLogger("nacos_auth_guard.admission")

# A Secret or ConfigMap holds up to 1 MiB; an UPDATE review carries the old and the new object, JSON-encoded.
MAX_REVIEW_BYTES = 8 * 1024 * 1024
# Workloads, Secrets and ConfigMaps nest about 15 levels (managedFields included); far deeper input would only
# exhaust the recursion of a JSON or diff walk further on (kopf diffs old and new).
MAX_DEPTH = 100
# Slow or idle clients must not hold the process's descriptors: the apiserver's own webhook timeout is 10 s by
# default (30 s at most), so a review whose body takes longer is dead anyway, and a connection that has sent no
# complete request for IDLE_SECONDS (idle keep-alive, or headers trickling in) is closed. Past MAX_CONNECTIONS the
# oldest connection is closed (after its request in progress, if any): those are the idle and the slow ones.
BODY_SECONDS = 10.0
IDLE_SECONDS = 30.0
MAX_CONNECTIONS = 256
OPERATIONS = ("CREATE", "UPDATE", "DELETE", "CONNECT")
REVIEW_API_VERSION = "admission.k8s.io/v1"   # what deploy/webhook asks for (admissionReviewVersions: [v1])


def review_problem(review: object, path: str, routes: Mapping[str, tuple[str, str, str]]) -> str | None:
    """What makes `review` (posted to /`path`, one of `routes`) unusable, or None.
    `routes`: path -> (group, version, plural) of the resource that webhook checks."""
    if not isinstance(review, dict):
        return f"the body must be an AdmissionReview object, not a JSON {type(review).__name__}"
    if review.get("apiVersion") != REVIEW_API_VERSION or review.get("kind") != "AdmissionReview":
        return f"apiVersion must be {REVIEW_API_VERSION} and kind AdmissionReview"
    request = review.get("request")
    if not isinstance(request, dict):
        return "request is missing or not an object"
    if not isinstance(request.get("uid"), str) or not request["uid"]:
        return "request.uid is missing"
    if request.get("operation") not in OPERATIONS:
        return f"request.operation must be one of {', '.join(OPERATIONS)}"
    resource = request.get("resource")
    if not isinstance(resource, dict) or not all(isinstance(resource.get(k), str)
                                                 for k in ("group", "version", "resource")):
        return "request.resource must have string group, version and resource"
    group, version, plural = routes[path]
    if (resource["group"], resource["version"], resource["resource"]) != (group, version, plural):
        asked = "/".join(p for p in (resource["group"], resource["version"], resource["resource"]) if p)
        return f"/{path} checks {'/'.join(p for p in (group, version, plural) if p)}, not {asked}"
    if not isinstance(request.get("userInfo"), dict):
        return "request.userInfo is missing"
    for key in ("object", "oldObject"):
        if request.get(key) is not None and not isinstance(request[key], dict):
            return f"request.{key} must be an object or null"
    for key in ("object", "oldObject"):
        problem = _metadata_problem(request.get(key))
        if problem:
            return f"request.{key}.metadata{problem}"
    if request["operation"] == "DELETE" and request.get("oldObject") is None:
        return "a DELETE review must carry request.oldObject"
    if request["operation"] != "DELETE" and request.get("object") is None:
        return f"a {request['operation']} review must carry request.object"
    if not isinstance(request.get("namespace", ""), str) or not isinstance(request.get("dryRun", False), bool):
        return "request.namespace must be a string and request.dryRun a boolean"
    return None


def _metadata_problem(obj: dict | None) -> str | None:
    """What is wrong with an object's metadata where kopf and the checks read it (kopf builds its body, logger and
    memo from name, namespace, uid, labels and annotations), or None."""
    if obj is None or "metadata" not in obj:
        return None
    metadata = obj["metadata"]
    if not isinstance(metadata, dict):
        return " must be an object"
    for key in ("name", "namespace", "uid", "generateName"):
        if metadata.get(key) is not None and not isinstance(metadata[key], str):
            return f".{key} must be a string"
    for key in ("labels", "annotations"):
        if metadata.get(key) is not None and not isinstance(metadata[key], dict):
            return f".{key} must be an object"
    return None


def depth_exceeds(value: object, limit: int) -> bool:
    """Whether `value` nests more than `limit` lists or objects deep (iterative: deep input is what it checks)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else None
        if children is None:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, (dict, list)))
    return False


class AdmissionServer:
    """Serves kopf's webhook function on addr:port; HTTPS when certfile/keyfile are given (re-read every
    `reload_seconds` when their files change, as cert-manager's renewals do through the mounted Secret)."""

    def __init__(self, *, addr: str, port: int, routes: Mapping[str, tuple[str, str, str]],
                 certfile: str | None = None, keyfile: str | None = None, reload_seconds: float = 10.0,
                 ready: Callable[[], bool] = lambda: True, body_seconds: float = BODY_SECONDS,
                 idle_seconds: float = IDLE_SECONDS, max_connections: int = MAX_CONNECTIONS) -> None:
        if (certfile is None) != (keyfile is None):
            raise ValueError("certfile and keyfile go together")
        self.addr, self.port, self.routes, self.ready = addr, port, dict(routes), ready
        self.certfile, self.keyfile, self.reload_seconds = certfile, keyfile, reload_seconds
        self.body_seconds, self.idle_seconds, self.max_connections = body_seconds, idle_seconds, max_connections

    async def __call__(self, fn) -> AsyncIterator[dict]:
        context = self._load_context() if self.certfile else None
        app = aiohttp.web.Application(client_max_size=MAX_REVIEW_BYTES)

        async def serve(request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
            return await self._serve(fn, request)

        async def readiness(_: aiohttp.web.Request) -> aiohttp.web.Response:
            ready = self.ready()
            return aiohttp.web.Response(status=200 if ready else 503, text="ready\n" if ready else "loading\n")

        app.router.add_post("/{path}", serve)
        app.router.add_get("/readyz", readiness)   # the Deployment's readinessProbe: no traffic before the indexes
        # keepalive_timeout also bounds a connection whose request head never completes (aiohttp arms it at
        # connection start and closes a connection still waiting for a request when it fires).
        runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None,
                                       keepalive_timeout=self.idle_seconds)
        await runner.setup()
        self._bound_connections(runner.server)
        watcher = None
        try:
            site = aiohttp.web.TCPSite(runner, self.addr, self.port, ssl_context=context)
            await site.start()
            if context is not None:
                watcher = asyncio.create_task(self._watch_certificate(context), name="webhook certificate reload")
            scheme = "https" if context is not None else "http"
            logger.info("Serving the admission webhooks at %s://%s:%s", scheme, self.addr, self.port)
            yield {"url": f"{scheme}://{self.addr}:{self.port}"}   # unused: deploy/ ships the configuration
            await asyncio.Event().wait()
        finally:
            if watcher is not None:
                watcher.cancel()
            await runner.cleanup()

    def _bound_connections(self, server: aiohttp.web.Server) -> None:
        """Past max_connections, close the oldest connection as a new one opens. aiohttp has no such limit; its
        Server is told of every connection (connection_made), so that call is wrapped on this one instance."""
        made = server.connection_made
        closing: set = set()   # told to close; aiohttp lists them until their task ends

        def connection_made(handler, transport) -> None:
            made(handler, transport)
            connections = server.connections
            closing.intersection_update(connections)
            open_ = [h for h in connections if h.transport is not None and h not in closing]
            if len(open_) > self.max_connections:
                oldest = open_[0]
                closing.add(oldest)
                # A request in progress finishes first (close); an idle or slow one goes at once (force_close:
                # close() alone leaves a half-received request head waiting). tests/test_admission_server.py
                # notices if aiohttp renames the flag.
                if getattr(oldest, "_request_in_progress", False):
                    oldest.close()
                else:
                    oldest.force_close()

        server.connection_made = connection_made

    async def _serve(self, fn, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        path = request.match_info["path"]
        if path not in self.routes:
            # The path is not quoted back: a reply echoes nothing the caller sent.
            return aiohttp.web.Response(status=404, text="nacos-auth-guard: no webhook at this path; the webhooks are "
                                                         + ", ".join(f"/{p}" for p in sorted(self.routes)) + "\n")
        try:
            async with asyncio.timeout(self.body_seconds):
                body = await request.read()
        except TimeoutError:
            return aiohttp.web.Response(status=408, text=f"nacos-auth-guard: the review did not arrive within "
                                                         f"{self.body_seconds:g} s\n")
        try:
            review = json.loads(body)
        except (ValueError, UnicodeDecodeError) as error:   # JSONDecodeError is a ValueError
            return _bad_request(f"the body is not JSON ({type(error).__name__})")
        except RecursionError:
            return _bad_request(f"the body nests deeper than {MAX_DEPTH} levels")
        if depth_exceeds(review, MAX_DEPTH):
            return _bad_request(f"the body nests deeper than {MAX_DEPTH} levels")
        problem = review_problem(review, path, self.routes)
        if problem is not None:
            return _bad_request(problem)
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        try:
            response = await fn(review, webhook=path, headers=dict(request.headers), sslpeer=peer or {})
        except Exception as error:  # noqa: BLE001 - kopf refused the review: a failed call, failurePolicy decides
            logger.error("kopf could not process an admission review for /%s: %s", path, type(error).__name__)
            return aiohttp.web.Response(status=500, text="nacos-auth-guard: the check failed; see the operator log\n")
        status = response.get("response", {}).get("status") or {}
        code = status.get("code")
        if not response.get("response", {}).get("allowed") and isinstance(code, int) and code >= 500:
            # kopf turns a handler's crash into a denial with code 500, and the handler refuses with 503 while
            # it cannot check yet. Neither is a verdict on the change: answer as a failed call, so the
            # configuration's failurePolicy decides (Ignore: the change goes in unchecked).
            if code == 503:
                return aiohttp.web.Response(status=503, text=f"{status.get('message')}\n")
            logger.error("Admission review for %s failed inside the webhook; answered HTTP 500 (failurePolicy "
                         "decides)", path)
            return aiohttp.web.Response(status=500, text="nacos-auth-guard: the check failed; see the operator log\n")
        return aiohttp.web.json_response(response)

    # --- TLS ----------------------------------------------------------------------------------------------------------
    def _load_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.certfile, self.keyfile)
        return context

    def _stamp(self) -> tuple:
        return tuple((s.st_mtime_ns, s.st_ino, s.st_size) for s in map(os.stat, (self.certfile, self.keyfile)))

    async def _watch_certificate(self, context: ssl.SSLContext) -> None:
        stamp = self._stamp()
        while True:
            await asyncio.sleep(self.reload_seconds)
            try:
                current = self._stamp()
            except OSError:
                continue   # the kubelet is swapping the files; look again next time
            if current == stamp:
                continue
            stamp = current
            try:
                self._load_context()   # a pair that does not load must not leave the live context half-updated
                context.load_cert_chain(self.certfile, self.keyfile)
            except (OSError, ssl.SSLError) as error:
                logger.warning("The changed webhook certificate %s does not load (%s); still serving the previous "
                               "one", self.certfile, error.__class__.__name__)
                continue
            logger.info("Loaded the renewed webhook certificate from %s", self.certfile)


def _bad_request(message: str) -> aiohttp.web.Response:
    return aiohttp.web.Response(status=400, text=f"nacos-auth-guard: not a usable AdmissionReview: {message}\n")
