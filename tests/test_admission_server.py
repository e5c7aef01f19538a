"""The webhook's HTTP server on its own (no operator): reviews it refuses before kopf sees them, and the bounds
that keep slow or idle clients from holding its connections."""
from __future__ import annotations

import asyncio
import http.client
import json
import socket
import threading
import time

import pytest

from nacos_auth_guard.kube.admission_server import MAX_DEPTH, AdmissionServer, depth_exceeds, review_problem
from nacos_auth_guard.kube.webhooks import ROUTES
from support.admission import review
from support.harness import free_port
from support.objects import deployment


def valid() -> dict:
    return review("CREATE", deployment("orders", []))


def nested(depth: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(depth - 1):
        node["x"] = {}
        node = node["x"]
    return root


@pytest.mark.parametrize("change,problem", [
    (lambda r: r["request"]["object"].update(metadata="orders"), "request.object.metadata must be an object"),
    (lambda r: r["request"]["object"].update(metadata=["orders"]), "request.object.metadata must be an object"),
    (lambda r: r["request"].update(oldObject={"metadata": 7}), "request.oldObject.metadata must be an object"),
    (lambda r: r["request"]["object"]["metadata"].update(name=["a"]), "request.object.metadata.name must be a string"),
    (lambda r: r["request"]["object"]["metadata"].update(namespace={}), ".metadata.namespace must be a string"),
    (lambda r: r["request"]["object"]["metadata"].update(labels=["a"]), ".metadata.labels must be an object"),
    (lambda r: r["request"]["object"]["metadata"].update(annotations="a"), ".metadata.annotations must be an object"),
    (lambda r: None, None),
    (lambda r: r["request"]["object"].pop("metadata"), None),   # kopf and the checks read it as empty
])
def test_review_problem_checks_metadata_where_it_is_read(change, problem):
    request = valid()
    change(request)
    found = review_problem(request, "validate-deployments", ROUTES)
    assert (found is None) if problem is None else (problem in found), found


def test_depth_exceeds():
    assert not depth_exceeds(nested(MAX_DEPTH), MAX_DEPTH)
    assert depth_exceeds(nested(MAX_DEPTH + 1), MAX_DEPTH)
    assert depth_exceeds([[[]]], 2) and not depth_exceeds([[[]]], 3) and not depth_exceeds("x", 0)
    assert not depth_exceeds(nested(MAX_DEPTH)["x"] | {"wide": list(range(10_000))}, MAX_DEPTH)


class Served:
    """An AdmissionServer on 127.0.0.1 in a thread of its own, answering every review it lets through."""

    def __init__(self, **limits) -> None:
        self.port = free_port()
        self.server = AdmissionServer(addr="127.0.0.1", port=self.port, routes=ROUTES, **limits)
        self.reviews = 0
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    async def answer(self, request: dict, **_) -> dict:
        self.reviews += 1
        return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
                "response": {"uid": request["request"]["uid"], "allowed": True}}

    def __enter__(self) -> "Served":
        self.thread.start()
        self.serving = self.server(self.answer)
        asyncio.run_coroutine_threadsafe(self.serving.__anext__(), self.loop).result(10)
        return self

    def __exit__(self, *_) -> None:
        asyncio.run_coroutine_threadsafe(self.serving.aclose(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def post(self, body: bytes) -> tuple[int, str]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            connection.request("POST", "/validate-deployments", body=body, headers={"Content-Type": "application/json"})
            response = connection.getresponse()
            return response.status, response.read().decode()
        finally:
            connection.close()

    def raw(self, data: bytes) -> socket.socket:
        sock = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        sock.sendall(data)
        return sock


HEAD = b"POST /validate-deployments HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"


@pytest.mark.parametrize("body,expected", [
    (b"[" * 200_000 + b"]" * 200_000, f"the body nests deeper than {MAX_DEPTH} levels"),   # json's recursion
    (json.dumps({**valid(), "extra": nested(MAX_DEPTH + 5)}).encode(), f"nests deeper than {MAX_DEPTH} levels"),
    (json.dumps(valid()).replace('"metadata": {', '"metadata": "x", "m": {', 1).encode(),
     "request.object.metadata must be an object"),
], ids=["deep-json", "deep-object", "metadata-not-a-map"])
def test_hostile_reviews_are_a_400_before_kopf(body, expected):
    with Served() as served:
        status, text = served.post(body)
        assert (status, served.reviews) == (400, 0) and expected in text, text
        assert served.post(json.dumps(valid()).encode())[0] == 200   # and it goes on serving


def test_a_review_body_that_does_not_arrive_in_time_is_a_408():
    with Served(body_seconds=0.5) as served:
        started = time.monotonic()
        sock = served.raw(HEAD + b"Content-Length: 1000\r\n\r\n" + b'{"apiVersion": ')
        answer = sock.recv(4096)
        assert answer.startswith(b"HTTP/1.1 408") and b"did not arrive within 0.5 s" in answer, answer
        assert time.monotonic() - started < 3
        sock.close()


def test_a_connection_without_a_complete_request_is_closed_after_the_idle_time():
    with Served(idle_seconds=1) as served:
        started = time.monotonic()
        idle, trickling = served.raw(b""), served.raw(HEAD[:20])
        for sock in (idle, trickling):
            assert sock.recv(4096) == b""   # closed by the server, no answer
            sock.close()
        assert 0.5 < time.monotonic() - started < 4


def test_connections_past_the_bound_close_the_oldest_so_reviews_still_get_through():
    """Slow clients holding every slot (headers never completed) cannot lock the apiserver out."""
    with Served(max_connections=8, idle_seconds=60) as served:
        slow = [served.raw(HEAD[:30]) for _ in range(20)]
        started = time.monotonic()
        assert served.post(json.dumps(valid()).encode())[0] == 200
        assert time.monotonic() - started < 2
        closed = 0
        for sock in slow:
            sock.settimeout(0.2)
            try:
                closed += sock.recv(4096) == b""
            except ConnectionResetError:   # closed with unread data
                closed += 1
            except TimeoutError:           # still open
                pass
            sock.close()
        assert closed >= 12   # all but the newest 8 (the review's own connection among them) were closed
