"""The one place YAML is read.

Manifests mean what kubectl makes of them: YAML 1.1 scalars (`on`/`yes` are booleans, `0644` is octal), but
timestamps stay strings (Kubernetes' JSON has no timestamp type). PyYAML's C loader does that, minus its timestamp
resolver. yaml-rs (Rust, YAML 1.2) parses about five times faster; it takes a document only when nothing in it can
read differently under 1.2 (no 1.1-only booleans, octal or sexagesimal numbers, tags, anchors or merge keys), and
any document it rejects goes to PyYAML, whose errors name a line and never quote the input.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Iterator

import yaml

try:
    import yaml_rs
except ImportError:  # an optional accelerator: PyYAML alone gives the same objects
    yaml_rs = None

_BaseLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class KubeLoader(_BaseLoader):
    """Safe YAML 1.1 without the timestamp type."""

    yaml_implicit_resolvers = {
        first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


# Plain scalars that YAML 1.1 and 1.2 read differently, merge keys and tags: documents with one go to PyYAML.
# Each pattern starts with a literal so the scan stays fast; over-matching costs only speed. A 1.1 boolean used
# as a block mapping KEY (`on:`) is not looked for (no manifest field has such keys; the scan would cost a third
# of the parse).
_1_1_SCALAR = (r"(?:[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|[-+]?0[0-9oObBxX][0-9a-fA-F_]*"
               r"|[-+]?[0-9][0-9_]*(?:_[0-9_]*|(?::[0-5]?[0-9])+)(?:\.[0-9_]*)?|[-+]?[0-9.]*[0-9][eE][-+]?[0-9]+"
               r"|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|=|<<)(?=[ \t]*(?:[,\]}]|:(?:[ \t]|$)|#|$))")
_NOT_1_2_SAFE = tuple(re.compile(pattern, re.MULTILINE) for pattern in (
    r": +" + _1_1_SCALAR, r"- +" + _1_1_SCALAR, r"[\[{,] *" + _1_1_SCALAR, r"[ \t]![^\s]", r"^!", r"<<:"))
_DOCUMENT_MARKER = re.compile(r"^(?:---|\.\.\.)(?=[ \t]|$)", re.MULTILINE)


@dataclass(frozen=True, slots=True)
class Document:
    index: int          # 0-based position in its file
    line: int           # 1-based line where it starts
    value: object       # parsed value; None for an empty document
    error: str | None   # why it could not be parsed


def load_yaml_documents(text: str) -> list:
    """All documents of a YAML stream (Spring config files); ValueError naming the line on invalid YAML."""
    documents = []
    for document in split_documents(text):
        if document.error:
            raise ValueError(document.error)
        documents.append(document.value)
    return documents


def split_documents(text: str) -> Iterator[Document]:
    """Parses each document on its own, so one broken document does not hide the ones after it."""
    position, line, index = 0, 1, 0
    markers = [(m.start(), m.end()) for m in _DOCUMENT_MARKER.finditer(text)] + [(len(text), len(text))]
    for start, end in markers:
        chunk = text[position:start]
        if not _blank(chunk):
            yield _parse(chunk, index, line)
            index += 1
        line += text.count("\n", position, end)
        position = end


def _blank(chunk: str) -> bool:
    return all(not row.strip() or row.lstrip().startswith(("#", "%")) for row in chunk.splitlines())


def _parse(chunk: str, index: int, line: int) -> Document:
    if chunk.lstrip()[:1] in "{[":  # JSON, e.g. `kubectl get -o json`: the json module is fastest
        try:
            return Document(index, line, json.loads(chunk), None)
        except ValueError:
            pass
    if yaml_rs is not None and not any(pattern.search(chunk) for pattern in _NOT_1_2_SAFE):
        try:
            value = yaml_rs.loads(chunk, parse_datetime=False)
            if not isinstance(value, list) or chunk.lstrip().startswith("-"):
                return Document(index, line, value, None)
        except Exception:  # noqa: BLE001 - any refusal means: let PyYAML decide and explain
            pass
    try:
        return Document(index, line, yaml.load(chunk, Loader=KubeLoader), None)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        at = f" (line {line + mark.line})" if mark is not None else ""
        return Document(index, line, None, f"invalid YAML{at}: {getattr(error, 'problem', None) or 'unparsable'}")
    except RecursionError:
        return Document(index, line, None, "invalid YAML: nesting too deep")
