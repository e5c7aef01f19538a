"""Nacos facts, table-driven: how a node reads its key, checks a token, and what each image version defaults to.
Each case names the Nacos source (alibaba/nacos or nacos-group/nacos-docker tag) the expectation was read from."""
from __future__ import annotations

import base64
import json
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


def no_exp(key: bytes) -> str:
    return jwt.encode({"sub": "nacos"}, key, "HS256", headers={"typ": None})


def with_exp(key: bytes, exp) -> str:
    return jwt.encode({"sub": "nacos", "exp": exp}, key, "HS256", headers={"typ": None})


EXP_FUTURE = int(datetime(2099, 1, 1, tzinfo=timezone.utc).timestamp())
EXP_PAST = int(datetime(2024, 3, 1, tzinfo=timezone.utc).timestamp())

TOKEN_CASES = [
    # (id, token, key, version, expected (problem, error))
    ("HS256 valid", nacos_token(KEY_32, EXP_FUTURE), KEY_32, (2, 4, 3), (None, "token invalid!")),
    ("HS512 from a 64-byte key is valid (2.2.1+ signs HS512)", nacos_token(KEY_64, EXP_FUTURE, "HS512"), KEY_64,
     (2, 4, 3), (None, "token invalid!")),
    ("HS384 verified with the node's key", nacos_token(KEY_64[:48], EXP_FUTURE, "HS384"), KEY_64[:48], None,
     (None, "Code: 401, Message: token invalid!.")),
    ("another key: 2.2.1+ answers Invalid signature", nacos_token(OTHER, EXP_FUTURE), KEY_32, (2, 4, 3),
     ("signature", "Invalid signature")),
    ("another key: jjwt-based 2.2.0 answers token invalid!", nacos_token(OTHER, EXP_FUTURE), KEY_32, (2, 2, 0),
     ("signature", "token invalid!")),
    ("expired", nacos_token(KEY_32, EXP_PAST), KEY_32, (2, 4, 3), ("expired", "token expired!")),
    ("exp == now is still valid (exp >= now)", nacos_token(KEY_32, int(NOW.timestamp())), KEY_32, (2, 4, 3),
     ("expiring", "token expired!")),
    ("one second later it is expired", nacos_token(KEY_32, int(NOW.timestamp()) - 1), KEY_32, (2, 4, 3),
     ("expired", "token expired!")),
    ("typ header: 2.2.1+ answers unsupported signature algorithm", nacos_token(KEY_32, EXP_FUTURE, typ=True),
     KEY_32, (2, 2, 1), ("malformed", "unsupported signature algorithm")),
    ("typ header: jjwt-based 2.2.0 accepts it", nacos_token(KEY_32, EXP_FUTURE, typ=True), KEY_32, (2, 2, 0),
     (None, "token invalid!")),
    # NacosJwtPayload.java:31@2.2.1 (and @3.0.3): exp starts as the parse time, so a token without one never expires.
    ("no exp: 2.2.1+ accepts it forever", no_exp(KEY_32), KEY_32, (2, 4, 3), ("unexpiring", "token invalid!")),
    ("no exp, version unknown: read as the newest", no_exp(KEY_32), None, None,
     ("unexpiring", "Code: 401, Message: token invalid!.")),
    ("no exp and another key: the signature is checked first", no_exp(OTHER), KEY_32, (2, 4, 3),
     ("signature", "Invalid signature")),
    ("no exp: jjwt-based 2.2.0 checks exp only when present", no_exp(KEY_32), KEY_32, (2, 2, 0),
     ("unexpiring", "token invalid!")),
    # Jackson reads exp into a long (NacosSignatureAlgorithm.java:130@2.4.3): it coerces what it can.
    ("exp a numeric string: coerced, valid", with_exp(KEY_32, str(EXP_FUTURE)), KEY_32, (2, 4, 3),
     (None, "token invalid!")),
    ("exp a numeric string in the past: expired", with_exp(KEY_32, str(EXP_PAST)), KEY_32, (2, 4, 3),
     ("expired", "token expired!")),
    ("exp a float: truncated, valid", with_exp(KEY_32, EXP_FUTURE + 0.5), KEY_32, (2, 4, 3), (None, "token invalid!")),
    ("exp null: a long's 0, expired", with_exp(KEY_32, None), KEY_32, (2, 4, 3), ("expired", "token expired!")),
    ("exp not a number: the server fails reading it", with_exp(KEY_32, "soon"), KEY_32, (2, 4, 3),
     ("malformed", "token invalid!")),
    ("exp beyond a Java long: the server fails reading it", with_exp(KEY_32, 2 ** 63), KEY_32, (2, 4, 3),
     ("malformed", "token invalid!")),
    ("exp not a number, jjwt-based 2.2.0", with_exp(KEY_32, "soon"), KEY_32, (2, 2, 0),
     ("malformed", "token invalid!")),
    ("nbf in the future: Nacos does not read nbf", jwt.encode({"sub": "nacos", "exp": EXP_FUTURE, "nbf": EXP_FUTURE},
     KEY_32, "HS256", headers={"typ": None}), KEY_32, (2, 4, 3), (None, "token invalid!")),
    ("exp beyond year 9999 never expires", nacos_token(KEY_32, 10 ** 15), KEY_32, (2, 4, 3),
     (None, "token invalid!")),
    ("exp before year 1 is expired", nacos_token(KEY_32, -10 ** 15), KEY_32, (2, 4, 3),
     ("expired", "token expired!")),
    ("not a JWT", "s3cr3t", KEY_32, (2, 4, 3), ("malformed", "token invalid!")),
    ("unsigned (alg none)", jwt.encode({"exp": EXP_FUTURE}, None, "none"), None, None,
     ("malformed", "Code: 401, Message: token invalid!.")),
]


@pytest.mark.parametrize("token,key,version,expected", [c[1:] for c in TOKEN_CASES], ids=[c[0] for c in TOKEN_CASES])
def test_check_token(token, key, version, expected):
    verdict = nacos.check_token(token, key, NOW, 3600, version)
    assert (verdict.problem, verdict.error) == expected


@pytest.mark.parametrize("token,version,answer", [
    (with_exp(KEY_32, "soon"), (2, 4, 3), "HTTP 500 (the server fails while reading the token)"),
    (with_exp(KEY_32, "soon"), (2, 2, 0), '403 "token invalid!"'),
    (nacos_token(KEY_32, EXP_PAST), (2, 4, 3), '403 "token expired!"'),
])
def test_token_answer(token, version, answer):
    assert nacos.check_token(token, KEY_32, NOW, 3600, version).answer == answer


def test_token_verdict_detail_never_holds_the_token():
    token = nacos_token(OTHER, EXP_FUTURE)
    for key in (None, KEY_32):
        verdict = nacos.check_token(token, key, NOW, 3600)
        assert token not in verdict.detail and token.split(".")[2] not in verdict.detail
    assert base64.b64encode(KEY_32).decode() not in nacos.check_token(token, KEY_32, NOW, 0).detail


@pytest.mark.parametrize("alg,detail", [
    ("RS256", "signed with RS256, Nacos signs with HMAC-SHA"),
    ("none", "signed with none, Nacos signs with HMAC-SHA"),
    ("s3cr3t-in-the-header", "its header names no registered JWS algorithm, Nacos signs with HMAC-SHA"),
    ("HS256\n", "its header names no registered JWS algorithm, Nacos signs with HMAC-SHA"),
])
def test_a_foreign_algorithm_is_named_only_when_registered(alg, detail):
    """NAG501 quotes the header's alg only when it is a registered name: the header is the token's own text."""
    header = base64.urlsafe_b64encode(json.dumps({"alg": alg}).encode()).decode().rstrip("=")
    body = base64.urlsafe_b64encode(json.dumps({"sub": "nacos", "exp": EXP_FUTURE}).encode()).decode().rstrip("=")
    for key in (None, KEY_32):
        verdict = nacos.check_token(f"{header}.{body}.c2ln", key, NOW, 3600)
        assert (verdict.problem, verdict.detail) == ("malformed", detail)


PUBLISHED = "SecretKey012345678901234567890123456789012345678901234567890123456789"
B64_32 = base64.b64encode(KEY_32).decode()

DECODE_CASES = [
    # (id, text, version, expected (base64, key length or None))
    ("canonical Base64, newest", B64_32, None, (True, 32)),
    ("unpadded is fine everywhere", B64_32.rstrip("="), (2, 2, 3), (True, 32)),
    ("published 69-char key, 3.x: last char dropped (Base64Decode)", PUBLISHED, (3, 0, 1), (True, 51)),
    ("published key, 2.2.0.1: jjwt's decoder does the same", PUBLISHED, (2, 2, 0, 1), (True, 51)),
    ("published key, 2.2.3: strict decoder fails, ASCII bytes used", PUBLISHED, (2, 2, 3), (False, 69)),
    ("trailing newline skipped by the lenient decoder", B64_32 + "\n", (2, 4, 3), (True, 32)),
    ("trailing newline, 2.2.3: strict fails, raw bytes", B64_32 + "\n", (2, 2, 3), (False, 45)),
    ("illegal character inside, 2.3+: no key at all", "abc!def" * 8, (2, 3, 0), (False, None)),
    ("illegal character inside, 2.2.0: no key at all", "abc!def" * 8, (2, 2, 0), (False, None)),
    ("illegal character inside, 2.1.x: UTF-8 bytes used at login", "abc!def" * 8, (2, 1, 2), (False, 56)),
    # AuthConfigs.java:97-98@2.0.4 added the UTF-8 fallback; :93@2.0.3 and :76@1.4.1 have none.
    ("illegal character inside, 2.0.4: UTF-8 bytes used at login", "abc!def" * 8, (2, 0, 4), (False, 56)),
    ("illegal character inside, 2.0.3: no fallback, no key", "abc!def" * 8, (2, 0, 3), (False, None)),
    ("illegal character inside, 1.4.2: no fallback, no key", "abc!def" * 8, (1, 4, 2), (False, None)),
    ("Helm chart's 'nil' decodes to 2 bytes", "nil", None, (True, 2)),
    ("URL-safe alphabet is not Base64 to Nacos", base64.urlsafe_b64encode(b"\xfb\xff" * 16).decode(), None,
     (False, None)),
    ("empty", "", None, (True, 0)),
]


@pytest.mark.parametrize("text,version,expected", [c[1:] for c in DECODE_CASES], ids=[c[0] for c in DECODE_CASES])
def test_decode_key(text, version, expected):
    decoding = nacos.decode_key(text, version)
    assert (decoding.base64, None if decoding.key is None else len(decoding.key)) == expected


def test_lenient_decoder_agrees_with_base64_on_canonical_input():
    for size in range(0, 70):
        data = bytes((size * 7 + i) % 256 for i in range(size))
        text = base64.b64encode(data).decode()
        assert nacos.decode_key(text).key == data
        assert nacos.decode_key(text, (2, 2, 3)).key == data


@pytest.mark.parametrize("text,version,expected", [
    (PUBLISHED, None, True),
    (PUBLISHED + "\n", (2, 4, 3), True),                       # the same HMAC key to the server
    ("VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=", None, True),
    (B64_32, None, False),
    # The forms users copy: the text, its Base64, the Base64 of that (issue 12.5)
    (base64.b64encode(PUBLISHED.encode()).decode(), None, True),
    (base64.b64encode(base64.b64encode(PUBLISHED.encode())).decode(), (2, 2, 0), True),
    ("ThisIsMyCustomSecretKey012345678", None, True),            # the text Nacos' example is the Base64 of
    (base64.b64encode(b"VGhpc0lzTXlDdXN0b21TZWNyZXRLZXkwMTIzNDU2Nzg=").decode(), None, True),
    (base64.b64encode(b"nil").decode(), None, True),
    (base64.b64encode(B64_32.encode()).decode(), None, False),
])
def test_well_known_key(text, version, expected):
    assert nacos.is_well_known_key(text, version) is expected


# --- what a server needs, per version boundary ------------------------------------------------------------------

@pytest.mark.parametrize("version,auth,console,expected", [
    ((2, 1, 2), False, False, False),     # the key is first used when a login signs a token
    ((2, 2, 0), False, False, True),      # JwtTokenManager.java:77@2.2.0: throws whatever auth says
    ((2, 2, 0, 1), False, False, True),
    ((2, 2, 1), False, False, True),      # JwtTokenManager.java:73@2.2.1: the same
    ((2, 2, 2), False, False, False),     # JwtTokenManager.java:80@2.2.2: `if (authConfigs.isAuthEnabled())`
    ((2, 2, 3), False, False, False),
    ((2, 2, 2), True, False, True),
    ((2, 4, 3), False, False, False),
    ((3, 0, 3), False, True, True),       # 3.x console auth signs tokens with the same key
    ((3, 0, 3), False, False, False),
    (None, True, False, True),
])
def test_key_needed(version, auth, console, expected):
    assert (nacos.key_needed_because(version, auth, console) is not None) is expected


@pytest.mark.parametrize("version,reads,unconditional,jar_default", [
    ((1, 3, 2), False, True, None),       # AuthFilter.java:74@1.4.0 (and before): no setting, always bypassed
    ((1, 4, 0), False, True, None),
    ((1, 4, 1), True, False, "true"),     # AuthFilter.java:76@1.4.1; no line in the jar, AuthConfigs.java:71 default
    ((1, 4, 2), True, False, "false"),    # console application.properties:130@1.4.2
    ((2, 4, 3), True, False, "false"),    # AuthFilter.java:78@2.4.3
    ((2, 5, 0), False, False, None),      # AuthFilter.java:93@2.5.0 no longer reads it
    ((3, 0, 3), False, False, None),
    (None, False, False, None),
])
def test_user_agent_bypass(version, reads, unconditional, jar_default):
    assert nacos.reads_user_agent_white(version) is reads
    assert nacos.user_agent_bypass_unconditional(version) is unconditional
    assert nacos.builtin_properties(version).get(nacos.USER_AGENT_WHITE) == jar_default


# --- what clients are told, per version ---------------------------------------------------------------------------
# NacosAuthManager.java:141,163@2.2.0.1; AbstractAuthenticationManager.java:58@2.2.1; NacosSignatureAlgorithm.java:128
# @2.4.3; AbstractAuthenticationManager.java:41 and AuthResult.java:26@3.0.3 (3.x wraps every text).
@pytest.mark.parametrize("version,signature,login", [
    ((2, 2, 0), "token invalid!", "unknown user!"),
    ((2, 2, 0, 1), "token invalid!", "unknown user!"),
    ((2, 2, 1), "Invalid signature", "user not found!"),
    ((2, 5, 2), "Invalid signature", "user not found!"),
    ((3, 0, 3), "Code: 401, Message: Invalid signature.",
     "Code: 401, Message: User not found! Please check user exist or password is right!."),
    (None, "Code: 401, Message: Invalid signature.",
     "Code: 401, Message: User not found! Please check user exist or password is right!."),
])
def test_client_texts(version, signature, login):
    assert nacos.signature_error(version) == signature
    assert nacos.login_error(version) == login
    assert nacos.check_token(nacos_token(OTHER, EXP_FUTURE), KEY_32, NOW, 0, version).error == signature


@pytest.mark.parametrize("version,expired", [
    ((2, 4, 3), "token expired!"), ((3, 0, 3), "Code: 401, Message: token expired!.")])
def test_expired_text(version, expired):
    assert nacos.check_token(nacos_token(KEY_32, EXP_PAST), KEY_32, NOW, 0, version).error == expired


@pytest.mark.parametrize("version,auth,console,admin,needed", [
    ((1, 4, 0), True, False, False, False),    # no server identity before 1.4.1
    ((1, 4, 1), True, False, False, True),
    ((2, 4, 3), False, False, False, False),
    ((2, 4, 3), True, False, False, True),
    ((3, 0, 3), False, False, True, True),     # NacosServerAdminAuthConfig.java:58,71,115@3.0.3: admin auth needs it
    ((3, 0, 3), False, True, False, True),
    ((3, 0, 3), False, False, False, False),
])
def test_identity_needed(version, auth, console, admin, needed):
    assert (nacos.identity_needed_because(version, auth, console, admin) is not None) is needed


@pytest.mark.parametrize("version,standalone,starts", [
    ((2, 2, 0, 1), False, True), ((2, 2, 1), False, False), ((2, 3, 0), True, False), ((2, 3, 1), True, True),
    ((2, 5, 0), True, True), ((2, 5, 0), False, False), ((3, 0, 3), True, False), (None, True, False),
])
def test_missing_identity_impact(version, standalone, starts):
    assert nacos.missing_identity_impact(version, standalone).startswith("the server starts") is starts


OLD_IMAGE_KEY, OLD_IMAGE_IDENTITY = "${NACOS_AUTH_TOKEN:" + PUBLISHED + "}", "${NACOS_AUTH_IDENTITY_KEY:serverIdentity}"


@pytest.mark.parametrize("version,key_property,key,identity", [
    # nacos-docker build/conf/application.properties at each tag
    ((1, 4, 3), nacos.TOKEN_KEY_OLD, OLD_IMAGE_KEY, OLD_IMAGE_IDENTITY),
    ((1, 4, 4), nacos.TOKEN_KEY, OLD_IMAGE_KEY, OLD_IMAGE_IDENTITY),       # :23@v1.4.4 writes the 2.1 name
    ((1, 4, 5), nacos.TOKEN_KEY_OLD, "${NACOS_AUTH_TOKEN:}", "${NACOS_AUTH_IDENTITY_KEY:}"),    # :24,29@v1.4.5
    ((1, 4, 8), nacos.TOKEN_KEY_OLD, "${NACOS_AUTH_TOKEN:}", "${NACOS_AUTH_IDENTITY_KEY:}"),
    ((2, 0, 3), nacos.TOKEN_KEY_OLD, OLD_IMAGE_KEY, OLD_IMAGE_IDENTITY),
    ((2, 2, 1), nacos.TOKEN_KEY, "${NACOS_AUTH_TOKEN}", "${NACOS_AUTH_IDENTITY_KEY}"),          # :28,32@v2.2.1
    ((2, 2, 2), nacos.TOKEN_KEY, "${NACOS_AUTH_TOKEN:}", "${NACOS_AUTH_IDENTITY_KEY:}"),        # :29,33@v2.2.2
])
def test_image_defaults(version, key_property, key, identity):
    properties = nacos.docker_properties(version)
    assert properties[key_property] == key and properties[nacos.IDENTITY_KEY] == identity


@pytest.mark.parametrize("version,identity", [
    ((1, 4, 4), "serverIdentity"), ((1, 4, 5), ""), ((1, 4, 8), ""), ((2, 0, 4), "serverIdentity"),   # :136@1.4.5
    ((2, 2, 1), ""),
])
def test_jar_identity_defaults(version, identity):
    assert nacos.builtin_properties(version)[nacos.IDENTITY_KEY] == identity


def test_the_signature_check_of_a_nacos_written_token_is_the_one_jwt_decode_makes(monkeypatch):
    """check_token verifies a token whose header is one Nacos writes with pyjwt's HMAC algorithm directly
    (nacos._signature_verifies) instead of jwt.decode: every verdict must be decode's, for right, wrong, short,
    asymmetric-looking and JWK-looking keys, each algorithm, expired or not."""
    now = NOW
    signer = b"k" * 64
    keys = [signer, b"x" * 64, b"short", b"-----BEGIN PUBLIC KEY-----\nMIIB\n-----END PUBLIC KEY-----\n",
            json.dumps({"kty": "oct", "k": "abc"}).encode(), b"ssh-rsa AAAAB3NzaC1yc2E= user@host"]
    tokens = []
    for algorithm in ("HS256", "HS384", "HS512"):
        for exp in (int(now.timestamp()) + 86400, int(now.timestamp()) - 60):
            token = jwt.encode({"sub": "nacos", "exp": exp}, signer, algorithm, headers={"typ": None})
            assert token.split(".")[0] in nacos.NACOS_HEADER_ALGORITHMS
            head, payload, signature = token.split(".")
            tokens += [token, f"{head}.{payload}.{signature[:-2]}AA"]   # and with another signature
    for header, algorithm in nacos.NACOS_HEADER_ALGORITHMS.items():
        assert json.loads(base64.urlsafe_b64decode(header + "==")) == {"alg": algorithm}

    def verdicts():
        return [nacos.check_token(t, k, now, 3600, version) for t in tokens for k in keys
                for version in ((2, 4, 3), (2, 1, 0), None)]

    def decode_verifies(token: str, key: bytes, algorithm: str) -> bool:   # the check as jwt.decode makes it
        import warnings
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
                jwt.decode(token, key, algorithms=list(nacos.TOKEN_ALGORITHMS), options=nacos._SIGNATURE_ONLY)
        except jwt.InvalidSignatureError:
            return False
        return True

    fast = verdicts()
    monkeypatch.setattr(nacos, "_signature_verifies", decode_verifies)   # every token through jwt.decode
    assert fast == verdicts()
    assert {v.problem for v in fast} >= {None, "signature", "malformed", "expired"}


def test_the_token_and_key_caches_hold_only_texts_of_their_usual_size():
    """The caches that spare re-reading a token for every server's key keep at most a few hundred entries, each of
    token or key size: a megabyte-long value in an env var or a Secret is checked without being kept."""
    big_key = b"k" * 100_000
    token = jwt.encode({"sub": "nacos", "exp": 4102444800, "pad": "x" * 10_000}, big_key, "HS256",
                       headers={"typ": None})
    caches = (nacos._read_unverified, nacos._signing_parts, nacos._prepared_key, nacos.decode_key)
    before = [cache.cache_info().currsize for cache in caches]
    assert nacos.check_token(token, big_key, NOW, 3600).problem is None
    assert nacos.check_token(token, b"x" * 64, NOW, 3600).problem == "signature"
    nacos.decode_key("A" * 10_000)
    assert [cache.cache_info().currsize for cache in caches] == before
    assert all(cache.cache_info().maxsize <= 1024 for cache in caches)
