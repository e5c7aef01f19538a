"""../shared/corpus/real (37 files from 17 public repositories, see its SOURCES.md): per file, the findings lint must
give, each one true of that file against the Nacos and nacos-docker sources (issue 12.6). A file is linted with the
other files of its repository, as its users would lint their repository, so clients see the servers they call.

Why each finding is true (versions from the image tag; the rules' sources are cited next to the checks):
- `latest` of nacos/nacos-server is 3.x: its startup script exits without NACOS_AUTH_TOKEN / NACOS_AUTH_IDENTITY_*
  (NAG201, NAG301; see test_corpus.py). An untagged image of another repository (the SCA example's
  sca-community/nacos-server, whose docker-compose twin runs nacos-server:v2.1.0) is only judged as 3.x: warnings.
- Images 1.4.1 and 2.0.0-2.2.0 carry the published default key in their application.properties; with auth off it
  checks nothing yet (NAG204 warning). From the v2.2.1 image on there is no default key, and 2.2.2+ loads it only
  with auth on, so 2.2.3-2.5.0 with auth off and no key are clean.
- ChunPingWang: v3.1.1 with the published key and the published identity pair serverIdentity/security as literals:
  3.x's admin and console auth are on by default and accept tokens signed with it (NAG204 error), the admin filter
  lets the identity header through (NAG303), both literals readable from the StatefulSet (NAG105 x2).
- nacos-k8s Helm chart rendered with its defaults (v3.0.1): the key, identity key and value are the string "nil":
  2 bytes when Base64-decoded, below 32, with console auth on (NAG203), a published identity (NAG303), literals
  (NAG105 x2).
- baigeixia quick start: key and identity value in a ConfigMap (NAG105 x2); the key is random, 32 bytes.
- macrozheng: clients configured with a bare IP address, which names no Service of a known server (NAG402 info).
- mooodo seata.yaml: a Seata server (custom image repository:5000/seata) with ConfigMap seata-server-config mounted
  at /usr/local/seata/conf, the binary distribution's conf/ directory, which Seata 1.4 puts on its classpath and
  reads registry.conf from (seata.py cites the source). Its registry and config blocks are type "nacos" at
  nacos:8848, the repository's Nacos Service (nacos.yaml and nacos-cluster.yaml: 2.0.0 with auth off), with
  username/password nacos/nacos written in the ConfigMap: readable by anyone who can read ConfigMaps (NAG105, one
  finding naming both lines). Auth is off on that server, so the login is neither needed (no NAG401) nor judged as
  the default admin (NAG403 is for auth-enabled servers). The image is not seataio/seata-server, so its version is
  unknown; a 1.5+ Spring Boot build would not read registry.conf at all.
- Tangyd893 nacos.yaml is broken YAML (a stray `---` splits a container): an input error, as kubectl says too.
"""
from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest

from nacos_auth_guard.cli import main

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "real"
SOURCES = CORPUS / "SOURCES.md"
NEEDS_CORPUS = pytest.mark.skipif(not SOURCES.is_file(), reason=f"no corpus at {CORPUS}")

W, E, I = "warning", "error", "info"
SCRIPT = [("NAG201", E), ("NAG301", E)]
EXPECTED: dict[str, list[tuple[str, str, str]]] = {
    "16680-creator__ai-customer-service__deploy__k8s__nacos.yaml": [],          # v2.3.2, auth off, no key: clean
    "16680-creator__ai-customer-service__deploy__k8s__services__user-service.yaml": [],
    "ChunPingWang__nacos-poc__deploy__nacos.yaml": [
        ("NAG105", "StatefulSet/default/nacos", W), ("NAG105", "StatefulSet/default/nacos", W),
        ("NAG204", "StatefulSet/default/nacos", E), ("NAG303", "StatefulSet/default/nacos", E)],
    "Tangyd893__HIS-Go__k8s__base__configmap.yaml": [],
    "Tangyd893__HIS-Go__k8s__base__kustomization.yaml": [],                     # a note: lint what it builds
    "Tangyd893__HIS-Go__k8s__base__nacos.yaml": [],                             # the input error below
    "ZZyYyff__smart-canteen-microservice__k8s__gateway-service.yaml": [],
    "ZZyYyff__smart-canteen-microservice__k8s__nacos.yaml": [],                 # v2.3.2 standalone, auth off
    "ZZyYyff__smart-canteen-microservice__k8s__user-service.yaml": [],
    "alibaba__spring-cloud-alibaba__spring-cloud-alibaba-examples__integrated-example__helm-chart__templates__"
    "integrated-nacos-stand.yaml": [("NAG201", "Deployment/default/nacos-standalone", W),
                                    ("NAG301", "Deployment/default/nacos-standalone", W)],
    "apache__dubbo-admin__kubernetes__dubbo-admin__configmap.yaml": [],
    "apache__dubbo-admin__kubernetes__nacos__statefulset.yaml": [(c, "StatefulSet/default/nacos", s) for c, s in SCRIPT],
    "baigeixia__vast-knowledge__k8s__nacos-quick-start.yaml": [("NAG105", "StatefulSet/nc/nacos", W)] * 2,
    "baigeixia__vast-knowledge__k8s__nacos.yaml": [],                           # v2.5.0 standalone, auth off
    "dyrnq__dist__nacos__2.1.2__10-deployments.yaml": [("NAG204", "StatefulSet/nacos-system/my-nacos", W)],
    "dyrnq__dist__nacos__2.2.0__10-deployments.yaml": [("NAG204", "StatefulSet/nacos-system/my-nacos", W)],
    "eph6666__eks_nacos__nacos.yaml": [("NAG204", "StatefulSet/default/nacos", W)],   # 1.4.1, auth off
    "keveinliu__hy-nacos-demo__k8s__nacos-deployment.yaml": [],                 # v2.2.3, auth off
    "keveinliu__hy-nacos-demo__k8s__service-a-deployment.yaml": [],             # nacos:8848 is its Service
    "lanyoumeng__TikTok__k8s__k8s-ok__nacos-deployment.yaml": [(c, "Deployment/default/nacos", s) for c, s in SCRIPT],
    "leoli5695__scg-dynamic-admin__k8s__demo-nacos.yaml": [],
    "leoli5695__scg-dynamic-admin__k8s__my-gateway.yaml": [],
    "leoli5695__scg-dynamic-admin__k8s__nacos.yaml": [],                        # v2.2.3 standalone, auth off
    "leoli5695__scg-dynamic-admin__seckill-core-engine__k8s__nacos.yaml": [],   # v2.3.0, auth off
    "liuweicode__deploy-nacos-cluster-on-kubernetes__nacos.yaml": [("NAG204", "StatefulSet/dev-nacos/nacos", W)],
    "macrozheng__mall-swarm__document__k8s__mall-admin-deployment.yaml": [
        ("NAG402", "Deployment/default/mall-admin-deployment", I)],
    "macrozheng__mall-swarm__document__k8s__mall-gateway-deployment.yaml": [
        ("NAG402", "Deployment/default/mall-gateway-deployment", I)],
    "mooodo__edev-alibaba-trade__edev-alibaba-customer__edev-alibaba-customer.yaml": [],
    "mooodo__edev-alibaba-trade__edev-alibaba-gateway__edev-alibaba-gateway.yaml": [],
    "mooodo__edev-alibaba-trade__nacos-cluster.yaml": [("NAG204", "StatefulSet/default/nacos", W)],   # 2.0.0
    "mooodo__edev-alibaba-trade__nacos.yaml": [("NAG204", "Deployment/default/nacos", W)],
    "mooodo__edev-alibaba-trade__seata.yaml": [("NAG105", "Deployment/default/seata", W)],   # see the docstring
    "nacos-group__nacos-k8s__helm__RENDERED-default-values.yaml": [
        ("NAG105", "StatefulSet/default/nacos", W), ("NAG105", "StatefulSet/default/nacos", W),
        ("NAG203", "StatefulSet/default/nacos", E), ("NAG303", "StatefulSet/default/nacos", E)],
    "nacos-group__nacos-k8s__helm__RENDERED-mode-cluster.yaml": [
        ("NAG105", "StatefulSet/default/nacos", W), ("NAG105", "StatefulSet/default/nacos", W),
        ("NAG203", "StatefulSet/default/nacos", E), ("NAG303", "StatefulSet/default/nacos", E)],
    "nacos-group__nacos-k8s__openshift__nacos-template.yaml": [(c, "StatefulSet/midware/nacos", s) for c, s in SCRIPT],
    "turboic__k8s-sentinel-nacos-mysql-app__nacos.yaml": [(c, "StatefulSet/default/nacos", s) for c, s in SCRIPT],
    "turboic__k8s-sentinel-nacos-mysql-app__sentinel-nacos-provider.yaml": [],
}
BROKEN = {"Tangyd893__HIS-Go__k8s__base__nacos.yaml"}


def repositories() -> dict[str, list[str]]:
    """File names by repository, as SOURCES.md lists them ("same": the repository of the row above)."""
    groups: dict[str, list[str]] = defaultdict(list)
    repo = ""
    for row in SOURCES.read_text().splitlines():
        match = re.match(r"\| `([^`]+)` \| ([^|]+) \|", row)
        if match:
            repo = repo if match.group(2).strip() == "same" else match.group(2).strip().split()[0]
            groups[repo].append(match.group(1))
    return dict(groups)


def lint(capsys, files: list[str]) -> dict:
    main(["lint", "-o", "json", *(str(CORPUS / name) for name in files)])
    return json.loads(capsys.readouterr().out)


@NEEDS_CORPUS
def test_every_corpus_file_is_pinned():
    listed = {name for files in repositories().values() for name in files}
    on_disk = {path.name for path in CORPUS.glob("*.yaml")}
    assert listed == on_disk == set(EXPECTED)


@NEEDS_CORPUS
@pytest.mark.parametrize("repo", sorted(repositories()) if SOURCES.is_file() else [])
def test_each_file_gives_exactly_its_true_findings(capsys, repo):
    files = repositories()[repo]
    report = lint(capsys, files)
    found: dict[str, list] = defaultdict(list)
    for item in report["findings"]:
        found[Path(item["file"]).name].append(
            (item["code"], "{kind}/{namespace}/{name}".format(**item["object"]), item["severity"]))
        assert item["line"] >= 1   # the place in the file
    for name in files:
        assert sorted(found.get(name, [])) == sorted(EXPECTED[name]), name
    assert {Path(e["file"]).name for e in report["errors"]} == BROKEN & set(files)   # no valid file is an error


@NEEDS_CORPUS
def test_the_broken_file_is_an_input_error_that_names_the_line(capsys):
    [error] = lint(capsys, sorted(BROKEN))["errors"]
    assert error["message"].startswith("invalid YAML (line 43): ") and error["line"] == 34   # the stray `---`
