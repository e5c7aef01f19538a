"""YAML reading: the fast parser and PyYAML must agree on every document the fast parser takes."""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from nacos_auth_guard import yamlio
from nacos_auth_guard.yamlio import KubeLoader, split_documents

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))


def corpus_texts() -> list[tuple[str, str]]:
    paths = sorted((ROOT / "examples").glob("*.yaml")) + sorted((ROOT.parent / "shared" / "corpus").rglob("*.yaml"))
    texts = [(p.name, p.read_text()) for p in paths]
    import random

    import bench_lint
    rng = random.Random(3)
    texts += [(f"bench-{i}", yaml.safe_dump_all(bench_lint.namespace_documents(i, rng))) for i in range(3)]
    return texts


@pytest.mark.skipif(yamlio.yaml_rs is None, reason="yaml-rs not installed")
@pytest.mark.parametrize("name,text", corpus_texts(), ids=lambda v: v if isinstance(v, str) and len(v) < 60 else "")
def test_fast_path_gives_the_same_objects_as_pyyaml(name, text, monkeypatch):
    fast = [(d.value, d.error) for d in split_documents(text)]
    monkeypatch.setattr(yamlio, "yaml_rs", None)
    slow = [(d.value, d.error) for d in split_documents(text)]
    assert fast == slow
    try:
        whole = [d for d in yaml.load_all(text, Loader=KubeLoader) if d is not None]
    except yaml.YAMLError:
        # Some public files are broken YAML (corpus/real/SOURCES.md says which): then each path must say so on
        # the document that breaks, with a line, and still read the documents around it.
        assert any(error and "line" in error for _, error in fast)
        return
    assert [value for value, _ in fast] == whole


@pytest.mark.parametrize("text,expected", [
    ("a: on\nb: yes\n", {"a": True, "b": True}),                     # YAML 1.1 booleans, as kubectl reads them
    ("mode: 0644\n", {"mode": 420}),                                 # 1.1 octal
    ("t: 2026-11-22T10:00:00Z\n", {"t": "2026-11-22T10:00:00Z"}),    # timestamps stay strings
    ("x: 1e3\n", {"x": "1e3"}),                                      # 1.1: not a float without a dot
    ("a: &x 1\nb: *x\n", {"a": 1, "b": 1}),
    ("msg: token invalid!\n", {"msg": "token invalid!"}),
    ("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n", {"base": {"x": 1}, "m": {"x": 1, "y": 2}}),
    ('{"kind": "List", "items": []}', {"kind": "List", "items": []}),
])
def test_scalars_read_as_kubectl_reads_them(text, expected):
    [document] = split_documents(text)
    assert document.value == expected


def test_documents_split_with_lines_and_inline_content():
    text = "# header\n---\na: 1\n--- {b: 2}\n...\n---\n- c\n---\n\n"
    docs = list(split_documents(text))
    assert [(d.index, d.line, d.value) for d in docs] == [(0, 2, {"a": 1}), (1, 4, {"b": 2}), (2, 6, ["c"])]


@pytest.mark.parametrize("text", [
    "---", "---\n", "--- a\n", "---\ta: 1\n---\n---\n", "...\n---\nb: 1", "a: 1\n---", "a: 1\n---x\n---\n",
    "a: '\n---'\n", "---\n---\n---\n", "\n---\n", " ---\n", "----\n---", "a\r\n---\r\nb\r\n", "...", "..\n",
    "a: 1\n... # end\n--- b\n", "x: 1\n---\n---\ny: 2\n...\n",
])
def test_documents_start_where_a_line_anchored_search_finds_markers(text):
    """split_documents finds `---`/`...` lines by "\n" + marker (five times faster than MULTILINE `^`) and the
    first line on its own: the documents and their lines are those a line-anchored search gives."""
    import re
    expected, position, line = [], 0, 1
    for marker in [*re.finditer(r"^(?:---|\.\.\.)(?=[ \t]|$)", text, re.MULTILINE), None]:
        start, end = (marker.start(), marker.end()) if marker else (len(text), len(text))
        if not yamlio._blank(text[position:start]):
            expected.append(line)
        line += text.count("\n", position, end)
        position = end
    assert [d.line for d in split_documents(text)] == expected


def test_a_broken_document_does_not_hide_the_next_and_does_not_quote_input():
    docs = list(split_documents("a: [unclosed SECRETVALUE\n---\nb: 2\n"))
    assert docs[0].error and "SECRETVALUE" not in docs[0].error and "line" in docs[0].error
    assert docs[1].value == {"b": 2}


def _bomb(leaf: str) -> str:
    """Nine anchors, each ten aliases of the one before: 10^9 leaves from about 700 bytes."""
    lines = [f"a: &a [{', '.join([leaf] * 10)}]"]
    lines += [f"{chr(97 + n)}: &{chr(97 + n)} [" + ", ".join([f"*{chr(96 + n)}"] * 10) + "]" for n in range(1, 9)]
    return "\n".join(lines) + "\n"


DEEP = 30_000   # yaml-rs 0.1.6 segfaults between 11,000 and 30,000 levels on an 8 MB stack (measured)


@pytest.mark.parametrize("text", [
    "data:\n  x: " + "- " * DEEP + "1\n",                                    # compact block sequences, 60 KB
    "".join(" " * i + "k:\n" for i in range(1500)),                          # indented block mappings
    "a:\n" + "".join(" " * i + "- k:\n" for i in range(0, 3000, 2)),          # sequences under keys, no columns
    "a: " + "[" * DEEP + "]" * DEEP + "\n",                                   # flow sequences
    "a: " + "{b: " * DEEP + "1" + "}" * DEEP + "\n",                          # flow mappings
    "[" * DEEP + "]" * DEEP,                                                  # JSON
    "a:\n" + "".join(" " * i + "- [" for i in range(0, 600, 2)) + "\n",      # block and flow together
    "a0: &a0 " + "[" * 900 + "]" * 900 + "\nb: " + "[" * 200 + "*a0" + "]" * 200 + "\n",   # deep by an alias
], ids=["compact-block", "indented-block", "seq-under-key", "flow-seq", "flow-map", "json", "mixed", "alias"])
def test_nesting_too_deep_for_a_parser_is_an_input_error_with_a_line(text):
    """Depth is bounded before any parser that recurses on the machine stack (yaml-rs), and in every value a
    walker may recurse over; both loading paths give the same answer."""
    documents = list(split_documents(text))
    assert [d.value for d in documents] == [None] and "line" in documents[0].error, documents[0].error


def test_deep_nesting_cannot_crash_lint(tmp_path):
    """The reported crash (lint exits 139): a ConfigMap nested 30,000 levels, in a process of its own."""
    import subprocess
    path = tmp_path / "deep.yaml"
    path.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: deep}\ndata:\n  x: " + "- " * DEEP + "1\n"
                    "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: fine}\n")
    result = subprocess.run([sys.executable, "-m", "nacos_auth_guard.cli", "lint", str(path), "-o", "json"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, (result.returncode, result.stderr[-500:])
    import json
    report = json.loads(result.stdout)
    assert [e["line"] for e in report["errors"]] == [1] and report["summary"]["objects"] == 1


def test_valid_nesting_below_the_limits_still_reads():
    text = "a: " + "[" * 900 + "1" + "]" * 900 + "\nb:\n" + "".join(" " * i + "- k:\n" for i in range(0, 600, 2))
    [document] = split_documents(text)
    assert document.error is None and document.value["b"][0]["k"][0]["k"] is not None


@pytest.mark.parametrize("text,problem", [
    (_bomb("x"), "alias bomb"),
    (_bomb("~"), "alias bomb"),                   # null leaves: nothing to count for a walker that skips them
    ("a: &a [1, *a]\n", "its own anchor"),        # a cycle: every walker loops
    ("a: &a {b: *a}\n", "its own anchor"),
])
def test_aliases_beyond_the_budget_are_refused_before_anything_expands_them(text, problem):
    [document] = split_documents(text)
    assert document.value is None and problem in document.error and "line" in document.error


def test_ordinary_aliases_read_as_pyyaml_reads_them():
    text = "base: &base {a: 1, b: [x, y]}\nm:\n  <<: *base\n  c: *base\nlist: [*base, *base]\n"
    [document] = split_documents(text)
    assert document.value == yaml.load(text, Loader=KubeLoader)


@pytest.mark.skipif(yamlio.yaml_rs is None, reason="yaml-rs not installed")
@pytest.mark.parametrize("text,measured", [
    ("labels: &l {app: nacos}\nselector: {matchLabels: *l}\n", False),    # PyYAML's own dumps share dicts so
    ("a: &a [1, {b: 2}]\nc: [*a, *a]\n", False),
    ("a: &a {x: null}\nb: *a\n", True),           # a null: yaml-rs also gives one for an alias in its own anchor
    ("a: &a [1, *a]\n", True),
    ("a: &a\n  b:\n    c: *a\n", True),
])
def test_aliases_are_read_by_yaml_rs_within_its_limits(text, measured, monkeypatch):
    """yaml-rs replays aliases itself, bounded by _ALIAS_LIMITS; the event-stream measure runs only for what it
    refuses or what may hide a cycle, and the result is PyYAML's either way."""
    calls = []
    measure = yamlio._alias_budget_error
    monkeypatch.setattr(yamlio, "_alias_budget_error", lambda *a: calls.append(1) or measure(*a))
    [document] = split_documents(text)
    assert bool(calls) == measured
    monkeypatch.setattr(yamlio, "yaml_rs", None)
    assert [(document.value, document.error)] == [(d.value, d.error) for d in split_documents(text)]


@pytest.mark.skipif(yamlio.yaml_rs is None, reason="yaml-rs not installed")
@pytest.mark.parametrize("text,expected,fast", [
    ("hash: 0a3f9c\n", {"hash": "0a3f9c"}, True),      # a leading 0 before a letter: a string in 1.1 and 1.2
    ("hash: 00ff\n", {"hash": "00ff"}, True),
    ("hash: 0b27a3\n", {"hash": "0b27a3"}, True),      # not binary digits after 0b
    ("mode: 0644\n", {"mode": 420}, False),            # 1.1 octal
    ("n: 089\n", {"n": "089"}, False),                 # 1.1: a string (no octal 8 or 9); 1.2: the int 89
    ("n: 0b101\n", {"n": 5}, False),
    ("n: 0o17\n", {"n": "0o17"}, False),               # 1.2 octal, a string in 1.1
    ("n: 0x1F\n", {"n": 31}, False),
    ("n: 0_1\n", {"n": 1}, False),
])
def test_a_leading_zero_goes_to_pyyaml_only_where_the_yaml_versions_differ(text, expected, fast, monkeypatch):
    loaded = []
    real = yamlio.yaml_rs.loads
    monkeypatch.setattr(yamlio.yaml_rs, "loads", lambda *a, **k: loaded.append(1) or real(*a, **k))
    [document] = split_documents(text)
    assert document.value == expected and bool(loaded) == fast


@pytest.mark.parametrize("text", [
    "password: !CANARY-pass\n",                   # a password starting with `!` is read as a tag
    "password: !!bool CANARY\n", "port: !!int CANARY\n", "ratio: !!float CANARY\n",
    "when: !!timestamp 2026-13-45\n", "x: !!binary CANARY%%%\n",
    'password: "CANARY\\q"\n', "password: *CANARY\n", "password: @CANARY\n",
    "password: CANARY\tx: [\n", "%TAG !CANARY! tag:x,2000:\n---\na: !CANARY!b c\n", "a: !<!CANARY> b\n",
])
def test_yaml_errors_name_a_line_and_never_quote_the_input(text):
    """Any error PyYAML or a constructor raises becomes a message of fixed text and a line: no token, tag, alias
    or character of the input, and no exception escapes."""
    documents = list(split_documents(text))
    errors = [d.error for d in documents if d.error]
    assert errors and all("line" in e and "CANARY" not in e and "2026-13" not in e for e in errors), errors
