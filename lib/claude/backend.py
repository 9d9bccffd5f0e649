"""Which Claude the app talks to: the real API with a key, else the built-in sandbox."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import httpx2

from lib.core.settings import Settings

SANDBOX_KEY = "sk-sandbox-local"  # what the SDK sends to the local sandbox; not a secret


@dataclass(frozen=True)
class Backend:
    """Where calls go. `kind` is "anthropic" or "sandbox"; it labels every usage row and output."""

    kind: str
    base_url: str | None
    api_key: str

    @property
    def is_sandbox(self) -> bool:
        return self.kind == "sandbox"

    def __repr__(self) -> str:  # never show the key
        return f"Backend(kind={self.kind!r}, base_url={self.base_url!r})"


def is_sandbox_url(base_url: str) -> bool:
    """True when base_url answers like Scribe's sandbox (a sandbox started by hand, say)."""
    try:
        # No certificate store to load for a plain-HTTP probe (a local sandbox); it sends no key either way.
        response = httpx2.get(base_url.rstrip("/") + "/_sandbox/health", timeout=1.0,
                              verify=not base_url.startswith("http://"))
    except httpx2.HTTPError:
        return False
    return response.status_code == 200


def known_kind(settings: Settings) -> str | None:
    """The backend's kind when the settings alone say it (no key: the sandbox; a key and no base URL: the
    API); None when it takes `resolve_backend`'s probe (a key and a base URL, which may be a sandbox)."""
    if settings.anthropic_api_key is None:
        return "sandbox"
    return None if settings.anthropic_base_url else "anthropic"


def resolve_backend(settings: Settings, *, start_sandbox: Callable[[Settings], str]) -> Backend:
    """With a key: the real API (or ANTHROPIC_BASE_URL). Without: a sandbox found there, or started
    with `start_sandbox` (the composition root's; it returns the sandbox's base URL)."""
    if settings.anthropic_api_key is None:
        if settings.anthropic_base_url and is_sandbox_url(settings.anthropic_base_url):
            return Backend("sandbox", settings.anthropic_base_url, SANDBOX_KEY)
        return Backend("sandbox", start_sandbox(settings), SANDBOX_KEY)
    key = settings.anthropic_api_key.get_secret_value()
    base = settings.anthropic_base_url
    kind = "sandbox" if base and is_sandbox_url(base) else "anthropic"
    return Backend(kind, base, key)
