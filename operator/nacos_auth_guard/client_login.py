"""Client logins, HTTP part: log in on one ready server pod with exactly a client's credentials (v3 then v1 when the
version is unknown, as the 3.x Java client does), then read each config the client reads, and the instance list of
its own service, with that token. Reads only: nothing is published, registered or subscribed.

The limits are run_probe's (probe_client.py): no redirects, no proxies from the environment, no cookies, bodies read
up to 64 KiB, one timeout per request, at most `concurrency` requests in flight. One login per client per run; the
token lives in a local variable and never reaches a result, a log or an exception message.
"""
from __future__ import annotations

import asyncio
import enum
import ssl
from dataclasses import dataclass, field

import aiohttp
import yarl

from .client_probe import ConfigRead, NamingRead
from .probe import (CONTEXT_PATH, LOGIN_PATHS, Answer, Api, Credentials, ProbeTarget, needs_v1_fallback,
                    parse_login, read_answer)
from .probe_client import MAX_BODY, _no_answer_reason, open_session

CONFIG_READS = {Api.V1: (f"{CONTEXT_PATH}/v1/cs/configs", "tenant", "group"),
                Api.V3: (f"{CONTEXT_PATH}/v3/client/cs/config", "namespaceId", "groupName")}
# InstanceController.list@2.4.3 (serviceName as group@@service, checkServiceNameFormat; no udpPort: no subscriber)
# and InstanceOpenApiController.list@3.0.3 (InstanceListForm: namespaceId, groupName, serviceName).
NAMING_READS = {Api.V1: f"{CONTEXT_PATH}/v1/ns/instance/list", Api.V3: f"{CONTEXT_PATH}/v3/client/ns/instance/list"}


class ReadOutcome(enum.Enum):
    READABLE = "readable"
    MISSING = "missing"          # the user may read it, and it does not exist (not a permission problem)
    DENIED = "denied"            # 403 authorization failed!
    FAILED = "failed"            # any other answer, or none


@dataclass(frozen=True, slots=True)
class ConfigReadResult:
    read: ConfigRead
    outcome: ReadOutcome
    answer: Answer


@dataclass(frozen=True, slots=True)
class NamingReadResult:
    outcome: ReadOutcome                # READABLE (the list, maybe empty), DENIED or FAILED
    answer: Answer


@dataclass(frozen=True, slots=True)
class ClientLoginResult:
    pod: str
    logged_in: bool
    answer: Answer                      # the login's answer in the server's words (never the token)
    reads: tuple[ConfigReadResult, ...] = field(default=())
    requests: int = 0
    naming: NamingReadResult | None = None


def classify_config_read(status: int, message: str) -> ReadOutcome:
    text = message.lower()
    if status == 200 and "resource not found" not in text:
        return ReadOutcome.READABLE
    if status in (200, 404) and ("config data not exist" in text or "resource not found" in text):
        return ReadOutcome.MISSING   # ConfigServletInner 404 (v1) / 20004 resource not found (v3)
    if status == 403 and "authorization failed" in text:
        return ReadOutcome.DENIED
    return ReadOutcome.FAILED


def classify_naming_read(status: int, message: str) -> ReadOutcome:
    if status == 200:
        return ReadOutcome.READABLE
    if status == 403 and "authorization failed" in message.lower():
        return ReadOutcome.DENIED
    return ReadOutcome.FAILED


async def run_client_login(target: ProbeTarget, credentials: Credentials, reads: list[ConfigRead] | tuple = (),
                           naming: NamingRead | None = None, *, scheme: str = "http", timeout: float = 5.0,
                           concurrency: int = 4, ssl_context: ssl.SSLContext | None = None) -> ClientLoginResult:
    limit = asyncio.Semaphore(max(1, concurrency))
    request_timeout = aiohttp.ClientTimeout(total=timeout)
    sent = 0
    async with open_session(scheme, concurrency, ssl_context) as session:

        async def send(method: str, path: str, *, params=None, form=None, token=None):
            nonlocal sent
            url = yarl.URL.build(scheme=scheme, host=target.host, port=target.port, path=path, query=params or {})
            headers = {"Authorization": f"Bearer {token}"} if token else None
            async with limit:
                sent += 1
                try:
                    async with session.request(method, url, data=form, headers=headers, allow_redirects=False,
                                               timeout=request_timeout) as response:
                        body = await response.content.read(MAX_BODY)
                        return response.status, body, response.headers.get("Content-Type", "")
                except (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError) as error:
                    return None, _no_answer_reason(error, timeout), ""

        api = target.api or Api.V3
        form = {"username": credentials.username, "password": credentials.password}
        status, body, ctype = await send("POST", LOGIN_PATHS[api], form=form)
        if status is not None and target.api is None and needs_v1_fallback(status):
            api = Api.V1
            status, body, ctype = await send("POST", LOGIN_PATHS[api], form=form)
        if status is None:
            return ClientLoginResult(target.pod, False, Answer(None, body), requests=sent)
        parsed = parse_login(status, body)
        if not parsed.ok:
            answer = Answer(status, "", parsed.problem) if parsed.problem else read_answer(status, body, ctype)
            return ClientLoginResult(target.pod, False, answer, requests=sent)
        token = parsed.token
        path, namespace_param, group_param = CONFIG_READS[api]

        async def read(item: ConfigRead) -> ConfigReadResult:
            params = {"dataId": item.data_id, group_param: item.group}
            if item.namespace:
                params[namespace_param] = item.namespace
            status, body, ctype = await send("GET", path, params=params, token=token)
            if status is None:
                return ConfigReadResult(item, ReadOutcome.FAILED, Answer(None, body))
            answer = read_answer(status, body, ctype)
            return ConfigReadResult(item, classify_config_read(status, answer.message), answer)

        async def list_instances(item: NamingRead) -> NamingReadResult:
            params = {"groupName": item.group, "serviceName": item.service if api is Api.V3
                      else f"{item.group}@@{item.service}"}
            if item.namespace:
                params["namespaceId"] = item.namespace
            status, body, ctype = await send("GET", NAMING_READS[api], params=params, token=token)
            if status is None:
                return NamingReadResult(ReadOutcome.FAILED, Answer(None, body))
            answer = read_answer(status, body, ctype)
            return NamingReadResult(classify_naming_read(status, answer.message), answer)

        results = await asyncio.gather(*(read(item) for item in reads))
        naming_result = await list_instances(naming) if naming is not None else None
    return ClientLoginResult(target.pod, True, Answer(200, ""), tuple(results), sent, naming_result)
