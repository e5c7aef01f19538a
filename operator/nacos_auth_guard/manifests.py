"""Reads manifests for `lint`: files, directories (recursively), stdin; multi-document YAML, JSON, `kind: List`
(Helm and kustomize output) and OpenShift `Template`s. Every problem becomes an InputError with file and document,
and the rest is read. YAML that is no Kubernetes object (a kustomization, a Helm chart's own files, another tool's
config) is skipped with a note; the same object in two places is a warning, and each copy is checked on its own."""
from __future__ import annotations

import functools
import marshal
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Callable, Iterable, Iterator

from .forked import ForkedWork, can_fork
from .model import ObjectRef
from .report import InputError, InputNote, Location
from .snapshot import CHECK_GROUP
from .yamlio import Document, split_documents

EXTENSIONS = (".yaml", ".yml", ".json")
MAX_FILE_BYTES = 64 * 1024 * 1024   # one manifest file larger than this is not a manifest
KUSTOMIZATION_FILES = frozenset({"kustomization.yaml", "kustomization.yml", "Kustomization"})
HELM_VALUES_FILE = re.compile(r"^values([-._][\w.-]*)?\.ya?ml$")
HELM_TEMPLATE = "`helm template RELEASE CHART | nacos-auth-guard lint -`"
KUSTOMIZE_BUILD = "`kustomize build DIR | nacos-auth-guard lint -` (or `kubectl kustomize DIR`)"
# What only an unrendered Helm template holds; `{{ $labels }}`, `{{ range }}` also occur in rendered data
# (Prometheus rules, Alertmanager templates in ConfigMaps)
HELM_ACTION = re.compile(r"\{\{-?\s*(?:\.Values|\.Release|\.Chart|\.Capabilities|include\s|template\s)")
# OpenShift Template parameters: `${NAME}` inside a string, `${{NAME}}` for a whole non-string value (oc process)
TEMPLATE_PARAMETER = re.compile(r"\$\{\{?([A-Za-z0-9_]+)\}?\}")


@dataclass(slots=True)
class Manifests:
    objects: list[dict] = field(default_factory=list)
    object_locations: list[Location] = field(default_factory=list)   # where each of `objects` is written
    object_refs: list[ObjectRef] = field(default_factory=list)       # what each of `objects` is (ref())
    errors: list[InputError] = field(default_factory=list)
    notes: list[InputNote] = field(default_factory=list)
    sources: int = 0
    default_namespace: str = "default"

    def ref(self, obj: dict) -> ObjectRef:
        metadata = obj["metadata"]
        namespace = metadata.get("namespace") if isinstance(metadata.get("namespace"), str) else None
        return ObjectRef(obj["kind"], namespace or self.default_namespace, metadata["name"])

    @property
    def locations(self) -> dict[ObjectRef, Location]:
        """The first place each object is written."""
        first: dict[ObjectRef, Location] = {}
        for ref, location in zip(self.object_refs, self.object_locations, strict=True):
            first.setdefault(ref, location)
        return first

    def copies(self) -> dict[ObjectRef, list[int]]:
        """Objects written more than once (kind, namespace, name), with the index of each copy in `objects`."""
        places: dict[ObjectRef, list[int]] = {}
        for index, ref in enumerate(self.object_refs):
            places.setdefault(ref, []).append(index)
        return {ref: indexes for ref, indexes in places.items() if len(indexes) > 1}

    def variants(self) -> Iterator[tuple[list[dict], dict[ObjectRef, Location], dict[ObjectRef, list[Location]]]]:
        """The inputs to check: one when every object is written once or its copies are alike; else one per file
        (and per repeat within it) holding a copy that differs, which takes that file's copies and the first of the
        others, so a file's objects are checked together and no two copies are ever merged. Copies alike (the
        Namespace every rendered file repeats) need no input of their own, which would check everything again
        (200 files sharing one took a hundred times as long): with each input, every place such an object is written,
        for its findings."""
        copies = self.copies()
        alike = {ref: indexes for ref, indexes in copies.items()
                 if all(_same(self.objects[i], self.objects[indexes[0]]) for i in indexes[1:])}
        places = {ref: [self.object_locations[i] for i in indexes] for ref, indexes in alike.items()}
        differing = {ref: indexes for ref, indexes in copies.items() if ref not in alike}
        extra_copies = {i for indexes in alike.values() for i in indexes[1:]}
        rounds: dict[tuple[str, int], None] = {}
        for indexes in differing.values():
            seen: dict[str, int] = {}
            for index in indexes:
                path = self.object_locations[index].path
                rounds.setdefault((path, seen.get(path, 0)))
                seen[path] = seen.get(path, 0) + 1
        for path, repeat in rounds or {("", 0): None}:
            skipped = set(extra_copies)
            for indexes in differing.values():
                here = [i for i in indexes if self.object_locations[i].path == path]
                keep = here[min(repeat, len(here) - 1)] if here else indexes[0]
                skipped.update(i for i in indexes if i != keep)
            chosen = [i for i in range(len(self.objects)) if i not in skipped]
            yield ([self.objects[i] for i in chosen], {self.object_refs[i]: self.object_locations[i] for i in chosen},
                   places)

    def duplicate_warnings(self) -> list[InputNote]:
        warnings = []
        for ref, indexes in self.copies().items():
            places = [self.object_locations[i] for i in indexes]
            listed = ", ".join(f"{place.path}:{place.line}" for place in places)
            warnings.append(InputNote(
                f"{ref} is written {len(places)} times ({listed}): each copy is checked on its own; apply only "
                f"one of them, or rename the others", places[0], "warning"))
        return warnings


def _same(first: dict, second: dict) -> bool:
    """Written alike, types included (`==` holds `true` and `1` equal): the same marshal bytes. Keys in another
    order, or a value marshal cannot carry, count as different: each copy is then checked on its own."""
    try:
        return marshal.dumps(first) == marshal.dumps(second)
    except ValueError:
        return False


def read_manifests(paths: Iterable[str], default_namespace: str = "default") -> Manifests:
    result = Manifests(default_namespace=default_namespace)
    inputs: list[str] = []   # "-" (stdin) or a file, in the order they are read
    for path in paths:
        if path != "-" and os.path.isdir(path):
            inputs += sorted(os.path.join(root, name) for root, dirs, names in os.walk(path)
                             for name in names if name.endswith(EXTENSIONS) and not name.startswith("."))
        else:
            inputs.append(path)
    ahead = _ParsedAhead(inputs)
    try:
        for position, path in enumerate(inputs):
            if path == "-":
                _read_text(result, "<stdin>", sys.stdin.buffer.read(MAX_FILE_BYTES + 1))
            else:
                _read_file(result, path, *ahead.take(position))
    finally:
        ahead.close()
    result.notes.extend(result.duplicate_warnings())
    return result


PARALLEL_MIN_BYTES = 2 * 2**20   # below this, parsing in a second process saves less than it costs


class _ParsedAhead:
    """On a large input and a machine with two or more cores, a forked child parses the files of the input's
    second half (by size) while this process reads the first; its documents come back by marshal (pickle for the
    rare value marshal cannot carry). Both read the same bytes, read before the fork, so the result is the one
    reading alone gives. Any failure of the child leaves its files to this process."""

    def __init__(self, inputs: list[str]):
        self.first = len(inputs)          # inputs from here on were given to the child
        self.raw: dict[int, bytes] = {}   # position -> the bytes the child parsed
        self.documents: dict[int, list[Document]] | None = None
        self.child: ForkedWork | None = None
        if not can_fork():
            return
        sizes = []
        for path in inputs:
            try:
                sizes.append(os.path.getsize(path) if path != "-" else 0)
            except (OSError, ValueError):
                sizes.append(0)
        total = sum(sizes)
        if total < PARALLEL_MIN_BYTES:
            return
        tail = 0   # bytes given to the child: at most half
        while self.first > 0 and tail + sizes[self.first - 1] <= total - tail - sizes[self.first - 1]:
            self.first -= 1
            tail += sizes[self.first]
        for position in range(self.first, len(inputs)):
            if inputs[position] == "-":
                continue
            try:
                with open(inputs[position], "rb") as handle:
                    self.raw[position] = handle.read(MAX_FILE_BYTES + 1)
            except (OSError, ValueError):
                pass   # this process reads it again and reports why it cannot
        if self.raw:
            self.child = ForkedWork(lambda: marshal.dumps([(position, *_transferable(_parsed(raw)))
                                                           for position, raw in self.raw.items()]))

    def take(self, position: int) -> tuple[bytes | None, list[Document] | None]:
        """The bytes of a file the child parsed and its documents (None, None: read and parse it here)."""
        if position < self.first or position not in self.raw:
            return None, None
        if self.documents is None:
            self.documents = self._receive()
        return self.raw.pop(position), self.documents.pop(position, None)

    def close(self) -> None:
        """Reaps a child whose documents were never asked for (the reading stopped first)."""
        if self.child is not None and self.documents is None:
            self.documents = self._receive()

    def _receive(self) -> dict[int, list[Document]]:
        data = self.child.result()
        received: dict[int, list[Document]] = {}
        if data is None:
            return received
        for position, codec, payload in marshal.loads(data):
            if codec == "marshal":
                received[position] = [Document(*fields) for fields in marshal.loads(payload)]
            elif codec == "pickle":
                import pickle
                received[position] = [Document(*fields) for fields in pickle.loads(payload)]
        return received


def _parsed(raw: bytes) -> list[tuple] | None:
    """The documents of a file, as fields; None when the file is not read as YAML (the reader says why)."""
    text = _text(raw)
    if not isinstance(text, str) or HELM_ACTION.search(text):
        return None
    return [(d.index, d.line, d.value, d.error) for d in split_documents(text)]


def _transferable(documents: list[tuple] | None) -> tuple[str, bytes]:
    if documents is None:
        return "none", b""
    try:
        return "marshal", marshal.dumps(documents)
    except ValueError:   # a value marshal cannot carry (a datetime from a !!timestamp tag) or nested too deep
        try:
            import pickle
            return "pickle", pickle.dumps(documents, pickle.HIGHEST_PROTOCOL)
        except Exception:  # noqa: BLE001 - whatever cannot be sent is parsed by the parent instead
            return "none", b""


def _read_file(result: Manifests, path: str, raw: bytes | None = None,
               documents: list[Document] | None = None) -> None:
    chart = _helm_chart_of(os.path.dirname(os.path.abspath(path)))
    if chart is not None and os.path.relpath(path, chart).split(os.sep)[0] == "templates":
        result.sources += 1
        result.notes.append(InputNote(f"{path}: a template of the Helm chart in {chart}, skipped: lint the chart "
                                      f"rendered, {HELM_TEMPLATE}"))
        return
    if raw is None:
        try:
            with open(path, "rb") as handle:
                raw = handle.read(MAX_FILE_BYTES + 1)
        except (OSError, ValueError) as error:   # ValueError: a NUL byte in the path
            result.errors.append(InputError(f"{path}: cannot read: {getattr(error, 'strerror', None) or error}"))
            return
    _read_text(result, path, raw, documents)


@functools.lru_cache(maxsize=1024)
def _helm_chart_of(directory: str) -> str | None:
    """The Helm chart (a directory with Chart.yaml) that `directory` is in, if any."""
    if os.path.isfile(os.path.join(directory, "Chart.yaml")):
        return directory
    parent = os.path.dirname(directory)
    return None if parent == directory else _helm_chart_of(parent)


def _text(raw: bytes) -> str | InputError:
    if len(raw) > MAX_FILE_BYTES:
        return InputError(f"larger than {MAX_FILE_BYTES // 2**20} MiB, not read")
    try:
        # As kubectl reads files: a BOM is dropped and Windows line endings are line endings (`---\r\n` separates)
        return raw.decode("utf-8-sig").replace("\r\n", "\n")
    except UnicodeDecodeError as error:
        return InputError(f"not UTF-8 text (byte {error.start}), not read")


def _read_text(result: Manifests, path: str, raw: bytes, documents: list[Document] | None = None) -> None:
    """`documents`: the text's, parsed elsewhere."""
    result.sources += 1
    text = _text(raw)
    if isinstance(text, InputError):
        result.errors.append(InputError(f"{path}: {text.message}"))
        return
    if HELM_ACTION.search(text):   # its YAML is either broken or holds `{{ .Values.x }}` instead of values
        result.errors.append(InputError(f"{path}: an unrendered Helm template ({{{{ .Values ... }}}}), not read: "
                                        f"lint the chart rendered, {HELM_TEMPLATE}"))
        return
    templated = "{{" in text
    basename = os.path.basename(path)
    for document in documents if documents is not None else split_documents(text):
        location = Location(path, document.line, document.index)
        if document.error:
            hint = f"; if this is a Helm template, lint the chart rendered: {HELM_TEMPLATE}" if templated else ""
            result.errors.append(InputError(document.error + hint, location))
        elif document.value is None:
            continue
        elif not isinstance(document.value, dict):
            result.errors.append(InputError(
                f"a {type(document.value).__name__}, not a Kubernetes object (a mapping)", location))
        elif (note := not_an_object(document.value, basename)) is not None:
            result.notes.append(InputNote(f"{note}, skipped", location))
        else:
            _add_object(result, document.value, location, lambda name: _item_lines(text, document.line, name))


def _builtin_group(api_version: str) -> bool:
    """An API group of Kubernetes itself (core `v1`, `apps/v1`, `*.k8s.io`) or this project's."""
    group = api_version.rpartition("/")[0]
    return "." not in group or group.endswith(".k8s.io") or group == CHECK_GROUP


def not_an_object(document: dict, basename: str) -> str | None:
    """Why a YAML mapping is not meant as a Kubernetes object (None: it is, and is checked as one)."""
    kind, api_version, metadata = document.get("kind"), document.get("apiVersion"), document.get("metadata")
    if basename in KUSTOMIZATION_FILES or (isinstance(api_version, str)
                                           and api_version.startswith("kustomize.config.k8s.io/")):
        return f"a kustomization, not a Kubernetes object: lint what it builds, {KUSTOMIZE_BUILD}"
    if basename == "Chart.yaml" and kind is None:
        return f"a Helm chart's Chart.yaml, not a Kubernetes object: lint the chart rendered, {HELM_TEMPLATE}"
    if HELM_VALUES_FILE.match(basename) and kind is None:
        return f"Helm values, not a Kubernetes object: lint the chart rendered with them, {HELM_TEMPLATE} -f FILE"
    if isinstance(metadata, dict):
        return None   # meant as an object: a missing kind or name is an error
    if kind is None and api_version is None:
        return "no kind, apiVersion or metadata: not a Kubernetes object"
    if isinstance(kind, str) and isinstance(api_version, str) and not _builtin_group(api_version):
        return f"kind {kind} of {api_version} without metadata: another tool's configuration, not a Kubernetes object"
    return None


def _add_object(result: Manifests, obj: dict, location: Location,
                item_lines: Callable[[str], list[int]] | None = None) -> None:
    kind = obj.get("kind")
    if isinstance(kind, str) and kind.endswith("List") and isinstance(obj.get("items"), list):
        _add_items(result, obj["items"], "items", kind, location, item_lines)
        return
    if kind == "Template" and isinstance(obj.get("objects"), list) and str(obj.get("apiVersion")) in (
            "v1", "template.openshift.io/v1"):
        try:
            objects = _process_template(obj)
        except RecursionError:
            result.errors.append(InputError("the Template's objects nest too deep", location))
            return
        _add_items(result, objects, "objects", kind, location, item_lines)
        return
    if not isinstance(kind, str) or not isinstance(obj.get("apiVersion"), str):
        result.errors.append(InputError("no kind/apiVersion: not a Kubernetes object", location))
        return
    metadata = obj.get("metadata")
    if not isinstance(metadata, dict) or not isinstance(metadata.get("name"), str) or not metadata["name"]:
        result.errors.append(InputError(f"{kind} without metadata.name", location))
        return
    result.objects.append(obj)
    result.object_locations.append(location)
    result.object_refs.append(result.ref(obj))


def _add_items(result: Manifests, items: list, field_name: str, kind: str, location: Location,
               item_lines: Callable[[str], list[int]] | None) -> None:
    lines = item_lines(field_name) if item_lines is not None else []
    for index, item in enumerate(items):
        # Each item at its own line (`kubectl get -o yaml` is one List), in its List's document
        where = Location(location.path, lines[index], location.document) if len(lines) == len(items) else location
        if isinstance(item, dict):
            _add_object(result, item, where)
        else:
            result.errors.append(InputError(f"{field_name}[{index}] of the {kind} is not an object", where))


def _item_lines(text: str, first_line: int, field_name: str) -> list[int]:
    """The 1-based line of each entry of the top-level sequence `field_name` (YAML `items:` then `- ...` entries,
    or JSON `"items": [` then `{` entries) of the document starting at `first_line`, from the text's indentation:
    a second parse would cost half the reading time of a large List. The caller uses them only when their count
    matches the items; else the document's line stands."""
    lines = text.split("\n")
    header = re.compile(rf'^(?:{re.escape(field_name)}:|\s*"{re.escape(field_name)}"\s*:\s*\[)\s*$')
    start = next((i for i in range(first_line - 1, len(lines)) if header.match(lines[i])), None)
    if start is None:
        return []
    found: list[int] = []
    indent, marker = -1, ""
    for number in range(start + 1, len(lines)):
        line = lines[number]
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        depth = len(line) - len(stripped)
        if indent < 0:
            indent, marker = depth, stripped[:1]
            if marker not in "-{":
                return []
        if depth < indent or (depth == indent and marker == "-" and not stripped.startswith("-")):
            break
        if depth == indent and stripped.startswith(marker) and (marker == "{" or stripped[1:2] in (" ", "")):
            found.append(number + 1)
    return found


def _process_template(template: dict) -> list:
    """The objects as `oc process` makes them with the parameters' own values; a parameter without a value
    (required, or generated) stays as written."""
    values = {p["name"]: p["value"] for p in template.get("parameters") or () if isinstance(p, dict)
              and isinstance(p.get("name"), str) and isinstance(p.get("value"), str)}

    def substitute(node: object) -> object:
        if isinstance(node, dict):
            return {key: substitute(value) for key, value in node.items()}
        if isinstance(node, list):
            return [substitute(value) for value in node]
        if isinstance(node, str) and "${" in node:
            return TEMPLATE_PARAMETER.sub(lambda m: values.get(m.group(1), m.group(0)), node)
        return node

    return substitute(template["objects"])
