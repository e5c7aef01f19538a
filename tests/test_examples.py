"""The bundled examples: each yields exactly its findings, healthy.yaml none, the whole directory exactly their union,
and together they show every finding code `lint` can give. examples/README.md and each file's header must say the
same as this table."""
from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from nacos_auth_guard.catalog import CATALOG
from nacos_auth_guard.cli import main
from nacos_auth_guard.manifests import read_manifests

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"

# Token expiry is judged at a fixed time. NOW stands for the README quick start on any day before 2098-12-24;
# LATE is four days before batch-import's token expires (2099-01-01), inside the 7-day warning window.
NOW = "2026-11-25T00:00:00Z"
LATE = "2098-12-28T00:00:00Z"

# file -> findings as (code, kind/namespace/name), each as often as it is reported, at NOW without --strict-refs.
EXPECTED: dict[str, list[tuple[str, str]]] = {
    "healthy.yaml": [],
    "key-mismatch.yaml": [("NAG205", "StatefulSet/key-mismatch/nacos")],
    "secret-rotated-split.yaml": [("NAG206", "StatefulSet/secret-rotated-split/nacos")],
    "secret-rotated-pending.yaml": [("NAG206", "StatefulSet/secret-rotated-pending/nacos")],
    "auth-rollout.yaml": [("NAG207", "StatefulSet/auth-rollout/nacos")],
    "identity-mismatch.yaml": [("NAG302", "StatefulSet/identity-mismatch/nacos")],
    "identity-missing.yaml": [("NAG301", "StatefulSet/identity-missing/nacos")],
    "client-no-credentials.yaml": [("NAG401", "Deployment/client-no-credentials/inventory"),
                                   ("NAG402", "Deployment/client-no-credentials/legacy-sync"),
                                   ("NAG403", "Deployment/client-no-credentials/reports"),
                                   ("NAG404", "Deployment/client-no-credentials/orders"),
                                   ("NAG405", "Deployment/client-no-credentials/payments")],
    "missing-references.yaml": [("NAG102", "Deployment/missing-references/shipping"),
                                ("NAG104", "Deployment/missing-references/notify")],
    "access-tokens.yaml": [("NAG501", "CronJob/access-tokens/legacy-cron"),
                           ("NAG502", "Deployment/access-tokens/report-exporter"),
                           ("NAG504", "Deployment/access-tokens/price-sync"),
                           ("NAG505", "Deployment/access-tokens/ops-console")],
    "key-missing.yaml": [("NAG201", "StatefulSet/key-missing/nacos")],
    "key-not-base64.yaml": [("NAG202", "StatefulSet/key-not-base64/nacos")],
    "key-too-short.yaml": [("NAG203", "StatefulSet/key-too-short/nacos")],
    "well-known-key.yaml": [("NAG204", "StatefulSet/well-known-key/nacos")],
    "old-image-ignores-key.yaml": [("NAG204", "StatefulSet/old-image-ignores-key/nacos")],
    "well-known-identity.yaml": [("NAG303", "StatefulSet/well-known-identity/nacos")],
    "user-agent-bypass.yaml": [("NAG208", "StatefulSet/user-agent-bypass/nacos")],
    "plaintext-credentials.yaml": [("NAG105", "StatefulSet/plaintext-credentials/nacos"),
                                   ("NAG105", "StatefulSet/plaintext-credentials/nacos"),
                                   ("NAG105", "Deployment/plaintext-credentials/orders"),
                                   ("NAG105", "Deployment/plaintext-credentials/payments")],
    "helm-chart-defaults.yaml": [("NAG105", "StatefulSet/nacos/nacos"), ("NAG105", "StatefulSet/nacos/nacos"),
                                 ("NAG203", "StatefulSet/nacos/nacos"), ("NAG303", "StatefulSet/nacos/nacos")],
    "config-file-unreadable.yaml": [("NAG106", "Deployment/config-file-unreadable/orders")],
    "mounted-properties.yaml": [("NAG105", "StatefulSet/mounted-properties/nacos"),
                                ("NAG201", "StatefulSet/mounted-properties/nacos")],
    "invalid-check.yaml": [("NAG002", "NacosAuthCheck/invalid-check/nacos")],
    "openapi-callers.yaml": [("NAG502", "CronJob/openapi-callers/config-export"),
                             ("NAG105", "Job/openapi-callers/register-instances"),
                             ("NAG506", "CronJob/openapi-callers/config-audit")],
}
# What --strict-refs adds: an object missing from the input is then missing from the cluster.
STRICT_EXTRA = {
    "missing-references.yaml": [("NAG101", "Deployment/missing-references/billing"),
                                ("NAG103", "Deployment/missing-references/reports"),
                                ("NAG001", "NacosAuthCheck/missing-references/nacos-prod")],
    "invalid-check.yaml": [("NAG001", "NacosAuthCheck/invalid-check/nacos")],
}
# What --now LATE adds.
LATE_EXTRA = {"access-tokens.yaml": [("NAG503", "Deployment/access-tokens/batch-import")]}

MODES = {  # mode -> (extra lint options, extra findings per file)
    "default": ([], {}),
    "strict-refs": (["--strict-refs"], STRICT_EXTRA),
    "late": (["--now", LATE], LATE_EXTRA),
}


def lint(capsys, *args: str) -> tuple[int, dict]:
    code = main(["lint", *args, "-o", "json"])
    out, err = capsys.readouterr()
    assert err == ""
    return code, json.loads(out)


def found(report: dict) -> Counter:
    return Counter((f["code"], "{kind}/{namespace}/{name}".format(**f["object"])) for f in report["findings"])


def expected(file: str, mode: str) -> Counter:
    return Counter(EXPECTED[file]) + Counter(MODES[mode][1].get(file, []))


def test_the_table_covers_every_example_file():
    assert sorted(path.name for path in EXAMPLES.glob("*.yaml")) == sorted(EXPECTED)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_each_example_yields_exactly_its_findings(capsys, file, mode):
    code, report = lint(capsys, str(EXAMPLES / file), "--now", NOW, *MODES[mode][0])
    assert found(report) == expected(file, mode)
    assert report["errors"] == []
    assert code == (1 if any(f["severity"] == "error" for f in report["findings"]) else 0)
    assert all(f["file"] == str(EXAMPLES / file) for f in report["findings"])


@pytest.mark.parametrize("options", [[], ["--strict-refs"], ["--now", LATE, "--strict-refs"]])
def test_healthy_yields_nothing_at_all(capsys, options):
    code, report = lint(capsys, str(EXAMPLES / "healthy.yaml"), "--fail-on", "info", *options)
    assert (code, report["findings"], report["errors"]) == (0, [], [])
    assert report["summary"]["objects"] > 10   # the whole cluster was read, not nothing


@pytest.mark.parametrize("mode", MODES)
def test_the_whole_directory_is_exactly_the_union(capsys, mode):
    """No cross-talk: each example lives in its own namespace, so together they say what they say alone."""
    _, report = lint(capsys, str(EXAMPLES), "--now", NOW, *MODES[mode][0])
    assert found(report) == sum((expected(file, mode) for file in EXPECTED), Counter())
    assert report["summary"]["sources"] == len(EXPECTED)


def test_each_example_has_a_namespace_of_its_own():
    owners: dict[str, str] = {}
    for file in EXPECTED:
        manifests = read_manifests([str(EXAMPLES / file)])
        namespaces = {obj["metadata"].get("namespace") or obj["metadata"]["name"] for obj in manifests.objects}
        assert len(namespaces) == 1, (file, namespaces)
        [namespace] = namespaces
        assert owners.setdefault(namespace, file) == file, f"{file} shares namespace {namespace}"


def test_the_quick_start_exits_1(capsys, monkeypatch):
    """The README's command, as written (relative path, real clock): there are errors whatever the date."""
    monkeypatch.chdir(ROOT)
    assert main(["lint", "examples/"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"^\d+ error\(s\), \d+ warning\(s\), 2 info in \d+ object\(s\) from 23 source\(s\)$", out, re.M)


def test_every_finding_code_lint_can_give_has_an_example():
    """NAG6xx are live probe results; NAG001 shows with --strict-refs (missing-references.yaml)."""
    shown = {code for table in (EXPECTED, STRICT_EXTRA, LATE_EXTRA) for rows in table.values() for code, _ in rows}
    assert shown == {code for code in CATALOG if not code.startswith("NAG6")}


def header(file: str) -> str:
    lines = (EXAMPLES / file).read_text().splitlines()
    return "\n".join(line[2:] for line in lines[:next(i for i, line in enumerate(lines) if not line.startswith("#"))])


@pytest.mark.parametrize("file", sorted(EXPECTED))
def test_each_header_says_what_is_wrong_what_users_see_and_the_fix(file):
    text = header(file)
    assert text.startswith(file + ":")
    if file == "healthy.yaml":
        assert "Lints clean" in text and "NAG" not in text
        return
    for part in ("What is wrong", "What users see", "Fix", "Expected:"):
        assert part in text, f"{file}: no {part!r} in its header"
    promised = set(re.findall(r"NAG\d{3}", text.split("Expected:", 1)[1]))
    assert promised == {code for table in (EXPECTED, STRICT_EXTRA, LATE_EXTRA) for code, _ in table.get(file, [])}


def test_examples_readme_lists_each_file_and_its_codes():
    rows = {}
    for line in (EXAMPLES / "README.md").read_text().splitlines():
        match = re.match(r"^\| \[`([\w.-]+\.yaml)`\]\([\w.-]+\) \|(.*)\|(.*)\|$", line)
        if match:
            rows[match.group(1)] = set(re.findall(r"NAG\d{3}", match.group(3)))
    assert rows == {file: {code for table in (EXPECTED, STRICT_EXTRA, LATE_EXTRA) for code, _ in table.get(file, [])}
                    for file in EXPECTED}


SENSITIVE_NAME = re.compile(r"token|password|pasword|identity-value|IDENTITY_VALUE|secret\.key|identity\.value", re.I)


def example_secrets() -> set[str]:
    """Every key, password, token and identity value written in the examples: in Secrets, env literals and
    config files (usernames and identity key names are not secret, and show up as object names)."""
    import base64
    values: set[str] = set()
    for obj in read_manifests([str(EXAMPLES)]).objects:
        if obj["kind"] == "Secret":
            for key, value in (obj.get("stringData") or {}).items():
                if SENSITIVE_NAME.search(key):
                    values.add(value)
            for key, value in (obj.get("data") or {}).items():
                if SENSITIVE_NAME.search(key):
                    values.add(base64.b64decode(value).decode())
        for line in json.dumps(obj).replace("\\n", "\n").splitlines():
            match = re.search(r"(?:secret\.key|identity\.value|password)[=:]\s*([^\s\"$]{8,})", line)
            if match:
                values.add(match.group(1))
        for container in json.dumps(obj).split('"env": ')[1:]:
            for name, value in re.findall(r'"name": "([A-Z_]+)", "value": "([^"]*)"', container):
                if SENSITIVE_NAME.search(name):
                    values.add(value)
    return {value for value in values if len(value) >= 8}


@pytest.mark.parametrize("fmt", ["text", "json", "sarif"])
def test_no_example_secret_in_any_output(capsys, fmt):
    from support import canary
    secrets = example_secrets()
    assert len(secrets) > 40   # the Secrets, literals and files of every example were read
    main(["lint", str(EXAMPLES), "-o", fmt, "--strict-refs", "--now", LATE, "--color", "always"])
    out, err = capsys.readouterr()
    leaks = sorted(form for secret in secrets for form in canary.forbidden_forms(secret) if form in out + err)
    assert not leaks, f"lint -o {fmt} shows secret material, e.g. {leaks[0][:10]}..."
