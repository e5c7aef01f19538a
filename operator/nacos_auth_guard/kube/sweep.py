"""Index entries of objects that were deleted while a watch was down.

kopf drops an object from its indexes only on a DELETED event. When a watch resumes after a gap too long for the
apiserver's history (410 Gone: etcd compaction, a long outage), kopf lists the resource again, but an object that
was deleted during the gap is in no event and no list: kopf keeps it indexed for the life of the process (kopf
1.45). A deleted Secret would then look present, and a Pod replaced under the same name would count twice.

The Sweeper notices a relist (a listing event for an object it has seen before), lists the names and uids of that
resource once (metadata only: no Secret data), and marks what kopf still indexes but the apiserver no longer has as
gone; the reconciler and the webhooks read the indexes through `entries()`, which skips those. A full sweep runs
every SWEEP_SECONDS too, for the one relist it cannot notice: one that lists nothing seen before.
"""
from __future__ import annotations

import asyncio
import logging
from typing import Callable, Iterable, Iterator

from . import kubeapi
from .settings import CONFIG, GROUP, PLURAL, VERSION, backoff

logger = logging.getLogger("nacos_auth_guard")

SWEEP_SECONDS = 3600.0
QUIET_SECONDS = 0.5   # a relist arrives as a burst of events: sweep once it is over

# index name -> (API path prefix, plural, the index's entries are (name, value) pairs rather than objects)
INDEXED = {
    "secret_index": ("api/v1", "secrets", True),
    "configmap_index": ("api/v1", "configmaps", True),
    "service_index": ("api/v1", "services", True),
    "pod_index": ("api/v1", "pods", False),
    "statefulset_index": ("apis/apps/v1", "statefulsets", False),
    "deployment_index": ("apis/apps/v1", "deployments", False),
    "replicaset_index": ("apis/apps/v1", "replicasets", False),
    "daemonset_index": ("apis/apps/v1", "daemonsets", False),
    "job_index": ("apis/batch/v1", "jobs", False),
    "cronjob_index": ("apis/batch/v1", "cronjobs", False),
    "check_index": (f"apis/{GROUP}/{VERSION}", PLURAL, True),
    "namespace_index": ("api/v1", "namespaces", False),
}
INDEX_OF_PLURAL = {plural: index for index, (_, plural, _) in INDEXED.items()}

Identity = tuple[str | None, str, str | None]   # (namespace, name, uid); uid None where the index keeps none


def identity(index: str, namespace: str | None, entry: object) -> Identity:
    """Who an index entry is, from what the index keeps of it."""
    if index == "namespace_index":
        return None, str(namespace), None
    if INDEXED[index][2]:
        name, value = entry
        metadata = value.get("metadata") if isinstance(value, dict) else None
        return namespace, name, metadata.get("uid") if isinstance(metadata, dict) else None
    metadata = entry.get("metadata") or {}
    return namespace, metadata.get("name"), metadata.get("uid")


class Sweeper:
    def __init__(self, indices, on_gone: Callable[[str, str | None], None], swept: Iterable[str] = INDEXED) -> None:
        self.indices = indices
        self.swept = frozenset(swept)                  # the indexes a periodic sweep checks
        self.on_gone = on_gone                         # (index, namespace): re-evaluate what it can affect
        self.gone: set[tuple[str, Identity]] = set()
        self.seen: dict[tuple[str, str | None, str], int] = {}   # (index, namespace, name) -> last event number
        self.sequence = 0
        self.pending: set[str] = set()
        self.wake = asyncio.Event()
        self.task: asyncio.Task | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self.run(), name="nacos-auth-guard index sweep")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)

    # --- what the event handlers report ---------------------------------------------------------------------------
    def observed(self, plural: str, namespace: str | None, name: str, uid: str | None, event: str | None) -> None:
        index = INDEX_OF_PLURAL[plural]
        key = (index, namespace if index != "namespace_index" else None, name)
        if event is None and key in self.seen:   # listed again: kopf relisted after a gap
            self.pending.add(index)
            self.wake.set()
        if event == "DELETED":
            self.seen.pop(key, None)
        else:
            self.sequence += 1
            self.seen[key] = self.sequence
        if self.gone:
            self.gone = {(i, who) for i, who in self.gone
                         if not (i == index and who[:2] == key[1:] and (who[2] is None or who[2] == uid))}

    # --- what readers see -----------------------------------------------------------------------------------------
    def entries(self, index: str, namespace: str | None) -> Iterable:
        store = self.indices[index].get(namespace, [])
        if not self.gone:
            return store
        return [entry for entry in store if (index, identity(index, namespace, entry)) not in self.gone]

    def namespaces(self, index: str) -> Iterator[str]:
        for namespace in list(self.indices[index]):
            if not self.gone or (index, identity(index, namespace, None)) not in self.gone:
                yield namespace

    # --- sweeping -------------------------------------------------------------------------------------------------
    async def run(self) -> None:
        failures = 0
        while True:
            try:
                await asyncio.wait_for(self.wake.wait(), SWEEP_SECONDS)
                await asyncio.sleep(QUIET_SECONDS)
            except asyncio.TimeoutError:
                self.pending |= self.swept
            self.wake.clear()
            indexes, self.pending = sorted(self.pending), set()
            for position, index in enumerate(indexes):
                try:
                    await self.sweep(index)
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # noqa: BLE001 - the API is down (or a bug): try again later
                    failures += 1
                    cause = kubeapi.failure(error)
                    logger.warning("Checking the %s index against the API failed (%s); retrying",
                                   INDEXED[index][1], cause or type(error).__name__, exc_info=cause is None)
                    self.pending |= set(indexes[position:])
                    asyncio.get_running_loop().call_later(backoff(failures), self.wake.set)
                    break
            else:
                failures = 0

    async def sweep(self, index: str) -> set[Identity]:
        """Marks the entries of `index` that the apiserver no longer has; returns them."""
        started = self.sequence
        indexed = [(namespace, identity(index, namespace, entry)) for namespace in list(self.indices[index])
                   for entry in list(self.indices[index].get(namespace, []))]
        listed: set[Identity] = set()
        for path in self._paths(index):
            listed |= await asyncio.to_thread(kubeapi.list_identities, path)
        names = {(namespace, name) for namespace, name, _ in listed}
        found = set()
        for namespace, who in indexed:
            present = who in listed if who[2] else who[:2] in names
            touched = self.seen.get((index, who[0], who[1]), 0) > started   # an event since the list began
            if not present and not touched:
                found.add(who)
        new = {who for who in found if (index, who) not in self.gone}
        if new:
            self.gone |= {(index, who) for who in new}
            logger.info("%d %s deleted while a watch was down are now ignored", len(new), INDEXED[index][1])
            for namespace in {who[0] for who in new} if index != "namespace_index" else {None}:
                self.on_gone(index, namespace)
        return found

    @staticmethod
    def _paths(index: str) -> list[str]:
        prefix, plural, _ = INDEXED[index]
        if index == "namespace_index" or not CONFIG.namespaces:
            return [f"/{prefix}/{plural}"]
        return [f"/{prefix}/namespaces/{namespace}/{plural}" for namespace in CONFIG.namespaces]

