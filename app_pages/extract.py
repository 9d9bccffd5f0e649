"""Extract to CRM: notes in, a review of what Claude proposes (a box per person), save what the rep accepts.

The pasted notes and a review not yet saved are kept per user (app_pages/_shared/kept.py,
kept_review.py): they come back after navigating away or reloading."""

import streamlit as st

from app_pages._shared import kept, kept_review, resources, review_box, ui
from lib.core.errors import ScribeError
from lib.core.text import decode_upload, safe_inline
from lib.work import extract_many, extraction, review
from lib.work.work_store import EXTRACT_NOTES

NOTES_KEYS = ("extract_text",)

st.title("Extract CRM fields from notes")
crm = resources.services().crm


def notes_from_input() -> list[str]:
    """The pasted notes (split on lines of ---) and the uploaded files (.txt whole, .csv by its note column)."""
    pasted = extraction.split_notes(st.session_state.get("extract_text", ""))
    uploaded = []
    for file in st.session_state.get("extract_files") or []:
        text = decode_upload(file.getvalue(), file.name)
        uploaded += extraction.notes_from_file(file.name, text)
    return pasted + uploaded


def run_extraction(model: str) -> None:
    """One call per note, several at once; each note shows its state, and one that fails does not stop the others."""
    try:
        notes = notes_from_input()
    except ScribeError as err:
        ui.show_error(err)
        return
    if not notes:
        st.error("There is no note to read.  \nPaste a note (separate several with a line of ---) or upload a file.")
        return
    board = st.empty()
    for states in extract_many.iter_states(resources.services().gateway, notes, user=ui.current_user(), model=model,
                                             catalogue=resources.services().catalogue):
        with board.container():
            show_note_states(states)
    board.empty()  # what stays is the review and, above it, the notes that failed
    st.session_state.extract_failed = [s for s in states if s.error is not None]
    runs = [s.run for s in states if s.run is not None]
    if runs:
        try:
            start_review(runs)  # with HubSpot, the mirror syncs here: its errors say what to fix
        except ScribeError as err:
            ui.show_error(err)


def show_failed_notes() -> None:
    for s in st.session_state.get("extract_failed", []):
        st.markdown(f"{STATE_ICONS[s.status]} Note {s.index} · {safe_inline(s.preview)}: **failed**")
        ui.show_error(s.error)


STATE_ICONS = {"waiting": ":material/schedule:", "reading": ":material/progress_activity:",
               "done": ":material/check_circle:", "failed": ":material/error:"}


def show_note_states(states: list[extract_many.NoteState]) -> None:
    """One line per note, as it goes: waiting, reading, done (how many people), failed (why)."""
    finished = sum(s.finished for s in states)
    st.progress(finished / len(states), text=f"Read {finished} of {len(states)} note(s)")
    for s in states:
        line = f"{STATE_ICONS[s.status]} Note {s.index} · {safe_inline(s.preview)}: **{s.status}**"
        if s.run is not None:
            line += f" · {len(s.run.people)} person(s)"
        st.markdown(line)
        if s.error is not None:
            ui.show_error(s.error)


def start_review(runs: list[extraction.NoteExtraction]) -> None:
    st.session_state.extract_review = review.build_review(runs, crm, resources.services().catalogue)
    review.refresh_checks(st.session_state.extract_review)
    st.session_state.pop("extract_saved", None)
    st.session_state.pop("extract_resumed", None)
    kept_review.keep(st.session_state.extract_review)  # kept until saved or discarded


def discard_review() -> None:
    st.session_state.pop("extract_review", None)
    st.session_state.pop("extract_saved", None)
    kept_review.forget()


def show_review(current: review.Review) -> None:
    head, discard = st.columns([5, 1], vertical_alignment="bottom")
    head.subheader(f"Review: {len(current.frame)} person(s) from {len(current.notes)} note(s)")
    discard.button("Discard review", on_click=discard_review, icon=":material/delete:",
                   help="Forget this review: nothing of it is saved.")
    if st.session_state.get("extract_resumed"):
        st.info("This is the review you left unsaved; the CRM's current values were read again just now.")
    ui.sandbox_label()
    for i in current.frame.index:
        review_box.person_box(current.key, i)
    for run in current.notes.values():
        st.caption(ui.usage_line(run.result))


def save_review(current: review.Review) -> None:
    blocking = review.blocking_problems(current)
    if blocking:
        st.error("Nothing was saved. Fix these first:  \n" + "  \n".join(f"- {p}" for p in blocking))
        return
    request = review.to_save_request(current, ui.current_user())
    if not request.rows:
        st.warning("No row is accepted: nothing to save.")
        return
    try:
        result = resources.services().save_review(request)
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.extract_saved = result
    kept_review.forget()  # saved: nothing left to resume


def show_conflicts(result) -> None:
    """Values changed in the CRM after the review was built: not overwritten; the rep sees both and chooses."""
    st.warning(f"{len(result.conflicts)} field(s) changed in the CRM after you reviewed them, so they were left "
               "as they are now. Choose for each:")
    label = st.session_state.extract_review.label if "extract_review" in st.session_state else str
    st.dataframe([{"contact": c.contact_id, "field": label(c.field), "you saw": c.seen,
                   "now in the CRM": c.current, "proposed": c.proposed} for c in result.conflicts], hide_index=True)
    if st.button("Write the proposed values over the current ones", key="extract_conflicts_overwrite"):
        request = review.conflict_request(result.conflicts, ui.current_user(), result.change_set_id)
        try:
            again = resources.services().save_review(request)
        except ScribeError as err:
            ui.show_error(err)
            return
        st.session_state.extract_saved = again
        st.rerun()


def show_saved() -> None:
    result = st.session_state.get("extract_saved")
    if result is None:
        return
    if result.already_saved:
        st.info(f"This review was already saved (change set `{result.change_set_id[:8]}`); nothing was duplicated.")
    else:
        st.success(f"Saved: {len(result.created_contacts)} new contact(s), {len(result.updated_contacts)} updated, "
                   f"{result.changes} field change(s) recorded (change set `{result.change_set_id[:8]}`).")
    for skipped in result.skipped:
        st.caption(f"Kept: {safe_inline(skipped)}")
    for notice in result.notices:
        st.info(safe_inline(notice))
    if result.conflicts:
        show_conflicts(result)
    touched = result.updated_contacts + result.created_contacts
    if touched:
        st.caption("Timelines:")
        links = st.columns(min(len(touched), 4))
        for n, cid in enumerate(touched):
            contact = crm.get_contact(cid)
            with links[n % len(links)]:
                st.page_link("app_pages/contacts.py", label=safe_inline(contact.name) if contact else f"Contact #{cid}",
                             query_params={"contact": str(cid)}, icon=":material/person:")
    if st.button("Undo this save", help="Restores every old value, as a new recorded change."):
        undo = resources.services().undo_save(result.change_set_id, ui.identity())
        st.session_state.pop("extract_saved")
        st.success(f"Undone: {undo.changes} change(s) reverted." + (
            "  \n" + "  \n".join(undo.skipped) if undo.skipped else ""))


incoming = st.session_state.pop("extract_incoming", None)
if incoming:
    start_review(incoming)
else:
    kept_review.resume()
kept.restore(EXTRACT_NOTES, NOTES_KEYS)

with st.container(border=True):
    st.text_area("Notes", key="extract_text", height=200, on_change=kept.keep, args=(EXTRACT_NOTES, NOTES_KEYS),
                 placeholder="Paste one note, or several separated by a line of ---")
    st.file_uploader("…or upload .txt / .csv files", type=["txt", "csv"], accept_multiple_files=True,
                     key="extract_files", help="A CSV needs a 'note' column.")
    model = ui.model_picker("extract")
    if st.button("Extract", type="primary"):
        run_extraction(model)

show_failed_notes()
current = st.session_state.get("extract_review")
if current is not None:
    show_review(current)
    if st.button("Save accepted to CRM", type="primary", help="Saves the accepted fields of the accepted people."):
        save_review(current)
    show_saved()
