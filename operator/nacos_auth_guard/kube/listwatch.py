"""The Secret and ConfigMap indexes from the operator's own list and watch, not from kopf's per-object handlers.

Secrets are most of a cluster's objects (Helm keeps every release in one, each service account and certificate has
one), ConfigMaps next (a CA bundle in every namespace, charts' configuration), and almost none concern Nacos.
Through kopf, each listed or changed object is one pass of kopf's per-object processing (its memories, handler
selection, handler kwargs): at start-up with 10,000 Secrets that was 88% of the event loop and kept checks from
being Ready for 13-17 s. Here an object costs one JSON item and one call of the index function; the index has the
shape of a kopf index (namespace -> entries), so the reconciler, the sweeper and the webhooks read it as before.

What kopf gave and this keeps: the first listing completes before any check is evaluated (`listed`); a watch
resumes from the last resourceVersion, and after 410 Gone lists again and drops what was deleted in the gap; every
request has a timeout and every failure is retried with backoff, forever. The list goes in pages (`limit`,
`continue`), so the Secrets of a cluster are never in memory at once, and values the index does not keep are dropped
by the index function before the next page is read. Credentials and TLS settings are the official client's
(kubeapi.api_client: in-cluster or the kubeconfig), as for every other call of the operator.
"""
from __future__ import annotations

import asyncio
import gc
import json
import logging
import ssl
from collections.abc import Callable, Iterator
from typing import Any

import aiohttp

from . import kubeapi
from .settings import CONFIG, backoff

logger = logging.getLogger("nacos_auth_guard")

PAGE = 100   # items per list request: a page of Helm releases (100-150 KB each) is ~12 MB, kubectl's 500 ~60 MB
QUICK_END_SECONDS = 1.0   # a watch that ends sooner, without an error, is resumed after a backoff pause
# etcd refuses a request over 1.5 MiB (its --max-request-bytes default), so no object's watch event comes near this
MAX_EVENT_BYTES = 16 * 2**20
WATCH_SECONDS = 300   # the apiserver ends each watch after this (timeoutSeconds); it is then resumed

Key = tuple[str, str]   # (namespace, name)


class Entries:
    """One namespace's entries as a kopf index store holds them: iterating yields the index function's values."""

    __slots__ = ("by_name",)

    def __init__(self) -> None:
        self.by_name: dict[str, Any] = {}

    def __iter__(self) -> Iterator[Any]:
        return iter(self.by_name.values())

    def __len__(self) -> int:
        return len(self.by_name)


class Expired(Exception):
    """410: a watch's resourceVersion or a list's continue token is older than the apiserver's history."""


class ApiError(Exception):
    def __init__(self, status: int, what: str) -> None:
        super().__init__(f"HTTP {status} {what}")
        self.status = status


class ListWatch:
    """Lists and then watches one namespaced resource at `paths` (one per watched namespace, or one cluster-wide),
    keeping `index` up to date: observe(namespace, name, object) gives an object's entry, changed(namespace, name)
    is told of every object listed, changed or deleted, and forget(namespace, name) of a deletion.
    field_selector: only the objects it selects (several list-watches with disjoint selectors may share one
    `index`); metadata_only: the apiserver sends only each object's metadata (PartialObjectMetadata)."""

    def __init__(self, plural: str, paths: list[str], observe: Callable[[str, str, dict], Any],
                 changed: Callable[[str, str], None], forget: Callable[[str, str], None] | None = None, *,
                 field_selector: str | None = None, metadata_only: bool = False,
                 index: dict[str, Entries] | None = None) -> None:
        self.plural, self.paths = plural, paths
        self.observe, self.forget, self.changed = observe, forget, changed
        self.field_selector, self.metadata_only = field_selector, metadata_only
        self.index: dict[str, Entries] = {} if index is None else index
        self.versions: dict[Key, str] = {}   # resourceVersion of each of its entries: a relist skips the unchanged
        self.listed = asyncio.Event()        # every path has had its first complete listing
        self._unlisted = set(paths)
        self._tasks: list[asyncio.Task] = []
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        if not self._tasks:
            self._tasks = [asyncio.create_task(self._follow(path), name=f"nacos-auth-guard {self.plural} {path}")
                           for path in self.paths]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- the index ----------------------------------------------------------------------------------------------
    def put(self, item: dict) -> Key | None:
        metadata = item.get("metadata") if isinstance(item, dict) else None
        if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str):
            return None
        key = (str(metadata.get("namespace")), metadata["name"])
        version = str(metadata.get("resourceVersion"))
        if self.versions.get(key) != version:   # the same version again: listed after a gap, unchanged
            try:
                entry = self.observe(*key, item)
            except Exception as error:  # noqa: BLE001 - a bug on one object must not stop the list of all others
                logger.error("Could not index %s %s/%s (%s): this is a bug; the index keeps what it held of it "
                             "before, if anything", self.plural, *key,
                             type(error).__name__)   # the type only: its text may quote a value
                self.versions[key] = version   # not tried again until the object changes
                return key
            self.index.setdefault(key[0], Entries()).by_name[key[1]] = entry
            self.versions[key] = version
            logger.debug("Indexed %s/%s from %s", *key, self.plural)
            self.changed(*key)
        return key

    def remove(self, key: Key) -> None:
        self.versions.pop(key, None)
        entries = self.index.get(key[0])
        if entries is not None and entries.by_name.pop(key[1], None) is not None and not entries.by_name:
            del self.index[key[0]]
        if self.forget is not None:
            self.forget(*key)
        logger.debug("Dropped %s/%s from %s", *key, self.plural)
        self.changed(*key)

    # --- list and watch -----------------------------------------------------------------------------------------
    async def _follow(self, path: str) -> None:
        failures, version = 0, None
        while True:
            try:
                if version is None:
                    version = await self._list(path)
                    if path in self._unlisted:
                        self._unlisted.discard(path)
                        if not self._unlisted:
                            self.listed.set()
                            # The entries live as long as the process: out of the cyclic GC, whose full
                            # collections over them would pause the webhooks (as webhooks._indexes_loaded does).
                            gc.freeze()
                began = asyncio.get_running_loop().time()
                version = await self._watch(path, version)
                if asyncio.get_running_loop().time() - began >= QUICK_END_SECONDS:
                    failures = 0
                else:   # a watch the server (or a proxy) ends at once, again and again: no busy loop against it
                    failures += 1
                    await asyncio.sleep(backoff(failures))
            except asyncio.CancelledError:
                raise
            except Expired:
                version = None   # list again, at once: the apiserver answered, its history is just shorter
            except Exception as error:  # noqa: BLE001 - the API is down or refused (or a bug): retry, forever
                failures += 1
                delay = backoff(failures)
                cause = failure(error)
                logger.warning("%s %s failed (%s); retry %d in %.1fs", "Listing" if version is None else "Watching",
                               self.plural, cause or type(error).__name__, failures, delay, exc_info=cause is None)
                await asyncio.sleep(delay)

    async def _list(self, path: str) -> str:
        """Lists every object at `path` page by page into the index; drops what the index holds there and the list
        does not (deleted while no watch was running). Returns the list's resourceVersion."""
        listed: set[Key] = set()
        token, version = "", ""
        while True:
            params = {"limit": str(PAGE), **({"continue": token} if token else {})}
            async with await self._request(path, params, CONFIG.api_timeout_seconds, "List") as response:
                if response.status == 410:
                    raise Expired()   # the continue token outlived the history: start the list again
                if response.status != 200:
                    raise ApiError(response.status, f"listing {self.plural}")
                document = json.loads(await response.read())
            metadata = document.get("metadata") or {}
            for item in document.get("items") or []:
                listed.add(self.put(item))
            del document   # before the next page arrives: one page in memory at a time
            version, token = str(metadata.get("resourceVersion") or ""), metadata.get("continue") or ""
            if not token:
                break
        namespace = _namespace_of(path)
        gone = [key for key in self.versions if key not in listed and (namespace is None or key[0] == namespace)]
        for key in gone:
            self.remove(key)
        if gone:
            logger.info("%d %s deleted while a watch was down are dropped", len(gone), self.plural)
        logger.debug("Listed %d %s at %s", len(listed), self.plural, path)
        return version

    async def _watch(self, path: str, version: str) -> str:
        """Follows the watch from `version` until the apiserver ends it; returns the version to resume from."""
        params = {"watch": "true", "resourceVersion": version, "allowWatchBookmarks": "true",
                  "timeoutSeconds": str(WATCH_SECONDS)}
        async with await self._request(path, params, WATCH_SECONDS + CONFIG.api_timeout_seconds, "") as response:
            if response.status == 410:
                raise Expired()
            if response.status != 200:
                raise ApiError(response.status, f"watching {self.plural}")
            buffer = b""
            async for chunk in response.content.iter_any():   # one event a line; a Helm release's is ~150 KB
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                if len(buffer) > MAX_EVENT_BYTES:   # no apiserver sends such a line: a proxy's endless answer
                    raise ApiError(502, f"in the {self.plural} watch: an event over {MAX_EVENT_BYTES // 2**20} MiB")
                for line in lines:
                    if line.strip():
                        version = self._event(json.loads(line), version)
        return version

    def _event(self, event: dict, version: str) -> str:
        kind, obj = event.get("type"), event.get("object") or {}
        if kind == "ERROR":
            if obj.get("code") == 410:
                raise Expired()
            raise ApiError(int(obj.get("code") or 500), f"in the {self.plural} watch")
        metadata = obj.get("metadata") or {}
        if kind in ("ADDED", "MODIFIED"):
            self.put(obj)
        elif kind == "DELETED":
            self.remove((str(metadata.get("namespace")), str(metadata.get("name"))))
        # BOOKMARK: only a newer version to resume from
        return str(metadata.get("resourceVersion") or version)

    async def _request(self, path: str, params: dict[str, str], total: float, kind: str):
        """A GET with the official client's credentials; waits at most the API timeout for the answer to start.
        kind: "List" for a list, "" for a watch (what a metadata-only answer is called)."""
        configuration = kubeapi.api_client().configuration
        if self.field_selector:
            params = {**params, "fieldSelector": self.field_selector}
        accept = (f"application/json;as=PartialObjectMetadata{kind};g=meta.k8s.io;v=v1,application/json"
                  if self.metadata_only else "application/json")
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=_tls(configuration)))
        bearer = (configuration.auth_settings().get("BearerToken") or {}).get("value")   # refreshes a rotated token
        timeout = aiohttp.ClientTimeout(total=total, connect=min(10.0, CONFIG.api_timeout_seconds))
        request = self._session.get(configuration.host.rstrip("/") + path, params=params, timeout=timeout,
                                    headers={"Accept": accept, **({"Authorization": bearer} if bearer else {})},
                                    proxy=configuration.proxy or None,
                                    server_hostname=getattr(configuration, "tls_server_name", None) or None)
        return await asyncio.wait_for(request, CONFIG.api_timeout_seconds)


def failure(error: BaseException) -> str | None:
    """A list's or watch's failure in a few words (never a response body), None for a bug (log its traceback)."""
    if isinstance(error, ApiError):
        return str(error)
    if isinstance(error, (aiohttp.ClientError, OSError, asyncio.TimeoutError, ValueError)):
        return type(error).__name__   # ValueError: a body that is not JSON (a proxy's error page)
    return None


def _namespace_of(path: str) -> str | None:
    parts = path.strip("/").split("/")
    return parts[parts.index("namespaces") + 1] if "namespaces" in parts else None


def _tls(configuration) -> ssl.SSLContext | bool:
    """The official client's TLS settings (CA, client certificate, verification) as an ssl context."""
    if not configuration.host.startswith("https"):
        return False
    context = ssl.create_default_context(cafile=configuration.ssl_ca_cert or None)
    if configuration.cert_file:
        context.load_cert_chain(configuration.cert_file, configuration.key_file)
    if not configuration.verify_ssl:
        context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    elif configuration.assert_hostname is False:
        context.check_hostname = False
    return context


def paths(plural: str) -> list[str]:
    """Where to list a core/v1 resource: each watched namespace, or the whole cluster."""
    if not CONFIG.namespaces:
        return [f"/api/v1/{plural}"]
    return [f"/api/v1/namespaces/{namespace}/{plural}" for namespace in CONFIG.namespaces]
