"""Seata as a Nacos client (seata.py): which registry file Seata reads, its HOCON read without ever following an
include or reading this process's env, and the bounds that keep hostile input cheap. The facts are Seata's
(apache/incubator-seata at v1.4.2 and v1.5.2; seata.py cites file and line)."""
from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacos_auth_guard import seata
from nacos_auth_guard.seata import HoconProblem, Leaf

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
    assert isinstance(found, HoconProblem) and found.problem.startswith(problem), found
    assert found.fails_start is fails_start


def test_problems_never_quote_the_input():
    marker = "CANARY-hocon-7731"
    for text in (f'registry {{ password = "{marker}"\n', f"{marker} {{ [", f'include "{marker}"',
                 f"a = {marker}" * 2000, "{" * 40 + marker):
        found = seata.parse_hocon(text)
        assert isinstance(found, HoconProblem)
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
        assert isinstance(found, HoconProblem) and not found.fails_start, directive
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
    assert isinstance(found, (dict, HoconProblem))
    assert time.perf_counter() - started < 8   # 8 kB of the slowest shape: about 2 s on a 2-core VM


hocon_text = st.lists(st.sampled_from(list('{}[]=:,."\\$?#/ \n\tabnrx0129') + ["${", '"""', "include", "registry",
                                                                              "nacos", "type", "password"]),
                      max_size=60).map("".join)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(hocon_text)
def test_any_text_is_leaves_or_a_problem(text):
    found = seata.parse_hocon(text)
    if isinstance(found, HoconProblem):
        assert isinstance(found.problem, str) and isinstance(found.fails_start, bool)
    else:
        assert all(isinstance(k, str) and isinstance(v, Leaf) for k, v in found.items())
