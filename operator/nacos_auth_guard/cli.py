"""`nacos-auth-guard`: lint (files), explain (catalog), and the subcommands the other modules add."""
from __future__ import annotations

import argparse
import contextlib
import gc
import os
import sys
import traceback
from datetime import datetime, timedelta, timezone
from typing import Sequence

from .catalog import CATALOG, describe
from .model import ObjectRef, Severity
from .report import RENDERERS, InputError, Location, Report, render_text, tool_version

FAIL_ON = {"error": Severity.ERROR, "warning": Severity.WARNING, "info": Severity.INFO, "none": None}
# 0 clean, 1 findings, 2 usage or input error (Report.exit_code, argparse); a crash must never read as a verdict.
EXIT_INTERNAL_ERROR = 3


def _codes(text: str) -> list[str]:
    codes = [code.strip().upper() for code in text.split(",") if code.strip()]
    unknown = [code for code in codes if code not in CATALOG]
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown finding code(s): {', '.join(unknown)}")
    return codes


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _days(text: str) -> int:
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {text!r}") from None
    if not 0 <= days <= 3650:
        raise argparse.ArgumentTypeError("must be between 0 and 3650")
    return days


def add_report_options(parser: argparse.ArgumentParser) -> None:
    """Options shared by every command that writes a findings report (lint, scan)."""
    parser.add_argument("-o", "--format", choices=("text", "json", "sarif"), default="text",
                        help="report format (default: text); stdout holds only the report")
    parser.add_argument("--fail-on", choices=tuple(FAIL_ON), default="error",
                        help="exit 1 when a finding has this severity or higher (default: error)")
    parser.add_argument("--exclude", type=_codes, action="append", default=[], metavar="CODE[,CODE]",
                        help="ignore these finding codes (repeatable); objects can also carry the annotation "
                             "nacosguard.io/ignore: NAG105,NAG204")
    parser.add_argument("--token-expiry-warning-days", type=_days, default=7, metavar="DAYS",
                        help="warn about static access tokens that expire within DAYS (default: 7)")
    parser.add_argument("--now", type=_time, default=None, metavar="TIME",
                        help="judge token expiry at this ISO 8601 time instead of the current time")
    parser.add_argument("--color", choices=("auto", "always", "never"), default="auto",
                        help="colour the text report (auto: when stdout is a terminal and NO_COLOR is unset)")


class _VersionAction(argparse._VersionAction):
    """--version that looks the version up only when asked (importlib.metadata is slow to import)."""

    def __call__(self, parser, namespace, values, option_string=None):
        self.version = f"%(prog)s {tool_version()}"
        super().__call__(parser, namespace, values, option_string)


def build_parser(prog: str = "nacos-auth-guard") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Finds the causes of Nacos authentication failures (token invalid!, token expired!, "
                    "user not found!, 403 identity errors) in Kubernetes manifests and clusters.")
    parser.add_argument("--version", action=_VersionAction)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    lint = commands.add_parser("lint", help="check manifests offline (files, directories, - for stdin)",
                               description="Check rendered manifests (kubectl, Helm, kustomize output) offline. "
                                           "Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage or "
                                           "input error, 3 internal error.")
    lint.add_argument("paths", nargs="+", metavar="PATH", help="file, directory (recursive) or - for stdin")
    lint.add_argument("--strict-refs", action="store_true",
                      help="treat a Secret/ConfigMap that is not in the input as missing (default: unknown)")
    lint.add_argument("-n", "--namespace", default="default",
                      help="namespace of objects that name none (default: default)")
    add_report_options(lint)
    lint.set_defaults(handler=lint_command, one_shot=True)

    explain = commands.add_parser("explain", help="explain a finding code, or list them all")
    explain.add_argument("code", nargs="?", help="e.g. NAG205; omit to list every code")
    explain.set_defaults(handler=explain_command, one_shot=True)

    from .kube.cli import add_commands   # run and scan: kopf and kubernetes are imported only when they run
    add_commands(commands)
    return parser


def write_report(report: Report, args: argparse.Namespace) -> int:
    renderer = RENDERERS.get(args.format)
    if renderer is None:
        colour = args.color == "always" or (args.color == "auto" and sys.stdout.isatty()
                                            and not os.environ.get("NO_COLOR"))
        sys.stdout.write(render_text(report, colour))
        for note in report.notes:
            print(f"nacos-auth-guard: {note.level}: {note}", file=sys.stderr)
        for error in report.errors:
            print(f"nacos-auth-guard: input error: {error}", file=sys.stderr)
    else:
        sys.stdout.write(renderer(report))
    return report.exit_code(FAIL_ON[args.fail_on])


def check_objects(objects: list[dict], args: argparse.Namespace, *, complete: bool, default_namespace: str,
                  errors: list[InputError], locations: dict[ObjectRef, Location] | None = None) -> list:
    """Snapshot -> checks, shared by lint and scan. Snapshot problems (bad Base64) join `errors`, at the place of
    their object when `locations` has it."""
    from .checks import check_in_parts   # the engine: `--help` and `explain` need none of it
    from .snapshot import build_snapshot
    problems: list[tuple[dict, str]] = []
    snapshot = build_snapshot(objects, complete=complete, default_namespace=default_namespace, errors=problems)
    for obj, message in problems:
        metadata = obj.get("metadata") or {}
        ref = ObjectRef(str(obj.get("kind")), str(metadata.get("namespace")), str(metadata.get("name")))
        errors.append(InputError(message, (locations or {}).get(ref)))
    now = args.now or datetime.now(timezone.utc)
    return check_in_parts(snapshot, now, timedelta(days=args.token_expiry_warning_days),
                          [code for group in args.exclude for code in group])


@contextlib.contextmanager
def cyclic_gc_paused():
    """Parsed manifests are millions of objects with next to no reference cycles, alive until the report is out;
    each full collection rescans them all (a tenth of a second per 10,000 documents, at moments that depend on
    allocation counts). Reference counting still frees everything; the collector is restored afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def lint_command(args: argparse.Namespace) -> int:
    from .manifests import read_manifests
    with cyclic_gc_paused():
        manifests = read_manifests(args.paths, args.namespace)
        errors = list(manifests.errors)
        placed: dict[tuple, None] = {}   # (finding, location) in first-seen order: variants repeat the rest
        seen_errors = set(errors)
        for objects, locations, places in manifests.variants():
            snapshot_errors: list[InputError] = []
            for item in check_objects(objects, args, complete=args.strict_refs, default_namespace=args.namespace,
                                      errors=snapshot_errors, locations=locations):
                for where in places.get(item.obj) or (locations.get(item.obj),):
                    placed.setdefault((item, where))
            for error in snapshot_errors:
                if error not in seen_errors:
                    seen_errors.add(error)
                    errors.append(error)
        findings = [item for item, _ in placed]
        report = Report(findings, errors, manifests.locations, len(manifests.objects), manifests.sources,
                        manifests.notes, [where for _, where in placed])
        return write_report(report, args)


def explain_command(args: argparse.Namespace) -> int:
    if not args.code:
        for code, entry in CATALOG.items():
            print(f"{code}  {entry.reason:<28} {str(entry.severity):<8} {entry.title}")
        return 0
    if args.code.upper() not in CATALOG:
        print(f"nacos-auth-guard: unknown finding code {args.code!r}; `nacos-auth-guard explain` lists them",
              file=sys.stderr)
        return 2
    print(describe(args.code))
    return 0


def main(argv: Sequence[str] | None = None, prog: str = "nacos-auth-guard", *, exiting: bool = False) -> int:
    """`exiting`: the process ends with this command (the executables). A one-shot command (lint, explain, scan)
    then runs without the cyclic collector and ends the process itself, without freeing what it built: at 10,000
    documents, collecting and freeing a million objects cost a tenth of the run (measured), for nothing."""
    parser = build_parser(prog)
    args = parser.parse_args(argv)
    # not under a profiler or a coverage tracer: they write their results at the interpreter's exit
    one_shot = (exiting and getattr(args, "one_shot", False) and sys.getprofile() is None
                and sys.gettrace() is None)
    if one_shot:
        gc.disable()
    try:
        code = args.handler(args)
    except BrokenPipeError:   # `nacos-auth-guard lint . | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = 0
    except KeyboardInterrupt:
        code = 130
    except Exception as error:  # noqa: BLE001 - a bug: say so, with its own exit code
        print(f"nacos-auth-guard: internal error ({crash_site(error)}): this is a bug, not a verdict on the input; "
              f"please report it with the command that caused it", file=sys.stderr)
        code = EXIT_INTERNAL_ERROR
    if one_shot:
        _exit_at_once(code)
    return code


def _exit_at_once(code: int) -> None:
    """os._exit after flushing what it would not (stdout's buffer: the end of the report). A reader gone before
    the end (`| head`) ends it as main's BrokenPipeError does."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:
            code = 0
        except (OSError, ValueError):   # closed, or its descriptor is
            pass
    os._exit(code)


def console() -> int:
    """The `nacos-auth-guard` executable."""
    return main(exiting=True)


def crash_site(error: BaseException) -> str:
    """The exception's type and the innermost line of ours it passed, never its message (a KeyError or a parser
    error can hold the value it choked on, and that value can be a secret)."""
    frames = traceback.extract_tb(error.__traceback__)
    ours = [frame for frame in frames if f"{os.sep}nacos_auth_guard{os.sep}" in frame.filename] or frames
    if not ours:
        return type(error).__name__
    frame = ours[-1]
    module = frame.filename.rsplit(f"{os.sep}nacos_auth_guard{os.sep}", 1)[-1]
    return f"{type(error).__name__} at {module}:{frame.lineno} in {frame.name}"


def kubectl_plugin() -> int:
    """`kubectl nacos-auth scan ...`: kubectl runs the executable kubectl-nacos_auth with the words after the plugin
    name, so usage and errors name the command the user typed."""
    return main(prog="kubectl nacos-auth", exiting=True)


if __name__ == "__main__":
    sys.exit(main(exiting=True))
