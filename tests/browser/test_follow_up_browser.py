"""Follow-up in a real browser: pick a contact, the draft streams in, then it is editable and logged."""

import re
from pathlib import Path

from playwright.sync_api import expect

from lib.crm.builtin import BuiltinCrm
from lib.services import open_database
from lib.usage.log import UsageLog

ROOT = Path(__file__).resolve().parents[2]
NOTES = ("Date: 2026-11-19\nDemo went well. John wants pricing for 40 seats, $48,000 for the first year. "
         "Next step: send the proposal by Friday.")


def output_tokens(sandbox) -> int:
    """Output tokens of the replies the sandbox has finished (a stream counts when its last event is sent)."""
    return sandbox.stats()["tokens"]["output"]


def test_the_draft_streams_in_then_is_editable_and_logged(page, streamlit_app, browser_sandbox, screenshots):
    browser_sandbox.configure(tokens_per_s=15)  # a short email: slow enough to be seen arriving on a busy machine
    page.get_by_role("link", name="Follow-up").click()
    page.get_by_role("textbox", name="Find a contact").fill("john.smith@acme")
    page.get_by_role("textbox", name="Find a contact").press("Enter")
    page.get_by_test_id("stSelectbox").filter(has_text="Contact").click()
    page.get_by_role("option", name="John Smith · Acme Corp. · john.smith@acme.com").click()
    page.get_by_role("textbox", name="Notes (optional)").fill(NOTES)
    page.get_by_role("button", name="Draft", exact=True).click()

    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Hi John,").wait_for()
    finished_then = output_tokens(browser_sandbox)
    early = main.inner_text()
    editor = page.get_by_role("textbox", name="Draft (editable)")
    editor.wait_for(timeout=30_000)
    final = editor.input_value()

    # the greeting was on the page while the reply was still being sent, and more text followed
    assert finished_then == 0 and output_tokens(browser_sandbox) > 0
    assert "Best regards," not in early and final.startswith("Subject: ") and final.rstrip().endswith("Best regards,")
    assert "Sandbox output" in main.inner_text() and "cache write" in main.inner_text()

    editor.fill(final.replace("Hi John,", "Hi John, (edited in the browser)"))
    editor.press("Control+Enter")  # commit the edit before clicking
    page.get_by_role("button", name="Log as sent").click()
    page.get_by_text("Logged as interaction").wait_for()
    page.set_viewport_size({"width": 1400, "height": 1500})
    page.screenshot(path=str(screenshots / "follow_up.png"), full_page=True)

    streamlit_app.stop()  # DuckDB admits one process: let the app go before reading its file
    db = open_database(streamlit_app.db_path)
    latest = BuiltinCrm(db).recent_interactions(1, limit=1)[0]
    assert latest.kind == "email" and latest.author == "rep"
    note = db.cursor().execute("SELECT note FROM interactions WHERE id = ?", [latest.id]).fetchone()[0]
    assert "(edited in the browser)" in note
    (row,) = UsageLog(db).recent().query("feature == 'follow_up'").itertuples()
    assert row.status == "ok" and row.outcome_kind == "follow_up" and row.outcome_ref == str(latest.id)


def test_stop_keeps_the_partial_draft_marked_incomplete_and_logged(page, streamlit_app, browser_sandbox):
    browser_sandbox.script({"timing": {"ttft_ms": 300, "tokens_per_s": 5}})  # slow enough to stop half-way
    page.get_by_role("link", name="Follow-up").click()
    page.get_by_role("textbox", name="Notes (optional)").fill(NOTES)
    page.get_by_role("button", name="Draft", exact=True).click()
    page.locator("[data-testid='stMain']").get_by_text("Subject:").wait_for()
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop").click()

    page.get_by_text("Incomplete: the draft was cut short").wait_for()
    editor = page.get_by_role("textbox", name="Draft (editable)")
    expect(editor).to_have_value(re.compile(r"^Subject:"))  # the editor is filled right after it is drawn
    partial = editor.input_value()
    assert partial.startswith("Subject:") and "Best regards," not in partial

    streamlit_app.stop()
    (row,) = UsageLog(open_database(streamlit_app.db_path)).recent().itertuples()
    assert row.feature == "follow_up" and row.status == "aborted" and row.usage_estimated and row.output_tokens >= 1
    journal = [e for e in browser_sandbox.journal if e["path"] == "/v1/messages"]
    assert journal[-1]["decision"] == "client_disconnect"  # the stream was really closed, not left running
