"""check_in_parts (lint and scan on a large input): two processes, each with every server and half of the other
workloads, must find exactly what one process finds over the whole input."""
from __future__ import annotations

import random
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from nacos_auth_guard import checks
from nacos_auth_guard.checks import CheckContext, check_in_parts, run_checks
from nacos_auth_guard.manifests import read_manifests
from nacos_auth_guard.snapshot import build_snapshot

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
sys.path.insert(0, str(ROOT / "bench"))
NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
WARNING = timedelta(days=7)


def inputs() -> dict[str, list[dict]]:
    import bench_lint
    rng = random.Random(5)
    bench = [doc for index in range(40) for doc in bench_lint.namespace_documents(index, rng)]
    return {"examples": read_manifests([str(ROOT / "examples")]).objects,
            "corpus": read_manifests([str(CORPUS)]).objects,
            "bench": bench}


@pytest.fixture
def always_in_parts(monkeypatch):
    """Split however small the input, and fork in this test process too (pytest may have threads running)."""
    monkeypatch.setattr(checks, "PARALLEL_MIN_WORKLOADS", 0)
    monkeypatch.setattr(checks, "can_fork", lambda: True)


@pytest.mark.parametrize("name", ["examples", pytest.param("corpus", marks=pytest.mark.skipif(
    not CORPUS.is_dir(), reason=f"no corpus at {CORPUS}")), "bench"])   # as the corpus tests skip without it
def test_two_halves_find_what_one_process_finds(name, always_in_parts, monkeypatch):
    objects = inputs()[name]
    snapshot = build_snapshot(objects, complete=False)
    alone = run_checks(CheckContext.build(snapshot, NOW, WARNING), ["NAG105"])
    forks = []
    real = checks.ForkedWork
    monkeypatch.setattr(checks, "ForkedWork", lambda work: forks.append(1) or real(work))
    assert check_in_parts(snapshot, NOW, WARNING, iter(["NAG105"])) == alone and forks == [1]
    assert len(alone) > 5 and len({f.obj for f in alone}) > 3


def test_a_failed_child_leaves_its_half_to_this_process(always_in_parts, monkeypatch):
    class Failed:
        def __init__(self, work):
            pass

        def result(self):
            return None   # what ForkedWork gives when the child raised, was killed or could not send

    snapshot = build_snapshot(inputs()["bench"], complete=False)
    monkeypatch.setattr(checks, "ForkedWork", Failed)
    assert check_in_parts(snapshot, NOW, WARNING) == run_checks(CheckContext.build(snapshot, NOW, WARNING))


def test_a_small_input_is_checked_in_one_process(monkeypatch):
    monkeypatch.setattr(checks, "can_fork", lambda: True)
    monkeypatch.setattr(checks, "ForkedWork", lambda work: pytest.fail("forked for a small input"))
    snapshot = build_snapshot(inputs()["examples"], complete=False)
    assert check_in_parts(snapshot, NOW, WARNING) == run_checks(CheckContext.build(snapshot, NOW, WARNING))


def test_servers_alone_are_checked_in_one_process(monkeypatch):
    """A tenant of many idle Nacos servers and their Services (bench --shape tenant): nothing but servers, which
    each process would check whole, so a fork only doubles the work."""
    import bench_lint
    rng = random.Random(3)
    objects = [doc for index in range(2 * checks.PARALLEL_MIN_WORKLOADS)
               for doc in bench_lint.tenant_documents(index, rng)]
    monkeypatch.setattr(checks, "can_fork", lambda: True)
    monkeypatch.setattr(checks, "ForkedWork", lambda work: pytest.fail("forked for servers alone"))
    snapshot = build_snapshot(objects, complete=False)
    assert len(snapshot.workloads) == 2 * checks.PARALLEL_MIN_WORKLOADS
    assert check_in_parts(snapshot, NOW, WARNING) == run_checks(CheckContext.build(snapshot, NOW, WARNING))
