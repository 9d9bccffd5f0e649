"""The assistant in a real browser: a question about an email is answered through lookup_contact, shown."""

from pathlib import Path

from playwright.sync_api import expect

from lib.services import open_database
from lib.usage.log import UsageLog

ROOT = Path(__file__).resolve().parents[2]
QUESTION = "What is the last activity for john.smith@acme.com?"


def test_the_last_activity_for_an_email_is_looked_up_and_the_call_shown(page, streamlit_app, browser_sandbox, screenshots):
    page.get_by_role("link", name="Assistant").click()
    chat = page.get_by_placeholder("Ask about a contact, a deal or the pipeline…")
    chat.fill(QUESTION)
    chat.press("Enter")

    main = page.locator("[data-testid='stMainBlockContainer']")  # (no stMain on a page with a chat input)
    main.get_by_text("Here is what I found").wait_for(timeout=30_000)
    assert "last_activity: 2026-09-11 email: Replied to questions on data residency" in main.inner_text()
    expander = page.get_by_test_id("stExpander").filter(has_text="lookup_contact")
    assert "john.smith@acme.com" in expander.inner_text()
    expander.get_by_text("lookup_contact").click()  # open it: the result Claude was given
    expander.get_by_text("Result returned to Claude").wait_for()
    expect(expander).to_contain_text("2026-09-11 email: Replied to questions on data residency")
    main.get_by_text("Context sent with the next question").wait_for()
    text = main.inner_text()
    assert "2 call(s)" in text and "cache read" in text and "Sandbox output" in text
    expect(page.get_by_test_id("stMetricValue")).not_to_have_text("$0.00")  # the run has ended: spend counted
    page.set_viewport_size({"width": 1400, "height": 1400})
    page.screenshot(path=str(screenshots / "assistant.png"), full_page=True)

    streamlit_app.stop()
    rows = UsageLog(open_database(streamlit_app.db_path)).recent().sort_values("id")
    assert list(rows["feature"]) == ["assistant", "assistant"] and list(rows["model"]) == ["claude-opus-4-8"] * 2
    assert rows.iloc[1]["cache_read_input_tokens"] > 0  # tools and system read from the cache on the second call
    assert [e["path"] for e in browser_sandbox.journal if e["path"] == "/v1/messages"] == ["/v1/messages"] * 2
