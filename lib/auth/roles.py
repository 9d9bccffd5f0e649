"""Roles, and how a signed-in person gets one.

Three roles, ordered: rep < manager < admin. Everyone who signs in is a rep unless a rule says more;
the highest role any rule grants wins. Rules come from settings:

    SCRIBE_ADMIN_EMAILS    = "ana@acme.com, @it.acme.com"     emails, or @domain for a whole domain
    SCRIBE_MANAGER_EMAILS  = "@sales-leads.acme.com"
    SCRIBE_ROLE_GROUPS     = "scribe-admins=admin, scribe-managers=manager"   group -> role
    SCRIBE_GROUP_CLAIM     = "groups"                          the ID-token claim holding the groups

Emails and groups compare case-insensitively; `@acme.com` matches exactly that domain (not
`sub.acme.com`, not `notacme.com`). A malformed entry is an error at start, not a rule that silently
matches nobody.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lib.auth.errors import AuthConfigError

_EMAIL = re.compile(r"^[^@\s,;]+@[^@\s,;]+\.[^@\s,;]+$")
_DOMAIN = re.compile(r"^@[^@\s,;]+\.[^@\s,;]+$")
DEFAULT_GROUP_CLAIM = "groups"


class Role(enum.IntEnum):
    """What someone may see and do; a higher role may do everything a lower one may."""

    REP = 1
    MANAGER = 2
    ADMIN = 3

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Role:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise AuthConfigError(
                f"'{text.strip()}' is not a role; use rep, manager or admin.") from None


def normalize_email(email: str) -> str:
    return email.strip().lower()


@dataclass(frozen=True)
class EmailRule:
    """Exact emails and whole @domains (both stored lower-case; domains without the @)."""

    emails: frozenset[str] = frozenset()
    domains: frozenset[str] = frozenset()

    @classmethod
    def parse(cls, text: str | None, *, setting: str) -> EmailRule:
        emails: set[str] = set()
        domains: set[str] = set()
        for raw in _split(text):
            entry = raw.lower()
            if _DOMAIN.match(entry):
                domains.add(entry[1:])
            elif _EMAIL.match(entry):
                emails.add(entry)
            else:
                raise AuthConfigError(
                    f"{setting}: '{raw}' is neither an email (name@example.com) nor a domain (@example.com).")
        return cls(frozenset(emails), frozenset(domains))

    def matches(self, email: str) -> bool:
        email = normalize_email(email)
        if email in self.emails:
            return True
        _, at, domain = email.rpartition("@")
        return bool(at) and domain in self.domains

    def __bool__(self) -> bool:
        return bool(self.emails or self.domains)


@dataclass(frozen=True)
class RoleRules:
    """Everything that decides a signed-in person's role. Build it once, from settings, with `parse`."""

    admins: EmailRule = field(default_factory=EmailRule)
    managers: EmailRule = field(default_factory=EmailRule)
    groups: Mapping[str, Role] = field(default_factory=dict)  # lower-cased group name -> role
    group_claim: str = DEFAULT_GROUP_CLAIM

    @classmethod
    def parse(cls, *, admin_emails: str | None = None, manager_emails: str | None = None,
              role_groups: str | None = None, group_claim: str | None = None) -> RoleRules:
        """From the raw setting values (SCRIBE_ADMIN_EMAILS, ...). Raises AuthConfigError on a bad entry."""
        return cls(
            admins=EmailRule.parse(admin_emails, setting="SCRIBE_ADMIN_EMAILS"),
            managers=EmailRule.parse(manager_emails, setting="SCRIBE_MANAGER_EMAILS"),
            groups=_parse_groups(role_groups),
            group_claim=(group_claim or "").strip() or DEFAULT_GROUP_CLAIM,
        )

    def role_for(self, email: str, claims: Mapping[str, Any] | None = None) -> Role:
        """The highest role that the email rules or the group claim grant; rep when none does."""
        role = Role.REP
        if self.admins.matches(email):
            return Role.ADMIN
        if self.managers.matches(email):
            role = Role.MANAGER
        for group in groups_in(claims or {}, self.group_claim):
            role = max(role, self.groups.get(group.lower(), Role.REP))
        return role


def groups_in(claims: Mapping[str, Any], claim: str) -> list[str]:
    """The group names in a claim: a list of strings (Okta, Entra), or one string of comma- or
    space-separated names (some providers). Anything else counts as no groups."""
    value = claims.get(claim)
    if isinstance(value, str):
        return [g for g in re.split(r"[\s,]+", value) if g]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return [g.strip() for g in value if isinstance(g, str) and g.strip()]
    return []


def _split(text: str | None) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\n]", text or "") if part.strip()]


def _parse_groups(text: str | None) -> dict[str, Role]:
    groups: dict[str, Role] = {}
    for entry in _split(text):
        group, eq, role = entry.rpartition("=")
        if not eq or not group.strip() or not role.strip():
            raise AuthConfigError(
                f"SCRIBE_ROLE_GROUPS: '{entry}' should look like group=role (e.g. scribe-admins=admin).")
        key = group.strip().lower()
        try:
            parsed = Role.parse(role)
        except AuthConfigError as exc:
            raise AuthConfigError(f"SCRIBE_ROLE_GROUPS: {exc.message}") from None
        groups[key] = max(parsed, groups.get(key, Role.REP))
    return groups
