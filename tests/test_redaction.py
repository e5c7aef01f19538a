"""Addresses and URLs in messages: shown without userinfo, query, fragment or parameters, and not at all when a
cut could still show part of a credential (a password may hold ',', ';', '/', '?', '#' or '@')."""
from __future__ import annotations

import pytest

from nacos_auth_guard.redaction import HIDDEN, NOT_AN_ADDRESS, address_for_message

SECRET = "s3cr3t-Pa55"


@pytest.mark.parametrize("value,shown", [
    ("nacos-headless:8848", "nacos-headless:8848"),
    ("http://nacos-0.nacos:8848/nacos,nacos-1.nacos:8848", "http://nacos-0.nacos:8848/nacos, nacos-1.nacos:8848"),
    ("[::1]:8848 10.0.0.7:8848", "[::1]:8848, 10.0.0.7:8848"),
    ("nacos-0:8848;nacos-1:8848", "nacos-0:8848, nacos-1:8848"),   # ';' separates servers for the config client
    (f"orders:{SECRET}@nacos:8848", "nacos:8848"),
    (f"http://orders:{SECRET}@nacos:8848/nacos", "http://nacos:8848/nacos"),
    (f"https://admin:{SECRET}@api.example.com:6443", "https://api.example.com:6443"),
    (f"http://nacos:8848/nacos?accessToken={SECRET}", "http://nacos:8848/nacos"),
    (f"nacos:8848?password={SECRET}#frag", "nacos:8848"),
    (f"http://nacos:8848/#{SECRET}", "http://nacos:8848/"),
    (f"nacos:8848;password={SECRET}", HIDDEN),
    (f"nacos:8848?password=ab@{SECRET}", HIDDEN),     # the '@' is in the query: the "host" after it is password
    (f"orders:ab/{SECRET}@nacos:8848", HIDDEN),       # a '/' in the password ends the authority early
    (f"orders:ab?{SECRET}@nacos:8848", HIDDEN),
    (f"orders:ab,{SECRET}:8848@nacos:8848", HIDDEN),  # a ',' in the password would split it into "hosts"
    (f"orders:ab;{SECRET}@nacos:8848", HIDDEN),
    (f"nacos:8848?password=ab,{SECRET}", HIDDEN),
    (f"orders:{SECRET}@nacos:8848,nacos-1:8848", HIDDEN),
    ("http://[::1", NOT_AN_ADDRESS),
    ("nacos!:8848", NOT_AN_ADDRESS),
    (f"http://orders:{SECRET}@[::1", HIDDEN),
    ("   ", "(empty)"),
])
def test_address_for_message(value, shown):
    assert address_for_message(value) == shown


@pytest.mark.parametrize("template", [
    "{s}@nacos:8848", "u:{s}@nacos:8848", "http://u:{s}@nacos:8848/nacos", "nacos:8848?accessToken={s}",
    "nacos:8848/nacos?username=u&password={s}", "nacos:8848;password={s}", "nacos:8848#{s}",
    "u:{s}@nacos:8848?accessToken={s}", "nacos:8848?password={s}@nacos-1",
])
@pytest.mark.parametrize("cut", [0, 3, 7], ids=["whole", "cut-3", "cut-7"])
def test_no_part_of_a_credential_is_shown(template, cut):
    """Not the secret, and not a piece of it that a cut at a separator would leave (a suffix or a prefix)."""
    for separator in ("", ",", ";", "/", "?", "#", "@", " "):
        secret = SECRET[:cut] + separator + SECRET[cut:] if cut else SECRET
        shown = address_for_message(template.format(s=secret))
        for piece in {secret, SECRET[:cut] or SECRET, SECRET[cut:]}:
            assert piece not in shown, (template, separator, shown)
