"""Summarize: paste a note, stream the summary, see what it cost. The pasted note is kept per user (kept.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import streamlit as st

from app_pages._shared import kept, resources, ui
from lib.core.errors import ScribeError
from lib.core.text import safe_markdown, safe_markdown_chunks
from lib.work import summarize
from lib.work.work_store import SUMMARIZE_NOTES

NOTE_KEYS = ("summarize_note",)

if TYPE_CHECKING:
    from lib.claude.gateway import TextStream


def show_outcome(stream: TextStream) -> None:
    """Under the summary: why it is incomplete, if it is, and what it cost."""
    if stream.error is not None:
        ui.show_error(stream.error)
    elif stream.result is not None and stream.result.incomplete:
        st.warning("Incomplete: stopped before the summary was finished.")
    if stream.result is not None:
        st.caption(ui.usage_line(stream.result))
        ui.show_warnings(stream.result)


st.title("Summarize a call note")
kept.restore(SUMMARIZE_NOTES, NOTE_KEYS)

samples = summarize.sample_notes()
pick, load = st.columns([4, 1], vertical_alignment="bottom")
sample = pick.selectbox("Sample notes", ["—", *samples], help="Notes shipped in data/notes.")
if load.button("Load sample", disabled=sample == "—"):
    st.session_state.summarize_note = samples[sample]
    kept.keep(SUMMARIZE_NOTES, NOTE_KEYS)

note = st.text_area("Call note", key="summarize_note", height=260, on_change=kept.keep, args=(SUMMARIZE_NOTES, NOTE_KEYS),
                    placeholder="Paste the notes of a call or meeting…")
length_col, model_col = st.columns(2)
length = length_col.segmented_control("Length", list(summarize.MAX_TOKENS), default="medium",
                                      key="summarize_length")
go_col, stop_col, _ = st.columns([1, 1, 4])
go = go_col.button("Summarize", type="primary")
stop_col.button("Stop", help="Stop the summary being written; what arrived so far is kept.")
with model_col:  # filled last: listing the models waits for the services, the rest of the page does not
    model = ui.model_picker("summarize")


def run_summary() -> None:
    """Start the stream and write it into the page; errors are shown once, here."""
    st.session_state.pop("summary", None)
    try:
        stream = summarize.start_summary(resources.services().gateway, note, length=length or "medium", model=model,
                                         user=ui.current_user())
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.summary = stream
    ui.sandbox_label()
    try:
        st.write_stream(safe_markdown_chunks(stream))
    except ScribeError:
        pass  # shown by show_outcome, under the text that did arrive
    finally:
        stream.close()  # a Stop click interrupts the loop above; the partial reply is logged all the same
    show_outcome(stream)


if go:
    run_summary()
elif (summary := st.session_state.get("summary")) is not None:
    if not summary.finished:
        summary.stop()  # Stop was clicked: the previous run may still be reading the stream
    ui.sandbox_label()
    st.markdown(safe_markdown(summary.text))
    show_outcome(summary)
