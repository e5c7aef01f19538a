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


def test_a_broken_document_does_not_hide_the_next_and_does_not_quote_input():
    docs = list(split_documents("a: [unclosed SECRETVALUE\n---\nb: 2\n"))
    assert docs[0].error and "SECRETVALUE" not in docs[0].error and "line" in docs[0].error
    assert docs[1].value == {"b": 2}
