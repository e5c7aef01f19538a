"""Hostile input: nothing raises out of the engine or the CLI; bad input becomes a finding or a clear error.
Property-based with hypothesis, plus sized cases (thousands of env vars, 1 MB ConfigMaps, deep nesting)."""
from __future__ import annotations

import base64
import copy
import json
from datetime import datetime, timezone

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nacos_auth_guard.checks import CheckContext, run_checks
from nacos_auth_guard.cli import main
from nacos_auth_guard.snapshot import build_snapshot
from nacos_auth_guard.yamlio import split_documents
from support.objects import config_map, env, healthy_cluster, secret_env, statefulset

NOW = datetime(2026, 11, 24, tzinfo=timezone.utc)
CASES = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

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


CLUSTER = healthy_cluster()
ALL_PATHS = [(index, path) for index, obj in enumerate(CLUSTER) for path in paths(obj)]
RUNS = {"wrong-type": 0, "random-objects": 0, "random-containers": 0, "random-text": 0}


@CASES
@given(st.sampled_from(ALL_PATHS), values)
def test_a_wrong_type_anywhere_does_not_raise(where, value):
    index, path = where
    objects = copy.deepcopy(CLUSTER)
    objects[index] = mutate(objects[index], list(path), value)
    engine(objects)
    RUNS["wrong-type"] += 1


@CASES
@given(st.lists(st.dictionaries(st.sampled_from(["apiVersion", "kind", "metadata", "spec", "data", "status",
                                                 "stringData"]), values, max_size=6), max_size=6))
def test_random_objects_do_not_raise(objects):
    for obj in objects:
        obj.setdefault("kind", "Deployment")
    engine(objects, complete=False)
    RUNS["random-objects"] += 1


@CASES
@given(st.lists(st.dictionaries(st.sampled_from(FIELDS), values, max_size=7), min_size=1, max_size=3))
def test_random_containers_do_not_raise(containers):
    sts = statefulset()
    sts["spec"]["template"]["spec"]["containers"] = containers
    engine([sts] + CLUSTER)
    RUNS["random-containers"] += 1


@CASES
@given(st.text(max_size=400))
def test_random_text_gives_a_report_or_an_input_error(text):
    for document in split_documents(text):
        assert document.error is None or document.error.startswith("invalid YAML")
    RUNS["random-text"] += 1


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
    objects = [o for o in CLUSTER if o["kind"] != "StatefulSet"] + [sts, big]
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


def test_report_how_many_cases_ran():
    """Hypothesis runs the properties above first (file order); this prints their counts for the log."""
    print(f"hypothesis cases run: {RUNS}")
    assert all(count > 0 for count in RUNS.values()) or not any(RUNS.values())
