"""OpenAPI callers: static tokens (NAG501-505) and literal login credentials (NAG105) in the command/args, env and
mounted ConfigMap/Secret files of any workload (a CronJob exporting configs with curl, a Job registering
instances). The tokens the client settings carry (NACOS_ACCESS_TOKEN, nacosguard.io/client-env) stay with
tokens.check_access_tokens; this check covers every other JWT-shaped string."""
from __future__ import annotations

from typing import Iterable

from .. import openapi
from ..catalog import finding
from ..model import Finding, ObjectRef, Origin, State
from ..nacos import is_true, login_error, nacos_header_algorithm
from . import CheckContext, auth_enabled, server_settings
from .tokens import server_keys, token_findings


def check_openapi_callers(ctx: CheckContext) -> Iterable[Finding]:
    clients = {c.ref: c for c in ctx.topology.clients}
    warn = ctx.token_warning.total_seconds()
    keys = None   # server_keys(ctx), once a token needs them
    for caller in ctx.topology.callers:
        ref, targets = caller.ref, list(caller.servers)
        for text, call, reached in caller.calls:
            where = _place(text, call.line)
            # A password in a Secret-mounted script is as safe as the Secret; in a pod spec or ConfigMap it is not.
            if call.login and "password" in call.literal_login and text.origin is not Origin.SECRET:
                yield finding("NAG105", ref, cluster=targets[0] if targets else None,
                              setting="The password of a Nacos login call", where=where,
                              origin="workload" if text.origin is Origin.POD_SPEC else "ConfigMap")
            if call.sends_nothing:
                yield from _unauthenticated(ctx, ref, where, call.url, reached)
        client = clients.get(ref)
        configured = {s.value for c in (client.template.containers if client else ())
                      for s in [c.settings.get("accessToken")] if s is not None and s.value}
        seen: set[tuple[str, str]] = set()
        for text in caller.texts:
            for token, line in openapi.jwt_strings(text.text):
                if token in configured or (token, text.where) in seen:
                    continue   # tokens.check_access_tokens reports the client settings' token
                if not caller.calls and nacos_header_algorithm(token) is None:
                    # Sent nowhere Nacos-like, and not written by Nacos: another service's JWT. Checked as a Nacos
                    # token, it drew a warning from every server of the input (servers x such workloads in all).
                    # Nacos writes only these headers: jjwt 0.11.2's {"alg":"HS256"} up to 2.2.0
                    # (JwtTokenManager.java:73@1.4.1, :107@2.2.0; jjwt DefaultJwtBuilder.java:322@0.11.2 sets
                    # only alg), NacosSignatureAlgorithm.java:52-56@2.4.3 since.
                    continue
                seen.add((token, text.where))
                keys = keys if keys is not None else server_keys(ctx)
                yield from token_findings(ctx, ref, token, _place(text, line), targets, warn, keys)


def _place(text, line: int) -> str:
    """Where in a workload: a mounted file's line numbers mean something, a command's or env value's do not."""
    return f"line {line} of {text.where}" if text.file else text.where


def _unauthenticated(ctx: CheckContext, ref: ObjectRef, where: str, url: str, reached: tuple[ObjectRef, ...]
                     ) -> Iterable[Finding]:
    """NAG506 for each auth-enabled server the call reaches whose version (known) refuses that endpoint without
    an identity; on 3.x only while the v1 client API compatibility is on (its default)."""
    for server_ref in reached:
        server = ctx.servers_by_ref[server_ref]
        settings = server_settings(server.template)
        if server.version is None or not auth_enabled(settings) or not openapi.refused_without_identity(
                url, server.version):
            continue
        compatibility = settings.get("client_api_compatibility")
        if "/v1/" in url and server.version >= (3,) and compatibility is not None and (
                compatibility.state is not State.KNOWN or not is_true(compatibility.value)):
            continue   # 410: the v1 API is switched off
        yield finding("NAG506", ref, cluster=server_ref, server=str(server_ref), where=where,
                      base=openapi.base_url(url), error=login_error(server.version),
                      login=LOGIN_PATH_3X if server.version >= (3,) else LOGIN_PATH_2X)


LOGIN_PATH_2X, LOGIN_PATH_3X = "/nacos/v1/auth/login", "/nacos/v3/auth/user/login"
