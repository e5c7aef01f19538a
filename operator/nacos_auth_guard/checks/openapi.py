"""OpenAPI callers: static tokens (NAG501-505) and literal login credentials (NAG105) in the command/args, env and
mounted ConfigMap/Secret files of any workload (a CronJob exporting configs with curl, a Job registering
instances). The tokens the client settings carry (NACOS_ACCESS_TOKEN, nacosguard.io/client-env) stay with
tokens.check_access_tokens; this check covers every other JWT-shaped string."""
from __future__ import annotations

from typing import Iterable

from .. import openapi
from ..catalog import finding
from ..model import Finding, ObjectRef, Origin
from ..nacos import login_error
from . import CheckContext, auth_enabled, server_settings
from .tokens import token_findings


def check_openapi_callers(ctx: CheckContext) -> Iterable[Finding]:
    clients = {c.ref: c for c in ctx.topology.clients}
    warn = ctx.token_warning.total_seconds()
    for caller in ctx.topology.callers:
        ref, targets = caller.ref, list(caller.servers)
        for text, call, reached in caller.calls:
            where = _place(text, call.line)
            # A password in a Secret-mounted script is as safe as the Secret; in a pod spec or ConfigMap it is not.
            if call.login and "password" in call.literal_login and text.origin is not Origin.SECRET:
                yield finding("NAG105", ref, cluster=targets[0] if targets else None,
                              setting="The password of a Nacos login call", where=where,
                              origin="workload" if text.origin is Origin.POD_SPEC else "ConfigMap")
            if call.unauthenticated:
                yield from _unauthenticated(ctx, ref, where, openapi.base_url(call.url), reached)
        client = clients.get(ref)
        configured = {s.value for c in (client.template.containers if client else ())
                      for s in [c.settings.get("accessToken")] if s is not None and s.value}
        seen: set[tuple[str, str]] = set()
        for text in caller.texts:
            for token, line in openapi.jwt_strings(text.text):
                if token in configured or (token, text.where) in seen:
                    continue   # tokens.check_access_tokens reports the client settings' token
                seen.add((token, text.where))
                yield from token_findings(ctx, ref, token, _place(text, line), targets, warn)


def _place(text, line: int) -> str:
    """Where in a workload: a mounted file's line numbers mean something, a command's or env value's do not."""
    return f"line {line} of {text.where}" if text.file else text.where


def _unauthenticated(ctx: CheckContext, ref: ObjectRef, where: str, base: str, reached: tuple[ObjectRef, ...]
                     ) -> Iterable[Finding]:
    """NAG506 for each auth-enabled 2.x server the call reaches. 3.x is left out: there the v1/v2 APIs also pass
    the API compatibility switches (ApiCompatibilityConfig.java@3.0.3), whose answer comes before the auth check's."""
    for server_ref in reached:
        server = ctx.servers_by_ref[server_ref]
        if server.version is None or server.version >= (3,) or not auth_enabled(server_settings(server.template)):
            continue
        yield finding("NAG506", ref, cluster=server_ref, server=str(server_ref), where=where, base=base,
                      error=login_error(server.version))
