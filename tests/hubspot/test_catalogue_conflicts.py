"""The portal's catalogue (pipelines, stages, properties) and the conflict check before a write."""

from __future__ import annotations

import ast
from pathlib import Path

from lib.crm.hubspot import catalogue, conflicts, writes

# Scribe's stages (lib.schemas.STAGES; spelled out so this package's tests survive the regrouping)
STAGES = ["lead", "qualified", "demo", "proposal", "negotiation", "closed_won", "closed_lost"]


def test_pipelines_and_the_suggested_stage_mapping(hubspot_server, hs):
    hubspot_server.portal.add_pipeline("partners", "Partner deals", [
        ("p_lead", "Lead", "0.1"), ("p_demo", "Demo done", "0.3"), ("p_nego", "Negotiation", "0.7"),
        ("closedwon", "Won", "1.0")])
    pipes = catalogue.pipelines(hs)
    assert [p.id for p in pipes] == ["default", "partners"]
    default = pipes[0]
    assert [s.id for s in default.stages][:2] == ["appointmentscheduled", "qualifiedtobuy"]
    assert default.stage("closedwon").is_closed and not default.stage("contractsent").is_closed
    assert catalogue.suggest_stage_mapping(default, STAGES)["negotiation"] == "contractsent"
    mapping = catalogue.suggest_stage_mapping(pipes[1], STAGES)
    assert mapping == {"lead": "p_lead", "qualified": None, "demo": "p_demo", "proposal": None,
                       "negotiation": "p_nego", "closed_won": "closedwon", "closed_lost": None}


def test_properties_for_the_field_catalogue(hubspot_server, hs):
    hubspot_server.portal.add_property(
        "deals", "meddicc_decision_process", "Decision process", "enumeration", "select",
        options=[("known", "Known"), ("unknown", "Unknown")], description="How the buyer decides")
    props = {p.name: p for p in catalogue.properties(hs, "deals")}
    custom = props["meddicc_decision_process"]
    assert (custom.label, custom.type, custom.field_type, custom.options) == (
        "Decision process", "enumeration", "select", (("known", "Known"), ("unknown", "Unknown")))
    assert custom.description == "How the buyer decides" and not custom.hubspot_defined
    assert props["hs_lastmodifieddate"].read_only and props["dealstage"].hubspot_defined


def test_check_writable_names_every_missing_or_read_only_property(hubspot_server, hs):
    import pytest

    from lib.crm.hubspot.errors import HubSpotUnknownProperty

    catalogue.check_writable(hs, "contacts", ["jobtitle", "phone"])
    with pytest.raises(HubSpotUnknownProperty) as err:
        catalogue.check_writable(hs, "deals", ["dealstage", "meddicc_champion", "meddicc_metrics"])
    assert err.value.properties == ["meddicc_champion", "meddicc_metrics"]
    known = catalogue.properties(hs, "contacts")
    before = hubspot_server.stats.requests
    with pytest.raises(HubSpotUnknownProperty) as err:
        catalogue.check_writable(hs, "contacts", ["lastmodifieddate"], known=known)
    assert "read-only" in str(err.value) and hubspot_server.stats.requests == before


def test_a_change_made_in_hubspot_after_the_review_is_a_conflict(hubspot_server, hs):
    portal = hubspot_server.portal
    ann = portal.seed("contacts", {"email": "ann@acme.com", "jobtitle": "VP Sales", "phone": "1"})
    gone = portal.seed("contacts", {"email": "gone@acme.com", "jobtitle": "CEO"})
    reviewed = {ann: {"jobtitle": "VP Sales", "phone": "1"}, gone: {"jobtitle": "CEO"}}
    built_at = hubspot_server.clock.now()
    hubspot_server.clock.advance(120)
    portal.touch("contacts", ann, {"jobtitle": "CRO"})          # a colleague, in HubSpot's UI
    writes.archive(hs, "contacts", gone)

    current = conflicts.current_values(hs, "contacts", [ann, gone], ["jobtitle", "phone"])
    assert set(current) == {ann}
    assert current[ann]["jobtitle"].value == "CRO" and current[ann]["jobtitle"].timestamp > built_at
    assert current[ann]["jobtitle"].source == "CRM_UI"
    found = conflicts.conflicts("contacts", reviewed, current, built_at)
    assert [(c.id, c.property, c.review_value, c.current_value) for c in found] == [
        (ann, "jobtitle", "VP Sales", "CRO"), (gone, "jobtitle", "CEO", None)]
    assert found[0].changed_at > built_at


def test_current_values_read_50_per_request_with_history(hubspot_server, hs):
    ids = [hubspot_server.portal.seed("contacts", {"email": f"h{i}@x.io"}) for i in range(120)]
    current = conflicts.current_values(hs, "contacts", ids, ["email"])
    assert len(current) == 120 and hubspot_server.stats.by_route == {"POST batch_read": 3}


def test_lib_hubspot_imports_nothing_from_lib_but_errors():
    package = Path(__file__).resolve().parents[2] / "lib" / "hubspot"
    for path in package.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else (
                [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            for name in names:
                if name == "lib" or name.startswith("lib."):
                    assert name == "lib.core.errors" or name.startswith("lib.crm.hubspot"), f"{path.name} imports {name}"
