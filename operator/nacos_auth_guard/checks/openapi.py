"""OpenAPI callers: static tokens (NAG501-505) and literal login credentials (NAG105) in the command/args, env and
mounted ConfigMap/Secret files of any workload (a CronJob exporting configs with curl, a Job registering
instances). The tokens the client settings carry (NACOS_ACCESS_TOKEN, nacosguard.io/client-env) stay with
tokens.check_access_tokens; this check covers every other JWT-shaped string."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from .. import nacos, openapi
from ..catalog import finding
from ..discovery import _valid, controlled, is_server, pod_template, ref_of, service_candidates
from ..model import Finding, ObjectRef, Origin, State
from ..shapes import as_list, as_text
from ..sources import _mounted_files, _object_value, _PodContext, container_environment
from . import CheckContext
from .tokens import CODES, _server_key


@dataclass(frozen=True, slots=True)
class _Text:
    text: str
    where: str
    origin: Origin
    file: bool = False   # a mounted file: its line numbers mean something


def _workload_texts(ctx: CheckContext, obj: dict) -> tuple[list[_Text], dict[str, str]]:
    """Each container's command/args, env values and mounted files, and the env (known values) to resolve $VAR."""
    ref = ref_of(obj)
    _, spec = pod_template(obj)
    volumes = {v["name"]: v for v in as_list(spec.get("volumes"))
               if isinstance(v, dict) and isinstance(v.get("name"), str)}
    pod = _PodContext(ref, ctx.snapshot, volumes)
    texts: list[_Text] = []
    env: dict[str, str] = {}
    for container in (c for c in as_list(spec.get("initContainers")) + as_list(spec.get("containers"))
                      if isinstance(c, dict)):
        cname = as_text(container.get("name")) or "?"
        words = [w for w in as_list(container.get("command")) + as_list(container.get("args")) if isinstance(w, str)]
        if words:
            texts.append(_Text("\n".join(words), f"the command/args of container {cname}", Origin.POD_SPEC))
        environment = container_environment(pod, container, False)
        for name, value in environment.env.items():
            if value.state is State.KNOWN and value.value:
                env.setdefault(name, value.value)
                texts.append(_Text(value.value, value.where, value.origin))
        for mounted in _mounted_files(pod, container):
            where = f"{mounted.path} ({mounted.kind} {mounted.name} key {mounted.key!r}) in container {cname}"
            value = _object_value(pod, mounted.kind, mounted.name, mounted.key, mounted.optional, where, mount=True)
            if value.state is State.KNOWN and value.value:
                texts.append(_Text(value.value, where, value.origin, file=True))
    return texts, env


def _servers_by_service(ctx: CheckContext) -> dict[tuple[str, str], list[ObjectRef]]:
    by_service: dict[tuple[str, str], list[ObjectRef]] = {}
    for server in ctx.topology.servers:
        for name in sorted(server.service_names):
            by_service.setdefault((server.ref.namespace, name), []).append(server.ref)
    return by_service


def check_openapi_callers(ctx: CheckContext) -> Iterable[Finding]:
    by_service = _servers_by_service(ctx)
    clients = {c.ref: c for c in ctx.topology.clients}
    warn = ctx.token_warning.total_seconds()
    for obj in ctx.snapshot.workloads:
        if not _valid(obj) or controlled(obj["metadata"]) or is_server(obj):
            continue
        ref = ref_of(obj)
        texts, env = _workload_texts(ctx, obj)

        def targets_of(host: str) -> list[ObjectRef]:
            return [s for c in service_candidates(host, ref.namespace) for s in by_service.get(c, ())]

        calls = [(t, call) for t in texts for call in openapi.find_calls(t.text, env, lambda h: bool(targets_of(h)))]
        targets = list(dict.fromkeys(s for _, call in calls for s in targets_of(call.host)))
        for text, call in calls:
            # A password in a Secret-mounted script is as safe as the Secret; in a pod spec or ConfigMap it is not.
            if call.login and "password" in call.literal_login and text.origin is not Origin.SECRET:
                yield finding("NAG105", ref, cluster=targets[0] if targets else None,
                              setting="The password of a Nacos login call", where=text.where,
                              origin="workload" if text.origin is Origin.POD_SPEC else "ConfigMap")
        client = clients.get(ref)
        configured = {s.value for c in (client.template.containers if client else ())
                      for s in [c.settings.get("accessToken")] if s is not None and s.value}
        seen: set[tuple[str, str]] = set()
        for text in texts:
            for token, line in openapi.jwt_strings(text.text):
                if token in configured or (token, text.where) in seen:
                    continue   # tokens.check_access_tokens reports the client settings' token
                seen.add((token, text.where))
                where = f"line {line} of {text.where}" if text.file else text.where
                yield from _token_findings(ctx, ref, token, where, targets, warn)


def _token_findings(ctx: CheckContext, ref: ObjectRef, token: str, where: str, targets: list[ObjectRef],
                    warn: float) -> Iterable[Finding]:
    """The token checked without a key (shape, exp), then against each target's key, or every known server's key
    when the calls name no known server (NAG504 then only when no server's key verifies it)."""
    cluster = targets[0] if targets else None
    version = ctx.servers_by_ref[cluster].version if cluster in ctx.servers_by_ref else None
    verdict = nacos.check_token(token, None, ctx.now, warn, version)
    if verdict.problem:
        yield finding(CODES[verdict.problem], ref, cluster=cluster, where=where, detail=verdict.detail,
                      error=verdict.error, answer=verdict.answer)
        if verdict.problem == "malformed":
            return
    keyed = [(s, k) for s in (targets or [s.ref for s in ctx.topology.servers])
             for k in [_server_key(ctx, s)] if k is not None]
    results = [(s, nacos.check_token(token, k, ctx.now, warn, ctx.servers_by_ref[s].version)) for s, k in keyed]
    if not targets and any(r.problem not in ("signature", "malformed") for _, r in results):
        return   # signed by one of the servers: that one is its target
    for server, result in results:
        if result.problem in ("signature", "malformed"):
            yield finding(CODES[result.problem], ref, cluster=server, where=where, server=str(server),
                          detail=result.detail, error=result.error, answer=result.answer)
