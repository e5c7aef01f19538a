"""The live probe's HTTP: log in on each target, then present each pod's token to every pod. One run, no retries.

Limits that hold whatever the cluster does: at most `concurrency` requests in flight, one `timeout` per request,
no redirects followed (a redirect could carry the password or a token elsewhere), no proxies from the environment,
no cookies, bodies read up to 64 KiB. Requests go only to the targets given (the operator builds them from pod
IPs). A pod that does not answer its login gets no further request in that run. Tokens live in local variables of
run_probe and never reach a log, a result or an exception message.
"""
from __future__ import annotations

import asyncio
import email.utils
import logging
import ssl
import time

import aiohttp
import yarl

from .probe import (LOGIN_PATHS, READ_REQUESTS, USER_AGENT, Answer, Api, ClockReading, Credentials, LoginResult,
                    Outcome, ProbeResults, ProbeTarget, ReadResult, classify_read, needs_v1_fallback, parse_login,
                    read_answer, token_expiry)

logger = logging.getLogger("nacos_auth_guard.probe")

MAX_BODY = 64 * 1024
DEFAULT_CONCURRENCY = 4


class _Reply:
    """What the probe keeps of one HTTP exchange."""

    __slots__ = ("status", "body", "content_type", "date", "sent", "received")

    def __init__(self, status: int, body: bytes, content_type: str, date: float | None, sent: float,
                 received: float) -> None:
        self.status, self.body, self.content_type = status, body, content_type
        self.date, self.sent, self.received = date, sent, received


class _NoAnswer(Exception):
    """A request that got no HTTP answer; `reason` is safe to show."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _http_date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


def _no_answer_reason(error: BaseException, timeout: float) -> str:
    if isinstance(error, asyncio.TimeoutError):
        return f"no answer within {timeout:g} s"
    if isinstance(error, (aiohttp.ClientConnectorCertificateError, aiohttp.ClientSSLError, ssl.SSLError)):
        return "TLS failed (the pod's certificate does not verify for its IP with the operator's CAs)"
    if isinstance(error, aiohttp.ClientConnectorError):
        if isinstance(error.os_error, ConnectionRefusedError):
            return "connection refused"
        return f"cannot connect ({error.os_error.strerror or type(error.os_error).__name__})" \
            if error.os_error is not None else "cannot connect"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "closed the connection without an answer"
    return f"no valid HTTP answer ({type(error).__name__})"


def open_session(scheme: str, concurrency: int, ssl_context: ssl.SSLContext | None) -> aiohttp.ClientSession:
    """The probe's HTTP session (call it in the event loop): at most `concurrency` connections, no cookies, no proxy
    from the environment, no DNS cache (targets are pod IPs), TLS verified with `ssl_context` or the system CAs."""
    if scheme not in ("http", "https"):
        raise ValueError("scheme must be http or https")
    connector = aiohttp.TCPConnector(limit=max(1, concurrency), ssl=ssl_context if ssl_context else True,
                                     use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar(), trust_env=False,
                                 headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
                                 auto_decompress=True)


async def run_probe(targets: list[ProbeTarget] | tuple[ProbeTarget, ...], credentials: Credentials, *,
                    scheme: str = "http", timeout: float = 5.0, concurrency: int = DEFAULT_CONCURRENCY,
                    ssl_context: ssl.SSLContext | None = None) -> ProbeResults:
    """Logs in on every target, then presents every token obtained to every target that answered."""
    limit = asyncio.Semaphore(max(1, concurrency))
    request_timeout = aiohttp.ClientTimeout(total=timeout)
    started = time.monotonic()
    sent_requests = 0
    async with open_session(scheme, concurrency, ssl_context) as session:

        async def send(method: str, target: ProbeTarget, path: str, *, params: dict | None = None,
                       form: dict | None = None, token: str | None = None) -> _Reply:
            nonlocal sent_requests
            url = yarl.URL.build(scheme=scheme, host=target.host, port=target.port, path=path, query=params or {})
            headers = {"Authorization": f"Bearer {token}"} if token else None
            async with limit:
                sent_requests += 1
                sent = time.time()
                try:
                    async with session.request(method, url, data=form, headers=headers, allow_redirects=False,
                                               timeout=request_timeout) as response:
                        received = time.time()
                        body = b""
                        while len(body) < MAX_BODY:
                            chunk = await response.content.read(MAX_BODY - len(body))
                            if not chunk:
                                break
                            body += chunk
                        return _Reply(response.status, body, response.headers.get("Content-Type", ""),
                                      _http_date(response.headers.get("Date")), sent, received)
                except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as error:
                    raise _NoAnswer(_no_answer_reason(error, timeout)) from None

        async def login(target: ProbeTarget) -> tuple[LoginResult, str | None, Api, ClockReading | None]:
            api = target.api or Api.V3
            form = {"username": credentials.username, "password": credentials.password}
            try:
                reply = await send("POST", target, LOGIN_PATHS[api], form=form)
                if target.api is None and needs_v1_fallback(reply.status):
                    api = Api.V1   # the 3.x Java client's own fallback: not a retry, another endpoint
                    reply = await send("POST", target, LOGIN_PATHS[api], form=form)
            except _NoAnswer as error:
                return LoginResult(target.pod, False, Answer(None, error.reason), reachable=False), None, api, None
            parsed = parse_login(reply.status, reply.body)
            clock = None
            if parsed.ok:
                expiry = token_expiry(parsed.token)
                if expiry is not None and parsed.ttl is not None:
                    clock = ClockReading(expiry - parsed.ttl, reply.sent, reply.received)
            if clock is None and reply.date is not None:
                clock = ClockReading(reply.date, reply.sent, reply.received)
            if parsed.ok:
                return LoginResult(target.pod, True, Answer(reply.status, ""), ttl=parsed.ttl), parsed.token, api, \
                    clock
            answer = Answer(reply.status, "", parsed.problem) if parsed.problem else \
                read_answer(reply.status, reply.body, reply.content_type)
            return LoginResult(target.pod, False, answer), None, api, clock

        logins = await asyncio.gather(*(login(target) for target in targets))
        tokens = {result.pod: token for result, token, _, _ in logins if token}
        apis = {result.pod: api for result, _, api, _ in logins}
        answering = [target for target, (result, *_) in zip(targets, logins) if result.reachable]

        async def read(issuer: str, target: ProbeTarget) -> ReadResult:
            path, params = READ_REQUESTS[apis[target.pod]]
            token = tokens[issuer]
            try:
                reply = await send("GET", target, path, params=params, token=token)
            except _NoAnswer as error:
                return ReadResult(issuer, target.pod, Outcome.UNREACHABLE, Answer(None, error.reason))
            answer = read_answer(reply.status, reply.body, reply.content_type)
            return ReadResult(issuer, target.pod, classify_read(reply.status, answer.message), answer)

        reads = await asyncio.gather(*(read(issuer, target) for issuer in tokens for target in answering))
    results = ProbeResults(tuple(t.pod for t in targets), tuple(result for result, *_ in logins), tuple(reads),
                           {result.pod: clock for result, _, _, clock in logins if clock is not None}, sent_requests)
    logger.debug("Probed %d pod(s): %d request(s) in %.3f s", len(targets), results.requests,
                  time.monotonic() - started)
    return results
