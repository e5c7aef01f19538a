"""Where each setting's value comes from: table-driven over every source and the Spring precedence."""
from __future__ import annotations

import pytest

from nacos_auth_guard.model import ObjectRef, Origin, State
from nacos_auth_guard.snapshot import build_snapshot
from nacos_auth_guard.model import ConfigProblem
from nacos_auth_guard.sources import parse_config, pod_config
from support.objects import IMAGE, config_map, env, secret, secret_env

CONF = "/home/nacos/conf/application.properties"


def resolve(containers: list[dict], objects: list[dict] = (), *, server: bool = True, complete: bool = True,
            volumes: list[dict] = (), annotations: dict | None = None) -> dict:
    snapshot = build_snapshot(list(objects), complete=complete, default_namespace="shop")
    metadata = {"name": "x", "annotations": annotations or {}}
    config = pod_config(ObjectRef("StatefulSet", "shop", "x"), metadata,
                        {"containers": containers, "volumes": list(volumes)}, snapshot, server=server)
    return config.containers[0].settings


def nacos(env_list=(), **extra) -> dict:
    return {"name": "nacos", "image": extra.pop("image", IMAGE), "env": list(env_list), **extra}


def app(env_list=(), **extra) -> dict:
    return {"name": "app", "image": "shop/orders:1", "env": list(env_list), **extra}


AUTH_SECRET = secret("auth", {"token": "s3cr3t-token-key", "pw": "p4ss"})
BINARY = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "bin", "namespace": "shop"},
          "data": {"token": "//79/A=="}}
ENVFROM_SECRET = secret("bulk", {"AUTH_TOKEN": "from-envfrom"})
PROPS = config_map("nacos-conf", {"application.properties":
                                  "nacos.core.auth.enabled=true\n"
                                  "nacos.core.auth.plugin.nacos.token.secret.key=${MY_KEY:}\n"
                                  "nacos.core.auth.server.identity.key=peer\n"})
SUBPATH_MOUNT = {"volumeMounts": [{"name": "conf", "mountPath": CONF, "subPath": "application.properties"}]}
CONF_VOLUME = [{"name": "conf", "configMap": {"name": "nacos-conf"}}]

SERVER_CASES = [
    # (id, containers, objects, volumes, complete, setting, expected (value, state, origin))
    ("env literal", [nacos([env("NACOS_AUTH_ENABLE", "true")])], [], [], True,
     "auth_enabled", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("image default when unset", [nacos()], [], [], True,
     "auth_enabled", ("false", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("an unset token key reads as empty from the image's placeholder", [nacos()], [], [], True,
     "token_key", ("", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("secretKeyRef", [nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "token")])], [AUTH_SECRET], [], True,
     "token_key", ("s3cr3t-token-key", State.KNOWN, Origin.SECRET)),
    ("secret not in input is unknown", [nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "token")])], [], [], False,
     "token_key", (None, State.UNKNOWN, Origin.SECRET)),
    ("secret missing from cluster", [nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "token")])], [], [], True,
     "token_key", (None, State.MISSING_OBJECT, Origin.SECRET)),
    ("secret key missing", [nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "tokn")])], [AUTH_SECRET], [], True,
     "token_key", (None, State.MISSING_KEY, Origin.SECRET)),
    ("non-UTF-8 secret value", [nacos([secret_env("NACOS_AUTH_TOKEN", "bin", "token")])], [BINARY], [], True,
     "token_key", (None, State.UNREADABLE, Origin.SECRET)),
    ("configMapKeyRef", [nacos([{"name": "NACOS_AUTH_TOKEN", "valueFrom": {"configMapKeyRef": {
        "name": "cm", "key": "k"}}}])], [config_map("cm", {"k": "cm-value"})], [], True,
     "token_key", ("cm-value", State.KNOWN, Origin.CONFIG_MAP)),
    ("envFrom with prefix", [nacos(envFrom=[{"prefix": "NACOS_", "secretRef": {"name": "bulk"}}])],
     [ENVFROM_SECRET], [], True, "token_key", ("from-envfrom", State.KNOWN, Origin.SECRET)),
    ("envFrom not in input makes unset settings unknown", [nacos(envFrom=[{"secretRef": {"name": "bulk"}}])],
     [], [], False, "token_key", (None, State.UNKNOWN, Origin.POD_SPEC)),
    ("relaxed env beats the image's files", [nacos([env("NACOS_CORE_AUTH_ENABLED", "true")])], [], [], True,
     "auth_enabled", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("NACOS_AUTH_ENABLE is a -D flag from docker-startup.sh: it beats relaxed env",
     [nacos([env("NACOS_AUTH_ENABLE", "false"), env("NACOS_CORE_AUTH_ENABLED", "true")])], [], [], True,
     "auth_enabled", ("false", State.KNOWN, Origin.POD_SPEC)),
    ("NACOS_AUTH_ENABLE beats a mounted application.properties",
     [nacos([env("NACOS_AUTH_ENABLE", "false")], **SUBPATH_MOUNT)], [PROPS], CONF_VOLUME, True,
     "auth_enabled", ("false", State.KNOWN, Origin.POD_SPEC)),
    ("an empty NACOS_AUTH_ENABLE is skipped by the script", [nacos([env("NACOS_AUTH_ENABLE", "")], **SUBPATH_MOUNT)],
     [PROPS], CONF_VOLUME, True, "auth_enabled", ("true", State.KNOWN, Origin.CONFIG_MAP)),
    ("NACOS_AUTH_CONSOLE_ENABLE is a -D flag from v3.0.1", [nacos([env("NACOS_AUTH_CONSOLE_ENABLE", "false")],
                                                             image="nacos/nacos-server:v3.0.1")], [], [], True,
     "console_auth_enabled", ("false", State.KNOWN, Origin.POD_SPEC)),
    ("3.x console auth defaults to on", [nacos(image="nacos/nacos-server:v3.2.3")], [], [], True,
     "console_auth_enabled", ("true", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("MODE=standalone becomes -Dnacos.standalone=true", [nacos([env("MODE", "standalone")])], [], [], True,
     "standalone", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("-D in JAVA_OPT beats env",
     [nacos([env("NACOS_CORE_AUTH_ENABLED", "false"), env("JAVA_OPT", "-Xmx1g -Dnacos.core.auth.enabled=true")])],
     [], [], True, "auth_enabled", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("--arg beats -D (own command)",
     [nacos([env("JAVA_OPTS", "-Dnacos.core.auth.enabled=true")], command=["sh", "-c", "exec java $JAVA_OPTS -jar "
                                                                          "/home/nacos/target/nacos-server.jar"],
            args=["--nacos.core.auth.enabled=false"])],
     [], [], True, "auth_enabled", ("false", State.KNOWN, Origin.POD_SPEC)),
    ("-D in JAVA_OPT_EXT is a program argument after -jar: ignored",
     [nacos([env("JAVA_OPT_EXT", "-Dnacos.core.auth.enabled=true")])], [], [], True,
     "auth_enabled", ("false", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("--key=value in JAVA_OPT_EXT counts", [nacos([env("JAVA_OPT_EXT", "--nacos.core.auth.enabled=true")])], [], [],
     True, "auth_enabled", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("container args are ignored by the image's startup script",
     [nacos(args=["--nacos.core.auth.enabled=true"])], [], [], True,
     "auth_enabled", ("false", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("JAVA_OPTS is not read by the image", [nacos([env("JAVA_OPTS", "-Dnacos.core.auth.enabled=true")])], [], [],
     True, "auth_enabled", ("false", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("-D inside sh -c",
     [nacos(command=["sh", "-c", "exec java -Dnacos.core.auth.enabled=true -jar nacos-server.jar"])],
     [], [], True, "auth_enabled", ("true", State.KNOWN, Origin.POD_SPEC)),
    ("mounted file replaces the image's file", [nacos([env("NACOS_AUTH_IDENTITY_KEY", "ignored")], **SUBPATH_MOUNT)],
     [PROPS], CONF_VOLUME, True, "identity_key", ("peer", State.KNOWN, Origin.CONFIG_MAP)),
    ("the jar's defaults fill in what a mounted file leaves out (old image: published identity)",
     [nacos(image="nacos/nacos-server:v2.0.4", **SUBPATH_MOUNT)], [PROPS], CONF_VOLUME, True,
     "identity_value", ("security", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("placeholder in a mounted file resolves env from a Secret",
     [nacos([secret_env("MY_KEY", "auth", "token"), env("NACOS_AUTH_TOKEN", "ignored")], **SUBPATH_MOUNT)],
     [PROPS, AUTH_SECRET], CONF_VOLUME, True, "token_key", ("s3cr3t-token-key", State.KNOWN, Origin.SECRET)),
    ("placeholder default applies when the env is unset", [nacos(**SUBPATH_MOUNT)], [PROPS], CONF_VOLUME, True,
     "token_key", ("", State.KNOWN, Origin.CONFIG_MAP)),
    ("mounted file not in input: settings unknown", [nacos(**SUBPATH_MOUNT)], [], CONF_VOLUME, False,
     "auth_enabled", (None, State.UNKNOWN, Origin.POD_SPEC)),
    ("projected volume with items", [nacos(volumeMounts=[{"name": "p", "mountPath": "/home/nacos/conf"}])],
     [config_map("raw", {"server.props": "nacos.core.auth.enabled=true\n"})],
     [{"name": "p", "projected": {"sources": [{"configMap": {"name": "raw", "items": [
         {"key": "server.props", "path": "application.properties"}]}}]}}], True,
     "auth_enabled", ("true", State.KNOWN, Origin.CONFIG_MAP)),
    ("secret volume file", [nacos(volumeMounts=[{"name": "s", "mountPath": "/home/nacos/conf"}])],
     [secret("sconf", {"application.properties": "nacos.core.auth.plugin.nacos.token.secret.key=abc\n"})],
     [{"name": "s", "secret": {"secretName": "sconf"}}], True,
     "token_key", ("abc", State.KNOWN, Origin.SECRET)),
    ("old image defaults to the published key", [nacos(image="nacos/nacos-server:v2.0.3")], [], [], True,
     "token_key", ("SecretKey012345678901234567890123456789012345678901234567890123456789", State.KNOWN,
                   Origin.IMAGE_DEFAULT)),
    ("v2.2.0.1 image still defaults to the published key", [nacos(image="nacos/nacos-server:v2.2.0.1")], [], [],
     True, "token_key", ("SecretKey012345678901234567890123456789012345678901234567890123456789", State.KNOWN,
                         Origin.IMAGE_DEFAULT)),
    ("v2.1.0 image: NACOS_AUTH_TOKEN fills the old name, the server reads the jar's key (alibaba/nacos#9830)",
     [nacos([env("NACOS_AUTH_TOKEN", "bXktb3duLWtleS1teS1vd24ta2V5LW15LW93bi1rZXk=")],
            image="nacos/nacos-server:v2.1.0")], [], [], True,
     "token_key", ("SecretKey012345678901234567890123456789012345678901234567890123456789", State.KNOWN,
                   Origin.IMAGE_DEFAULT)),
    ("2.1.0+ no longer reads the old property name",
     [nacos([env("JAVA_OPT", "-Dnacos.core.auth.default.token.secret.key=old-name")])], [], [], True,
     "token_key", ("", State.KNOWN, Origin.IMAGE_DEFAULT)),
    ("old image reads the old property name",
     [nacos([env("JAVA_OPT", "-Dnacos.core.auth.default.token.secret.key=old-name")],
            image="nacos/nacos-server:1.4.6")], [], [], True, "token_key", ("old-name", State.KNOWN, Origin.POD_SPEC)),
    ("spring.config.additional-location names another file (own command)",
     [nacos([env("SPRING_CONFIG_ADDITIONAL_LOCATION", "file:/etc/nacos/extra.properties")],
            command=["java", "-jar", "/home/nacos/target/nacos-server.jar"],
            volumeMounts=[{"name": "x", "mountPath": "/etc/nacos"}])],
     [config_map("extra", {"extra.properties": "nacos.core.auth.enable.userAgentAuthWhite=true\n"})],
     [{"name": "x", "configMap": {"name": "extra"}}], True,
     "user_agent_white", ("true", State.KNOWN, Origin.CONFIG_MAP)),
]


@pytest.mark.parametrize("containers,objects,volumes,complete,setting,expected",
                         [case[1:] for case in SERVER_CASES], ids=[case[0] for case in SERVER_CASES])
def test_server_setting_sources(containers, objects, volumes, complete, setting, expected):
    found = resolve(containers, objects, volumes=volumes, complete=complete)[setting]
    assert (found.value, found.state, found.origin) == expected
    assert found.where  # every setting says where it came from


BOOTSTRAP = config_map("app-conf", {"bootstrap.yml": (
    "spring:\n  cloud:\n    nacos:\n      config:\n        server-addr: nacos-headless:8848\n"
    "        username: ${NACOS_USER}\n        password: ${NACOS_PASS:}\n")})

CLIENT_CASES = [
    ("spring env", [app([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", "nacos:8848")])], [], [], None,
     "serverAddr", ("nacos:8848", State.KNOWN)),
    ("spring env with underscored dash", [app([env("SPRING_CLOUD_NACOS_DISCOVERY_SERVER_ADDR", "n:8848")])], [],
     [], None, "serverAddr", ("n:8848", State.KNOWN)),
    ("common env name", [app([secret_env("NACOS_PASSWORD", "auth", "pw")])], [AUTH_SECRET], [], None,
     "password", ("p4ss", State.KNOWN)),
    ("-D system property", [app([env("JAVA_TOOL_OPTIONS", "-Dspring.cloud.nacos.username=orders")])], [], [],
     None, "username", ("orders", State.KNOWN)),
    ("bootstrap.yml from a ConfigMap", [app(volumeMounts=[{"name": "c", "mountPath": "/app/config"}])],
     [BOOTSTRAP], [{"name": "c", "configMap": {"name": "app-conf"}}], None,
     "serverAddr", ("nacos-headless:8848", State.KNOWN)),
    ("yml placeholder resolves env from a Secret",
     [app([secret_env("NACOS_PASS", "auth", "pw")], volumeMounts=[{"name": "c", "mountPath": "/app/config"}])],
     [BOOTSTRAP, AUTH_SECRET], [{"name": "c", "configMap": {"name": "app-conf"}}], None,
     "password", ("p4ss", State.KNOWN)),
    ("yml placeholder without default and unset", [app(volumeMounts=[{"name": "c", "mountPath": "/app/config"}])],
     [BOOTSTRAP], [{"name": "c", "configMap": {"name": "app-conf"}}], None, "username", (None, State.UNKNOWN)),
    ("annotation maps a custom env name", [app([env("REGISTRY_ADDR", "nacos:8848")])], [], [],
     {"nacosguard.io/client-env": "serverAddr=REGISTRY_ADDR"}, "serverAddr", ("nacos:8848", State.KNOWN)),
    ("properties file, camelCase key", [app(volumeMounts=[{"name": "c", "mountPath": "/cfg"}],
                                            args=["--spring.config.location=/cfg/app.properties"])],
     [config_map("props", {"app.properties": "spring.cloud.nacos.config.serverAddr=nacos:8848\n"})],
     [{"name": "c", "configMap": {"name": "props"}}], None, "serverAddr", ("nacos:8848", State.KNOWN)),
    # Spring's other env forms (SystemEnvironmentPropertySource tries the name as given; SPRING_APPLICATION_JSON)
    ("dotted env name (mall-swarm)", [app([env("spring.cloud.nacos.discovery.server-addr", "http://n:8848")])],
     [], [], None, "serverAddr", ("http://n:8848", State.KNOWN)),
    ("dotted env name, camelCase", [app([env("spring.cloud.nacos.username", "orders")])], [], [], None,
     "username", ("orders", State.KNOWN)),
    ("dotted env name from a Secret", [app([secret_env("spring.cloud.nacos.password", "auth", "pw")])],
     [AUTH_SECRET], [], None, "password", ("p4ss", State.KNOWN)),
    ("SPRING_APPLICATION_JSON", [app([env("SPRING_APPLICATION_JSON",
                                          '{"spring": {"cloud": {"nacos": {"server-addr": "nacos:8848"}}}}')])],
     [], [], None, "serverAddr", ("nacos:8848", State.KNOWN)),
    ("SPRING_APPLICATION_JSON with dotted keys", [app([env("SPRING_APPLICATION_JSON",
                                                           '{"spring.cloud.nacos.username": "orders"}')])],
     [], [], None, "username", ("orders", State.KNOWN)),
    ("SPRING_APPLICATION_JSON over env", [app([env("SPRING_CLOUD_NACOS_USERNAME", "env-user"), env(
        "SPRING_APPLICATION_JSON", '{"spring.cloud.nacos.username": "json-user"}')])], [], [], None,
     "username", ("json-user", State.KNOWN)),
    ("command-line args over SPRING_APPLICATION_JSON", [app([env(
        "SPRING_APPLICATION_JSON", '{"spring.cloud.nacos.username": "json-user"}')],
        args=["--spring.cloud.nacos.username=arg-user"])], [], [], None, "username", ("arg-user", State.KNOWN)),
    ("-Dspring.application.json", [app([env("JAVA_TOOL_OPTIONS",
                                            "-Dspring.application.json='{\"nacos.username\":\"orders\"}'")])],
     [], [], None, "username", ("orders", State.KNOWN)),
    ("SPRING_APPLICATION_JSON from a Secret not in the input", [app([
        env("SPRING_CLOUD_NACOS_USERNAME", "env-user"), secret_env("SPRING_APPLICATION_JSON", "app-json", "json")])],
     [], [], None, "username", (None, State.UNKNOWN)),
]


@pytest.mark.parametrize("containers,objects,volumes,annotations,setting,expected",
                         [case[1:] for case in CLIENT_CASES], ids=[case[0] for case in CLIENT_CASES])
def test_client_setting_sources(containers, objects, volumes, annotations, setting, expected):
    found = resolve(containers, objects, server=False, volumes=volumes, annotations=annotations)[setting]
    assert (found.value, found.state) == expected


def test_spring_application_json_that_is_not_json_is_no_setting():
    settings = resolve([app([env("SPRING_APPLICATION_JSON", "{not json"), env("NACOS_USERNAME", "u")])],
                       server=False)
    assert settings["username"].value == "u" and "serverAddr" not in settings


def test_spring_application_json_says_where_a_value_came_from():
    found = resolve([app([secret_env("SPRING_APPLICATION_JSON", "auth", "pw")])], [secret(
        "auth", {"pw": '{"spring": {"cloud": {"nacos": {"password": "p"}}}}'})], server=False)["password"]
    assert found.origin is Origin.SECRET and found.carrier == ObjectRef("Secret", "shop", "auth")
    assert found.where.startswith("spring.cloud.nacos.password in env SPRING_APPLICATION_JSON (Secret auth")


def test_unset_client_settings_are_absent():
    assert resolve([app([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", "nacos:8848")])], server=False).keys() == {
        "serverAddr"}


@pytest.mark.parametrize("name", ["SPRING_CLOUD_NACOS_ACCESS_TOKEN", "NACOS_ACCESS-TOKEN",
                                  "SPRING_CLOUD_NACOS_CONFIG_TOKEN"])
def test_no_client_property_is_a_static_token(name):
    """No client has a token property (PropertyKeyConst.java@3.0.3; Spring Cloud Alibaba, nacos-spring-boot): only
    an OpenAPI caller's env NACOS_ACCESS_TOKEN (or a name the annotation maps) is read as a static token."""
    settings = resolve([app([env("SPRING_CLOUD_NACOS_CONFIG_SERVER_ADDR", "nacos:8848"), env(name, "t0ken"),
                             env("JAVA_TOOL_OPTIONS", "-Dspring.cloud.nacos.access-token=t0ken "
                                                      "-Dnacos.access-token=t0ken")])], server=False)
    assert "accessToken" not in settings


@pytest.mark.parametrize("containers,server,setting,expected", [
    # The JVM reads JAVA_TOOL_OPTIONS (and JDK_JAVA_OPTIONS) before the command line, so the command line's -D wins.
    ([nacos([env("JAVA_OPT", "-Dnacos.core.auth.enabled=true"),
             env("JAVA_TOOL_OPTIONS", "-Dnacos.core.auth.enabled=false")])], True, "auth_enabled", "true"),
    ([app([env("JAVA_TOOL_OPTIONS", "-Dspring.cloud.nacos.username=from-tool"),
           env("JDK_JAVA_OPTIONS", "-Dspring.cloud.nacos.username=from-jdk")],
          command=["java", "-Dspring.cloud.nacos.username=from-command", "-jar", "app.jar"])],
     False, "username", "from-command"),
    ([app([env("JAVA_TOOL_OPTIONS", "-Dspring.cloud.nacos.username=from-tool"),
           env("JDK_JAVA_OPTIONS", "-Dspring.cloud.nacos.username=from-jdk")])], False, "username", "from-jdk"),
])
def test_command_line_beats_jvm_option_env(containers, server, setting, expected):
    assert resolve(containers, server=server)[setting].value == expected


def test_only_auth_relevant_references_are_recorded():
    containers = [nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "token"),
                         {"name": "MYSQL_SERVICE_PASSWORD", "valueFrom": {"configMapKeyRef": {
                             "name": "db", "key": "password"}}}])]
    snapshot = build_snapshot([AUTH_SECRET], complete=True, default_namespace="shop")
    config = pod_config(ObjectRef("StatefulSet", "shop", "x"), {"name": "x"}, {"containers": containers},
                        snapshot, server=True)
    assert [(r.kind, r.name, r.key) for r in config.references] == [("Secret", "auth", "token")]


@pytest.mark.parametrize("text,path,expected", [
    ("a.b=1\nc: two\n# comment\n", "x.properties", {"a.b": "1", "c": "two"}),
    ("a:\n  b: 1\n  c: [x, y]\n", "x.yml", {"a.b": "1", "a.c[0]": "x", "a.c[1]": "y"}),
    ("---\na: 1\n---\nb: true\n", "x.yaml", {"a": "1", "b": "true"}),
    ("path=C:\\\\users\nu=\\u0041\n# C:\\users in a comment\nnext=\\\n  \\u0042\n", "x.properties",
     {"path": "C:\\users", "u": "A", "next": "B"}),   # escaped backslashes, comments and joined lines are fine
    ("a: ~\nb: [~, ~]\n", "x.yml", {}),
])
def test_parse_config(text, path, expected):
    assert parse_config(text, path) == expected


@pytest.mark.parametrize("text,path,problem", [
    ("a: [unclosed SECRET\n", "x.yaml", "invalid YAML (line 2): did not find expected ',' or ']'"),
    ("ok: 1\npassword: !!bool SECRET\n", "x.yml", "line 2"),                    # a constructor's KeyError
    ("when: !!timestamp 2026-13-45\n", "x.yml", "!!timestamp"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", "x.yml", "nesting"),
    ("a: &a [~, ~, ~, ~, ~, ~, ~, ~, ~, ~]\n" + "".join(
        f"{chr(98 + n)}: &{chr(98 + n)} [{', '.join([f'*{chr(97 + n)}'] * 10)}]\n" for n in range(8)),
     "x.yml", "alias bomb"),                                                      # null leaves: 702 bytes
    ("a=1\nlog.dir=C:\\users\\SECRET\n", "x.properties", "line 2"),            # Java refuses `\\users`
    ("a=\\u12\n", "x.properties", "line 1"), ("a=\\u", "x.properties", "line 1"),
    ("a=x\\\n\\uzz\n", "x.properties", "line 2"),
])
def test_a_config_file_its_reader_refuses_is_a_problem_with_a_line(text, path, problem):
    """Every class of unreadable mounted file (issue 10.3, 10.10): a problem naming the line, never its text."""
    found = parse_config(text, path)
    assert isinstance(found, ConfigProblem), found
    assert problem in found.problem and "SECRET" not in found.problem + found.impact + found.fix
    if path.endswith(".properties"):   # what Nacos' loader throws: OriginTrackedPropertiesLoader.java:225@2.4.3
        assert found.impact.endswith("java.lang.IllegalStateException: Malformed \\uxxxx encoding.")


def test_a_bad_mounted_file_is_a_finding_and_the_rest_is_still_checked():
    """NAG106 on the workload, naming the file, its ConfigMap key and the line; the other checks still run."""
    from datetime import datetime, timezone
    from nacos_auth_guard.checks import CheckContext, run_checks
    from support.objects import config_map, healthy_cluster
    objects = healthy_cluster()
    client = objects[-1]
    client["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "c", "mountPath": "/app/config"}]
    client["spec"]["template"]["spec"]["volumes"] = [{"name": "c", "configMap": {"name": "orders-config"}}]
    objects.append(config_map("orders-config", {"application.properties": "a=1\nlog.dir=C:\\users\n",
                                                "application.yml": "password: !!bool SECRET\n"}))
    objects.append(statefulset_without_key := statefulset_with_no_token_key())
    findings = run_checks(CheckContext.build(build_snapshot(objects, complete=True), datetime.now(timezone.utc)))
    bad = [f for f in findings if f.code == "NAG106"]
    assert len(bad) == 2 and all(f.obj.name == client["metadata"]["name"] for f in bad)
    messages = " ".join(f.message for f in bad)
    assert "(ConfigMap orders-config key 'application.properties')" in messages and "line 2" in messages
    assert "Malformed \\uxxxx encoding." in messages and "SECRET" not in messages
    assert any(f.code == "NAG201" and f.obj.name == statefulset_without_key["metadata"]["name"] for f in findings)


def test_spring_application_json_nested_beyond_the_recursion_limit_is_not_a_crash():
    """json.loads raises RecursionError, not ValueError, on deep input (issue 10.1): the value is unreadable."""
    containers = [app([env("SPRING_APPLICATION_JSON", "[" * 100_000), env("NACOS_SERVER_ADDR", "nacos:8848")])]
    assert resolve(containers, server=False).keys() == {"serverAddr"}


def statefulset_with_no_token_key() -> dict:
    from support.objects import env, statefulset
    sts = statefulset(env_list=[env("NACOS_AUTH_ENABLE", "true")])
    sts["metadata"]["name"] = sts["spec"]["serviceName"] = "nacos-other"
    return sts


def test_wrong_types_do_not_raise():
    containers = [{"name": 5, "image": None, "env": [None, 3, {"name": None}, {"name": "A", "valueFrom": 7}],
                   "envFrom": "x", "args": [1, None], "volumeMounts": [{"name": "v"}, 7]}, "junk"]
    config = pod_config(ObjectRef("StatefulSet", "shop", "x"), {"labels": []},
                        {"containers": containers, "volumes": [{"name": "v", "configMap": 3}, None]},
                        build_snapshot([]), server=True)
    assert len(config.containers) == 1


@pytest.mark.parametrize("containers,objects,volumes,expected", [
    ([nacos([secret_env("NACOS_AUTH_TOKEN", "auth", "token")])], [AUTH_SECRET], [],
     "env NACOS_AUTH_TOKEN (Secret auth key 'token') of container nacos"),   # the image's file is not worth naming
    ([nacos([secret_env("MY_KEY", "auth", "token")], **SUBPATH_MOUNT)], [PROPS, AUTH_SECRET], CONF_VOLUME,
     "env MY_KEY (Secret auth key 'token') of container nacos via ${MY_KEY} in nacos.core.auth.plugin.nacos.token."
     "secret.key in /home/nacos/conf/application.properties (ConfigMap nacos-conf key 'application.properties') in "
     "container nacos"),
], ids=["through the image's file", "through a mounted file"])
def test_where_names_the_path_a_value_took(containers, objects, volumes, expected):
    assert resolve(containers, objects, volumes=volumes)["token_key"].where == expected


@pytest.mark.parametrize("text", ["-Da=b  --x=y\t-Dz", " a\nb\r c ", "a\x0bb\x0cc", "", "   ", "a\u00a0b é",
                                  'sh -c "java -Dx=y"', "a 'b c'", "a\\ b", "a#b # c", "-Dp=x'y", 'x"'])
def test_command_words_split_as_shlex_splits_them(text):
    """The fast path for words without quotes or backslashes splits exactly where shlex does (its whitespace is
    space, tab, CR, LF only); anything quoted goes to shlex itself."""
    import shlex
    from nacos_auth_guard.sources import _split
    try:
        expected = shlex.split(text)
    except ValueError:   # unbalanced quotes: the words as written
        expected = text.split()
    assert _split(text) == expected
