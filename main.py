"""Scribe: call notes to CRM records with Claude, every token accounted for.

The script each session runs (app.py serves it): the sign-in gate, the navigation over the pages and the
sidebar, nothing else. Every page is open to every role (a rep's view is limited by the services, in lib/);
the services check each call.
"""

import streamlit as st

from app_pages._shared import signin, ui

st.set_page_config(page_title="Scribe", page_icon="📝", layout="wide")
identity = signin.gate()  # local mode, or signed in; otherwise the sign-in screen (or the error) and stop

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
