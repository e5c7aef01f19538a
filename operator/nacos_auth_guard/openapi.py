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
# username=..., password=... as a query/form field, a curl -d/--data(-urlencode) field or httpie's key=value.
_FIELD = re.compile(r"""(?:^|[\s&?'"])(username|password)=([^\s&'"]*)""")


@dataclass(frozen=True, slots=True)
class OpenApiCall:
    url: str            # with $VAR resolved where the env knows it; held in memory only (it may carry a token)
    host: str
    login: bool
    literal_login: tuple[str, ...] = ()   # "username", "password": fields written as literals in the call


def resolve(text: str, env: Mapping[str, str]) -> str:
    """$VAR and ${VAR} replaced by the container env's known values; unknown ones stay as written."""
    return _VARIABLE.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def _host(url: str) -> str:
    rest = url.split("://", 1)[1]
    hostport = re.split(r"[/?#]", rest, maxsplit=1)[0].rsplit("@", 1)[-1]
    if hostport.startswith("["):
        return hostport[1:].split("]", 1)[0].lower()
    return hostport.split(":", 1)[0].lower().rstrip(".")


def _is_literal(value: str) -> bool:
    return bool(value) and "$" not in value and not value.startswith(("@", "<"))


def find_calls(text: str, env: Mapping[str, str] | None = None,
               is_nacos_host=lambda host: False) -> list[OpenApiCall]:
    """Nacos OpenAPI calls in one text: a URL whose path is a Nacos API or whose host `is_nacos_host` names.
    A login's username/password are literal when written in the text itself (not `$VAR`, not `@file`)."""
    env = env or {}
    calls = []
    for line in _logical_lines(text):
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
            calls.append(OpenApiCall(url, host, login, literal))
    return calls


def _logical_lines(text: str) -> list[str]:
    """Lines with shell continuations (`\\` at the end) joined, so one curl over several lines is one call."""
    return re.sub(r"\\\r?\n", " ", text).splitlines() or [text]


def jwt_strings(text: str) -> list[tuple[str, int]]:
    """Every JWT-shaped string with its 1-based line number."""
    return [(m.group(0), text.count("\n", 0, m.start()) + 1) for m in JWT_SHAPE.finditer(text)]
