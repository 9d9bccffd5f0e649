"""Work kept across navigation and reload: the pages' unfinished work, per user, in the database.

A page names the session-state keys of one slot (lib/work/work_store.py). `restore` fills the keys
the session does not hold (a new session after a reload, or a page visited again: Streamlit forgets a
widget's value when its page is left); `keep` writes them back, from the widgets' on_change callbacks.
"""

from __future__ import annotations

from collections.abc import Sequence

import streamlit as st

from app_pages._shared import resources, ui


def restore(slot: str, keys: Sequence[str]) -> None:
    """Put back what was kept in `slot`, for the keys this session does not hold."""
    missing = [k for k in keys if k not in st.session_state]
    if not missing:
        return
    kept = resources.work_in_progress().load(ui.current_user(), slot) or {}
    for key in missing:
        if key in kept:
            st.session_state[key] = kept[key]


def keep(slot: str, keys: Sequence[str]) -> None:
    """Write the keys' values to `slot` (nothing in any of them: the slot is cleared)."""
    values = {k: st.session_state.get(k) for k in keys}
    store = resources.work_in_progress()
    if any(values.values()):
        store.save(ui.current_user(), slot, values)
    else:
        store.clear(ui.current_user(), slot)
