"""Bulk enrich: a file of notes in, CRM proposals out, live (under the rate limits) or by Batch at half price."""

import hashlib
from pathlib import Path

import streamlit as st

from app_pages._shared import resources, ui
from lib.bulk import input as bulk_input
from lib.bulk.estimate import Estimate, estimate
from lib.bulk.input import BulkInput, ColumnMap
from lib.bulk.jobs import JobInfo
from lib.core.errors import ScribeError

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "notes" / "sample_notes.csv"
NONE = "—"
MODES = {"Live": "now, through the Messages API, as fast as the rate limits allow",
         "Batch": "Message Batches API: half price, results within 24 h (usually under 1 h)"}

st.title("Bulk enrich")
st.caption("Extract CRM fields from many notes at once. Results land in the Extract page's review grid; "
           "nothing is saved to the CRM until you accept it there.")
manager = resources.services().jobs()


def uploaded() -> tuple[str, bytes] | None:
    """The file to read: an upload, or the sample file."""
    pick, sample = st.columns([4, 1], vertical_alignment="bottom")
    file = pick.file_uploader("CSV or JSONL of notes", type=["csv", "jsonl", "ndjson"], key="bulk_file",
                              help="CSV: a header line and a note column (date, author, contact optional). "
                                   "JSONL: one object per line.")
    if sample.button("Use the sample file", help="data/notes/sample_notes.csv: 20 notes and 3 bad rows"):
        st.session_state.bulk_upload = (SAMPLE.name, SAMPLE.read_bytes())
    if file is not None:
        return file.name, file.getvalue()
    return st.session_state.get("bulk_upload")


def column_mapping(table: bulk_input.Table, tag: str) -> ColumnMap:
    """Which column is which, guessed from the header; the user may change it."""
    guess = bulk_input.guess_mapping(table.columns)
    optional = [NONE, *table.columns]
    note_col, date_col, author_col, contact_col = st.columns(4)
    note = note_col.selectbox("Note column", table.columns,
                              index=table.columns.index(guess.note) if guess.note else None,
                              placeholder="Which column holds the notes?", key=f"bulk_map_note_{tag}")
    picks = [col.selectbox(label, optional, index=optional.index(value or NONE), key=f"bulk_map_{label}_{tag}")
             for col, label, value in ((date_col, "Date", guess.date), (author_col, "Author", guess.author),
                                       (contact_col, "Contact", guess.contact))]
    date, author, contact = (None if p == NONE else p for p in picks)
    return ColumnMap(note=note, date=date, author=author, contact=contact)


def show_input(notes: BulkInput) -> None:
    if notes.rows:
        st.success(f"{len(notes.rows)} note(s) ready to send.")
    else:
        st.warning("No note can be sent.")
    if notes.bad:
        with st.expander(f"{len(notes.bad)} row(s) will not be sent", expanded=True):
            rows = [{"row": b.row, "reason": b.reason, "note": b.preview} for b in notes.bad]
            if len(rows) <= 50:
                st.table(rows, hide_index=True)
            else:
                st.dataframe(rows, hide_index=True, width="stretch")


def show_estimates(notes: BulkInput, model: str, tag: str) -> Estimate | None:
    """Each mode's cost and time (count_tokens on a sample; computed once per file, mapping and model)."""
    limits = manager.limits()
    key = (tag, notes.mapping, model, tuple(sorted((limits or {}).items())))  # again once the limits are known
    cached = st.session_state.get("bulk_estimate")
    if cached is None or cached[0] != key:
        try:
            with st.spinner("Counting tokens on a sample of the notes…"):
                app = resources.services()
                found = estimate(app.gateway, notes.rows, model=model, limits=limits,
                                 concurrency=app.settings.scribe_bulk_concurrency,
                                 latency_s=app.usage_log.typical_latency_s("extract", model))
        except ScribeError as err:
            ui.show_error(err)
            return None
        st.session_state.bulk_estimate = cached = (key, found)
    found = cached[1]
    st.table({"Mode": ["Live", "Batch"], "Estimated cost": [ui.money(found.live.cost_usd), ui.money(found.batch.cost_usd)],
              "Estimated time": [found.live.time_text, found.batch.time_text]}, hide_index=True)
    limits = ", ".join(f"{k.replace('_', ' ')} {v:,}/min" for k, v in found.limits.items()) or "not known yet"
    st.caption(f"{found.notes} notes, ~{found.input_tokens:,} input tokens (count_tokens on {found.sampled}), "
               f"~{found.output_tokens:,} output tokens (a typical extraction). Live reuses the cached house "
               f"guide ({found.cached_tokens:,} tokens). Rate limits: {limits}"
               + (f"; {found.binding.replace('_', ' ')} binds." if found.binding else "."))
    if not found.limits and st.button("Check the rate limits", help="One tiny call (1 output token) to read them."):
        check_limits(model)
    return found


def check_limits(model: str) -> None:
    try:
        resources.services().gateway.create(feature="extract", user=ui.current_user(), model=model, max_tokens=1,
                                   messages=[{"role": "user", "content": "ping"}])
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.pop("bulk_estimate", None)
    st.rerun()


def start(notes: BulkInput, mode: str, model: str) -> None:
    try:
        if mode == "Live":
            job_id = manager.start_live(notes, user=ui.current_user(), model=model)
        else:
            job_id = manager.start_batch(notes, user=ui.current_user(), model=model)
    except ScribeError as err:
        ui.show_error(err)
        return
    st.session_state.bulk_job = job_id


def job_label(job: JobInfo) -> str:
    when = job.created_at.strftime("%Y-%m-%d %H:%M")
    return f"{when} · {job.kind} · {job.source or 'notes'} · {job.total} notes · {job.status} · job {job.id}"


def progress_line(job: JobInfo, eta_s: float | None) -> str:
    eta = "" if eta_s is None or not job.active else f" · ETA {ui_duration(eta_s)}"
    return (f"{job.done}/{job.total} done · {job.succeeded} succeeded · {job.failed} failed · "
            f"{job.remaining} remaining{eta}")


def ui_duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


@st.fragment(run_every=1.0)
def live_progress(job_id: str) -> None:
    """Refreshes every second while the job runs; a full rerun shows the result when it ends."""
    progress = manager.progress(job_id)
    st.progress(progress.fraction, text=progress_line(progress.job, progress.eta_s))
    if progress.job.status == "canceling":
        st.caption("Canceling: notes already sent are finishing.")
    elif st.button("Cancel", key=f"bulk_cancel_{job_id}", help="Notes not yet sent are dropped; sent ones finish."):
        resources.services().cancel_job(ui.identity(), job_id)
    if not progress.job.active:
        st.rerun()


@st.fragment(run_every=15.0)
def batch_status(job_id: str) -> None:
    """Asks the API about the job's batches every 15 s; imports each one when it ends."""
    try:
        manager.refresh_batches(job_id)
    except ScribeError as err:
        ui.show_error(err)
    progress = manager.progress(job_id)
    st.progress(progress.fraction, text=progress_line(progress.job, None))
    st.table(manager.batch_status(job_id), hide_index=True)
    if progress.job.status != "canceling" and st.button("Cancel the batch", key=f"bulk_cancel_{job_id}"):
        resources.services().cancel_job(ui.identity(), job_id)
    if not progress.job.active:
        st.rerun()


def show_finished(job: JobInfo) -> None:
    cost = "price unknown" if job.cost_unknown else ui.money(job.cost_usd)
    st.markdown(f"**{job.status.capitalize()}**: {job.succeeded} of {job.total} note(s) read, {job.failed} failed · "
                f"{job.input_tokens:,} input / {job.output_tokens:,} output tokens · {cost}"
                + (" (batch: half price)" if job.kind == "batch" else ""))
    if job.error:
        st.error(job.error)
    if manager.resumable(job):
        show_resume(job)
    if job.failed:
        with st.expander(f"{job.failed} failed note(s), with the reason", expanded=job.succeeded == 0):
            failed = manager.items(job.id, status="failed")
            st.dataframe(failed[["row", "reason", "kind", "attempts"]], hide_index=True, width="stretch")
    retryable = manager.retryable(job.id)
    if retryable:
        what = "as a new batch" if job.kind == "batch" else "live"
        if st.button(f"Resubmit {len(retryable)} failed note(s) {what}",
                     help="Errored, expired, canceled, invalid or interrupted notes; not 'no people found'."):
            resources.services().retry_job(ui.identity(), job.id)
            st.session_state.bulk_job = job.id
            st.rerun()


def show_resume(job: JobInfo) -> None:
    """An interrupted job waits for a person: nothing is sent again until they ask."""
    st.warning(f"{job.remaining} of {job.total} note(s) were not finished when the job stopped. Nothing is sent "
               "until you resume it; the notes already finished are not sent again.")
    if st.button(f"Resume: send the {job.remaining} unfinished note(s)", key=f"bulk_resume_{job.id}"):
        try:
            resources.services().resume_job(ui.identity(), job.id)
        except ScribeError as err:
            ui.show_error(err)
            return
        st.session_state.bulk_job = job.id
        st.rerun()


def show_review_button(job: JobInfo) -> None:
    items = manager.items(job.id, status="succeeded")
    people = int(items["people"].fillna(0).sum()) if not items.empty else 0
    if people and st.button(f"Review {people} proposal(s) from {len(items)} note(s)", type="primary"):
        st.session_state["extract_incoming"] = manager.extractions(job.id)
        st.switch_page("app_pages/extract.py")


def show_jobs() -> None:
    jobs = resources.services().job_list(ui.identity(), limit=10)
    if not jobs:
        return
    st.subheader("Your jobs" if all(j.user == ui.current_user() for j in jobs) else "Jobs")
    if manager.runner.storage_error:
        st.error(f"{manager.runner.storage_error} Free space on the database's disk, restart Scribe, then resume "
                 "the job: nothing it finished is sent again.")
    waiting = [j for j in jobs if manager.resumable(j)]
    if waiting:
        st.info(f"{len(waiting)} job(s) stopped before they finished and wait for you to resume them "
                "(pick one below).")
    ids = [j.id for j in jobs]
    current = st.session_state.get("bulk_job")
    chosen = st.selectbox("Job", ids, index=ids.index(current) if current in ids else 0,
                          format_func=lambda i: job_label(next(j for j in jobs if j.id == i)))
    job = next(j for j in jobs if j.id == chosen)
    if job.active and job.kind == "live":
        live_progress(job.id)
    elif job.active:
        batch_status(job.id)
    else:
        show_finished(job)
        ui.sandbox_label()
        show_review_button(job)


def new_job() -> None:
    upload = uploaded()
    if upload is None:
        st.info("Upload a CSV or JSONL file of notes, or use the sample file.")
        return
    name, data = upload
    tag = hashlib.sha256(data).hexdigest()[:10]
    try:
        table = bulk_input.read_table(data, name)
        notes = bulk_input.parse_notes(table, column_mapping(table, tag))
    except ScribeError as err:
        ui.show_error(err)
        return
    show_input(notes)
    if not notes.rows:
        return
    model = ui.model_picker("extract")
    if show_estimates(notes, model, tag) is None:
        return
    mode = st.segmented_control("Mode", list(MODES), default="Live", key="bulk_mode") or "Live"
    st.caption(MODES[mode])
    if st.button(f"Start: {len(notes.rows)} note(s), {mode.lower()}", type="primary"):
        start(notes, mode, model)


with st.container(border=True):
    new_job()
show_jobs()
