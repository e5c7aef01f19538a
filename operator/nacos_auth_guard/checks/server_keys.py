"""NAG201-NAG204 token key rules, NAG208 user-agent bypass, NAG301/NAG303 server identity: per server cluster,
on its pod template (what every pod started from now on gets), with the rules of the image's Nacos version."""
from __future__ import annotations

from typing import Iterable

from .. import nacos
from ..catalog import finding
from ..model import Finding, Origin, ServerCluster, Severity, State
from ..sources import STARTUP_ENV_SETTING
from . import (CheckContext, admin_auth, auth_enabled, console_auth, identity_needed_because, key_needed_because,
               missing_identity_impact, server_container, server_settings)


SCRIPT_REASON = ("the startup script of nacos-docker 3.x images requires that env, auth on or off (a tag that is not "
                 "a version, such as latest, counts as the newest)")
GUESSED_SCRIPT_REASON = ("the startup script of nacos-docker 3.x images requires that env, auth on or off, and "
                         "image {image} names no version, so it is judged as the newest: if it runs Nacos 2.x this "
                         "does not apply (pin a version tag so the check knows)")
SCRIPT_IMPACT = "the container exits before Nacos starts (CrashLoopBackOff)"
PLACEHOLDER_REASON = ("the image's application.properties reads it through a placeholder without a default "
                      "(nacos-docker v2.2.1), auth on or off")
PLACEHOLDER_IMPACT = ("Spring cannot resolve the placeholder and the server does not start (\"Could not resolve "
                      "placeholder\", CrashLoopBackOff)")


def _unresolved_in_image(setting) -> bool:
    """A placeholder of the image's own file that nothing sets: only the image's file yields an unknown image
    default (sources resolves everything else or names the object it lives in)."""
    return setting is not None and setting.origin is Origin.IMAGE_DEFAULT and setting.state is State.UNKNOWN


def _unset(setting) -> bool:
    return setting is None or (setting.state is State.KNOWN and not setting.value)


def _startup_env_missing(settings: dict, *names: str) -> list[str]:
    """Env vars nacos-docker 3.x's startup script requires and this container leaves empty."""
    return [name for name in names if STARTUP_ENV_SETTING + name in settings
            and _unset(settings[STARTUP_ENV_SETTING + name])]


def _script_reason(server: ServerCluster) -> tuple[str, Severity | None]:
    """Why the 3.x startup script applies, and the severity: an error on nacos/nacos-server (from any registry),
    whose `latest` is 3.x; a warning on another repository's untagged image (a mirror's or a vendor's build, such
    as sca-community/nacos-server, which may well be 2.x), where the version is a guess."""
    container = server_container(server.template)
    image = container.image if container is not None else ""
    if server.version is None and nacos.image_repository(image) != nacos.OFFICIAL_REPOSITORY:
        return GUESSED_SCRIPT_REASON.format(image=image), Severity.WARNING
    return SCRIPT_REASON, None


def check_token_key(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = server_settings(server.template)
        if _startup_env_missing(settings, "NACOS_AUTH_TOKEN"):
            why, severity = _script_reason(server)
            yield finding("NAG201", server.ref, cluster=server.ref, properties="env NACOS_AUTH_TOKEN",
                          why=why, impact=SCRIPT_IMPACT, severity=severity)
            continue
        key = settings.get("token_key")
        if _unresolved_in_image(key):
            yield finding("NAG201", server.ref, cluster=server.ref, properties="env NACOS_AUTH_TOKEN",
                          why=PLACEHOLDER_REASON, impact=PLACEHOLDER_IMPACT)
            continue
        why = key_needed_because(settings, server.version)
        if why is None:   # not loaded, or loaded and nothing checks tokens: what a published key means later
            if key is not None and key.state is State.KNOWN:
                yield from _well_known_key(key, server, settings)
            continue
        if _unset(key):
            names = " / ".join(nacos.token_key_properties(server.version) + ("env NACOS_AUTH_TOKEN",))
            yield finding("NAG201", server.ref, cluster=server.ref, properties=names, why=why,
                          impact=nacos.missing_key_impact(server.version))
            continue
        if key.state is State.UNREADABLE:   # bytes that are not text cannot be Base64 either
            yield finding("NAG202", server.ref, cluster=server.ref, where=key.where, impact=_no_key_impact(server))
        if key.state is not State.KNOWN:
            continue
        yield from _well_known_key(key, server, settings)
        decoding = nacos.decode_key(key.value, server.version)
        if not decoding.base64:
            fallback = decoding.key is not None
            yield finding("NAG202", server.ref, cluster=server.ref, where=key.where,
                          severity=Severity.WARNING if fallback else None,
                          impact=_fallback_impact(server) if fallback else _no_key_impact(server))
        if decoding.key is not None and len(decoding.key) < nacos.MIN_KEY_BYTES:
            yield finding("NAG203", server.ref, cluster=server.ref, where=key.where, length=len(decoding.key),
                          impact=nacos.missing_key_impact(server.version))


def _well_known_key(key, server: ServerCluster, settings: dict) -> Iterable[Finding]:
    """NAG204 for a published key the server can sign with (one that fails NAG202/NAG203 signs nothing): an error
    where some kind of auth checks tokens, a warning where none does yet."""
    if not nacos.is_well_known_key(key.value, server.version):
        return
    decoded = nacos.decode_key(key.value, server.version).key
    if decoded is None or len(decoded) < nacos.MIN_KEY_BYTES:
        return
    # 3.x checks tokens per scope: server API (auth.enabled), admin API and console (AuthAdminFilter,
    # NacosConsoleAuthFilter; NacosServerAdminAuthConfig.java:115@3.0.3); before 3.0 auth.enabled covers all
    scopes = [label for label, on in (
        ("the client and open API (nacos.core.auth.enabled)", auth_enabled(settings) is True),
        ("the admin API (nacos.core.auth.admin.enabled)", admin_auth(settings, server.version)),
        ("the console (nacos.core.auth.console.enabled)", console_auth(settings, server.version))) if on]
    if scopes:
        impact = ("anyone can sign a token for any user, the admin nacos included, that "
                  f"{' and '.join(scopes)} accept{'s' if len(scopes) == 1 else ''}")
        severity = None
    else:
        impact = ("auth is off, so no request checks a token today; once auth is turned on with this key, anyone can "
                  "sign a token for any user, the admin nacos included")
        severity = Severity.WARNING
    yield finding("NAG204", server.ref, cluster=server.ref, where=key.where, impact=impact, severity=severity,
                  **_well_known_context(key, server))


def _well_known_context(key, server: ServerCluster) -> dict:
    """An image default needs saying so; on an image whose file feeds NACOS_AUTH_TOKEN into a property its server
    does not read, setting the env changes nothing, and upgrading is the fix."""
    if key.origin is not Origin.IMAGE_DEFAULT:
        return {"why": "", "remedy": ""}
    if not nacos.image_maps_token_env(server.version):
        return {"why": " (the image ignores NACOS_AUTH_TOKEN: its application.properties feeds it into "
                       f"{nacos.TOKEN_KEY_OLD}, which {nacos.version_label(server.version)} does not read; "
                       "alibaba/nacos#9830)",
                "remedy": "upgrade the image (v2.1.1 or later maps NACOS_AUTH_TOKEN to the property the server "
                          "reads), then "}
    return {"why": " (the image's default: nothing sets the key)", "remedy": ""}


def _no_key_impact(server: ServerCluster) -> str:
    return "the server cannot derive its signing key: " + nacos.missing_key_impact(server.version)


def _fallback_impact(server: ServerCluster) -> str:
    return (f"{nacos.version_label(server.version)} falls back to the text's own bytes, so it runs, but other "
            f"versions derive another key from it or refuse to start: an upgrade breaks every token")


UNCONDITIONAL_BYPASS = ("runs {version}, which skips auth for such requests whatever "
                        "nacos.core.auth.enable.userAgentAuthWhite says (CVE-2021-29441)")
UPGRADE_REMEDY = ("upgrade to Nacos 1.4.1 or later, set nacos.core.auth.enable.userAgentAuthWhite=false and "
                  "configure nacos.core.auth.server.identity.key/value")
WHITELIST_REMEDY = ("set it to false (env NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE=false) and configure "
                    "nacos.core.auth.server.identity.key/value instead")


def check_user_agent_bypass(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = server_settings(server.template)
        if auth_enabled(settings) is not True:
            continue
        if nacos.user_agent_bypass_unconditional(server.version):
            yield finding("NAG208", server.ref, cluster=server.ref, cause=UNCONDITIONAL_BYPASS.format(
                version=nacos.version_label(server.version)), remedy=UPGRADE_REMEDY)
            continue
        if not nacos.reads_user_agent_white(server.version):
            continue
        white = settings.get("user_agent_white")
        if white is not None and white.state is State.KNOWN and nacos.is_true(white.value):
            yield finding("NAG208", server.ref, cluster=server.ref, remedy=WHITELIST_REMEDY,
                          cause=f"sets {nacos.USER_AGENT_WHITE}=true ({white.where})")


def check_identity(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        settings = server_settings(server.template)
        key, value = settings.get("identity_key"), settings.get("identity_value")
        script_missing = _startup_env_missing(settings, "NACOS_AUTH_IDENTITY_KEY", "NACOS_AUTH_IDENTITY_VALUE")
        why = identity_needed_because(settings, server.version)
        unresolved = [label for label, setting in (("key", key), ("value", value)) if _unresolved_in_image(setting)]
        severity = None
        if script_missing:
            missing = [name.rsplit("_", 1)[1].lower() for name in script_missing]
            (why, severity), impact = _script_reason(server), SCRIPT_IMPACT
        elif unresolved:
            missing, why, impact = unresolved, PLACEHOLDER_REASON, PLACEHOLDER_IMPACT
        elif why is not None:
            missing = [label for label, setting in (("key", key), ("value", value)) if _unset(setting)]
            impact = missing_identity_impact(settings, server.version)
        else:
            missing = []
        if missing:
            yield finding("NAG301", server.ref, cluster=server.ref, why=why, impact=impact, severity=severity,
                          missing=" and ".join(f"{label} (nacos.core.auth.server.identity.{label} / "
                                               f"env NACOS_AUTH_IDENTITY_{label.upper()})" for label in missing))
            continue
        # A request with the identity header skips the auth filter (AbstractWebAuthFilter.java:90-97@3.0.3, MATCHED);
        # 3.x's admin filter checks it too, with admin auth on by default (NacosServerAdminAuthConfig.java:115@3.0.3),
        # whatever nacos.core.auth.enabled says; the console filter never matches it (NacosConsoleAuthFilter.java:46).
        scopes = [label for label, on in (
            ("the client and open API (nacos.core.auth.enabled)", auth_enabled(settings) is True),
            ("the admin API (nacos.core.auth.admin.enabled)", admin_auth(settings, server.version))) if on]
        if scopes and value is not None and value.state is State.KNOWN \
                and value.value in nacos.WELL_KNOWN_IDENTITY_VALUES:
            yield finding("NAG303", server.ref, cluster=server.ref, where=value.where, scopes=" and ".join(scopes))
