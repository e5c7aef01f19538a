"""The Nacos auth emulator makes and checks tokens exactly as Nacos does, and answers as Nacos answers: the probe's
tests are only as good as this.

Token vectors, derived from alibaba/nacos plugin-default-impl (tags 2.4.3, 3.0.3):
- NacosSignatureAlgorithm.HS256_JWT_HEADER = "eyJhbGciOiJIUzI1NiJ9", the Base64URL of {"alg":"HS256"} with no
  "typ"; HS384/HS512 have their own constants, and NacosJwtParser picks by the decoded key's size: < 384 bits
  HS256, < 512 bits HS384, else HS512 (NacosJwtParserTest asserts the three prefixes for 32/48/64-byte keys).
- The payload is JacksonUtils.toJson(NacosJwtPayload): fields in declaration order, no spaces:
  {"sub":"nacos","exp":1700000000} -> eyJzdWIiOiJuYWNvcyIsImV4cCI6MTcwMDAwMDAwMH0 (URL encoder, withoutPadding).
- The signature is Base64URL (no padding) of HmacSHA256(key, ASCII bytes of header + "." + payload), where key is
  the Base64 decoding of nacos.core.auth.plugin.nacos.token.secret.key. For the 32-byte key
  "nacos-auth-guard-vector-key-0001" (Base64 bmFjb3MtYXV0aC1ndWFyZC12ZWN0b3Ita2V5LTAwMDE=) that gives the token in
  VECTOR below, computed by hand with Python's hmac module when this test was written.
- Verification (NacosSignatureAlgorithm.verify): blank -> "user not found!", not three parts -> "token invalid!",
  unknown header -> "unsupported signature algorithm", wrong MAC -> "Invalid signature", exp < now (seconds) ->
  "token expired!" (exp == now still passes).
- A token a real server issued: the example answer of Nacos's auth guide (nacos.io, "curl -X POST
  '127.0.0.1:8848/nacos/v1/auth/login' -d 'username=nacos&password=nacos'"), signed with the published pre-2.2.0.1
  default key, which those servers decoded leniently to 51 bytes. Its signature verifies with the scheme above.
"""
from __future__ import annotations

import asyncio
import base64
import email.utils
import hashlib
import hmac
import json
import time
import urllib.error
import urllib.parse
import urllib.request

import jwt
import pytest

from support.nacos_emulator import (HEADERS, IDENTITY_MESSAGE, AccessDenied, NacosEmulator, Node, b64url, issue_token,
                                    verify_token)

VECTOR_KEY = b"nacos-auth-guard-vector-key-0001"
VECTOR = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6MTcwMDAwMDAwMH0."
          "gFdvCAudLZQkg2Cc_VmBMz4FD0afB-xNgvzOZmK0xT0")
DOCS_TOKEN = ("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJuYWNvcyIsImV4cCI6MTYwNTYyOTE2Nn0."
              "2TogGhhr11_vLEjqKko1HJHUJEmsPuCxkur-CfNojDo")
# The published default key minus its dangling 69th character (jjwt's lenient Base64 decoder dropped it).
OLD_DEFAULT_KEY = base64.b64decode("SecretKey01234567890123456789012345678901234567890123456789012345678")
TTL = 1700000000 - 1699990000


def test_token_matches_the_vector_derived_from_the_source():
    assert issue_token(VECTOR_KEY, "nacos", 1699990000.9, TTL) == VECTOR
    header, payload, _ = VECTOR.split(".")
    assert base64.urlsafe_b64decode(header + "==") == b'{"alg":"HS256"}'
    assert base64.urlsafe_b64decode(payload + "==") == b'{"sub":"nacos","exp":1700000000}'


@pytest.mark.parametrize("size,algorithm,digest", [(32, "HS256", hashlib.sha256), (47, "HS256", hashlib.sha256),
                                                   (48, "HS384", hashlib.sha384), (63, "HS384", hashlib.sha384),
                                                   (64, "HS512", hashlib.sha512)])
def test_algorithm_follows_the_key_size(size, algorithm, digest):
    key = bytes(range(size))
    token = issue_token(key, "nacos", 1699990000, TTL)
    header, payload, signature = token.split(".")
    assert header == HEADERS[algorithm] and "=" not in token
    assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": algorithm}
    expected = base64.urlsafe_b64encode(hmac.new(key, f"{header}.{payload}".encode(), digest).digest()).rstrip(b"=")
    assert signature == expected.decode()
    # An independent JWT library agrees (no "typ" in Nacos headers is fine).
    assert jwt.decode(token, key, algorithms=[algorithm], options={"verify_exp": False})["sub"] == "nacos"


def test_keys_under_256_bits_are_refused_as_nacos_refuses_them():
    with pytest.raises(ValueError):
        issue_token(bytes(31), "nacos", 0, 1)


def test_a_token_a_real_server_issued_verifies():
    with pytest.raises(AccessDenied, match="^token expired!$"):   # signature fine, exp long past
        verify_token(OLD_DEFAULT_KEY, DOCS_TOKEN, time.time())
    assert verify_token(OLD_DEFAULT_KEY, DOCS_TOKEN, 1605629166.5) == "nacos"   # exp == now still passes
    with pytest.raises(AccessDenied, match="^Invalid signature$"):
        verify_token(VECTOR_KEY, DOCS_TOKEN, 1605629000)


@pytest.mark.parametrize("token,now,answer", [
    (VECTOR, 1700000000, None),
    (VECTOR, 1700000001, "token expired!"),
    ("", 0, "user not found!"),
    ("  ", 0, "user not found!"),
    (VECTOR.rsplit(".", 1)[0], 0, "token invalid!"),
    (VECTOR.rsplit(".", 1)[0] + ".", 0, "token invalid!"),     # Java's split drops the trailing empty part
    (VECTOR + ".x", 0, "token invalid!"),
    ("eyJhbGciOiJub25lIn0" + VECTOR[20:], 0, "unsupported signature algorithm"),
    (VECTOR[:-2] + ("AA" if not VECTOR.endswith("AA") else "BB"), 0, "Invalid signature"),
])
def test_verification_answers(token, now, answer):
    if answer is None:
        assert verify_token(VECTOR_KEY, token, now) == "nacos"
    else:
        with pytest.raises(AccessDenied) as denied:
            verify_token(VECTOR_KEY, token, now)
        assert denied.value.message == answer


def nacos_signed(claims: dict) -> str:
    """A token with these claims, signed with VECTOR_KEY the way NacosSignatureAlgorithm signs."""
    header, payload = HEADERS["HS256"], b64url(json.dumps(claims).encode())
    signature = hmac.new(VECTOR_KEY, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{b64url(signature)}"


def test_a_token_without_exp_never_expires():
    assert verify_token(VECTOR_KEY, nacos_signed({"sub": "nacos"}), 4102444800) == "nacos"


# --- the HTTP answers --------------------------------------------------------------------------------------------

KEY = bytes(range(32))


def call(port: int, method: str, path: str, form: dict | None = None, token: str | None = None,
         headers: dict | None = None) -> tuple[int, dict, str]:
    data = urllib.parse.urlencode(form).encode() if form is not None else None
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers={**({"Authorization": f"Bearer {token}"} if token else {}),
                                              **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read().decode()


@pytest.fixture(scope="module")
def nacos():
    users = {"probe": "pw-1"}
    with NacosEmulator({"v2": Node(KEY, users),
                        "v3": Node(KEY, {**users, "reader": "pw-2"}, version=3, readers=frozenset({"reader"})),
                        "late": Node(KEY, users, clock_offset=3600),
                        "no-identity": Node(KEY, users, identity=None)}) as emulator:
        yield emulator


def login(nacos, node: str, path: str = "/nacos/v1/auth/login", **form) -> tuple[int, dict, str]:
    return call(nacos.ports[node], "POST", path, form or {"username": "probe", "password": "pw-1"})


def test_login_answers_like_nacos(nacos):
    status, headers, body = login(nacos, "v2")
    answer = json.loads(body)
    assert status == 200 and set(answer) == {"accessToken", "tokenTtl", "globalAdmin", "username"}
    assert answer["tokenTtl"] == 18000 and answer["username"] == "probe" and answer["globalAdmin"] is False
    assert headers["Authorization"] == f"Bearer {answer['accessToken']}"
    assert verify_token(KEY, answer["accessToken"], time.time()) == "probe"
    assert login(nacos, "v2", "/nacos/v1/auth/users/login")[0] == 200
    assert login(nacos, "v2", "/nacos/v3/auth/user/login")[0] == 404        # 2.x has no v3 login
    assert login(nacos, "v3", "/nacos/v3/auth/user/login")[0] == 200


@pytest.mark.parametrize("node,form,answer", [
    ("v2", {"username": "probe", "password": "wrong"}, "user not found!"),
    ("v2", {"username": "nobody", "password": "pw-1"}, "user not found!"),
    ("v2", {"username": "probe"}, "user not found!"),
    ("v3", {"username": "probe", "password": "wrong"}, "User not found! Please check user exist or password is right!"),
])
def test_login_failures(nacos, node, form, answer):
    status, _, body = login(nacos, node, **form)
    assert (status, body) == (403, answer)


def test_clock_offset_shows_in_date_and_exp(nacos):
    status, headers, body = login(nacos, "late")
    answer = json.loads(body)
    exp = json.loads(base64.urlsafe_b64decode(answer["accessToken"].split(".")[1] + "=="))["exp"]
    date = email.utils.parsedate_to_datetime(headers["Date"]).timestamp()
    assert abs(exp - answer["tokenTtl"] - (time.time() + 3600)) < 2 and abs(date - (time.time() + 3600)) < 2


def read(nacos, node: str, token: str | None, v3: bool = False, headers: dict | None = None):
    path = ("/nacos/v3/client/cs/config?dataId=d&groupName=g" if v3 else "/nacos/v1/cs/configs?dataId=d&group=g")
    status, _, body = call(nacos.ports[node], "GET", path, token=token, headers=headers)
    return status, body


def message(body: str) -> str:
    return json.loads(body)["message"]


def test_read_answers_like_nacos(nacos):
    token = json.loads(login(nacos, "v2")[2])["accessToken"]
    status, body = read(nacos, "v2", token)
    assert (status, message(body)) == (403, "authorization failed!")     # accepted identity, no rights
    assert json.loads(body)["error"] == "Forbidden" and json.loads(body)["path"] == "/nacos/v1/cs/configs"
    status, body = read(nacos, "v3", token, v3=True)
    assert (status, message(body)) == (403, "Code: 403, Message: authorization failed!.")
    late = json.loads(login(nacos, "late")[2])["accessToken"]
    assert message(read(nacos, "v2", late)[1]) == "authorization failed!"       # exp in its future is fine
    other = issue_token(bytes(range(1, 33)), "probe", time.time(), 18000)
    assert message(read(nacos, "v2", other)[1]) == "Invalid signature"
    assert message(read(nacos, "v3", other, v3=True)[1]) == "Code: 401, Message: Invalid signature."
    old = issue_token(KEY, "probe", time.time() - 18001, 18000)
    assert message(read(nacos, "v2", old)[1]) == "token expired!"
    assert message(read(nacos, "v2", None)[1]) == "user not found!"


def test_a_reader_gets_the_endpoints_own_not_found(nacos):
    token = json.loads(login(nacos, "v3", username="reader", password="pw-2")[2])["accessToken"]
    assert read(nacos, "v3", token) == (404, "config data not exist\n")
    status, body = read(nacos, "v3", token, v3=True)
    assert status == 200 and json.loads(body) == {"code": 20004, "message": "resource not found", "data": None}


def test_server_identity(nacos):
    status, body = read(nacos, "v2", None, headers={"x-nacos-peer": "emulated-peer-identity"})
    assert status == 404   # a peer's identity header skips user auth
    status, _, body = login(nacos, "no-identity")
    assert (status, message(body)) == (403, IDENTITY_MESSAGE)
    assert nacos.stats["v2"].identity_headers == 1


def test_emulator_counts_concurrent_requests():
    async def burst(port):
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(None, call, port, "POST", "/nacos/v1/auth/login",
                                                    {"username": "probe", "password": "pw"}) for _ in range(3)))
    with NacosEmulator({"slow": Node(KEY, {"probe": "pw"}, delay=0.2)}) as emulator:
        asyncio.run(burst(emulator.ports["slow"]))
        assert emulator.stats["slow"].logins == 3 and emulator.stats["slow"].max_in_flight == 3
