"""Work survives navigation and a reload (issue 12.4): the notes pasted on Summarize and Extract, and a
Follow-up draft, come back in a new session of the same user; another user does not see them."""

from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP
from tests.app.steps import click, open_page

NOTE = "Date: 2026-11-19\nDemo went well; John wants pricing for 40 seats. Next step: send the proposal by Friday."


def new_session(page: str) -> AppTest:
    """What a reload is: a new session of the app, the same user, the same database."""
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    return open_page(at, page)


def test_notes_pasted_on_summarize_and_extract_survive_navigation_and_a_reload(app):
    summarize = open_page(app, "summarize")
    summarize.text_area(key="summarize_note").input(NOTE).run()
    extract = open_page(app, "extract")
    extract.text_area(key="extract_text").input("Call with Bob at Initech.").run()
    back = open_page(extract, "summarize")  # away and back in one session: Streamlit forgot the widget
    assert back.text_area(key="summarize_note").value == NOTE
    assert new_session("summarize").text_area(key="summarize_note").value == NOTE
    assert new_session("extract").text_area(key="extract_text").value == "Call with Bob at Initech."


def test_another_user_does_not_get_my_notes(app, monkeypatch):
    open_page(app, "summarize").text_area(key="summarize_note").input(NOTE).run()
    monkeypatch.setenv("SCRIBE_USER", "someone-else")
    assert new_session("summarize").text_area(key="summarize_note").value == ""


def test_a_follow_up_draft_as_edited_comes_back_after_a_reload(app):
    page = open_page(app, "follow_up")
    page.text_area(key="follow_up_notes").input(NOTE).run()
    click(page, "Draft")
    edited = page.text_area(key="follow_up_text").value + "\nPS: see you Friday."
    page.text_area(key="follow_up_text").input(edited).run()

    again = new_session("follow_up")
    assert again.text_area(key="follow_up_notes").value == NOTE
    assert again.text_area(key="follow_up_text").value == edited
    assert any("Your draft from before" in i.value for i in again.info)
    click(again, "Discard draft")
    after = new_session("follow_up")
    assert after.text_area(key="follow_up_notes").value == NOTE  # the notes stay
    assert "follow_up_text" not in [t.key for t in after.text_area]  # the draft is gone
