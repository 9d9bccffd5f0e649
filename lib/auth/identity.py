"""Who is calling: one small value that the pages pass to the services.

    signed in   identity_from_user(st.user.to_dict(), rules)    email and name from the ID token
    local mode  local_identity(settings.scribe_user)            no [auth] section: SCRIBE_USER, admin
    the CLI     cli_identity(args.user, rules, auth_configured) --user, default the OS user

`Identity.user` is the key every table records (history's approved_by, usage_log.user, budgets,
jobs, conversations): the lower-cased email when signed in, SCRIBE_USER as written in local mode.
"""

from __future__ import annotations

import getpass
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lib.auth.errors import NotSignedIn, SignInRefused
from lib.auth.roles import Role, RoleRules, normalize_email

LOCAL_MODE_LABEL = "Local mode: no sign-in"


@dataclass(frozen=True)
class Identity:
    email: str          # lower-cased when it came from a provider; SCRIBE_USER in local mode
    name: str
    role: Role
    local: bool = False  # True: no sign-in (local mode or the CLI without [auth])

    @property
    def user(self) -> str:
        """The key recorded as the actor everywhere, and compared with an item's owner."""
        return self.email

    def owns(self, owner: str | None) -> bool:
        """Whether `owner` (as recorded in a table) is this person. Emails compare case-insensitively."""
        return owner is not None and owner.strip().lower() == self.email.strip().lower()

    def at_least(self, role: Role) -> bool:
        return self.role >= role

    @property
    def label(self) -> str:
        """For the sidebar: "Rita Rep · rita@acme.com · rep", or the local-mode label."""
        if self.local:
            return f"{LOCAL_MODE_LABEL} · {self.email}"
        who = self.email if not self.name or self.name == self.email else f"{self.name} · {self.email}"
        return f"{who} · {self.role.label}"


def local_identity(user: str) -> Identity:
    """Local mode (no [auth] section): SCRIBE_USER, with the admin role, as the app behaved before sign-in."""
    user = (user or "").strip() or "rep"
    return Identity(email=user, name=user, role=Role.ADMIN, local=True)


def identity_from_user(user_info: Mapping[str, Any], rules: RoleRules) -> Identity:
    """An Identity from Streamlit's `st.user` (pass `st.user.to_dict()`; lib/ never imports streamlit).

    st.user holds the ID token's claims plus `is_logged_in` and `provider` (the [auth.NAME] used).
    Raises NotSignedIn when nobody is signed in, SignInRefused when the token has no email or the
    provider says the email is unverified (an unverified email would let anyone claim a role's
    @domain and write history in someone else's name).
    """
    if not user_info.get("is_logged_in"):
        raise NotSignedIn("Nobody is signed in.")
    raw_email = user_info.get("email")
    if not isinstance(raw_email, str) or "@" not in raw_email:
        raise SignInRefused(
            "The identity provider did not send an email address, so Scribe cannot tell who you are.",
            "Ask the person who set up sign-in to release the `email` claim (scope `email`; on "
            "Microsoft Entra, add the optional `email` claim to the ID token).")
    if user_info.get("email_verified") is False or str(user_info.get("email_verified")).lower() == "false":
        raise SignInRefused("The identity provider says this email address is not verified.")
    email = normalize_email(raw_email)
    return Identity(email=email, name=_name(user_info, email), role=rules.role_for(email, user_info))


def resolve_identity(user_info: Mapping[str, Any], rules: RoleRules, *, auth_configured: bool,
                     local_user: str) -> Identity:
    """The app's one call: local mode without [auth], otherwise the signed-in person."""
    if not auth_configured:
        return local_identity(local_user)
    return identity_from_user(user_info, rules)


def cli_identity(user: str | None, rules: RoleRules, *, auth_configured: bool) -> Identity:
    """Who runs the CLI: `--user`, default the OS user. Without [auth] it has the admin role, as the app
    does in local mode; with [auth], the role the rules give that email (a non-email name is a rep).
    This records who ran it; it is not a sign-in (whoever can run the CLI can open the database)."""
    name = (user or "").strip() or getpass.getuser()
    if not auth_configured:
        return local_identity(name)
    email = normalize_email(name)
    return Identity(email=email, name=name, role=rules.role_for(email), local=True)


def _name(claims: Mapping[str, Any], email: str) -> str:
    name = claims.get("name")
    if isinstance(name, str) and name.strip():
        return name.strip()
    parts = [claims.get(k) for k in ("given_name", "family_name")]
    joined = " ".join(p.strip() for p in parts if isinstance(p, str) and p.strip())
    return joined or email.split("@", 1)[0]
