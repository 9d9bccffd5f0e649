"""The Extract page's review: one bordered box per person, one line per field (issue 12.3).

Each box is its own fragment, so an edit reruns only that person's box. The header says who the
person is, the note they came from and the contact they go to (with why and how sure); each field's
line is label · the CRM's current value → the proposed value (editable, by the field's type) ·
Accept. An invalid value stays where it was typed, its reason right under it, and stops the save of
that person. The logic is lib/work/review.py's; every change is kept (kept.py) until the review is saved.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import streamlit as st

from app_pages._shared import kept_review, resources
from lib.core.text import safe_inline
from lib.crm.records import STAGES
from lib.work import review as rv

STATE_KEY = "extract_review"
TEXT_FIELDS = ("name", "email", "company", "title", "phone", "next_step")


def widget_key(current: rv.Review, i: int, part: str) -> str:
    """Namespaced by review and row, so no key meets a catalogue field's or another review's."""
    return f"rv_{current.key}_{i}_{part}"


def _review(review_key: str) -> rv.Review | None:
    current = st.session_state.get(STATE_KEY)
    return current if current is not None and current.key == review_key else None


def _changed(current: rv.Review) -> None:
    """After every edit: the review is kept for this user until it is saved or discarded."""
    kept_review.keep(current)


# -- callbacks: the widget's value into the review --------------------------------------------------


def _on_value(review_key: str, i: int, name: str) -> None:
    current = _review(review_key)
    if current is not None:
        rv.set_value(current, i, name, _from_widget(name, st.session_state[widget_key(current, i, name)], current))
        _changed(current)


def _on_accept(review_key: str, i: int, name: str) -> None:
    current = _review(review_key)
    if current is not None:
        rv.set_field_accept(current, i, name, st.session_state[widget_key(current, i, f"{name}_accept")])
        _changed(current)


def _on_accept_all(review_key: str, i: int) -> None:
    current = _review(review_key)
    if current is not None:
        rv.accept_person(current, i, st.session_state[widget_key(current, i, "accept_all")])
        _changed(current)


def _on_contact(review_key: str, i: int) -> None:
    current = _review(review_key)
    if current is not None:
        rv.choose_contact(current, i, st.session_state[widget_key(current, i, "contact")], resources.services().crm)
        _changed(current)


def _on_unlock(review_key: str, i: int) -> None:
    current = _review(review_key)
    if current is not None:
        current.frame.at[i, "unlock"] = st.session_state[widget_key(current, i, "unlock")]
        rv.refresh_checks(current)
        _changed(current)


# -- widgets by type ------------------------------------------------------------------------------


def _to_widget(name: str, value: Any, current: rv.Review) -> Any:
    """A review value as its widget holds it (a text box holds '' for nothing)."""
    filled = rv.shown_value(value) != "—"
    kind = _kind(name, current)
    if kind == "text":
        return str(value) if filled else ""
    if kind == "date":
        return value if isinstance(value, date) else None
    if kind == "number":
        return float(value) if filled and isinstance(value, int | float) else None
    if kind in ("stage", "choice"):  # a selectbox holds only its options (the line's check names a bad value)
        options = STAGES if kind == "stage" else current.catalogue.get(name).options
        return value if value in options else None
    return value if filled else None


def _from_widget(name: str, value: Any, current: rv.Review) -> Any:
    if _kind(name, current) == "text":
        return value if value and value.strip() else None
    return value


def _kind(name: str, current: rv.Review) -> str:
    definition = current.catalogue.get(name)
    if definition is not None:
        return {"enumeration": "choice", "boolean": "yes/no"}.get(definition.type, definition.type)
    return {"deal_stage": "stage", "next_step_date": "date", "amount": "number"}.get(name, "text")


def _value_widget(current: rv.Review, i: int, name: str) -> None:
    key = widget_key(current, i, name)
    if key not in st.session_state:
        st.session_state[key] = _to_widget(name, current.frame.at[i, name], current)
    label = f"{current.label(name)}, proposed"
    common: dict[str, Any] = dict(key=key, label_visibility="collapsed", on_change=_on_value,
                                  args=(current.key, i, name))
    kind = _kind(name, current)
    if kind == "stage":
        st.selectbox(label, [None, *STAGES], format_func=_blank_or(str), **common)
    elif kind == "choice":
        st.selectbox(label, [None, *current.catalogue.get(name).options], format_func=_blank_or(str), **common)
    elif kind == "yes/no":
        st.selectbox(label, [None, True, False], format_func=_blank_or(lambda v: "yes" if v else "no"), **common)
    elif kind == "date":
        st.date_input(label, value=None, format="YYYY-MM-DD", **common)
    elif kind == "number":
        st.number_input(label, value=None, step=1.0, format="%.2f", **common)
    else:
        st.text_input(label, **common)


def _blank_or(show: Callable[[Any], str]) -> Callable[[Any], str]:
    return lambda v: "—" if v is None else show(v)


# -- the box ----------------------------------------------------------------------------------------


def _field_line(current: rv.Review, i: int, name: str, locked: set[str], quote: str | None) -> None:
    label_col, crm_col, value_col, accept_col = st.columns([1.6, 2.1, 3.2, 1.0], vertical_alignment="center",
                                                          gap="small")
    notes = ([f"From the note: “{safe_inline(quote)}”"] if quote else []) + (
        ["🔒 Edited by hand in the CRM: kept unless you tick Unlock."] if name in locked else [])
    label_col.markdown(f"**{safe_inline(current.label(name))}**" + (" 🔒" if name in locked else "")
                       + (" :material/format_quote:" if quote else ""), help="  \n".join(notes) or None)
    crm_col.markdown(f"{safe_inline(rv.shown_value(current.frame.at[i, f'{name}_crm']))} →")
    with value_col:
        _value_widget(current, i, name)
        for problem in rv.field_problems(name, current.frame.at[i, name], current.catalogue):
            st.error(safe_inline(problem), icon=":material/error:")
    accept_key = widget_key(current, i, f"{name}_accept")
    changing = rv.changes(current, i, name)
    st.session_state[accept_key] = changing and rv.field_accepted(current, i, name)  # follows the review
    accept_col.checkbox("Accept", key=accept_key, disabled=not changing, on_change=_on_accept,
                        args=(current.key, i, name))


def _header(current: rv.Review, i: int) -> None:
    row = current.frame.loc[i]
    meta = current.meta[current.frame.index.get_loc(i)]
    number, note = rv.note_index(current, i)
    who, contact, accept = st.columns([2.4, 3.2, 1.1], vertical_alignment="top")
    with who:
        st.markdown(f"**{safe_inline(row['name'] or 'Unnamed person')}**")
        st.caption(f"From note {number}: {safe_inline(rv.note_preview(note.note))}")
        with st.popover("The whole note", icon=":material/description:"):
            st.text(note.note)  # st.text shows it literally: never read as Markdown or HTML
    with contact:
        key = widget_key(current, i, "contact")
        options = [rv.CHOOSE, rv.CREATE_NEW, *meta.options]
        if st.session_state.get(key) not in options:
            st.session_state[key] = row["contact"]
        st.selectbox("Contact", options, key=key, on_change=_on_contact, args=(current.key, i),
                     help="The CRM contact this person is; or create a new one.")
        st.caption(f"Why: {safe_inline(row['match'])} · confidence {float(row['confidence']):.2f}")
    all_key = widget_key(current, i, "accept_all")
    st.session_state[all_key] = bool(row["accept"]) and not meta.held
    accept.checkbox("Accept all", key=all_key, on_change=_on_accept_all, args=(current.key, i),
                    help="Save every field of this person.")
    if row["locked"]:
        unlock_key = widget_key(current, i, "unlock")
        st.session_state[unlock_key] = bool(row["unlock"])
        accept.checkbox("Unlock", key=unlock_key, on_change=_on_unlock, args=(current.key, i),
                        help=f"Let the proposed values replace fields edited by hand ({row['locked']}).")
    if flagged := rv.instruction_flags(meta.person):
        st.warning("Some of this reads like an instruction to the model, not a fact about the customer "
                   f"({', '.join(flagged)}): it was not pre-accepted. Check it against the note.")


@st.fragment
def person_box(review_key: str, i: int) -> None:
    """One person: the header, then one line per field that holds something (the rest folded away)."""
    current = _review(review_key)
    if current is None:
        return
    row = current.frame.loc[i]
    meta = current.meta[current.frame.index.get_loc(i)]
    locked = {f.strip() for f in str(row["locked"] or "").split(",") if f.strip()}
    with st.container(border=True, key=widget_key(current, i, "box"), gap="xsmall"):
        _header(current, i)
        filled = [f for f in current.fields if rv.has_content(current, i, f)]
        for name in filled:
            _field_line(current, i, name, locked, meta.person.quote_for(name))
        empty = [f for f in current.fields if f not in filled]
        if empty:
            with st.expander(f"{len(empty)} empty field(s): {', '.join(current.label(f) for f in empty)}"):
                for name in empty:
                    _field_line(current, i, name, locked, None)
        blocking = rv.problems(row, rv.accepted_fields(current, i), current.catalogue) if row["accept"] else []
        if blocking:
            st.error("This person cannot be saved yet: " + "; ".join(safe_inline(p) for p in blocking),
                     icon=":material/block:")
