"""The Extract page in AppTest: notes in, a review (a box per person) out, save, save again, undo;
the notes and a review not yet saved kept across a new session."""

from pathlib import Path

import pytest

from app_pages._shared import resources
from tests.app.steps import click, open_page

NOTE = (Path(__file__).resolve().parents[2] / "data" / "notes" / "01_acme_demo.txt").read_text()


@pytest.fixture
def extract(app):
    return open_page(app, "extract")


def crm_value(sql, params):
    return resources.services().db.cursor().execute(sql, params).fetchone()


def widget(at, kind: str, review, row: int, part: str):
    """The review's widget of one row (keys are namespaced by review and row: rv_<review>_<row>_<part>)."""
    return getattr(at, kind)(key=f"rv_{review.key}_{row}_{part}")


def row_of(review, name: str) -> int:
    return int(review.frame.index[review.frame["name"] == name][0])


def test_empty_input_gets_a_message_and_no_call(extract, app_env):
    click(extract, "Extract")
    assert any("There is no note" in e.value for e in extract.error)
    assert not [e for e in app_env.journal if e["path"] == "/v1/messages"]


def test_extract_review_save_save_again_undo(extract):
    extract.text_area(key="extract_text").input(NOTE).run()
    click(extract, "Extract")
    current = extract.session_state["extract_review"]
    grid = current.frame
    assert {"John Smith", "Linda Park", "Tom Baker"} <= set(grid["name"])
    john = grid[grid["name"] == "John Smith"].iloc[0]
    assert john["contact"].endswith("(#1)") and john["deal_stage_crm"] == "demo" and john["deal_stage"] == "proposal"
    j = row_of(current, "John Smith")
    assert widget(extract, "selectbox", current, j, "contact").value.endswith("(#1)")  # the box shows the same
    assert widget(extract, "selectbox", current, j, "deal_stage").value == "proposal"
    assert widget(extract, "checkbox", current, j, "deal_stage_accept").value  # a confident change: pre-accepted
    assert "next_step" in john["locked"]  # dana typed the next step by hand
    tom = grid[grid["name"] == "Tom Baker"].iloc[0]
    assert tom["contact"].startswith("➕") and not tom["accept"]  # a new contact waits for the rep's tick
    t = row_of(current, "Tom Baker")
    assert not widget(extract, "checkbox", current, t, "email_accept").value
    widget(extract, "checkbox", current, t, "accept_all").check().run()  # the rep ticks it
    assert not extract.exception and extract.session_state["extract_review"].frame.at[t, "accept"]

    click(extract, "Save accepted to CRM")
    assert any("Saved:" in s.value for s in extract.success)
    assert crm_value("SELECT stage FROM deals WHERE id = 1", []) == ("proposal",)
    assert crm_value("SELECT next_step FROM deals WHERE id = 1", []) == ("Follow-up demo for finance",)  # locked
    assert crm_value("SELECT count(*) FROM contacts WHERE email = 'tom.baker@acme.com'", []) == (1,)

    click(extract, "Save accepted to CRM")
    assert any("already saved" in i.value for i in extract.info)
    assert crm_value("SELECT count(*) FROM contacts WHERE email = 'tom.baker@acme.com'", []) == (1,)

    click(extract, "Undo this save")
    assert any("Undone" in s.value for s in extract.success)
    assert crm_value("SELECT stage FROM deals WHERE id = 1", []) == ("demo",)
    assert crm_value("SELECT count(*) FROM contacts WHERE email = 'tom.baker@acme.com' AND NOT archived", []) == (0,)


def test_a_bad_csv_upload_is_a_clear_message(extract):
    # AppTest has no file_uploader driver: the page's parser is what runs on an upload
    from lib.core.errors import InputRejected
    from lib.work.extraction import notes_from_file

    with pytest.raises(InputRejected, match="no 'note' column"):
        notes_from_file("x.csv", "text,date\nhello,2026-01-01\n")
    assert notes_from_file("x.csv", "note,date\nfirst note,2026-01-01\n,\n") == ["first note"]
    assert notes_from_file("x.txt", "a\n---\nb") == ["a", "b"]


def test_a_reply_that_fails_validation_twice_shows_the_raw_text_and_saves_nothing(extract, app_env):
    app_env.script({"text": "Sorry, no JSON today."}, {"text": '{"people": [{"name": "Ann"}]}'})
    extract.text_area(key="extract_text").input(NOTE).run()
    click(extract, "Extract")
    assert any("failed validation twice; nothing was saved" in e.value for e in extract.error)
    assert any(x.label == "What Claude answered" for x in extract.expander)
    assert '{"people": [{"name": "Ann"}]}' in " ".join(t.value for t in extract.text)
    assert "extract_review" not in extract.session_state
    assert crm_value("SELECT count(*) FROM change_sets WHERE kind = 'extraction'", []) == (0,)


def test_a_note_that_tries_to_instruct_the_model_is_read_as_data(extract):
    note = (Path(__file__).resolve().parents[2] / "data" / "notes" / "09_bluefin_forwarded_email.txt").read_text()
    extract.text_area(key="extract_text").input(note).run()
    click(extract, "Extract")
    grid = extract.session_state["extract_review"].frame
    assert "closed_won" not in set(grid["deal_stage"].dropna())  # the injected order did not become a proposal
    assert crm_value("SELECT count(*) FROM deals WHERE stage = 'closed_won'", []) == (6,)  # nothing saved either


def test_a_per_field_accept_and_an_invalid_edit_in_the_review(extract):
    extract.text_area(key="extract_text").input(NOTE).run()
    click(extract, "Extract")
    current = extract.session_state["extract_review"]
    j = row_of(current, "John Smith")
    before = crm_value("SELECT next_step_date FROM deals WHERE id = 1", [])
    assert str(before[0]) != str(current.frame.at[j, "next_step_date"])  # the proposal would change it
    widget(extract, "checkbox", current, j, "next_step_date_accept").uncheck().run()  # the rep leaves the date out
    widget(extract, "text_input", current, j, "email").input("john at acme").run()
    assert widget(extract, "text_input", current, j, "email").value == "john at acme"  # kept as typed
    assert widget(extract, "checkbox", current, j, "email_accept").value  # typing it accepted it
    assert any("'john at acme' is not an email address" in e.value for e in extract.error)  # its reason, by it
    click(extract, "Save accepted to CRM")
    refusal = next(e.value for e in extract.error if "Nothing was saved" in e.value)
    assert "John Smith: 'john at acme' is not an email address" in refusal
    assert crm_value("SELECT email FROM contacts WHERE id = 1", []) == ("john.smith@acme.com",)

    widget(extract, "text_input", current, j, "email").input("john.smith@acme.com").run()
    click(extract, "Save accepted to CRM")
    assert any("Saved:" in s.value for s in extract.success)
    assert crm_value("SELECT stage FROM deals WHERE id = 1", []) == ("proposal",)
    assert crm_value("SELECT next_step_date FROM deals WHERE id = 1", []) == before  # left out: not written


def test_notes_and_a_review_not_yet_saved_come_back_in_a_new_session(extract, app_env):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    extract.text_area(key="extract_text").input(NOTE).run()
    click(extract, "Extract")
    current = extract.session_state["extract_review"]
    j = row_of(current, "John Smith")
    widget(extract, "text_input", current, j, "title").input("Chief Ops Officer").run()

    again = AppTest.from_file(APP, default_timeout=30)  # a reload: a new session, the same user
    again.run()
    open_page(again, "extract")
    assert again.text_area(key="extract_text").value == NOTE
    resumed = again.session_state["extract_review"]
    assert resumed.key == current.key and len(resumed.frame) == len(current.frame)
    assert widget(again, "text_input", resumed, j, "title").value == "Chief Ops Officer"
    assert any("the review you left unsaved" in i.value for i in again.info)
    click(again, "Discard review")
    assert "extract_review" not in again.session_state
    fresh = AppTest.from_file(APP, default_timeout=30)
    fresh.run()
    open_page(fresh, "extract")
    assert "extract_review" not in fresh.session_state and fresh.text_area(key="extract_text").value == NOTE
