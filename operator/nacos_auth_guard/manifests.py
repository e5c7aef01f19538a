"""Reads manifests for `lint`: files, directories (recursively), stdin; multi-document YAML, JSON, `kind: List`
(Helm and kustomize output). Every problem becomes an InputError with file and document, and the rest is read."""
from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from typing import Iterable

from .model import ObjectRef
from .report import InputError, Location
from .yamlio import split_documents

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024   # one manifest file larger than this is not a manifest


@dataclass(slots=True)
class Manifests:
    objects: list[dict] = field(default_factory=list)
    locations: dict[ObjectRef, Location] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)
    sources: int = 0


def read_manifests(paths: Iterable[str], default_namespace: str = "default") -> Manifests:
    result = Manifests()
    for path in paths:
        if path == "-":
            _read_text(result, "<stdin>", sys.stdin.buffer.read(MAX_FILE_BYTES + 1), default_namespace)
        elif os.path.isdir(path):
            found = sorted(os.path.join(root, name) for root, dirs, names in os.walk(path)
                           for name in names if name.endswith(EXTENSIONS) and not name.startswith("."))
            for file_path in found:
                _read_file(result, file_path, default_namespace)
        else:
            _read_file(result, path, default_namespace)
    return result


def _read_file(result: Manifests, path: str, default_namespace: str) -> None:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_FILE_BYTES + 1)
    except (OSError, ValueError) as error:   # ValueError: a NUL byte in the path
        result.errors.append(InputError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}"))
        return
    _read_text(result, path, raw, default_namespace)


def _read_text(result: Manifests, path: str, raw: bytes, default_namespace: str) -> None:
    result.sources += 1
    if len(raw) > MAX_FILE_BYTES:
        result.errors.append(InputError(f"{path}: larger than {MAX_FILE_BYTES // 2**20} MiB, not read"))
        return
    try:
        # As kubectl reads files: a BOM is dropped and Windows line endings are line endings (`---\r\n` separates)
        text = raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        result.errors.append(InputError(f"{path}: not UTF-8 text (byte {error.start}), not read"))
        return
    for document in split_documents(text):
        location = Location(path, document.line, document.index)
        if document.error:
            result.errors.append(InputError(document.error, location))
        elif document.value is None:
            continue
        elif not isinstance(document.value, dict):
            result.errors.append(InputError(
                f"a {type(document.value).__name__}, not a Kubernetes object (a mapping)", location))
        else:
            _add_object(result, document.value, location, default_namespace)


def _add_object(result: Manifests, obj: dict, location: Location, default_namespace: str) -> None:
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        for index, item in enumerate(obj["items"]):
            if isinstance(item, dict):
                _add_object(result, item, location, default_namespace)
            else:
                result.errors.append(InputError(f"items[{index}] of the {kind} is not an object", location))
        return
    if not isinstance(kind, str) or not isinstance(obj.get("apiVersion"), str):
        result.errors.append(InputError("no kind/apiVersion: not a Kubernetes object", location))
        return
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        result.errors.append(InputError(f"{kind} without metadata.name", location))
        return
    namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
    result.objects.append(obj)
    result.locations.setdefault(ObjectRef(kind, namespace or default_namespace, metadata["name"]), location)
