"""Lint and scan reports: text (grouped by object), JSON and SARIF 2.1.0. Findings carry no secret material, and
nothing here reads a Setting: the report only sees finding messages and object names."""
from __future__ import annotations

import functools
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field

from .catalog import CATALOG
from .model import Finding, ObjectRef, Severity

INFORMATION_URI = "https://github.com/nacos-auth-guard/nacos-auth-guard"
SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
SARIF_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
COLOURS = {Severity.ERROR: "\033[31m", Severity.WARNING: "\033[33m", Severity.INFO: "\033[36m"}
BOLD, RESET = "\033[1m", "\033[0m"


@functools.cache
def tool_version() -> str:
    """The installed version, from the metadata file of the first installation on sys.path, as importlib.metadata
    finds it; importlib.metadata itself imports email and zipfile, a tenth of a small lint's start-up."""
    for entry in sys.path:
        try:
            names = sorted(os.listdir(entry or "."))
        except OSError:
            continue
        for name in names:
            if name.startswith("nacos_auth_guard-") and name.endswith(".dist-info"):
                metadata = os.path.join(entry or ".", name, "METADATA")
            elif name == "nacos_auth_guard.egg-info":
                metadata = os.path.join(entry or ".", name, "PKG-INFO")
            else:
                continue
            try:
                with open(metadata, encoding="utf-8") as handle:
                    for line in handle:
                        if line.startswith("Version:"):
                            return line.split(":", 1)[1].strip()
                        if not line.strip():   # the end of the headers
                            break
            except OSError:
                continue
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("nacos-auth-guard")
    except PackageNotFoundError:
        return "0.0.0"


@dataclass(frozen=True, slots=True)
class Location:
    path: str
    line: int
    document: int


def _placed(message: str, where: Location | None) -> str:
    return message if where is None else f"{where.path}:{where.line} (document {where.document + 1}): {message}"


@dataclass(frozen=True, slots=True)
class InputError:
    """Input that could not be checked: the run exits 2."""
    message: str
    location: Location | None = None

    def __str__(self) -> str:
        return _placed(self.message, self.location)


@dataclass(frozen=True, slots=True)
class InputNote:
    """Input read but not checked as a Kubernetes object ("note"), or checked with a caveat ("warning"); the exit
    code does not change."""
    message: str
    location: Location | None = None
    level: str = "note"

    def __str__(self) -> str:
        return _placed(self.message, self.location)


@dataclass(slots=True)
class Report:
    findings: list[Finding]
    errors: list[InputError] = field(default_factory=list)
    locations: dict[ObjectRef, Location] = field(default_factory=dict)
    objects: int = 0
    sources: int = 0
    notes: list[InputNote] = field(default_factory=list)
    finding_locations: list[Location | None] | None = None   # per finding, when an object is in two places

    def location(self, index: int) -> Location | None:
        if self.finding_locations is not None:
            return self.finding_locations[index]
        return self.locations.get(self.findings[index].obj)

    def counts(self) -> Counter:
        return Counter(str(f.severity) for f in self.findings)

    def exit_code(self, fail_on: Severity | None) -> int:
        if self.errors:
            return 2
        if fail_on is not None and any(f.severity >= fail_on for f in self.findings):
            return 1
        return 0


def render_text(report: Report, colour: bool = False) -> str:
    def paint(text: str, code: str) -> str:
        return f"{code}{text}{RESET}" if colour else text

    lines: list[str] = []
    by_object: dict[tuple[ObjectRef, Location | None], list[Finding]] = {}
    for index, item in enumerate(report.findings):
        by_object.setdefault((item.obj, report.location(index)), []).append(item)
    for (obj, where), items in by_object.items():
        suffix = f"  ({where.path}:{where.line})" if where else ""
        lines.append(paint(str(obj), BOLD) + suffix)
        for item in items:
            label = paint(f"{str(item.severity):<7}", COLOURS[item.severity])
            lines.append(f"  {label} {item.code} {item.reason}: {item.message}")
        lines.append("")
    counts = report.counts()
    lines.append(f"{counts['error']} error(s), {counts['warning']} warning(s), {counts['info']} info in "
                 f"{report.objects} object(s) from {report.sources} source(s)"
                 + (f"; {len(report.errors)} input error(s)" if report.errors else ""))
    return "\n".join(lines) + "\n"


def _finding_json(item: Finding, location: Location | None) -> dict:
    return {
        "code": item.code, "reason": item.reason, "severity": str(item.severity),
        "object": {"kind": item.obj.kind, "namespace": item.obj.namespace, "name": item.obj.name},
        "cluster": str(item.cluster) if item.cluster else None,
        "file": location.path if location else None, "line": location.line if location else None,
        "message": item.message,
    }


def render_json(report: Report) -> str:
    counts = report.counts()
    document = {
        "tool": {"name": "nacos-auth-guard", "version": tool_version()},
        "findings": [_finding_json(f, report.location(i)) for i, f in enumerate(report.findings)],
        "errors": [{"message": e.message, "file": e.location.path if e.location else None,
                    "line": e.location.line if e.location else None,
                    # 1-based, as the text report and editors count
                    "document": e.location.document + 1 if e.location else None} for e in report.errors],
        "notes": [{"level": n.level, "message": n.message, "file": n.location.path if n.location else None,
                   "line": n.location.line if n.location else None,
                   "document": n.location.document + 1 if n.location else None} for n in report.notes],
        "summary": {"error": counts["error"], "warning": counts["warning"], "info": counts["info"],
                    "objects": report.objects, "sources": report.sources},
    }
    return json.dumps(document, indent=2) + "\n"


def _physical(location: Location | None) -> list | None:
    import sarif_pydantic as sarif
    if location is None:
        return None
    return [sarif.Location(physical_location=sarif.PhysicalLocation(
        artifact_location=sarif.ArtifactLocation(uri=location.path),
        region=sarif.Region(start_line=location.line)))]


def render_sarif(report: Report) -> str:
    import sarif_pydantic as sarif   # pydantic: a third of a small lint's start-up, paid only for SARIF output
    codes = sorted(CATALOG)
    rules = [sarif.ReportingDescriptor(
        id=code, name=CATALOG[code].reason,
        short_description=sarif.Message(text=CATALOG[code].title),
        full_description=sarif.Message(text=CATALOG[code].explanation),
        help=sarif.Message(text=f"Run `nacos-auth-guard explain {code}`."),
        default_configuration=sarif.ReportingConfiguration(level=SARIF_LEVEL[CATALOG[code].severity]),
    ) for code in codes]
    results = []
    for index, item in enumerate(report.findings):
        location = report.location(index)
        locations = _physical(location) or []
        logical = sarif.LogicalLocation(name=item.obj.name, fully_qualified_name=str(item.obj), kind="resource")
        if locations:
            locations[0].logical_locations = [logical]
        else:
            locations = [sarif.Location(logical_locations=[logical])]
        results.append(sarif.Result(rule_id=item.code, rule_index=codes.index(item.code),
                                    level=sarif.Level(SARIF_LEVEL[item.severity]), message=sarif.Message(text=item.message),
                                    locations=locations))
    notifications = [{"level": "error", "message": {"text": error.message},
                      **({"locations": [loc.model_dump(by_alias=True, exclude_none=True)
                                        for loc in _physical(error.location)]} if error.location else {})}
                     for error in report.errors] + [
        {"level": note.level, "message": {"text": note.message},
         **({"locations": [loc.model_dump(by_alias=True, exclude_none=True)
                           for loc in _physical(note.location)]} if note.location else {})}
        for note in report.notes]
    run = sarif.Run(
        tool=sarif.Tool(driver=sarif.ToolDriver(name="nacos-auth-guard", version=tool_version(),
                                                information_uri=INFORMATION_URI, rules=rules)),
        invocations=[sarif.Invocation(execution_successful=not report.errors,
                                      toolExecutionNotifications=notifications)],
        results=results,
    )
    log = sarif.Sarif(version="2.1.0", schema_uri=SARIF_SCHEMA, runs=[run])
    return log.model_dump_json(by_alias=True, exclude_none=True, indent=2) + "\n"


RENDERERS = {"json": render_json, "sarif": render_sarif}
