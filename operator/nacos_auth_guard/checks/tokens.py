"""NAG501-NAG505: static access tokens, checked with pyjwt the way a Nacos node checks them: a client's, and (for
checks/openapi.py) any other a workload holds."""
from __future__ import annotations

from dataclasses import replace
from typing import Iterable

from .. import nacos
from ..catalog import finding
from ..model import Finding, ObjectRef, Severity, State
from . import CheckContext, auth_enabled, server_settings
from .clients import nacos_containers

CODES = {"malformed": "NAG501", "expired": "NAG502", "expiring": "NAG503", "signature": "NAG504",
         "unexpiring": "NAG505"}


def _server_key(ctx: CheckContext, server_ref) -> bytes | None:
    server = ctx.servers_by_ref[server_ref]
    settings = server_settings(server.template)
    if auth_enabled(settings) is False:
        return None
    key = settings.get("token_key")
    if key is None or key.state is not State.KNOWN or not key.value:
        return None
    decoded = nacos.decode_key(key.value, server.version).key
    return decoded if decoded is not None and len(decoded) >= nacos.MIN_KEY_BYTES else None


def server_keys(ctx: CheckContext) -> dict[ObjectRef, bytes | None]:
    """Each server's signing key (None: none it checks tokens with), found once for all the tokens checked."""
    return {server.ref: _server_key(ctx, server.ref) for server in ctx.topology.servers}


def check_access_tokens(ctx: CheckContext) -> Iterable[Finding]:
    """The token a client's settings carry (NACOS_ACCESS_TOKEN, nacosguard.io/client-env); every other JWT-shaped
    string of a workload is openapi.check_openapi_callers'."""
    warn = ctx.token_warning.total_seconds()
    keys = None   # server_keys(ctx), once a token needs them
    for client in ctx.topology.clients:
        for container in nacos_containers(client):
            token = container.settings.get("accessToken")
            if token is not None and token.state is State.KNOWN and token.value:
                keys = keys if keys is not None else server_keys(ctx)
                yield from token_findings(ctx, client.ref, token.value, token.where, list(client.servers), warn,
                                          keys)


def token_findings(ctx: CheckContext, ref: ObjectRef, token: str, where: str, targets: list[ObjectRef],
                   warn: float, keys: dict[ObjectRef, bytes | None]) -> Iterable[Finding]:
    """The token checked without a key (shape, exp), then against each target's key, or every known server's key
    when the calls name no known server: NAG504 then only when no server's key verifies it, and as one warning for
    the servers that refuse it alike (it may be sent to a Nacos outside the input, whose key signed it). `keys`:
    server_keys(ctx)."""
    cluster = targets[0] if targets else None
    version = ctx.servers_by_ref[cluster].version if cluster in ctx.servers_by_ref else None
    verdict = nacos.check_token(token, None, ctx.now, warn, version)
    if verdict.problem:
        yield finding(CODES[verdict.problem], ref, cluster=cluster, where=where, detail=verdict.detail,
                      error=verdict.error, answer=verdict.answer)
        if verdict.problem == "malformed":
            return
    keyed = [(s, keys[s]) for s in (targets or keys) if keys[s] is not None]
    results = [(s, nacos.check_token(token, k, ctx.now, warn, ctx.servers_by_ref[s].version)) for s, k in keyed]
    if not targets and any(r.problem not in ("signature", "malformed") for _, r in results):
        return   # signed by one of the servers: that one is its target
    refused = [(server, result) for server, result in results if result.problem in ("signature", "malformed")]
    if targets:
        for server, result in refused:
            yield finding(CODES[result.problem], ref, cluster=server, where=where, server=str(server),
                          detail=result.detail, error=result.error, answer=result.answer)
        return
    # Sent to no known server and refused by every one: one warning for the servers that answer alike, not one
    # per server (a cluster of many tenants' servers made that servers x tokens)
    alike: dict[tuple, list[ObjectRef]] = {}
    for server, result in refused:
        alike.setdefault((result.problem, result.detail, result.error, result.answer), []).append(server)
    for (problem, detail, error, answer), servers in alike.items():
        item = finding(CODES[problem], ref, cluster=servers[0] if len(servers) == 1 else None, where=where,
                       server=_named(servers), detail=detail, error=error, answer=answer, severity=Severity.WARNING)
        yield replace(item, clusters=tuple(servers)) if len(servers) > 1 else item


NAMED_SERVERS = 3   # a finding for many servers names this many of them


def _named(servers: list[ObjectRef]) -> str:
    if len(servers) == 1:
        return str(servers[0])
    named = ", ".join(str(server) for server in servers[:NAMED_SERVERS])
    more = f" and {len(servers) - NAMED_SERVERS} more" if len(servers) > NAMED_SERVERS else ""
    return f"any of the {len(servers)} servers with a known key ({named}{more})"
