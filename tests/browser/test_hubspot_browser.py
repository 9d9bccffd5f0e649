"""HubSpot as the system of record, in a real browser: the app (`streamlit run app.py`) with
HUBSPOT_ACCESS_TOKEN / HUBSPOT_BASE_URL at the local HubSpot test server and the MEDDICC catalogue on.
Extract a note; the grid matches HubSpot's contact; save: the server holds the new stage, the MEDDICC
fields and a note associated to the contact and the deal; undo restores them. The token is never shown."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.browser.conftest import StreamlitApp, start_app
from tests.hubspot.server import HubSpotTestServer

TOKEN = "pat-na1-77777777-6666-5555-4444-333333333333"
NOTE = """Date: 2026-11-20

Call with John Smith (john.smith@acme.com) at Acme Corp. Security is their main decision criterion:
the security team must sign off first. The contract then goes through procurement.
Stage: proposal sent."""


@pytest.fixture
def hubspot() -> Iterator[HubSpotTestServer]:
    server = HubSpotTestServer(token=TOKEN).start()
    p = server.portal
    p.ids = {"acme": p.seed("companies", {"name": "Acme Corp.", "domain": "acme.com"})}
    p.ids["john"] = p.seed("contacts", {"email": "john.smith@acme.com", "firstname": "John", "lastname": "Smith",
                                        "jobtitle": "VP Operations"})
    p.link("contacts", p.ids["john"], "companies", p.ids["acme"])
    p.ids["deal"] = p.seed("deals", {"dealname": "Acme – pilot", "pipeline": "default",
                                     "dealstage": "presentationscheduled", "amount": "40000"})
    p.link("deals", p.ids["deal"], "contacts", p.ids["john"])
    p.link("deals", p.ids["deal"], "companies", p.ids["acme"])
    for name in ("metrics", "economic_buyer", "decision_process", "pain", "champion", "competition"):
        p.add_property("deals", f"meddicc_{name}", name)
    p.add_property("deals", "meddicc_decision_criteria", "Decision criteria", "enumeration", "select",
                   options=[(o, o) for o in ("pricing", "integration", "security", "features", "support")])
    p.add_property("deals", "meddicc_paper_process", "Paper process", "enumeration", "select",
                   options=[(o, o) for o in ("procurement", "legal", "security_review", "none")])
    yield server
    server.stop()


@pytest.fixture
def hubspot_app(tmp_path, browser_sandbox, hubspot) -> Iterator[StreamlitApp]:
    app = start_app(tmp_path, browser_sandbox.base_url, {
        "HUBSPOT_ACCESS_TOKEN": TOKEN, "HUBSPOT_BASE_URL": hubspot.base_url,
        "SCRIBE_FIELD_CATALOGUE": "config/fields.meddicc.toml"})
    yield app
    app.stop()


def test_extract_save_undo_against_hubspot(browser, browser_sandbox, hubspot, hubspot_app):
    browser_sandbox.configure(tokens_per_s=2000)
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        page.goto(hubspot_app.url + "/extract")
        page.get_by_role("textbox", name="Notes").fill(NOTE)
        page.get_by_role("button", name="Extract", exact=True).click()
        page.get_by_text("Review: 1 person(s) from 1 note(s)").wait_for()
        box = page.locator("[class*='st-key-rv_'][class*='_0_box']").first
        contact = box.locator("[class*='_0_contact']").first
        assert "John Smith · Acme Corp." in contact.inner_text() + contact.locator("input").first.input_value()
        line = box.get_by_test_id("stMarkdown").filter(has_text="Decision criteria").first  # a MEDDICC field's line
        line.wait_for()
        line.get_by_test_id("stTooltipHoverTarget").first.hover()  # its evidence, from the note, in the tooltip
        page.get_by_test_id("stTooltipContent").filter(has_text="From the note").first.wait_for()

        page.get_by_role("button", name="Save accepted to CRM").click()
        page.get_by_text("Saved: 0 new contact(s), 1 updated").wait_for()
        deal = hubspot.portal.objects["deals"][hubspot.portal.ids["deal"]].properties
        assert deal["dealstage"] == "decisionmakerboughtin"
        assert deal["meddicc_decision_criteria"] == "security" and deal["meddicc_paper_process"] == "procurement"
        notes = hubspot.portal.linked("contacts", hubspot.portal.ids["john"], "notes")
        assert len(notes) == 1 and notes == hubspot.portal.linked("deals", hubspot.portal.ids["deal"], "notes")

        page.get_by_role("button", name="Undo this save").click()
        page.get_by_text("Undone").first.wait_for()
        deal = hubspot.portal.objects["deals"][hubspot.portal.ids["deal"]].properties
        assert deal["dealstage"] == "presentationscheduled"
        assert not deal.get("meddicc_decision_criteria")
        assert hubspot.portal.objects["notes"][notes[0]].archived
        assert TOKEN not in page.content()
    finally:
        context.close()
    assert TOKEN not in hubspot_app.log()
