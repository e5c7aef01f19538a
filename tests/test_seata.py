"""Seata as a Nacos client (seata.py): which registry file Seata reads, its HOCON read without ever following an
include or reading this process's env, and the bounds that keep hostile input cheap. The facts are Seata's
(apache/incubator-seata at v1.4.2 and v1.5.2; seata.py cites file and line)."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacos_auth_guard import seata
from nacos_auth_guard.model import ConfigProblem
from nacos_auth_guard.seata import Leaf

# The registry.conf of mooodo/edev-alibaba-trade's seata.yaml (../shared/corpus/real), as the ConfigMap holds it.
MOOODO = '''registry {
  # file 、nacos 、eureka、redis、zk、consul、etcd3、sofa
  type = "nacos"
  nacos {
    application = "seata-server"
    serverAddr = "nacos:8848"
    group = "SEATA_GROUP"
    namespace = ""
    cluster = "default"
    username = "nacos"
    password = "nacos"
  }
}
config {
  # file、nacos 、apollo、zk、consul、etcd3
  type = "nacos"
  nacos {
    serverAddr = "nacos:8848"
    namespace = ""
    group = "SEATA_GROUP"
    username = "nacos"
    password = "nacos"
  }
}
'''


@pytest.mark.parametrize("name, env, expected", [
    (None, None, (None, "registry")),                      # ConfigurationFactory.java:57@v1.4.2
    ("registry", "dev", (None, "registry-dev")),           # SEATA_ENV appends "-" + env (:63-64)
    ("file:/root/seata-config/registry", None, ("/root/seata-config/registry", None)),   # the docs' k8s shape
    ("file:/conf/registry", "prod", ("/conf/registry-prod", None)),
    ("my-registry", None, (None, "my-registry")),
    (None, "", (None, "registry")),                        # an empty env is no env
])
def test_config_file_names(name, env, expected):
    assert seata.config_file_names(name, env) == expected


@pytest.mark.parametrize("path, file_path, base_name, reads", [
    ("/seata-server/resources/registry.conf", None, "registry", True),   # the seataio image (jib's resources/)
    ("/usr/local/seata/conf/registry.conf", None, "registry", True),     # the distribution's conf/ (classpath)
    ("/conf/file.conf", None, "registry", False),                        # the file store, no Nacos setting in it
    ("/conf/registry.yml", None, "registry", False),                     # another syntax
    ("/conf/registry-dev.conf", None, "registry-dev", True),
    ("/conf/registry.conf", None, "registry-dev", False),
    ("/conf/registry.conf", None, "registry.conf", True),
    ("/root/seata-config/registry.conf", "/root/seata-config/registry", None, True),
    ("/root/seata-config/registry", "/root/seata-config/registry", None, True),
    ("/elsewhere/registry.conf", "/root/seata-config/registry", None, False),   # file: is a path, not a name
    ("/root/seata-config/registry.properties", "/root/seata-config/registry.properties", None, False),
])
def test_which_mounted_file_seata_reads(path, file_path, base_name, reads):
    assert seata.reads_file(path, file_path, base_name) is reads


@pytest.mark.parametrize("image, version, spring", [
    ("seataio/seata-server:1.4.2", (1, 4, 2), False),
    ("seataio/seata-server:1.5.2", (1, 5, 2), True),
    ("apache/seata-server:2.1.0", (2, 1, 0), True),
    ("docker.io/seataio/seata-server:latest", None, True),   # the newest is Spring Boot
    ("registry:5000/seataio/seata-server:1.3.0", (1, 3, 0), False),
    ("repository:5000/seata", None, False),                   # a custom image: what it runs is not known
    ("shop/orders:1.8.2", (1, 8, 2), False),
])
def test_spring_based_images(image, version, spring):
    assert seata.spring_based(image, version) is spring


def test_the_mooodo_registry_conf():
    leaves = seata.parse_hocon(MOOODO)
    assert leaves["registry.type"] == Leaf("nacos", 3)
    assert leaves["registry.nacos.serverAddr"] == Leaf("nacos:8848", 6)
    assert (leaves["registry.nacos.username"], leaves["registry.nacos.password"]) == (Leaf("nacos", 10),
                                                                                    Leaf("nacos", 11))
    assert leaves["config.nacos.password"] == Leaf("nacos", 22)


@pytest.mark.parametrize("text, path, leaf", [
    ('registry.nacos.password = "x"', "registry.nacos.password", Leaf("x", 1)),
    ('registry {\n  nacos.password = x\n}', "registry.nacos.password", Leaf("x", 2)),
    ('"registry" { type = nacos }', "registry.type", Leaf("nacos", None)),
    ("registry.nacos.password = ${NACOS_PASSWORD}", "registry.nacos.password", Leaf(None, 1, "NACOS_PASSWORD")),
    ("registry.nacos.username = ${?NACOS_USER}", "registry.nacos.username", Leaf(None, 1, "NACOS_USER", True)),
    ('registry.nacos.serverAddr = "nacos:"${PORT}', "registry.nacos.serverAddr", Leaf(None, 1)),   # not one ${}
    ("registry.nacos.password = 123456", "registry.nacos.password", Leaf("123456", 1)),
    ("registry.nacos.password = 10s", "registry.nacos.password", Leaf(None, 1)),   # pyhocon reads a duration
    ("registry.nacos.password = null", "registry.nacos.password", Leaf(None, 1)),
    ("a = 1\na = 2", "a", Leaf("2", 2)),                                            # the last one wins
])
def test_leaves(text, path, leaf):
    assert seata.parse_hocon(text)[path] == leaf


@pytest.mark.parametrize("text, problem, fails_start", [
    ("registry {\n  type = nacos\n", "not HOCON typesafe config can parse", True),
    ("registry {\n  type = nacos\n  nacos { serverAddr = [ }\n}\n", "not HOCON typesafe config can parse (line 3)",
     True),
    ("[1, 2]", "not a HOCON object (a list at the top)", True),
    ('include "common.conf"\nregistry { type = nacos }', "the word include (line 1)", False),
    ('registry {\n  include url("http://169.254.169.254/latest")\n}', "the word include (line 2)", False),
    ("x = 1\n" + 'INCLUDE file("/etc/passwd")', "the word include (line 2)", False),
    ('\u0131nclude file("/etc/passwd")', "the word include (line 1)", False),   # str.upper() makes it INCLUDE
    ('include required(package("os:x"))', "the word include (line 1)", False),
    ("a {" * 17 + "}" * 17, "nested deeper than 16 levels", False),
    ("a = " + "x" * 9000, "larger than 8,192 characters", False),
])
def test_problems(text, problem, fails_start):
    found = seata.parse_hocon(text)
    assert isinstance(found, ConfigProblem) and found.problem.startswith(problem), found
    assert found.fails_start is fails_start


def test_problems_never_quote_the_input():
    marker = "CANARY-hocon-7731"
    for text in (f'registry {{ password = "{marker}"\n', f"{marker} {{ [", f'include "{marker}"',
                 f"a = {marker}" * 2000, "{" * 40 + marker):
        found = seata.parse_hocon(text)
        assert isinstance(found, ConfigProblem)
        assert marker not in f"{found.problem} {found.impact} {found.fix}"


# --- hostile input: pyhocon itself never reaches outside the text -------------------------------------------------

def test_pyhocon_never_follows_an_include_even_past_the_word_check(tmp_path, monkeypatch):
    """The raw parser (what parse_hocon calls once the text has no `include`) cut off from files, globs, URLs
    and packages: a include it meets is refused, nothing is read, nothing is fetched."""
    import socket
    import urllib.request

    secret_file = tmp_path / "secret.conf"
    secret_file.write_text('registry.nacos.password = "CANARY-included"\n')

    def no_network(*args, **kwargs):
        raise AssertionError("network access")
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    for directive in (f'include "{secret_file}"', f'include file("{secret_file}")', f'include "{tmp_path}/*.conf"',
                      f'include "{tmp_path}/**"', 'include url("http://127.0.0.1:9/x.conf")',
                      'include "https://example.com/x.conf"', 'include package("os:x.conf")',
                      f'include required(file("{secret_file}"))', f'a {{ include file("{secret_file}") }}'):
        seata._parse.cache_clear()
        found = seata._parse(directive + "\nregistry.type = nacos\n")
        assert isinstance(found, ConfigProblem) and not found.fails_start, directive
        assert "CANARY" not in repr(found)


def test_no_substitution_reads_this_process_env(monkeypatch):
    monkeypatch.setenv("NAG_LINTER_ENV", "CANARY-linter-env")
    monkeypatch.setenv("HOSTNAME", "CANARY-linter-host")
    found = seata.parse_hocon("registry.nacos.password = ${NAG_LINTER_ENV}\nregistry.nacos.serverAddr = "
                              "${HOSTNAME}\":8848\"\nregistry.nacos.username = ${?HOSTNAME}\n")
    assert "CANARY" not in repr(found)
    assert found["registry.nacos.password"] == Leaf(None, 1, "NAG_LINTER_ENV")
    assert found["registry.nacos.serverAddr"].value is None


@pytest.mark.parametrize("text", [
    "a{" * 10_000 + "}" * 10_000,                      # 10,000 levels
    "a = " + "[" * 10_000 + "]" * 10_000,
    "registry { type = nacos }\n" * 400_000,           # 10 MB
    "a = [" + "1," * 4_000 + "]",                      # under the size cap: pyparsing's slowest shape per byte
    "a = " + "{}" * 4_000,
    "{" * 16 + "a = [" + "[1]," * 1_500 + "]" + "}" * 16,
])
def test_hostile_shapes_cost_a_bounded_time(text):
    seata._parse.cache_clear()
    started = time.perf_counter()
    found = seata.parse_hocon(text)
    assert isinstance(found, (dict, ConfigProblem))
    assert time.perf_counter() - started < 8   # 8 kB of the slowest shape: about 2 s on a 2-core VM


hocon_text = st.lists(st.sampled_from(list('{}[]=:,."\\$?#/ \n\tabnrx0129') + ["${", '"""', "include", "registry",
                                                                              "nacos", "type", "password"]),
                      max_size=60).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hocon_text)
def test_any_text_is_leaves_or_a_problem(text):
    found = seata.parse_hocon(text)
    if isinstance(found, ConfigProblem):
        assert isinstance(found.problem, str) and isinstance(found.fails_start, bool)
    else:
        assert all(isinstance(k, str) and isinstance(v, Leaf) for k, v in found.items())


# --- a Seata workload as a client of its Nacos: the checks on what its registry file says --------------------------

from datetime import datetime, timezone   # noqa: E402

from nacos_auth_guard.checks import CheckContext, run_checks   # noqa: E402
from nacos_auth_guard.snapshot import build_snapshot   # noqa: E402
from support.objects import config_map, deployment, env, healthy_cluster, secret, secret_env   # noqa: E402

NOW = datetime(2026, 12, 3, tzinfo=timezone.utc)
SERVER = "nacos-headless.shop.svc.cluster.local:8848"   # healthy_cluster's auth-enabled 2.x StatefulSet


def registry_conf(login: str = "", config_login: str | None = None, server: str = SERVER,
                  config_type: str = "nacos") -> str:
    config_login = login if config_login is None else config_login
    return (f'registry {{\n  type = "nacos"\n  nacos {{\n    serverAddr = "{server}"\n    namespace = ""\n'
            f'    cluster = "default"\n{login}  }}\n}}\nconfig {{\n  type = "{config_type}"\n  nacos {{\n'
            f'    serverAddr = "{server}"\n{config_login}  }}\n}}\n')


def seata_server(files: dict[str, str] | None, env_list=(), image: str = "seataio/seata-server:1.4.2",
                 mount: str = "/seata-server/resources", **kwargs) -> list[dict]:
    """A Seata Deployment; `files` (None: no volume) in ConfigMap seata-conf mounted at `mount`."""
    if files is None:
        return [deployment("seata", list(env_list), image=image)]
    workload = deployment("seata", list(env_list), image=image,
                          volumes=[{"name": "conf", "configMap": {"name": "seata-conf"}}])
    workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "conf", "mountPath": mount}]
    return [workload, config_map("seata-conf", files)]


def findings(objects: list[dict]) -> list[tuple[str, str, str]]:
    snapshot = build_snapshot(healthy_cluster() + objects, complete=True, errors=[])
    return sorted((f.code, str(f.obj), str(f.severity)) for f in run_checks(CheckContext.build(snapshot, NOW))
                  if f.obj.name == "seata")


def messages(objects: list[dict]) -> dict[str, str]:
    snapshot = build_snapshot(healthy_cluster() + objects, complete=True, errors=[])
    return {f.code: f.message for f in run_checks(CheckContext.build(snapshot, NOW)) if f.obj.name == "seata"}


LITERAL = '    username = "seata"\n    password = "s3ata-pw"\n'
DEFAULT_ADMIN = '    username = "nacos"\n    password = "nacos"\n'
FROM_ENV = "    username = ${NACOS_USER}\n    password = ${NACOS_PASSWORD}\n"
SEATA_SECRET = secret("seata-nacos", {"username": "seata", "password": "s3ata-pw"})
SECRET_ENV = [secret_env("NACOS_USER", "seata-nacos", "username"), secret_env("NACOS_PASSWORD", "seata-nacos",
                                                                               "password")]
D, W, E = "Deployment/shop/seata", "warning", "error"


@pytest.mark.parametrize("objects, expected", [
    # registry.conf (Seata up to 1.4) mounted where the seataio image reads it
    (seata_server({"registry.conf": registry_conf()}), [("NAG401", D, E)]),
    (seata_server({"registry.conf": registry_conf(LITERAL)}), [("NAG105", D, W)]),
    (seata_server({"registry.conf": registry_conf(DEFAULT_ADMIN)}), [("NAG105", D, W), ("NAG403", D, W)]),
    (seata_server({"registry.conf": registry_conf(FROM_ENV)}, SECRET_ENV) + [SEATA_SECRET], []),
    (seata_server({"registry.conf": registry_conf(FROM_ENV)}, SECRET_ENV), [("NAG101", D, E)]),
    # the config block logs in, the registry block does not: its registrations fail
    (seata_server({"registry.conf": registry_conf("", LITERAL)}), [("NAG401", D, E)]),
    (seata_server({"registry.conf": registry_conf(LITERAL, "", config_type="file")}), [("NAG105", D, W)]),
    # a username without a password sends no login (NacosRegistryServiceImpl.java:196-204@v1.4.2)
    (seata_server({"registry.conf": registry_conf('    username = "seata"\n')}), [("NAG401", D, E)]),
    # -D of the key's own name, and the bare -Dpassword, win over the file
    (seata_server({"registry.conf": registry_conf('    username = "seata"\n')},
                  [env("JAVA_OPTS", "-Dregistry.nacos.password=x -Dconfig.nacos.password=y")]), [("NAG105", D, W)]),
    (seata_server({"registry.conf": registry_conf('    username = "seata"\n')}, [env("JAVA_OPTS", "-Dpassword=x")]),
     [("NAG105", D, W)]),
    # SEATA_CONFIG_NAME / SEATA_ENV choose the file
    (seata_server({"registry.conf": registry_conf(LITERAL), "other.conf": registry_conf()},
                  [env("SEATA_CONFIG_NAME", "file:/root/seata-config/other")], mount="/root/seata-config"),
     [("NAG401", D, E)]),
    (seata_server({"registry.conf": registry_conf(), "registry-prod.conf": registry_conf(LITERAL)},
                  [env("SEATA_ENV", "prod")]), [("NAG105", D, W)]),
    (seata_server({"file.conf": registry_conf()}), []),                  # not the registry file: not read
    # a file Seata cannot parse stops it at start; one this tool does not read is a warning
    (seata_server({"registry.conf": "registry {\n  type = nacos\n"}), [("NAG106", D, E)]),
    (seata_server({"registry.conf": 'include "base.conf"\n' + registry_conf()}), [("NAG106", D, W)]),
    (seata_server({"registry.conf": "registry {" * 20 + "}" * 20}), [("NAG106", D, W)]),
    (seata_server(None), []),                                             # no registry file: not a Nacos client
    # Seata 1.5+ (Spring Boot): seata.registry.* properties; registry.conf is not read
    (seata_server({"registry.conf": registry_conf()}, image="seataio/seata-server:1.5.2"), []),
    (seata_server(None, [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)],
                  image="seataio/seata-server:1.5.2"), [("NAG401", D, E)]),
    (seata_server(None, [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER),
                         *SECRET_ENV[:0], secret_env("SEATA_REGISTRY_NACOS_USERNAME", "seata-nacos", "username"),
                         secret_env("SEATA_REGISTRY_NACOS_PASSWORD", "seata-nacos", "password")],
                  image="seataio/seata-server:1.5.2") + [SEATA_SECRET], []),
    (seata_server({"application.yml": f"seata:\n  registry:\n    type: nacos\n    nacos:\n      server-addr: {SERVER}\n"
                                      "      username: seata\n      password: s3ata-pw\n"},
                  image="seataio/seata-server:1.8.0"), [("NAG105", D, W)]),
    (seata_server(None, [env("SEATA_REGISTRY_TYPE", "nacos")], image="seataio/seata-server:1.5.2"),
     [("NAG402", D, "info")]),                                            # the default localhost:8848
    # from 1.6.1 a login the Spring properties leave unset (null) comes from registry.conf (seata.file_fallback);
    # up to 1.6.0 it defaults to "" and the file is not asked
    (seata_server({"registry.conf": registry_conf(LITERAL)},
                  [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)],
                  image="seataio/seata-server:1.8.0"), [("NAG105", D, W)]),
    (seata_server({"registry.conf": registry_conf(LITERAL)},
                  [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)],
                  image="seataio/seata-server:1.6.0"), [("NAG401", D, E)]),
    (seata_server({"registry.conf": registry_conf(LITERAL)},
                  [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER),
                   env("SEATA_REGISTRY_NACOS_USERNAME", "seata"), env("SEATA_REGISTRY_NACOS_PASSWORD", "x")],
                  image="seataio/seata-server:1.8.0"), [("NAG105", D, W)]),   # Spring's own wins over the file
])
def test_seata_findings(objects, expected):
    assert findings(objects) == sorted(expected)


def test_messages_name_the_configmap_key_and_line_never_the_value():
    found = messages(seata_server({"registry.conf": registry_conf(DEFAULT_ADMIN)}))
    where = ("registry.nacos.password (line 8) and config.nacos.password (line 16) in "
             "/seata-server/resources/registry.conf (ConfigMap seata-conf key 'registry.conf') in container app")
    assert where in found["NAG105"] and where in found["NAG403"]
    found = messages(seata_server({"registry.conf": registry_conf(LITERAL)}))
    assert "s3ata-pw" not in " ".join(found.values())
    broken = messages(seata_server({"registry.conf": 'registry {\n  nacos { password = "s3ata-pw" \n'}))["NAG106"]
    assert "s3ata-pw" not in broken and "stops at start-up" in broken


def test_a_placeholder_resolves_from_the_container_env_only(monkeypatch):
    monkeypatch.setenv("NACOS_PASSWORD", "from-the-linter")   # this process's env is never read
    found = findings(seata_server({"registry.conf": registry_conf('    username = "seata"\n    password = '
                                                                 '${NACOS_PASSWORD}\n')}))
    assert found == []   # not set in the pod spec: unknown (the image may set it), not missing and not a literal
    found = findings(seata_server({"registry.conf": registry_conf('    username = "seata"\n    password = '
                                                                 '${NACOS_PASSWORD}\n')},
                                  [env("NACOS_PASSWORD", "in-the-pod-spec")]))
    assert found == [("NAG105", D, W)]


# --- lint on the real Seata manifest (../shared/corpus/real, see tests/test_corpus_real.py's docstring) -----------

import json   # noqa: E402
from pathlib import Path   # noqa: E402

from nacos_auth_guard.cli import main   # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
MOOODO_FILES = ["mooodo__edev-alibaba-trade__seata.yaml", "mooodo__edev-alibaba-trade__nacos.yaml",
                "mooodo__edev-alibaba-trade__nacos-cluster.yaml"]
NEEDS_CORPUS = pytest.mark.skipif(not (CORPUS / MOOODO_FILES[0]).is_file(), reason=f"no corpus at {CORPUS}")
MOOODO_WHERE = ("registry.nacos.password (line 11) and config.nacos.password (line 22) in "
                "/usr/local/seata/conf/registry.conf (ConfigMap seata-server-config key 'registry.conf') "
                "in container seata")


@NEEDS_CORPUS
@pytest.mark.parametrize("files, expected", [
    (MOOODO_FILES[:1], [("NAG105", "warning", 46), ("NAG402", "info", 46)]),   # alone: nacos:8848 is not in it
    (MOOODO_FILES, [("NAG105", "warning", 46)]),                              # with its Nacos: auth off
])
def test_lint_on_the_mooodo_seata_manifest(capsys, files, expected):
    assert main(["lint", "-o", "json", *(str(CORPUS / name) for name in files)]) == 0
    report = json.loads(capsys.readouterr().out)
    seata_findings = [f for f in report["findings"] if f["object"]["name"] == "seata"]
    assert sorted((f["code"], f["severity"], f["line"]) for f in seata_findings) == expected
    assert all(Path(f["file"]).name == MOOODO_FILES[0] for f in seata_findings)
    [plaintext] = [f for f in seata_findings if f["code"] == "NAG105"]
    assert MOOODO_WHERE in plaintext["message"] and "nacos\"" not in plaintext["message"]


def test_the_operator_check_of_the_server_counts_the_seata_client_and_watches_its_configmap():
    """The operator's evaluation (evaluation.evaluate, what each NacosAuthCheck runs): the Seata Deployment is a
    client of the check's server, its finding is in the check, and its ConfigMap is a dependency (a change to it
    re-evaluates the check)."""
    from nacos_auth_guard.evaluation import evaluate, parse_spec
    check = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
             "metadata": {"name": "nacos", "namespace": "shop"}, "spec": {"server": {"statefulSetName": "nacos"}}}
    snapshot = build_snapshot(healthy_cluster() + seata_server({"registry.conf": registry_conf()}), complete=True)
    result = evaluate(parse_spec(check), snapshot, NOW)
    assert [(f.code, str(f.obj)) for f in result.findings if f.obj.name == "seata"] == [("NAG401", D)]
    assert result.clients == 2 and ("ConfigMap", "shop", "seata-conf") in result.dependencies


SCA_LOGIN = [env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", SERVER),
             secret_env("SPRING_CLOUD_NACOS_USERNAME", "orders-nacos", "username"),
             secret_env("SPRING_CLOUD_NACOS_PASSWORD", "orders-nacos", "password")]
SEATA_REGISTRY = [env("SEATA_REGISTRY_TYPE", "nacos"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)]


@pytest.mark.parametrize("env_list, expected", [
    # a Spring Cloud Alibaba app that is a Seata client too: Seata's Nacos client sends only seata.*.nacos.* logins
    (SCA_LOGIN + SEATA_REGISTRY, [("NAG405", "Deployment/shop/seata", E)]),
    (SCA_LOGIN + SEATA_REGISTRY + [secret_env("SEATA_REGISTRY_NACOS_USERNAME", "orders-nacos", "username")],
     [("NAG405", "Deployment/shop/seata", E)]),   # a username alone sends no login
    (SCA_LOGIN + SEATA_REGISTRY + [secret_env("SEATA_REGISTRY_NACOS_USERNAME", "orders-nacos", "username"),
                                   secret_env("SEATA_REGISTRY_NACOS_PASSWORD", "orders-nacos", "password")], []),
    # Seata's registry elsewhere (the default localhost:8848, or type file): not this server's business
    (SCA_LOGIN + [env("SEATA_REGISTRY_TYPE", "nacos")], []),
    (SCA_LOGIN + [env("SEATA_REGISTRY_TYPE", "file"), env("SEATA_REGISTRY_NACOS_SERVER_ADDR", SERVER)], []),
    # the app sends no login at all: one NAG401 says so
    (SCA_LOGIN[:1] + SEATA_REGISTRY, [("NAG401", "Deployment/shop/seata", E)]),
])
def test_seata_client_in_a_spring_cloud_alibaba_app(env_list, expected):
    app = deployment("seata", env_list)
    assert findings([app]) == sorted(expected)
    if expected and expected[0][0] == "NAG405":
        message = messages([app])["NAG405"]
        assert "its Seata registry of type nacos" in message and "SEATA_REGISTRY_NACOS_PASSWORD" in message
        assert "env SEATA_REGISTRY_NACOS_SERVER_ADDR" in message
