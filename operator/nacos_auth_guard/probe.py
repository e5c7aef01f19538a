"""The live probe, pure part: what to probe, how to read Nacos's answers, and the findings they add up to.

The probe logs in on every ready server pod directly (pod IP) with a least-privilege user, then presents each pod's
token to every pod on a cheap authenticated read. probe_client.py does the HTTP; everything here is pure and is
tested table-driven. Facts below were read in alibaba/nacos (plugin-default-impl, core AuthFilter), tags 2.2.3,
2.4.3 and 3.0.3:

- Login: POST {context}/v1/auth/login (also /v1/auth/users/login; the form fields `username`, `password`), and on
  3.x POST {context}/v3/auth/user/login. Success: 200 {"accessToken", "tokenTtl", "globalAdmin", "username"},
  with tokenTtl = exp - the server's now (JwtTokenManager.getTokenTtlInSeconds). Failure: 403 `user not found!`
  (2.2.x-2.5: an unknown user and a wrong password alike), `User not found! Please check user exist or password is
  right!` (3.x), `unknown user!` (older servers). The 3.x Java client tries v3 first and falls back to v1 on 404/501.
- Token checks happen in the AuthFilter before the endpoint runs, and end in sendError(403, reason), which Spring
  renders with the message (server.error.include-message=ALWAYS): `Invalid signature` (another key, 2.2.1+),
  `token invalid!` (malformed; the jjwt servers before 2.2.1 also said it for another key), `token expired!`
  (exp < the server's now), `user not found!` (no token). 3.x wraps them: `Code: 401, Message: Invalid signature.`
- A token accepted as identity whose user lacks the permission gets 403 `authorization failed!` (3.x: `Code: 403,
  Message: authorization failed!.`): so the probe user needs no role at all, and that answer means "accepted".
- The read: GET {context}/v1/cs/configs?dataId=..&group=.. (2.x; @Secured READ) answers 404 `config data not
  exist` for a missing config; 3.x: GET {context}/v3/client/cs/config?dataId=..&groupName=.., which answers
  {"code": 20004, "message": "resource not found"}. Both run after the AuthFilter, so they also mean "accepted".
- The token goes in `Authorization: Bearer <token>` (read first by every 2.x/3.x server), never in the URL, so it
  does not land in Nacos's access log.
"""
from __future__ import annotations

import base64
import enum
import html
import ipaddress
import json
import re
from dataclasses import dataclass, field

from .catalog import finding
from .checks.consistency import describe_groups
from .discovery import pod_owners, pod_template
from .evaluation import CheckSpec, ProbeSpec
from .model import Finding, ObjectRef, Severity
from .nacos import image_version
from .shapes import as_dict, as_list, as_text
from .snapshot import Snapshot
from .sources import is_server_container

CONTEXT_PATH = "/nacos"   # Nacos's default server.servlet.contextPath (nacos.server.contextPath in 3.x)
READ_DATA_ID = "nacos-auth-guard.probe"   # a config nobody needs to create: "not found" proves the token passed
READ_GROUP = "nacos-auth-guard"
USER_AGENT = "nacos-auth-guard-probe"     # never "Nacos-Server...": that user agent skips auth where it is whitelisted
CLOCK_SKEW_WARNING_SECONDS = 10


class Api(enum.Enum):
    V1 = "v1"   # 1.x/2.x paths, still served by 3.x
    V3 = "v3"


LOGIN_PATHS = {Api.V1: f"{CONTEXT_PATH}/v1/auth/login", Api.V3: f"{CONTEXT_PATH}/v3/auth/user/login"}
READ_REQUESTS = {
    Api.V1: (f"{CONTEXT_PATH}/v1/cs/configs", {"dataId": READ_DATA_ID, "group": READ_GROUP}),
    Api.V3: (f"{CONTEXT_PATH}/v3/client/cs/config", {"dataId": READ_DATA_ID, "groupName": READ_GROUP}),
}


@dataclass(frozen=True, slots=True)
class ProbeTarget:
    """One server pod as the probe reaches it. `api` None: the version is unknown, so the login tries v3 then v1."""
    pod: str
    host: str
    port: int
    api: Api | None = None


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str = field(repr=False)
    password: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class ProbePlan:
    """What one run needs. `problems` (NAG603/NAG605) stand instead of a run when it cannot start."""
    targets: tuple[ProbeTarget, ...] = ()
    credentials: Credentials | None = None
    problems: tuple[Finding, ...] = ()
    skipped: tuple[str, ...] = ()   # ready pods without a usable pod IP


# --- what to probe -----------------------------------------------------------------------------------------------

def is_ready(pod: dict) -> bool:
    return any(isinstance(c, dict) and c.get("type") == "Ready" and c.get("status") == "True"
               for c in as_list(as_dict(pod.get("status")).get("conditions")))


def pod_ip(pod: dict) -> str | None:
    """The pod IP, only when it is an IP address (never a name the probe would resolve)."""
    text = as_text(as_dict(pod.get("status")).get("podIP"))
    try:
        return str(ipaddress.ip_address(text)) if text else None
    except ValueError:
        return None


def pod_api(pod: dict) -> Api | None:
    _, spec = pod_template(pod)
    containers = [c for c in as_list(spec.get("containers")) if isinstance(c, dict)]
    server = next((c for c in containers if is_server_container(c)), containers[0] if containers else {})
    version = image_version(as_text(server.get("image")) or "")
    if version is None:
        return None
    return Api.V3 if version >= (3,) else Api.V1


def plan_probe(spec: CheckSpec, snapshot: Snapshot) -> ProbePlan:
    """Targets from the ready pods of the check's server workload (pod IP + spec.probe.port), credentials from the
    Secret cache. Pure: the snapshot is all it reads."""
    probe = spec.probe
    assert probe is not None
    credentials, problem = _credentials(spec, probe, snapshot)
    if problem is not None:
        return ProbePlan(problems=(problem,))
    targets, skipped = [], []
    pods = sorted((w for w in snapshot.workloads if w.get("kind") == "Pod"
                   and w["metadata"].get("namespace") == spec.namespace and spec.server in pod_owners(w)
                   and is_ready(w)), key=lambda w: _ordinal(w["metadata"]["name"]))
    for pod in pods:
        address = pod_ip(pod)
        if address is None:
            skipped.append(pod["metadata"]["name"])
        else:
            targets.append(ProbeTarget(pod["metadata"]["name"], address, probe.port, pod_api(pod)))
    if not targets:
        detail = (f"{describe_groups([skipped])} are ready but have no valid pod IP" if skipped
                  else "none of its pods is ready")
        return ProbePlan(problems=(_unreachable(spec.server, "any pod", detail, probe),), skipped=tuple(skipped))
    return ProbePlan(tuple(targets), credentials, skipped=tuple(skipped))


def _ordinal(name: str) -> tuple[int, str]:
    head, _, tail = name.rpartition("-")
    return (int(tail), head) if tail.isdigit() else (1 << 30, name)


def _credentials(spec: CheckSpec, probe: ProbeSpec, snapshot: Snapshot) -> tuple[Credentials | None,
                                                                                   Finding | None]:
    fields = dict(secret=probe.secret, username_key=probe.username_key, password_key=probe.password_key)
    data = snapshot.secrets.get((spec.namespace, probe.secret))
    if data is None:
        return None, finding("NAG605", spec.ref, cluster=spec.server, **fields,
                             problem=f"names Secret {probe.secret}, which does not exist in namespace "
                                     f"{spec.namespace}")
    values = []
    for key in (probe.username_key, probe.password_key):
        if key not in data.data:
            return None, finding("NAG605", spec.ref, cluster=spec.server, **fields,
                                 problem=f"reads key {key!r} of Secret {probe.secret}, which has no such key")
        raw = data.data[key]
        try:
            text = raw.decode("utf-8") if isinstance(raw, bytes) else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            return None, finding("NAG605", spec.ref, cluster=spec.server, **fields,
                                 problem=f"reads key {key!r} of Secret {probe.secret}, whose value cannot be read "
                                         f"(not UTF-8 text, not valid Base64, or over 64 KiB)")
        if not text:
            return None, finding("NAG605", spec.ref, cluster=spec.server, **fields,
                                 problem=f"reads key {key!r} of Secret {probe.secret}, which is empty")
        values.append(text)
    return Credentials(*values), None


def _unreachable(server: ObjectRef, pods: str, detail: str, probe: ProbeSpec) -> Finding:
    return finding("NAG603", server, cluster=server, pods=pods, detail=detail, port=probe.port, scheme=probe.scheme)


# --- reading answers ------------------------------------------------------------------------------------------------

_TAGS = re.compile(r"<[^>]*>")


class Outcome(enum.Enum):
    ACCEPTED = "accepted"        # the token passed the pod's identity check
    SIGNATURE = "signature"      # the pod's key does not verify the token
    EXPIRED = "expired"          # exp is past by the pod's clock
    REFUSED = "refused"          # another answer: the probe cannot tell
    UNREACHABLE = "unreachable"  # no HTTP answer (connection, timeout, TLS)


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer, reduced to what findings may quote. `status` None: no answer; `message` then says why (our
    own text). Otherwise `message` is one of KNOWN_ANSWERS or empty, and `shape` describes any other body."""
    status: int | None
    message: str
    shape: str = ""

    def describe(self) -> str:
        if self.status is None:
            return self.message
        if self.message:
            return f"HTTP {self.status} {json.dumps(self.message)}"
        return f"HTTP {self.status} with {self.shape}" if self.shape else f"HTTP {self.status}"


# The reasons Nacos itself gives on the probe's two requests, the only server text a finding quotes: a server's
# answer may echo what it was sent (a mangled copy of the password or token is still a copy), so any other body is
# described by its shape alone. Tags are where each text was read in alibaba/nacos.
KNOWN_ANSWERS = (
    "User not found! Please check user exist or password is right!",   # AbstractAuthenticationManager.java:41@3.0.3
    "user not found!",                 # NacosAuthManager.java:155@2.2.0, AbstractAuthenticationManager.java:58@2.4.3,
                                       # NacosSignatureAlgorithm.java:95@2.2.3 (no token)
    "unknown user!",                   # NacosAuthManager.java:141@2.2.0
    "authorization failed!",           # NacosAuthManager.java:97@2.2.0, AbstractAuthenticationManager.java:105@3.0.3
    "unsupported signature algorithm",  # NacosSignatureAlgorithm.java:107@2.2.3
    "Invalid signature",               # NacosSignatureAlgorithm.java:128@2.2.3
    "token invalid!",                  # NacosAuthManager.java:163@2.2.0, NacosSignatureAlgorithm.java:99@2.2.3
    "token expired!",                  # NacosAuthManager.java:161@2.2.0, NacosSignatureAlgorithm.java:135@2.2.3
    "config data not exist",           # ConfigServletInner.java:356@2.2.3, :167@3.0.3
    "resource not found",              # ErrorCode.java:66 (RESOURCE_NOT_FOUND, 20004)@2.2.0-3.0.3
    "Login failed",                    # UserController.java:298@2.4.3 (Spring Security login)
)
# 3.x wraps an AuthFilter reason as "Code: 401, Message: Invalid signature." (AuthResult.java:26@3.0.3).
_WRAPPED = re.compile(r"Code: (\d{3}), Message: (.*)\.")
# Media types a summary may name; the header is the server's text too.
_CONTENT_TYPES = ("application/json", "application/problem+json", "text/plain", "text/html", "application/xml",
                  "text/xml", "application/octet-stream")
_SIZES = ((1, "an empty body"), (256, "a body under 256 bytes"), (4096, "a body under 4 KiB"),
          (65536, "a body under 64 KiB"))


def read_answer(status: int, body: bytes, content_type: str = "") -> Answer:
    """The reason a Nacos answer gives, when it is one Nacos is known to give (the `message` of Spring's error
    JSON or of a Nacos Result, the text of a plain or HTML body); otherwise only its size and content type."""
    for reason in _reasons(body):
        wrapped = _WRAPPED.fullmatch(reason)
        text = wrapped.group(2) if wrapped else reason
        if text in KNOWN_ANSWERS:
            return Answer(status, f"Code: {wrapped.group(1)}, Message: {text}." if wrapped else text)
    return Answer(status, "", answer_shape(body, content_type))


def _reasons(body: bytes) -> list[str]:
    text = body[:8192].decode("utf-8", "replace").strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except ValueError:
            parsed = None
        if isinstance(parsed, dict):
            # (a Nacos Result puts an AccessException's reason in `data`: NacosApiExceptionHandler.java:122@2.4.3)
            return [parsed[key].strip() for key in ("message", "msg", "error", "data")
                    if isinstance(parsed.get(key), str)]
        return []
    if text.lower().startswith(("<!doctype", "<html")):
        # Spring's Whitelabel page holds the reason as the text of one element.
        return [html.unescape(part).strip() for part in _TAGS.split(text)]
    return [text]


def answer_shape(body: bytes, content_type: str) -> str:
    """A fixed-size description of a body: a size class and a known media type, never its text."""
    size = next((label for limit, label in _SIZES if len(body) < limit), "a body of 64 KiB or more")
    media = content_type.split(";", 1)[0].strip().lower()
    if not media:
        return f"{size} and no content type" if body else size
    return f"{size} of type {media}" if media in _CONTENT_TYPES else f"{size} of another content type"


@dataclass(frozen=True, slots=True)
class LoginAnswer:
    ok: bool
    token: str | None = field(default=None, repr=False)
    ttl: int | None = None
    problem: str = ""            # why a 200 still gave no token: the shape of its body


def parse_login(status: int, body: bytes) -> LoginAnswer:
    if status != 200:
        return LoginAnswer(False)
    try:
        parsed = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return LoginAnswer(False, problem="a body that is not JSON")
    token = parsed.get("accessToken") if isinstance(parsed, dict) else None
    if not isinstance(token, str) or not token:
        return LoginAnswer(False, problem="a body without accessToken")
    ttl = parsed.get("tokenTtl")
    if isinstance(ttl, str) and ttl.isdigit():
        ttl = int(ttl)
    return LoginAnswer(True, token, ttl if isinstance(ttl, int) and not isinstance(ttl, bool) else None)


def token_expiry(token: str) -> int | None:
    """`exp` of a Nacos token, read without verifying (the probe has no key, and needs none to read a clock)."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    exp = claims.get("exp") if isinstance(claims, dict) else None
    return exp if isinstance(exp, int) and not isinstance(exp, bool) else None


def needs_v1_fallback(status: int) -> bool:
    """The 3.x client's rule: a server without the v3 login answers 404 (or 501)."""
    return status in (404, 501)


def classify_read(status: int, message: str) -> Outcome:
    text = message.lower()
    if 200 <= status < 300:
        return Outcome.ACCEPTED
    if status == 404 and ("config data not exist" in text or "resource not found" in text):
        return Outcome.ACCEPTED   # the endpoint ran, so the token passed the filter before it
    if status == 403:
        if "authorization failed" in text:
            return Outcome.ACCEPTED
        if "invalid signature" in text or "token invalid" in text:
            return Outcome.SIGNATURE
        if "token expired" in text:
            return Outcome.EXPIRED
    return Outcome.REFUSED


@dataclass(frozen=True, slots=True)
class ClockReading:
    """A pod's clock read during one request: `server` whole seconds (exp - tokenTtl, or the Date header) taken
    somewhere between `sent` and `received` on the operator's clock."""
    server: float
    sent: float
    received: float

    @property
    def offset_bounds(self) -> tuple[float, float]:
        """Bounds of (pod clock - operator clock): the reading truncates to the second, latency blurs it."""
        return self.server - self.received, self.server + 1 - self.sent


# --- results and findings -------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class LoginResult:
    pod: str
    ok: bool
    answer: Answer
    reachable: bool = True
    ttl: int | None = None


@dataclass(frozen=True, slots=True)
class ReadResult:
    issuer: str        # the pod that issued the token
    verifier: str      # the pod it was presented to
    outcome: Outcome
    answer: Answer


@dataclass(frozen=True, slots=True)
class ProbeResults:
    """One run, with no token, password or key in it."""
    pods: tuple[str, ...]
    logins: tuple[LoginResult, ...]
    reads: tuple[ReadResult, ...]
    clocks: dict[str, ClockReading] = field(default_factory=dict)
    requests: int = 0    # HTTP requests sent (a v3 login that falls back to v1 counts twice)


def probe_findings(spec: CheckSpec, results: ProbeResults, plan: ProbePlan | None = None) -> list[Finding]:
    probe = spec.probe
    assert probe is not None
    server = spec.server
    findings: list[Finding] = []
    by_pod = {login.pod: login for login in results.logins}
    unreachable: dict[str, str] = {}
    for login in results.logins:
        if not login.reachable:
            unreachable[login.pod] = login.answer.describe()
    for read in results.reads:
        if read.verifier in unreachable:
            continue
        if read.outcome is Outcome.UNREACHABLE:
            unreachable[read.verifier] = f"{read.answer.describe()} (with the token from {read.issuer})"
        elif read.outcome is Outcome.REFUSED or (read.outcome is Outcome.EXPIRED and read.issuer == read.verifier):
            # (its own fresh token expired: a lifetime shorter than a request, not a skew between pods)
            unreachable[read.verifier] = f"answered {read.answer.describe()} to the token from {read.issuer}"
    for pod in (plan.skipped if plan else ()):
        unreachable.setdefault(pod, "it is ready but has no valid pod IP")
    failed = [login for login in results.logins if login.reachable and not login.ok]
    if failed:
        answers: dict[str, list[str]] = {}
        for login in failed:
            answers.setdefault(login.answer.describe(), []).append(login.pod)
        detail = "; ".join(f"{', '.join(pods)} answered {text}" for text, pods in answers.items())
        findings.append(finding("NAG601", server, cluster=server, secret=probe.secret, pods=describe_groups(
            [[login.pod for login in failed]]), detail=detail, username_key=probe.username_key,
            password_key=probe.password_key))
    rejected = _key_groups(results, set(unreachable))
    if rejected is not None:
        groups, example = rejected
        findings.append(finding("NAG602", server, cluster=server, groups=describe_groups(groups),
                                detail=f"{example.verifier} answered {example.answer.describe()} to the token "
                                       f"from {example.issuer}"))
    if unreachable:
        pods = sorted(unreachable, key=_ordinal)
        findings.append(_unreachable(server, describe_groups([pods]),
                                     "; ".join(f"{pod}: {unreachable[pod]}" for pod in pods), probe))
    skew = _clock_skew(server, results, by_pod)
    if skew is not None:
        findings.append(skew)
    return [f for f in findings if f.code not in spec.exclude]


def _key_groups(results: ProbeResults, unknown: set[str]) -> tuple[list[list[str]], ReadResult] | None:
    """Pods grouped by whose tokens they accept (an acceptance means one key); None when no pod rejects another's
    token for its signature."""
    signature = [r for r in results.reads if r.outcome is Outcome.SIGNATURE]
    if not signature:
        return None
    parent = {pod: pod for pod in results.pods}

    def root(pod: str) -> str:
        while parent[pod] != pod:
            parent[pod] = parent[parent[pod]]
            pod = parent[pod]
        return pod
    for read in results.reads:
        if read.outcome is Outcome.ACCEPTED and read.issuer in parent and read.verifier in parent:
            parent[root(read.issuer)] = root(read.verifier)
    members: dict[str, list[str]] = {}
    for pod in results.pods:
        members.setdefault(root(pod), []).append(pod)
    involved = {root(r.issuer) for r in signature} | {root(r.verifier) for r in signature}
    groups = sorted((sorted(members[r], key=_ordinal) for r in involved), key=lambda g: _ordinal(g[0]))
    return groups, min(signature, key=lambda r: (_ordinal(r.verifier), _ordinal(r.issuer)))


def _clock_skew(server: ObjectRef, results: ProbeResults, logins: dict[str, LoginResult]) -> Finding | None:
    bounds = {pod: reading.offset_bounds for pod, reading in results.clocks.items()}
    ttls = [login.ttl for login in logins.values() if login.ttl]
    # The Java client refreshes with a tenth of the lifetime left; from 2.5.1 with a random reserve between a fifteenth
    # and a tenth (NacosClientAuthServiceImpl.java:136-138@2.5.1): a skew beyond a fifteenth fails some clients.
    window = min(ttls) // 15 if ttls else None
    expired = sorted((r for r in results.reads if r.outcome is Outcome.EXPIRED and r.issuer != r.verifier),
                     key=lambda r: (_ordinal(r.verifier), _ordinal(r.issuer)))
    if expired:
        ahead, behind = expired[0].verifier, expired[0].issuer
        seconds = _certain_skew(bounds, ahead, behind)
        return finding("NAG604", server, cluster=server, severity=Severity.ERROR, ahead=ahead, behind=behind,
                       seconds=int(seconds) if seconds is not None else "(unknown)",
                       impact=f"{ahead} answers 403 token expired! to a token {behind} has just issued, so clients "
                              f"that logged in on {behind} fail on {ahead}")
    if len(bounds) < 2:
        return None
    ahead = max(bounds, key=lambda pod: (bounds[pod][0], pod))
    behind = min(bounds, key=lambda pod: (bounds[pod][1], pod))
    seconds = _certain_skew(bounds, ahead, behind)
    if seconds is None or seconds < CLOCK_SKEW_WARNING_SECONDS:
        return None
    if window is not None and seconds >= window:
        return finding("NAG604", server, cluster=server, severity=Severity.ERROR, ahead=ahead, behind=behind,
                       seconds=int(seconds),
                       impact=f"tokens issued by {behind} expire that much early on {ahead}, more than the "
                              f"fifteenth of their lifetime ({window} s) that clients may keep in reserve, so clients "
                              f"get 403 token expired! there before they refresh")
    reserve = f" ({window} s)" if window is not None else ""
    return finding("NAG604", server, cluster=server, ahead=ahead, behind=behind, seconds=int(seconds),
                   impact=f"tokens issued by {behind} expire that much early on {ahead}; once the skew reaches a "
                          f"fifteenth of the token lifetime{reserve}, clients get 403 token expired! there before they "
                          f"refresh")


def _certain_skew(bounds: dict[str, tuple[float, float]], ahead: str, behind: str) -> float | None:
    if ahead not in bounds or behind not in bounds:
        return None
    return max(0.0, bounds[ahead][0] - bounds[behind][1])
