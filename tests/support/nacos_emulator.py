"""A small Nacos auth emulator: one HTTP server per emulated server pod on 127.0.0.1, each with its own token key,
users, clock and server identity, answering login and the probe's read endpoints as Nacos does.

Modelled on alibaba/nacos 2.4.3 and 3.0.3 (plugin-default-impl NacosJwtParser / NacosSignatureAlgorithm /
JwtTokenManager / AbstractAuthenticationManager, core AuthFilter, config ConfigServletInner / ConfigOpenApiController);
the facts are listed in operator/nacos_auth_guard/probe.py. Tokens are made as NacosSignatureAlgorithm makes them
(tests/test_nacos_emulator.py checks them against vectors derived from that source):

    header    = the constant for the key's size: eyJhbGciOiJIUzI1NiJ9 ({"alg":"HS256"}) for 256-383 bit keys,
                HS384 for 384-511 bits, HS512 from 512 bits (NacosJwtParser's constructor, 2.2.1+)
    payload   = Base64URL without padding of Jackson's {"sub":"<user>","exp":<now in seconds + ttl>}
    signature = Base64URL without padding of HMAC(key, header + "." + payload), key = the Base64-decoded secret key

    with NacosEmulator({"nacos-0": Node(KEY), "nacos-1": Node(OTHER_KEY)}) as nacos:
        targets = nacos.targets()
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import json
import re
import socket
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from aiohttp import web

HEADERS = {"HS256": "eyJhbGciOiJIUzI1NiJ9", "HS384": "eyJhbGciOiJIUzM4NCJ9", "HS512": "eyJhbGciOiJIUzUxMiJ9"}
ALGORITHMS = {header: alg for alg, header in HEADERS.items()}
HASHES = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}
IDENTITY_MESSAGE = ("Invalid server identity key or value, Please make sure set `nacos.core.auth.server.identity.key`"
                    " and `nacos.core.auth.server.identity.value`, or open `nacos.core.auth.enable.userAgentAuthWhite`")
LOGIN_FAILED = {2: "user not found!", 3: "User not found! Please check user exist or password is right!"}
DEFAULT_IDENTITY = ("x-nacos-peer", "emulated-peer-identity")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def algorithm_for(key: bytes) -> str:
    bits = len(key) * 8
    if bits < 256:
        raise ValueError("Nacos refuses keys under 256 bits")
    return "HS256" if bits < 384 else "HS384" if bits < 512 else "HS512"


def issue_token(key: bytes, username: str, now: float, ttl: int) -> str:
    header = HEADERS[algorithm_for(key)]
    claims = json.dumps({"sub": username, "exp": int(now) + ttl}, separators=(",", ":"))   # Jackson, field order
    unsigned = f"{header}.{b64url(claims.encode('utf-8'))}"
    signature = hmac.new(key, unsigned.encode("ascii"), HASHES[ALGORITHMS[header]]).digest()
    return f"{unsigned}.{b64url(signature)}"


class AccessDenied(Exception):
    """Nacos's AccessException: `message` is what the server answers."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def verify_token(key: bytes, token: str, now: float) -> str:
    """NacosSignatureAlgorithm.verify: the user a token names, or the AccessException text."""
    if not token.strip():
        raise AccessDenied("user not found!")
    parts = token.split(".")
    while parts and parts[-1] == "":   # Java's String.split drops trailing empty strings
        parts.pop()
    if len(parts) != 3:
        raise AccessDenied("token invalid!")
    header, payload, signature = parts
    algorithm = ALGORITHMS.get(header)   # the token's header picks the algorithm, the node's key checks it
    if algorithm is None:
        raise AccessDenied("unsupported signature algorithm")
    expected = b64url(hmac.new(key, f"{header}.{payload}".encode("ascii"), HASHES[algorithm]).digest())
    if not hmac.compare_digest(expected, signature):
        raise AccessDenied("Invalid signature")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    # NacosJwtPayload.java:31@2.2.1 (the same at 3.0.3): exp starts as the parse time, so no exp never expires.
    if claims.get("exp", int(now)) >= int(now):
        return claims["sub"]
    raise AccessDenied("token expired!")


def has_permission(node: "Node", user: str, namespace: str, group: str, kind: str, name: str, action: str) -> bool:
    """NacosRoleServiceImpl.hasPermission + joinResource@2.4.3 (version 2) and AbstractCheckedRoleService@3.0.3
    (version 3), transcribed: ROLE_ADMIN passes; else a permission whose action contains the wanted one and whose
    resource, '*' replaced by '.*', matches the whole joined resource. Public is "" on 2.x and "public" on 3.x."""
    roles = node.roles.get(user, ())
    if not roles:
        return False
    if "ROLE_ADMIN" in roles:
        return True
    ns = "" if namespace.strip().lower() in ("", "public", "null") else namespace.strip()   # NamespaceUtil
    if node.version >= 3 and not ns:
        ns = "public"
    joined = f"{ns}:{group or '*'}:{kind}/{name or '*'}"
    for role in roles:
        for resource, granted in node.permissions.get(role, ()):
            pattern = resource.replace("*", ".*")
            if node.version >= 3 and pattern.startswith(":"):
                pattern = "public" + pattern
            if action in granted and re.fullmatch(pattern, joined):
                return True
    return False


@dataclass
class Node:
    """One emulated Nacos server pod."""
    key: bytes                                   # the HMAC key: the Base64 decoding of token.secret.key
    users: dict[str, str] = field(default_factory=dict)          # username -> password
    version: int = 2                             # 2: 2.2.1-2.5 answers; 3: 3.x answers and v3 endpoints
    clock_offset: float = 0.0                    # seconds this pod's clock is ahead of the real time
    token_ttl: int = 18000                       # nacos.core.auth.plugin.nacos.token.expire.seconds
    identity: tuple[str, str] | None = DEFAULT_IDENTITY   # server identity key/value; None: not configured
    readers: frozenset[str] = frozenset()        # users with read permission on the public namespace
    roles: dict[str, tuple[str, ...]] = field(default_factory=dict)    # username -> roles (ROLE_ADMIN: global admin)
    permissions: dict[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)   # role -> (resource, action)
    configs: frozenset[tuple[str, str, str]] = frozenset()   # (namespace, group, dataId) that exist; "" = public
    delay: float = 0.0                           # seconds before every answer
    down: bool = False                           # nothing listens on its port
    # Not Nacos: hostile answers for the probe's own safety tests.
    redirect_to: str | None = None               # answer every request with 307 to this URL
    echo_password: Callable[[str], str] | None = None   # a failed login answers echo_password(password)
    echo_token: Callable[[str], str] | None = None      # every read answers echo_token(token)

    def now(self) -> float:
        return time.time() + self.clock_offset


@dataclass
class Stats:
    requests: list[tuple[str, str]] = field(default_factory=list)    # (method, path with query)
    logins: int = 0
    reads: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    identity_headers: int = 0      # requests that carried the node's identity header
    user_agents: set[str] = field(default_factory=set)
    issued: list[str] = field(default_factory=list)                  # tokens issued (for leak checks)


class NacosNode:
    def __init__(self, name: str, node: Node, stats: Stats, total: Stats) -> None:
        self.name, self.node, self.stats, self.total = name, node, stats, total

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.StreamResponse:
        stats, total = self.stats, self.total
        stats.requests.append((request.method, request.path_qs))
        stats.user_agents.add(request.headers.get("User-Agent", ""))
        if self.node.identity and self.node.identity[0] in request.headers:
            stats.identity_headers += 1
        for counter in (stats, total):
            counter.in_flight += 1
            counter.max_in_flight = max(counter.max_in_flight, counter.in_flight)
        try:
            if self.node.delay:
                await asyncio.sleep(self.node.delay)
            if self.node.redirect_to:
                response = web.Response(status=307, headers={"Location": self.node.redirect_to})
            else:
                response = await self.answer(request)
        finally:
            stats.in_flight -= 1
            total.in_flight -= 1
        response.headers["Date"] = email.utils.formatdate(self.node.now(), usegmt=True)
        return response

    # --- answers, as Nacos renders them ------------------------------------------------------------------------------
    def error(self, request: web.Request, status: int, message: str) -> web.Response:
        """HttpServletResponse.sendError, rendered by Spring Boot with server.error.include-message=ALWAYS."""
        reasons = {400: "Bad Request", 403: "Forbidden", 404: "Not Found"}
        stamp = datetime.fromtimestamp(self.node.now(), timezone.utc).isoformat(timespec="milliseconds")
        return web.json_response({"timestamp": stamp, "status": status, "error": reasons.get(status, "Error"),
                                  "message": message, "path": request.path}, status=status)

    def filter_denied(self, request: web.Request, message: str, code: int) -> web.Response:
        """AuthFilter's 403; 3.x formats the reason as AuthResult.format() does."""
        if self.node.version >= 3:
            message = f"Code: {code}, Message: {message}."
        return self.error(request, 403, message)

    async def answer(self, request: web.Request) -> web.Response:
        node, path = self.node, request.path
        login_paths = {"/nacos/v1/auth/login", "/nacos/v1/auth/users/login"}
        read_paths = {"/nacos/v1/cs/configs"}
        naming_paths = {"/nacos/v1/ns/instance/list"}
        if node.version >= 3:
            login_paths.add("/nacos/v3/auth/user/login")
            read_paths.add("/nacos/v3/client/cs/config")
            naming_paths.add("/nacos/v3/client/ns/instance/list")
        if node.identity is None:   # 2.x AuthFilter: with auth on, no identity configured refuses every request
            return self.error(request, 403, IDENTITY_MESSAGE)
        if request.method == "POST" and path in login_paths:
            return await self.login(request)
        if request.method == "GET" and path in read_paths:
            return self.read(request)
        if request.method == "GET" and path in naming_paths:
            return self.list_instances(request)
        return self.error(request, 404, "No message available")

    async def login(self, request: web.Request) -> web.Response:
        self.stats.logins += 1
        node = self.node
        form = {**request.query, **(await request.post())}
        try:
            token = self.bearer(request) or form.get("accessToken", "")
            if token:   # AbstractAuthenticationManager.authenticate(request): a token wins over a password
                user = verify_token(node.key, token, node.now())
            else:
                user, password = form.get("username", ""), form.get("password", "")
                if not user.strip() or not password.strip() or node.users.get(user) != password:
                    raise AccessDenied(node.echo_password(password) if node.echo_password
                                       else LOGIN_FAILED[node.version])
                token = issue_token(node.key, user, node.now(), node.token_ttl)
                self.stats.issued.append(token)
        except AccessDenied as denied:   # the controller's AccessException, as ConsoleExceptionHandler answers it
            return web.Response(status=403, text=denied.message, content_type="text/plain")
        claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
        body = {"accessToken": token, "tokenTtl": claims["exp"] - int(node.now()), "globalAdmin": False,
                "username": user}
        return web.json_response(body, headers={"Authorization": f"Bearer {token}"})

    def read(self, request: web.Request) -> web.Response:
        self.stats.reads += 1
        node, v3 = self.node, request.path.startswith("/nacos/v3/")
        key, value = node.identity
        if request.headers.get(key) != value:   # the identity header of a peer skips user auth
            token = self.bearer(request) or request.query.get("accessToken", "")
            if node.echo_token:
                return self.filter_denied(request, node.echo_token(token), 403)
            try:
                user = verify_token(node.key, token, node.now())
            except AccessDenied as denied:
                return self.filter_denied(request, denied.message, 401)
            namespace = request.query.get("namespaceId" if v3 else "tenant", "")
            if not (user in node.readers or has_permission(node, user, namespace, request.query.get(
                    "groupName" if v3 else "group", ""), "config", request.query.get("dataId", ""), "r")):
                return self.filter_denied(request, "authorization failed!", 403)
        group = "groupName" if v3 else "group"
        for name in ("dataId", group):
            if not request.query.get(name, "").strip():
                return self.error(request, 400, f"Required parameter '{name}' type String is not present")
        tenant = request.query.get("namespaceId" if v3 else "tenant", "").strip()
        if (("" if tenant.lower() in ("", "public", "null") else tenant), request.query[group],
                request.query["dataId"]) in node.configs:
            return web.Response(status=200, text="emulated: config content\n", content_type="text/plain")
        if v3:
            return web.json_response({"code": 20004, "message": "resource not found", "data": None})
        return web.Response(status=404, text="config data not exist\n", content_type="text/plain")

    def list_instances(self, request: web.Request) -> web.Response:
        """InstanceController.list@2.4.3 / InstanceOpenApiController.list@3.0.3 behind the AuthFilter: the resource
        is namespaceId:group:naming/service, the group from groupName or else from serviceName's group@@ prefix
        (NamingHttpResourceParser@2.4.3). No instance is ever registered here: the list is empty."""
        self.stats.reads += 1
        node, query = self.node, request.query
        service = query.get("serviceName", "")
        group = query.get("groupName", "").strip() or (service.split("@@")[0] if "@@" in service else "")
        name = service.split("@@", 1)[1] if "@@" in service else service
        token = self.bearer(request) or query.get("accessToken", "")
        try:
            user = verify_token(node.key, token, node.now())
        except AccessDenied as denied:
            return self.filter_denied(request, denied.message, 401)
        if not has_permission(node, user, query.get("namespaceId", ""), group, "naming", name, "r"):
            return self.filter_denied(request, "authorization failed!", 403)
        if node.version >= 3:
            return web.json_response({"code": 0, "message": "success", "data": []})
        if "@@" not in service:   # NamingUtils.checkServiceNameFormat
            return self.error(request, 400, "Param 'serviceName' is illegal, it should be format as "
                                            "'groupName@@serviceName'")
        return web.json_response({"name": service, "groupName": group, "clusters": "", "hosts": []})

    @staticmethod
    def bearer(request: web.Request) -> str:
        header = request.headers.get("Authorization", "")
        return header[len("Bearer "):] if header.startswith("Bearer ") else ""


class NacosEmulator:
    """Emulated pods on 127.0.0.1, one port each, served from a thread of their own (usable from sync and async
    tests alike). `stats[name]` counts what each pod saw."""

    def __init__(self, nodes: dict[str, Node]) -> None:
        self.nodes = nodes
        self.stats = {name: Stats() for name in nodes}
        self.total = Stats()   # in-flight requests over all pods
        self.ports: dict[str, int] = {}
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="nacos-emulator", daemon=True)
        self.runners: dict[str, web.AppRunner] = {}

    def __enter__(self) -> "NacosEmulator":
        self.thread.start()
        for name, node in self.nodes.items():
            sock = socket.socket()
            sock.bind(("127.0.0.1", 0))
            self.ports[name] = sock.getsockname()[1]
            if node.down:
                sock.close()   # nothing listens: connections are refused
                continue
            asyncio.run_coroutine_threadsafe(self._serve(name, node, sock), self.loop).result(10)
        return self

    async def _serve(self, name: str, node: Node, sock: socket.socket) -> None:
        runner = web.AppRunner(NacosNode(name, node, self.stats[name], self.total).app(), access_log=None,
                                shutdown_timeout=0.2)
        await runner.setup()
        await web.SockSite(runner, sock).start()
        self.runners[name] = runner

    async def _shutdown(self) -> None:
        for runner in self.runners.values():
            await runner.cleanup()
        others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in others:   # handlers still sleeping out a `delay`
            task.cancel()
        await asyncio.gather(*others, return_exceptions=True)

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    def targets(self, api=None) -> list:
        from nacos_auth_guard.probe import ProbeTarget
        return [ProbeTarget(name, "127.0.0.1", self.ports[name], api) for name in self.nodes]

    def logins(self) -> int:
        return sum(s.logins for s in self.stats.values())

    def issued(self) -> list[str]:
        return [token for s in self.stats.values() for token in s.issued]
