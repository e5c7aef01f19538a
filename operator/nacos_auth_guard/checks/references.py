"""NAG101-NAG104: references to Secrets/ConfigMaps that do not resolve; NAG105: credentials in plain text;
NAG106: mounted config files their reader refuses."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from ..catalog import finding
from ..model import Finding, ObjectRef, Origin, PodConfig, Reference, Severity, State
from ..nacos import SENSITIVE_SETTINGS, image_version
from ..snapshot import ABSENT
from . import CheckContext, signs_tokens

SETTING_LABELS = {"token_key": "The token secret key", "identity_value": "The server identity value",
                  "password": "The Nacos password", "accessToken": "The Nacos access token"}


def _impact(reference: Reference) -> str:
    if reference.optional:
        return "it is marked optional, so the pod starts without the settings it carries"
    if reference.mount:
        return "the pod cannot mount it and stays in ContainerCreating (FailedMount)"
    return "the pod cannot start (CreateContainerConfigError)"


def _unresolved(ctx: CheckContext, pod: PodConfig, owner: ObjectRef, cluster: ObjectRef | None,
                skip: set) -> Iterable[Finding]:
    """One finding per missing object (however many keys the pod reads from it), one per missing key."""
    missing_objects: dict[tuple[str, str], list[Reference]] = {}
    for reference in pod.references:
        obj = ctx.snapshot.lookup(reference.kind, owner.namespace, reference.name)
        if obj is ABSENT:
            missing_objects.setdefault((reference.kind, reference.name), []).append(reference)
        elif obj is not None and reference.key is not None and reference.key not in obj.data:
            if (reference.kind, reference.name, reference.key) not in skip:
                skip.add((reference.kind, reference.name, reference.key))
                yield _finding("NAG102" if reference.kind == "Secret" else "NAG104", reference, owner, cluster)
    for (kind, name), references in missing_objects.items():
        if (kind, name) not in skip:
            skip.add((kind, name))
            required = [r for r in references if not r.optional]
            yield replace(_finding("NAG101" if kind == "Secret" else "NAG103", (required or references)[0], owner,
                                   cluster, more=len(references) - 1),
                          missing=ObjectRef(kind, owner.namespace, name))


def _finding(code: str, reference: Reference, owner: ObjectRef, cluster: ObjectRef | None, more: int = 0):
    where = reference.where + (f" and {more} more reference(s)" if more else "")
    return finding(code, owner, cluster=cluster, where=where, name=reference.name, key=reference.key,
                   impact=_impact(reference), severity=Severity.WARNING if reference.optional else None)


def check_references(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        seen: set = set()
        yield from _unresolved(ctx, server.template, server.ref, server.ref, seen)
        for pod in server.pods:   # pods of an older revision may reference what the template no longer does
            yield from _unresolved(ctx, pod, pod.ref, server.ref, seen)
    for client in ctx.topology.clients:
        yield from _unresolved(ctx, client.template, client.ref, client.servers[0] if client.servers else None,
                               set())


def check_plaintext(ctx: CheckContext) -> Iterable[Finding]:
    """Only where it matters: server credentials of a server that signs tokens, and client credentials."""
    for server in ctx.topology.servers:
        for container in server.template.containers:
            if container.server and signs_tokens(container.settings, image_version(container.image)):
                yield from _plaintext(container.settings, server.ref, server.ref)
    for client in ctx.topology.clients:
        for container in client.template.containers:
            yield from _plaintext(container.settings, client.ref, client.servers[0] if client.servers else None)


def _plaintext(settings: dict, owner: ObjectRef, cluster: ObjectRef | None) -> Iterable[Finding]:
    for name in sorted(SENSITIVE_SETTINGS & settings.keys()):
        setting = settings[name]
        if setting.state is State.KNOWN and setting.value and setting.origin in (Origin.POD_SPEC, Origin.CONFIG_MAP):
            yield finding("NAG105", owner, cluster=cluster, setting=SETTING_LABELS[name], where=setting.where,
                          origin="workload" if setting.origin is Origin.POD_SPEC else "ConfigMap")


def check_config_files(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        seen: set = set()
        for pod in (server.template, *server.pods):
            yield from _config_errors(pod, server.ref if pod is server.template else pod.ref, server.ref, seen)
    for client in ctx.topology.clients:
        yield from _config_errors(client.template, client.ref, client.servers[0] if client.servers else None, set())


def _config_errors(pod: PodConfig, owner: ObjectRef, cluster: ObjectRef | None, seen: set) -> Iterable[Finding]:
    for error in pod.config_errors:
        if error.where not in seen:
            seen.add(error.where)
            yield finding("NAG106", owner, cluster=cluster, where=error.where, problem=error.problem,
                          impact=error.impact, fix=error.fix,
                          severity=None if error.fails_start else Severity.WARNING)
