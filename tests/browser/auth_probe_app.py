"""A throwaway Streamlit script: the sign-in gate Scribe's app.py will have, in miniature.

Run by tests/app/test_auth_probe_apptest.py, with a temporary secrets file
(STREAMLIT_SECRETS_FILES) and PYTHONPATH at the repo root. It uses lib.auth for everything that is
not Streamlit: checking [auth], the provider buttons, the identity and its role.
"""

import os

import streamlit as st

from lib.auth import AuthError, RoleRules, check_auth_section, identity_from_user, require_readable_secrets

try:
    if st.secrets.load_if_toml_exists():
        secrets = st.secrets.to_dict()
    else:
        require_readable_secrets(st.get_option("secrets.files"))
        secrets = {}
    config = check_auth_section(secrets)
    rules = RoleRules.parse(admin_emails=os.environ.get("SCRIBE_ADMIN_EMAILS"),
                            manager_emails=os.environ.get("SCRIBE_MANAGER_EMAILS"),
                            role_groups=os.environ.get("SCRIBE_ROLE_GROUPS"))
except AuthError as exc:
    st.error(str(exc))
    st.stop()

if config is None:
    st.header("Local mode: no sign-in")
    st.stop()

user = st.user.to_dict()
if not user.get("is_logged_in"):
    st.header("Sign in to Scribe")
    for label, provider in config.login_args:
        if st.button(label):
            st.login(provider)
    st.stop()

me = identity_from_user(user, rules)
st.header("Signed in")
st.markdown(f"Signed in as: `{me.email}`")
st.markdown(f"Name: `{me.name}`")
st.markdown(f"Role: `{me.role.label}`")
st.markdown(f"Claims: `{sorted(k for k in user if k != 'tokens')}`")
if st.button("Log out"):
    st.logout()
