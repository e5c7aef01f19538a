"""A small in-process Kubernetes API server for tests: the API semantics kopf and the official client rely on, on
127.0.0.1, in its own thread.

Why not stock kmock 0.8: shared/testing.md lists its gaps for a real kopf operator (namespace from the URL,
generateName, uid/resourceVersion/generation, the JSON-patch `test` op, namespace listing, CRD discovery,
selectors, watch resourceVersion and bookmarks, PUT, status subresource semantics) and its per-request cost that
grows with the request log. Each of those is implemented here directly, with a test of its own
(tests/test_apiserver.py), plus request counting (for "zero reads per reconcile") and fault injection.

Supported: discovery (/api, /apis, group versions), list (in pages: limit, continue) and watch (resourceVersion, timeoutSeconds,
labelSelector with =, ==, !=, in, notin, exists, fieldSelector on metadata.name/namespace, sendInitialEvents with
a BOOKMARK), create (generateName), get, replace (PUT), patch (merge, strategic-merge as merge, JSON patch with
`test`), delete (finalizers honoured), status subresources, CRDs loaded from YAML files.
Faults, as a real apiserver shows them: any status (or a dropped connection) on any verb, optionally after a delay;
slow answers (`delay`); a watch that ends (`drop_watches`); history compaction (`compact`), after which a watch from
an older resourceVersion gets the in-stream ERROR 410 Gone; an outage (`go_offline`/`go_online`: connections cut,
the port refuses, then the same port serves the same state). Every request is also recorded as the RBAC verb,
group, resource and namespace it needs, under the caller's bearer token (`access`), so a test can compare one
client's calls with its roles.
Not emulated (cover with unit tests): schema validation and defaulting, server-side apply, garbage collection,
built-in controllers, RBAC, admission webhooks.
"""
from __future__ import annotations

import asyncio
import copy
import itertools
import json
import re
import threading
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone

import aiohttp.web
import jsonpatch
import yaml


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    status: bool = False    # has a status subresource

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTINS = [
    Resource("", "v1", "namespaces", "Namespace", namespaced=False, status=True),
    Resource("", "v1", "secrets", "Secret"),
    Resource("", "v1", "configmaps", "ConfigMap"),
    Resource("", "v1", "services", "Service", status=True),
    Resource("", "v1", "pods", "Pod", status=True),
    Resource("", "v1", "events", "Event"),
    Resource("apps", "v1", "statefulsets", "StatefulSet", status=True),
    Resource("apps", "v1", "deployments", "Deployment", status=True),
    Resource("apps", "v1", "daemonsets", "DaemonSet", status=True),
    Resource("apps", "v1", "replicasets", "ReplicaSet", status=True),
    Resource("batch", "v1", "jobs", "Job", status=True),
    Resource("batch", "v1", "cronjobs", "CronJob", status=True),
    Resource("events.k8s.io", "v1", "events", "Event"),
    Resource("apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition",
             namespaced=False, status=True),
]


@dataclass
class Fault:
    method: str            # GET (get and list), POST, PATCH, PUT, DELETE, or WATCH
    plural: str            # resource plural, or "*"
    status: int | None     # HTTP status to answer (0: drop the connection; None: answer normally, after the delay)
    times: int             # how many matching requests fail
    subresource: str | None = None
    delay: float = 0.0     # seconds to wait before answering (a timeout when the client gives up first)
    answer_late: bool = False   # do the request at once, and delay only the answer


@dataclass
class _Watcher:
    resource: Resource
    namespace: str | None
    labels: str | None
    fields: str | None
    queue: asyncio.Queue = field(default_factory=asyncio.Queue)


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _merge(target: object, patch: object) -> object:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result


def _metadata_only(request) -> bool:
    """The client asked for PartialObjectMetadata(List) first (Accept ...;as=PartialObjectMetadataList;g=meta.k8s.io;
    v=v1, or as=PartialObjectMetadata for a watch): the apiserver then sends each object's metadata only (API
    concepts, "Alternate representations of resources"; what client-go's metadata informers ask for)."""
    first = request.headers.get("Accept", "").split(",")[0]
    return "as=PartialObjectMetadata" in first and "g=meta.k8s.io" in first


def _partial(obj: dict) -> dict:
    return {"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": obj["metadata"]}


def _selects_labels(selector: str | None, labels: dict) -> bool:
    if not selector:
        return True
    for term in re.split(r",(?![^()]*\))", selector):
        term = term.strip()
        if not term:
            continue
        match = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if match:
            key, operator, values = match.group(1), match.group(2), {v.strip() for v in match.group(3).split(",")}
            if (operator == "in") != (labels.get(key) in values):
                return False
        elif "!=" in term:
            key, value = term.split("!=", 1)
            if labels.get(key.strip()) == value.strip():
                return False
        elif "=" in term:
            key, value = term.replace("==", "=").split("=", 1)
            if labels.get(key.strip()) != value.strip():
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _selects_fields(selector: str | None, obj: dict) -> bool:
    for term in (selector or "").split(","):
        if not term.strip():
            continue
        negate = "!=" in term
        key, value = term.replace("!=", "=").replace("==", "=").split("=", 1)
        node: object = obj
        for part in key.strip().split("."):
            node = node.get(part) if isinstance(node, dict) else None
        if (str(node) == value.strip()) == negate:
            return False
    return True


class ApiServer:
    def __init__(self) -> None:
        self.resources: dict[tuple[str, str, str], Resource] = {}
        self.objects: dict[tuple[str, str, str], dict[tuple[str | None, str], dict]] = {}
        self.history: dict[tuple[str, str, str], list[tuple[int, str, dict]]] = {}
        self.watchers: list[_Watcher] = []
        self.revision = itertools.count(1000)
        self.last_revision = 1000
        self.requests: Counter = Counter()
        # (user: the bearer token, RBAC verb, API group, resource[/subresource], namespace or None)
        self.access: Counter = Counter()
        self.faults: list[Fault] = []
        self.compacted = 0   # history before this revision is gone: older watches get 410
        self.continuations: dict[str, tuple[int, list[dict]]] = {}   # continue token -> (revision, what remains)
        self.lock = threading.Lock()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.runner: aiohttp.web.AppRunner | None = None
        self.port = 0
        for resource in BUILTINS:
            self.add_resource(resource)

    # --- setup ------------------------------------------------------------------------------------------------------
    def add_resource(self, resource: Resource) -> None:
        key = (resource.group, resource.version, resource.plural)
        self.resources[key] = resource
        self.objects.setdefault(key, {})
        self.history.setdefault(key, [])

    def load_crd(self, path: str) -> None:
        for crd in yaml.safe_load_all(open(path)):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            spec = crd["spec"]
            for version in spec["versions"]:
                self.add_resource(Resource(spec["group"], version["name"], spec["names"]["plural"],
                                           spec["names"]["kind"], spec["scope"] == "Namespaced",
                                           "status" in (version.get("subresources") or {})))
            self._store(self.resources[("apiextensions.k8s.io", "v1", "customresourcedefinitions")], None, crd,
                        "ADDED")

    def fail(self, method: str, plural: str, status: int, times: int = 1, subresource: str | None = None,
             delay: float = 0.0) -> None:
        with self.lock:
            self.faults.append(Fault(method.upper(), plural, status, times, subresource, delay))

    def peek(self, group: str, version: str, plural: str, namespace: str | None, name: str) -> dict | None:
        """An object as stored, read in-process (no request is counted): for polling in benchmarks."""
        with self.lock:
            obj = self.objects[(group, version, plural)].get((namespace, name))
            return copy.deepcopy(obj) if obj is not None else None

    def delay(self, method: str, plural: str, seconds: float, times: int = 1, subresource: str | None = None,
              answer_late: bool = False) -> None:
        """Serve the next `times` matching requests normally, but only after `seconds` (a client that gives up
        first cancels it), or, with `answer_late`, at once with the answer `seconds` late (the client times out
        although the change was made)."""
        with self.lock:
            self.faults.append(Fault(method.upper(), plural, None, times, subresource, seconds, answer_late))

    def clear_faults(self) -> None:
        with self.lock:
            self.faults.clear()

    def count(self, method: str | None = None, plural: str | None = None) -> int:
        with self.lock:
            return sum(n for (m, p, _), n in self.requests.items()
                       if (method is None or m == method) and (plural is None or p == plural))

    # --- lifecycle ----------------------------------------------------------------------------------------------------
    def start(self) -> str:
        ready = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(ready,), name="apiserver", daemon=True)
        self.thread.start()
        ready.wait(10)
        return f"http://127.0.0.1:{self.port}"

    def _run(self, ready: threading.Event) -> None:
        self.loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self.loop)
        app = aiohttp.web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{path:.*}", self._handle)
        self.runner = aiohttp.web.AppRunner(app, handle_signals=False, access_log=None)
        self.loop.run_until_complete(self.runner.setup())
        self.site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", 0)
        self.loop.run_until_complete(self.site.start())
        self.port = self.site._server.sockets[0].getsockname()[1]
        ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self.runner.cleanup())
        self.loop.close()

    def stop(self) -> None:
        if self.loop is not None:
            for watcher in list(self.watchers):
                self.loop.call_soon_threadsafe(watcher.queue.put_nowait, None)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)

    def drop_watches(self) -> None:
        """End every open watch stream (as an apiserver restart or a load balancer timeout would)."""
        if self.loop is not None:
            for watcher in list(self.watchers):
                self.loop.call_soon_threadsafe(watcher.queue.put_nowait, None)

    def compact(self) -> None:
        """Forget the event history (etcd compaction): a watch that resumes from an older resourceVersion gets an
        in-stream ERROR 410 Gone, as from a real apiserver, and a client must list again."""
        with self.lock:
            self.compacted = self.last_revision
            for history in self.history.values():
                history.clear()

    def go_offline(self) -> None:
        """The apiserver becomes unreachable: open connections are cut and the port refuses new ones. The state is
        kept; go_online() serves it again on the same port."""
        async def offline() -> None:
            await self.site.stop()
            for watcher in list(self.watchers):
                watcher.queue.put_nowait(None)
            for transport in list(self.runner.server._connections.values()):
                transport.abort()
        asyncio.run_coroutine_threadsafe(offline(), self.loop).result(10)

    def go_online(self) -> None:
        async def online() -> None:
            self.site = aiohttp.web.TCPSite(self.runner, "127.0.0.1", self.port)
            await self.site.start()
        asyncio.run_coroutine_threadsafe(online(), self.loop).result(10)

    def store_directly(self, group: str, version: str, plural: str, namespace: str | None, name: str,
                       obj: dict | None) -> None:
        """Change the stored state without a request (another client, while this one cannot reach the server):
        `obj` replaces the object, or None deletes it. Watchers see the change, as they would."""
        resource = self.resources[(group, version, plural)]

        async def store() -> None:   # in the server's loop: the watchers' queues are not thread-safe
            if obj is None:
                self._store(resource, namespace, self._get(resource, namespace, name), "DELETED")
            else:
                self._store(resource, namespace, copy.deepcopy(obj), "MODIFIED")
        asyncio.run_coroutine_threadsafe(store(), self.loop).result(10)

    # --- storage ----------------------------------------------------------------------------------------------------
    def _store(self, resource: Resource, namespace: str | None, obj: dict, event: str) -> dict:
        key = (resource.group, resource.version, resource.plural)
        with self.lock:
            revision = next(self.revision)
            self.last_revision = revision
            obj["metadata"]["resourceVersion"] = str(revision)
            name = obj["metadata"]["name"]
            if event == "DELETED":
                self.objects[key].pop((namespace, name), None)
            else:
                self.objects[key][(namespace, name)] = obj
            snapshot = copy.deepcopy(obj)
            self.history[key].append((revision, event, snapshot))
            watchers = [w for w in self.watchers if w.resource == resource]
        for watcher in watchers:
            if self._matches(watcher, namespace, snapshot):
                watcher.queue.put_nowait((event, snapshot))
        return obj

    @staticmethod
    def _matches(watcher: _Watcher, namespace: str | None, obj: dict) -> bool:
        return ((watcher.namespace is None or watcher.namespace == namespace)
                and _selects_labels(watcher.labels, obj["metadata"].get("labels") or {})
                and _selects_fields(watcher.fields, obj))

    # --- routing ----------------------------------------------------------------------------------------------------
    def _parse(self, path: str):
        """-> (resource, namespace, name, subresource) or a discovery answer."""
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["api"]:
            group, rest = "", parts[1:]
        elif parts[:1] == ["apis"]:
            group, rest = (parts[1], parts[2:]) if len(parts) > 1 else (None, [])
        else:
            return None
        if not rest:
            return ("group", group)
        version, rest = rest[0], rest[1:]
        if not rest:
            return ("version", group, version)
        namespace = None
        if rest[0] == "namespaces" and len(rest) >= 3:
            namespace, rest = rest[1], rest[2:]
        resource = self.resources.get((group, version, rest[0]))
        if resource is None:
            return ("missing",)
        name = rest[1] if len(rest) > 1 else None
        subresource = rest[2] if len(rest) > 2 else None
        return ("resource", resource, namespace, name, subresource)

    async def _handle(self, request: aiohttp.web.Request) -> aiohttp.web.StreamResponse:
        parsed = self._parse(request.path)
        method = request.method
        watching = request.query.get("watch") in ("true", "1")
        plural = parsed[1].plural if parsed and parsed[0] == "resource" else "-"
        subresource = parsed[4] if parsed and parsed[0] == "resource" else None
        verb = "WATCH" if watching else method
        with self.lock:
            self.requests[(verb, plural, subresource)] += 1
            if parsed and parsed[0] == "resource":
                user = request.headers.get("Authorization", "").removeprefix("Bearer ").strip() or None
                self.access[(user, *self._rbac(parsed, method, watching))] += 1
            fault = next((f for f in self.faults if f.times > 0 and f.method == verb and f.plural in ("*", plural)
                          and f.subresource == subresource), None)
            if fault:
                fault.times -= 1
        if fault and fault.answer_late:
            response = await self._serve(request, parsed, method, watching)
            await asyncio.sleep(fault.delay)   # done; the answer comes too late for a client with a timeout
            return response
        if fault:
            if fault.delay:
                await asyncio.sleep(fault.delay)   # a client that gives up first cancels the request here
            if fault.status == 0:
                if request.transport is not None:
                    request.transport.close()
                return aiohttp.web.Response(status=500)
            if fault.status == 410 and verb == "WATCH":
                return await self._gone(request)   # a real apiserver says it inside the stream
            if fault.status is not None:
                return self._status(fault.status, "Injected", "injected fault")
        return await self._serve(request, parsed, method, watching)

    async def _serve(self, request, parsed, method: str, watching: bool) -> aiohttp.web.StreamResponse:
        if request.path in ("/version", "/version/"):
            return aiohttp.web.json_response({"major": "1", "minor": "31", "gitVersion": "v1.31.0-apiserver-emu"})
        if parsed is None or parsed[0] == "missing":
            return self._status(404, "NotFound", f"the server could not find the requested resource {request.path}")
        if parsed[0] == "group":
            return aiohttp.web.json_response(self._discover_group(parsed[1]))
        if parsed[0] == "version":
            return aiohttp.web.json_response(self._discover_version(parsed[1], parsed[2]))
        _, resource, namespace, name, subresource = parsed
        try:
            if name is None:
                if method == "GET":
                    return await (self._watch(request, resource, namespace) if watching
                                  else self._list(request, resource, namespace))
                if method == "POST":
                    return self._create(resource, namespace, await request.json())
            elif method == "GET":
                return aiohttp.web.json_response(self._get(resource, namespace, name))
            elif method == "PUT":
                return self._replace(resource, namespace, name, subresource, await request.json())
            elif method == "PATCH":
                return self._patch(resource, namespace, name, subresource, request.content_type,
                                   await request.json())
            elif method == "DELETE":
                return self._delete(resource, namespace, name)
        except KeyError:
            return self._status(404, "NotFound", f'{resource.plural} "{name}" not found')
        except jsonpatch.JsonPatchTestFailed:
            return self._status(422, "Invalid", "the JSON patch test failed")
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, ValueError) as error:
            return self._status(422, "Invalid", f"invalid patch: {error}")
        return self._status(405, "MethodNotAllowed", f"{method} is not supported here")

    @staticmethod
    def _rbac(parsed: tuple, method: str, watching: bool) -> tuple[str, str, str, str | None]:
        """The RBAC verb and resource a request needs, as the apiserver's authorizer sees it."""
        _, resource, namespace, name, subresource = parsed
        if method == "GET":
            verb = "watch" if watching else ("get" if name else "list")
        else:
            verb = {"POST": "create", "PUT": "update", "PATCH": "patch",
                    "DELETE": "delete" if name else "deletecollection"}.get(method, method.lower())
        plural = f"{resource.plural}/{subresource}" if subresource else resource.plural
        return verb, resource.group, plural, namespace

    @staticmethod
    async def _gone(request) -> aiohttp.web.StreamResponse:
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        error = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                 "message": "too old resource version", "reason": "Expired", "code": 410}
        await response.write(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
        return response

    @staticmethod
    def _status(code: int, reason: str, message: str) -> aiohttp.web.Response:
        return aiohttp.web.json_response({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                                          "message": message, "reason": reason, "code": code}, status=code)

    def _discover_group(self, group: str | None) -> dict:
        if group == "":
            return {"kind": "APIVersions", "versions": ["v1"],
                    "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]}
        groups: dict[str, list[str]] = {}
        for (g, v, _) in self.resources:
            if g and (group is None or g == group) and v not in groups.setdefault(g, []):
                groups[g].append(v)
        entries = [{"name": g, "versions": [{"groupVersion": f"{g}/{v}", "version": v} for v in vs],
                    "preferredVersion": {"groupVersion": f"{g}/{vs[0]}", "version": vs[0]}} for g, vs in groups.items()]
        if group is None:
            return {"kind": "APIGroupList", "apiVersion": "v1", "groups": entries}
        return {"kind": "APIGroup", "apiVersion": "v1", **entries[0]} if entries else {}

    def _discover_version(self, group: str, version: str) -> dict:
        verbs = ["create", "delete", "get", "list", "patch", "update", "watch"]
        entries = []
        for (g, v, plural), resource in self.resources.items():
            if (g, v) == (group, version):
                entries.append({"name": plural, "singularName": resource.kind.lower(),
                                "namespaced": resource.namespaced, "kind": resource.kind, "verbs": verbs})
                if resource.status:
                    entries.append({"name": f"{plural}/status", "singularName": "", "namespaced": resource.namespaced,
                                    "kind": resource.kind, "verbs": ["get", "patch", "update"]})
        return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": f"{group}/{version}".lstrip("/"),
                "resources": entries}

    # --- verbs ------------------------------------------------------------------------------------------------------
    def _table(self, resource: Resource) -> dict:
        return self.objects[(resource.group, resource.version, resource.plural)]

    def _get(self, resource: Resource, namespace: str | None, name: str) -> dict:
        with self.lock:
            return copy.deepcopy(self._table(resource)[(namespace, name)])

    async def _list(self, request, resource: Resource, namespace: str | None) -> aiohttp.web.Response:
        """A list, whole or in pages. API conventions, "Retrieving large results sets in chunks": with `limit` the
        server returns at most that many items and a `continue` token while more remain; every page is served
        from the snapshot of the first (its resourceVersion), and a token older than the compacted history gets
        410 Expired (reason Expired), after which the client must list again from the start."""
        labels, fields = request.query.get("labelSelector"), request.query.get("fieldSelector")
        limit, token = int(request.query.get("limit") or 0), request.query.get("continue")
        with self.lock:
            if token:
                continued = self.continuations.pop(token, None)
                if continued is None or continued[0] < self.compacted:
                    return self._status(410, "Expired", "The provided continue parameter is too old to display a "
                                                        "consistent list result. You can start a new list without "
                                                        "the continue parameter.")
                revision, matching = continued
            else:
                # Stored objects are never changed in place (a write stores a new dict), so references are a
                # consistent snapshot; etcd returns them in key order.
                matching = [o for (ns, _), o in sorted(self._table(resource).items(), key=lambda e: (e[0][0] or "",
                                                                                                      e[0][1]))
                            if (namespace is None or ns == namespace)
                            and _selects_labels(labels, o["metadata"].get("labels") or {}) and _selects_fields(fields, o)]
                revision = self.last_revision
            page, rest = (matching[:limit], matching[limit:]) if limit > 0 else (matching, [])
            items = [copy.deepcopy(_partial(o) if _metadata_only(request) else o) for o in page]
            metadata = {"resourceVersion": str(revision)}
            if rest:
                metadata["continue"] = next_token = uuid.uuid4().hex
                metadata["remainingItemCount"] = len(rest)
                self.continuations[next_token] = (revision, rest)
        if _metadata_only(request):
            return aiohttp.web.json_response({"kind": "PartialObjectMetadataList", "apiVersion": "meta.k8s.io/v1",
                                              "metadata": metadata, "items": items})
        return aiohttp.web.json_response({"kind": f"{resource.kind}List", "apiVersion": resource.api_version,
                                          "metadata": metadata, "items": items})

    async def _watch(self, request, resource: Resource, namespace: str | None) -> aiohttp.web.StreamResponse:
        watcher = _Watcher(resource, namespace, request.query.get("labelSelector"), request.query.get("fieldSelector"))
        since = int(request.query.get("resourceVersion") or 0)
        timeout = float(request.query.get("timeoutSeconds") or 0) or None
        initial = request.query.get("sendInitialEvents") == "true"
        if since and since < self.compacted and not initial:
            return await self._gone(request)
        shape = _partial if _metadata_only(request) else (lambda obj: obj)
        response = aiohttp.web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        with self.lock:
            key = (resource.group, resource.version, resource.plural)
            if initial:
                backlog = [("ADDED", copy.deepcopy(o)) for (ns, _), o in self.objects[key].items()]
            else:
                backlog = [(event, obj) for revision, event, obj in self.history[key] if revision > since]
            self.watchers.append(watcher)
            revision = self.last_revision
        try:
            for event, obj in backlog:
                if self._matches(watcher, obj["metadata"].get("namespace"), obj):
                    await response.write(json.dumps({"type": event, "object": shape(obj)}).encode() + b"\n")
            if initial:
                bookmark = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": {
                    "resourceVersion": str(revision), "annotations": {"k8s.io/initial-events-end": "true"}}}
                await response.write(json.dumps({"type": "BOOKMARK", "object": bookmark}).encode() + b"\n")
            deadline = asyncio.get_running_loop().time() + timeout if timeout else None
            while True:
                remaining = deadline - asyncio.get_running_loop().time() if deadline else None
                if remaining is not None and remaining <= 0:
                    break
                try:
                    item = await asyncio.wait_for(watcher.queue.get(), remaining)
                except asyncio.TimeoutError:
                    break
                if item is None:
                    break
                event, obj = item
                await response.write(json.dumps({"type": event, "object": shape(obj)}).encode() + b"\n")
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            with self.lock:
                if watcher in self.watchers:
                    self.watchers.remove(watcher)
        return response

    def _create(self, resource: Resource, namespace: str | None, body: dict) -> aiohttp.web.Response:
        obj = copy.deepcopy(body)
        metadata = obj.setdefault("metadata", {})
        if not metadata.get("name") and metadata.get("generateName"):
            metadata["name"] = metadata["generateName"] + uuid.uuid4().hex[:5]
        if not metadata.get("name"):
            return self._status(422, "Invalid", "metadata.name: Required value")
        if resource.namespaced:
            namespace = namespace or metadata.get("namespace") or "default"
            metadata["namespace"] = namespace
        else:
            namespace = None
        with self.lock:
            if (namespace, metadata["name"]) in self._table(resource):
                return self._status(409, "AlreadyExists", f'{resource.plural} "{metadata["name"]}" already exists')
            home = self.objects[("", "v1", "namespaces")].get((None, namespace)) if namespace else None
        if home and home["metadata"].get("deletionTimestamp"):
            return self._terminating(resource, metadata["name"], namespace)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        metadata.update(uid=str(uuid.uuid4()), creationTimestamp=_now(), generation=1)
        if resource.status and resource.group not in ("", "apps", "batch"):
            obj.pop("status", None)   # custom resources: status only through /status. Built-ins keep it, since
            #                           no kubelet or controller here would ever write it (tests set Pod status).
        self._store(resource, namespace, obj, "ADDED")
        return aiohttp.web.json_response(copy.deepcopy(obj), status=201)

    @staticmethod
    def _terminating(resource: Resource, name: str, namespace: str) -> aiohttp.web.Response:
        """NamespaceLifecycle admission: nothing new in a namespace being deleted (k8s
        plugin/pkg/admission/namespace/lifecycle/admission.go: NewForbidden plus a NamespaceTerminating cause)."""
        message = (f'{resource.plural} "{name}" is forbidden: unable to create new content in namespace {namespace} '
                   f'because it is being terminated')
        return aiohttp.web.json_response(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "message": message,
             "reason": "Forbidden", "code": 403,
             "details": {"name": name, "kind": resource.plural,
                         "causes": [{"reason": "NamespaceTerminating", "field": "metadata.namespace",
                                     "message": f"namespace {namespace} is being terminated"}]}}, status=403)

    def _write(self, resource: Resource, namespace: str | None, name: str, subresource: str | None,
               new: dict) -> aiohttp.web.Response:
        with self.lock:
            old = copy.deepcopy(self._table(resource)[(namespace, name)])
        if resource.status and subresource == "status":
            obj = {**old, "status": new.get("status")}
            if obj["status"] is None:
                obj.pop("status")
        elif resource.status:
            obj = {**new, "status": old.get("status")} if "status" in old else {
                k: v for k, v in new.items() if k != "status"}
        else:
            obj = new
        metadata = obj.setdefault("metadata", {})
        for immutable in ("uid", "creationTimestamp", "name", "namespace"):
            if immutable in old["metadata"]:
                metadata[immutable] = old["metadata"][immutable]
        metadata["generation"] = old["metadata"].get("generation", 1) + (
            1 if {k: v for k, v in obj.items() if k not in ("metadata", "status")}
            != {k: v for k, v in old.items() if k not in ("metadata", "status")} else 0)
        obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
        if metadata.get("deletionTimestamp") and not metadata.get("finalizers"):
            self._store(resource, namespace, obj, "DELETED")
        else:
            self._store(resource, namespace, obj, "MODIFIED")
        return aiohttp.web.json_response(copy.deepcopy(obj))

    def _replace(self, resource, namespace, name, subresource, body) -> aiohttp.web.Response:
        return self._write(resource, namespace, name, subresource, body)

    def _patch(self, resource, namespace, name, subresource, content_type, patch) -> aiohttp.web.Response:
        current = self._get(resource, namespace, name)
        if content_type == "application/json-patch+json":
            new = jsonpatch.apply_patch(current, patch)
        else:   # merge-patch; strategic-merge treated as merge (enough for status and metadata patches)
            new = _merge(current, patch)
        return self._write(resource, namespace, name, subresource, new)

    def _delete(self, resource, namespace, name) -> aiohttp.web.Response:
        obj = self._get(resource, namespace, name)
        if obj["metadata"].get("finalizers"):
            obj["metadata"]["deletionTimestamp"] = _now()
            self._store(resource, namespace, obj, "MODIFIED")
        else:
            self._store(resource, namespace, obj, "DELETED")
        return aiohttp.web.json_response(obj)
