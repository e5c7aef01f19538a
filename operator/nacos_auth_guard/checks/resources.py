"""NAG001: a NacosAuthCheck that names no existing server workload; NAG002: one whose spec the operator refuses."""
from __future__ import annotations

from typing import Iterable

from ..catalog import finding
from ..model import Finding, ObjectRef
from ..shapes import as_dict
from . import CheckContext


def check_servers_exist(ctx: CheckContext) -> Iterable[Finding]:
    if not ctx.snapshot.complete:   # lint without --strict-refs: the server may just not be in the input
        return
    from ..evaluation import InvalidSpec, server_of   # evaluation imports the engine: a late import breaks the cycle
    workloads = {(w.get("kind"), w["metadata"]["namespace"], w["metadata"]["name"]) for w in ctx.snapshot.workloads}
    for check in ctx.snapshot.checks:
        metadata = as_dict(check.get("metadata"))
        namespace = metadata.get("namespace")
        try:
            kind, name = server_of(as_dict(check.get("spec")))
        except InvalidSpec:   # NAG002 says so
            continue
        if isinstance(namespace, str) and (kind, namespace, name) not in workloads:
            ref = ObjectRef("NacosAuthCheck", namespace, str(metadata.get("name")))
            yield finding("NAG001", ref, check=ref.name, server_kind=kind, server=name)


def check_specs_valid(ctx: CheckContext) -> Iterable[Finding]:
    """The operator's own validation (evaluation.parse_spec), so lint refuses what the operator would mark Stalled."""
    if not ctx.snapshot.checks:   # most inputs: importing evaluation would cost a small lint a twentieth
        return
    from ..evaluation import InvalidSpec, parse_spec   # evaluation imports the engine: a late import breaks the cycle
    for check in ctx.snapshot.checks:
        try:
            parse_spec(check)
        except InvalidSpec as error:
            metadata = as_dict(check.get("metadata"))
            ref = ObjectRef("NacosAuthCheck", str(metadata.get("namespace")), str(metadata.get("name")))
            yield finding("NAG002", ref, check=ref.name, problem=str(error))
