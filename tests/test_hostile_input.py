"""Hostile input: nothing raises out of the engine or the CLI; bad input becomes a finding or a clear error.
Property-based with hypothesis, plus sized cases (thousands of env vars, 1 MB ConfigMaps, deep nesting), and the
operator's own path (tests/test_operator_hostile.py). The last test reports how many generated cases ran.

The long mode (`-m slow`, skipped by default) runs the YAML layer, the sources resolver and the webhook decision
over LONG_CASES cases each (set NAG_LONG_CASES to change it)."""
from __future__ import annotations

import base64
import copy
import functools
import io
import json
import os
from datetime import datetime, timezone

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacos_auth_guard.admission import decide, with_change
from nacos_auth_guard.checks import CheckContext, run_checks
from nacos_auth_guard.cli import main
from nacos_auth_guard.evaluation import InvalidSpec, evaluate, parse_spec
from nacos_auth_guard.snapshot import build_snapshot
from nacos_auth_guard.model import ConfigProblem
from nacos_auth_guard.sources import parse_config
from nacos_auth_guard.yamlio import split_documents
from support.objects import config_map, env, healthy_cluster, pods_of, secret_env, statefulset

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
LONG_CASES = settings(CASES, max_examples=int(os.environ.get("NAG_LONG_CASES", "34000")),
                      suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
# The CLI properties reuse pytest's capsys and monkeypatch across examples (each example reads its own output).
CLI_CASES = settings(CASES, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
values = st.recursive(scalars, lambda children: st.one_of(
    st.lists(children, max_size=4), st.dictionaries(st.text(max_size=10), children, max_size=4)), max_leaves=20)
FIELDS = ["env", "envFrom", "volumeMounts", "args", "command", "image", "name"]


def engine(objects: list[dict], complete: bool = True) -> list:
    snapshot = build_snapshot(objects, complete=complete, errors=[])
    return run_checks(CheckContext.build(snapshot, NOW))


def mutate(obj: dict, path: list, value) -> dict:
    """obj with the value at `path` replaced (wrong types in every field)."""
    result = copy.deepcopy(obj)
    node = result
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return result


def paths(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


# Every kind the checks read, with the fields they read: Pods (owners, status), a mounted config, a check.
MOUNTED = healthy_cluster()[-1]
MOUNTED["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [{"name": "c", "mountPath": "/app/config"}]
MOUNTED["spec"]["template"]["spec"]["volumes"] = [{"name": "c", "configMap": {"name": "orders-config"}}]
CHECK = {"apiVersion": "nacosguard.io/v1alpha1", "kind": "NacosAuthCheck",
         "metadata": {"name": "nacos", "namespace": "shop", "generation": 2},
         "spec": {"server": {"statefulSetName": "nacos"}, "enforcement": "Deny", "exclude": ["NAG402"],
                  "clients": {"selector": {"matchLabels": {"app": "orders"}},
                              "namespaceSelector": {"matchExpressions": [{"key": "k", "operator": "In",
                                                                          "values": ["a"]}]}},
                  "tokenExpiryWarningDays": 7,
                  "probe": {"enabled": True, "credentialsSecretRef": {"name": "probe"}, "intervalSeconds": 60}}}
CLUSTER = healthy_cluster()[:-1] + [MOUNTED, *pods_of(statefulset(), ["2026-11-22T10:00:00Z"] * 2),
                                    config_map("orders-config", {"application.properties":
                                                                 "spring.cloud.nacos.username=orders\n"})]
ALL_PATHS = [(index, path) for index, obj in enumerate(CLUSTER) for path in paths(obj)]
CHECK_PATHS = list(paths(CHECK))
RUNS: dict[str, int] = {}   # property -> generated cases that ran its body


def counted(test):
    """Counts the cases hypothesis generates for a property (reported by the last test)."""
    RUNS.setdefault(test.__name__, 0)

    @functools.wraps(test)
    def run(*args, **kwargs):
        test(*args, **kwargs)
        RUNS[test.__name__] += 1
    return run


@CASES
@given(st.sampled_from(ALL_PATHS), values)
@counted
def test_a_wrong_type_anywhere_does_not_raise(where, value):
    index, path = where
    objects = copy.deepcopy(CLUSTER)
    objects[index] = mutate(objects[index], list(path), value)
    engine(objects)


@CASES
@given(st.sampled_from(CHECK_PATHS), values)
@counted
def test_a_wrong_type_in_a_check_is_invalid_spec_or_evaluates(where, value):
    """The operator's and the webhook's path: parse_spec either refuses with a message or the check runs."""
    check = mutate(CHECK, list(where), value)
    try:
        spec = parse_spec(check)
    except InvalidSpec as error:
        assert str(error).startswith(("spec.", "metadata."))
        return
    evaluate(spec, build_snapshot(copy.deepcopy(CLUSTER), complete=True), NOW)


@CASES
@given(st.lists(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "data", "status",
                                                 "stringData"]), values, max_size=6), max_size=6))
@counted
def test_random_objects_do_not_raise(objects):
    for obj in objects:
        obj.setdefault("kind", "Deployment")
    engine(objects, complete=False)


@CASES
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), values, max_size=7), min_size=1, max_size=3))
@counted
def test_random_containers_do_not_raise(containers):
    sts = statefulset()
    sts["spec"]["template"]["spec"]["containers"] = containers
    engine([sts] + CLUSTER)


secret_values = st.one_of(
    st.binary(max_size=80).map(lambda raw: base64.b64encode(raw).decode()),   # any bytes: non-UTF-8 too
    st.text(max_size=80),                                                      # mostly not Base64
    st.binary(max_size=80).map(lambda raw: base64.b64encode(raw).decode().rstrip("=")),  # padding lost
    values)


@CASES
@given(st.dictionaries(st.sampled_from(["token", "identity-key", "identity-value", "username", "password",
                                        "other"]), secret_values, max_size=6), st.booleans())
@counted
def test_any_secret_data_is_a_finding_or_fine(data, as_string_data):
    """Secret values as the API could hold them (and some it would refuse): invalid Base64 and non-UTF-8 bytes
    must become findings (NAG202 and friends) or input errors, never an exception."""
    objects = [o for o in CLUSTER if o["metadata"]["name"] not in ("nacos-auth", "orders-nacos")]
    for name in ("nacos-auth", "orders-nacos"):
        field = "stringData" if as_string_data else "data"
        objects.append({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "shop"},
                        field: data})
    errors: list = []
    snapshot = build_snapshot(objects, complete=True, errors=errors)
    run_checks(CheckContext.build(snapshot, NOW))
    assert all(isinstance(message, str) and message for _, message in errors)


@CASES
@given(st.text(max_size=400))
@counted
def test_random_text_gives_a_report_or_an_input_error(text):
    for document in split_documents(text):
        assert document.error is None or document.error.startswith("invalid YAML")


yaml_streams = st.one_of(
    st.lists(values, max_size=4).map(lambda docs: yaml.safe_dump_all(docs)),
    st.lists(st.sampled_from(CLUSTER), min_size=1, max_size=4).flatmap(
        lambda objs: st.integers(0, 400).map(lambda cut: yaml.safe_dump_all(objs)[:cut])),   # cut anywhere
    st.lists(st.sampled_from(list("ab:- \n[]{},&*!|>'\"#%@`\t?") + ["---\n", "kind: Secret\n", "  data:\n"]),
             max_size=200).map("".join))


@CLI_CASES
@given(yaml_streams, st.sampled_from(["text", "json", "sarif"]))
@counted
def test_any_yaml_through_the_lint_cli_is_a_report_with_a_defined_exit(monkeypatch, capsys, text, fmt):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))
    code = main(["lint", "-", "-o", fmt, "--strict-refs"])
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), code
    assert "Traceback" not in out + err
    if fmt != "text":
        report = json.loads(out)
        if fmt == "json":
            assert (code == 2) == bool(report["errors"])


OPTIONS = ["-o", "--format", "--fail-on", "--exclude", "--token-expiry-warning-days", "--now", "--color",
           "--strict-refs", "-n", "--namespace", "-A", "--context", "--kubeconfig"]


@CLI_CASES
@given(st.sampled_from(["lint", "explain", "scan", "run", "bogus"]),
       st.lists(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=12)), max_size=5))
@counted
def test_any_command_line_is_a_result_or_a_usage_error(tmp_path_factory, monkeypatch, capsys, command, args):
    """Usage errors exit 2 with a message, as argparse does; nothing else escapes. (No cluster is reachable: run
    and scan fail on their own before doing anything, or on the missing kubeconfig.)"""
    home = tmp_path_factory.getbasetemp()
    monkeypatch.setenv("KUBECONFIG", str(home / "no-such-kubeconfig"))
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"")))
    if command == "run":
        args = [a for a in args if a not in ("-A",)] + ["--webhook-cert", "x"]   # refused before kopf starts
    try:
        code = main([command, *args])
    except SystemExit as exit:
        code = exit.code
    out, err = capsys.readouterr()
    assert code in (0, 1, 2), (code, err[-300:])
    assert "Traceback" not in out + err


def test_lint_on_random_bytes(tmp_path, capsys):
    import random
    rng = random.Random(11)
    for index in range(30):
        path = tmp_path / f"junk-{index}.yaml"
        path.write_bytes(bytes(rng.randrange(256) for _ in range(rng.randrange(1, 500))))
    code = main(["lint", str(tmp_path), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code in (0, 2) and (code == 0) == (not report["errors"])


def test_thousands_of_env_vars_and_a_1mb_config_map(tmp_path, capsys):
    env_list = [env(f"VAR_{i}", "x" * 50) for i in range(5000)] + [
        env("NACOS_AUTH_ENABLE", "true"), secret_env("NACOS_AUTH_TOKEN", "nacos-auth", "token")]
    sts = statefulset(env_list=env_list)
    big = config_map("big", {"application.properties": "a.b=c\n" * 170_000})
    objects = [o for o in healthy_cluster() if o["kind"] != "StatefulSet"] + [sts, big]
    findings = engine(objects)
    assert [f.code for f in findings] == ["NAG301"]   # the identity env went with the replaced env list


def test_deeply_nested_yaml_is_an_input_error(tmp_path, capsys):
    path = tmp_path / "deep.yaml"
    path.write_text("a: " + "[" * 5000 + "]" * 5000 + "\n---\n" + "kind: x\n")
    code = main(["lint", str(path), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2 and report["errors"]


def test_billion_laughs_does_not_explode(tmp_path, capsys):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        lines.append(f"{chr(97 + level)}: &{chr(97 + level)} [" + ", ".join([f"*{chr(96 + level)}"] * 10) + "]")
    bomb = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bomb"}}
    path = tmp_path / "bomb.yaml"
    path.write_text(json.dumps(bomb) + "\n---\n" + "\n".join(lines) + "\n")
    code = main(["lint", str(path), "-o", "json"])
    assert code in (0, 2)
    capsys.readouterr()


def test_alias_bomb_in_a_mounted_spring_config(tmp_path):
    lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(97 + n)}: &{chr(97 + n)} [" + ", ".join([f"*{chr(96 + n)}"] * 10) + "]" for n in range(1, 9)]
    client = healthy_cluster()[-1]
    pod = client["spec"]["template"]["spec"]
    pod["containers"][0]["volumeMounts"] = [{"name": "c", "mountPath": "/app/config"}]
    pod["volumes"] = [{"name": "c", "configMap": {"name": "bomb"}}]
    objects = healthy_cluster()[:-1] + [client, config_map("bomb", {"application.yml": "\n".join(lines) + "\n"})]
    engine(objects)


def test_invalid_base64_and_binary_secret_data():
    bad = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "nacos-auth", "namespace": "shop"},
           "data": {"token": "%%%", "identity-key": base64.b64encode(b"\xff\xfe").decode(),
                    "identity-value": 12}}
    errors: list = []
    snapshot = build_snapshot([bad] + [o for o in CLUSTER if o["metadata"]["name"] != "nacos-auth"],
                              complete=True, errors=errors)
    codes = sorted(f.code for f in run_checks(CheckContext.build(snapshot, NOW)))
    assert len(errors) == 2 and codes == ["NAG202"]


def test_deeply_nested_values_inside_a_valid_workload():
    nested: object = "x"
    for _ in range(3000):
        nested = [nested]
    sts = statefulset()
    sts["spec"]["template"]["spec"]["containers"][0]["env"].append({"name": "NACOS_AUTH_ENABLE", "value": nested})
    sts["spec"]["template"]["spec"]["containers"][0]["args"] = nested
    engine([o for o in CLUSTER if o["kind"] != "StatefulSet"] + [sts])


def test_a_huge_stream_through_lint(tmp_path, capsys):
    """20,000 documents (about 30 MB): read, checked and reported, with the broken ones named."""
    documents = []
    for index in range(2000):
        for obj in healthy_cluster(f"ns-{index}"):
            documents.append(yaml.safe_dump(obj))
        documents.append("kind: [unclosed\n" if index % 500 == 0 else yaml.safe_dump(config_map(
            f"big-{index}", {"application.properties": "x=y\n" * 1000}, f"ns-{index}")))
    path = tmp_path / "huge.yaml"
    path.write_text("---\n".join(documents))
    code = main(["lint", str(path), "-o", "json"])
    report = json.loads(capsys.readouterr().out)
    assert code == 2 and len(report["errors"]) == 4 and report["summary"]["objects"] == 12_000 - 4


# --- hostile YAML and config files: the YAML layer, the sources resolver and the webhook decision ---------------

MARK = "SECRETX"   # stands for a value no error message may quote
fragments = st.sampled_from(list("ab:- \n[]{},&*!|>'\"#%@`\t?\\") + [
    "---\n", "kind: Secret\n", "  data:\n", "&a ", "*a", "&b [*a, *a, *a, *a]\n", "<<: *a\n", "!!bool ", "!!int ",
    "!!float ", "!!timestamp ", "!!binary ", "!!set ", f"!{MARK}", f"*{MARK}", MARK, f"\\u{MARK}", "\\u00e9",
    "C:\\users\\", '"\\q"', "~", "null", "2026-13-45", "0x1G", "on", "=", "key=value\n"])
nestings = st.tuples(st.sampled_from(["- ", "[", "{a: ", " ", "a:\n"]), st.integers(0, 3000)).map(
    lambda form: form[0] * form[1] if form[0] != " " else "".join(" " * i + "k:\n" for i in range(form[1] // 20)))
hostile_yaml = st.one_of(
    yaml_streams,
    st.lists(st.one_of(fragments, nestings), max_size=120).map("".join),
    st.integers(1, 12).map(lambda width: "\n".join(   # alias bombs of every width, nulls and scalars as leaves
        [f"a: &a [{', '.join(['~'] * width)}]"] + [f"{chr(97 + n)}: &{chr(97 + n)} [" + ", ".join(
            [f"*{chr(96 + n)}"] * width) + "]" for n in range(1, 9)]) + "\n"))


def yaml_layer_case(text: str) -> None:
    """Each document parses or is an error of fixed text; as a mounted config file, it is settings or a
    ConfigProblem; nothing raises and no error quotes the input."""
    for document in split_documents(text):
        assert document.error is None or (document.error.startswith("invalid YAML") and MARK not in document.error)
    for path in ("application.yml", "application.properties"):
        found = parse_config(text, path)
        if isinstance(found, ConfigProblem):
            assert MARK not in found.problem + found.impact + found.fix
        else:
            assert all(isinstance(k, str) and isinstance(v, str) for k, v in found.items())


def mounted_config_case(containers: list[dict], files: dict[str, str]) -> None:
    """The sources resolver on random containers that mount a ConfigMap of hostile config files."""
    sts = statefulset()
    pod = sts["spec"]["template"]["spec"]
    pod["containers"] = containers + pod["containers"]
    pod["volumes"] = [{"name": "conf", "configMap": {"name": "conf"}}]
    for container in pod["containers"]:
        if isinstance(container, dict):
            container["volumeMounts"] = [{"name": "conf", "mountPath": "/home/nacos/conf"}]
    client = copy.deepcopy(MOUNTED)
    client["spec"]["template"]["spec"]["volumes"] = [{"name": "c", "configMap": {"name": "orders-config"}}]
    objects = [o for o in CLUSTER if o["kind"] not in ("StatefulSet", "ConfigMap") and o is not MOUNTED]
    objects += [sts, client, config_map("conf", files), config_map("orders-config", files)]
    for found in engine(objects):
        assert MARK not in found.message


def decision_case(change: tuple) -> None:
    """The webhook's decision on a change that puts any value anywhere in any object of the cluster."""
    (index, path), value, enforcement = change
    path = list(path)
    before = build_snapshot(copy.deepcopy(CLUSTER), complete=True)
    target = CLUSTER[index]
    changed = mutate(target, path, value)
    metadata = target["metadata"]
    after = with_change(before, target["kind"], metadata.get("namespace", "shop"), metadata["name"], changed, NOW)
    check = mutate(CHECK, ["spec", "enforcement"], enforcement)
    verdict = decide([check], before, after, NOW, object_path="spec")
    assert isinstance(verdict.allowed, bool) and all(isinstance(w, str) for w in verdict.warnings)
    assert verdict.allowed or verdict.message.startswith("nacos-auth-guard: ")


config_files = st.dictionaries(st.sampled_from(["application.properties", "application.yml", "bootstrap.yaml",
                                                "other"]), hostile_yaml, max_size=3)
containers = st.lists(st.dictionaries(st.sampled_from(FIELDS), values, max_size=7), max_size=2)
changes = st.tuples(st.sampled_from(ALL_PATHS), values, st.sampled_from(["Deny", "Warn", "Audit"]))


@CASES
@given(hostile_yaml)
@counted
def test_hostile_yaml_is_values_or_errors_that_quote_nothing(text):
    yaml_layer_case(text)


@CASES
@given(containers, config_files)
@counted
def test_hostile_mounted_config_files_are_findings_or_settings(containers, files):
    mounted_config_case(containers, files)


@CASES
@given(changes)
@counted
def test_any_change_gets_a_webhook_decision(change):
    decision_case(change)


@pytest.mark.slow
@LONG_CASES
@given(hostile_yaml)
@counted
def test_long_yaml_layer(text):
    yaml_layer_case(text)


@pytest.mark.slow
@LONG_CASES
@given(containers, config_files)
@counted
def test_long_sources_resolver(containers, files):
    mounted_config_case(containers, files)


@pytest.mark.slow
@LONG_CASES
@given(changes)
@counted
def test_long_webhook_decision(change):
    decision_case(change)


@pytest.mark.slow
def test_long_mode_ran_every_case():
    """After the long properties (run them together: -m slow -k long): each generated all its cases."""
    long = {name: count for name, count in RUNS.items() if name.startswith("test_long_")}
    print(f"long mode: {sum(long.values())} generated cases; {long}")
    assert long and all(count >= LONG_CASES.max_examples for count in long.values()), long


def test_report_how_many_cases_ran(request):
    """Every property collected in this run generated its cases (hypothesis stops early only when a strategy runs
    out of distinct values, and none of these can); the counts go to the log and the terminal summary."""
    properties = {item.name for item in request.session.items
                  if item.module is request.module and item.name in RUNS and not item.get_closest_marker("slow")}
    print(f"hypothesis cases run: {sum(RUNS.values())} in total; {RUNS}")
    assert properties, "no property ran: select the whole module"
    short = {name: RUNS[name] for name in properties if RUNS[name] < CASES.max_examples}
    assert not short, f"properties that generated fewer than {CASES.max_examples} cases: {short}"


def test_hostile_seata_registry_files_through_lint(tmp_path, capsys):
    """A Seata registry.conf (seata.py) that includes a URL or a file, nests 10,000 levels or is 4 MB: each a
    NAG106 warning (this tool does not read it), fast, and nothing outside the manifest is read or fetched."""
    import time
    secret_file = tmp_path / "secret.conf"
    secret_file.write_text('registry { nacos { password = "CANARY-from-a-file" } }\n')
    texts = {"url": 'include url("http://169.254.169.254/latest/meta-data")\nregistry { type = nacos }\n',
             "file": f'include file("{secret_file}")\nregistry {{ type = nacos }}\n',
             "deep": "registry {" * 10_000 + "}" * 10_000, "huge": "registry { type = nacos }\n" * 160_000}
    objects = []
    for name, text in texts.items():
        objects.append(config_map(f"seata-{name}", {"registry.conf": text}))
        workload = copy.deepcopy(MOUNTED)
        workload["metadata"]["name"] = f"seata-{name}"
        workload["spec"]["template"]["spec"]["volumes"] = [{"name": "c", "configMap": {"name": f"seata-{name}"}}]
        workload["spec"]["template"]["spec"]["containers"][0]["volumeMounts"] = [
            {"name": "c", "mountPath": "/seata-server/resources"}]
        workload["spec"]["template"]["spec"]["containers"][0]["env"] = []
        objects.append(workload)
    path = tmp_path / "seata.yaml"
    path.write_text(yaml.safe_dump_all(objects))
    started = time.perf_counter()
    code = main(["lint", str(path), "-o", "json", "--fail-on", "warning"])
    report = json.loads(capsys.readouterr().out)
    assert time.perf_counter() - started < 20
    assert code == 1 and not report["errors"]
    found = sorted((f["object"]["name"], f["code"], f["severity"]) for f in report["findings"])
    assert found == [(f"seata-{name}", "NAG106", "warning") for name in sorted(texts)], found
    assert "CANARY" not in json.dumps(report)
