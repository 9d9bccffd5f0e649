"""`streamlit run app.py` answers once it is warm: the database and the Claude backend are ready before the first
page is asked for. A setting that breaks them does not stop the server: the first page says why."""

from pathlib import Path

import pytest

from tests.browser.conftest import start_app

pytestmark = pytest.mark.browser


def test_the_database_is_open_before_the_server_answers(tmp_path: Path, browser_sandbox, browser):
    app = start_app(tmp_path, browser_sandbox.base_url)
    try:
        assert app.db_path.exists()  # opened and migrated at start: no page has been asked for yet
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(app.url)
        page.get_by_role("heading", name="Summarize a call note").wait_for(timeout=30_000)
        page.get_by_text("Simulated spend today").wait_for(timeout=30_000)
        page.close()
    finally:
        app.stop()
    log = app.log()
    assert "Services not built" not in log and "Traceback" not in log
    assert "missing ScriptRunContext" not in log  # the warm-up runs before any session, and says nothing of it


def test_a_setting_that_breaks_the_services_does_not_stop_the_server_and_the_first_page_says_why(
        tmp_path: Path, browser_sandbox, browser):
    catalogue = tmp_path / "fields.toml"
    catalogue.write_text("not = [toml", encoding="utf-8")
    app = start_app(tmp_path, browser_sandbox.base_url, extra_env={"SCRIBE_FIELD_CATALOGUE": str(catalogue)})
    try:
        page = browser.new_page(viewport={"width": 1366, "height": 768})
        page.goto(app.url)
        page.get_by_text("is not valid TOML").first.wait_for(timeout=30_000)
        shown = page.locator("body").inner_text()
        page.close()
    finally:
        app.stop()
    assert "fields.toml" in shown and "Traceback" not in shown
    assert "Services not built at start: The field catalogue fields.toml is not valid TOML" in app.log()
