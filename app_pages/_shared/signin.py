"""The sign-in gate (main.py calls `gate()` on every run): [auth] checked, the sign-in screen, the identity.

Without an [auth] section Scribe runs in local mode (SCRIBE_USER, admin). With one, nobody gets past
the gate without signing in through st.login; the identity comes from st.user (the ID token) and is
recomputed on every run: st.session_state["identity"] is overwritten each time, never trusted across runs.
"""

from __future__ import annotations

import streamlit as st

from app_pages._shared import resources
from lib.auth import (
    AuthConfig,
    AuthError,
    Identity,
    check_auth_section,
    require_readable_secrets,
    resolve_identity,
)


def auth_config() -> AuthConfig | None:
    """The checked [auth] section, or None (local mode). Raises AuthConfigError when it is incomplete,
    or when a secrets file exists but is not TOML (fail closed, never local mode by accident)."""
    if st.secrets.load_if_toml_exists():
        secrets = st.secrets.to_dict()
    else:
        require_readable_secrets(st.get_option("secrets.files"))
        secrets = {}
    return check_auth_section(secrets)


def _user_info() -> dict:
    try:
        return st.user.to_dict()
    except (AttributeError, KeyError, st.errors.StreamlitAPIException):
        return {}


def sign_in_screen(config: AuthConfig) -> None:
    st.header("Sign in to Scribe")
    st.caption("Scribe records who saves what, and shows each person their own work.")
    for label, provider in config.login_args:
        if st.button(label, type="primary", key=f"sign_in_{provider or 'default'}"):
            st.login(provider) if provider else st.login()


def gate() -> Identity:
    """Who is using the app on this run; shows an error or the sign-in screen and stops otherwise."""
    try:
        config = auth_config()
        rules = resources.rules()
        if config is not None and not _user_info().get("is_logged_in"):
            sign_in_screen(config)
            st.stop()
        identity = resolve_identity(_user_info(), rules, auth_configured=config is not None,
                                    local_user=resources.settings().scribe_user)
    except AuthError as err:
        st.error(err.message + (f"  \n{err.hint}" if err.hint else ""))
        if _user_info().get("is_logged_in") and st.button("Log out"):
            st.logout()
        st.stop()
    st.session_state["identity"] = identity
    return identity


def current() -> Identity:
    """This run's identity (set by gate(); resolved here if a script runs without main.py)."""
    identity = st.session_state.get("identity")
    if isinstance(identity, Identity):
        return identity
    config = auth_config()
    return resolve_identity(_user_info(), resources.rules(), auth_configured=config is not None,
                            local_user=resources.settings().scribe_user)
