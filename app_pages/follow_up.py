"""Follow-up: pick a contact and/or paste notes, stream a draft, edit it, copy, download or log it as sent.

The notes and the draft (as edited) are kept per user (kept.py): after a reload the draft comes back
as text to finish, copy or download."""

import streamlit as st

from app_pages._shared import kept, resources, ui
from lib.core.errors import ScribeError
from lib.core.text import safe_markdown_chunks
from lib.work import follow_up
from lib.work.follow_up import Draft
from lib.work.work_store import FOLLOW_UP

KEPT_KEYS = ("follow_up_notes", "follow_up_text")

NO_CONTACT = -1

crm = resources.services().crm

st.title("Follow-up email")
kept.restore(FOLLOW_UP, KEPT_KEYS)


def pick_contact() -> int | None:
    """Search, then choose: the contact the email goes to (or none, for notes only)."""
    query = st.text_input("Find a contact", key="follow_up_query", placeholder="Name, company or email…")
    labels = {c.id: f"{c.name} · {c.company or 'no company'} · {c.email or 'no email'}"
              for c in crm.search_contacts(query or "", limit=25)}
    options = [NO_CONTACT, *labels]
    chosen = st.selectbox("Contact", options, key="follow_up_contact",
                          format_func=lambda i: "— none (notes only) —" if i == NO_CONTACT else labels[i],
                          help="The contact, their deal and latest interactions are given to Claude.")
    return None if chosen in (None, NO_CONTACT) else int(chosen)


def context_caption(draft: Draft) -> str:
    p = draft.prompt
    parts = [f"Claude was given {p.tokens:,} tokens (budget {p.budget:,}, measured with count_tokens)"]
    if p.contact:
        parts.append(f"the contact, {'the deal' if p.deal else 'no deal'}, "
                     f"{p.interactions_used} latest interaction(s)")
        if p.interactions_dropped:
            parts.append(f"{p.interactions_dropped} older interaction(s) left out to fit")
    return " · ".join(parts)


def run_draft(contact_id: int | None, notes: str, tone: str, length: str, model: str) -> None:
    """Measure the prompt, stream the draft into the page; errors are shown once, here."""
    st.session_state.pop("follow_up_draft", None)
    gateway = resources.services().gateway
    try:
        prompt = follow_up.prepare_draft(gateway, crm, contact_id=contact_id, notes=notes, tone=tone,
                                         length=length, model=model)
        draft = follow_up.start_draft(gateway, prompt, length=length, model=model, user=ui.current_user(),
                                      contact_id=contact_id)
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.follow_up_draft = draft
    live = st.empty()
    with live.container():
        st.caption(context_caption(draft))
        ui.sandbox_label()
        try:
            st.write_stream(safe_markdown_chunks(draft.stream))
        except ScribeError:
            pass  # shown with the editor, under the text that did arrive
        finally:
            draft.stream.close()  # a Stop click interrupts the loop above; the partial draft is logged all the same
    live.empty()  # the editor below takes over


def show_draft(draft: Draft) -> None:
    """The finished (or cut short) draft: editable, then copy, download, log as sent."""
    stream = draft.stream
    if not stream.finished:
        stream.stop()  # Stop was clicked: the previous run may still be reading the stream
    if st.session_state.get("follow_up_filled") != draft.call_id:  # a new draft fills the editor once
        st.session_state.follow_up_text = stream.text
        st.session_state.follow_up_filled = draft.call_id
        kept.keep(FOLLOW_UP, KEPT_KEYS)
    if stream.error is not None:
        ui.show_error(stream.error)
    elif stream.result is not None and stream.result.incomplete:
        st.warning("Incomplete: the draft was cut short before it was finished. What arrived is kept below.")
    st.caption(context_caption(draft))
    ui.sandbox_label()
    text = st.text_area("Draft (editable)", key="follow_up_text", height=340, on_change=kept.keep,
                        args=(FOLLOW_UP, KEPT_KEYS))
    if stream.result is not None:
        st.caption(ui.usage_line(stream.result))
        ui.show_warnings(stream.result)
    with st.expander("Copy", icon=":material/content_copy:"):
        st.code(text, language=None, wrap_lines=True)
    to = draft.prompt.to_address
    dl, log, _ = st.columns([1, 1, 3])
    dl.download_button("Download .eml", follow_up.build_eml(text, to), file_name="follow-up.eml",
                       mime="message/rfc822", on_click="ignore", help="Opens in your mail app, ready to send.")
    can_log = draft.contact_id is not None and draft.logged_interaction_id is None
    if log.button("Log as sent", disabled=not can_log,
                  help="Records the email (as edited) as an interaction of the contact."):
        log_sent(draft, text)
    if draft.logged_interaction_id is not None:
        st.success(f"Logged as interaction #{draft.logged_interaction_id} of contact #{draft.contact_id}.")


def show_kept_draft() -> None:
    """A draft kept from an earlier visit (its stream is gone): the text, to finish, copy or download."""
    st.info("Your draft from before, as you left it. Draft again to start a new one.")
    text = st.text_area("Draft (editable)", key="follow_up_text", height=340, on_change=kept.keep,
                        args=(FOLLOW_UP, KEPT_KEYS))
    with st.expander("Copy", icon=":material/content_copy:"):
        st.code(text, language=None, wrap_lines=True)
    dl, discard, _ = st.columns([1, 1, 3])
    dl.download_button("Download .eml", follow_up.build_eml(text, None), file_name="follow-up.eml",
                       mime="message/rfc822", on_click="ignore")
    discard.button("Discard draft", on_click=discard_kept_draft)


def discard_kept_draft() -> None:
    st.session_state.follow_up_text = ""
    kept.keep(FOLLOW_UP, KEPT_KEYS)


def log_sent(draft: Draft, text: str) -> None:
    try:
        draft.logged_interaction_id = follow_up.log_as_sent(
            crm, resources.services().usage_log, contact_id=draft.contact_id, text=text, author=ui.current_user(),
            call_id=draft.call_id)
    except ScribeError as err:
        ui.show_error(err)


contact_id = pick_contact()
notes = st.text_area("Notes (optional)", key="follow_up_notes", height=160, on_change=kept.keep, args=(FOLLOW_UP, KEPT_KEYS),
                     placeholder="Paste the notes of the call this email follows up on…")
tone_col, length_col, model_col = st.columns(3)
tone = tone_col.segmented_control("Tone", follow_up.TONES, default="friendly", key="follow_up_tone")
length = length_col.segmented_control("Length", follow_up.LENGTHS, default="medium", key="follow_up_length")
with model_col:
    model = ui.model_picker("follow_up")

go_col, stop_col, _ = st.columns([1, 1, 4])
go = go_col.button("Draft", type="primary")
stop_col.button("Stop", help="Stop the draft being written; what arrived so far is kept.")

if go:
    run_draft(contact_id, notes, tone or "friendly", length or "medium", model)
if (current := st.session_state.get("follow_up_draft")) is not None:
    show_draft(current)
elif st.session_state.get("follow_up_text"):
    show_kept_draft()
