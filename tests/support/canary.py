"""Canary secrets, and the check that none of them, nor an encoding or hash of one, appears in an output."""
from __future__ import annotations

import base64
import hashlib

import jwt

# Each canary is a value an output must never show. The token key is valid Base64 of 32+ bytes so that it
# flows through every check rather than stopping at the first.
TOKEN_KEY = base64.b64encode(b"CANARY-token-key-0123456789abcdefXYZ").decode()
OTHER_KEY = base64.b64encode(b"CANARY-other-key-0123456789abcdefXYZ").decode()
SHORT_KEY = base64.b64encode(b"CANARY-short").decode()
BAD_KEY = "CANARY-not-base64!"
IDENTITY_VALUE = "CANARY-identity-value-7f3a"
PASSWORD = "CANARY-password-91c2"
ACCESS_TOKEN = jwt.encode({"sub": "CANARY-user", "exp": 1700000000}, base64.b64decode(OTHER_KEY), "HS256")

SECRETS = (TOKEN_KEY, OTHER_KEY, SHORT_KEY, BAD_KEY, IDENTITY_VALUE, PASSWORD, ACCESS_TOKEN)


def forbidden_forms(value: str) -> set[str]:
    """The value, its Base64 forms, its decoding, and common hashes of each."""
    forms = {value, base64.b64encode(value.encode()).decode()}
    try:
        forms.add(base64.b64decode(value, validate=True).decode("utf-8", "ignore"))
    except ValueError:
        pass
    for form in list(forms):
        for algorithm in ("md5", "sha1", "sha256"):
            digest = hashlib.new(algorithm, form.encode())
            forms |= {digest.hexdigest(), base64.b64encode(digest.digest()).decode()}
    return {form for form in forms if len(form) >= 8}


FORBIDDEN = set().union(*(forbidden_forms(v) for v in SECRETS)) | {"CANARY"}


def assert_no_secret(text: str, where: str = "output") -> None:
    leaks = sorted(form for form in FORBIDDEN if form in text)
    assert not leaks, f"{where} leaks secret material ({len(leaks)} form(s)), e.g. {leaks[0][:12]}..."
