"""Nacos facts: property names, the nacos-docker image's configuration, token key rules and token checks.

Each fact names the source it was read from: alibaba/nacos (the server) or nacos-group/nacos-docker (the image), at
the tags given. Versions are tuples; None means "not a version tag" (latest, a digest): then the newest behaviour
applies.
"""
from __future__ import annotations

import base64
import functools
import re
import warnings
from dataclasses import dataclass, replace
from datetime import datetime, timezone


Version = tuple[int, ...]

# --- server properties ------------------------------------------------------------------------------------------

AUTH_ENABLED = "nacos.core.auth.enabled"
# 3.0.0 split auth for the admin API and the console out of nacos.core.auth.enabled; both default to true
# (AuthConfigs @Value default and application.properties, alibaba/nacos 3.0.0).
ADMIN_AUTH_ENABLED = "nacos.core.auth.admin.enabled"
CONSOLE_AUTH_ENABLED = "nacos.core.auth.console.enabled"
CLIENT_API_COMPATIBILITY = "nacos.core.api.compatibility.client.enabled"   # 3.x, true by default (3.0.3)
SYSTEM_TYPE = "nacos.core.auth.system.type"
STANDALONE = "nacos.standalone"
# 2.1.0 moved the key under the auth plugin (NacosAuthConfig reads nacos.core.auth.plugin.nacos.*, tag 2.1.0) and no
# version since reads the old name; 1.x and 2.0.x read only the "default" name (AuthConfigs, tag 2.0.4).
TOKEN_KEY = "nacos.core.auth.plugin.nacos.token.secret.key"
TOKEN_KEY_OLD = "nacos.core.auth.default.token.secret.key"
TOKEN_EXPIRE = "nacos.core.auth.plugin.nacos.token.expire.seconds"
TOKEN_EXPIRE_OLD = "nacos.core.auth.default.token.expire.seconds"
IDENTITY_KEY = "nacos.core.auth.server.identity.key"
IDENTITY_VALUE = "nacos.core.auth.server.identity.value"
USER_AGENT_WHITE = "nacos.core.auth.enable.userAgentAuthWhite"
CACHING = "nacos.core.auth.caching.enabled"

PLUGIN_KEY_SINCE: Version = (2, 1, 0)
EMPTY_DEFAULTS_1_4: tuple[Version, Version] = ((1, 4, 5), (2, 0, 0))   # the 1.4 line after 2.x began: [from, until)
CONSOLE_AUTH_SINCE: Version = (3, 0, 0)
OLD_DEFAULT_KEY = "SecretKey012345678901234567890123456789012345678901234567890123456789"

# --- the nacos-docker image ------------------------------------------------------------------------------------
# ENTRYPOINT bin/docker-startup.sh: it builds `java $JAVA_OPT <its own -D flags> -jar nacos-server.jar $JAVA_OPT_EXT
# --spring.config.additional-location=file:/home/nacos/conf/ ...` and ignores its own arguments (container `args`).
# So JAVA_OPT holds JVM options, JAVA_OPT_EXT program arguments (only --key=value counts; a -D there is ignored),
# JAVA_OPTS is not read, and a container `command` replaces the script altogether (nacos-docker, v2.0.3 to v3.2.3).
NACOS_DOCKER_CONF_PATH = "/home/nacos/conf/application.properties"
STARTUP_PROGRAM_ARGUMENT_ENV = ("JAVA_OPT_EXT",)
STARTUP_UNREAD_ENV = ("JAVA_OPTS",)
# Env the script turns into -D flags when non-empty (v2.0.3+; the admin and console switches from v3.0.1), so they
# beat the config files and env. NACOS_AUTH_ENABLE never went through application.properties.
STARTUP_FLAGS: tuple[tuple[str, str, Version], ...] = (
    ("NACOS_AUTH_ENABLE", AUTH_ENABLED, (0,)),            # every image version
    ("NACOS_AUTH_ADMIN_ENABLE", ADMIN_AUTH_ENABLED, (3, 0, 1)),
    ("NACOS_AUTH_CONSOLE_ENABLE", CONSOLE_AUTH_ENABLED, (3, 0, 1)),
)
STANDALONE_MODE_ENV = "MODE"   # MODE=standalone -> -Dnacos.standalone=true
# From v3.0.0 the script exits (255) before Nacos starts when any of these env vars is empty, auth on or off.
STARTUP_REQUIRED_ENV_SINCE: Version = (3, 0, 0)
STARTUP_REQUIRED_ENV = ("NACOS_AUTH_TOKEN", "NACOS_AUTH_IDENTITY_KEY", "NACOS_AUTH_IDENTITY_VALUE")


def startup_flags(version: Version | None) -> list[tuple[str, str]]:
    """(env name, property) pairs docker-startup.sh passes as -D flags for this image version."""
    return [(env, prop) for env, prop, since in STARTUP_FLAGS if version is None or version >= since]


def docker_properties(version: Version | None) -> dict[str, str]:
    """nacos-docker's build/conf/application.properties, which the image puts at /home/nacos/conf/. Each setting
    reaches Nacos from env through a `${ENV:default}` placeholder here (checked at v1.4.3, v2.0.3, v2.1.0, v2.1.1,
    v2.2.0.1, v2.2.1, v2.2.3, v2.3.0, v2.4.3, v2.5.0, v3.0.0, v3.0.1, v3.2.3). A file mounted at the same path
    replaces it, placeholders and all."""
    properties = {
        SYSTEM_TYPE: "${NACOS_AUTH_SYSTEM_TYPE:nacos}",
        TOKEN_EXPIRE: "${NACOS_AUTH_TOKEN_EXPIRE_SECONDS:18000}",
        TOKEN_KEY: "${NACOS_AUTH_TOKEN:}",
        CACHING: "${NACOS_AUTH_CACHE_ENABLE:false}",
        IDENTITY_KEY: "${NACOS_AUTH_IDENTITY_KEY:}",
        IDENTITY_VALUE: "${NACOS_AUTH_IDENTITY_VALUE:}",
    }
    if version is None or version >= (3, 0, 0):   # literals; the startup script's -D flags override them
        return {**properties, AUTH_ENABLED: "false", ADMIN_AUTH_ENABLED: "true", CONSOLE_AUTH_ENABLED: "true"}
    if reads_user_agent_white(version):
        properties[USER_AGENT_WHITE] = "${NACOS_AUTH_USER_AGENT_AUTH_WHITE_ENABLE:false}"
    if version >= (2, 2, 2):
        return properties
    if version >= (2, 2, 1):
        # v2.2.1's placeholders have no default (build/conf/application.properties:28,32,33@v2.2.1): with the env
        # unset, Spring cannot resolve them and the server does not start, auth on or off.
        return {**properties, TOKEN_KEY: "${NACOS_AUTH_TOKEN}", IDENTITY_KEY: "${NACOS_AUTH_IDENTITY_KEY}",
                IDENTITY_VALUE: "${NACOS_AUTH_IDENTITY_VALUE}"}
    # Up to v2.2.0.1 the file defaulted to the published key and identity, except v1.4.5-v1.4.8, which default to
    # none (build/conf/application.properties:24,29,30@v1.4.5 and @v1.4.8).
    if not EMPTY_DEFAULTS_1_4[0] <= version < EMPTY_DEFAULTS_1_4[1]:
        properties.update({TOKEN_KEY: "${NACOS_AUTH_TOKEN:" + OLD_DEFAULT_KEY + "}",
                           IDENTITY_KEY: "${NACOS_AUTH_IDENTITY_KEY:serverIdentity}",
                           IDENTITY_VALUE: "${NACOS_AUTH_IDENTITY_VALUE:security}"})
    if version < (2, 1, 1) and version[:3] != (1, 4, 4):   # v1.4.4 already wrote the 2.1 names (:21,23@v1.4.4)
        # Up to v2.1.0 it wrote the old names, which the 2.1.0 server no longer reads: on nacos-server:v2.1.0,
        # NACOS_AUTH_TOKEN has no effect and the published key from the jar applies (alibaba/nacos#9830).
        properties[TOKEN_KEY_OLD] = properties.pop(TOKEN_KEY)
        properties[TOKEN_EXPIRE_OLD] = properties.pop(TOKEN_EXPIRE)
    return properties


def builtin_properties(version: Version | None) -> dict[str, str]:
    """The server's own application.properties inside nacos-server.jar (alibaba/nacos console/src/main/resources;
    bootstrap/src/main/resources from 3.0.0), checked at 2.0.4, 2.1.0, 2.2.0, 2.2.0.1, 2.2.1, 2.3.0, 2.4.0, 2.5.1,
    3.0.0. Spring loads it beneath /home/nacos/conf/application.properties, so it supplies whatever that file leaves
    out, a file mounted there included."""
    properties = {AUTH_ENABLED: "false", SYSTEM_TYPE: "nacos", TOKEN_KEY: "", TOKEN_EXPIRE: "18000",
                  IDENTITY_KEY: "", IDENTITY_VALUE: ""}
    if version is None or version >= CONSOLE_AUTH_SINCE:
        return {**properties, ADMIN_AUTH_ENABLED: "true", CONSOLE_AUTH_ENABLED: "true"}
    if reads_user_agent_white(version):
        properties[USER_AGENT_WHITE] = "false" if version >= USER_AGENT_WHITE_JAR_FALSE_SINCE else "true"
    if version >= (2, 2, 1):
        return properties
    if not EMPTY_DEFAULTS_1_4[0] <= version < EMPTY_DEFAULTS_1_4[1]:   # 1.4.5-1.4.8's jar: empty identity
        properties.update({IDENTITY_KEY: "serverIdentity", IDENTITY_VALUE: "security"})   # (:136,137@1.4.5)
    if version >= (2, 2, 0, 1):   # 2.2.0.1 removed the published key, 2.2.1 the identity
        return properties
    properties[TOKEN_KEY] = OLD_DEFAULT_KEY
    if version < PLUGIN_KEY_SINCE:
        properties[TOKEN_KEY_OLD] = properties.pop(TOKEN_KEY)
        properties[TOKEN_EXPIRE_OLD] = properties.pop(TOKEN_EXPIRE)
    return properties


# Env names that mark a container as a Nacos server (nacos-docker docker-startup.sh and the properties above).
SERVER_ENV_MARKERS = frozenset({
    "NACOS_SERVERS", "NACOS_AUTH_ENABLE", "NACOS_AUTH_TOKEN", "NACOS_AUTH_IDENTITY_KEY", "NACOS_APPLICATION_PORT",
    "NACOS_SERVER_PORT", "NACOS_REPLICAS", "MODE",
})
SERVER_IMAGE = re.compile(r"(^|/)nacos-server(:|@|$)")

# --- what a server needs, by version -------------------------------------------------------------------------------

# JwtTokenManager.processProperties: from 2.2.2 a key that NacosJwtParser rejects stops startup only with auth on
# (JwtTokenManager.java:80@2.2.2, `if (authConfigs.isAuthEnabled())`); 2.2.0-2.2.1 throw whatever auth says
# (JwtTokenManager.java:77@2.2.0, :73@2.2.1).
KEY_ONLY_WITH_AUTH_SINCE: Version = (2, 2, 2)
IDENTITY_REQUIRED_SINCE: Version = (2, 2, 1)          # AuthConfigs.validate: auth on and no identity stops startup
STANDALONE_WITHOUT_IDENTITY_SINCE: Version = (2, 3, 1)   # ... except in standalone mode (AuthConfigs.java:101@2.3.1)
# The 403 of a node with auth on and no identity (AuthFilter.java:96@2.4.3, AbstractProtocolAuthService.java:98@2.5.0),
# cut where its hint (set the identity, or open userAgentAuthWhite) begins.
IDENTITY_ERROR = "Invalid server identity key or value"
# The User-Agent bypass (a User-Agent starting with "Nacos-Server" skips auth): unconditional up to 1.4.0
# (AuthFilter.java:74@1.4.0); from 1.4.1 only with nacos.core.auth.enable.userAgentAuthWhite=true
# (AuthFilter.java:76@1.4.1 ... :78@2.4.3); from 2.5.0 the filter never reads the setting (AuthFilter.java:93@2.5.0).
USER_AGENT_WHITE_SINCE: Version = (1, 4, 1)
USER_AGENT_WHITE_UNTIL: Version = (2, 5, 0)
# 1.4.1's jar sets no value, so the code default applies: true (AuthConfigs.java:71@1.4.1); the jar says false
# from 1.4.2 (console application.properties:130@1.4.2).
USER_AGENT_WHITE_JAR_FALSE_SINCE: Version = (1, 4, 2)


def newest(version: Version | None) -> bool:
    return version is None or version >= CONSOLE_AUTH_SINCE


def version_label(version: Version | None) -> str:
    return "Nacos " + ".".join(map(str, version)) if version else "this Nacos version"


def key_needed_because(version: Version | None, auth: bool, console: bool) -> str | None:
    """Why a server needs a valid token key, for a message; None when it does not. From alibaba/nacos
    JwtTokenManager.processProperties: checked when it starts since 2.2.0, whatever auth says in 2.2.0-2.2.1; from
    2.2.2 only with auth on, and in 3.x also with console auth on (the default)."""
    if auth:
        return "auth is enabled"
    if newest(version) and console:
        return "console auth is on (nacos.core.auth.console.enabled, true by default in 3.x)"
    if version is not None and KEY_CHECKED_AT_START_SINCE <= version < KEY_ONLY_WITH_AUTH_SINCE:
        return f"{version_label(version)} loads the key at startup even with auth off"
    return None


def missing_key_impact(version: Version | None) -> str:
    if version is not None and version < KEY_CHECKED_AT_START_SINCE:
        return f"{version_label(version)} starts, but every login fails when it signs the token"
    return "the server refuses to start (CrashLoopBackOff)"


def identity_needed_because(version: Version | None, auth: bool, console: bool, admin: bool) -> str | None:
    """Why a server needs a server identity; None when it does not. Standalone mode changes what happens without
    one (missing_identity_impact), not whether it is needed: with auth on, a node without an identity answers
    requests with 403 (AuthFilter.java:92-98@2.4.3, AbstractProtocolAuthService.java:96@2.5.0). 3.x's admin auth,
    on by default, requires it at startup whatever nacos.core.auth.enabled says (NacosServerAdminAuthConfig.java:58,
    71,115@3.0.3). 1.4.0 and earlier have no server identity."""
    if newest(version) and admin:
        return "admin auth is on (nacos.core.auth.admin.enabled, true by default in 3.x), which requires it"
    if version is not None and version < USER_AGENT_WHITE_SINCE:
        return None
    if auth:
        return "auth is enabled"
    if newest(version) and console:
        return "console auth is on (nacos.core.auth.console.enabled, true by default in 3.x)"
    return None


def missing_identity_impact(version: Version | None, standalone: bool) -> str:
    """AuthConfigs.validate stops startup from 2.2.1 (AuthConfigs.java:101@2.2.1), except in standalone mode from
    2.3.1 (AuthConfigs.java:101@2.3.1); 3.x's admin auth has no standalone exemption."""
    refuses = "the server refuses to start (CrashLoopBackOff)"
    if newest(version):
        return refuses
    if version >= IDENTITY_REQUIRED_SINCE and not (standalone and version >= STANDALONE_WITHOUT_IDENTITY_SINCE):
        return refuses
    answered = ("every request to a client or console API" if version >= USER_AGENT_WHITE_UNTIL
                else "every HTTP request, login and console included,")
    return f"the server starts, but answers {answered} with 403 \"{IDENTITY_ERROR}\""


def reads_user_agent_white(version: Version | None) -> bool:
    return version is not None and USER_AGENT_WHITE_SINCE <= version < USER_AGENT_WHITE_UNTIL


def user_agent_bypass_unconditional(version: Version | None) -> bool:
    return version is not None and version < USER_AGENT_WHITE_SINCE


# --- well-known values ---------------------------------------------------------------------------------------------

# Published keys, as their text is published: anyone can sign tokens with them.
WELL_KNOWN_KEY_TEXTS = (
    OLD_DEFAULT_KEY,                                  # jar default up to 2.2.0, nacos-docker's up to v2.2.0.1,
                                                      # and the nacos-k8s operator's fallback (operator/Kind.go)
    "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=",   # example in alibaba/nacos distribution/conf/application
                                                      # .properties (3.x) and nacos-docker's CI ("ThisIsMyCustom...")
    "VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg5",   # the widely copied 33-byte variant of that example
    "nil",                                            # nacos-k8s Helm chart values.yaml default (the string "nil",
                                                      # rendered as a literal env value; chart 1.0.0, 6fe83e3)
)


def _copied_forms(text: str) -> set[str]:
    """A published key as users copy it: its text, the text it is the Base64 of, that text's Base64 and the Base64
    of that (encoded once more for a Secret's data, or because "the key must be Base64")."""
    raw = [text.encode()]
    decoded = _strict_base64(text)
    if decoded is not None and decoded.isascii() and decoded.decode().isprintable():
        raw.append(decoded)
    forms = set()
    for value in raw:
        once = base64.b64encode(value)
        forms |= {value.decode(), once.decode(), base64.b64encode(once).decode()}
    return forms


# (identity key, identity value) pairs published as defaults.
WELL_KNOWN_IDENTITIES = frozenset({
    ("serverIdentity", "security"),                   # jar and nacos-docker defaults up to 2.2.0.1 (2.2.1 removed)
    ("nil", "nil"),                                   # nacos-k8s Helm chart values.yaml defaults
    ("example", "example"),                           # widely copied cluster configuration example
    ("2222", "2xxx"),                                 # nacos-docker env/*.env (v2.3.0 to v3.0.3)
    ("test", "test"),                                 # nacos-docker's CI (.github/workflows/ci.yml:51-52)
})
WELL_KNOWN_IDENTITY_VALUES = frozenset(value for _, value in WELL_KNOWN_IDENTITIES)

# The admin login published with Nacos: the schema created user nacos with password nacos up to 2.3.x
# (mysql-schema.sql:211@2.3.2); 2.4.0 dropped it, so the login exists only where someone created it.
DEFAULT_ADMIN_LOGIN = ("nacos", "nacos")
DEFAULT_USER_DROPPED_SINCE: Version = (2, 4, 0)


def default_admin_impact(version: Version | None) -> str:
    if version is not None and version < DEFAULT_USER_DROPPED_SINCE:
        return (f"{version_label(version)} creates that user as the admin, so this client runs as admin and anyone "
                "who knows the published password is admin too")
    return (f"{version_label(version)} creates no default user (2.4.0 dropped it), so the login fails with 403 "
            f"\"{login_error(version)}\" unless someone created it, and then whoever knows the published password "
            "is admin")


# --- client settings -----------------------------------------------------------------------------------------------

# Spring Cloud Alibaba (spring.cloud.nacos.*), nacos-spring-boot (nacos.config.*, nacos.discovery.*), then the
# env names that Go/Python/Node apps commonly read. A workload can add names with the annotation
# nacosguard.io/client-env: "serverAddr=MY_ADDR,username=MY_USER,password=MY_PASS,accessToken=MY_TOKEN".
CLIENT_PROPERTIES: dict[str, tuple[str, ...]] = {
    "serverAddr": (
        "spring.cloud.nacos.server-addr", "spring.cloud.nacos.config.server-addr",
        "spring.cloud.nacos.discovery.server-addr", "nacos.server-addr", "nacos.config.server-addr",
        "nacos.discovery.server-addr",
    ),
    "username": (
        "spring.cloud.nacos.username", "spring.cloud.nacos.config.username", "spring.cloud.nacos.discovery.username",
        "nacos.username", "nacos.config.username", "nacos.discovery.username",
    ),
    "password": (
        "spring.cloud.nacos.password", "spring.cloud.nacos.config.password", "spring.cloud.nacos.discovery.password",
        "nacos.password", "nacos.config.password", "nacos.discovery.password",
    ),
    # No client library has a static-token property (PropertyKeyConst.java@3.0.3 has username/password, accessKey/
    # secretKey, no token; the Java, Go and Python clients log in themselves): a static token is only ever an
    # OpenAPI caller's, read from env (CLIENT_ENV) or the annotation.
    "accessToken": (),
}
CLIENT_ENV: dict[str, tuple[str, ...]] = {
    "serverAddr": ("NACOS_SERVER_ADDR", "NACOS_SERVER_ADDRESSES", "NACOS_ADDR", "NACOS_ADDRESS"),
    "username": ("NACOS_USERNAME", "NACOS_USER"),
    "password": ("NACOS_PASSWORD",),
    "accessToken": ("NACOS_ACCESS_TOKEN",),
}
CLIENT_ENV_ANNOTATION = "nacosguard.io/client-env"

SENSITIVE_SETTINGS = frozenset({"token_key", "identity_value", "password", "accessToken"})

# --- versions ------------------------------------------------------------------------------------------------------

_VERSION_TAG = re.compile(r"^v?(\d+(?:\.\d+){1,3})(?:[-_.].*)?$")


OFFICIAL_REPOSITORY = "nacos/nacos-server"   # nacos-docker's images, on Docker Hub and its mirrors


def image_repository(image: str) -> str:
    """The last two path parts of an image's name, without registry, tag or digest: "nacos/nacos-server" for
    registry.example.com/nacos/nacos-server:latest."""
    name = image.split("@", 1)[0]
    if ":" in name.rsplit("/", 1)[-1]:
        name = name.rsplit(":", 1)[0]
    return "/".join(name.lower().split("/")[-2:])


def image_version(image: str) -> Version | None:
    """(2, 3, 2) from "nacos/nacos-server:v2.3.2-slim"; None for latest, a digest or no tag."""
    name = image.split("@", 1)[0]
    tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else ""
    match = _VERSION_TAG.match(tag)
    return tuple(int(part) for part in match.group(1).split(".")) if match else None


def image_maps_token_env(version: Version | None) -> bool:
    """Whether the image's file feeds NACOS_AUTH_TOKEN into the property its server reads (not so on v2.1.0)."""
    return any(prop in docker_properties(version) for prop in token_key_properties(version))


def token_key_properties(version: Version | None) -> tuple[str, ...]:
    """The property name the server reads its key from (see TOKEN_KEY)."""
    return (TOKEN_KEY_OLD,) if version is not None and version < PLUGIN_KEY_SINCE else (TOKEN_KEY,)


def token_expire_properties(version: Version | None) -> tuple[str, ...]:
    return (TOKEN_EXPIRE_OLD,) if version is not None and version < PLUGIN_KEY_SINCE else (TOKEN_EXPIRE,)


def is_true(value: str | None) -> bool:
    """Spring's boolean conversion: true/on/yes/1 (case-insensitive)."""
    return value is not None and value.strip().lower() in {"true", "on", "yes", "1"}


# --- token key rules -----------------------------------------------------------------------------------------------

# How a server turns the configured text into its HMAC key, by version (alibaba/nacos):
# - before 2.2.0: jjwt's lenient Base64 decoder, and in 2.0.4 and 2.1.x when that fails the text's own UTF-8 bytes
#   (earlier versions have no fallback); the key is first used when a login signs a token
#   (AuthConfigs/NacosAuthConfig.getSecretKeyBytes).
# - 2.2.0 and 2.2.0.1: the same lenient decoder, checked when JwtTokenManager starts; failure stops the server.
# - 2.2.1 to 2.2.x: java.util.Base64's strict basic decoder, and when that fails the text's US-ASCII bytes
#   (NacosJwtParser, 2.2.1-2.2.4).
# - 2.3.0 and later: Nacos's own copy of the lenient decoder (utils/Base64Decode, "forward compatible old version
#   secretKey"), no fallback: failure stops the server.
# The lenient decoder skips characters outside the Base64 alphabet at both ends (a trailing newline is harmless),
# reads '=' anywhere as zero bits, drops a final unit of one character (which is how the 69-character published key
# decodes to 51 bytes), and fails on any other character inside. Every version needs at least 32 bytes (256 bits;
# jjwt Keys.hmacShaKeyFor, NacosJwtParser).
MIN_KEY_BYTES = 32
KEY_CHECKED_AT_START_SINCE: Version = (2, 2, 0)
STRICT_BASE64: tuple[Version, Version] = ((2, 2, 1), (2, 3, 0))   # [from, until)
# The UTF-8 fallback exists only in 2.0.4 and 2.1.x (AuthConfigs.java:97-98@2.0.4, NacosAuthConfig.java:185@2.1.0);
# 1.4.x and 2.0.0-2.0.3 decode without one (AuthConfigs.java:76@1.4.1, :93@2.0.3), so every login fails.
UTF8_FALLBACK: tuple[Version, Version] = ((2, 0, 4), (2, 2, 0))
_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_LENIENT_VALUES = {char: index for index, char in enumerate(_ALPHABET)} | {"=": 0}
_STRICT = re.compile(r"([A-Za-z0-9+/]*)(=*)")


@dataclass(frozen=True, slots=True)
class KeyDecoding:
    key: bytes | None     # the HMAC key the server ends up with; None: it cannot derive one
    base64: bool          # whether the text is Base64 by that server's rules


def _lenient_value(char: str) -> int:
    if ord(char) > 255:
        raise IndexError(char)
    return _LENIENT_VALUES.get(char, -1)


def _lenient_base64(text: str) -> bytes | None:
    """The MigBase64-style decoder of jjwt and Nacos 2.3+ (see above); None where it throws."""
    if not text:
        return b""
    start, end = 0, len(text) - 1
    try:   # its alphabet table has 256 entries: looking up a character beyond that is an index error
        while start < end and _lenient_value(text[start]) < 0:
            start += 1
        while end > 0 and _lenient_value(text[end]) < 0:
            end -= 1
    except IndexError:
        return None
    if text[end] == "=" and end == 0:
        return None   # it looks one character back for a second '='
    pad = (2 if text[end - 1] == "=" else 1) if text[end] == "=" else 0
    count = end - start + 1
    separators = ((count // 78) << 1) if len(text) > 76 and text[76] == "\r" else 0
    length = ((count - separators) * 6 >> 3) - pad
    if length < 0:
        return None
    out = bytearray()
    position, quads = start, 0

    def value(char: str) -> int:
        if char not in _LENIENT_VALUES:
            raise ValueError(char)
        return _LENIENT_VALUES[char]

    try:
        while len(out) < length // 3 * 3:
            chunk = text[position:position + 4]
            if len(chunk) < 4:
                return None
            bits = value(chunk[0]) << 18 | value(chunk[1]) << 12 | value(chunk[2]) << 6 | value(chunk[3])
            out += bytes(((bits >> 16) & 255, (bits >> 8) & 255, bits & 255))
            position += 4
            quads += 1
            if separators and quads == 19:   # a MIME line break every 76 characters
                position, quads = position + 2, 0
        if len(out) < length:
            bits, index = 0, 0
            while position <= end - pad:
                bits |= value(text[position]) << ((18 - index * 6) & 31)
                bits &= 0xFFFFFFFF
                position, index = position + 1, index + 1
            shift = 16
            while len(out) < length:
                out.append((bits >> shift) & 255 if shift >= 0 else 0)
                shift -= 8
    except (ValueError, IndexError):
        return None
    return bytes(out)


def _strict_base64(text: str) -> bytes | None:
    """java.util.Base64.getDecoder(): standard alphabet only, padding optional but exact, no lone final char."""
    match = _STRICT.fullmatch(text)
    if not match:
        return None
    data, padding = match.groups()
    if len(data) % 4 == 1 or (padding and len(data) % 4 + len(padding) != 4) or len(padding) > 2:
        return None
    return base64.b64decode(data + "=" * (-len(data) % 4))


_CACHED_KEY_CHARS = 512      # real keys are 32 to 128 characters
_CACHED_TOKEN_CHARS = 4096   # Nacos tokens are about 150 characters


def _cached_when_small(maxsize: int, limit: int):
    """lru_cache for calls whose first argument (a key or a token, text or bytes) is at most `limit` long; a longer
    one is computed each time, so a cache holds at most `maxsize` values of usual size, never a megabyte-long one
    from an env var or a Secret. Call .cache_info() as on lru_cache."""
    def decorate(function):
        cached = functools.lru_cache(maxsize=maxsize)(function)

        @functools.wraps(function)
        def call(value, *rest, **named):
            return (cached if len(value) <= limit else function)(value, *rest, **named)

        call.cache_info = cached.cache_info
        return call
    return decorate


@_cached_when_small(1024, _CACHED_KEY_CHARS)   # the same key is on every pod of a cluster, checked by several rules
def decode_key(text: str, version: Version | None = None) -> KeyDecoding:
    """The HMAC key a server of `version` derives from its configured key text (None: the newest behaviour)."""
    if version is not None and STRICT_BASE64[0] <= version < STRICT_BASE64[1]:
        decoded = _strict_base64(text)
        if decoded is None:
            return KeyDecoding(text.encode("ascii", "replace"), False)
        return KeyDecoding(decoded, True)
    decoded = _lenient_base64(text)
    if decoded is not None:
        return KeyDecoding(decoded, True)
    if version is not None and UTF8_FALLBACK[0] <= version < UTF8_FALLBACK[1]:
        return KeyDecoding(text.encode("utf-8"), False)
    return KeyDecoding(None, False)


WELL_KNOWN_TOKEN_KEYS = frozenset(form for text in WELL_KNOWN_KEY_TEXTS for form in _copied_forms(text))


def is_well_known_key(text: str, version: Version | None = None) -> bool:
    """A published key, written as published or in any form that gives the server the same HMAC key."""
    if text.strip() in WELL_KNOWN_TOKEN_KEYS:
        return True
    key = decode_key(text, version).key
    return key is not None and key in _well_known_hmac_keys(version)


@functools.cache
def _well_known_hmac_keys(version: Version | None) -> frozenset[bytes]:
    """The HMAC keys a server of `version` derives from the published keys: decoding them anew for every server
    made a tenant of 5,000 idle servers spend most of its lint here (the decoder is Python, character by
    character)."""
    return frozenset(key for key in (decode_key(known, version).key for known in WELL_KNOWN_TOKEN_KEYS)
                     if key is not None)


# Nacos signs with the HMAC-SHA size its key allows: HS256 below 48 bytes, HS384 below 64, HS512 from 64
# (NacosJwtParser, 2.2.1+; jjwt before that always signed HS256). A node verifies with the algorithm the header names.
TOKEN_ALGORITHMS = ("HS256", "HS384", "HS512")
# The registered JWS "alg" names (RFC 7518 section 3.1, RFC 8037, RFC 8812): the only header text a message quotes.
JWS_ALGORITHMS = frozenset({"none", *TOKEN_ALGORITHMS, "RS256", "RS384", "RS512", "ES256", "ES384", "ES512",
                            "ES256K", "PS256", "PS384", "PS512", "EdDSA"})
# 2.2.1+ accepts only the exact header segments it writes itself ({"alg":"HS256"} and so on, no "typ"), and answers
# any other header with 403 "unsupported signature algorithm" (NacosSignatureAlgorithm, 2.2.1 to 3.x).
EXACT_HEADER_SINCE: Version = (2, 2, 1)
NACOS_HEADER_ALGORITHMS = {"eyJhbGciOiJIUzI1NiJ9": "HS256", "eyJhbGciOiJIUzM4NCJ9": "HS384",
                           "eyJhbGciOiJIUzUxMiJ9": "HS512"}   # the segment of {"alg":"HS256"} and so on
def nacos_header_algorithm(token: str) -> str | None:
    """The algorithm of a token whose header is exactly one Nacos writes; None for any other header."""
    return NACOS_HEADER_ALGORITHMS.get(token.split(".", 1)[0])


# What a client is told (the message of the 403), by version:
# - another key: "token invalid!" up to 2.2.0.1 (NacosAuthManager.java:163@2.2.0.1 maps every jjwt failure but
#   expiry to it), "Invalid signature" from 2.2.1 (NacosSignatureAlgorithm.java:128@2.4.3);
# - no credentials or a bad login: "unknown user!" up to 2.2.0.1 (NacosAuthManager.java:141@2.2.0.1), "user not
#   found!" 2.2.1-2.5 (AbstractAuthenticationManager.java:58@2.2.1), in 3.x "User not found! Please check user exist
#   or password is right!" (AbstractAuthenticationManager.java:41@3.0.3);
# - "token expired!" and "authorization failed!" in every version.
# 3.x wraps each as AuthResult.format() does, "Code: N, Message: <text>." (AuthResult.java:26@3.0.3): N is 401 for a
# failed identity, 403 for a missing permission (NacosAuthPluginService.java:77,114@3.0.3).
NEW_AUTH_TEXTS_SINCE: Version = (2, 2, 1)
USER_NOT_FOUND_3X = "User not found! Please check user exist or password is right!"


def as_served(text: str, version: Version | None, code: int = 401) -> str:
    """An auth failure's text as the server of `version` sends it."""
    return f"Code: {code}, Message: {text}." if newest(version) else text


def _signature_text(version: Version | None) -> str:
    return "token invalid!" if version is not None and version < NEW_AUTH_TEXTS_SINCE else "Invalid signature"


def signature_error(version: Version | None) -> str:
    """What a node answers (403) to a token signed with another key."""
    return as_served(_signature_text(version), version)


def login_error(version: Version | None) -> str:
    """What a node answers (403) to a request with no credentials, an unknown user or a wrong password."""
    if version is not None and version < NEW_AUTH_TEXTS_SINCE:
        return "unknown user!"
    return as_served(USER_NOT_FOUND_3X if newest(version) else "user not found!", version)


@dataclass(frozen=True, slots=True)
class TokenVerdict:
    problem: str | None        # None, "malformed", "expired", "expiring", "signature", "unexpiring"
    detail: str = ""           # safe to print: never contains the token or key
    expires_at: datetime | None = None
    error: str = "token invalid!"   # what the server answers (403) to a request with this token
    status: int = 403               # 500: the server fails on the token instead of refusing it

    @property
    def answer(self) -> str:
        """The server's answer, for a message."""
        if self.status == 500:
            return "HTTP 500 (the server fails while reading the token)"
        return f'{self.status} "{self.error}"'


# Only the signature, then exp, as Nacos checks: pyjwt's other claim checks (nbf, iat, aud, ...) are not Nacos's.
_SIGNATURE_ONLY = {"verify_exp": False, "verify_nbf": False, "verify_iat": False, "verify_aud": False,
                   "verify_iss": False, "verify_sub": False, "verify_jti": False}
_JAVA_LONG = range(-2 ** 63, 2 ** 63)
_INTEGER_TEXT = re.compile(r"[+-]?\d+")
_UNREADABLE = object()


def _payload_exp(claims: dict, version: Version | None):
    """exp as the server reads it: None when the token has none; _UNREADABLE when reading fails.
    2.2.1+ reads the payload with Jackson into NacosJwtPayload's `long exp`, which starts as the parse time
    (NacosJwtPayload.java:31@2.2.1, the same at 3.0.3): no exp is a token that never expires. Jackson coerces a
    float (truncated), an integer string and null (0) and fails on anything else. Before 2.2.1 jjwt checks exp only
    when there is one."""
    if "exp" not in claims:
        return None
    exp = claims["exp"]
    if version is not None and version < EXACT_HEADER_SINCE:
        return exp if isinstance(exp, (int, float)) and not isinstance(exp, bool) else _UNREADABLE
    if exp is None:
        return 0
    if isinstance(exp, float) and exp == exp and abs(exp) != float("inf"):
        exp = int(exp)
    elif isinstance(exp, str) and _INTEGER_TEXT.fullmatch(exp.strip()):
        exp = int(exp.strip())
    return exp if isinstance(exp, int) and not isinstance(exp, bool) and exp in _JAVA_LONG else _UNREADABLE


def _instant(exp: float | None) -> datetime | None:
    try:
        return datetime.fromtimestamp(exp, tz=timezone.utc) if exp is not None else None
    except (OverflowError, ValueError, OSError):   # beyond year 9999: it never expires either
        return None


def check_token(token: str, key: bytes | None, now: datetime, warn_within_seconds: float,
                version: Version | None = None) -> TokenVerdict:
    """Checks a static accessToken the way a Nacos node would: header, signature with the node's key (when given),
    then `exp`: valid while exp >= now in whole seconds (NacosSignatureAlgorithm.java:131@2.4.3)."""
    verdict = _check_token(token, key, now, warn_within_seconds, version)
    served = as_served(verdict.error, version)
    return verdict if served == verdict.error else replace(verdict, error=served)


def _signature_verifies(token: str, key: bytes, algorithm: str) -> bool:
    """What jwt.decode(token, key, algorithms, options=_SIGNATURE_ONLY) checks of a token already read whole
    (_read_unverified) whose header is exactly one Nacos writes, with pyjwt's own algorithm: its key preparation
    (which refuses asymmetric and JWK-shaped keys with InvalidKeyError, as decode does) and its HMAC comparison; not
    its key-length check, which only warns (decode's warning is silenced: Nacos accepts such keys too). Decode
    reads every segment again character by character: three quarters of checking a token against a server's key,
    which a token sent to no known server is against every server's."""
    signing_input, signature = _signing_parts(token)
    return _hmac(algorithm).verify(signing_input, _prepared_key(key, algorithm), signature)


@_cached_when_small(256, _CACHED_TOKEN_CHARS)
def _signing_parts(token: str) -> tuple[bytes, bytes]:
    """What the signature is computed over, and the signature (the token was read whole before: it decodes)."""
    import jwt.utils
    signing_input, _, signature = token.rpartition(".")
    return signing_input.encode(), jwt.utils.base64url_decode(signature)


@functools.cache
def _hmac(algorithm: str):
    import jwt.algorithms
    return jwt.algorithms.get_default_algorithms()[algorithm]


@_cached_when_small(1024, _CACHED_KEY_CHARS)   # each server's key, for every token sent to no known server
def _prepared_key(key: bytes, algorithm: str) -> bytes:
    return _hmac(algorithm).prepare_key(key)


@_cached_when_small(256, _CACHED_TOKEN_CHARS)   # a token sent to no known server is read again for every key
def _read_unverified(token: str, version: Version | None) -> TokenVerdict | tuple[int | None, datetime | None]:
    """What a node reads of a token before its key: a verdict when it is malformed, else its exp and that instant
    (reading cost twice the signature check: 44 of 64 µs, measured)."""
    import jwt
    try:
        header = jwt.get_unverified_header(token)
        claims = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError as error:
        return TokenVerdict("malformed", f"not a JWT ({type(error).__name__})")
    if header.get("alg") not in TOKEN_ALGORITHMS:
        # Only a registered name is quoted: the header is the token's own text, and anything may be written there.
        alg = header.get("alg")
        named = f"signed with {alg}" if isinstance(alg, str) and alg in JWS_ALGORITHMS else \
            "its header names no registered JWS algorithm"
        return TokenVerdict("malformed", f"{named}, Nacos signs with HMAC-SHA")
    exp = _payload_exp(claims, version)
    if exp is _UNREADABLE:
        if version is not None and version < EXACT_HEADER_SINCE:
            return TokenVerdict("malformed", "its 'exp' claim is not a number")
        return TokenVerdict("malformed", "its 'exp' claim is not a number, which the server cannot read",
                            status=500)
    return exp, _instant(exp)


def _check_token(token: str, key: bytes | None, now: datetime, warn_within_seconds: float,
                 version: Version | None) -> TokenVerdict:
    read = _read_unverified(token, version)
    if isinstance(read, TokenVerdict):
        return read
    exp, expires_at = read
    if key is not None:
        import jwt   # with its crypto backends, a third of a small lint's start-up: paid only where a token is checked
        import jwt.warnings
        algorithm = nacos_header_algorithm(token)
        if (version is None or version >= EXACT_HEADER_SINCE) and algorithm is None:
            return TokenVerdict("malformed", "its header is not the one Nacos writes (a third-party tool made it)",
                                expires_at, "unsupported signature algorithm")
        try:
            if algorithm is not None:
                if not _signature_verifies(token, key, algorithm):
                    raise jwt.InvalidSignatureError("Signature verification failed")
            else:
                with warnings.catch_warnings():   # an HS512 token checked with a 32-byte key is what Nacos does too
                    warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
                    jwt.decode(token, key, algorithms=list(TOKEN_ALGORITHMS), options=_SIGNATURE_ONLY)
        except jwt.InvalidSignatureError:
            return TokenVerdict("signature", "signature does not verify with the server's key", expires_at,
                                _signature_text(version))
        except jwt.PyJWTError as error:
            return TokenVerdict("malformed", f"rejected ({type(error).__name__})", expires_at)
    if exp is None:
        return TokenVerdict("unexpiring", "has no 'exp' claim, so the server accepts it forever")
    remaining = exp - int(now.timestamp())
    if remaining < 0:
        when = f"{expires_at:%Y-%m-%dT%H:%M:%SZ}" if expires_at else "before year 1"
        return TokenVerdict("expired", f"expired at {when}", expires_at, "token expired!")
    if remaining <= warn_within_seconds:
        return TokenVerdict("expiring", f"expires at {expires_at:%Y-%m-%dT%H:%M:%SZ}", expires_at, "token expired!")
    return TokenVerdict(None, "", expires_at)
