"""Placeholder: this page is built in issue 4."""

import streamlit as st

st.title("Extract")
st.info("Not built yet: this page arrives with issue 4. Summarize works today.")
