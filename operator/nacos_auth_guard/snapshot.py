"""Snapshot: the objects a check may see, slimmed to what checks read, with one lookup API.

Built from files (lint), a live list (scan) or the operator's indexes; the same compact forms serve all three.
`complete` says whether an object missing from the snapshot is missing from the cluster (scan, operator,
`lint --strict-refs`) or merely not in the input (lint): a reference to it is then "unknown", not "missing".
"""
from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

WORKLOAD_KINDS = frozenset({"StatefulSet", "Deployment", "DaemonSet", "ReplicaSet", "Job", "CronJob", "Pod"})
CHECK_KIND = "NacosAuthCheck"
CHECK_GROUP = "nacosguard.io"


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


ABSENT = _Absent()   # lookup(): known not to exist (as opposed to None: not known)


@dataclass(slots=True)
class KeyedData:
    """A Secret's or ConfigMap's data. Secret values are bytes (None: not valid Base64); ConfigMap values str,
    or bytes for binaryData. Per key: `changed_at`, when its value is known to have changed (the operator or the
    admission check compared values); `written_at`, the managedFields time of the last write by a manager that
    owns it, which also moves when that manager edits only labels or annotations (so no value change is known)."""
    data: dict[str, bytes | str | None]
    changed_at: dict[str, datetime] = field(default_factory=dict)
    written_at: dict[str, datetime] = field(default_factory=dict)


def parse_time(value: object) -> datetime | None:
    if isinstance(value, datetime):   # a YAML loader that constructs timestamps
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def _metadata(obj: dict) -> dict:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def _base64(value: object) -> bytes | None:
    """Secret data as the API server decodes it (Go's StdEncoding skips line breaks); None when invalid."""
    if value is None:
        return b""
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.replace("\n", "").replace("\r", ""), validate=True)
    except (binascii.Error, ValueError):
        return None


def compact_secret(obj: dict, errors: list[str] | None = None) -> KeyedData:
    """Decodes data (Base64) and stringData; a value that is not Base64 becomes None and an error."""
    data: dict[str, bytes | str | None] = {}
    raw = obj.get("data")
    if isinstance(raw, dict):
        for key, value in raw.items():
            data[str(key)] = decoded = _base64(value)
            if decoded is None and errors is not None:
                errors.append(f"data key {str(key)!r} is not valid Base64")
    string_data = obj.get("stringData")
    if isinstance(string_data, dict):  # the API server merges stringData over data
        for key, value in string_data.items():
            # stringData is map[string]string: the API server refuses any other value. Never str() one: a
            # list built from aliases prints its full expansion.
            data[str(key)] = value.encode() if isinstance(value, str) else b"" if value is None else None
            if data[str(key)] is None and errors is not None:
                errors.append(f"stringData key {str(key)!r} is a {_json_type(value)}, not a string: the API "
                              "server refuses the Secret")
    return KeyedData(data, written_at=_written_at(_metadata(obj), ("f:data", "f:stringData")))


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    return {int: "number", float: "number", list: "list", dict: "mapping"}.get(type(value), "value")


def compact_config_map(obj: dict) -> KeyedData:
    data: dict[str, bytes | str | None] = {}
    raw = obj.get("data")
    if isinstance(raw, dict):
        for key, value in raw.items():
            data[str(key)] = value if isinstance(value, str) else None   # the API accepts only strings
    binary = obj.get("binaryData")
    if isinstance(binary, dict):
        for key, value in binary.items():
            data[str(key)] = _base64(value)
    return KeyedData(data, written_at=_written_at(_metadata(obj), ("f:data", "f:binaryData")))


def _written_at(metadata: dict, sections: tuple[str, ...]) -> dict[str, datetime]:
    """Per key, the newest managedFields time of a manager that owns it (server-side field tracking)."""
    changed: dict[str, datetime] = {}
    entries = metadata.get("managedFields")
    for entry in entries if isinstance(entries, list) else ():
        if not isinstance(entry, dict):
            continue
        when = parse_time(entry.get("time"))
        fields = entry.get("fieldsV1")
        if when is None or not isinstance(fields, dict):
            continue
        for section in sections:
            owned = fields.get(section)
            if isinstance(owned, dict):
                for field_key in owned:
                    if isinstance(field_key, str) and field_key.startswith("f:"):
                        key = field_key[2:]
                        if key not in changed or changed[key] < when:
                            changed[key] = when
    return changed


def slim_workload(obj: dict) -> dict:
    """What checks read of a workload or Pod: identity, labels, owners, the pod template, start times,
    and (Pods) the pod IP and Ready condition the live probe targets. Keeps the operator's memory flat whatever else
    the objects carry."""
    metadata = _metadata(obj)
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    status = obj.get("status") if isinstance(obj.get("status"), dict) else {}
    kind = obj.get("kind")
    slim_spec: dict = {}
    slim_status: dict = {}   # a controller's status: nothing reads it (its pods say what runs)
    if kind == "Pod":
        slim_spec = {k: spec[k] for k in ("containers", "volumes") if k in spec}
        slim_status = {k: status[k] for k in ("containerStatuses", "phase", "podIP") if k in status}
        conditions = status.get("conditions")
        if isinstance(conditions, list):   # only Ready: the others change often and nothing reads them
            slim_status["conditions"] = [c for c in conditions if isinstance(c, dict) and c.get("type") == "Ready"]
    else:
        slim_spec = {k: spec[k] for k in ("selector", "template", "jobTemplate", "serviceName", "updateStrategy")
                     if k in spec}
    return {
        "kind": kind,
        "metadata": {k: metadata[k] for k in ("name", "namespace", "labels", "annotations", "ownerReferences",
                                              "uid", "generation", "creationTimestamp") if k in metadata},
        "spec": slim_spec,
        "status": slim_status,
    }


def slim_service(obj: dict) -> dict:
    spec = obj.get("spec") if isinstance(obj.get("spec"), dict) else {}
    metadata = _metadata(obj)
    return {"metadata": {k: metadata[k] for k in ("name", "namespace") if k in metadata},
            "spec": {k: spec[k] for k in ("selector", "type", "externalName", "ports") if k in spec}}


Key = tuple[str, str]   # (namespace, name)


@dataclass(slots=True)
class Snapshot:
    secrets: dict[Key, KeyedData] = field(default_factory=dict)
    config_maps: dict[Key, KeyedData] = field(default_factory=dict)
    services: dict[Key, dict] = field(default_factory=dict)
    workloads: list[dict] = field(default_factory=list)        # slim_workload() forms, every WORKLOAD_KIND
    checks: list[dict] = field(default_factory=list)           # NacosAuthCheck objects
    complete: bool = False

    def lookup(self, kind: str, namespace: str, name: str) -> KeyedData | _Absent | None:
        table = self.secrets if kind == "Secret" else self.config_maps
        found = table.get((namespace, name))
        if found is not None:
            return found
        return ABSENT if self.complete else None


def build_snapshot(objects: Iterable[dict], *, complete: bool = False, default_namespace: str = "default",
                   errors: list[tuple[dict, str]] | None = None) -> Snapshot:
    """From raw Kubernetes objects (already flattened out of `kind: List`). Objects without a namespace take
    `default_namespace`, as `kubectl apply` would place them. Problems go to `errors` as (object, message)."""
    snapshot = Snapshot(complete=complete)
    for obj in objects:
        kind = obj.get("kind")
        if not isinstance(kind, str):
            continue   # not a Kubernetes object; the reader reported it
        metadata = _metadata(obj)
        name = metadata.get("name")
        if not isinstance(name, str) or not name:
            if errors is not None:
                errors.append((obj, f"{kind} has no metadata.name"))
            continue
        namespace = metadata.get("namespace")
        if not isinstance(namespace, str) or not namespace:
            namespace = default_namespace
            obj = {**obj, "metadata": {**metadata, "namespace": namespace}}
        if kind == "Secret":
            problems: list[str] = []
            snapshot.secrets[(namespace, name)] = compact_secret(obj, problems)
            if errors is not None:
                errors.extend((obj, f"Secret {namespace}/{name}: {problem}") for problem in problems)
        elif kind == "ConfigMap":
            snapshot.config_maps[(namespace, name)] = compact_config_map(obj)
        elif kind == "Service":
            snapshot.services[(namespace, name)] = slim_service(obj)
        elif kind in WORKLOAD_KINDS:
            snapshot.workloads.append(slim_workload(obj))
        elif kind == CHECK_KIND and str(obj.get("apiVersion", "")).startswith(CHECK_GROUP + "/"):
            snapshot.checks.append(obj)
    return snapshot
