"""Deterministic ids and opaque strings derived from hashes (never from a global counter)."""

from __future__ import annotations

import base64
import hashlib

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def digest(*parts: object) -> bytes:
    """sha256 over the parts, separated so that ("ab", "c") != ("a", "bc")."""
    h = hashlib.sha256()
    for part in parts:
        h.update(str(part).encode("utf-8"))
        h.update(b"\x1f")
    return h.digest()


def base62(data: bytes, length: int) -> str:
    """`length` base-62 characters from `data`."""
    n = int.from_bytes(data, "big")
    out = []
    for _ in range(length):
        n, r = divmod(n, 62)
        out.append(_ALPHABET[r])
    return "".join(out)


def make_id(prefix: str, *parts: object, length: int = 24) -> str:
    """An id like msg_01AbC... built from the hash of `parts`."""
    return prefix + base62(digest(prefix, *parts), length)


def signature(*parts: object) -> str:
    """An opaque base64 'signature' for a thinking block."""
    return base64.b64encode(digest("sig", *parts) + digest("sig2", *parts)).decode("ascii")


def hash_key(api_key: str) -> str:
    """What the simulator stores instead of an API key (keys are never kept or echoed)."""
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()[:32]


def mask_key(api_key: str | None) -> str | None:
    """'…' + the last 4 characters (only the ellipsis for short keys): safe to show in a journal."""
    if not api_key:
        return None
    return "…" + api_key[-4:] if len(api_key) >= 12 else "…"
