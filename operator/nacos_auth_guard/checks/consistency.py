"""NAG205/NAG207/NAG302: pods of one cluster configured differently; NAG206: pods left on an old key."""
from __future__ import annotations

from typing import Iterable

from ..catalog import finding
from ..discovery import members
from ..model import Finding, ObjectRef, PodConfig, ServerCluster, Severity, State
from .. import nacos
from ..nacos import is_true, signature_error
from . import (CheckContext, auth_enabled, key_needed_because, server_container, server_settings,
               server_version)

TEMPLATE_LABEL = "new pods from the current template"   # the StatefulSet template, as a group member


def _label(server: ServerCluster, pod: PodConfig) -> str:
    return TEMPLATE_LABEL if pod is server.template else pod.ref.name


def restart_command(server: ServerCluster) -> str:
    """How to restart every pod of a server workload so each reads its Secret again."""
    ref = server.ref
    pods = " ".join(pod.ref.name for pod in server.pods) or f"{ref.name}-0 {ref.name}-1 ..."
    if ref.kind == "Pod":
        return (f"kubectl delete pod {ref.name} -n {ref.namespace} and apply it again (a bare Pod is not "
                f"restarted by any controller)")
    if ref.kind == "ReplicaSet":
        return f"kubectl delete pod {pods} -n {ref.namespace} (the ReplicaSet creates them again)"
    if server.on_delete:
        return (f"kubectl delete pod {pods} -n {ref.namespace} (its updateStrategy is OnDelete, so a rollout restart "
                f"alone replaces no pod)")
    return f"kubectl rollout restart {ref.kind.lower()}/{ref.name} -n {ref.namespace}"


def describe_groups(groups: list[list[str]]) -> str:
    """[["nacos-0", "nacos-2"], ["nacos-1"]] -> "pods {nacos-0, nacos-2} and {nacos-1}"."""
    return "pods " + " and ".join("{" + ", ".join(group) + "}" for group in groups)


_SKIP = object()   # a member whose value cannot be compared (unknown, or reported as missing elsewhere)


def _groups(server: ServerCluster, identity, only=None) -> dict[object, list[str]]:
    """The cluster's members grouped by what `identity(settings)` returns; `only(pod, settings)` picks members."""
    groups: dict[object, list[str]] = {}
    for pod in members(server):
        settings = server_settings(pod)
        if only is not None and settings and not only(pod, settings):
            continue
        value = identity(settings) if settings else _SKIP
        if value is not _SKIP:
            groups.setdefault(value, []).append(_label(server, pod))
    return groups


def uses_key(pod: PodConfig, settings: dict) -> bool:
    """A member whose key matters: one that needs it (or might: auth not known). A pod with auth off on a version
    that ignores the key is left out, so a half-done auth rollout is NAG207 alone."""
    return auth_enabled(settings) is None or key_needed_because(settings, server_version(pod)) is not None


def uses_identity(pod: PodConfig, settings: dict) -> bool:
    """2.x checks identity only with auth on; 3.x's cluster-internal APIs check it even with auth off
    (RemoteRequestAuthFilter.java:76-80 and InnerApiAuthEnabled.java:75-80@3.0.3)."""
    return auth_enabled(settings) is not False or nacos.newest(server_version(pod))


def _identity_calls(version) -> str:
    if nacos.newest(version):
        return "cluster-internal calls (distro, member reports, config sync)"
    return "cluster-internal HTTP calls"


def _setting_identity(name: str):
    """Values when every member's value is known; references when none is (lint without the Secrets)."""
    def identity(settings: dict):
        setting = settings.get(name)
        if setting is None:
            return None
        if setting.state in (State.MISSING_KEY, State.MISSING_OBJECT, State.UNREADABLE):
            return _SKIP
        return setting.identity
    return identity


def _mixed(groups: dict) -> bool:
    """Known values and mere references cannot be compared with each other."""
    kinds = {key[0] if isinstance(key, tuple) else "value" for key in groups if key is not None}
    return len(kinds) > 1


def _auth_identity(settings: dict):
    setting = settings.get("auth_enabled")
    if setting is None:
        return False
    return is_true(setting.value) if setting.state is State.KNOWN else _SKIP


def check_consistency(ctx: CheckContext) -> Iterable[Finding]:
    for server in ctx.topology.servers:
        if len(members(server)) < 2:
            continue
        auth = _groups(server, _auth_identity)
        if len(auth) > 1:
            yield finding("NAG207", server.ref, cluster=server.ref, enabled=describe_groups([auth[True]]),
                          disabled=describe_groups([auth[False]]), restart=restart_command(server))
        keys = _groups(server, _setting_identity("token_key"), uses_key)
        if len(keys) > 1 and not _mixed(keys):
            yield finding("NAG205", server.ref, cluster=server.ref, groups=describe_groups(list(keys.values())),
                          error=signature_error(server.version), restart=restart_command(server))
        identity_keys = _groups(server, _setting_identity("identity_key"), uses_identity)
        identity_values = _groups(server, _setting_identity("identity_value"), uses_identity)
        differs = [label for label, groups in (("keys", identity_keys), ("values", identity_values))
                   if len(groups) > 1 and not _mixed(groups)]
        if differs:
            both = _groups(server, lambda s: (_setting_identity("identity_key")(s),
                                              _setting_identity("identity_value")(s)), uses_identity)
            yield finding("NAG302", server.ref, cluster=server.ref, what=" and ".join(differs),
                          restart=restart_command(server), error=nacos.login_error(server.version),
                          calls=_identity_calls(server.version),
                          groups=describe_groups([g for k, g in both.items() if _SKIP not in k]))


def check_stale_keys(ctx: CheckContext) -> Iterable[Finding]:
    """A pod runs the key its Secret held when the container started; a later change reaches only newer pods."""
    for server in ctx.topology.servers:
        by_source: dict[tuple[ObjectRef, str], list[tuple[PodConfig, object]]] = {}
        for pod in server.pods:
            container = server_container(pod)
            if container is None or not uses_key(pod, container.settings):
                continue
            setting = container.settings.get("token_key")
            if setting is None or setting.carrier is None or setting.carrier.kind != "Secret" or not setting.key:
                continue
            by_source.setdefault((setting.carrier, setting.key), []).append((pod, container.started_at))
        for (secret, key), pods in sorted(by_source.items(), key=lambda item: (item[0][0], item[0][1])):
            data = ctx.snapshot.secrets.get((secret.namespace, secret.name))
            if data is None:
                continue
            # A known value change, else the managedFields time of the last write: whether that write changed
            # the key cannot be told from it (a label edit by the same manager moves it too).
            known = key in data.changed_at
            changed = data.changed_at.get(key) or data.written_at.get(key)
            if changed is None:
                continue
            started = [(pod, at) for pod, at in pods if at is not None]
            stale = [pod.ref.name for pod, at in started if at < changed]
            fresh = [pod.ref.name for pod, at in started if at >= changed]
            if not stale:
                continue
            when = f"{changed:%Y-%m-%dT%H:%M:%SZ}"
            fields = dict(name=secret.name, key=key, stale=describe_groups([stale]), restart=restart_command(server),
                          change=f"changed at {when}" if known else
                          f"was written at {when} (its managedFields time; whether the key's value changed then "
                          f"cannot be told from it)")
            split = (f"they still run the previous key while {describe_groups([fresh])} run the new one, so clients "
                     f"routed between them get 403 \"{signature_error(server.version)}\"")
            pending = ("every pod still runs the previous key, so nothing fails yet, but the next pod that "
                       "restarts loads the new key and splits the cluster")
            if known:
                yield finding("NAG206", server.ref, cluster=server.ref, **fields, impact=split if fresh else pending,
                              severity=None if fresh else Severity.WARNING)
            else:
                yield finding("NAG206", server.ref, cluster=server.ref, **fields,
                              impact="if it did, " + (split if fresh else pending),
                              severity=Severity.WARNING if fresh else Severity.INFO)
