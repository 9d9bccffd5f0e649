"""Writes through the official client: updates, creates (and their 409 path), stages, notes, undo."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lib.crm.hubspot import catalogue, mirror, writes
from lib.crm.hubspot.errors import HubSpotNotFound, HubSpotPipelineMissing, HubSpotUnknownProperty


@pytest.fixture
def portal(hubspot_server):
    p = hubspot_server.portal
    p.ids = {"acme": p.seed("companies", {"name": "Acme", "domain": "acme.com"})}
    p.ids["ann"] = p.seed("contacts", {"email": "ann@acme.com", "firstname": "Ann", "jobtitle": "VP Sales"})
    p.link("contacts", p.ids["ann"], "companies", p.ids["acme"])
    p.ids["deal"] = p.seed("deals", {"dealname": "Acme", "dealstage": "qualifiedtobuy"})
    return p


def test_batch_update_in_chunks_of_100(hubspot_server, hs):
    ids = [hubspot_server.portal.seed("contacts", {"email": f"u{i}@x.io"}) for i in range(150)]
    records = writes.update_contacts(hs, {i: {"jobtitle": f"T{n}", "phone": None} for n, i in enumerate(ids)})
    assert len(records) == 150
    assert hubspot_server.stats.by_route == {"POST batch_update": 2}
    assert hubspot_server.portal.objects["contacts"][ids[149]].properties["jobtitle"] == "T149"


def test_unknown_property_writes_nothing(hubspot_server, hs, portal):
    with pytest.raises(HubSpotUnknownProperty) as err:
        writes.update_contacts(hs, {portal.ids["ann"]: {"jobtitle": "CEO", "meddicc_champion": "Ann"}})
    assert err.value.properties == ["meddicc_champion"]
    assert "meddicc_champion" in str(err.value) and "Settings > Properties" in str(err.value)
    assert portal.objects["contacts"][portal.ids["ann"]].properties["jobtitle"] == "VP Sales"


def test_custom_property_once_defined_is_written(hubspot_server, hs, portal):
    portal.add_property("contacts", "meddicc_champion", "Champion")
    writes.update_contacts(hs, {portal.ids["ann"]: {"meddicc_champion": "Ann herself"}})
    assert portal.objects["contacts"][portal.ids["ann"]].properties["meddicc_champion"] == "Ann herself"


def test_create_contact_creates_company_and_association(hubspot_server, hs, portal):
    result = writes.create_contact(hs, {"email": "Bo@Beta.io", "firstname": "Bo"}, company_name="Beta",
                                   company_domain="beta.io")
    assert result.created and result.company_created
    assert portal.objects["contacts"][result.id].properties["email"] == "bo@beta.io"
    assert portal.objects["companies"][result.company_id].properties["domain"] == "beta.io"
    assert portal.linked("contacts", result.id, "companies") == [result.company_id]
    assert portal.linked("companies", result.company_id, "contacts") == [result.id]


def test_create_contact_with_existing_company_and_email_creates_nothing(hubspot_server, hs, portal):
    before = {k: len(v) for k, v in portal.objects.items()}
    result = writes.create_contact(hs, {"email": "ANN@acme.com", "firstname": "Ann"}, company_name="Acme")
    assert (result.id, result.created, result.company_id, result.company_created) == (
        portal.ids["ann"], False, portal.ids["acme"], False)
    assert {k: len(v) for k, v in portal.objects.items()} == before


def test_repeated_save_with_known_ids_creates_nothing_twice(hubspot_server, hs, portal):
    first = writes.create_contact(hs, {"email": "cy@gamma.dev"}, company_name="Gamma")
    counts = {k: len(v) for k, v in portal.objects.items()}
    again = writes.create_contact(hs, {"email": "cy@gamma.dev"}, company_name="Gamma",
                                  known_id=first.id, known_company_id=first.company_id)
    assert (again.id, again.company_id, again.created, again.company_created) == (
        first.id, first.company_id, False, False)
    assert {k: len(v) for k, v in portal.objects.items()} == counts


def test_409_conflict_takes_the_existing_id(hubspot_server, hs, portal):
    """Another process creates the same email between Scribe's look-up and its create."""
    raced: list[str] = []

    def someone_else_creates(params, body):
        if params["kind"] == "contacts" and not raced:
            raced.append(portal.seed("contacts", {"email": "dee@delta.org", "firstname": "Dee"}))

    hubspot_server.hooks["create_object"] = someone_else_creates
    result = writes.create_contact(hs, {"email": "dee@delta.org", "firstname": "Dee"}, company_name="Acme")
    assert result.id == raced[0] and not result.created
    conflict = next(e for e in hubspot_server.journal if e["status"] == 409)
    assert conflict["body"]["message"] == f"Contact already exists. Existing ID: {raced[0]}"
    assert portal.linked("contacts", raced[0], "companies") == [portal.ids["acme"]]
    assert len([c for c in portal.live("contacts") if c.properties.get("email") == "dee@delta.org"]) == 1


def test_deal_stage_moves_within_the_pipeline(hubspot_server, hs, portal):
    pipe = catalogue.pipeline(hs, "default")
    record = writes.update_deal_stage(hs, portal.ids["deal"], "contractsent", pipe)
    assert record.get("dealstage") == "contractsent"
    assert portal.objects["deals"][portal.ids["deal"]].properties["dealstage"] == "contractsent"


def test_unknown_stage_or_pipeline_is_refused_before_writing(hubspot_server, hs, portal):
    pipe = catalogue.pipeline(hs, "default")
    with pytest.raises(HubSpotPipelineMissing) as err:
        writes.update_deal_stage(hs, portal.ids["deal"], "negotiation", pipe)
    assert "no stage 'negotiation'" in str(err.value) and "contractsent" in str(err.value)
    assert "POST batch_update" not in hubspot_server.stats.by_route
    portal.remove_pipeline("default")
    portal.add_pipeline("enterprise", "Enterprise", [("discovery", "Discovery", "0.1")])
    with pytest.raises(HubSpotPipelineMissing) as err:
        catalogue.pipeline(hs, "default")
    assert "no deals pipeline 'default'" in str(err.value) and "enterprise (Enterprise)" in str(err.value)


def test_note_is_associated_to_contact_company_and_deal(hubspot_server, hs, portal):
    when = datetime(2026, 1, 4, 15, 30, tzinfo=UTC)
    note_id = writes.create_note(hs, "Call with Ann: budget approved.", when, contact_ids=[portal.ids["ann"]],
                                 company_ids=[portal.ids["acme"]], deal_ids=[portal.ids["deal"]])
    note = portal.objects["notes"][note_id]
    assert note.properties["hs_note_body"] == "Call with Ann: budget approved."
    assert note.properties["hs_timestamp"] == "2026-01-04T15:30:00.000Z"
    assert portal.linked("notes", note_id, "contacts") == [portal.ids["ann"]]
    assert portal.linked("notes", note_id, "companies") == [portal.ids["acme"]]
    assert portal.linked("notes", note_id, "deals") == [portal.ids["deal"]]
    assert portal.linked("deals", portal.ids["deal"], "notes") == [note_id]
    assert hubspot_server.stats.by_route == {"POST create_object": 1}  # one request, associations inline


def test_a_retried_note_is_not_logged_twice(hubspot_server, hs, portal):
    when = datetime(2026, 1, 4, tzinfo=UTC)
    first = writes.create_note(hs, "n", when, contact_ids=[portal.ids["ann"]])
    again = writes.create_note(hs, "n", when, contact_ids=[portal.ids["ann"]], known_id=first)
    assert again == first and len(portal.objects["notes"]) == 1
    writes.archive(hs, "notes", first)
    third = writes.create_note(hs, "n", when, contact_ids=[portal.ids["ann"]], known_id=first)
    assert third != first and len(portal.live("notes")) == 1


def test_undo_restores_values_and_archives_what_was_created(hubspot_server, hs, portal):
    ann = portal.ids["ann"]
    writes.update_contacts(hs, {ann: {"jobtitle": "CRO", "phone": "+1 555 0100"}})
    created = writes.create_contact(hs, {"email": "eve@eps.io"}, company_name="Epsilon")
    note = writes.create_note(hs, "note", datetime(2026, 1, 5, tzinfo=UTC), contact_ids=[ann])

    writes.update_contacts(hs, {ann: {"jobtitle": "VP Sales", "phone": None}})  # the old values, pushed back
    assert writes.archive(hs, "notes", note)
    assert writes.archive(hs, "contacts", created.id)
    assert writes.archive(hs, "companies", created.company_id)
    assert not writes.archive(hs, "contacts", created.id)  # a repeated undo is a no-op

    props = portal.objects["contacts"][ann].properties
    assert (props["jobtitle"], props["phone"]) == ("VP Sales", "")
    assert [v for v, _, _ in portal.objects["contacts"][ann].history["jobtitle"]] == ["VP Sales", "CRO", "VP Sales"]
    with pytest.raises(HubSpotNotFound):
        hs.call("contacts", "basic_api", "get_by_id", created.id)
    with pytest.raises(HubSpotNotFound):
        writes.update_contacts(hs, {created.id: {"jobtitle": "x"}})
    assert created.id not in {r.id for r in mirror.read_all(hs, "contacts")}
    assert portal.linked("contacts", ann, "notes") == [note]  # the link stays, the note is archived
    assert writes.find_contact_by_email(hs, "eve@eps.io") is None
