"""Summarize in a real browser: paste, stream, see the cost, find the usage row."""

import time
from pathlib import Path

from lib.services import open_database
from lib.usage.log import UsageLog

ROOT = Path(__file__).resolve().parents[2]
NOTE = (ROOT / "data" / "notes" / "01_acme_demo.txt").read_text()


def test_summary_streams_into_the_page_and_is_logged(page, streamlit_app, browser_sandbox, screenshots):
    page.get_by_role("textbox", name="Call note").fill(NOTE)
    page.get_by_role("button", name="Summarize", exact=True).click()

    page.get_by_text("Key points").first.wait_for()
    seen_early = page.locator("[data-testid='stMain']").inner_text()
    caption_early = page.get_by_text("cache write").count()
    t_first = time.monotonic()

    page.get_by_text("cache write").first.wait_for(timeout=30_000)
    t_done = time.monotonic()
    final = page.locator("[data-testid='stMain']").inner_text()

    # text was on the page while the reply was still being written
    assert caption_early == 0 and t_done - t_first > 1.0
    assert len(final) > len(seen_early)
    assert "Action items" in final and "Sandbox output" in final
    cost_line = page.get_by_text("cache write").first.inner_text()
    assert " in · " in cost_line and "$" in cost_line and "TTFT" in cost_line

    page.get_by_text("Simulated spend today").wait_for()  # the run has finished: the sidebar counts it
    spend = page.get_by_test_id("stMetricValue").inner_text()
    assert spend.startswith("$0.0") and spend != "$0.00"
    page.set_viewport_size({"width": 1400, "height": 1700})
    page.screenshot(path=str(screenshots / "summarize.png"))

    streamlit_app.stop()  # DuckDB admits one process: let the app go before reading its file
    rows = UsageLog(open_database(streamlit_app.db_path)).recent()
    assert len(rows) == 1
    row = rows.iloc[0]
    assert row["feature"] == "summarize" and row["status"] == "ok" and row["backend"] == "sandbox"
    assert row["output_tokens"] > 50 and row["cost_usd"] > 0


def test_stop_keeps_the_partial_summary_and_logs_it(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=20)  # slow enough to stop half-way
    page.get_by_role("textbox", name="Call note").fill(NOTE)
    page.get_by_role("button", name="Summarize", exact=True).click()
    page.get_by_text("Key points").first.wait_for()
    page.get_by_test_id("stMainBlockContainer").get_by_role("button", name="Stop", exact=True).click()
    page.get_by_text("Incomplete: stopped before the summary was finished.").wait_for()
    page.get_by_text("(estimated)").first.wait_for()  # the usage line of the stopped call follows the text
    main = page.locator("[data-testid='stMain']").inner_text()
    assert "Key points" in main and "(estimated)" in main

    streamlit_app.stop()
    row = UsageLog(open_database(streamlit_app.db_path)).recent().iloc[0]
    assert row["status"] == "aborted" and row["usage_estimated"] and row["output_tokens"] > 0
    journal = [e for e in browser_sandbox.journal if e["path"] == "/v1/messages"]
    assert journal[-1]["decision"] == "client_disconnect"  # the stream was really closed, not left running


def test_a_deep_link_opens_the_page_inside_the_app(browser, tmp_path, browser_sandbox):
    """The first request after a start may be a bookmark: it must still get the sidebar and the badge."""
    from tests.browser.conftest import start_app

    app = start_app(tmp_path, browser_sandbox.base_url)
    try:
        context = browser.new_context()
        page = context.new_page()
        page.goto(app.url + "/usage")
        page.get_by_role("heading", name="Usage & spend").wait_for(timeout=20_000)
        page.get_by_text("Sandbox").first.wait_for()
        assert page.get_by_role("link", name="Extract to CRM").count() == 1  # the app's navigation, not a file list
        context.close()
    finally:
        app.stop()


def test_with_no_key_the_app_starts_its_own_sandbox_and_says_so(browser, tmp_path):
    """The README's `streamlit run app.py` with nothing configured: a working app on the built-in sandbox."""
    from tests.browser.conftest import start_app

    app = start_app(tmp_path, None, {"SCRIBE_SANDBOX_TOKENS_PER_S": "400"})
    try:
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        page = context.new_page()
        page.goto(app.url)
        page.get_by_text("offline simulator").first.wait_for(timeout=30_000)
        page.get_by_role("textbox", name="Call note").fill(NOTE)
        page.get_by_role("button", name="Summarize", exact=True).click()
        page.get_by_text("cache write").first.wait_for(timeout=30_000)
        main = page.locator("[data-testid='stMain']").inner_text()
        assert "Key points" in main and "Sandbox output" in main
        context.close()
    finally:
        app.stop()
    rows = UsageLog(open_database(app.db_path)).recent()
    assert list(rows["backend"]) == ["sandbox"] and rows.iloc[0]["status"] == "ok"
