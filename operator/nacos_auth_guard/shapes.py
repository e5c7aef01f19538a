"""Defensive reads of untrusted object fields: a wrong type reads as empty, never raises."""
from __future__ import annotations


def as_dict(value: object) -> dict:
    return value if isinstance(value, dict) else {}


def as_list(value: object) -> list:
    return value if isinstance(value, list) else []


def as_text(value: object) -> str | None:
    """A scalar as the string a container would see; None for mappings, lists and null."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return None
