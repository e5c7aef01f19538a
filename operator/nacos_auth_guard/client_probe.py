"""Client logins, pure part: which clients to log in as, what a Spring client reads from Nacos, whether a user's
roles let it read that, and the findings the answers add up to.

The rules, each a pure function tested table-driven (tests/test_client_probe.py):

* plan_client_logins: for each client of a check, per container and per distinct username/password (Spring Cloud
  Alibaba's config and discovery modules each fall back only to spring.cloud.nacos.username/password), the
  credentials as the container resolves them, the configs it reads and, for a discovery client, its service.
* client_login_findings: NAG611-NAG616 from one login's answers.

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

import hashlib
import re
import urllib.parse
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Mapping, Sequence

from .catalog import finding
from .discovery import pod_template
from .evaluation import CheckSpec, check_clients
from .model import Finding, ObjectRef, Severity, State
from .nacos import Version
from .probe import Answer, Credentials
from .sources import ContainerEnvironment, client_environments, client_settings, normalize

if TYPE_CHECKING:
    from .client_login import ClientLoginResult
    from .discovery import Topology
    from .snapshot import Snapshot

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
class RefusedConfig:
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


def config_reads(properties: Mapping[str, str],
                 profiles: Sequence[str] = ()) -> tuple[list[ConfigRead], list[RefusedConfig]]:
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
    problems: list[RefusedConfig] = []

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
            problems.append(RefusedConfig(f"spring.config.import {location}", problem))
        else:
            add(query_group or group, data_id, f"spring.config.import {location}")
    return reads, problems


BOOT = "nacos.config."   # nacos-spring-boot (nacos-config-spring-boot-autoconfigure)


def boot_config_reads(properties: Mapping[str, str]) -> list[ConfigRead]:
    """The configs nacos-spring-boot loads at start, NacosConfigLoader.loadConfig@0.3.0-RC: only with
    nacos.config.bootstrap.enable (else @NacosPropertySource in code names them); nacos.config.data-id, else
    data-ids split at commas (as written: no trimming), in nacos.config.group (DEFAULT_GROUP) and .namespace; then
    each ext-config[n] with its own data-id(s), group (DEFAULT_GROUP) and namespace (else the global one)."""
    props = {normalize(k): v for k, v in properties.items()}
    if _get(props, BOOT + "bootstrap.enable").lower() != "true":
        return []
    reads: list[ConfigRead] = []

    def add(fields: Mapping[str, str], namespace: str, origin: str) -> None:
        group = fields.get("group", "").strip() or DEFAULT_GROUP
        data_id = fields.get("dataid", "")
        ids = [data_id] if data_id else [i for i in fields.get("dataids", "").split(",") if i]
        namespace = "" if namespace == DEFAULT_NAMESPACE_ID else namespace
        for item in ids:
            if all((r.namespace, r.group, r.data_id) != (namespace, group, item) for r in reads):
                reads.append(ConfigRead(namespace, group, item, origin))

    namespace = _get(props, BOOT + "namespace")
    add({name: _get(props, BOOT + name) for name in ("group", "dataid", "dataids")}, namespace, BOOT + "data-ids")
    for index, fields in _indexed(props, BOOT + "ext-config"):
        add(fields, fields.get("namespace", "").strip() or namespace, f"{BOOT}ext-config[{index}]")
    return reads


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


# --- which clients to log in as -------------------------------------------------------------------------------------

CONFIG_PROPERTIES = ("spring.cloud.nacos.config.namespace", "spring.cloud.nacos.config.group",
                     "spring.cloud.nacos.config.file-extension", "spring.cloud.nacos.config.prefix",
                     "spring.cloud.nacos.config.name", "spring.application.name", "spring.profiles.active",
                     "spring.config.import")
CONFIG_LISTS = ("spring.cloud.nacos.config.shared-configs[", "spring.cloud.nacos.config.extension-configs[")
BOOT_PROPERTIES = ("nacos.config.bootstrap.enable", "nacos.config.namespace", "nacos.config.group",
                   "nacos.config.data-id", "nacos.config.data-ids")
BOOT_LISTS = ("nacos.config.ext-config[",)


@dataclass(frozen=True, slots=True)
class NamingRead:
    """The service a discovery client registers and subscribes to (NacosDiscoveryProperties@2023.0.0.0-RC1:
    service defaults to spring.application.name, group to DEFAULT_GROUP, namespace to public)."""
    namespace: str
    group: str
    service: str


@dataclass(frozen=True, slots=True)
class ClientLogin:
    """One login to try: a client container's username and password (in memory for one run only), where they come
    from (object and key names, never a value), and what the client reads with them."""
    client: ObjectRef
    container: str
    credentials: Credentials = field(repr=False)
    where: str
    password_where: str
    reads: tuple[ConfigRead, ...] = ()
    naming: NamingRead | None = None
    config_namespace_set: bool = False    # written in the input; else Spring Cloud Alibaba's default (public)
    naming_namespace_set: bool = False

    @property
    def key(self) -> tuple:
        """What the operator remembers the login by between runs."""
        return (self.client, self.container, self.where)

    @property
    def fingerprint(self) -> str:
        """Compared in memory between runs (a changed password is tried at once); never printed or stored."""
        return hashlib.sha256(f"{self.credentials.username}\0{self.credentials.password}".encode()).hexdigest()


def plan_client_logins(spec: CheckSpec, topology: "Topology", snapshot: "Snapshot") -> list[ClientLogin]:
    """Every login the check's clients make whose username and password are known. A client whose credentials do
    not resolve is left to the static checks (NAG101, NAG401, NAG404 say why)."""
    logins: list[ClientLogin] = []
    clients = {c.ref: c for c in check_clients(spec, topology)}
    workloads = {ref: w for w in snapshot.workloads
                 for ref in [ObjectRef(w["kind"], w["metadata"].get("namespace"), w["metadata"].get("name"))]
                 if ref in clients}
    for ref, client in clients.items():
        workload = workloads.get(ref)
        if workload is None:
            continue
        _, pod_spec = pod_template(workload)
        annotations = client.template.annotations
        for environment in client_environments(client.ref, pod_spec, snapshot):
            logins.extend(_container_logins(client.ref, environment, annotations))
    return logins


def _container_logins(ref: ObjectRef, environment: ContainerEnvironment, annotations: dict) -> list[ClientLogin]:
    settings = client_settings(environment, annotations)
    if "serverAddr" not in settings:
        return []
    sca_login = any(environment.property(f"spring.cloud.nacos.{scope}{name}") is not None
                    for scope in ("", "config.", "discovery.") for name in ("username", "password"))
    modules: dict[tuple, list[str]] = {}
    credentials: dict[tuple, tuple] = {}
    for module in ("config", "discovery"):
        if sca_login:
            pair = tuple(environment.first_property((f"spring.cloud.nacos.{module}.{name}",
                                                     f"spring.cloud.nacos.{name}")) for name in ("username", "password"))
        else:   # nacos.username, NACOS_USERNAME-style env, the client-env annotation: both modules alike
            pair = (settings.get("username"), settings.get("password"))
        if any(v is None or v.state is not State.KNOWN or not v.value for v in pair):
            continue
        identity = (pair[0].value, pair[1].value, pair[0].where, pair[1].where)
        modules.setdefault(identity, []).append(module)
        credentials[identity] = pair
    config_used = (environment.sets_any("spring.cloud.nacos.config.") or "nacos:" in (
        environment.known_property("spring.config.import") or "")) and _module_enabled(environment, "config")
    boot_used = (environment.known_property(BOOT + "bootstrap.enable") or "").strip().lower() == "true"
    discovery_used = environment.sets_any("spring.cloud.nacos.discovery.") and _module_enabled(environment, "discovery")
    logins = []
    for identity, used in modules.items():
        username, password = credentials[identity]
        where = username.where if username.where == password.where else f"{username.where}; {password.where}"
        reads: tuple[ConfigRead, ...] = ()
        naming = None
        if "config" in used and config_used:
            # entries Spring refuses (config_reads' problems) fail the start: the static checks report those
            reads = tuple(_config_reads(environment, CONFIG_PROPERTIES, CONFIG_LISTS, lambda p: config_reads(p)[0]))
        if "config" in used and boot_used:
            reads += tuple(_config_reads(environment, BOOT_PROPERTIES, BOOT_LISTS, boot_config_reads))
        if "discovery" in used and discovery_used:
            naming = _naming_read(environment)
        logins.append(ClientLogin(ref, environment.container, Credentials(username.value, password.value), where,
                                  password.where, reads, naming,
                                  any(environment.known_property(p) is not None
                                      for p in ("spring.cloud.nacos.config.namespace", BOOT + "namespace")),
                                  environment.known_property("spring.cloud.nacos.discovery.namespace") is not None))
    return logins


def _module_enabled(environment: ContainerEnvironment, module: str) -> bool:
    """spring.cloud.nacos.<module>.enabled is true unless set otherwise (a value the input cannot show: not known
    to be on, so not judged)."""
    found = environment.property(f"spring.cloud.nacos.{module}.enabled")
    return found is None or (found.state is State.KNOWN and (found.value or "").strip().lower() == "true")


def _config_reads(environment: ContainerEnvironment, properties: Sequence[str], lists: Sequence[str],
                  derive: Callable[[dict[str, str]], list[ConfigRead]]) -> list[ConfigRead]:
    """The configs the container reads, when every property they derive from is known (a value in an object the
    input does not hold could name other data IDs: then none is judged)."""
    names = list(properties) + sorted(k for prefix in lists for k in environment.indexed_keys(prefix))
    props: dict[str, str] = {}
    for name in names:
        found = environment.property(name)
        if found is None:
            continue
        if found.state is not State.KNOWN or found.value is None:
            return []
        props[normalize(name)] = found.value
    return derive(props)


def _naming_read(environment: ContainerEnvironment) -> NamingRead | None:
    values = {}
    for name in ("namespace", "group", "service"):
        found = environment.property(f"spring.cloud.nacos.discovery.{name}")
        if found is not None and found.state is not State.KNOWN:
            return None
        values[name] = (found.value or "").strip() if found is not None else ""
    service = values["service"] or (environment.known_property("spring.application.name") or "").strip()
    if not service:
        return None
    namespace = "" if values["namespace"] == DEFAULT_NAMESPACE_ID else values["namespace"]
    return NamingRead(namespace, values["group"] or DEFAULT_GROUP, service)


# --- what the answers mean ------------------------------------------------------------------------------------------

LOGIN_REFUSED = ("user not found!", "User not found! Please check user exist or password is right!", "unknown user!")
DEFAULT_USER = "nacos"
NO_DEFAULT_USER_SINCE: Version = (2, 4, 0)   # derby-schema.sql and mysql-schema.sql insert no user from 2.4.0
# Configs a user names (the ones derived from the application name need not exist)
_EXPLICIT = ("spring.config.import", "spring.cloud.nacos.config.shared-configs", "spring.cloud.nacos.config.extension-configs",
             BOOT)
_ASSUMED = (" (no namespace is set in the input, so Spring Cloud Alibaba's default, public, was read; if the "
            "application's own files set another, read this with that in mind)")


def login_refused(answer: Answer) -> bool:
    """Nacos refused the login itself (an unknown user or a wrong password), as opposed to no or another answer."""
    return answer.status == 403 and answer.message in LOGIN_REFUSED


def _namespace_name(namespace: str) -> str:
    return namespace or DEFAULT_NAMESPACE_ID


def _configs(reads: Sequence[ConfigRead]) -> str:
    named = [f"{r.data_id} (group {r.group}, from {r.origin})" for r in reads[:5]]
    more = f" and {len(reads) - 5} more" if len(reads) > 5 else ""
    return ("configs " if len(reads) > 1 else "config ") + ", ".join(named) + more


def client_login_findings(login: ClientLogin, result: "ClientLoginResult", server: ObjectRef,
                          version: Version | None, port: int, scheme: str) -> list[Finding]:
    from .client_login import ReadOutcome

    common = dict(cluster=server, server=server, where=login.where)
    if not result.logged_in:
        answer = result.answer
        if login_refused(answer):
            hint = ""
            if login.credentials.username == DEFAULT_USER and version is not None and version >= NO_DEFAULT_USER_SINCE:
                hint = (f"; the username is Nacos's old built-in user, which servers from 2.4.0 do not create "
                        f"(this one runs {'.'.join(map(str, version))})")
            return [finding("NAG611", login.client, **common, pod=result.pod, answer=answer.describe(), hint=hint,
                            source=login.password_where)]
        detail = f"the login on pod {result.pod} {'got no answer: ' if answer.status is None else 'answered '}" \
                 f"{answer.describe()}"
        return [finding("NAG615", login.client, **common, detail=detail, port=port, scheme=scheme)]
    findings: list[Finding] = []
    by_outcome: dict[object, list] = {}
    for item in result.reads:
        by_outcome.setdefault(item.outcome, []).append(item)
    for outcome, code in ((ReadOutcome.DENIED, "NAG612"), (ReadOutcome.MISSING, "NAG614")):
        items = by_outcome.get(outcome, [])
        if outcome is ReadOutcome.MISSING:
            items = [i for i in items if i.read.origin.startswith(_EXPLICIT)]
        for namespace in sorted({i.read.namespace for i in items}):
            group = [i for i in items if i.read.namespace == namespace]
            reads = [i.read for i in group]
            severity = None if login.config_namespace_set or code != "NAG612" else Severity.WARNING
            findings.append(finding(code, login.client, **common, severity=severity, configs=_configs(reads),
                                    namespace=_namespace_name(namespace), answer=group[0].answer.describe(),
                                    assumed="" if login.config_namespace_set else _ASSUMED,
                                    resource=f"{namespace}:*:*"))
    failed = by_outcome.get(ReadOutcome.FAILED, [])
    if failed:
        findings.append(finding("NAG615", login.client, **common, port=port, scheme=scheme,
                                detail=f"reading {_configs([i.read for i in failed])} answered "
                                       f"{failed[0].answer.describe()}"))
    naming = result.naming
    if login.naming is not None and naming is not None:
        fields = dict(service=login.naming.service, group=login.naming.group,
                      namespace=_namespace_name(login.naming.namespace),
                      resource=f"{login.naming.namespace}:{login.naming.group}:*")
        if naming.outcome is ReadOutcome.DENIED:
            findings.append(finding("NAG613", login.client, **common, **fields, answer=naming.answer.describe(),
                                    severity=None if login.naming_namespace_set else Severity.WARNING,
                                    assumed="" if login.naming_namespace_set else _ASSUMED))
        elif naming.outcome is ReadOutcome.FAILED:
            findings.append(finding("NAG615", login.client, **common, port=port, scheme=scheme,
                                    detail=f"reading the instance list of service {login.naming.service} answered "
                                           f"{naming.answer.describe()}"))
        else:
            findings.append(finding("NAG616", login.client, **common, **fields))
    return findings
