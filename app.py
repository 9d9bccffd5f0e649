"""Scribe: call notes to CRM records with Claude, every token accounted for.

Entry point: the navigation over the pages and the sidebar, nothing else.
"""

import streamlit as st

from lib import ui

st.set_page_config(page_title="Scribe", page_icon="📝", layout="wide")

PAGES = {
    "Work": [
        st.Page("pages/summarize.py", title="Summarize", icon="📝", default=True),
        st.Page("pages/extract.py", title="Extract to CRM", icon="🧾"),
        st.Page("pages/follow_up.py", title="Follow-up", icon="✉️"),
        st.Page("pages/assistant.py", title="Assistant", icon="💬"),
        st.Page("pages/bulk.py", title="Bulk enrich", icon="📦"),
    ],
    "CRM": [
        st.Page("pages/contacts.py", title="Contacts", icon="👥"),
    ],
    "Operations": [
        st.Page("pages/usage.py", title="Usage & spend", icon="📊"),
    ],
}

page = st.navigation(PAGES)
ui.sidebar()
page.run()
