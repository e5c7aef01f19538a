"""The lint CLI: inputs, formats, exit codes, suppression, and bad input that must not stop the run."""
from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import sarif_pydantic
import yaml

from nacos_auth_guard.cli import main
from support.objects import env, healthy_cluster, spring_client

EXAMPLES_HEALTHY = Path(__file__).resolve().parent.parent / "examples" / "healthy.yaml"

BROKEN_CLIENT = spring_client(secret_name="missing-creds")
NO_CREDS = spring_client("billing")
NO_CREDS["spec"]["template"]["spec"]["containers"][0]["env"] = NO_CREDS["spec"]["template"]["spec"][
    "containers"][0]["env"][:2]


def write(tmp_path, name: str, objects: list, extra: str = "") -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump_all(objects) + extra)
    return str(path)


def lint(capsys, *args: str) -> tuple[int, str, str]:
    code = main(["lint", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_clean_input_exits_0(tmp_path, capsys):
    code, out, _ = lint(capsys, write(tmp_path, "ok.yaml", healthy_cluster()))
    assert code == 0 and "0 error(s)" in out


def test_error_finding_exits_1_and_fail_on(tmp_path, capsys):
    path = write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS])
    assert lint(capsys, path)[0] == 1
    assert lint(capsys, path, "--fail-on", "none")[0] == 0
    assert lint(capsys, path, "--exclude", "NAG401")[0] == 0


def test_warning_fails_only_with_fail_on_warning(tmp_path, capsys):
    literal = spring_client("billing")
    literal["spec"]["template"]["spec"]["containers"][0]["env"][3] = env("SPRING_CLOUD_NACOS_PASSWORD", "pw-1")
    path = write(tmp_path, "w.yaml", healthy_cluster() + [literal])
    assert lint(capsys, path)[0] == 0
    assert lint(capsys, path, "--fail-on", "warning")[0] == 1


def test_unknown_reference_is_not_missing_unless_strict(tmp_path, capsys):
    path = write(tmp_path, "r.yaml", healthy_cluster() + [BROKEN_CLIENT])
    assert lint(capsys, path)[0] == 0
    code, out, _ = lint(capsys, path, "--strict-refs", "-o", "json")
    assert code == 1 and [f["code"] for f in json.loads(out)["findings"]] == ["NAG101"]


def test_text_report_groups_by_object_with_location(tmp_path, capsys):
    code, out, _ = lint(capsys, write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS]), "--color", "never")
    assert "Deployment/shop/billing  (" in out and "c.yaml:" in out
    assert "  error   NAG401 ClientCredentialsMissing:" in out and "\033[" not in out


def test_colour_only_when_asked_or_tty(tmp_path, capsys):
    _, out, _ = lint(capsys, write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS]), "--color", "always")
    assert "\033[31m" in out


def test_json_report(tmp_path, capsys):
    code, out, _ = lint(capsys, write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS]), "-o", "json")
    report = json.loads(out)
    [item] = report["findings"]
    assert item["code"] == "NAG401" and item["object"] == {"kind": "Deployment", "namespace": "shop",
                                                           "name": "billing"}
    assert item["line"] >= 1 and item["file"].endswith("c.yaml") and item["cluster"] == "StatefulSet/shop/nacos"
    assert report["summary"]["error"] == 1 and report["errors"] == []


def test_sarif_report_always_has_results(tmp_path, capsys):
    _, out, _ = lint(capsys, write(tmp_path, "ok.yaml", healthy_cluster()), "-o", "sarif")
    log = json.loads(out)
    assert log["version"] == "2.1.0" and log["runs"][0]["results"] == []
    sarif_pydantic.Sarif.model_validate_json(out)
    _, out, _ = lint(capsys, write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS]), "-o", "sarif")
    run = json.loads(out)["runs"][0]
    [result] = run["results"]
    assert result["ruleId"] == "NAG401" and result["level"] == "error"
    assert run["tool"]["driver"]["rules"][result["ruleIndex"]]["id"] == "NAG401"
    location = result["locations"][0]
    assert location["physicalLocation"]["region"]["startLine"] >= 1
    assert location["logicalLocations"][0]["fullyQualifiedName"] == "Deployment/shop/billing"


def test_stdin_and_kind_list(capsys, monkeypatch):
    listing = {"apiVersion": "v1", "kind": "List", "items": healthy_cluster() + [NO_CREDS]}
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(json.dumps(listing).encode())))
    code, out, _ = lint(capsys, "-", "-o", "json")
    assert code == 1 and json.loads(out)["findings"][0]["code"] == "NAG401"


def test_directory_is_read_recursively(tmp_path, capsys):
    (tmp_path / "a" / "b").mkdir(parents=True)
    write(tmp_path / "a", "server.yaml", healthy_cluster()[:3])
    write(tmp_path / "a" / "b", "client.yml", healthy_cluster()[3:] + [NO_CREDS])
    (tmp_path / "a" / "notes.txt").write_text("not yaml: [")
    code, out, _ = lint(capsys, str(tmp_path), "-o", "json")
    assert code == 1 and json.loads(out)["summary"]["sources"] == 2


def test_bad_documents_are_reported_and_the_rest_checked(tmp_path, capsys):
    extra = ("---\nkind: Deployment\nmetadata: {name: x\n"   # invalid YAML
             "---\n- just\n- a list\n"                        # not a mapping
             "---\napiVersion: v1\nkind: Secret\nmetadata: {name: b64, namespace: shop}\ndata: {k: '***'}\n")
    path = write(tmp_path, "mixed.yaml", healthy_cluster() + [NO_CREDS], extra)
    code, out, err = lint(capsys, path, "-o", "json")
    report = json.loads(out)
    assert code == 2
    assert [f["code"] for f in report["findings"]] == ["NAG401"]
    messages = [e["message"] for e in report["errors"]]
    assert any("invalid YAML" in m for m in messages)
    assert any("not a Kubernetes object" in m for m in messages)
    assert any("not valid Base64" in m for m in messages)
    assert all(e["document"] is not None and e["line"] is not None for e in report["errors"])
    [base64_error] = [e for e in report["errors"] if "Base64" in e["message"]]
    assert base64_error["line"] == path_line(path, "---\napiVersion: v1\nkind: Secret\nmetadata: {name: b64")


def path_line(path: str, text: str) -> int:
    """The 1-based line where `text` starts."""
    content = open(path).read()
    return content[:content.index(text)].count("\n") + 1


def test_crlf_and_bom_are_read_as_kubectl_reads_them(tmp_path, capsys):
    text = yaml.safe_dump_all(healthy_cluster() + [NO_CREDS])
    plain = tmp_path / "plain.yaml"
    plain.write_text(text)
    windows = tmp_path / "windows.yaml"
    windows.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode())
    _, plain_out, _ = lint(capsys, str(plain), "-o", "json")
    code, out, _ = lint(capsys, str(windows), "-o", "json")
    plain_report, report = json.loads(plain_out), json.loads(out)
    assert code == 1 and report["errors"] == []
    assert [(f["code"], f["line"]) for f in report["findings"]] == [
        (f["code"], f["line"]) for f in plain_report["findings"]] != []


def test_non_utf8_file_and_missing_path(tmp_path, capsys):
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00garbage")
    code, _, err = lint(capsys, str(binary), str(tmp_path / "nope.yaml"))
    assert code == 2 and "not UTF-8" in err and "cannot read" in err


def test_usage_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["lint", "x.yaml", "--exclude", "NAG999"])
    assert exit_info.value.code == 2
    assert "unknown finding code" in capsys.readouterr().err


def test_version_prints_the_version(capsys):
    from nacos_auth_guard.report import tool_version
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and capsys.readouterr().out.strip() == f"nacos-auth-guard {tool_version()}"


def test_text_and_json_count_documents_alike(tmp_path, capsys):
    path = write(tmp_path, "two.yaml", healthy_cluster(), "---\n- not an object\n")
    _, _, err = lint(capsys, path)
    _, out, _ = lint(capsys, path, "-o", "json")
    [error] = json.loads(out)["errors"]
    assert f"(document {error['document']})" in err and error["document"] == len(healthy_cluster()) + 1


def test_nag402_names_each_address_once(tmp_path, capsys):
    unknown = spring_client("billing", server="nacos.elsewhere:8848")
    app = unknown["spec"]["template"]["spec"]["containers"]
    app.append({**app[0], "name": "sidecar"})
    code, out, _ = lint(capsys, write(tmp_path, "c.yaml", healthy_cluster() + [unknown]), "-o", "json")
    [nag402] = [f for f in json.loads(out)["findings"] if f["code"] == "NAG402"]
    assert nag402["message"].count("nacos.elsewhere") == 1   # 4 settings in 2 containers name it


def test_explain(capsys):
    assert main(["explain", "nag205"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("NAG205 TokenKeyMismatch (error, condition TokenKeyConsistent)") and "{" not in out
    assert main(["explain"]) == 0 and "NAG504" in capsys.readouterr().out
    assert main(["explain", "NAG999"]) == 2


def test_console_script_runs(tmp_path):
    path = write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS])
    result = subprocess.run([sys.executable, "-m", "nacos_auth_guard.cli", "lint", path, "-o", "json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and json.loads(result.stdout)["findings"][0]["code"] == "NAG401"


def test_the_executable_ends_at_once_with_its_report_whole(tmp_path):
    """A one-shot command ends the process with os._exit (cli.main, exiting): the report must still be flushed
    whole and the exit code be the verdict's. 1,000 clients without credentials: a report far larger than a pipe
    holds (64 KiB)."""
    clients = []
    for number in range(1000):
        client = json.loads(json.dumps(NO_CREDS))
        client["metadata"]["name"] = f"billing-{number}"
        clients.append(client)
    path = write(tmp_path, "many.yaml", healthy_cluster() + clients)
    command = [sys.executable, "-m", "nacos_auth_guard.cli", "lint", path, "-o", "json"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=120)
    report = json.loads(result.stdout)
    assert result.returncode == 1 and len(report["findings"]) >= 1000 and len(result.stdout) > 4 * 65536
    explain = subprocess.run([sys.executable, "-m", "nacos_auth_guard.cli", "explain", "NAG205"],
                             capture_output=True, text=True, timeout=60)
    assert explain.returncode == 0 and explain.stdout.startswith("NAG205 TokenKeyMismatch")


def test_a_reader_gone_before_the_end_exits_0_as_before(tmp_path, monkeypatch):
    """`lint . | head`: the flush at the end meets a closed pipe (this sandbox's pipes never say so, hence a
    stand-in stream). As main's own BrokenPipeError: exit 0, no traceback."""
    from nacos_auth_guard import cli

    class ClosedPipe(io.StringIO):
        def flush(self):
            raise BrokenPipeError(32, "Broken pipe")

    import gc
    ended = []   # (exit code, whether the cyclic collector ran) at os._exit
    monkeypatch.setattr(cli.os, "_exit", lambda code: ended.append((code, gc.isenabled())))
    path = write(tmp_path, "c.yaml", healthy_cluster() + [NO_CREDS])
    try:
        for stdout in (ClosedPipe(), io.StringIO()):
            monkeypatch.setattr(sys, "stdout", stdout)
            main(["lint", path], exiting=True)
    finally:
        gc.enable()   # a one-shot command leaves it off: the process ends with it
    assert ended == [(0, False), (1, False)]


def test_only_one_shot_commands_end_the_process_themselves():
    """The operator (`run`) returns from main and exits normally (its log handlers, kopf's own shutdown)."""
    from nacos_auth_guard.cli import build_parser
    parser = build_parser()
    assert [getattr(parser.parse_args(argv), "one_shot", False) for argv in (
        ["lint", "x.yaml"], ["explain"], ["scan"], ["run"])] == [True, True, True, False]


def test_lint_pauses_the_cyclic_gc_and_restores_it(tmp_path, capsys, monkeypatch):
    import gc
    seen = []
    from nacos_auth_guard import cli
    original = cli.check_objects
    monkeypatch.setattr(cli, "check_objects", lambda *a, **k: (seen.append(gc.isenabled()), original(*a, **k))[1])
    assert gc.isenabled()
    lint(capsys, write(tmp_path, "ok.yaml", healthy_cluster()))
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:   # a caller that had it off keeps it off
        lint(capsys, write(tmp_path, "ok.yaml", healthy_cluster()))
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_small_lint_imports_only_what_it_uses(tmp_path):
    """Start-up is most of a one-file lint (a pre-commit hook pays it per commit): SARIF's pydantic, jwt with its
    crypto, javaproperties, pyhocon (Seata files) and the operator's kopf/kubernetes load only when a run needs
    them."""
    path = write(tmp_path, "ok.yaml", healthy_cluster())
    probe = ("import io, sys, contextlib\n"
             "from nacos_auth_guard.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             f"    main(['lint', {path!r}] + sys.argv[1:])\n"
             "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))")
    heavy = {"sarif_pydantic", "pydantic", "jwt", "cryptography", "javaproperties", "kopf", "kubernetes", "aiohttp",
             "pyhocon", "pyparsing"}

    def loaded(*args: str) -> set[str]:
        result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
        return set(result.stdout.split()) & heavy

    assert loaded() == set()
    assert loaded("-o", "sarif") == {"sarif_pydantic", "pydantic"}


@pytest.mark.parametrize("args, absent", [
    (["--help"], {"nacos_auth_guard.sources", "nacos_auth_guard.manifests", "yaml", "yaml_rs", "importlib.metadata"}),
    (["explain", "NAG205"], {"nacos_auth_guard.sources", "yaml", "yaml_rs", "importlib.metadata"}),
    (["lint", "-o", "json", str(EXAMPLES_HEALTHY)], {"yaml", "importlib.metadata", "nacos_auth_guard.evaluation"}),
])
def test_start_up_imports_only_what_the_command_runs(args, absent):
    """--help and explain load no engine and no parser; a lint that yaml-rs reads alone does not load PyYAML, and
    the version in a JSON report is read without importlib.metadata (which loads email and zipfile)."""
    probe = ("import io, sys, contextlib\n"
             "from nacos_auth_guard.cli import main\n"
             "with contextlib.redirect_stdout(io.StringIO()):\n"
             "    try:\n"
             "        main(sys.argv[1:])\n"
             "    except SystemExit:\n"
             "        pass\n"
             "print(' '.join(sorted(sys.modules)))")
    result = subprocess.run([sys.executable, "-c", probe, *args], capture_output=True, text=True, check=True)
    assert set(result.stdout.split()) & absent == set()
