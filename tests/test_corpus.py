"""Real public manifests (shared/corpus, see its README): lint must claim nothing about them that is not true.

The nacos-k8s deploy/nacos/*.yaml files run `nacos/nacos-server:latest` with auth off and set no NACOS_AUTH_* env.
`latest` is judged as the newest Nacos (3.x), whose image's docker-startup.sh exits before Nacos starts when env
NACOS_AUTH_TOKEN, NACOS_AUTH_IDENTITY_KEY or NACOS_AUTH_IDENTITY_VALUE is empty, auth on or off (nacos-docker v3.0.0+;
alibaba/nacos#13339; a nacos-k8s maintainer in nacos-k8s#497: plain-YAML deployments must set these three). So each
file gets exactly those two errors, each true of it, and nothing else: pinned to a 2.x image the same file is clean.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from nacos_auth_guard.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "nacos-k8s"
FILES = sorted(CORPUS.glob("*.yaml")) if CORPUS.is_dir() else []
NEEDS_CORPUS = pytest.mark.skipif(not FILES, reason=f"no corpus at {CORPUS}")

# The only findings any corpus file may give, with why each is true (see the module docstring).
EXPECTED = {
    ("NAG201", "StatefulSet/default/nacos", "error"),   # latest = 3.x: the image exits without env NACOS_AUTH_TOKEN
    ("NAG301", "StatefulSet/default/nacos", "error"),   # ... and without NACOS_AUTH_IDENTITY_KEY / _VALUE
}


def lint(capsys, path: Path, *options: str) -> list[dict]:
    main(["lint", str(path), "-o", "json", "--strict-refs", *options])
    report = json.loads(capsys.readouterr().out)
    assert report["errors"] == []
    return report["findings"]


def keys(findings: list[dict]) -> list[tuple[str, str, str]]:
    return sorted((f["code"], "{kind}/{namespace}/{name}".format(**f["object"]), f["severity"]) for f in findings)


@NEEDS_CORPUS
@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_corpus_findings_are_only_true_ones(capsys, path):
    findings = lint(capsys, path)
    assert keys(findings) == sorted(EXPECTED)
    assert all("latest, counts as the newest" in f["message"] for f in findings)   # says why it applies


@NEEDS_CORPUS
@pytest.mark.parametrize("path", FILES, ids=[path.name for path in FILES])
def test_corpus_with_a_2x_image_gives_no_finding(capsys, path, tmp_path):
    """The same manifest on nacos-server:v2.4.3, auth off: nothing is wrong, and nothing is claimed."""
    pinned = tmp_path / path.name
    pinned.write_text(path.read_text().replace("nacos/nacos-server:latest", "nacos/nacos-server:v2.4.3"))
    assert "nacos/nacos-server:v2.4.3" in pinned.read_text()
    assert keys(lint(capsys, pinned, "--fail-on", "info")) == []


@NEEDS_CORPUS
def test_corpus_servers_are_recognised(capsys):
    """Proof the checks saw a Nacos cluster in each file (a file read as 'no server' would also give nothing)."""
    from nacos_auth_guard.discovery import discover
    from nacos_auth_guard.manifests import read_manifests
    from nacos_auth_guard.snapshot import build_snapshot
    for path in FILES:
        topology = discover(build_snapshot(read_manifests([str(path)]).objects))
        assert [str(server.ref) for server in topology.servers] == ["StatefulSet/default/nacos"], path.name
