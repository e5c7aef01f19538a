"""The check engine: pure functions from a CheckContext to findings. No I/O, no clock (`now` is passed in)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Callable, Iterable

from ..discovery import Topology, discover, roles
from ..forked import ForkedWork, can_fork
from ..model import Finding, ObjectRef, PodConfig, State
from .. import nacos
from ..nacos import is_true
from ..shapes import as_dict
from ..snapshot import Snapshot

IGNORE_ANNOTATION = "nacosguard.io/ignore"


@dataclass(frozen=True, slots=True)
class CheckContext:
    snapshot: Snapshot
    topology: Topology
    now: datetime
    token_warning: timedelta = timedelta(days=7)
    servers_by_ref: dict = field(default_factory=dict)

    @classmethod
    def build(cls, snapshot: Snapshot, now: datetime, token_warning: timedelta = timedelta(days=7),
              topology: Topology | None = None) -> "CheckContext":
        topology = topology or discover(snapshot)
        return cls(snapshot, topology, now, token_warning, {s.ref: s for s in topology.servers})


Check = Callable[[CheckContext], Iterable[Finding]]


def all_checks() -> tuple[Check, ...]:
    from . import clients, consistency, openapi, references, resources, server_keys, tokens
    return (resources.check_servers_exist, resources.check_specs_valid, references.check_references,
            references.check_plaintext, references.check_config_files,
            server_keys.check_token_key, server_keys.check_identity, server_keys.check_user_agent_bypass,
            consistency.check_consistency, consistency.check_stale_keys, clients.check_clients,
            tokens.check_access_tokens, openapi.check_openapi_callers)


def run_checks(ctx: CheckContext, exclude: Iterable[str] = ()) -> list[Finding]:
    """Every check over the context, minus excluded codes and codes an object's annotation ignores."""
    excluded = {code.upper() for code in exclude}
    ignored = _ignored_by_annotation(ctx.snapshot)
    findings = {
        f for check in all_checks() for f in check(ctx)
        if f.code not in excluded and f.code not in ignored.get(f.obj, ())
    }
    return sorted(findings, key=_finding_order)


def _finding_order(finding: Finding) -> tuple:
    return finding.obj, finding.code, finding.message


PARALLEL_MIN_WORKLOADS = 400   # other than servers; below this, a second process saves less than its fork costs


def check_in_parts(snapshot: Snapshot, now: datetime, token_warning: timedelta, exclude: Iterable[str] = ()
                   ) -> list[Finding]:
    """run_checks over the whole snapshot, for one-shot commands (lint, scan): on a large input, a forked child
    (forked.py) discovers and checks half of the workloads other than the servers, this process the other half,
    each with every server. Every check judges one server, client or caller at a time, so the union of the two
    halves' findings is the whole input's; only the findings come back from the child, which is cheap. An input
    of servers alone (a tenant of many idle ones) has nothing to split and is checked in one process."""
    exclude = tuple(exclude)
    classified = roles(snapshot)

    def part(share: tuple[int, int]) -> list[Finding]:
        topology = discover(snapshot, share=share, classified=classified)
        return run_checks(CheckContext.build(snapshot, now, token_warning, topology), exclude)

    if len(classified.others) < PARALLEL_MIN_WORKLOADS or not can_fork():
        return part((0, 1))
    import pickle   # a tenth of a small lint's start-up, when it is not needed
    child = ForkedWork(lambda: pickle.dumps(part((1, 2)), pickle.HIGHEST_PROTOCOL))
    findings = part((0, 2))
    data = child.result()
    findings += pickle.loads(data) if data is not None else part((1, 2))
    return sorted(set(findings), key=_finding_order)


def _ignored_by_annotation(snapshot: Snapshot) -> dict[ObjectRef, set[str]]:
    ignored: dict[ObjectRef, set[str]] = {}
    for obj in snapshot.workloads:
        metadata = obj["metadata"]
        text = as_dict(metadata.get("annotations")).get(IGNORE_ANNOTATION)
        if isinstance(text, str) and isinstance(metadata.get("name"), str):
            ref = ObjectRef(obj["kind"], metadata.get("namespace", ""), metadata["name"])
            ignored[ref] = {code.strip().upper() for code in text.split(",") if code.strip()}
    return ignored


def server_container(pod: PodConfig):
    """The Nacos container of a server pod (None when no container looks like Nacos)."""
    return next((c for c in pod.containers if c.server), None)


def server_settings(pod: PodConfig) -> dict:
    container = server_container(pod)
    return container.settings if container is not None else {}


def auth_enabled(settings: dict) -> bool | None:
    """True/False when known; None when the setting lives where the input cannot show it."""
    setting = settings.get("auth_enabled")
    if setting is None:
        return False
    if setting.state is not State.KNOWN:
        return None
    return is_true(setting.value)


def server_version(pod: PodConfig):
    """The Nacos version a server pod runs (its own image: pods of an older revision may run an older one)."""
    container = server_container(pod)
    return nacos.image_version(container.image) if container is not None else None


def _known_true(settings: dict, name: str) -> bool:
    setting = settings.get(name)
    return setting is not None and setting.state is State.KNOWN and is_true(setting.value)


def console_auth(settings: dict, version) -> bool:
    """3.x: auth for the console (on by default), which signs login tokens with the same key."""
    return nacos.newest(version) and _known_true(settings, "console_auth_enabled")


def admin_auth(settings: dict, version) -> bool:
    """3.x: auth for the admin API (nacos.core.auth.admin.enabled, on by default), checked with the same key."""
    return nacos.newest(version) and _known_true(settings, "admin_auth_enabled")


def key_needed_because(settings: dict, version) -> str | None:
    return nacos.key_needed_because(version, auth_enabled(settings) is True, console_auth(settings, version))


def identity_needed_because(settings: dict, version) -> str | None:
    return nacos.identity_needed_because(version, auth_enabled(settings) is True, console_auth(settings, version),
                                         admin_auth(settings, version))


def missing_identity_impact(settings: dict, version) -> str:
    return nacos.missing_identity_impact(version, _known_true(settings, "standalone"))


def signs_tokens(settings: dict, version) -> bool:
    """Whether the server issues and checks tokens: auth on, or (3.x) console auth on."""
    return auth_enabled(settings) is True or console_auth(settings, version)
