"""Placeholder: this page is built in issue 7."""

import streamlit as st

st.title("Bulk")
st.info("Not built yet: this page arrives with issue 7. Summarize works today.")
