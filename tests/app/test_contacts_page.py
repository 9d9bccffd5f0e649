"""The Contacts page in AppTest: a contact's fields, deal and timeline; edits by hand; revert."""

import pytest

from app_pages._shared import resources
from lib.crm.records import ProposedRow, SaveRequest
from tests.app.steps import open_page


@pytest.fixture
def contacts(app):
    return open_page(app, "contacts")


def show(app, contact_id):
    app.query_params["contact"] = str(contact_id)
    app.run()
    assert not app.exception, app.exception


def test_pipeline_chart_and_search(contacts):
    assert contacts.get("plotly_chart")
    contacts.text_input(key="contacts_query").input("initech").run()
    table = contacts.dataframe[0].value
    assert {"Robert Chen", "Emily Chen"} <= set(table["name"])


def test_contact_shows_fields_deal_and_an_ai_change_that_can_be_reverted(contacts):
    crm = resources.services().crm
    crm.save(SaveRequest(review_key="k", user="dana", rows=[ProposedRow(
        contact_id=1, values={"title": "COO"}, evidence={"title": "John (COO)"}, note="Date: 2026-11-19\nMet John.")]))
    show(contacts, 1)
    assert any("John Smith" in h.value for h in contacts.subheader)
    assert next(t for t in contacts.text_input if t.label.startswith("Title")).value == "COO"
    text = " ".join(m.value for m in contacts.markdown)
    assert "title: VP Operations → COO · AI, approved by dana" in text
    assert any("John (COO)" in c.value for c in contacts.caption)
    revert = next(b for b in contacts.button if b.label == "Revert")
    revert.click().run()
    assert crm.get_contact(1).title == "VP Operations"
    assert any("Reverted" in s.value for s in contacts.success)


def test_hand_edit_is_recorded_and_locks_the_field(contacts):
    show(contacts, 2)
    title = next(t for t in contacts.text_input if t.label.startswith("Title"))
    title.input("Procurement Director")
    next(b for b in contacts.button if b.label == "Save my edits").click().run()
    crm = resources.services().crm
    assert crm.get_contact(2).title == "Procurement Director"
    assert crm.locked_fields("contact", 2) == {"title"}
    assert any(t.label == "Title 🔒" for t in contacts.text_input)


def test_an_edit_made_meanwhile_elsewhere_is_not_lost_without_a_word(contacts):
    # issue 11.4: the second session's Save said "Nothing changed." and its value was gone
    show(contacts, 2)
    next(t for t in contacts.text_input if t.label.startswith("Title")).input("Head Buyer")
    crm = resources.services().crm
    crm.edit_by_hand("contact", 2, "title", "Procurement Director", "li")  # another session saves first
    next(b for b in contacts.button if b.label == "Save my edits").click().run()
    assert crm.get_contact(2).title == "Procurement Director"  # not overwritten blindly...
    assert any("changed while you were editing" in e.value and "Procurement Director" in e.value
               and "Head Buyer" in e.value for e in contacts.error)  # ...and both values are shown
    assert next(t for t in contacts.text_input if t.label.startswith("Title")).value == "Head Buyer"  # kept
    next(b for b in contacts.button if b.label == "Save my edits").click().run()  # the person chooses theirs
    assert crm.get_contact(2).title == "Head Buyer"


def test_untrusted_values_are_shown_as_text_not_markdown(contacts):
    crm = resources.services().crm
    crm.edit_by_hand("contact", 3, "name", "![x](http://evil.example/p.png) Eve", "li")
    show(contacts, 3)
    heading = next(h.value for h in contacts.subheader)
    assert heading.startswith("\\!\\[x\\](http://evil") and "![" not in heading


def page_links(app):
    return [(link.proto.label, link.proto.query_string) for link in app.get("page_link")]


def test_the_timeline_names_the_contact_with_a_link_and_the_deal_by_name(contacts):
    crm = resources.services().crm
    crm.save(SaveRequest(review_key="k", user="dana", rows=[ProposedRow(
        contact_id=1, values={"title": "COO", "deal_stage": "negotiation"}, evidence={}, note="Met John.")]))
    show(contacts, 1)
    links = page_links(contacts)
    assert links and set(links) == {("John Smith", "contact=1")}  # one per timeline entry: the name, not an id
    assert len(links) == len(crm.timeline(1, limit=60))
    text = " ".join(m.value for m in contacts.markdown)
    assert "deal **Acme Corp. – Fleet telemetry pilot** · stage: demo → negotiation" in text
    assert "**contact**" not in text and "#1" not in text


def test_a_contact_opened_from_a_link_stays_on_screen_after_more_clicks(contacts):
    show(contacts, 3)
    contacts.text_input(key="contacts_query").input("acme").run()  # a second click elsewhere on the page
    assert any("Robert Chen" in h.value for h in contacts.subheader)
    assert contacts.query_params["contact"] in ("3", ["3"])  # the address still names it
    next(b for b in contacts.button if b.label == "Save my edits").click().run()  # and a third
    assert any("Robert Chen" in h.value for h in contacts.subheader) and page_links(contacts)
