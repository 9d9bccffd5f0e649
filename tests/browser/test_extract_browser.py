"""Notes to CRM in a real browser: extract, edit a cell, save, see it on the timeline, undo it."""

import re
from pathlib import Path

from playwright.sync_api import expect

from lib.crm.builtin import BuiltinCrm
from lib.services import open_database

NOTE = (Path(__file__).resolve().parents[2] / "data" / "notes" / "01_acme_demo.txt").read_text()
TITLE_COLUMN_FROM_WHY = 9  # Why → Name·CRM, Name, Email·CRM, Email, Company·CRM, Company, Title·CRM, Title
EMAIL_COLUMN_FROM_WHY = 5


def edit_cell(page, row: int, moves_right: int, value: str) -> None:
    """Select a read-only cell of the grid, walk right with the keyboard, open the editor, type, commit."""
    grid = page.locator(".stDataFrameGlideDataEditor").first
    grid.click(position={"x": 300, "y": 35 + 17 + 35 * row})  # the 'Why' cell of that row
    for _ in range(moves_right):
        page.keyboard.press("ArrowRight")
    page.keyboard.press("Enter")
    editor = page.locator("textarea.gdg-input").first
    editor.wait_for()
    editor.fill(value)
    page.keyboard.press("Enter")


def wait_until_idle(page) -> None:
    """Streamlit shows its status widget while a run is in progress."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=30_000)


def test_extract_edit_save_timeline_undo(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=2000)  # this test is about the grid, not about streaming
    page.goto(streamlit_app.url + "/extract")
    page.get_by_role("textbox", name="Notes").fill(NOTE)
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for(timeout=30_000)
    assert page.get_by_test_id("glide-cell-1-0").inner_text() == "John Smith · Acme Corp. (#1)"

    edit_cell(page, row=0, moves_right=TITLE_COLUMN_FROM_WHY, value="Chief Ops Officer")
    wait_until_idle(page)  # the edit reruns the page, which redraws the grid from the review
    assert page.get_by_test_id("glide-cell-0-0").inner_text() == "true"  # John's row is accepted

    page.get_by_role("button", name="Save accepted rows to CRM").click()
    page.get_by_text("Saved: 0 new contact(s), 2 updated").wait_for()  # Tom, a new contact, was not pre-accepted

    for _ in range(2):  # the link by name, twice: it keeps working after the first visit
        page.get_by_role("link", name="John Smith").click()
        page.get_by_text("John Smith · Acme Corp.").first.wait_for()
        assert "contact=1" in page.url
        page.go_back()
        page.get_by_role("link", name="John Smith").wait_for()
    page.get_by_role("link", name="John Smith").click()
    page.get_by_text("John Smith · Acme Corp.").first.wait_for()
    change = page.get_by_text("VP Operations → Chief Ops Officer")
    change.wait_for()
    assert "person (rep)" in change.inner_text()  # the rep typed it: the rep's value, not the AI's (issue 11)
    page.get_by_text("typed by the rep; the AI proposed").first.wait_for()  # the AI's proposal kept beside it
    title = page.get_by_role("textbox", name=re.compile(r"^Title"))  # "Title 🔒": the rep's typed value locks it
    expect(title).to_have_value("Chief Ops Officer")

    page.get_by_role("button", name="Undo whole save").first.click()
    page.get_by_text("Undone.").wait_for()
    page.get_by_text("Chief Ops Officer → VP Operations").wait_for()  # the undo is itself recorded
    expect(title).to_have_value("VP Operations")

    streamlit_app.stop()
    crm = BuiltinCrm(open_database(streamlit_app.db_path))
    assert crm.get_contact(1).title == "VP Operations"
    assert crm.contact_by_email("tom.baker@acme.com") is None  # never accepted, never created


def test_five_notes_are_read_together_each_with_its_state(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(ttft_ms=1500, tokens_per_s=2000)  # slow to start, so the states can be seen
    notes_dir = Path(__file__).resolve().parents[2] / "data" / "notes"
    five = [(notes_dir / name).read_text() for name in
            ("01_acme_demo.txt", "02_initech_bob.txt", "03_globex_zoe.txt", "04_kestrel_liz.txt", "06_umbrella_sarah.txt")]
    page.goto(streamlit_app.url + "/extract")
    page.get_by_role("textbox", name="Notes").fill("\n---\n".join(five))
    page.get_by_role("button", name="Extract", exact=True).click()
    main = page.get_by_test_id("stMain")
    main.get_by_text(re.compile(r"Note 5 · .*: reading")).wait_for()  # in flight together, each with its line
    assert main.get_by_text(re.compile(r"Note \d · .*: (reading|waiting|done)")).count() == 5
    page.get_by_text(re.compile(r"Review: \d+ person\(s\) from 5 note\(s\)")).wait_for(timeout=60_000)
    assert main.get_by_text(re.compile(r"Note \d · .*: reading")).count() == 0  # the board is gone once read


def test_an_invalid_email_typed_in_the_grid_stays_with_its_reason_and_blocks_the_save(page, streamlit_app,
                                                                                      browser_sandbox):
    browser_sandbox.configure(tokens_per_s=2000)
    page.goto(streamlit_app.url + "/extract")
    page.get_by_role("textbox", name="Notes").fill(NOTE)
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for(timeout=30_000)
    edit_cell(page, row=0, moves_right=EMAIL_COLUMN_FROM_WHY, value="john at acme")
    wait_until_idle(page)
    page.get_by_role("button", name="Save accepted rows to CRM").click()
    refusal = page.get_by_test_id("stAlert").filter(has_text="Nothing was saved. Fix these first")
    refusal.wait_for()
    assert "'john at acme' is not an email address" in refusal.inner_text()  # the typed value was kept

    streamlit_app.stop()
    crm = BuiltinCrm(open_database(streamlit_app.db_path))
    assert crm.get_contact(1).email == "john.smith@acme.com"
