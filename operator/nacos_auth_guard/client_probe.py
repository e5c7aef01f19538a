"""Client logins, pure part: what a Spring client reads from Nacos, and whether a user's roles let it read that.

Two rules, each a pure function tested table-driven (tests/test_client_probe.py):

* config_reads: the config namespace, group and data IDs Spring Cloud Alibaba loads, derived as
  NacosPropertySourceLocator.loadApplicationConfiguration / loadSharedConfiguration / loadExtConfiguration and
  NacosConfigDataLocationResolver do it (spring-cloud-alibaba 2023.0.0.0-RC1).
* permission_granted: Nacos's default auth plugin's decision for one (namespace, group, type, name, action), as
  NacosRoleServiceImpl.hasPermission / joinResource (2.x) and AbstractCheckedRoleService (3.x) make it.

Failed logins: neither UserController.login (2.4.3, 3.0.3) nor UserControllerV3.login (3.0.3) nor
AbstractAuthenticationManager carries a rate limit or a lock-out (no @TpsControl, no attempt counter), so a wrong
password is never locked out by Nacos itself; the bound that keeps a broken client from being tried over and over
is the operator's own (one login per client per interval).
"""
from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass
from typing import Iterable, Mapping, Sequence

from .nacos import Version
from .sources import normalize

GLOBAL_ADMIN_ROLE = "ROLE_ADMIN"          # AuthConstants.java:32@2.4.3
CONSOLE_PREFIX = "console/"               # AuthConstants.CONSOLE_RESOURCE_NAME_PREFIX
DEFAULT_NAMESPACE_ID = "public"
DEFAULT_GROUP = "DEFAULT_GROUP"           # NacosConfigProperties.java:151@2023.0.0.0-RC1
DEFAULT_FILE_EXTENSION = "properties"     # NacosConfigProperties.java:161@2023.0.0.0-RC1
CONFIG, NAMING = "config", "naming"       # SignType.java:26,28@2.4.3
READ, WRITE = "r", "w"
# 3.0.0 writes the public namespace as "public" in the joined resource and prefixes permissions that start with
# ":" with it (AbstractCheckedRoleService.java:83,146@3.0.0); before, public is the empty string (joinResource in
# NacosRoleServiceImpl.java@2.4.3, NamespaceUtil.processNamespaceParameter@2.2.0).
PUBLIC_NAMED_SINCE: Version = (3, 0, 0)
_PUBLIC_ALIASES = ("", "public", "null")  # NamespaceUtil.processNamespaceParameter@2.4.3: blank, public, null


@dataclass(frozen=True, slots=True)
class ConfigRead:
    """One config a client loads at start: namespace ("" = public), group, data ID, and the property that named it."""

    namespace: str
    group: str
    data_id: str
    origin: str


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """A client configuration Spring Cloud Alibaba refuses at start, in its own words."""

    origin: str
    message: str


def _get(props: Mapping[str, str], name: str) -> str:
    value = props.get(normalize(name))
    return value.strip() if isinstance(value, str) else ""


def _indexed(props: Mapping[str, str], prefix: str) -> list[tuple[int, dict[str, str]]]:
    """Spring's list binding of prefix[n].field, in index order."""
    pattern = re.compile(re.escape(normalize(prefix)) + r"\[(\d+)\]\.(.+)$")
    items: dict[int, dict[str, str]] = {}
    for key, value in props.items():
        match = pattern.match(key)
        if match and isinstance(value, str):
            items.setdefault(int(match.group(1)), {})[match.group(2)] = value.strip()
    return sorted(items.items())


def config_reads(properties: Mapping[str, str], profiles: Sequence[str] = ()) -> tuple[list[ConfigRead],
                                                                                        list[ConfigProblem]]:
    """The configs a Spring Cloud Alibaba client loads, in load order; properties in any relaxed form.

    profiles: the active profiles when known from outside the properties (else spring.profiles.active is read).
    """
    props = {normalize(k): v for k, v in properties.items()}
    base = "spring.cloud.nacos.config."
    namespace = _get(props, base + "namespace")
    if namespace == DEFAULT_NAMESPACE_ID:   # NacosConfigProperties.resolveNamespace@2023.0.0.0-RC1: public -> ""
        namespace = ""
    group = _get(props, base + "group") or DEFAULT_GROUP
    extension = _get(props, base + "file-extension") or DEFAULT_FILE_EXTENSION
    active = list(profiles) or [p.strip() for p in _get(props, "spring.profiles.active").split(",") if p.strip()]
    reads: list[ConfigRead] = []
    problems: list[ConfigProblem] = []

    def add(group_: str, data_id: str, origin: str) -> None:
        read = ConfigRead(namespace, group_, data_id, origin)
        if data_id and all((r.group, r.data_id) != (group_, data_id) for r in reads):
            reads.append(read)

    # shared-configs, then extension-configs, then the application's own (NacosPropertySourceLocator.locate)
    for kind in ("shared-configs", "extension-configs"):
        for index, fields in _indexed(props, base + kind):
            add(fields.get("group") or DEFAULT_GROUP, fields.get("dataid", ""), f"{base}{kind}[{index}]")
    prefix_origin = next((p for p in (base + "prefix", base + "name", "spring.application.name") if _get(props, p)),
                         None)
    if prefix_origin is not None:
        prefix = _get(props, prefix_origin)
        add(group, prefix, prefix_origin)
        add(group, f"{prefix}.{extension}", prefix_origin)
        for profile in active:
            add(group, f"{prefix}-{profile}.{extension}", f"{prefix_origin} + profile {profile}")

    for location in (e.strip() for e in _get(props, "spring.config.import").split(",")):
        entry = location[len("optional:"):] if location.startswith("optional:") else location
        if not entry.startswith("nacos:"):
            continue
        data_id, query_group, problem = _import_entry(entry[len("nacos:"):])
        if problem:
            problems.append(ConfigProblem(f"spring.config.import {location}", problem))
        else:
            add(query_group or group, data_id, f"spring.config.import {location}")
    return reads, problems


def _import_entry(rest: str) -> tuple[str, str, str | None]:
    """NacosConfigDataLocationResolver.dataIdFor / groupFor@2023.0.0.0-RC1: path is the data ID, ?group= the group."""
    path, _, query = rest.partition("?")
    path = path if path.startswith("/") else "/" + path
    parts = path[1:].split("/")
    if len(path) <= 1:
        return "", "", "dataId must be specified"
    if len(parts) != 1:
        return "", "", "illegal dataId"
    group = ""
    for pair in query.split("&") if query else ():
        kv = pair.split("=")
        if len(kv) == 2 and kv[0] == "group":
            group = kv[1]
    return urllib.parse.unquote(parts[0]), group, None


@dataclass(frozen=True, slots=True)
class Permission:
    """One row of Nacos's permissions table: a resource pattern and an action (r, w or rw)."""

    resource: str
    action: str


def joined_resource(version: Version | None, namespace: str, group: str, kind: str, name: str) -> str:
    """The string Nacos matches permission patterns against (joinResource)."""
    public = namespace.strip().lower() in _PUBLIC_ALIASES
    if version is not None and version >= PUBLIC_NAMED_SINCE:
        ns = DEFAULT_NAMESPACE_ID if public else namespace.strip()
    else:
        ns = "" if public else namespace.strip()
    return f"{ns}:{group or '*'}:{kind.lower()}/{name or '*'}"


def _pattern(version: Version | None, resource: str) -> str:
    pattern = resource.replace("*", ".*")         # replaceAll("\\*", ".*"): the rest is a Java regex as written
    if version is not None and version >= PUBLIC_NAMED_SINCE and pattern.startswith(":"):
        pattern = DEFAULT_NAMESPACE_ID + pattern
    return pattern


def permission_granted(version: Version | None, roles: Iterable[str], permissions: Iterable[Permission],
                       namespace: str, group: str, kind: str, name: str, action: str) -> bool:
    """hasPermission: the global admin role passes; else any permission of any role whose action contains the
    wanted one and whose pattern matches the whole joined resource."""
    roles = list(roles)
    if not roles:
        return False
    if GLOBAL_ADMIN_ROLE in roles:
        return True
    if name.startswith(CONSOLE_PREFIX):
        return False
    resource = joined_resource(version, namespace, group, kind, name)
    for permission in permissions:
        try:
            if action in permission.action and re.fullmatch(_pattern(version, permission.resource), resource):
                return True
        except re.error:   # Java's Pattern.matches throws here; the request fails rather than passes
            continue
    return False
