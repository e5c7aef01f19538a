"""Nacos facts, table-driven: how a node reads its key, checks a token, and what each image version defaults to.
Each case names the Nacos source (alibaba/nacos or nacos-group/nacos-docker tag) the expectation was read from."""
from __future__ import annotations

import base64
from datetime import datetime, timezone

import jwt
import pytest

from nacos_auth_guard import nacos

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)
KEY_32 = bytes(range(32))
KEY_64 = bytes(range(64))
OTHER = bytes(range(1, 33))


def nacos_token(key: bytes, exp: int, alg: str = "HS256", typ: bool = False) -> str:
    """A token as Nacos writes it: header {"alg": ...} only (NacosSignatureAlgorithm), unless typ is asked for."""
    return jwt.encode({"sub": "nacos", "exp": exp}, key, alg, headers=None if typ else {"typ": None})


EXP_FUTURE = int(datetime(2099, 1, 1, tzinfo=timezone.utc).timestamp())
EXP_PAST = int(datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp())

TOKEN_CASES = [
    # (id, token, key, version, expected (problem, error))
    ("HS256 valid", nacos_token(KEY_32, EXP_FUTURE), KEY_32, (2, 4, 3), (None, "token invalid!")),
    ("HS512 from a 64-byte key is valid (2.2.1+ signs HS512)", nacos_token(KEY_64, EXP_FUTURE, "HS512"), KEY_64,
     (2, 4, 3), (None, "token invalid!")),
    ("HS384 verified with the node's key", nacos_token(KEY_64[:48], EXP_FUTURE, "HS384"), KEY_64[:48], None,
     (None, "token invalid!")),
    ("another key", nacos_token(OTHER, EXP_FUTURE), KEY_32, (2, 4, 3), ("signature", "token invalid!")),
    ("expired", nacos_token(KEY_32, EXP_PAST), KEY_32, (2, 4, 3), ("expired", "token expired!")),
    ("exp == now is still valid (exp >= now)", nacos_token(KEY_32, int(NOW.timestamp())), KEY_32, (2, 4, 3),
     ("expiring", "token expired!")),
    ("one second later it is expired", nacos_token(KEY_32, int(NOW.timestamp()) - 1), KEY_32, (2, 4, 3),
     ("expired", "token expired!")),
    ("typ header: 2.2.1+ answers unsupported signature algorithm", nacos_token(KEY_32, EXP_FUTURE, typ=True),
     KEY_32, (2, 2, 1), ("malformed", "unsupported signature algorithm")),
    ("typ header: jjwt-based 2.2.0 accepts it", nacos_token(KEY_32, EXP_FUTURE, typ=True), KEY_32, (2, 2, 0),
     (None, "token invalid!")),
    ("not a JWT", "s3cr3t", KEY_32, (2, 4, 3), ("malformed", "token invalid!")),
    ("unsigned (alg none)", jwt.encode({"exp": EXP_FUTURE}, None, "none"), None, None,
     ("malformed", "token invalid!")),
]


@pytest.mark.parametrize("token,key,version,expected", [c[1:] for c in TOKEN_CASES], ids=[c[0] for c in TOKEN_CASES])
def test_check_token(token, key, version, expected):
    verdict = nacos.check_token(token, key, NOW, 3600, version)
    assert (verdict.problem, verdict.error) == expected


def test_token_verdict_detail_never_holds_the_token():
    token = nacos_token(OTHER, EXP_FUTURE)
    for key in (None, KEY_32):
        verdict = nacos.check_token(token, key, NOW, 3600)
        assert token not in verdict.detail and token.split(".")[2] not in verdict.detail
    assert base64.b64encode(KEY_32).decode() not in nacos.check_token(token, KEY_32, NOW, 0).detail
