"""Nacos OpenAPI calls in a workload's text (command/args, env values, mounted scripts): pure, no I/O.

No client library takes a static token (PropertyKeyConst.java@3.0.3: username/password, accessKey/secretKey), so a
token in a manifest belongs to a script calling the OpenAPI with curl, wget, httpie or a language's HTTP call. What
is found here never leaves as text: checks use the token in memory and report only where it sits."""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

# A JWT whose header is JSON: base64url of `{"` starts "eyJ". Nacos writes {"alg":"HS256"} (and HS384/HS512).
JWT_SHAPE = re.compile(r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
_URL = re.compile(r"""https?://[^\s'"<>`|;)]+""")
_NACOS_PATH = re.compile(r"/v[123]/(?:cs|ns|auth|console|core|admin|client)/")
# Login endpoints: /v1/auth/login and /v1/auth/users/login (UserController.java:72,266@2.5.0, :70,275@3.0.3),
# /v3/auth/user/login (UserControllerV3.java:65,279@3.0.3, AuthConstants.USER_PATH).
_LOGIN_PATH = re.compile(r"/v1/auth/(?:users/)?login\b|/v3/auth/user/login\b")
_VARIABLE = re.compile(r"\$\{(\w+)\}|\$(\w+)")
# Endpoints every mapping of which is @Secured in 2.0.0, 2.2.3, 2.4.3 and 2.5.0: ConfigController (/v1/cs/configs,
# its /listener and /catalog, search, export, beta), ConfigControllerV2 (/v2/cs/config, /searchDetail),
# InstanceController and InstanceControllerV2 (/v1|v2/ns/instance, /list, /metadata/batch, /beat). Health and console
# paths are not secured.
_SECURED_PATH_2X = re.compile(r"/nacos/(?:v1/cs/configs|v2/cs/config|v[12]/ns/instance)(?:/[\w/]*)?")
# 3.x: the API compatibility filter answers before the auth filters (order 5 before 6, ApiCompatibilitySpringConfig
# and AuthConfig@3.0.0-3.0.3) with 410 for the v1/v2 admin and console mappings; the v1 mappings it serves by default
# are the OPEN_API ones (nacos.core.api.compatibility.client.enabled, true): /v1/cs/configs without the console's
# params, /v1/ns/instance/list and /beat (ConfigController, InstanceController @Compatibility@3.0.3). The v3 client
# API (ConfigOpenApiController, InstanceOpenApiController@3.0.3) is @Secured OPEN_API.
_SECURED_PATHS_3X = frozenset({"/nacos/v1/ns/instance/list", "/nacos/v1/ns/instance/beat", "/nacos/v3/client/cs/config",
                               "/nacos/v3/client/ns/instance", "/nacos/v3/client/ns/instance/list"})
_CONSOLE_PARAMS_3X = frozenset({"show", "search", "beta", "export", "exportV2", "delType", "import", "clone"})


def refused_without_identity(url: str, version: tuple[int, ...]) -> bool:
    """Whether a Nacos of `version` (known) answers a call of `url` that sends no identity with its auth error."""
    rest = url.split("://", 1)[1]
    path_query = rest[len(re.split(r"[/?#]", rest, maxsplit=1)[0]):].split("#", 1)[0]
    path, _, query = path_query.partition("?")
    path = path.rstrip("/")
    if version < (3,):
        return bool(_SECURED_PATH_2X.fullmatch(path))
    if path == "/nacos/v1/cs/configs":
        return not {field.split("=", 1)[0] for field in query.split("&")} & _CONSOLE_PARAMS_3X
    return path in _SECURED_PATHS_3X


# A curl or wget command: only their arguments are read well enough to tell that nothing authenticates the call.
_CLIENT_TOOL = re.compile(r"(?:^|[\s;&|(`'\"])(?:curl|wget)(?=\s)")
# Anything that sends (or may send) an identity: a token or login field or header, any header at all (the server
# identity header has a configurable name), a config file, cookies, data read from a file, a variable left unknown.
# An explicit PUT or PATCH: several of these paths map no such method (the answer is then 405, not the auth error).
_METHOD_UNMAPPED = re.compile(r"(?:^|\s)(?:-X|--request|--method)[\s=]*['\"]?(?:PUT|PATCH)\b", re.IGNORECASE)
_MAYBE_IDENTITY = re.compile(r"accesstoken|authorization|username|password|identity|(?:^|\s)(?:-H|--header|-K|"
                             r"--config|-b|--cookie|-u|--user)\b|@|\$", re.IGNORECASE)
# username=..., password=... as a query/form field, a curl -d/--data(-urlencode) field or httpie's key=value.
_FIELD = re.compile(r"""(?:^|[\s&?'"])(username|password)=([^\s&'"]*)""")


@dataclass(frozen=True, slots=True)
class OpenApiCall:
    url: str            # with $VAR resolved where the env knows it; held in memory only (it may carry a token)
    host: str
    login: bool
    literal_login: tuple[str, ...] = ()   # "username", "password": fields written as literals in the call
    sends_nothing: bool = False           # a curl/wget call that surely sends no identity (refused_without_identity)
    line: int = 1                         # where the call starts in its text


def resolve(text: str, env: Mapping[str, str]) -> str:
    """$VAR and ${VAR} replaced by the container env's known values; unknown ones stay as written."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def _host(url: str) -> str:
    rest = url.split("://", 1)[1]
    hostport = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0].lower()
    return hostport.split(":", 1)[0].lower().rstrip(".")


def base_url(url: str) -> str:
    """scheme://host[:port] of a call, without userinfo, path, query or fragment: safe to print."""
    scheme, rest = url.split("://", 1)
    return f"{scheme}://" + re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]


def _is_literal(value: str) -> bool:
    return bool(value) and "$" not in value and not value.startswith(("@", "<"))


def find_calls(text: str, env: Mapping[str, str] | None = None,
               is_nacos_host=lambda host: False) -> list[OpenApiCall]:
    """Nacos OpenAPI calls in one text: a URL whose path is a Nacos API or whose host `is_nacos_host` names.
    A login's username/password are literal when written in the text itself (not `$VAR`, not `@file`)."""
    if "://" not in text and "$" not in text:   # no URL, and no variable that could hold one: most texts
        return []
    env = env or {}
    calls = []
    for number, line in _logical_lines(text):
        resolved = resolve(line, env)
        for match in _URL.finditer(resolved):
            url = match.group(0)
            host = _host(url)
            if not (_NACOS_PATH.search(url) or is_nacos_host(host)):
                continue
            login = bool(_LOGIN_PATH.search(url))
            literal = ()
            if login:
                # Judge literalness on the line as written: a `$NACOS_PASSWORD` resolved from env is not a literal.
                fields = {name: value for name, value in _FIELD.findall(line)}
                literal = tuple(sorted(n for n, v in fields.items() if _is_literal(v)))
            sends_nothing = (not login and bool(_CLIENT_TOOL.search(resolved)) and not _MAYBE_IDENTITY.search(resolved)
                             and not _METHOD_UNMAPPED.search(resolved))
            calls.append(OpenApiCall(url, host, login, literal, sends_nothing, number))
    return calls


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(1-based number of its first line, line) with shell continuations (`\\` at the end) joined, so one curl over
    several lines is one call."""
    lines, number = [], 1
    for line in re.split(r"(?<!\\)\r?\n", text):
        lines.append((number, re.sub(r"\\\r?\n", " ", line)))
        number += line.count("\n") + 1
    return lines


def jwt_strings(text: str) -> list[tuple[str, int]]:
    """Every JWT-shaped string with its 1-based line number."""
    return [(m.group(0), text.count("\n", 0, m.start()) + 1) for m in JWT_SHAPE.finditer(text)]
