"""The review not yet saved, kept per user (lib/work/work_store.py) and resumed on the next visit."""

from __future__ import annotations

import streamlit as st

from app_pages._shared import resources, ui
from lib.core.errors import ScribeError
from lib.work import review as rv
from lib.work.work_store import EXTRACT_REVIEW

STATE_KEY = "extract_review"


def keep(current: rv.Review) -> None:
    if st.session_state.get("extract_saved") is None:  # a saved review is done: nothing to resume
        resources.work_in_progress().save(ui.current_user(), EXTRACT_REVIEW, rv.to_payload(current))


def forget() -> None:
    resources.work_in_progress().clear(ui.current_user(), EXTRACT_REVIEW)


def resume() -> None:
    """Once per session: the review this user left unsaved, rebuilt against the CRM as it is now."""
    if st.session_state.get("_extract_review_resumed") or STATE_KEY in st.session_state:
        return
    st.session_state["_extract_review_resumed"] = True
    services = resources.services()
    payload = resources.work_in_progress().load(ui.current_user(), EXTRACT_REVIEW)
    if payload is None:
        return
    try:
        st.session_state[STATE_KEY] = rv.from_payload(payload, services.crm, services.catalogue)
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state["extract_resumed"] = True
