"""Placeholder: this page is built in issue 5."""

import streamlit as st

st.title("Assistant")
st.info("Not built yet: this page arrives with issue 5. Summarize works today.")
