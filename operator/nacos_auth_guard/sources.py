"""Where a container's settings come from, resolved the way Spring Boot resolves them.

Precedence (highest first), as Spring Boot applies it: `--key=value` command-line args, the JSON of
SPRING_APPLICATION_JSON (env, or spring.application.json as a flag), `-Dkey=value` Java system properties (command,
args, JAVA_OPT, JAVA_OPT_EXT, JAVA_OPTS, JAVA_TOOL_OPTIONS), OS env by relaxed binding (NACOS_CORE_AUTH_ENABLED, or
the property's own dotted name as the env name), then config files (a mounted application.properties / Spring yml, or the image's own
file), whose `${ENV:default}` placeholders resolve against the environment when the process starts.

Values that live in Secrets and ConfigMaps are looked up in the Snapshot; a value is kept in memory only to be
compared and checked, and never leaves the engine.
"""
from __future__ import annotations

import functools
import json
import marshal
import posixpath
import re
import shlex
from dataclasses import dataclass, field
from typing import Iterable

from . import nacos, seata
from .shapes import as_dict, as_list, as_text
from .model import (ConfigFileError, ConfigProblem, ContainerConfig, ObjectRef, Origin, PodConfig, Reference,
                    Setting, State)
from .snapshot import ABSENT, Snapshot, parse_time
from .yamlio import load_yaml_documents

JAVA_OPTION_ENV = ("JAVA_OPT", "JAVA_OPT_EXT", "JAVA_OPTS", "JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")
JVM_READ_FIRST_ENV = ("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")
CONFIG_LOCATION_PROPERTIES = ("spring.config.location", "spring.config.additional-location")
CLIENT_CONFIG_FILE = re.compile(r"^(application|bootstrap)(-[\w.-]+)?\.(properties|ya?ml)$")
PLACEHOLDER = re.compile(r"\$\{([^}:]+)(?::([^}]*))?\}")
MAX_PLACEHOLDER_DEPTH = 8


def normalize(prop: str) -> str:
    """Spring's relaxed form: case and dashes do not matter (server-addr == serverAddr)."""
    return prop.lower().replace("-", "")


def env_candidates(prop: str) -> tuple[str, str]:
    """Env names Spring maps to a property: dots to underscores, dashes dropped or underscored, upper case."""
    upper = prop.upper().replace(".", "_")
    return upper.replace("-", ""), upper.replace("-", "_")


@functools.lru_cache(maxsize=1024)
def _lookup_forms(prop: str) -> tuple[str, tuple[str, str]]:
    """normalize() and env_candidates() of a property looked up: the same few hundred names for every container."""
    return normalize(prop), env_candidates(prop)


@dataclass(slots=True)
class _Value:
    value: str | None
    where: str
    origin: Origin
    state: State = State.KNOWN
    carrier: ObjectRef | None = None
    key: str | None = None

    def setting(self) -> Setting:
        return Setting(self.value, self.where, self.origin, self.state, self.carrier, self.key)


@dataclass(slots=True)
class _ConfigFile:
    where: str
    properties: dict[str, _Value] | None   # None: content unknown (object not in the input, or unreadable)


@dataclass(slots=True)
class _SeataFile:
    where: str
    leaves: dict[str, seata.Leaf] | None   # None: content unknown (not in the input, refused, unreadable)
    origin: Origin = Origin.CONFIG_MAP
    carrier: ObjectRef | None = None
    key: str | None = None


@dataclass(slots=True)
class ContainerEnvironment:
    """Everything one container can read its settings from, indexed for lookups by property or env name."""
    container: str
    args: dict[str, _Value] = field(default_factory=dict)          # normalized property -> value
    system: dict[str, _Value] = field(default_factory=dict)        # normalized property -> value
    env: dict[str, _Value] = field(default_factory=dict)           # env name -> value
    dotted_env: dict[str, _Value] = field(default_factory=dict)    # normalized property -> env named like it
    application_json: dict[str, _Value] = field(default_factory=dict)   # normalized property -> value
    application_json_unknown: _Value | None = None                 # SPRING_APPLICATION_JSON of unknown content
    opaque: list[str] = field(default_factory=list)                # envFrom sources whose keys are unknown
    files: list[_ConfigFile] = field(default_factory=list)
    startup_script: bool = False                                   # runs nacos-docker's docker-startup.sh
    seata_files: list[_SeataFile] = field(default_factory=list)    # a Seata registry.conf it mounts (seata.py)
    seata_spring: bool = False                                     # a seata-server image of 1.5+ (Spring Boot)
    seata_version: nacos.Version | None = None                     # its image's version

    def env_var(self, name: str) -> _Value | None:
        found = self.env.get(name)
        if found is None and self.opaque:
            return _Value(None, f"env {name} (maybe from {', '.join(self.opaque)})", Origin.POD_SPEC, State.UNKNOWN)
        return found

    def property(self, prop: str, depth: int = 0) -> _Value | None:
        norm, env_names = _lookup_forms(prop)
        found = self.args.get(norm) or self.application_json.get(norm)
        if found:
            return found
        if self.application_json_unknown is not None:
            return _Value(None, f"{prop} (maybe in {self.application_json_unknown.where})", Origin.POD_SPEC,
                          State.UNKNOWN)
        found = self.system.get(norm)
        if found:
            return found
        for name in env_names:
            if name in self.env:
                return self.env[name]
        if norm in self.dotted_env:
            return self.dotted_env[norm]
        for config in self.files:   # highest precedence first: a file whose content is unknown hides the rest
            if config.properties is None:
                return _Value(None, f"{prop} (maybe in {config.where})", Origin.POD_SPEC, State.UNKNOWN)
            value = config.properties.get(norm)
            if value is not None:
                return self._resolve_placeholders(value, depth)
        if self.opaque:
            return _Value(None, f"{prop} (maybe from {', '.join(self.opaque)})", Origin.POD_SPEC, State.UNKNOWN)
        return None

    def known_property(self, prop: str) -> str | None:
        """The value when it is known; None when unset or unknown (use property() to tell them apart)."""
        found = self.property(prop)
        return found.value if found is not None and found.state is State.KNOWN else None

    def indexed_keys(self, prefix: str) -> set[str]:
        """The normalized keys under prefix (`...shared-configs[0].data-id`) that any property source names."""
        norm = normalize(prefix)
        pools = [self.args, self.application_json, self.system, self.dotted_env,
                 *(f.properties for f in self.files if f.properties is not None)]
        return {key for pool in pools for key in pool if key.startswith(norm)}

    def sets_any(self, prefix: str) -> bool:
        """Whether any property source sets a property under prefix (`spring.cloud.nacos.discovery.`), the env
        by its upper-case form too."""
        env_prefix = env_candidates(prefix)[0]
        return bool(self.indexed_keys(prefix)) or any(name.startswith(env_prefix) for name in self.env)

    def first_property(self, props: Iterable[str]) -> _Value | None:
        for prop in props:
            found = self.property(prop)
            if found is not None:
                return found
        return None

    def _resolve_placeholders(self, value: _Value, depth: int) -> _Value:
        text = value.value
        if value.state is not State.KNOWN or text is None or "${" not in text or depth > MAX_PLACEHOLDER_DEPTH:
            return value
        whole = PLACEHOLDER.fullmatch(text.strip())
        if whole:  # the common `key=${ENV:default}`: the env var's own source (often a Secret) is the source
            name, default = whole.group(1), whole.group(2)
            found = self.env_var(name) or self.property(name, depth + 1)
            if found is not None:
                # Through the image's own file is how every NACOS_* env var gets in: not worth saying.
                where = found.where if value.origin is Origin.IMAGE_DEFAULT else (
                    f"{found.where} via ${{{name}}} in {value.where}")
                return _Value(found.value, where, found.origin, found.state, found.carrier, found.key)
            if default is None:
                return _Value(None, f"{value.where} (${{{name}}} is not set)", value.origin, State.UNKNOWN)
            return _Value(default, f"default of ${{{name}}} in {value.where}", value.origin, State.KNOWN,
                          value.carrier, value.key)
        parts: list[str] = []
        position = 0
        for match in PLACEHOLDER.finditer(text):
            found = self.env_var(match.group(1)) or self.property(match.group(1), depth + 1)
            replacement = found.value if found is not None else match.group(2)
            if replacement is None:
                return _Value(None, value.where, value.origin, State.UNKNOWN)
            parts += [text[position:match.start()], replacement]
            position = match.end()
        return _Value("".join(parts) + text[position:], value.where, value.origin, value.state, value.carrier,
                      value.key)


# --- building a container's environment -----------------------------------------------------------------------------

@dataclass(slots=True)
class _PodContext:
    ref: ObjectRef
    snapshot: Snapshot
    volumes: dict[str, dict]
    references: dict[tuple, Reference] = field(default_factory=dict)
    relevant: set[tuple] = field(default_factory=set)   # references that can carry auth settings
    config_errors: dict[str, ConfigFileError] = field(default_factory=dict)   # by where

    def refer(self, kind: str, name: str, key: str | None, optional: bool, where: str, relevant: bool = False,
              mount: bool = False) -> None:
        ref_key = (kind, name, key)
        if ref_key not in self.references:   # the first place it is read stays the one reported
            self.references[ref_key] = Reference(kind, name, key, optional, where, mount)
        if relevant:
            self.relevant.add(ref_key)


def _object_value(ctx: _PodContext, kind: str, name: str, key: str, optional: bool, where: str,
                  mount: bool = False, reference: tuple[str | None, str] | None = None) -> _Value:
    """The value of one key of a Secret/ConfigMap, as a container started now would see it. `reference`:
    (key or None for the whole object, where) as the reference to report, when it differs from the value's."""
    ref_key, ref_where = reference or (key, where)
    ctx.refer(kind, name, ref_key, optional, ref_where, mount=mount)
    carrier = ObjectRef(kind, ctx.ref.namespace, name)
    origin = Origin.SECRET if kind == "Secret" else Origin.CONFIG_MAP
    obj = ctx.snapshot.lookup(kind, ctx.ref.namespace, name)
    if obj is None:
        return _Value(None, where, origin, State.UNKNOWN, carrier, key)
    if obj is ABSENT:
        return _Value(None, where, origin, State.MISSING_OBJECT, carrier, key)
    if key not in obj.data:
        return _Value(None, where, origin, State.MISSING_KEY, carrier, key)
    raw = obj.data[key]
    text = _utf8(raw) if isinstance(raw, bytes) else raw if isinstance(raw, str) else None
    if text is None:
        return _Value(None, where, origin, State.UNREADABLE, carrier, key)
    return _Value(text, where, origin, State.KNOWN, carrier, key)


def _utf8(raw: bytes) -> str | None:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _environment_variables(ctx: _PodContext, container: dict, environment: ContainerEnvironment) -> None:
    cname = environment.container
    for source in as_list(container.get("envFrom")):
        if not isinstance(source, dict):
            continue
        prefix = as_text(source.get("prefix")) or ""
        for kind, field_name in (("ConfigMap", "configMapRef"), ("Secret", "secretRef")):
            spec = source.get(field_name)
            if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
                continue
            name, optional = spec["name"], spec.get("optional") is True
            ctx.refer(kind, name, None, optional, f"envFrom of container {cname}", relevant=True)
            obj = ctx.snapshot.lookup(kind, ctx.ref.namespace, name)
            if obj is None:
                environment.opaque.append(f"{kind} {name}")
            elif obj is not ABSENT:
                for key in obj.data:
                    environment.env[prefix + key] = _object_value(
                        ctx, kind, name, key, optional, f"env {prefix + key} ({kind} {name} key {key!r})")
    for var in as_list(container.get("env")):
        if not isinstance(var, dict) or not isinstance(var.get("name"), str):
            continue
        name = var["name"]
        value_from = var.get("valueFrom")
        if isinstance(value_from, dict):
            for kind, field_name in (("Secret", "secretKeyRef"), ("ConfigMap", "configMapKeyRef")):
                spec = value_from.get(field_name)
                if isinstance(spec, dict) and isinstance(spec.get("name"), str) and isinstance(spec.get("key"), str):
                    environment.env[name] = _object_value(
                        ctx, kind, spec["name"], spec["key"], spec.get("optional") is True,
                        f"env {name} ({kind} {spec['name']} key {spec['key']!r}) of container {cname}",
                        reference=(spec["key"], f"env {name} of container {cname}"))
                    break
            else:  # fieldRef / resourceFieldRef: not an auth setting
                environment.env.pop(name, None)
            continue
        text = as_text(var.get("value"))
        environment.env[name] = _Value(text if text is not None else "", f"env {name} of container {cname}",
                                       Origin.POD_SPEC)


def _spring_env_forms(environment: ContainerEnvironment) -> None:
    """The env forms Spring Boot reads besides the upper-case one: an env var named like the property itself
    (`spring.cloud.nacos.server-addr`; SystemEnvironmentPropertySource tries the name as given first), and the
    SPRING_APPLICATION_JSON env or spring.application.json flag (SpringApplicationJsonEnvironmentPostProcessor: its
    properties rank above system properties and env, below command-line args)."""
    for name, value in environment.env.items():
        if "." in name:
            environment.dotted_env[normalize(name)] = value
    source = (environment.args.get(normalize(APPLICATION_JSON_PROPERTY))
              or environment.system.get(normalize(APPLICATION_JSON_PROPERTY))
              or next((environment.env[n] for n in (APPLICATION_JSON_ENV, APPLICATION_JSON_PROPERTY)
                       if n in environment.env), None))
    if source is None:
        return
    if source.state is not State.KNOWN or source.value is None:
        environment.application_json_unknown = source
        return
    try:
        document = json.loads(source.value)
    except (ValueError, RecursionError):   # Spring Boot fails to start on it; nothing of it reaches a property
        return
    flat: dict[str, str] = {}
    if isinstance(document, dict):
        _flatten(document, "", flat, [MAX_CONFIG_NODES])
    for prop, text in flat.items():
        environment.application_json[normalize(prop)] = _Value(
            text, f"{prop} in {source.where}", source.origin, State.KNOWN, source.carrier, source.key)


APPLICATION_JSON_ENV, APPLICATION_JSON_PROPERTY = "SPRING_APPLICATION_JSON", "spring.application.json"


def _command_line(environment: ContainerEnvironment, container: dict, startup_script: bool) -> None:
    """-D and --key=value flags. Under nacos-docker's startup script (see nacos.py) container args are ignored,
    JAVA_OPT holds JVM options, JAVA_OPT_EXT program arguments and JAVA_OPTS nothing."""
    cname = environment.container

    def from_env(name: str) -> None:
        if startup_script and name in nacos.STARTUP_UNREAD_ENV:
            return
        kinds = ("--",) if startup_script and name in nacos.STARTUP_PROGRAM_ARGUMENT_ENV else (
            ("-D",) if startup_script else ("-D", "--"))
        value = environment.env.get(name)
        if value is not None and value.state is State.KNOWN and value.value:
            for token in _split(value.value):
                _option(environment, token, f"{name} of container {cname}", value, kinds)

    # Later flags win. The JVM reads JAVA_TOOL_OPTIONS and JDK_JAVA_OPTIONS before the command line, so a -D in
    # the command (or in JAVA_OPT, which the command carries) beats them.
    for name in JVM_READ_FIRST_ENV:
        from_env(name)
    if not startup_script:
        words = [w for w in as_list(container.get("command")) + as_list(container.get("args")) if isinstance(w, str)]
        for word in words:
            for token in _split(word):  # `sh -c "java -Dx=y ..."` carries flags inside one word
                _option(environment, token, f"the command/args of container {cname}")
    for name in JAVA_OPTION_ENV:
        if name not in JVM_READ_FIRST_ENV:
            from_env(name)


def _startup_script_flags(environment: ContainerEnvironment, version: nacos.Version | None) -> None:
    """The -D flags nacos-docker's docker-startup.sh adds from env; they come after JAVA_OPT, so they win over it."""
    for env_name, prop in nacos.startup_flags(version):
        found = environment.env.get(env_name)
        if found is None or (found.state is State.KNOWN and not found.value):   # the script skips empty values
            continue
        environment.system[normalize(prop)] = _Value(
            found.value, f"{found.where}, passed as -D{prop} by the image's docker-startup.sh", found.origin,
            found.state, found.carrier, found.key)
    mode = environment.env.get(nacos.STANDALONE_MODE_ENV)
    if mode is not None and mode.state is State.KNOWN and mode.value == "standalone":
        environment.system[normalize(nacos.STANDALONE)] = _Value(
            "true", f"{mode.where} (MODE=standalone), passed as -D{nacos.STANDALONE}=true by docker-startup.sh",
            mode.origin)


_SHELL_QUOTING = re.compile(r"['\"\\]")
_SHELL_BLANKS = re.compile(r"[ \t\r\n]+")   # shlex's whitespace; str.split() would split on more


def _split(text: str) -> list[str]:
    if not _SHELL_QUOTING.search(text):   # nothing for shlex to unquote: the same words, ten times faster
        return [word for word in _SHELL_BLANKS.split(text) if word]
    try:
        return shlex.split(text)
    except ValueError:
        return text.split()


def _option(environment: ContainerEnvironment, token: str, where: str, source: _Value | None = None,
            kinds: tuple[str, ...] = ("-D", "--")) -> None:
    if not token.startswith(kinds):
        return
    if token.startswith("-D") and "=" in token:
        target, prop, value = environment.system, *token[2:].split("=", 1)
        label = f"-D{prop} in {where}"
    elif token.startswith("--") and "=" in token:
        target, prop, value = environment.args, *token[2:].split("=", 1)
        label = f"--{prop} in {where}"
    else:
        return
    origin, carrier, key = (source.origin, source.carrier, source.key) if source else (Origin.POD_SPEC, None, None)
    target[normalize(prop)] = _Value(value, label, origin, State.KNOWN, carrier, key)


# --- mounted config files -----------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class _Mounted:
    path: str
    kind: str
    name: str
    key: str
    optional: bool
    volume: str
    listed: bool        # the volume names the key (items), so a missing key is an error, not just no file


def _mounted_files(ctx: _PodContext, container: dict) -> list[_Mounted]:
    files: list[_Mounted] = []
    for mount in as_list(container.get("volumeMounts")):
        if not isinstance(mount, dict) or not isinstance(mount.get("mountPath"), str) or not isinstance(
                mount.get("name"), str):
            continue
        volume = ctx.volumes.get(mount["name"])
        if volume is None:
            continue
        sub_path = as_text(mount.get("subPath"))
        for kind, name, key, path, optional, listed in _volume_files(ctx, volume):
            if sub_path:
                if path == sub_path:
                    files.append(_Mounted(mount["mountPath"], kind, name, key, optional, volume["name"], listed))
            else:
                files.append(_Mounted(posixpath.join(mount["mountPath"], path), kind, name, key, optional,
                                      volume["name"], listed))
    return files


def _volume_files(ctx: _PodContext, volume: dict) -> Iterable[tuple[str, str, str, str, bool, bool]]:
    sources = []
    if isinstance(volume.get("configMap"), dict):
        sources.append(("ConfigMap", volume["configMap"], volume["configMap"].get("name")))
    if isinstance(volume.get("secret"), dict):
        sources.append(("Secret", volume["secret"], volume["secret"].get("secretName")))
    projected = volume.get("projected")
    if isinstance(projected, dict):
        for source in as_list(projected.get("sources")):
            if isinstance(source, dict):
                for kind, field_name in (("ConfigMap", "configMap"), ("Secret", "secret")):
                    if isinstance(source.get(field_name), dict):
                        sources.append((kind, source[field_name], source[field_name].get("name")))
    for kind, spec, name in sources:
        if not isinstance(name, str):
            continue
        optional = spec.get("optional") is True
        items = [i for i in as_list(spec.get("items")) if isinstance(i, dict) and isinstance(i.get("key"), str)]
        if items:
            for item in items:
                yield kind, name, item["key"], as_text(item.get("path")) or item["key"], optional, True
            continue
        obj = ctx.snapshot.lookup(kind, ctx.ref.namespace, name)
        if obj is None or obj is ABSENT:
            # Keys unknown: offer each well-known config file name, so a mount of it is still noticed.
            for file_name in ("application.properties", "application.yml", "application.yaml", "bootstrap.yml",
                              "bootstrap.yaml", "bootstrap.properties"):
                yield kind, name, file_name, file_name, optional, False
        else:
            for key in obj.data:
                yield kind, name, key, key, optional, False


def _config_file(ctx: _PodContext, mounted: _Mounted, cname: str) -> _ConfigFile:
    where = f"{mounted.path} ({mounted.kind} {mounted.name} key {mounted.key!r}) in container {cname}"
    ref_key = mounted.key if mounted.listed else None   # else: the whole object, the volume's one reference
    value = _object_value(ctx, mounted.kind, mounted.name, mounted.key, mounted.optional, where, mount=True,
                          reference=(ref_key, f"volume {mounted.volume} of container {cname}"))
    ctx.relevant.add((mounted.kind, mounted.name, ref_key))
    if value.state is not State.KNOWN or value.value is None:
        return _ConfigFile(where, None if value.state in (State.UNKNOWN, State.UNREADABLE) else {})
    origin = Origin.SECRET if mounted.kind == "Secret" else Origin.CONFIG_MAP
    flat = parse_config(value.value, mounted.path)
    if isinstance(flat, ConfigProblem):   # the container cannot start with it; what it would have read is unknown
        ctx.config_errors.setdefault(where, ConfigFileError(where, flat.problem, flat.impact, flat.fix,
                                                            flat.fails_start))
        return _ConfigFile(where, None)
    carrier = ObjectRef(mounted.kind, ctx.ref.namespace, mounted.name)
    return _ConfigFile(where, {
        normalize(prop): _Value(text, f"{prop} in {where}", origin, State.KNOWN, carrier, mounted.key)
        for prop, text in flat.items()})


# OriginTrackedPropertiesLoader.java:225@2.4.3 (the same in 1.4.1, 2.2.0 and 3.0.3; Nacos' copy of Spring Boot's,
# which Spring Boot applications use for application.properties): a `\u` not followed by four hex digits throws,
# and the process stops at start-up.
MALFORMED_U_ESCAPE = "java.lang.IllegalStateException: Malformed \\uxxxx encoding."
_ESCAPE = re.compile(r"\\(?:u[0-9a-fA-F]{4}|.|$)", re.DOTALL)
U_ESCAPE_FIX = ("write each backslash that does not start a \\uXXXX escape as two (C:\\\\users), or write paths "
                "with / (C:/users)")
YAML_UNREADABLE = "the application stops at start-up: Spring Boot cannot load a YAML file it cannot parse."
YAML_FIX = ("correct the YAML at that line: no tags (!!bool, or a value starting with ! that should be quoted), "
            "no alias that refers to itself or expands it beyond 100,000 values, nesting under 1,000 levels")


def parse_config(text: str, path: str) -> dict[str, str] | ConfigProblem:
    """Flattens a .properties or Spring YAML file to dotted keys, or says why its reader refuses it."""
    if path.endswith((".yml", ".yaml")):
        try:
            documents = load_yaml_documents(text)
        except ValueError as error:   # yamlio's messages hold a line, never input text
            return ConfigProblem(str(error), YAML_UNREADABLE, YAML_FIX)
        flat: dict[str, str] = {}
        budget = [MAX_CONFIG_NODES]
        for document in documents:
            if isinstance(document, dict):
                _flatten(document, "", flat, budget)
        if budget[0] < 0:
            return ConfigProblem(f"more than {MAX_CONFIG_NODES:,} values", "this tool reads no more of it.",
                                 "split the file, or drop the values the application does not use", False)
        return flat
    line = _malformed_u_escape_line(text)
    if line is not None:
        return ConfigProblem(f"a \\u escape without four hex digits (line {line})",
                             f"the process stops at start-up: {MALFORMED_U_ESCAPE}", U_ESCAPE_FIX)
    import javaproperties   # it imports xml and urllib: a sixth of a small lint's start-up, paid only here
    try:
        return javaproperties.loads(text)
    except Exception:  # noqa: BLE001 - javaproperties raises assorted errors whose text quotes the input
        return ConfigProblem("not a .properties file Java can read", "the process stops at start-up.",
                             U_ESCAPE_FIX)


def _malformed_u_escape_line(text: str) -> int | None:
    r"""The first line with a `\u` the loader refuses (`C:\users`), skipping comments as it does; None if none."""
    continued = False
    for number, row in enumerate(text.split("\n"), 1):
        stripped = row.lstrip(" \t\f")
        if not continued and stripped[:1] in ("#", "!"):
            continue
        continued = False
        for escape in _ESCAPE.finditer(stripped.removesuffix("\r")):
            if escape.group() == "\\u":
                return number
            continued = escape.group() == "\\"   # a backslash ending the line joins the next one
    return None


MAX_CONFIG_NODES = 200_000   # every node counts, null leaves too: a walk costs what it visits
MAX_CONFIG_DEPTH = 64        # deeper than any Spring property name


def _flatten(node: object, prefix: str, out: dict[str, str], budget: list[int], depth: int = 0) -> None:
    budget[0] -= 1
    if depth > MAX_CONFIG_DEPTH or budget[0] < 0:
        return
    if isinstance(node, dict):
        for key, value in node.items():
            _flatten(value, f"{prefix}.{key}" if prefix else str(key), out, budget, depth + 1)
            if budget[0] < 0:
                return
    elif isinstance(node, list):
        for index, value in enumerate(node):
            _flatten(value, f"{prefix}[{index}]", out, budget, depth + 1)
            if budget[0] < 0:
                return
    else:
        text = as_text(node)
        if text is not None:
            out[prefix] = text


@functools.lru_cache(maxsize=256)
def _image_files(version: nacos.Version | None, image: str, mounted_over: bool) -> tuple[_ConfigFile, ...]:
    """The image's own configuration, lowest precedence last: nacos-docker's conf file (unless a file is mounted
    over it) and the defaults built into nacos-server.jar (always loaded, beneath everything). Cached: the same for
    every pod of an image, and nothing reads them but lookups."""
    layers = [] if mounted_over else [(f"the image's {nacos.NACOS_DOCKER_CONF_PATH} ({image})",
                                       nacos.docker_properties(version))]
    layers.append((f"the defaults built into nacos-server.jar ({image})", nacos.builtin_properties(version)))
    return tuple(_ConfigFile(where, {normalize(prop): _Value(text, where, Origin.IMAGE_DEFAULT)
                                     for prop, text in properties.items()}) for where, properties in layers)


# --- per container --------------------------------------------------------------------------------------------------

def uses_startup_script(container: dict) -> bool:
    """A server container runs nacos-docker's ENTRYPOINT script unless its `command` replaces it."""
    return not as_list(container.get("command"))


def container_environment(ctx: _PodContext, container: dict, server: bool) -> ContainerEnvironment:
    environment = ContainerEnvironment(as_text(container.get("name")) or "?")
    _environment_variables(ctx, container, environment)
    image = as_text(container.get("image")) or ""
    version = nacos.image_version(image)
    startup_script = environment.startup_script = server and uses_startup_script(container)
    _command_line(environment, container, startup_script)
    if startup_script:
        _startup_script_flags(environment, version)
    _spring_env_forms(environment)
    mounted = _mounted_files(ctx, container)
    # The startup script fixes the config location (--spring.config.additional-location=file:/home/nacos/conf/).
    locations = set() if startup_script else _config_locations(environment)
    if server:
        wanted = [m for m in mounted if m.path == nacos.NACOS_DOCKER_CONF_PATH or m.path in locations]
    else:
        wanted = [m for m in mounted if CLIENT_CONFIG_FILE.match(posixpath.basename(m.path)) or m.path in locations]
    environment.files = [_config_file(ctx, m, environment.container) for m in wanted]
    if not server:
        environment.seata_spring = seata.spring_based(image, version)
        environment.seata_version = version
        # read by Seata up to 1.4, and from 1.5 for what its Spring properties leave null (seata.file_fallback)
        environment.seata_files = _seata_files(ctx, mounted, environment)
    if server:
        mounted_over = any(m.path == nacos.NACOS_DOCKER_CONF_PATH for m in mounted)
        environment.files += _image_files(version, image, mounted_over)
    return environment


def _config_locations(environment: ContainerEnvironment) -> set[str]:
    paths: set[str] = set()
    for prop in CONFIG_LOCATION_PROPERTIES:
        found = environment.args.get(normalize(prop)) or environment.system.get(normalize(prop))
        if found is None:
            found = next((environment.env[n] for n in env_candidates(prop) if n in environment.env), None)
        if found is not None and found.value:
            for location in found.value.split(","):
                paths.add(location.strip().removeprefix("optional:").removeprefix("file:"))
    return paths


def _known_text(found: _Value | None) -> str | None:
    return found.value if found is not None and found.state is State.KNOWN else None


def _seata_files(ctx: _PodContext, mounted: list[_Mounted], environment: ContainerEnvironment) -> list[_SeataFile]:
    """The HOCON registry file Seata up to 1.4 reads, if a mounted one is it (seata.py names the source). A name
    or env whose value the input cannot show leaves the file unknown: nothing is read."""
    name = environment.system.get(normalize(seata.CONFIG_NAME_PROPERTY)) or environment.env.get(seata.CONFIG_NAME_ENV)
    suffix = environment.system.get(normalize(seata.ENV_PROPERTY)) or environment.env.get(seata.ENV_ENV)
    if any(v is not None and v.state is not State.KNOWN for v in (name, suffix)):
        return []
    file_path, base_name = seata.config_file_names(_known_text(name), _known_text(suffix))
    files = []
    for m in mounted:
        if not seata.reads_file(m.path, file_path, base_name):
            continue
        where = f"{m.path} ({m.kind} {m.name} key {m.key!r}) in container {environment.container}"
        ref_key = m.key if m.listed else None
        value = _object_value(ctx, m.kind, m.name, m.key, m.optional, where, mount=True,
                              reference=(ref_key, f"volume {m.volume} of container {environment.container}"))
        ctx.relevant.add((m.kind, m.name, ref_key))
        if value.state is not State.KNOWN or value.value is None:
            if value.state in (State.UNKNOWN, State.UNREADABLE):
                files.append(_SeataFile(where, None))
            continue   # a missing object or key is its own finding (NAG103/NAG104); no file, nothing read
        parsed = seata.parse_hocon(value.value)
        if isinstance(parsed, ConfigProblem):
            ctx.config_errors.setdefault(where, ConfigFileError(where, parsed.problem, parsed.impact, parsed.fix,
                                                                parsed.fails_start))
            files.append(_SeataFile(where, None))
        else:
            files.append(_SeataFile(where, parsed, value.origin, value.carrier, m.key))
        break   # Seata reads one file (the first its lookup finds)
    return files


def seata_settings(environment: ContainerEnvironment) -> dict[str, _Value]:
    """serverAddr/username/password of a Seata Nacos client, pooled over its registry and config blocks of type
    nacos: an address per block, and a login only where every such block has one (each block logs in on its own,
    so one without a login fails while the other works). Empty when no block is Nacos."""
    spring = environment.seata_spring or any(environment.property(f"seata.{block}.type") is not None
                                             for block in seata.BLOCKS)
    if spring:
        blocks = [_spring_block(environment, block) for block in seata.BLOCKS]
    elif environment.seata_files:
        blocks = [_hocon_block(environment, environment.seata_files[0], block) for block in seata.BLOCKS]
    else:
        return {}
    blocks = [b for b in blocks if b is not None]
    if not blocks:
        return {}
    settings: dict[str, _Value] = {}
    addresses = [b["serverAddr"] for b in blocks if b.get("serverAddr") is not None]
    if addresses:
        settings["serverAddr"] = _joined(addresses)
    for name in ("username", "password"):
        values = [b.get(name) for b in blocks]
        if any(v is None or (v.state is State.KNOWN and not v.value) for v in values):
            continue   # some block sends no login: the container counts as sending none
        literal = [v for v in values if v.state is State.KNOWN and v.origin in (Origin.POD_SPEC, Origin.CONFIG_MAP)]
        settings[name] = _joined(literal) if literal and len({v.value for v in literal}) == 1 and len(literal) > 1 \
            else (literal or values)[0]
    return settings


def _joined(values: list[_Value]) -> _Value:
    """One value for the same setting of several blocks: the common value (or a list of addresses), every place."""
    unique = list(dict.fromkeys(v.value for v in values))
    first = values[0]
    if len(values) == 1 or (len(unique) == 1 and len({(v.origin, v.carrier, v.state) for v in values}) == 1):
        return _Value(first.value, _places(values), first.origin, first.state, first.carrier, first.key)
    if all(v.state is State.KNOWN and v.value for v in values):   # addresses of two servers
        return _Value(",".join(unique), _places(values), first.origin, State.KNOWN, first.carrier, first.key)
    return first


def _places(values: list[_Value]) -> str:
    """"registry.nacos.password (line 11) and config.nacos.password (line 22) in /conf/registry.conf (...)"."""
    wheres = list(dict.fromkeys(v.where for v in values))
    parts = [where.partition(" in ") for where in wheres]
    if len(wheres) > 1 and all(sep and tail == parts[0][2] for _, sep, tail in parts):
        return " and ".join(head for head, _, _ in parts) + " in " + parts[0][2]
    return " and ".join(wheres)


SEATA_SPRING_FIELDS = {"serverAddr": "server-addr", "username": "username", "password": "password"}


def _spring_block(environment: ContainerEnvironment, block: str) -> dict[str, _Value | None] | None:
    kind = environment.property(f"seata.{block}.type")
    if kind is None or kind.state is not State.KNOWN or (kind.value or "").strip().lower() != seata.NACOS_TYPE:
        return None
    found: dict[str, _Value | None] = {}
    for name, spring_name in SEATA_SPRING_FIELDS.items():
        value = environment.property(f"seata.{block}.nacos.{spring_name}")
        default = seata.SPRING_DEFAULTS.get((block, name))
        if value is None and environment.seata_spring and environment.seata_files and \
                (block, name) in seata.file_fallback(environment.seata_version):
            value = _hocon_value(environment, environment.seata_files[0], f"{block}.nacos.{name}", name)
        if value is None and default is not None:
            value = _Value(default, f"the default of seata.{block}.nacos.{spring_name} (Seata 1.5+)",
                           Origin.IMAGE_DEFAULT)
        found[name] = value
    return found


def _hocon_value(environment: ContainerEnvironment, config: _SeataFile, path: str,
                 bare: str | None = None) -> _Value | None:
    """One setting of Seata's registry file as FileConfiguration reads it: a bare -DserverAddr/-Dusername/
    -Dpassword first, then -D<path>, then the file (a lone ${NAME} from the container's env)."""
    for prop in (bare, path):
        if prop is not None:
            found = environment.system.get(normalize(prop))
            if found is not None and (found.state is not State.KNOWN or found.value or prop == path):
                return found
    if config.leaves is None:
        return _Value(None, f"{path} (maybe in {config.where})", Origin.POD_SPEC, State.UNKNOWN)
    leaf = config.leaves.get(path)
    if leaf is None:
        return None
    where = f"{path} (line {leaf.line}) in {config.where}" if leaf.line else f"{path} in {config.where}"
    if leaf.env is not None:   # ${NAME}: Seata resolves it from its own process env, the container's
        found = environment.env_var(leaf.env)
        if found is not None:
            return _Value(found.value, f"{found.where} via ${{{leaf.env}}} in {where}", found.origin, found.state,
                          found.carrier, found.key)
        return _Value(None, f"{where} (${{{leaf.env}}} is not set in the pod spec)", config.origin, State.UNKNOWN)
    if leaf.value is None:
        return _Value(None, where, config.origin, State.UNKNOWN, config.carrier, config.key)
    return _Value(leaf.value, where, config.origin, State.KNOWN, config.carrier, config.key)


def _hocon_block(environment: ContainerEnvironment, config: _SeataFile, block: str) -> dict[str, _Value | None] | None:
    kind = _hocon_value(environment, config, f"{block}.type")
    if kind is None or kind.state is not State.KNOWN or (kind.value or "").strip().lower() != seata.NACOS_TYPE:
        if kind is not None and kind.state is State.UNKNOWN and config.leaves is None and block == seata.BLOCKS[0]:
            return {"serverAddr": kind}   # a registry file this tool cannot read: a client of an unknown server
        return None
    return {name: _hocon_value(environment, config, f"{block}.nacos.{name}", name) for name in seata.FIELDS}


def server_settings(environment: ContainerEnvironment, version: nacos.Version | None) -> dict[str, Setting]:
    lookups = {
        "auth_enabled": (nacos.AUTH_ENABLED,),
        "console_auth_enabled": (nacos.CONSOLE_AUTH_ENABLED,),
        "admin_auth_enabled": (nacos.ADMIN_AUTH_ENABLED,),
        "standalone": (nacos.STANDALONE,),
        "token_key": nacos.token_key_properties(version),
        "token_expire": nacos.token_expire_properties(version),
        "identity_key": (nacos.IDENTITY_KEY,),
        "identity_value": (nacos.IDENTITY_VALUE,),
        "user_agent_white": (nacos.USER_AGENT_WHITE,),
        "client_api_compatibility": (nacos.CLIENT_API_COMPATIBILITY,),
    }
    settings = {}
    for name, props in lookups.items():
        found = environment.first_property(props)
        if found is not None:
            settings[name] = found.setting()
    if environment.startup_script and (version is None or version >= nacos.STARTUP_REQUIRED_ENV_SINCE):
        for env_name in nacos.STARTUP_REQUIRED_ENV:   # the script checks the env itself, whatever the files say
            found = environment.env_var(env_name)
            settings[STARTUP_ENV_SETTING + env_name] = found.setting() if found is not None else Setting(
                "", f"env {env_name} of container {environment.container} (not set)", Origin.POD_SPEC)
    return settings


STARTUP_ENV_SETTING = "startup env "   # + env name: an env var nacos-docker's startup script insists on


def client_settings(environment: ContainerEnvironment, annotations: dict) -> dict[str, Setting]:
    extra = _client_env_annotation(annotations)
    settings = {}
    for name, props in nacos.CLIENT_PROPERTIES.items():
        found = environment.first_property(props)
        if found is None:
            for env_name in extra.get(name, ()) + nacos.CLIENT_ENV[name]:
                found = environment.env.get(env_name)
                if found is not None:
                    break
        if found is not None:
            settings[name] = found.setting()
    if "serverAddr" not in settings:   # a Seata server or Seata-enabled app: its own keys, not the env above
        found_seata = seata_settings(environment)
        if found_seata:
            settings = {k: v for k, v in settings.items() if k not in seata.FIELDS}
            settings.update((name, value.setting()) for name, value in found_seata.items())
    else:   # a Nacos client that is a Seata client too: Seata's own Nacos client logs in with seata.*.nacos.* only
        for block in seata.BLOCKS:
            address = _seata_block_without_login(environment, block)
            if address is not None:
                settings[MODULE_WITHOUT_LOGIN + SEATA_MODULE + block] = address.setting()
    # Only where the login is written under spring.cloud.nacos.*: an app fed NACOS_USERNAME-style env maps it to
    # properties itself, in a file of its own the input does not show.
    scopes = ("", "config.", "discovery.")
    sca_login = [environment.first_property(f"spring.cloud.nacos.{scope}{field}" for scope in scopes)
                 for field in ("username", "password")]
    if any(found is not None for found in sca_login) and not any(
            environment.env.get(name) is not None for field in ("username", "password")
            for name in extra.get(field, ()) + nacos.CLIENT_ENV[field]):
        for module in SCA_MODULES:
            address = _module_without_login(environment, module)
            if address is not None:
                settings[MODULE_WITHOUT_LOGIN + module] = address.setting()
    return settings


# Spring Cloud Alibaba's config and discovery modules each read their own username/password, falling back only to
# spring.cloud.nacos.username/password, never to the other module's (NacosConfigProperties.java:118-124,
# NacosDiscoveryProperties.java:668-673@2022.0.0.0; the same in 2.2.9.RELEASE).
SCA_MODULES = ("config", "discovery")
MODULE_WITHOUT_LOGIN = "module without login "   # + module: its server address, when it sends no login


SEATA_MODULE = "seata "   # + block: MODULE_WITHOUT_LOGIN + "seata registry" / "seata config"


def _seata_block_without_login(environment: ContainerEnvironment, block: str) -> _Value | None:
    """The address of a seata.<block> of type nacos (seata-spring-boot-starter) that surely sends no login: Seata
    logs in only with username and password both non-blank (NacosRegistryServiceImpl.java:196-204,
    NacosConfiguration.java:238-246@v1.4.2), and never with spring.cloud.nacos.* credentials."""
    if environment.property(f"seata.{block}.type") is None:
        return None
    found = _spring_block(environment, block)
    if found is None:
        return None
    address = found.get("serverAddr")
    if address is None or address.state is not State.KNOWN or not address.value:
        return None
    for name in ("username", "password"):
        value = found.get(name)
        if value is None or (value.state is State.KNOWN and not value.value):
            return address
    return None


def _module_without_login(environment: ContainerEnvironment, module: str) -> _Value | None:
    """The module's own server address when the module is on and surely has no username or password of its own
    or shared (a value that lives where the input cannot show it may be one)."""
    address = environment.property(f"spring.cloud.nacos.{module}.server-addr")
    enabled = environment.property(f"spring.cloud.nacos.{module}.enabled")
    if address is None or address.state is not State.KNOWN or not address.value or (
            enabled is not None and (enabled.state is not State.KNOWN or not nacos.is_true(enabled.value))):
        return None
    for field in ("username", "password"):
        found = environment.first_property((f"spring.cloud.nacos.{module}.{field}", f"spring.cloud.nacos.{field}"))
        if found is not None and (found.state is not State.KNOWN or found.value):
            continue
        return address
    return None


def _client_env_annotation(annotations: dict) -> dict[str, tuple[str, ...]]:
    """nacosguard.io/client-env: "serverAddr=MY_ADDR,username=MY_USER" -> {"serverAddr": ("MY_ADDR",), ...}."""
    text = annotations.get(nacos.CLIENT_ENV_ANNOTATION)
    mapping: dict[str, tuple[str, ...]] = {}
    if isinstance(text, str):
        for pair in text.split(","):
            setting, _, env_name = pair.partition("=")
            if setting.strip() in nacos.CLIENT_ENV and env_name.strip():
                mapping[setting.strip()] = mapping.get(setting.strip(), ()) + (env_name.strip(),)
    return mapping


# --- per pod ---------------------------------------------------------------------------------------------------------

def is_server_container(container: dict) -> bool:
    image = as_text(container.get("image")) or ""
    if nacos.SERVER_IMAGE.search(image.split("@", 1)[0]):
        return True
    names = {v["name"] for v in as_list(container.get("env")) if isinstance(v, dict) and isinstance(v.get("name"), str)}
    return len(names & nacos.SERVER_ENV_MARKERS - {"MODE"}) >= 2 or bool({"NACOS_AUTH_TOKEN", "NACOS_SERVERS"} & names)


def pod_config(ref: ObjectRef, metadata: dict, spec: dict, snapshot: Snapshot, *, server: bool,
               statuses: dict | None = None, resolved: dict | None = None) -> PodConfig:
    """Resolves a pod template or a Pod. For a server, the Nacos container's server settings; for any other pod,
    each container's client settings. `statuses`: the Pod's status, for container start times. `resolved`: a
    dict the caller keeps for one snapshot, so that pods written alike (a StatefulSet's template and its Pods)
    are resolved once."""
    annotations = as_dict(metadata.get("annotations"))
    key = _resolution_key(ref.namespace, spec, server, annotations) if resolved is not None else None
    resolution = resolved.get(key) if key is not None else None
    if resolution is None:
        resolution = _resolve_pod(ref, spec, snapshot, server, annotations)
        if key is not None:
            resolved[key] = resolution
    containers, references, config_errors = resolution
    started = _start_times(statuses)
    labels = {k: v for k, v in as_dict(metadata.get("labels")).items() if isinstance(v, str)}
    return PodConfig(ref, labels, tuple(ContainerConfig(c.name, c.image, c.settings, started.get(c.name), c.server)
                                        for c in containers), references, annotations, config_errors)


def _resolution_key(namespace: str, spec: dict, server: bool, annotations: dict) -> tuple | None:
    """What a pod's resolution depends on besides the snapshot: its namespace (where references point), its
    containers and volumes, and for a client the annotation naming its env. Their marshal bytes (seven times
    faster than repr) or repr are the same only for the same content; None (no reuse) for content nested deeper
    than either can go."""
    written = (None if server else annotations.get(nacos.CLIENT_ENV_ANNOTATION), spec.get("containers"),
               spec.get("volumes"))
    try:
        return namespace, server, marshal.dumps(written)
    except ValueError:   # a value marshal cannot carry (a datetime from a !!timestamp tag), or nested too deep
        pass
    try:
        return namespace, server, repr(written)
    except RecursionError:
        return None


def _resolve_pod(ref: ObjectRef, spec: dict, snapshot: Snapshot, server: bool, annotations: dict
                 ) -> tuple[tuple[ContainerConfig, ...], tuple[Reference, ...], tuple[ConfigFileError, ...]]:
    """The containers' settings (no start times: those are each Pod's own), the references that can carry
    them, and the config files the containers cannot read."""
    ctx = _pod_context(ref, spec, snapshot)
    containers = []
    for container, is_server, environment in _environments(ctx, spec, server):
        image = as_text(container.get("image")) or ""
        settings = (server_settings(environment, nacos.image_version(image)) if is_server
                    else client_settings(environment, annotations))
        containers.append(ContainerConfig(environment.container, image, settings, None, is_server))
        ctx.relevant.update((s.carrier.kind, s.carrier.name, s.key) for s in settings.values() if s.carrier)
    references = tuple(ref for key, ref in ctx.references.items() if key in ctx.relevant)
    return tuple(containers), references, tuple(ctx.config_errors.values())


def _pod_context(ref: ObjectRef, spec: dict, snapshot: Snapshot) -> _PodContext:
    volumes = {v["name"]: v for v in as_list(spec.get("volumes")) if isinstance(v, dict) and isinstance(v.get("name"), str)}
    return _PodContext(ref, snapshot, volumes)


def _environments(ctx: _PodContext, spec: dict, server: bool) -> Iterable[tuple[dict, bool, ContainerEnvironment]]:
    """(container, whether it is the Nacos server container, its environment) for each container."""
    specs = [c for c in as_list(spec.get("containers")) if isinstance(c, dict)]
    server_flags = [server and is_server_container(c) for c in specs]
    if server and specs and not any(server_flags):   # a server by annotation or NacosAuthCheck: its first container
        server_flags[0] = True
    for container, is_server in zip(specs, server_flags, strict=True):
        yield container, is_server, container_environment(ctx, container, is_server)


def client_environments(ref: ObjectRef, spec: dict, snapshot: Snapshot) -> list[ContainerEnvironment]:
    """Each container of a client pod template, resolved as pod_config resolves it, for the live client logins,
    which need the Spring properties behind the settings too (application name, namespaces, data IDs). Values
    stay in memory."""
    return [environment for _, _, environment in _environments(_pod_context(ref, spec, snapshot), spec, False)]


def _start_times(status: dict | None) -> dict:
    started = {}
    for entry in as_list((status or {}).get("containerStatuses")):
        if isinstance(entry, dict):
            running = as_dict(as_dict(entry.get("state")).get("running"))
            when = parse_time(running.get("startedAt"))
            if when is not None and isinstance(entry.get("name"), str):
                started[entry["name"]] = when
    return started


@dataclass(frozen=True, slots=True)
class WorkloadText:
    """One text a workload's containers hold: command/args, an env value, a mounted file. In memory only."""
    text: str
    where: str
    origin: Origin
    file: bool = False   # a mounted file: its line numbers mean something


def workload_texts(ref: ObjectRef, spec: dict, snapshot: Snapshot) -> tuple[list[WorkloadText], dict[str, str],
                                                                         tuple[Reference, ...]]:
    """Each container's command/args, known env values and mounted files (where an OpenAPI call or a token can
    sit), the env (known values) to resolve $VAR with, and the Secrets/ConfigMaps those texts come from."""
    pod = _pod_context(ref, spec, snapshot)
    texts: list[WorkloadText] = []
    env: dict[str, str] = {}
    for container in (c for c in as_list(spec.get("initContainers")) + as_list(spec.get("containers"))
                      if isinstance(c, dict)):
        cname = as_text(container.get("name")) or "?"
        words = [w for w in as_list(container.get("command")) + as_list(container.get("args")) if isinstance(w, str)]
        if words:
            # one line: an exec-form command is one invocation (`wget`, its flags, the URL), whatever its words
            texts.append(WorkloadText(" ".join(words), f"the command/args of container {cname}", Origin.POD_SPEC))
        environment = ContainerEnvironment(cname)   # the env alone: no config file of it is parsed here
        _environment_variables(pod, container, environment)
        for name, value in environment.env.items():
            if value.state is State.KNOWN and value.value:
                env.setdefault(name, value.value)
                texts.append(WorkloadText(value.value, value.where, value.origin))
        for mounted in _mounted_files(pod, container):
            where = f"{mounted.path} ({mounted.kind} {mounted.name} key {mounted.key!r}) in container {cname}"
            value = _object_value(pod, mounted.kind, mounted.name, mounted.key, mounted.optional, where, mount=True)
            if value.state is State.KNOWN and value.value:
                texts.append(WorkloadText(value.value, where, value.origin, file=True))
    return texts, env, tuple(pod.references.values())
