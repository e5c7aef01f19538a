"""NAG001: a NacosAuthCheck that names no existing StatefulSet; NAG002: one whose spec the operator refuses."""
from __future__ import annotations

from typing import Iterable

from ..catalog import finding
from ..model import Finding, ObjectRef
from ..shapes import as_dict
from . import CheckContext


def check_servers_exist(ctx: CheckContext) -> Iterable[Finding]:
    if not ctx.snapshot.complete:   # lint without --strict-refs: the StatefulSet may just not be in the input
        return
    statefulsets = {(w["metadata"]["namespace"], w["metadata"]["name"])
                    for w in ctx.snapshot.workloads if w.get("kind") == "StatefulSet"}
    for check in ctx.snapshot.checks:
        metadata = as_dict(check.get("metadata"))
        name = as_dict(as_dict(check.get("spec")).get("server")).get("statefulSetName")
        namespace = metadata.get("namespace")
        if isinstance(name, str) and isinstance(namespace, str) and (namespace, name) not in statefulsets:
            ref = ObjectRef("NacosAuthCheck", namespace, str(metadata.get("name")))
            yield finding("NAG001", ref, check=ref.name, statefulset=name)


def check_specs_valid(ctx: CheckContext) -> Iterable[Finding]:
    """The operator's own validation (evaluation.parse_spec), so lint refuses what the operator would mark Stalled."""
    from ..evaluation import InvalidSpec, parse_spec   # evaluation imports the engine: a late import breaks the cycle
    for check in ctx.snapshot.checks:
        try:
            parse_spec(check)
        except InvalidSpec as error:
            metadata = as_dict(check.get("metadata"))
            ref = ObjectRef("NacosAuthCheck", str(metadata.get("namespace")), str(metadata.get("name")))
            yield finding("NAG002", ref, check=ref.name, problem=str(error))
