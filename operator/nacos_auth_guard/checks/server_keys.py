"""NAG201-NAG204 token key rules, NAG208 user-agent bypass, NAG301/NAG303 server identity: per server cluster,
on its pod template (what every pod started from now on gets)."""
from __future__ import annotations

from typing import Iterable

from .. import nacos
from ..catalog import finding
from ..model import Finding, ServerCluster, Severity, State
from . import CheckContext, auth_enabled, server_settings


NO_KEY_IMPACT = "the server cannot derive its signing key and refuses to start"


def _auth_on(server: ServerCluster) -> dict | None:
    settings = server_settings(server.template)
    return settings if auth_enabled(settings) else None


def _unset(setting) -> bool:
    return setting is None or (setting.state is State.KNOWN and not setting.value)


def check_token_key(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = _auth_on(server)
        if settings is None:
            continue
        key = settings.get("token_key")
        if _unset(key):
            names = " / ".join(nacos.token_key_properties(server.version) + ("env NACOS_AUTH_TOKEN",))
            yield finding("NAG201", server.ref, cluster=server.ref, properties=names,
                          impact="Nacos 2.2.0.1 and later refuse to start without one")
            continue
        if key.state is State.UNREADABLE:   # bytes that are not text cannot be Base64 either
            yield finding("NAG202", server.ref, cluster=server.ref, where=key.where, impact=NO_KEY_IMPACT)
        if key.state is not State.KNOWN:
            continue
        if nacos.is_well_known_key(key.value, server.version):
            yield finding("NAG204", server.ref, cluster=server.ref, where=key.where)
        decoding = nacos.decode_key(key.value, server.version)
        if not decoding.base64:
            fallback = decoding.key is not None
            yield finding("NAG202", server.ref, cluster=server.ref, where=key.where,
                          severity=Severity.WARNING if fallback else None,
                          impact=_fallback_impact(server) if fallback else
                          NO_KEY_IMPACT)
        if decoding.key is not None and len(decoding.key) < nacos.MIN_KEY_BYTES:
            yield finding("NAG203", server.ref, cluster=server.ref, where=key.where, length=len(decoding.key),
                          impact=_short_key_impact(server))


def _version_label(server: ServerCluster) -> str:
    return "Nacos " + ".".join(map(str, server.version)) if server.version else "this Nacos version"


def _fallback_impact(server: ServerCluster) -> str:
    return (f"{_version_label(server)} falls back to the text's own bytes, so it runs, but other versions derive "
            f"another key from it or refuse to start: an upgrade breaks every token")


def _short_key_impact(server: ServerCluster) -> str:
    if server.version is not None and server.version < nacos.KEY_CHECKED_AT_START_SINCE:
        return f"{_version_label(server)} starts, but every login fails when it signs the token"
    return "the server refuses to start"


def check_user_agent_bypass(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = _auth_on(server)
        white = settings.get("user_agent_white") if settings else None
        if white is not None and white.state is State.KNOWN and nacos.is_true(white.value):
            yield finding("NAG208", server.ref, cluster=server.ref, where=white.where)


def check_identity(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = _auth_on(server)
        if settings is None:
            continue
        key, value = settings.get("identity_key"), settings.get("identity_value")
        missing = [label for label, setting in (("key", key), ("value", value)) if _unset(setting)]
        if missing:
            yield finding("NAG301", server.ref, cluster=server.ref,
                          missing=" and ".join(f"{label} (nacos.core.auth.server.identity.{label} / "
                                               f"NACOS_AUTH_IDENTITY_{label.upper()})" for label in missing),
                          impact="the server refuses to start, or nodes reject each other's internal requests "
                                 "with 403 Invalid server identity key or value")
            continue
        if value.state is State.KNOWN and value.value in nacos.WELL_KNOWN_IDENTITY_VALUES:
            yield finding("NAG303", server.ref, cluster=server.ref, where=value.where)
