"""Seata servers (and Seata-enabled apps) as Nacos clients: which file Seata reads, and its HOCON, read safely.

Facts from the Seata source (apache/incubator-seata; file:line@tag):
- Up to 1.4.x the server reads its registry and config-center settings from `registry.conf` (HOCON, parsed by
  typesafe config): ConfigurationFactory.java:37-64@v1.4.2 takes the name from -Dseata.config.name, else env
  SEATA_CONFIG_NAME, else "registry", and appends "-" + SEATA_ENV (or -DseataEnv) when one is set.
  FileConfiguration.java:134-200@v1.4.2 reads `file:<path>` (with or without a .conf/.properties/.yml suffix) from
  the file system, any other name from the first classpath directory, the working directory, then the classpath:
  the seataio/seata-server image's /seata-server/resources (jib's layout, server/pom.xml:289@v1.4.2), the binary
  distribution's conf/ directory (server/pom.xml:178-181@v1.4.2 puts it on the classpath). Where a custom image
  keeps its classpath the input cannot show, so a mounted file is taken by its name (as Spring files are).
  The ParameterParser options are -h, -p, -m, -n and -e (= SEATA_ENV), no config-file option
  (ParameterParser.java:42-51@v1.4.2); in a container it reads env, not args (ParameterParser.java:65-70).
- The Nacos settings are `registry.nacos.{serverAddr,namespace,cluster,group,application,username,password}`
  (NacosRegistryServiceImpl.java:49-57, 222-246@v1.4.2) when `registry.type` is "nacos", and `config.nacos.*` (the
  same names, NacosConfiguration.java:61-71, 252-274@v1.4.2) when `config.type` is. Both are read from registry.conf
  itself (FILE_CONFIG = ConfigurationFactory.CURRENT_FILE_INSTANCE); file.conf is only the `config.type = "file"`
  store (ConfigurationFactory.java:113-117@v1.4.2) and holds no Nacos setting Seata reads. A system property of
  the key's own name wins over the file (FileConfiguration.java:230@v1.4.2), and so do bare -DserverAddr,
  -Dusername, -Dpassword (NacosRegistryServiceImpl.java:179-204@v1.4.2). The login is sent only when username AND
  password are both non-blank (NacosRegistryServiceImpl.java:196-204, NacosConfiguration.java:238-246@v1.4.2).
- A registry.conf typesafe config cannot parse fails the server at start: FileConfiguration's constructor
  (FileConfiguration.java:114@v1.4.2) throws out of ConfigurationFactory's static initializer
  (ConfigurationFactory.java:47-49, 63@v1.4.2), uncaught. Typesafe config follows `include` (files, classpath,
  URLs) and resolves `${X}` from the config, then the process env: the container's env, never this tool's.
- From 1.5.0 the server is a Spring Boot application (server/src/main/resources/application.yml@v1.5.2): the
  settings are `seata.registry.type` / `seata.config.type` (default "file") and `seata.registry.nacos.*` /
  `seata.config.nacos.*` (server-addr, username, password, ...; RegistryNacosProperties.java:29-37,
  ConfigNacosProperties.java:29-33@v1.5.2, registry server-addr defaults to localhost:8848, username and password
  to ""), read through SpringBootConfigurationProvider.java:60-82@v1.5.2; what is unset there and has no default
  comes from registry.conf, which ConfigurationFactory still loads (file_fallback: config.nacos.serverAddr always,
  the login from 1.6.1, when username and password became null by default). The same properties configure
  seata-spring-boot-starter apps.

This tool never follows an `include` (a manifest is untrusted input: `include url(...)` would fetch over the network,
`include file(...)` read this machine's files, `include package(...)` import a module), never reads its own
process env for `${X}`, and parses only small, shallow files: pyhocon (pyparsing) costs about 0.1-0.25 ms a byte
and recurses about 20 frames a nesting level.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from .model import ConfigProblem

Version = tuple[int, ...]

CONFIG_NAME_PROPERTY, CONFIG_NAME_ENV = "seata.config.name", "SEATA_CONFIG_NAME"
ENV_PROPERTY, ENV_ENV = "seataEnv", "SEATA_ENV"
DEFAULT_CONFIG_NAME = "registry"
FILE_PREFIX = "file:"
BLOCKS = ("registry", "config")          # registry.type / config.type select Nacos for each
NACOS_TYPE = "nacos"
FIELDS = ("serverAddr", "username", "password")
BARE_SYSTEM_PROPERTIES = {"serverAddr": "serverAddr", "username": "username", "password": "password"}
SPRING_SINCE: Version = (1, 5, 0)
SPRING_DEFAULTS = {("registry", "serverAddr"): "localhost:8848"}   # RegistryNacosProperties.java:29@v1.5.2-v2.2.0
NULL_LOGIN_SINCE: Version = (1, 6, 1)   # username/password default null, not "": Registry/ConfigNacosProperties


def file_fallback(version: Version | None) -> frozenset[tuple[str, str]]:
    """(block, field) a Spring-based Seata server reads from registry.conf when its Spring properties leave them
    unset: SpringBootConfigurationProvider.provide (v1.5.2-v1.7.1) asks the Spring environment, then the property
    object's default, and only for a null default the original FileConfiguration, which ConfigurationFactory still
    loads from registry.conf (ConfigurationFactory.java load()@v1.7.1). config.nacos.serverAddr has no default
    (ConfigNacosProperties.java:29@v1.5.2); username and password default to "" up to 1.6.0 and to null from 1.6.1
    (RegistryNacosProperties.java:33-34, ConfigNacosProperties.java:32-33)."""
    fields = {("config", "serverAddr")}
    if version is None or version >= NULL_LOGIN_SINCE:
        fields |= {(block, name) for block in BLOCKS for name in ("username", "password")}
    return frozenset(fields)
IMAGE = re.compile(r"(^|/)seata-server$")   # seataio/seata-server, apache/seata-server, mirrors

MAX_HOCON_CHARS = 8 * 1024   # Seata's own registry.conf is 1.9 kB; pyparsing's worst case is ~0.25 ms a byte
MAX_HOCON_DEPTH = 16         # Seata's files nest 3 levels; pyhocon reaches Python's recursion limit near 45
INCLUDE = re.compile(r"[iI\u0131][nN][cC][lL][uU][dD][eE]")   # pyparsing's caseless Keyword compares str.upper()


@dataclass(frozen=True, slots=True)
class Leaf:
    """One setting of a HOCON file: its text (None when not a plain value), its line in the file, and, for a value
    that is exactly one `${NAME}` / `${?NAME}`, the name (Seata resolves it from the process env)."""
    value: str | None
    line: int | None
    env: str | None = None
    optional: bool = False


BUDGET_IMPACT = "this tool reads no more of it."
INVALID_IMPACT = ("the Seata server stops at start-up: typesafe config's parse error escapes ConfigurationFactory's "
                  "static initializer.")
INVALID_FIX = ("correct the HOCON at that line: balanced braces, `key = value` or `key { ... }` entries, strings "
               "in double quotes")


def config_file_names(name_setting: str | None, env_setting: str | None) -> tuple[str | None, str | None]:
    """(a file-system path, a classpath base name) of the registry file, from seata.config.name/SEATA_CONFIG_NAME
    and seataEnv/SEATA_ENV (either may be None: not set)."""
    name = name_setting if name_setting is not None else DEFAULT_CONFIG_NAME
    if env_setting:
        name = f"{name}-{env_setting}"
    if name.startswith(FILE_PREFIX):
        return name[len(FILE_PREFIX):], None
    return None, name


def reads_file(path: str, file_path: str | None, base_name: str | None) -> bool:
    """Whether Seata reads a mounted file at `path` as its HOCON registry file. Only .conf (and suffix-less, which
    typesafe config reads as HOCON) files: a .properties or .yml registry file is another syntax."""
    if file_path is not None:
        return path in (file_path, file_path + ".conf") and not path.endswith((".properties", ".yml"))
    if base_name is None:
        return False
    leaf = path.rsplit("/", 1)[-1]
    return leaf == (base_name if base_name.endswith(".conf") else base_name + ".conf")


def spring_based(image: str, version: Version | None) -> bool:
    """A seata-server image from 1.5.0 on, or with a tag that is no version (`latest`: the newest): a Spring Boot
    server that does not read registry.conf's settings."""
    name = image.split("@", 1)[0]
    repository = name.rsplit(":", 1)[0] if ":" in name.rsplit("/", 1)[-1] else name
    return bool(IMAGE.search(repository.lower())) and (version is None or version >= SPRING_SINCE)


def parse_hocon(text: str) -> dict[str, Leaf] | ConfigProblem:
    """The leaves of a registry.conf by dotted path, or why it is not read. Never follows an include, never reads
    any environment, bounded in size and depth before pyhocon sees it."""
    if len(text) > MAX_HOCON_CHARS:
        return ConfigProblem(f"larger than {MAX_HOCON_CHARS:,} characters", BUDGET_IMPACT,
                             "keep only the registry and config blocks Seata reads", False)
    include = INCLUDE.search(text)
    if include is not None:
        return ConfigProblem(f"the word include (line {text.count(chr(10), 0, include.start()) + 1}): this tool never "
                             "follows an include (it reads no file or URL a manifest names)", BUDGET_IMPACT,
                             "write the included settings into this file, or reword a comment that says include",
                             False)
    depth = deepest = 0
    for char in text:   # every bracket counts, quoted or not: an overcount only refuses more
        if char in "{[":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "}]":
            depth = max(depth - 1, 0)
    if deepest > MAX_HOCON_DEPTH:
        return ConfigProblem(f"nested deeper than {MAX_HOCON_DEPTH} levels", BUDGET_IMPACT,
                             "flatten the nesting (a.b.c = value)", False)
    return _parse(text)


@functools.lru_cache(maxsize=128)
def _parse(text: str) -> dict[str, Leaf] | ConfigProblem:
    """Cached: every evaluation of a client sees the same ConfigMap text, and pyparsing is slow."""
    parser, config_tree, config_values, substitution, parse_error = _pyhocon()
    try:
        tree = parser.parse(text, resolve=False)
    except IncludeRefused:   # parse_hocon refuses these first; pyhocon's own grammar is the last word
        return ConfigProblem("an include: this tool never follows one", BUDGET_IMPACT,
                             "write the included settings into this file", False)
    except (RecursionError, MemoryError):
        return ConfigProblem("nested deeper than this tool reads", BUDGET_IMPACT,
                             "flatten the nesting (a.b.c = value)", False)
    except Exception as error:  # noqa: BLE001 - pyparsing's and pyhocon's messages quote the input: only a line
        line = getattr(error, "lineno", None) if isinstance(error, parse_error) else None
        where = f" (line {line})" if isinstance(line, int) else ""
        return ConfigProblem(f"not HOCON typesafe config can parse{where}", INVALID_IMPACT, INVALID_FIX)
    if not isinstance(tree, config_tree):
        return ConfigProblem("not a HOCON object (a list at the top)", INVALID_IMPACT, INVALID_FIX)
    lines = _assignment_lines(text)
    leaves: dict[str, Leaf] = {}
    _walk(tree, "", leaves, lines, text, config_tree, config_values, substitution, 0)
    return leaves


def _walk(node, prefix: str, leaves: dict, lines: dict, text: str, config_tree, config_values, substitution,
          depth: int) -> None:
    if depth > MAX_HOCON_DEPTH:
        return
    for key, value in dict.items(node):
        key = str(key)
        if len(key) > 1 and key[0] == key[-1] == '"' and "." not in key:   # a quoted key: "registry" { ... }
            key = key[1:-1]
        path = f"{prefix}.{key}" if prefix else key
        if isinstance(value, config_tree):
            _walk(value, path, leaves, lines, text, config_tree, config_values, substitution, depth + 1)
            continue
        line = lines.get(path)
        if isinstance(value, config_values):   # an unresolved ${...}, alone or with text around it
            tokens = [t for t in value.tokens if not (isinstance(t, str) and not t.strip())]
            if len(tokens) == 1 and isinstance(tokens[0], substitution):
                sub = tokens[0]
                line = text.count("\n", 0, sub.loc) + 1 if isinstance(sub.loc, int) else line
                leaves[path] = Leaf(None, line, str(sub.variable), bool(sub.optional))
            else:
                leaves[path] = Leaf(None, line)
        elif isinstance(value, str):
            leaves[path] = Leaf(value, line)
        elif isinstance(value, bool):
            leaves[path] = Leaf("true" if value else "false", line)
        elif isinstance(value, (int, float)):
            leaves[path] = Leaf(str(value), line)
        else:   # null, lists, durations: no text Seata's getString would give for a setting read here
            leaves[path] = Leaf(None, line)


_KEY = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z0-9_.\-]+)\s*(\{|=|:|\+=)')


def _assignment_lines(text: str) -> dict[str, int]:
    """Where each dotted path is set, for messages only: `key = value` and `key {` lines under the blocks opened
    above them (the layout Seata's files and users' copies have). A path set twice keeps its last line, as HOCON
    keeps the last value; a line this does not follow is simply not named."""
    found: dict[str, int] = {}
    stack: list[list[str]] = []
    for number, row in enumerate(text.split("\n"), 1):
        stripped = row.strip()
        if stripped.startswith(("#", "//")):
            continue
        match = _KEY.match(row)
        if match:
            key = match.group(1).strip('"')
            parts = [p for block in stack for p in block] + key.split(".")
            found[".".join(parts)] = number
            rest = row[match.end():]
            if match.group(2) == "{" and "}" not in rest:
                stack.append(key.split("."))
            continue
        for _ in range(stripped.count("}") - stripped.count("{")):
            if stack:
                stack.pop()
    return found


@functools.lru_cache(maxsize=1)
def _pyhocon():
    """pyhocon, with every way it reaches outside the text cut off: parse_file, parse_URL (include), glob (an
    include with a wildcard lists directories before anything is read) and resolve_package_path (include package()
    imports a module). parse_hocon refuses any text with an include before pyhocon sees it; this holds even if
    pyhocon saw one there. Imported on first use: it costs a fifth of a second."""
    from pyhocon import config_parser, config_tree
    from pyparsing import ParseBaseException

    def refuse(*_args, **_kwargs):
        raise IncludeRefused()

    config_parser.ConfigFactory.parse_file = staticmethod(refuse)
    config_parser.ConfigFactory.parse_URL = staticmethod(refuse)
    config_parser.ConfigParser.resolve_package_path = staticmethod(refuse)
    config_parser.glob = refuse
    config_parser.urlopen = refuse
    return (config_parser.ConfigParser, config_tree.ConfigTree, config_tree.ConfigValues,
            config_tree.ConfigSubstitution, ParseBaseException)


class IncludeRefused(Exception):
    """pyhocon met an include: never followed."""
