"""The one place YAML is read.

Manifests mean what kubectl makes of them: YAML 1.1 scalars (`on`/`yes` are booleans, `0644` is octal), but
timestamps stay strings (Kubernetes' JSON has no timestamp type). PyYAML's C loader does that, minus its timestamp
resolver. yaml-rs (Rust, YAML 1.2) parses about five times faster; it takes a document only when nothing in it can
read differently under 1.2 (no 1.1-only booleans, octal or sexagesimal numbers, tags or merge keys), and
any document it rejects goes to PyYAML, whose errors name a line and never quote the input.

Hostile input is bounded before any parser sees it (issue 10): yaml-rs recurses on the machine stack and crashes
the process beyond about 11,000 levels, so it takes only documents whose nesting a cheap scan bounds far below
that; libyaml refuses more than 1,000 levels itself. Aliases are expanded by every walker of the parsed value, so a
document with aliases is first measured on PyYAML's event stream (no recursion, no objects) and refused when
its aliases add more than MAX_ALIAS_NODES nodes, nest it deeper than MAX_DEPTH, or refer to themselves.
"""
from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Iterator

try:
    import yaml_rs
except ImportError:  # an optional accelerator: PyYAML alone gives the same objects
    yaml_rs = None


@functools.cache
def _pyyaml():
    """PyYAML, its C loader and KubeLoader, imported when a document first needs them: most documents go to
    yaml-rs, and importing PyYAML costs a small lint a tenth of its start-up."""
    import yaml

    base_loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class KubeLoader(base_loader):
        """Safe YAML 1.1 without the timestamp type."""

        yaml_implicit_resolvers = {
            first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for first, resolvers in base_loader.yaml_implicit_resolvers.items()
        }

        def construct_object(self, node, deep=False):
            # An explicit standard tag over a value it cannot read (`!!bool x`, `!!int abc`, `!!timestamp
            # 2020-13-45`) raises KeyError/ValueError holding the value; say which tag failed where, without it.
            try:
                return super().construct_object(node, deep)
            except yaml.YAMLError:
                raise
            except Exception:  # noqa: BLE001 - whatever a constructor raises, its text may quote the input
                raise yaml.constructor.ConstructorError(
                    None, None, f"a value tagged {_tag_name(node.tag)} that the tag cannot read",
                    node.start_mark) from None

    return yaml, base_loader, KubeLoader


def __getattr__(name: str):
    if name == "KubeLoader":   # `from nacos_auth_guard.yamlio import KubeLoader` imports PyYAML then
        return _pyyaml()[2]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _tag_name(tag: str) -> str:
    """A standard tag by its short name; any other tag is input (a password that starts with `!`) and not shown."""
    return "!!" + tag.rsplit(":", 1)[1] if tag.startswith("tag:yaml.org,2002:") else "a custom tag"


# Plain scalars that YAML 1.1 and 1.2 read differently, merge keys and tags: documents with one go to PyYAML.
# Each pattern starts with a literal so the scan stays fast; over-matching costs only speed. A 1.1 boolean used
# as a block mapping KEY (`on:`) is not looked for (no manifest field has such keys; the scan would cost a third
# of the parse). A leading 0 matters only before digits (1.1 octal, 1.2 decimal) or a base's prefix and digits
# (0b, 0o, 0x): `0a3f...` or `0b27...` (a hash) reads as a string in both.
_1_1_SCALAR = (r"(?:[yY]es|YES|[nN]o|NO|[oO]n|ON|[oO]ff|OFF|[-+]?0(?:[0-9_]+|[bB][01_]*|[oO][0-7_]*|[xX][0-9a-fA-F_]*)"
               r"|[-+]?[0-9][0-9_]*(?:_[0-9_]*|(?::[0-5]?[0-9])+)(?:\.[0-9_]*)?|[-+]?[0-9.]*[0-9][eE][-+]?[0-9]+"
               r"|[-+]?\.(?:inf|Inf|INF|nan|NaN|NAN)|=|<<)(?=[ \t]*(?:[,\]}]|:(?:[ \t]|$)|#|$))")
# The first characters those scalars can start with, looked ahead first: most values start with another, and are
# then passed over without trying each alternative (a fifth of the scans' time on the bench's files)
_1_1_START = r"(?=[yYnNoO+\-.0-9=<])"
_NOT_1_2_SAFE = tuple(re.compile(pattern, re.MULTILINE) for pattern in (
    r": +" + _1_1_START + _1_1_SCALAR, r"- +" + _1_1_START + _1_1_SCALAR, r"[\[{,] *" + _1_1_START + _1_1_SCALAR,
    r"<<:"))
# Tags: scanned for only in a document with a `!` (few have one), as these two scans cost half of all the others.
_TAGGED = tuple(re.compile(pattern, re.MULTILINE) for pattern in (r"[ \t]![^\s]", r"^!"))
# yaml-rs takes a document only when its depth is bounded well below where it crashes: no line starts with a
# long run of indentation and block indicators, and few flow brackets. Each bracket opens at most one level, and
# each column of a line's leading run at most two (a block sequence under a key adds a level without a column).
_FAST_PATH_MAX_DEPTH = 500
_DEEP_BLOCK = re.compile(r"[ \t?:-]{%d}" % (_FAST_PATH_MAX_DEPTH // 4))   # at the start of a line
_DEEP_LINE = re.compile("\n" + _DEEP_BLOCK.pattern)
_ALIAS = re.compile(r"(?:^|[ \t\[{,])\*[^ \t\r\n\[\]{},]", re.MULTILINE)   # over-matching costs only speed
MAX_DEPTH = 1000             # libyaml's own limit on written nesting; aliases must not go beyond it either
MAX_ALIAS_NODES = 100_000    # nodes aliases may add to a document once expanded (manifests add a few hundred)
# The fast path's written depth is under _FAST_PATH_MAX_DEPTH; a replay inside a replay adds at most that again, so
# four levels of them keep yaml-rs far from where it crashes.
_ALIAS_LIMITS = (yaml_rs.AliasLimits(max_total_replayed_events=MAX_ALIAS_NODES, max_replay_stack_depth=4)
                 if yaml_rs is not None else None)
# A `---` or `...` line; "\n" + the marker without MULTILINE: five times faster than `^` (the first line aside)
_DOCUMENT_MARKER = re.compile(r"\n(?:---|\.\.\.)(?=[ \t\n]|$)")


@dataclass(frozen=True, slots=True)
class Document:
    index: int          # 0-based position in its file
    line: int           # 1-based line where it starts
    value: object       # parsed value; None for an empty document
    error: str | None   # why it could not be parsed


def load_yaml_documents(text: str) -> list:
    """All documents of a YAML stream (Spring config files); ValueError naming the line on invalid YAML (and on
    nesting or aliases beyond the budgets)."""
    documents = []
    for document in split_documents(text):
        if document.error:
            raise ValueError(document.error)
        documents.append(document.value)
    return documents


def split_documents(text: str) -> Iterator[Document]:
    """Parses each document on its own, so one broken document does not hide the ones after it."""
    position, line, index = 0, 1, 0
    markers = [(m.start() + 1, m.end()) for m in _DOCUMENT_MARKER.finditer(text)] + [(len(text), len(text))]
    if text.startswith(("---", "...")) and text[3:4] in ("", " ", "\t", "\n"):
        markers.insert(0, (0, 3))
    for start, end in markers:
        chunk = text[position:start]
        if not _blank(chunk):
            yield _parse(chunk, index, line)
            index += 1
        line += text.count("\n", position, end)
        position = end


def _blank(chunk: str) -> bool:
    start = chunk.lstrip()[:1]
    if start not in ("", "#", "%"):   # most documents: their first line has content
        return False
    return all(not row.strip() or row.lstrip().startswith(("#", "%")) for row in chunk.splitlines())


def _parse(chunk: str, index: int, line: int) -> Document:
    if chunk.lstrip()[:1] in "{[":  # JSON, e.g. `kubectl get -o json`: the json module is fastest
        try:
            return Document(index, line, json.loads(chunk), None)
        except (ValueError, RecursionError):   # RecursionError: nested deeper than the interpreter's limit
            pass
    aliased = "*" in chunk and _ALIAS.search(chunk) is not None
    fast = (yaml_rs is not None and not _maybe_deep(chunk)
            and not any(pattern.search(chunk) for pattern in _NOT_1_2_SAFE)
            and not ("!" in chunk and any(pattern.search(chunk) for pattern in _TAGGED)))
    value = _UNREAD
    if fast and aliased:
        # yaml-rs replays aliases within _ALIAS_LIMITS (at most MAX_ALIAS_NODES events, so nodes); what it gives
        # is kept when it is as deep as allowed and holds no null (its reading of an alias inside its own anchor)
        value = _yaml_rs_value(chunk, _ALIAS_LIMITS)
        if value is not _UNREAD and _expanded_plainly(value):
            return Document(index, line, value, None)
    if aliased:   # within budget, yaml-rs may replay them: it copies at most that
        refused = _alias_budget_error(chunk, line)
        if refused:
            return Document(index, line, None, refused)
    if fast and value is _UNREAD:   # a value read within the limits is the one: no alias refers into its anchor
        value = _yaml_rs_value(chunk)
    if value is not _UNREAD:
        return Document(index, line, value, None)
    yaml, _, kube_loader = _pyyaml()
    try:
        return Document(index, line, yaml.load(chunk, Loader=kube_loader), None)
    except yaml.YAMLError as error:
        return Document(index, line, None, _error_message(error, line))
    except RecursionError:   # PyYAML without libyaml composes recursively
        return Document(index, line, None, "invalid YAML: nesting too deep")


_UNREAD = object()   # yaml-rs gave no value: None is a document's own value (`~`, an empty one)


def _yaml_rs_value(chunk: str, alias_limits=None) -> object:
    """yaml-rs's value of one document, or _UNREAD when it refuses it (PyYAML then decides and explains) or reads
    more than one document in it."""
    try:
        value = yaml_rs.loads(chunk, parse_datetime=False, alias_limits=alias_limits)
    except Exception:  # noqa: BLE001 - any refusal means: let PyYAML decide and explain
        return _UNREAD
    return value if not isinstance(value, list) or chunk.lstrip().startswith("-") else _UNREAD


def _expanded_plainly(value: object) -> bool:
    """No null anywhere and no deeper than MAX_DEPTH: a document yaml-rs read with aliases that needs no
    measuring on the event stream. Walked a level at a time (no (node, depth) pair per node: three times faster)."""
    level, depth = [value], 1
    while level:
        if depth > MAX_DEPTH:
            return False
        below: list = []
        for node in level:
            if node is None:
                return False
            if isinstance(node, dict):
                below.extend(node.values())
            elif isinstance(node, list):
                below.extend(node)
        level, depth = below, depth + 1
    return True


def _maybe_deep(chunk: str) -> bool:
    if chunk.count("[") + chunk.count("{") >= _FAST_PATH_MAX_DEPTH // 2 or _DEEP_BLOCK.match(chunk):
        return True
    # "\n" + the run, searched without MULTILINE: five times faster than `^` over every line.
    return _DEEP_LINE.search(chunk) is not None


# PyYAML's problems quote the offending character, tag or alias name (%r); its token names ('<block end>') and
# the flow indicators it expected (',' or ']') are not input. Everything else in a problem is fixed text.
_QUOTED = re.compile(r"\s*(?:'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\")")
_NOT_INPUT = re.compile(r"\s*'(?:<[a-z ]+>|[,:\[\]{}])'")


def _error_message(error, line: int) -> str:
    """`error`: a yaml.YAMLError."""
    mark = getattr(error, "problem_mark", None)
    at = f" (line {line + mark.line})" if mark is not None else ""
    problem = _QUOTED.sub(lambda quoted: quoted.group() if _NOT_INPUT.fullmatch(quoted.group()) else "",
                          getattr(error, "problem", None) or "") or "unparsable"
    return f"invalid YAML{at}: {problem}"


def _alias_budget_error(chunk: str, line: int) -> str | None:
    """Why a document's aliases are refused, measured on the event stream: each node's size and depth once its
    aliases are expanded, without building it. None when within budget or when the YAML is invalid (the parse
    that follows says why)."""
    yaml, base_loader, _ = _pyyaml()
    anchors: dict[str, tuple[int, int]] = {}   # anchor -> (nodes, depth) of its node, expanded
    open_frames: list[list] = []               # [anchor, nodes, depth of deepest child] per open collection
    added = 0                                  # nodes aliases added so far
    try:
        for event in yaml.parse(chunk, Loader=base_loader):
            if isinstance(event, yaml.CollectionStartEvent):
                open_frames.append([event.anchor, 1, 0])
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                anchor, nodes, depth = open_frames.pop()
                node = (nodes, depth + 1)
            elif isinstance(event, yaml.ScalarEvent):
                anchor, node = event.anchor, (1, 1)
            elif isinstance(event, yaml.AliasEvent):
                anchor, node = None, anchors.get(event.anchor)
                if node is None:   # undefined (the parse says so), or its own node, still open: a cycle
                    if any(frame[0] == event.anchor for frame in open_frames):
                        return f"invalid YAML (line {line + event.start_mark.line}): an alias inside its own anchor"
                    return None
                added += node[0]
                if added > MAX_ALIAS_NODES:
                    return (f"invalid YAML (line {line + event.start_mark.line}): its aliases expand to more than "
                            f"{MAX_ALIAS_NODES:,} nodes (an alias bomb); not read")
            else:
                continue
            if node[1] + len(open_frames) > MAX_DEPTH:
                return (f"invalid YAML (line {line + event.start_mark.line}): nested deeper than {MAX_DEPTH:,} "
                        "levels once its aliases are expanded; not read")
            if anchor is not None:
                anchors[anchor] = node
            if open_frames:
                open_frames[-1][1] += node[0]
                open_frames[-1][2] = max(open_frames[-1][2], node[1])
    except yaml.YAMLError:
        return None
    return None
