"""Identity and roles: who is calling, what they may see and do. Imports nothing from lib/ but lib.core.errors.

    config       check_auth_section(secrets) -> AuthConfig | None   ([auth] of secrets.toml);
                 require_readable_secrets(paths)                    (a broken file fails closed)
    roles        Role (rep < manager < admin), RoleRules.parse(...)   (SCRIBE_*_EMAILS, SCRIBE_ROLE_GROUPS)
    identity     Identity, identity_from_user(st.user dict), local_identity, cli_identity, resolve_identity
    permissions  Permission, require, require_owner_or, visible_users -> UserScope
    errors       AuthError, AuthConfigError, SignInRefused, NotSignedIn, Forbidden
"""

from lib.auth.config import AuthConfig, check_auth_section, require_readable_secrets
from lib.auth.errors import AuthConfigError, AuthError, Forbidden, NotSignedIn, SignInRefused
from lib.auth.identity import (
    LOCAL_MODE_LABEL,
    Identity,
    cli_identity,
    identity_from_user,
    local_identity,
    resolve_identity,
)
from lib.auth.permissions import (
    ROLE_PERMISSIONS,
    Permission,
    UserScope,
    can,
    can_owner_or,
    minimum_role,
    require,
    require_owner_or,
    visible_users,
)
from lib.auth.roles import Role, RoleRules

__all__ = [
    "LOCAL_MODE_LABEL", "ROLE_PERMISSIONS", "AuthConfig", "AuthConfigError", "AuthError", "Forbidden",
    "Identity", "NotSignedIn", "Permission", "Role", "RoleRules", "SignInRefused", "UserScope", "can",
    "can_owner_or", "check_auth_section", "cli_identity", "identity_from_user", "local_identity",
    "minimum_role", "require", "require_owner_or", "require_readable_secrets", "resolve_identity",
    "visible_users",
]
