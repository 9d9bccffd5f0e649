"""Sign-in and access errors. Each is a ScribeError: `.message` says what happened, `.hint` what to do.

    ScribeError
    └── AuthError               anything about who is calling
        ├── AuthConfigError     the [auth] section or a role setting is wrong (checked at start)
        ├── SignInRefused       the provider signed someone in, but Scribe cannot accept the identity
        ├── NotSignedIn         a page or service was reached without an identity
        └── Forbidden           the caller's role does not allow this, or the item is someone else's

Messages never contain secret values (client_secret, cookie_secret) nor the owner of an item the
caller may not see.
"""

from __future__ import annotations

from lib.core.errors import ScribeError


class AuthError(ScribeError):
    """Something about who is calling."""


class AuthConfigError(AuthError):
    """The `[auth]` section of .streamlit/secrets.toml, or a role setting, is incomplete or invalid."""

    default_hint = (
        "Fix .streamlit/secrets.toml (see docs/sign-in.md), or remove the [auth] section to run in "
        "local mode without sign-in."
    )


class SignInRefused(AuthError):
    """The provider's ID token lacks what Scribe needs (a verified email)."""

    default_hint = "Ask the person who set up sign-in to check the provider's claims (docs/sign-in.md)."


class NotSignedIn(AuthError):
    default_hint = "Sign in and try again."


class Forbidden(AuthError):
    """The caller may not do this. `permission` is what would have allowed it."""

    default_hint = "Ask an admin if you need this."

    def __init__(self, message: str, hint: str | None = None, *, permission: object = None):
        super().__init__(message, hint)
        self.permission = permission
