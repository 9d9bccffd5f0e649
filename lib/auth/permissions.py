"""What each role may do, checked in lib/ by the services (hiding a page is not enough).

    require(identity, Permission.VIEW_BUDGETS)                            raises Forbidden
    require_owner_or(identity, conversation.user, Permission.READ_ALL_CONVERSATIONS, what="conversation")
    scope = visible_users(identity, Permission.READ_TEAM_USAGE)           rep: only self; else everyone
    if not scope.everyone: sql += " AND user = ?"; params.append(identity.user)

Own work needs no permission beyond signing in: a rep always reads and changes what they own
(their notes, reviews, drafts, conversations, jobs, usage). Permissions name what reaches beyond
that, or what changes the team's data or behaviour.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from lib.auth.errors import Forbidden
from lib.auth.identity import Identity
from lib.auth.roles import Role


class Permission(enum.StrEnum):
    """Each value is the phrase used in messages: "... needs the manager role to <value>"."""

    # every role: the rep's own work, and the CRM they work on
    USE_CLAUDE = "use Claude (summaries, extraction, follow-up drafts, the assistant)"
    READ_CRM = "read contacts, deals and their history"
    SAVE_TO_CRM = "save reviewed changes to the CRM"
    RUN_JOBS = "start bulk enrichment jobs"
    # manager: the team's view
    READ_TEAM_USAGE = "see the whole team's usage"
    VIEW_BUDGETS = "see budgets"
    SET_BUDGETS = "set budget amounts"
    READ_ALL_JOBS = "see everyone's jobs"
    READ_ALL_CONVERSATIONS = "read everyone's conversations"
    IMPORT_CONTACTS = "import contacts"
    # admin: other people's work, and settings that change behaviour
    READ_ALL_NOTES = "read other people's notes, reviews and drafts"
    MANAGE_ALL_JOBS = "cancel, resume or retry other people's jobs"
    MANAGE_ALL_CONVERSATIONS = "continue or delete other people's conversations"
    REVERT_ANY_CHANGE = "undo CRM changes that other people saved"
    RECONCILE_COSTS = "reconcile logged costs with Anthropic's billing"
    SET_BUDGET_POLICY = "change the budget policy (block, step down, batch)"
    EDIT_FIELD_CATALOGUE = "edit the field catalogue"
    CHANGE_SETTINGS = "change settings that alter how Scribe behaves"


_REP = frozenset({Permission.USE_CLAUDE, Permission.READ_CRM, Permission.SAVE_TO_CRM, Permission.RUN_JOBS})
_MANAGER = _REP | {Permission.READ_TEAM_USAGE, Permission.VIEW_BUDGETS, Permission.SET_BUDGETS,
                   Permission.READ_ALL_JOBS, Permission.READ_ALL_CONVERSATIONS, Permission.IMPORT_CONTACTS}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.REP: _REP,
    Role.MANAGER: frozenset(_MANAGER),
    Role.ADMIN: frozenset(Permission),  # everything
}


def minimum_role(permission: Permission) -> Role:
    """The lowest role holding this permission."""
    return min(role for role, granted in ROLE_PERMISSIONS.items() if permission in granted)


def can(identity: Identity, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS[identity.role]


def require(identity: Identity, permission: Permission) -> None:
    """Raise Forbidden unless the caller's role holds `permission`."""
    if not can(identity, permission):
        raise Forbidden(
            f"You are signed in as a {identity.role.label}; it takes the {minimum_role(permission).label} "
            f"role to {permission.value}.", permission=permission)


def can_owner_or(identity: Identity, owner: str | None, permission: Permission) -> bool:
    return identity.owns(owner) or can(identity, permission)


def require_owner_or(identity: Identity, owner: str | None, permission: Permission, *, what: str = "item") -> None:
    """Raise Forbidden unless the item is the caller's own or their role holds `permission`.

    The message does not say whose the item is: a rep trying ids must not learn who owns them.
    An item with no recorded owner (None) is nobody's own: only `permission` opens it.
    """
    if not can_owner_or(identity, owner, permission):
        raise Forbidden(
            f"This {what} is not yours. You are signed in as a {identity.role.label}; it takes the "
            f"{minimum_role(permission).label} role to {permission.value}.", permission=permission)


@dataclass(frozen=True)
class UserScope:
    """Whose rows a query may return: everyone's, or only `users`' (always the caller's own)."""

    everyone: bool
    users: frozenset[str] = frozenset()

    def allows(self, user: str | None) -> bool:
        if self.everyone:
            return True
        return user is not None and user.strip().lower() in {u.lower() for u in self.users}


def visible_users(identity: Identity, permission: Permission = Permission.READ_TEAM_USAGE) -> UserScope:
    """The rows `identity` may see in a per-user table, where `permission` opens everyone's rows
    (READ_TEAM_USAGE for usage, READ_ALL_JOBS, READ_ALL_CONVERSATIONS, READ_ALL_NOTES).
    A rep sees only their own; a manager or admin sees everyone's wherever their role holds it."""
    if can(identity, permission):
        return UserScope(everyone=True)
    return UserScope(everyone=False, users=frozenset({identity.user}))
