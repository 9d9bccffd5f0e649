"""The field catalogue: parsing (clear errors for a bad file), the schema built from it, and custom fields
saved to the built-in CRM with history, conflicts and undo like the built-in fields."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from pydantic import ValidationError

from lib.core.errors import InvalidRecord
from lib.crm.builtin import BuiltinCrm
from lib.crm.fields import EMPTY, load_catalogue, parse_catalogue
from lib.crm.records import ProposedRow, SaveRequest
from lib.work.schemas import Extraction, extraction_model

ROOT = Path(__file__).resolve().parents[3]


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fields.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_the_default_catalogue_is_empty_and_the_meddicc_set_parses():
    assert not load_catalogue(None) and load_catalogue(None).fields == ()
    meddicc = load_catalogue("config/fields.meddicc.toml")
    assert meddicc.keys == ["metrics", "economic_buyer", "decision_criteria", "decision_process", "paper_process",
                            "pain", "champion", "competition"]
    criteria = meddicc.get("decision_criteria")
    assert criteria.type == "enumeration" and "security" in criteria.options and criteria.entity == "deal"
    assert criteria.hubspot_property == "meddicc_decision_criteria"


def test_bad_toml_is_a_clear_error_naming_the_file(tmp_path):
    path = _write(tmp_path, '[[field]]\nkey = "champion\nlabel = "x"\n')
    with pytest.raises(InvalidRecord, match=r"fields\.toml is not valid TOML"):
        load_catalogue(path)


def test_a_missing_named_file_says_which_setting_to_fix(tmp_path):
    with pytest.raises(InvalidRecord) as err:
        load_catalogue(tmp_path / "nope.toml")
    assert "does not exist" in str(err.value) and "SCRIBE_FIELD_CATALOGUE" in str(err.value)


@pytest.mark.parametrize(("body", "message"), [
    ('key = "Champion"\ntype = "text"', "must be a lower-case identifier"),
    ('key = "email"\ntype = "text"', "already taken"),
    ('key = "x"\ntype = "colour"', "is not one of text, number, date, enumeration, boolean"),
    ('key = "x"\ntype = "enumeration"', "needs its options"),
    ('key = "x"\ntype = "text"\nentity = "company"', "entity 'company' is not one of contact, deal"),
])
def test_a_bad_field_names_the_field_and_what_is_wrong(body, message):
    import tomllib

    with pytest.raises(InvalidRecord, match=message) as err:
        parse_catalogue(tomllib.loads("[[field]]\n" + body), "fields.toml")
    assert "fields.toml, field 1" in str(err.value)


def test_a_duplicate_key_is_refused():
    with pytest.raises(InvalidRecord, match="already taken"):
        parse_catalogue({"field": [{"key": "pain"}, {"key": "pain"}]})


def test_the_schema_is_widened_by_the_catalogue(tmp_path):
    catalogue = load_catalogue(_write(tmp_path, """
[[field]]
key = "competitor"
label = "Competitor"
description = "The competing vendor"
type = "text"

[[field]]
key = "seats"
label = "Seats"
type = "number"

[[field]]
key = "paper"
label = "Paper process"
type = "enumeration"
options = ["legal", "procurement"]

[[field]]
key = "signed_on"
label = "Signed on"
type = "date"

[[field]]
key = "renewal"
label = "Renewal"
type = "boolean"
"""))
    assert extraction_model(EMPTY) is Extraction
    model = extraction_model(catalogue)
    schema = model.model_json_schema()
    person = next(v for k, v in schema["$defs"].items() if k == "ExtractedPerson")
    assert {"competitor", "seats", "paper", "signed_on", "renewal"} <= set(person["properties"])
    assert "The competing vendor" in person["properties"]["competitor"]["anyOf"][0].get("description", "") or \
        "The competing vendor" in person["properties"]["competitor"].get("description", "")
    ok = model.model_validate({"people": [{"name": "Ann", "confidence": 0.9, "paper": "legal", "seats": 40,
                                           "signed_on": "2026-12-01", "renewal": True,
                                           "evidence": [{"field": "paper", "quote": "legal"}]}]})
    assert ok.people[0].paper == "legal" and ok.people[0].signed_on == date(2026, 12, 1)
    with pytest.raises(ValidationError):
        model.model_validate({"people": [{"name": "Ann", "confidence": 0.9, "paper": "marketing"}]})


def test_custom_fields_on_the_builtin_crm_are_saved_with_history_conflicts_and_undo(database):
    catalogue = parse_catalogue({"field": [
        {"key": "champion", "label": "Champion", "type": "text", "entity": "deal"},
        {"key": "seats", "label": "Seats", "type": "number", "entity": "contact"}]})
    crm = BuiltinCrm(database, catalogue)
    crm.seed_if_empty()
    deal = crm.deal_for_contact(1)
    saved = crm.save(SaveRequest(review_key="r1", user="dana", rows=[ProposedRow(
        contact_id=1, values={"champion": "Linda Park", "seats": 60}, seen={"champion": None, "seats": None},
        evidence={"champion": "Linda will push it internally"}, call_id="call_1")]))
    assert crm.custom_values("deal", deal.id) == {"champion": "Linda Park"}
    assert crm.custom_values("contact", 1) == {"seats": "60"}
    history = {c.field: c for c in crm.history(saved.change_set_id)}
    assert history["custom.champion"].evidence == "Linda will push it internally"
    assert history["custom.champion"].call_id == "call_1"

    stale = crm.save(SaveRequest(review_key="r2", user="dana", rows=[ProposedRow(
        contact_id=1, values={"champion": "Tom Baker"}, seen={"champion": None})]))  # the rep saw it empty
    assert [(c.field, c.current, c.proposed) for c in stale.conflicts] == [("champion", "Linda Park", "Tom Baker")]
    assert crm.custom_values("deal", deal.id)["champion"] == "Linda Park"

    with pytest.raises(InvalidRecord, match="is not a number"):
        crm.save(SaveRequest(review_key="r3", user="dana", rows=[ProposedRow(contact_id=1, values={"seats": "many"})]))

    crm.undo(saved.change_set_id, "dana")
    assert crm.custom_values("deal", deal.id)["champion"] is None and crm.custom_values("contact", 1)["seats"] is None
