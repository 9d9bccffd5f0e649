"""Scribe: call notes to CRM records with Claude, every token accounted for.

Entry point: the navigation over the pages and the sidebar, nothing else.
"""

import streamlit as st

from app_pages._shared import ui

st.set_page_config(page_title="Scribe", page_icon="📝", layout="wide")

PAGES = {
    "Work": [
        st.Page("app_pages/summarize.py", title="Summarize", icon=":material/summarize:", default=True),
        st.Page("app_pages/extract.py", title="Extract to CRM", icon=":material/fact_check:"),
        st.Page("app_pages/follow_up.py", title="Follow-up", icon=":material/mail:"),
        st.Page("app_pages/assistant.py", title="Assistant", icon=":material/forum:"),
        st.Page("app_pages/bulk.py", title="Bulk enrich", icon=":material/dynamic_feed:"),
    ],
    "CRM": [
        st.Page("app_pages/contacts.py", title="Contacts", icon=":material/contacts:"),
    ],
    "Operations": [
        st.Page("app_pages/usage.py", title="Usage & spend", icon=":material/monitoring:"),
    ],
}

page = st.navigation(PAGES)
spend = ui.guarded(ui.sidebar)
try:
    ui.guarded(page.run)  # the one error boundary: no raw traceback reaches a person
finally:
    if spend is not None:  # after the page (even one that stopped or reran), so a call it just made counts
        ui.guarded(lambda: ui.show_spend(spend))
