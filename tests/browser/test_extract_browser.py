"""Notes to CRM in a real browser: extract, edit a proposed value, save, see it on the timeline, undo it;
the review fits a 1366×768 screen; notes and a review not yet saved survive a reload (issue 12)."""

import re
from pathlib import Path

from playwright.sync_api import expect

from lib.crm.builtin import BuiltinCrm
from lib.services import open_database

NOTE = (Path(__file__).resolve().parents[2] / "data" / "notes" / "01_acme_demo.txt").read_text()


def review_key(page) -> str:
    """The review's key, read from its first box's class (widget keys are rv_<review>_<row>_<part>)."""
    classes = page.locator("[class*='st-key-rv_'][class*='_0_box']").first.get_attribute("class")
    return re.search(r"st-key-rv_(\w+?)_0_box", classes).group(1)


def part(page, row: int, name: str):
    """One widget of a person's box: a field's value (`title`), its Accept (`title_accept`), `contact`, `box`."""
    return page.locator(f".st-key-rv_{review_key(page)}_{row}_{name}")


def type_value(page, row: int, field: str, value: str) -> None:
    box = part(page, row, field).get_by_role("textbox")
    box.fill(value)
    box.press("Enter")
    wait_until_idle(page)


def extract_note(page, url: str) -> None:
    page.goto(url + "/extract")
    page.get_by_role("textbox", name="Notes").fill(NOTE)
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for(timeout=30_000)


def wait_until_idle(page) -> None:
    """Streamlit shows its status widget while a run is in progress."""
    page.wait_for_timeout(300)
    page.get_by_test_id("stStatusWidget").wait_for(state="detached", timeout=30_000)


def open_johns_record(page) -> None:
    """The Contacts page showing John's record (his name is on the Extract page too: wait for this page's)."""
    page.get_by_role("heading", name="Contacts", exact=True).wait_for()
    page.get_by_role("heading", name="John Smith · Acme Corp.", exact=True).wait_for()


def test_extract_edit_save_timeline_undo(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=2000)  # this test is about the grid, not about streaming
    extract_note(page, streamlit_app.url)
    contact = part(page, 0, "contact")
    assert "John Smith · Acme Corp. (#1)" in contact.inner_text() + (contact.locator("input").first.input_value()
                                                                     if contact.locator("input").count() else "")

    type_value(page, 0, "title", "Chief Ops Officer")  # the edit reruns John's box, which redraws from the review
    expect(part(page, 0, "title_accept").get_by_role("checkbox")).to_be_checked()  # typing it accepted it
    expect(part(page, 0, "accept_all").get_by_role("checkbox")).to_be_checked()  # John is accepted

    page.get_by_role("button", name="Save accepted to CRM").click()
    # Tom, a new contact, was not pre-accepted (nor Linda: her proposal changes nothing)
    page.get_by_text("Saved: 0 new contact(s), 1 updated").wait_for()

    john = page.get_by_role("link", name="John Smith")  # after the save, and wherever else the page names him
    for _ in range(2):  # the link by name, twice: it keeps working after the first visit
        assert john.first.get_attribute("href") == "contacts?contact=1"  # waits for the link, then reads it
        john.first.click()
        open_johns_record(page)
        page.get_by_role("link", name="Extract to CRM").click()  # back the way a rep goes: the navigation
        page.get_by_role("heading", name="Extract CRM fields from notes").wait_for()  # (Back can skip it under load)
    john.first.click()
    open_johns_record(page)
    change = page.get_by_text("VP Operations → Chief Ops Officer")
    change.wait_for()
    assert "person (rep)" in change.inner_text()  # the rep typed it: the rep's value, not the AI's (issue 11)
    page.get_by_text("typed by the rep; the AI proposed").first.wait_for()  # the AI's proposal kept beside it
    title = page.get_by_role("textbox", name=re.compile(r"^Title"))  # "Title 🔒": the rep's typed value locks it
    expect(title).to_have_value("Chief Ops Officer")

    page.get_by_role("button", name="Undo whole save").first.click()
    page.get_by_text("Undone.").wait_for(timeout=60_000)
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


def test_an_invalid_email_stays_with_its_reason_and_blocks_the_save(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=2000)
    extract_note(page, streamlit_app.url)
    type_value(page, 0, "email", "john at acme")
    reason = part(page, 0, "box").get_by_text("'john at acme' is not an email address").first
    reason.wait_for()  # right in John's box, under the value
    part(page, 0, "box").get_by_text("This person cannot be saved yet").wait_for()
    page.get_by_role("button", name="Save accepted to CRM").click()
    refusal = page.get_by_test_id("stAlert").filter(has_text="Nothing was saved. Fix these first")
    refusal.wait_for()
    assert "'john at acme' is not an email address" in refusal.inner_text()  # the typed value was kept

    page.reload()  # still there, with its reason, after a reload
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for(timeout=30_000)
    part(page, 0, "email").get_by_role("textbox").wait_for()  # a loaded machine: the boxes draw after the heading
    expect(part(page, 0, "email").get_by_role("textbox")).to_have_value("john at acme")
    part(page, 0, "box").get_by_text("'john at acme' is not an email address").first.wait_for()

    streamlit_app.stop()
    crm = BuiltinCrm(open_database(streamlit_app.db_path))
    assert crm.get_contact(1).email == "john.smith@acme.com"


def test_the_review_fits_a_laptop_screen_without_sideways_scrolling(browser, streamlit_app, browser_sandbox,
                                                                    screenshots):
    browser_sandbox.configure(tokens_per_s=2000)
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        extract_note(page, streamlit_app.url)
        key = review_key(page)
        for row in range(3):
            box = part(page, row, "box")
            box.scroll_into_view_if_needed()
            accepts = box.locator(f"[class*='st-key-rv_{key}_{row}_'][class*='_accept ']").filter(visible=True)
            accepts.first.wait_for()  # the boxes draw after the heading: wait for the lines, then count them
            part(page, row, "amount" if row == 0 else "name").wait_for()
            fields = [re.search(rf"st-key-rv_{key}_{row}_(\w+)_accept\b", c).group(1)
                      for c in accepts.evaluate_all("els => els.map(e => e.className)")]
            assert len(fields) >= (9 if row == 0 else 3), fields  # every field that holds something has its line
            for name in [*fields, "contact"]:
                widgets = [part(page, row, name)] + ([part(page, row, f"{name}_accept")] if name != "contact" else [])
                for widget in widgets:
                    widget.scroll_into_view_if_needed()
                    at = widget.bounding_box()
                    assert at is not None and at["x"] >= 0 and at["x"] + at["width"] <= 1366, (row, name, at)
        widths = page.evaluate("""() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth,
            ...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stMainBlockContainer]')]
               .flatMap(e => [e.scrollWidth, e.clientWidth])]""")
        for scroll, client in zip(widths[::2], widths[1::2], strict=True):
            assert scroll <= client, widths  # nothing scrolls sideways
        part(page, 0, "box").scroll_into_view_if_needed()
        page.screenshot(path=str(screenshots / "extract_review.png"))
    finally:
        context.close()


def test_pasted_notes_and_a_review_not_yet_saved_survive_a_reload(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(tokens_per_s=2000)
    extract_note(page, streamlit_app.url)
    type_value(page, 0, "title", "Chief Ops Officer")
    part(page, 0, "next_step_date_accept").get_by_text("Accept").click()  # the rep leaves the date out
    wait_until_idle(page)

    page.reload()
    page.get_by_role("textbox", name="Notes").wait_for()
    expect(page.get_by_role("textbox", name="Notes")).to_have_value(NOTE)
    page.get_by_text("This is the review you left unsaved").wait_for()
    part(page, 0, "title").get_by_role("textbox").wait_for()
    expect(part(page, 0, "title").get_by_role("textbox")).to_have_value("Chief Ops Officer")
    expect(part(page, 0, "next_step_date_accept").get_by_role("checkbox")).not_to_be_checked()

    page.get_by_role("link", name="Summarize").first.click()  # away and back: still there
    page.get_by_role("textbox", name="Call note").wait_for()
    page.get_by_role("link", name="Extract to CRM").first.click()
    page.get_by_text("Review: 3 person(s) from 1 note(s)").wait_for()
    part(page, 0, "title").get_by_role("textbox").wait_for()
    expect(part(page, 0, "title").get_by_role("textbox")).to_have_value("Chief Ops Officer")
    expect(page.get_by_role("textbox", name="Notes")).to_have_value(NOTE)

    page.get_by_role("button", name="Save accepted to CRM").click()
    page.get_by_text(re.compile(r"Saved: 0 new contact\(s\), \d+ updated")).wait_for()
    page.reload()  # saved: nothing left to resume
    page.get_by_role("textbox", name="Notes").wait_for()
    expect(page.get_by_role("textbox", name="Notes")).to_have_value(NOTE)
    page.get_by_role("button", name="Extract", exact=True).wait_for()
    assert page.get_by_text("Review: 3 person(s)").count() == 0
