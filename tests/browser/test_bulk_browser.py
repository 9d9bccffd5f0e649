"""Bulk enrich in a real browser: upload the sample CSV, run it live, watch it finish, review on the Extract page."""

import os
from pathlib import Path

from lib.services import open_database

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"


def test_upload_run_live_and_review_in_the_extract_grid(page, streamlit_app, browser_sandbox, tmp_path):
    browser_sandbox.configure(ttft_ms=100, tokens_per_s=400)  # a few seconds for 20 notes: progress is visible
    page.get_by_role("link", name="Bulk enrich").click()
    page.get_by_text("Upload a CSV or JSONL file of notes").wait_for()
    page.locator("input[type='file']").set_input_files(str(SAMPLE))

    page.get_by_text("20 note(s) ready to send.").wait_for()
    page.get_by_text("3 row(s) will not be sent").wait_for()
    main = page.get_by_test_id("stMain")
    page.get_by_text("The date 2026-02-30 does not exist.").wait_for()
    page.get_by_text("within 24 h, usually under 1 h").wait_for()  # the estimates
    assert "Estimated cost" in main.inner_text()

    page.get_by_role("button", name="Start: 20 note(s), live").click()
    page.get_by_text("remaining").first.wait_for()  # the progress bar, while it runs
    running = main.inner_text()
    assert "done ·" in running and "succeeded ·" in running and "failed ·" in running
    review = page.get_by_role("button", name="Review")
    review.wait_for(timeout=90_000)
    assert "Done" in main.inner_text()
    if os.environ.get("SCRIBE_SCREENSHOTS"):
        page.screenshot(path=str(tmp_path / "bulk.png"), full_page=True)

    label = review.inner_text()
    review.click()
    page.wait_for_url("**/extract")
    page.get_by_text("Review:").first.wait_for()
    page.locator("[class*='st-key-rv_'][class*='_0_box']").first.wait_for()  # the first person's box
    heading = page.get_by_text("Review:").first.inner_text()  # "Review: N person(s) from M note(s)"
    people = label.split()[1]
    assert heading.startswith(f"Review: {people} person(s)"), (label, heading)

    streamlit_app.stop()
    db = open_database(streamlit_app.db_path)
    statuses = dict(db.cursor().execute("SELECT status, count(*) FROM job_items GROUP BY status").fetchall())
    assert sum(statuses.values()) == 20 and set(statuses) <= {"succeeded", "failed"}
    journal = [e for e in browser_sandbox.journal if e["path"] == "/v1/messages"]
    assert db.cursor().execute("SELECT count(*) FROM usage_log WHERE feature = 'extract'").fetchone()[0] == len(journal)
