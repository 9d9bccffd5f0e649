"""The Bulk enrich page in AppTest: the sample file, its bad rows, the estimates, a live run, the handoff."""

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.steps import open_page

ROOT = Path(__file__).resolve().parents[2]
APP = str(ROOT / "main.py")
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"


def button(at, prefix):
    return next(b for b in at.button if b.label.startswith(prefix))


@pytest.fixture
def bulk(app):
    return open_page(app, "bulk")


def run_until(at, predicate, timeout_s=60):
    deadline = time.monotonic() + timeout_s
    while not predicate(at):
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)
        at.run()
        assert not at.exception, at.exception


def test_the_page_loads_and_asks_for_a_file(bulk):
    assert bulk.title[0].value == "Bulk enrich"
    assert any("Upload a CSV or JSONL" in i.value for i in bulk.info)


def test_the_sample_file_lists_its_bad_rows_and_shows_both_estimates(bulk):
    button(bulk, "Use the sample file").click().run()
    assert not bulk.exception, bulk.exception
    assert any("20 note(s) ready to send" in s.value for s in bulk.success)
    assert any(e.label == "3 row(s) will not be sent" for e in bulk.expander)
    bad = bulk.table[0].value
    assert list(bad["row"]) == [21, 22, 23] and "does not exist" in bad["reason"].iloc[1]
    table = bulk.table[1].value
    assert list(table["Mode"]) == ["Live", "Batch"]
    assert all(cost.startswith("$") for cost in table["Estimated cost"])
    assert "within 24 h" in table["Estimated time"].iloc[1]
    assert [s.label for s in bulk.selectbox][:4] == ["Note column", "Date", "Author", "Contact"]


def test_remapping_a_column_changes_what_is_bad(bulk):
    button(bulk, "Use the sample file").click().run()
    bulk.selectbox[1].select("—").run()  # no date column: the two bad dates no longer matter
    assert any(e.label == "1 row(s) will not be sent" for e in bulk.expander)
    assert any("22 note(s) ready to send" in s.value for s in bulk.success)


def test_a_live_run_reaches_done_survives_a_new_session_and_hands_over_to_review(bulk, app_env):
    button(bulk, "Use the sample file").click().run()
    button(bulk, "Start: 20 note(s), live").click().run()
    assert not bulk.exception, bulk.exception
    run_until(bulk, lambda at: any(b.label.startswith("Review") for b in at.button))
    assert any("**Done**: " in m.value for m in bulk.markdown)

    fresh = AppTest.from_file(APP, default_timeout=30)  # a reload: a new session, same process
    fresh.run()
    fresh.switch_page("app_pages/bulk.py")
    fresh.run()
    assert not fresh.exception, fresh.exception
    assert any(b.label.startswith("Review") for b in fresh.button)

    review = button(fresh, "Review")
    review.click().run()
    assert not fresh.exception, fresh.exception
    assert "extract_incoming" not in fresh.session_state  # the Extract page took the proposals
    review_model = fresh.session_state["extract_review"]
    assert len(review_model.notes) >= 10 and len(review_model.frame) >= len(review_model.notes)
    assert any(s.value.startswith("Review:") for s in fresh.subheader)


def test_a_batch_run_shows_its_status_then_its_results(bulk, app_env):
    button(bulk, "Use the sample file").click().run()
    bulk.segmented_control(key="bulk_mode").set_value("Batch").run()
    button(bulk, "Start: 20 note(s), batch").click().run()
    assert not bulk.exception, bulk.exception
    status = bulk.table[-1].value
    assert list(status["status"]) == ["in_progress"] and list(status["notes"]) == [20]
    assert any(b.label == "Cancel the batch" for b in bulk.button)
    app_env.clock.advance(app_env.config.batch_delay_s + 1)  # the sandbox ends it
    run_until(bulk, lambda at: any(b.label.startswith("Review") for b in at.button))
    assert any("(batch: half price)" in m.value for m in bulk.markdown)


def test_a_job_another_process_left_is_offered_for_resuming_never_resumed_by_itself(app, app_env):
    import os

    from lib.bulk import input as bulk_input
    from lib.bulk.jobs import JobStore
    from lib.services import open_database

    rows = bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name).rows[:5]
    db = open_database(os.environ["SCRIBE_DB"])
    gone = JobStore(db, owner="old-host:4242:gone")  # the process that started it was killed
    job_id = gone.create_job(kind="live", user="rep", model="claude-sonnet-4-6", rows=rows, max_tokens=4000)
    gone.mark(job_id, 1, "failed", error="Claude found no people in this note.", kind="no_people")
    db.close()

    bulk = open_page(app, "bulk")
    assert any("1 job(s) stopped before they finished" in i.value for i in bulk.info)
    assert any("4 of 5 note(s) were not finished" in w.value for w in bulk.warning)
    assert any("pid 4242" in e.value for e in bulk.error)
    assert not [e for e in app_env.journal if e["path"] == "/v1/messages"]  # nothing sent by opening the page
    button(bulk, "Resume: send the 4 unfinished note(s)").click().run()
    assert not bulk.exception, bulk.exception
    run_until(bulk, lambda at: any("**Done**: " in m.value for m in at.markdown))
    assert len([e for e in app_env.journal if e["path"] == "/v1/messages"]) == 4  # only the unfinished ones
    assert not any(b.label.startswith("Resume") for b in bulk.button)
