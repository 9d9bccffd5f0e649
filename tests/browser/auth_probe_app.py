"""A throwaway Streamlit script that proves st.login / st.user / st.logout work end to end.

Run by tests/browser/test_auth_probe.py with a temporary secrets.toml (`--secrets.files`), against
oidc-provider-mock. It imports nothing from lib/: it is about Streamlit and the provider, not Scribe.
"""

import streamlit as st

if not st.user.is_logged_in:
    st.header("Sign in to Scribe")
    if st.button("Sign in"):
        st.login()
else:
    st.header("Signed in")
    st.markdown(f"Signed in as: `{st.user.email}`")
    st.markdown(f"Name: `{st.user.get('name', '')}`")
    st.markdown(f"Claims: `{sorted(k for k in st.user.to_dict() if k != 'tokens')}`")
    if st.button("Log out"):
        st.logout()
