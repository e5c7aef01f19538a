"""NAG501-NAG505: static access tokens, checked with pyjwt the way a Nacos node checks them."""
from __future__ import annotations

from typing import Iterable

from .. import nacos
from ..catalog import finding
from ..model import Finding, State
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


def check_access_tokens(ctx: CheckContext) -> Iterable[Finding]:
    warn = ctx.token_warning.total_seconds()
    for client in ctx.topology.clients:
        cluster = client.servers[0] if client.servers else None
        for container in nacos_containers(client):
            token = container.settings.get("accessToken")
            if token is None or token.state is not State.KNOWN or not token.value:
                continue
            # Without a key, the version still decides how the server reads exp.
            version = ctx.servers_by_ref[cluster].version if cluster in ctx.servers_by_ref else None
            verdict = nacos.check_token(token.value, None, ctx.now, warn, version)
            if verdict.problem:
                yield finding(CODES[verdict.problem], client.ref, cluster=cluster, where=token.where,
                              detail=verdict.detail, error=verdict.error, answer=verdict.answer)
                if verdict.problem == "malformed":
                    continue
            for server_ref in client.servers:
                key = _server_key(ctx, server_ref)
                if key is None:
                    continue
                version = ctx.servers_by_ref[server_ref].version
                on_server = nacos.check_token(token.value, key, ctx.now, warn, version)
                if on_server.problem in ("signature", "malformed"):
                    yield finding(CODES[on_server.problem], client.ref, cluster=server_ref, where=token.where,
                                  server=str(server_ref), detail=on_server.detail, error=on_server.error,
                                  answer=on_server.answer)
