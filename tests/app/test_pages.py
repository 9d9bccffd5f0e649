"""Every page loads; the Summarize page works end to end on the sandbox."""

import pytest

from lib.services import open_database
from lib.usage.log import UsageLog

PAGES = ["app_pages/summarize.py", "app_pages/extract.py", "app_pages/follow_up.py", "app_pages/assistant.py", "app_pages/bulk.py",
         "app_pages/contacts.py", "app_pages/usage.py"]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_loads_without_an_exception(app, page):
    app.switch_page(page)
    app.run()
    assert not app.exception, app.exception


def test_sidebar_says_sandbox_and_shows_spend(app):
    assert any("Sandbox" in w.value for w in app.sidebar.warning)
    assert any("Local mode: no sign-in" in c.value and "rep" in c.value for c in app.sidebar.caption)
    assert not app.sidebar.text_input  # no "Your name" box: local mode records SCRIBE_USER
    assert app.sidebar.metric[0].label == "Simulated spend today (UTC)"


def test_an_empty_note_gets_a_message_and_no_call(app, hermetic_env):
    summarize = next(b for b in app.button if b.label == "Summarize")
    summarize.click().run()
    assert any("The note is empty" in e.value for e in app.error)
    assert UsageLog(open_database(hermetic_env)).recent().empty


def test_summarize_a_sample_note(app):
    app.selectbox[0].select("01_acme_demo.txt").run()
    next(b for b in app.button if b.label == "Load sample").click().run()
    assert "John Smith" in app.text_area(key="summarize_note").value
    next(b for b in app.button if b.label == "Summarize").click().run()
    assert not app.exception
    text = " ".join(m.value for m in app.markdown)
    assert "Key points" in text and "Action items" in text
    captions = " ".join(c.value for c in app.caption)
    assert "Sandbox output" in captions and " in · " in captions and "cache write" in captions
