"""The only kopf code. Indexes hold what the checks read, in the Snapshot's compact forms keyed by namespace;
event handlers mark the NacosAuthChecks a change can affect; one reconciler task evaluates those from the
indexes (no API reads) and writes status and Events only when something changed.

Nothing here is written to objects we do not own: no annotations, no finalizers (on.event/index only).
kopf calls no on.event handler before every index has its initial listing, and the reconciler evaluates nothing
before the Secrets and ConfigMaps (served by listwatch, not kopf) are listed: a check never sees half a cluster.
"""
from __future__ import annotations

import asyncio
import functools
import hashlib
import logging
import socket
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

import kopf
import kubernetes

from ..conditions import build_status, finding_keys, same_status, timestamp
from ..discovery import SERVER_KINDS, is_server, runs_nacos
from ..evaluation import InvalidSpec, evaluate, parse_spec, selects, server_of, settle
from ..model import Finding, ObjectRef, Severity
from ..shapes import as_dict, as_list
from ..snapshot import (KeyedData, Snapshot, compact_config_map, compact_secret, parse_time, slim_service,
                        slim_workload)
from . import kopf_startup, kubeapi, listwatch, metrics, probing
from .settings import AUTO_CHECK_ANNOTATION, COMPONENT, CONFIG, GROUP, PLURAL, VERSION, backoff, configure_kopf
from .sweep import INDEXED, Sweeper

logger = logging.getLogger("nacos_auth_guard")
kopf_startup.install()

MAX_SECRET_VALUE = 64 * 1024
# Secret types that never carry Nacos settings: keep their key names, not their (large) values.
OPAQUE_TO_US = frozenset({"helm.sh/release.v1", "kubernetes.io/service-account-token", "kubernetes.io/tls",
                          "kubernetes.io/dockerconfigjson", "kubernetes.io/dockercfg", "bootstrap.kubernetes.io/token"})
WORKLOAD_INDEXES = ("statefulset_index", "deployment_index", "replicaset_index", "daemonset_index", "job_index",
                    "cronjob_index")


# Every kopf handler here is async: kopf runs sync handlers in a thread pool, and these share the reconciler's
# state with the event loop.


def _raw(body) -> dict:
    """kopf's Body is a read-only mapping view; the engine reads plain dicts."""
    return dict(body)


# --- indexes -------------------------------------------------------------------------------------------------------

# Per Secret and key: (digest of the value, when its value is known to have changed, the managedFields time of a
# write not known to be a mere metadata edit).
_secret_digests: dict[tuple[str, str], dict[str, tuple[bytes, datetime | None, datetime | None]]] = {}


def _observe_secret(namespace: str, name: str, body: dict) -> KeyedData:
    """Compacts a Secret and dates each key's last value change (a digest per key is kept in memory to tell a
    value change from any other edit; it is never logged or written anywhere)."""
    opaque = body.get("type") in OPAQUE_TO_US
    if opaque:   # key names only: not even decoded (a Helm release's value is 100 KB and more)
        body = {**body, **{field: dict.fromkeys(body[field], "") for field in ("data", "stringData")
                           if isinstance(body.get(field), dict)}}
    data = compact_secret(body)
    if opaque:
        data.data = {key: None for key in data.data}
    else:
        data.data = {key: value if value is None or len(value) <= MAX_SECRET_VALUE else None
                     for key, value in data.data.items()}
    seen = _secret_digests.setdefault((namespace, name), {})
    now = datetime.now(timezone.utc)
    for key, value in data.data.items():
        digest = hashlib.sha256(value).digest() if isinstance(value, bytes) else b""
        # The API's time for a key (managedFields) also moves when the same manager edits a label or an
        # annotation, e.g. every Helm upgrade: on first sight no value change is known, only that write time;
        # a later write with the same value is such an edit (the earlier write time stays the one to report);
        # a change is known when the value itself changed.
        written = data.written_at.get(key)
        before = seen.get(key)
        if before is None:
            changed = None
        elif before[0] == digest:
            changed, written = before[1], before[2]
        elif written is not None and (before[2] is None or written > before[2]):
            changed = written   # the apiserver's time of this write: not delayed by the watch
        else:
            changed = now
        seen[key] = (digest, changed, written)
        if changed is not None:
            data.changed_at[key] = changed
        if written is None:
            data.written_at.pop(key, None)
        else:
            data.written_at[key] = written
    return data


def _recall_key_change(namespace: str, name: str, key: str, when: datetime, data: KeyedData) -> None:
    """A value change a NacosAuthCheck's status recorded before a restart: known again, if the key has not been
    written since (its managedFields time is not later)."""
    seen = _secret_digests.get((namespace, name), {}).get(key)
    written = data.written_at.get(key)
    if seen is None or seen[1] is not None or (written is not None and written > when):
        return
    _secret_digests[(namespace, name)][key] = (seen[0], when, seen[2])
    data.changed_at[key] = when


def _secret_entry(namespace: str, name: str, body: dict) -> tuple[str, KeyedData]:
    return name, _observe_secret(namespace, name, body)


# Helm 3 stores a release in a Secret of this type under the one key `release` (helm pkg/storage/driver/secrets.go),
# 100 KB and more. Listed metadata-only: its value, of no use to any check, never crosses the network.
HELM_RELEASE = "helm.sh/release.v1"


def _helm_release_entry(namespace: str, name: str, body: dict) -> tuple[str, KeyedData]:
    return _secret_entry(namespace, name, {"metadata": body.get("metadata"), "type": HELM_RELEASE,
                                           "data": {"release": ""}})


def _config_map_entry(namespace: str, name: str, body: dict) -> tuple[str, KeyedData]:
    return name, compact_config_map(body)


@kopf.index("v1", "services")
async def service_index(namespace, name, body, **_):
    return {namespace: (name, slim_service(_raw(body)))}


def _controller(body) -> str | None:
    """The kind of the object's controlling owner, if it has one."""
    owners = as_dict(body.get("metadata")).get("ownerReferences") or []
    return next((o.get("kind") for o in owners if isinstance(o, dict) and o.get("controller")), None)


@kopf.index("v1", "pods")
async def pod_index(namespace, body, **_):
    # Kept: a StatefulSet's pods (its check compares them even when it was named by a check and runs no Nacos
    # image), a ReplicaSet's pods that run Nacos (a Deployment's or a bare ReplicaSet's: most ReplicaSet pods are
    # clients, checked through their Deployment), and bare Pods (a server or a client of their own).
    controller = _controller(body)
    if controller == "StatefulSet" or controller is None or (controller == "ReplicaSet" and runs_nacos(body)):
        return {namespace: slim_workload(_raw(body))}
    return None


@kopf.index("apps", "v1", "statefulsets")
async def statefulset_index(namespace, body, **_):
    return {namespace: slim_workload(_raw(body))}


@kopf.index("apps", "v1", "deployments")
async def deployment_index(namespace, body, **_):
    return {namespace: slim_workload(_raw(body))}


@kopf.index("apps", "v1", "replicasets")
async def replicaset_index(namespace, body, **_):
    if _controller(body) is not None:
        return None   # a Deployment's: its pods are found through it
    return {namespace: slim_workload(_raw(body))}


@kopf.index("apps", "v1", "daemonsets")
async def daemonset_index(namespace, body, **_):
    return {namespace: slim_workload(_raw(body))}


@kopf.index("batch", "v1", "jobs")
async def job_index(namespace, body, **_):
    return {namespace: slim_workload(_raw(body))}


@kopf.index("batch", "v1", "cronjobs")
async def cronjob_index(namespace, body, **_):
    return {namespace: slim_workload(_raw(body))}


@kopf.index(GROUP, VERSION, PLURAL)
async def check_index(namespace, name, body, **_):
    return {namespace: (name, _raw(body))}


@kopf.index("v1", "namespaces")
async def namespace_index(name, labels, **_):
    return {name: dict(labels)}


# --- the reconciler --------------------------------------------------------------------------------------------------

class Reconciler:
    """Evaluates NacosAuthChecks marked dirty, one at a time, from the indexes."""

    def __init__(self, indices, loaded: tuple[asyncio.Event, ...] = ()) -> None:
        self.indices = indices
        self.loaded = loaded   # each set once an index kopf does not fill (listwatch) holds its first listing
        self.dirty: set[tuple[str, str]] = set()
        self.forced: set[tuple[str, str]] = set()
        self.wake = asyncio.Event()
        self.scopes: dict[tuple[str, str], frozenset[str]] = {}
        self.dependencies: dict[tuple[str, str], frozenset[tuple[str, str, str]]] = {}
        self.statuses: dict[tuple[str, str], dict] = {}
        self.written_at: dict[tuple[str, str], float] = {}
        self.failures: dict[tuple[str, str], int] = {}   # consecutive failed reconciles: the retry backoff
        # Secrets and ConfigMaps seen since start (names only): one missing now was deleted, not late.
        self.existed: set[ObjectRef] = set()
        self.tasks: list[asyncio.Task] = []
        self.prober = probing.Prober(self)
        self.sweeper = Sweeper(indices, self.gone_from_index, swept=SWEPT)

    def ensure_running(self) -> None:
        """Started from the first event handler, not from startup: kopf.event() needs the event queue that kopf
        puts in the context of its object-processing tasks, and a task inherits its creator's context."""
        if not self.tasks:
            self.tasks = [asyncio.create_task(self.run(), name="nacos-auth-guard reconciler"),
                          asyncio.create_task(self.resync(), name="nacos-auth-guard resync")]

    async def stop(self) -> None:
        await self.prober.stop()
        await self.sweeper.stop()
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    # marking
    def mark(self, key: tuple[str, str], force: bool = False) -> None:
        if CONFIG.webhook_only:
            return   # the indexes serve the webhooks; another process owns status and Events
        self.ensure_running()
        self.dirty.add(key)
        if force:
            self.forced.add(key)
        self.wake.set()

    def object_changed(self, kind: str, namespace: str, name: str) -> None:
        self.existed.add(ObjectRef(kind, namespace, name))
        for key, dependencies in self.dependencies.items():
            if (kind, namespace, name) in dependencies:
                self.mark(key)

    def namespace_changed(self, namespace: str) -> None:
        for key, scope in self.scopes.items():
            if namespace in scope:
                self.mark(key)
        for name, _ in self.indices["check_index"].get(namespace, []):
            if (namespace, name) not in self.scopes:
                self.mark((namespace, name))

    def gone_from_index(self, index: str, namespace: str | None) -> None:
        """The sweeper found objects that were deleted while a watch was down: re-evaluate what they affect."""
        if namespace is None:
            for key in list(self.scopes):
                self.mark(key)
        else:
            self.namespace_changed(namespace)

    def forget(self, key: tuple[str, str]) -> None:
        for table in (self.scopes, self.dependencies, self.statuses, self.written_at, self.failures):
            table.pop(key, None)
        self.dirty.discard(key)
        self.prober.stop_check(key)
        metrics.forget(key)

    # running
    async def run(self) -> None:
        for listed in self.loaded:
            await listed.wait()
        while True:
            await self.wake.wait()
            await asyncio.sleep(CONFIG.debounce_seconds)
            self.wake.clear()
            keys, self.dirty = sorted(self.dirty), set()
            for key in keys:
                try:
                    await self.reconcile(key)
                except asyncio.CancelledError:
                    raise
                except Exception as error:   # one check's failure must not stop the others
                    self.retry_later(key, error)
                else:
                    self.failures.pop(key, None)

    def retry_later(self, key: tuple[str, str], error: Exception) -> None:
        """A failed reconcile is retried with backoff, forever: the status and Events it did not write are
        computed again from the same baseline (self.statuses is only updated after a successful write)."""
        attempt = self.failures[key] = self.failures.get(key, 0) + 1
        metrics.RECONCILE_RETRIES.inc()
        delay = backoff(attempt)
        cause = kubeapi.failure(error)
        logger.warning("Writing NacosAuthCheck %s/%s failed (%s); retry %d in %.1fs", *key,
                       cause or type(error).__name__, attempt, delay, exc_info=cause is None)
        self.mark_later(key, delay)

    def mark_later(self, key: tuple[str, str], delay: float) -> None:
        asyncio.get_running_loop().call_later(delay, self.mark, key)

    async def resync(self) -> None:
        while True:
            await asyncio.sleep(CONFIG.resync_seconds)
            for namespace, store in list(self.indices["check_index"].items()):
                for name, _ in store:
                    self.mark((namespace, name), force=True)

    def snapshot(self, namespaces: frozenset[str]) -> Snapshot:
        snapshot = Snapshot(complete=True)
        entries = self.sweeper.entries   # the indexes, without objects deleted while a watch was down
        for namespace in namespaces:
            for name, data in entries("secret_index", namespace):
                snapshot.secrets[(namespace, name)] = data
            for name, data in entries("configmap_index", namespace):
                snapshot.config_maps[(namespace, name)] = data
            for name, service in entries("service_index", namespace):
                snapshot.services[(namespace, name)] = service
            snapshot.workloads.extend(entries("pod_index", namespace))
            for index in WORKLOAD_INDEXES:
                snapshot.workloads.extend(entries(index, namespace))
        return snapshot

    def scope_of(self, namespace: str, selector: dict | None) -> frozenset[str]:
        if selector is None:
            return frozenset({namespace})
        return frozenset({namespace} | {name for name in self.sweeper.namespaces("namespace_index")
                                        if any(selects(selector, labels)
                                               for labels in self.indices["namespace_index"][name])})

    def body_of(self, key: tuple[str, str]) -> dict | None:
        return next((body for name, body in self.sweeper.entries("check_index", key[0]) if name == key[1]), None)

    async def reconcile(self, key: tuple[str, str]) -> None:
        body = self.body_of(key)
        if body is None:
            self.forget(key)
            return
        started = time.perf_counter()
        now = datetime.now(timezone.utc)
        previous = self.statuses.get(key, as_dict(body.get("status")) or None)
        generation = as_dict(body.get("metadata")).get("generation")
        findings: list[Finding] = []
        try:
            spec = parse_spec(body)
        except InvalidSpec as error:
            status = build_status([], previous=previous, generation=generation, now=now, servers=0, clients=0,
                                  stalled=("InvalidSpec", str(error)))
            self.scopes[key] = frozenset({key[0]})
            self.prober.stop_check(key)
            snapshot = None
        else:
            scope = self.scope_of(spec.namespace, spec.namespace_selector)
            snapshot = self.snapshot(scope)
            _recall_key_changes(spec.namespace, previous, snapshot)
            result = evaluate(spec, snapshot, now)
            probe = self.prober.update(key, spec, snapshot, active=result.stalled is None)
            settled = settle(result.findings, snapshot, now, timedelta(seconds=CONFIG.settle_seconds), self.existed)
            if settled.until is not None:
                self.mark_later(key, (settled.until - now).total_seconds() + 0.01)
            findings = settled.reported + probe.findings
            status = build_status(findings, previous=previous, generation=generation, now=now,
                                  servers=result.servers, clients=result.clients, stalled=result.stalled,
                                  concerns=probe.concerns, pending={**(probe.pending or {}), **settled.pending})
            changes = _key_changes(spec.namespace, snapshot, result.dependencies)
            if changes:
                status["keyChanges"] = changes
            self.scopes[key] = scope
            self.dependencies[key] = result.dependencies | probe.dependencies
        metrics.RECONCILE_SECONDS.observe(time.perf_counter() - started)
        if same_status(previous, status) and key not in self.forced:
            return
        # Events before the status, under names fixed by the transition: a retry or a restarted operator computes
        # the same transition from the same baseline and gets 409 for what it posted already. So an Event is
        # neither lost (the status that would hide the transition is written only after them) nor posted twice.
        events = _transition_events(body, previous, status, findings, snapshot, now)
        for event in events:
            try:
                if await asyncio.to_thread(kubeapi.create_event, event):
                    metrics.EVENTS.labels(type=event["type"]).inc()
            except kubeapi.NamespaceTerminating as terminating:
                # Expected while a namespace is deleted with its checks in it: not a failure, never retried.
                logger.info("Not posting %s Event %s for NacosAuthCheck %s/%s: namespace %s is being terminated",
                            event["type"], event["reason"], *key, terminating)
        try:
            await asyncio.to_thread(kubeapi.patch_check_status, key[0], key[1], status)
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
            self.forget(key)   # deleted meanwhile; its DELETED event may still be on its way
            return
        self.forced.discard(key)
        metrics.STATUS_WRITES.inc()
        self.statuses[key] = status
        self.written_at[key] = time.monotonic()
        ready = next(c["status"] for c in status["conditions"] if c["type"] == "Ready")
        metrics.record(key, Counter((f.code, str(f.severity)) for f in findings), ready)


MAX_KEY_CHANGES = 50


def _key_changes(namespace: str, snapshot: Snapshot, dependencies: frozenset[tuple[str, str, str]]) -> list[dict]:
    """The value changes the operator saw in the Secrets of the check's namespace that it reads: names and times
    only (never a value or a hash of one), so that a restarted operator still knows them (_recall_key_changes)."""
    changes = [{"secret": name, "key": key, "changedAt": timestamp(when)}
               for kind, where, name in dependencies if kind == "Secret" and where == namespace
               for data in [snapshot.secrets.get((where, name))] if data is not None
               for key, when in data.changed_at.items()]
    return sorted(changes, key=lambda c: (c["changedAt"], c["secret"], c["key"]), reverse=True)[:MAX_KEY_CHANGES]


def _recall_key_changes(namespace: str, status: dict | None, snapshot: Snapshot) -> None:
    for entry in as_list(as_dict(status).get("keyChanges")):
        entry = as_dict(entry)
        name, key, when = entry.get("secret"), entry.get("key"), parse_time(entry.get("changedAt"))
        data = snapshot.secrets.get((namespace, name)) if isinstance(name, str) else None
        if data is not None and isinstance(key, str) and when is not None:
            _recall_key_change(namespace, name, key, when, data)


def _transition_events(body: dict, previous: dict | None, status: dict, findings: list[Finding],
                       snapshot: Snapshot | None, now: datetime) -> list[dict]:
    """Events only on transitions: a finding new since the last status (Warning), or one that went away (Normal);
    each on the NacosAuthCheck and on the workload at fault."""
    before = finding_keys(previous)
    after = finding_keys(status)
    check = _reference(body)
    # What identifies the transition: the check, and the status it starts from (as stored, so a restarted
    # operator derives the same names). No secret goes into it: times, codes and object names only.
    basis = "|".join([str(check["metadata"].get("uid")), str((previous or {}).get("lastCheckedTime")),
                      *sorted(f"{code}@{obj}" for code, obj in before)])
    events = []
    for item in findings:
        if (item.code, str(item.obj)) in before or (item.code, str(item.obj)) not in after:
            continue
        if item.severity is Severity.INFO:
            continue
        for target in [check] + [t for t in [_workload_reference(snapshot, item.obj)] if t]:
            events.append(_event(target, "Warning", item.reason, item.message[:1024], basis, item.code,
                                 str(item.obj), now))
    for entry in (previous or {}).get("findings") or []:
        if not isinstance(entry, dict) or (entry.get("code"), entry.get("object")) in after:
            continue
        if entry.get("severity") == "info":
            continue
        target = _workload_reference(snapshot, _parse_ref(entry.get("object")))
        message = f"Resolved on {entry.get('object')}: {entry.get('code')} no longer applies."
        for target in [check] + ([target] if target else []):
            events.append(_event(target, "Normal", str(entry.get("reason")), message, basis,
                                 str(entry.get("code")), str(entry.get("object")), now))
    return events


def _event(target: dict, kind: str, reason: str, message: str, basis: str, code: str, obj: str,
           now: datetime) -> dict:
    metadata = target["metadata"]
    identity = "|".join([basis, kind, code, obj, target["kind"], str(metadata.get("name"))])
    digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
    name = f"{str(metadata.get('name'))[:200].rstrip('.-')}.{digest}"
    return {"apiVersion": "v1", "kind": "Event",
            "metadata": {"name": name, "namespace": metadata.get("namespace"),
                         "labels": {"app.kubernetes.io/managed-by": COMPONENT}},
            "involvedObject": {"apiVersion": target["apiVersion"], "kind": target["kind"], **metadata},
            "type": kind, "reason": reason, "message": message,
            "source": {"component": COMPONENT}, "reportingComponent": COMPONENT,
            "reportingInstance": _INSTANCE, "firstTimestamp": timestamp(now), "lastTimestamp": timestamp(now),
            "count": 1}


_INSTANCE = socket.gethostname()   # in a cluster: the pod's name


def _reference(body: dict) -> dict:
    metadata = as_dict(body.get("metadata"))
    return {"apiVersion": body.get("apiVersion", f"{GROUP}/{VERSION}"), "kind": body.get("kind", "NacosAuthCheck"),
            "metadata": {"name": metadata.get("name"), "namespace": metadata.get("namespace"),
                         "uid": metadata.get("uid")}}


API_VERSIONS = {"StatefulSet": "apps/v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1", "DaemonSet": "apps/v1",
                "Job": "batch/v1", "CronJob": "batch/v1", "Pod": "v1"}


def _workload_reference(snapshot: Snapshot | None, ref: ObjectRef | None) -> dict | None:
    if snapshot is None or ref is None or ref.kind not in API_VERSIONS:
        return None
    for workload in snapshot.workloads:
        metadata = workload["metadata"]
        if workload["kind"] == ref.kind and metadata.get("name") == ref.name and metadata.get(
                "namespace") == ref.namespace:
            return {"apiVersion": API_VERSIONS[ref.kind], "kind": ref.kind,
                    "metadata": {"name": ref.name, "namespace": ref.namespace, "uid": metadata.get("uid")}}
    return None


def _parse_ref(text: object) -> ObjectRef | None:
    parts = text.split("/") if isinstance(text, str) else []
    return ObjectRef(*parts) if len(parts) == 3 else None


RECONCILER: Reconciler | None = None
# The indexes of the most numerous kinds, from listwatch rather than kopf, by what each lists.
LISTWATCHES: dict[str, listwatch.ListWatch] = {}
SWEPT = frozenset(INDEXED) - {"secret_index", "configmap_index"}   # a list-watch drops what a watch gap deleted


def listed() -> bool:
    """Every list-watch has had its first complete listing."""
    return bool(LISTWATCHES) and all(watch.listed.is_set() for watch in LISTWATCHES.values())


@kopf.on.startup()
async def start(settings: kopf.OperatorSettings, **kwargs):
    global RECONCILER
    configure_kopf(settings)
    LISTWATCHES.clear()
    secret_changed = functools.partial(_changed, "Secret")
    secrets = listwatch.ListWatch("secrets", listwatch.paths("secrets"), _secret_entry, secret_changed,
                                  forget=_secret_deleted, field_selector=f"type!={HELM_RELEASE}")
    LISTWATCHES.update({
        "secrets": secrets,
        "helm releases": listwatch.ListWatch("secrets", listwatch.paths("secrets"), _helm_release_entry,
                                             secret_changed, forget=_secret_deleted,
                                             field_selector=f"type={HELM_RELEASE}", metadata_only=True,
                                             index=secrets.index),
        "configmaps": listwatch.ListWatch("configmaps", listwatch.paths("configmaps"), _config_map_entry,
                                          functools.partial(_changed, "ConfigMap"))})
    indices = {name: kwargs[name] for name in (
        "service_index", "pod_index", *WORKLOAD_INDEXES, "check_index", "namespace_index")}
    indices.update(secret_index=secrets.index, configmap_index=LISTWATCHES["configmaps"].index)
    RECONCILER = Reconciler(indices, loaded=tuple(watch.listed for watch in LISTWATCHES.values()))
    for watch in LISTWATCHES.values():
        watch.start()
    if CONFIG.metrics_port:
        metrics.serve(CONFIG.metrics_port, CONFIG.metrics_address)


@kopf.on.cleanup()
async def stop(**_):
    global RECONCILER
    for watch in LISTWATCHES.values():
        await watch.stop()
    LISTWATCHES.clear()
    if RECONCILER is not None:
        await RECONCILER.stop()
    RECONCILER = None
    _secret_digests.clear()


# --- what a change can affect --------------------------------------------------------------------------------------

def _seen(resource, namespace: str | None, name: str, uid: str | None, event: str | None) -> None:
    """First thing in every event handler: the sweeper must know an object is back before a re-evaluation reads
    the indexes. Started from a handler, as the reconciler is; in --webhook-only too, for the webhooks."""
    RECONCILER.sweeper.start()
    RECONCILER.sweeper.observed(resource.plural, namespace, name, uid, event)


def _secret_deleted(namespace: str, name: str) -> None:
    _secret_digests.pop((namespace, name), None)


def _changed(kind: str, namespace: str, name: str) -> None:
    """A Secret or ConfigMap listed, changed or deleted (listwatch): what an on.event handler does for the others."""
    if RECONCILER:
        RECONCILER.object_changed(kind, namespace, name)


@kopf.on.event("v1", "services")
@kopf.on.event("apps", "v1", "daemonsets")
@kopf.on.event("batch", "v1", "jobs")
@kopf.on.event("batch", "v1", "cronjobs")
async def workload_changed(resource, namespace, name, uid, type, **_):
    if RECONCILER:
        _seen(resource, namespace, name, uid, type)
        RECONCILER.namespace_changed(namespace)


@kopf.on.event("v1", "namespaces")
async def namespace_labels_changed(resource, name, uid, type, **_):
    if RECONCILER:
        _seen(resource, None, name, uid, type)
        for key in list(RECONCILER.scopes):
            RECONCILER.mark(key)   # a label change can move a namespace in or out of a client selector


@kopf.on.event(GROUP, VERSION, PLURAL)
async def check_changed(resource, namespace, name, uid, type, **_):
    if not RECONCILER:
        return
    _seen(resource, namespace, name, uid, type)
    if type == "DELETED":
        RECONCILER.forget((namespace, name))
    else:
        RECONCILER.mark((namespace, name))


@kopf.on.event("apps", "v1", "statefulsets")
@kopf.on.event("apps", "v1", "deployments")
@kopf.on.event("apps", "v1", "replicasets", when=lambda body, **_: _controller(body) is None)
@kopf.on.event("v1", "pods")
async def server_kind_changed(resource, namespace, name, uid, body, type, logger, **_):
    """A kind that can run a Nacos server: re-evaluate its namespace, and create a NacosAuthCheck for a new server."""
    if not RECONCILER:
        return
    _seen(resource, namespace, name, uid, type)
    RECONCILER.namespace_changed(namespace)
    if type == "DELETED" or not CONFIG.auto_discover or CONFIG.webhook_only:
        return
    raw = _raw(body)
    kind = resource.kind
    annotations = as_dict(as_dict(raw.get("metadata")).get("annotations"))
    if kind not in SERVER_KINDS or annotations.get(AUTO_CHECK_ANNOTATION, "").lower() == "false" or not is_server(
            slim_workload(raw)):
        return
    for check_name, check in RECONCILER.sweeper.entries("check_index", namespace):
        try:
            named = server_of(as_dict(check.get("spec")))
        except InvalidSpec:
            named = None
        if named == (kind, name) or check_name == name:
            return
    await _create_check(namespace, kind, name, raw, logger)


async def _create_check(namespace: str, kind: str, name: str, server: dict, log) -> None:
    metadata = as_dict(server.get("metadata"))
    # A StatefulSet's check keeps the older statefulSetName form, which every CRD version accepts.
    named = {"statefulSetName": name} if kind == "StatefulSet" else {"kind": kind, "name": name}
    body = {"apiVersion": f"{GROUP}/{VERSION}", "kind": "NacosAuthCheck",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/managed-by": COMPONENT},
                         "ownerReferences": [{"apiVersion": API_VERSIONS[kind], "kind": kind, "name": name,
                                              "uid": metadata.get("uid"), "controller": False,
                                              "blockOwnerDeletion": False}]},
            "spec": {"server": named}}
    try:
        await asyncio.to_thread(kubeapi.create_check, namespace, body)
        log.info("Created NacosAuthCheck %s/%s for the Nacos %s it found", namespace, name, kind)
    except kubernetes.client.ApiException as error:
        if error.status != 409:   # 409: it exists already (another event got there first)
            log.warning("Could not create NacosAuthCheck %s/%s: HTTP %s", namespace, name, error.status)
