"""Addresses and URLs as a message may show them: scheme, host, port and path, never userinfo, query, fragment or
parameters. A Nacos server address or a kubeconfig server URL can carry credentials (`user:pass@host`,
`?accessToken=`, `?password=`, `;password=`); every message that names one takes it from here."""
from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

HIDDEN = "(not shown: it carries credentials or parameters)"
NOT_AN_ADDRESS = "(an entry that is not a host[:port])"

# Separators of a Nacos server list: the config client tokenizes on ",;" (ServerListManager.java:198@2.2.2);
# whitespace separates nothing for Nacos but must not join two entries into one shown "host".
_SEPARATORS = re.compile(r"[,;\s]+")
# Characters that start or hold credentials in a URL, or a key=value parameter.
_MARKERS = frozenset("@?#=")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
_AUTHORITY = re.compile(r"(?:[A-Za-z0-9_-][A-Za-z0-9._-]*|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
_PATH = re.compile(r"[A-Za-z0-9._~/-]*")


def address_for_message(value: str) -> str:
    """A configured address (one URL, or a Nacos server list) as a message may quote it.

    When the value holds '@', '?', '#' or '=', a credential may be in it, and a password may itself hold a
    separator, '/', '?' or '@': only a single entry whose userinfo ends unambiguously before its host is shown
    (without userinfo, query and fragment); anything else is not shown at all, since a cut could still show part of
    a password."""
    text = value.strip()
    entries = [entry for entry in _SEPARATORS.split(text) if entry]
    if not entries:
        return "(empty)"
    if _MARKERS & set(text):
        return _entry(entries[0], credentials=True) if len(entries) == 1 else HIDDEN
    return ", ".join(_entry(entry, credentials=False) for entry in entries)


def _entry(entry: str, credentials: bool) -> str:
    has_scheme = bool(_SCHEME.match(entry))
    try:
        parts = urlsplit(entry if has_scheme else "//" + entry)
    except ValueError:   # e.g. an unclosed IPv6 bracket
        return HIDDEN if credentials else NOT_AN_ADDRESS
    # An '@' after the authority may belong to a password holding '/', '?' or '#': nothing tells which part is host.
    if "@" in parts.path + parts.query + parts.fragment:
        return HIDDEN
    authority = parts.netloc.rpartition("@")[2]
    if not _AUTHORITY.fullmatch(authority):
        return HIDDEN if credentials else NOT_AN_ADDRESS
    path = parts.path if _PATH.fullmatch(parts.path) else ""
    shown = urlunsplit((parts.scheme, authority, path, "", ""))
    return shown if has_scheme else shown.removeprefix("//")
