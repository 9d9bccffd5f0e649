"""Placeholder: this page is built in issue 6."""

import streamlit as st

st.title("Usage")
st.info("Not built yet: this page arrives with issue 6. Summarize works today.")
