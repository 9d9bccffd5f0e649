"""The Extract page with HubSpot as the system of record (the local HubSpot test server), in AppTest:
the review shows HubSpot's current values; save writes the stage and the note to HubSpot; undo restores
them. The Contacts page shows the stage mapping. The token appears nowhere on either page."""

from pathlib import Path

import pytest

from tests.app.steps import click, open_page
from tests.hubspot.server import HubSpotTestServer

ROOT = Path(__file__).resolve().parents[2]
NOTE = (ROOT / "data" / "notes" / "01_acme_demo.txt").read_text()
TOKEN = "pat-na1-99999999-8888-7777-6666-555555555555"


@pytest.fixture
def hubspot(app_env, monkeypatch):
    server = HubSpotTestServer(token=TOKEN).start()
    p = server.portal
    p.ids = {"acme": p.seed("companies", {"name": "Acme Corp.", "domain": "acme.com"})}
    p.ids["john"] = p.seed("contacts", {"email": "john.smith@acme.com", "firstname": "John", "lastname": "Smith",
                                        "jobtitle": "VP Operations"})
    p.link("contacts", p.ids["john"], "companies", p.ids["acme"])
    p.ids["deal"] = p.seed("deals", {"dealname": "Acme – pilot", "pipeline": "default",
                                     "dealstage": "presentationscheduled", "amount": "40000"})
    p.link("deals", p.ids["deal"], "contacts", p.ids["john"])
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("HUBSPOT_BASE_URL", server.base_url)
    yield server
    server.stop()


def _page_text(at) -> str:
    parts = [e.value for kind in ("markdown", "caption", "success", "info", "warning", "error", "text")
             for e in getattr(at, kind)]
    return " ".join(str(p) for p in parts)


def test_extract_in_hubspot_mode_saves_to_hubspot_and_undo_restores(hubspot, app):
    extract = open_page(app, "extract")
    extract.text_area(key="extract_text").input(NOTE).run()
    click(extract, "Extract")
    grid = extract.session_state["extract_review"].frame
    john = grid[grid["name"] == "John Smith"].iloc[0]
    assert float(john["amount_crm"]) == 40000 and john["deal_stage_crm"] == "demo"  # HubSpot's values
    review = extract.session_state["extract_review"]
    for i, name in review.frame["name"].items():  # the rep accepts John, all of him, and nobody else
        box = extract.checkbox(key=f"rv_{review.key}_{i}_accept_all")
        (box.check() if name == "John Smith" else box.uncheck()).run()
    assert list(grid["accept"]) == list(grid["name"] == "John Smith")

    click(extract, "Save accepted to CRM")
    assert any("Saved:" in s.value for s in extract.success), _page_text(extract)
    deal = hubspot.portal.objects["deals"][hubspot.portal.ids["deal"]].properties
    assert deal["dealstage"] == "decisionmakerboughtin"
    assert len(hubspot.portal.linked("contacts", hubspot.portal.ids["john"], "notes")) == 1
    assert TOKEN not in _page_text(extract)

    click(extract, "Undo this save")
    assert any("Undone" in s.value for s in extract.success)
    deal = hubspot.portal.objects["deals"][hubspot.portal.ids["deal"]].properties
    assert deal["dealstage"] == "presentationscheduled" and deal["amount"] == "40000"
    assert all(n.archived for n in hubspot.portal.objects["notes"].values())


def test_the_contacts_page_shows_the_stage_mapping(hubspot, app):
    contacts = open_page(app, "contacts")
    assert any(x.label.startswith("HubSpot: sync and deal stage mapping") for x in contacts.expander)
    proposal = next(s for s in contacts.selectbox if s.label == "Scribe's proposal")
    assert proposal.value == "decisionmakerboughtin"
    proposal.set_value("contractsent").run()
    click(contacts, "Save the stage mapping")
    assert not contacts.exception
    from app_pages._shared import resources

    assert resources.services().hubspot.stage_mapping()[1]["proposal"] == "contractsent"
    shown = " ".join(str(d.value) for d in contacts.dataframe)
    assert "jobtitle" in shown and "dealstage" in shown  # the portal's properties, to pick a field's target
    assert TOKEN not in _page_text(contacts)
