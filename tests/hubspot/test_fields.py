"""Scribe's fields <-> HubSpot properties, and a round trip through the test server."""

from __future__ import annotations

import pytest

from lib.crm.hubspot import catalogue, fields, mirror, writes
from lib.crm.hubspot.errors import HubSpotPipelineMissing

STAGES = ["lead", "qualified", "demo", "proposal", "negotiation", "closed_won", "closed_lost"]


@pytest.mark.parametrize(("name", "split"), [("Ann Lee", ("Ann", "Lee")), ("Lee, Ann", ("Ann", "Lee")),
                                             ("Cher", ("Cher", "")), (" Mary  Ann  Lee ", ("Mary", "Ann Lee")),
                                             (None, ("", ""))])
def test_split_name(name, split):
    assert fields.split_name(name) == split


def test_contact_round_trip(hubspot_server, hs):
    portal = hubspot_server.portal
    portal.add_property("contacts", "meddicc_champion", "Champion")
    acme = portal.seed("companies", {"name": "Acme"})
    ann = portal.seed("contacts", {"email": "ann@acme.com"})
    props = fields.contact_properties({"name": "Ann Lee", "title": "CTO", "phone": "+1 555", "company": "Acme",
                                       "champion": "yes"}, extra={"champion": "meddicc_champion"})
    assert props == {"firstname": "Ann", "lastname": "Lee", "jobtitle": "CTO", "phone": "+1 555",
                     "meddicc_champion": "yes"}
    writes.update_contacts(hs, {ann: props})
    writes.associate(hs, "contacts", ann, "companies", acme)
    record, = mirror.read_records(hs, "contacts", [ann])
    assert fields.contact_values(record, {acme: "Acme"}) == {
        "name": "Ann Lee", "email": "ann@acme.com", "phone": "+1 555", "title": "CTO", "company": "Acme"}


def test_deal_stage_goes_through_the_mapping(hubspot_server, hs):
    deal = hubspot_server.portal.seed("deals", {"dealname": "D", "dealstage": "qualifiedtobuy"})
    mapping = catalogue.suggest_stage_mapping(catalogue.pipeline(hs, "default"), STAGES)
    writes.update_records(hs, "deals", {deal: fields.deal_properties(
        {"deal_stage": "negotiation", "amount": 1200, "next_step": "Send MSA"}, mapping)})
    record, = mirror.read_records(hs, "deals", [deal], properties=["dealstage", "amount", "hs_next_step"])
    assert fields.deal_values(record, mapping) == {"deal_stage": "negotiation", "amount": "1200",
                                                   "next_step": "Send MSA"}
    with pytest.raises(HubSpotPipelineMissing):
        fields.deal_properties({"deal_stage": "demo"}, {"demo": None})
