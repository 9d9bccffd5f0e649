"""Structured outputs: messages.parse with a pydantic model, and raw JSON schemas, filled from the text."""

from __future__ import annotations

import json
from datetime import date

from lib.crm.records import DealStage, FieldName  # the schema the app really sends
from lib.work.schemas import Extraction

MODEL = "claude-haiku-4-5"


def test_parse_extracts_people_from_a_sales_note(sandbox_client, sales_note):
    parsed = sandbox_client.messages.parse(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": sales_note}],
        output_format=Extraction,
    )
    result = parsed.parsed_output
    assert isinstance(result, Extraction)
    dana, raj = result.people
    assert (dana.name, dana.email, dana.company, dana.title) == (
        "Dana Whitfield",
        "dana.whitfield@acmecorp.com",
        "Acme Corp",
        "VP of Sales",
    )
    assert dana.phone == "+1 (415) 555-0142"
    assert dana.amount == 48_000.0
    assert dana.deal_stage is DealStage.proposal
    assert dana.next_step_date == date(2026, 11, 24)  # "next Tuesday" from the note's Thursday 2026-11-19
    assert (raj.name, raj.email, raj.company, raj.title) == (
        "Raj Patel",
        "raj.patel@globex.io",
        "Globex Industries",
        "Head of Procurement",
    )
    assert raj.amount == 12_500.0 and raj.deal_stage is DealStage.demo
    assert raj.next_step_date == date(2026, 11, 20)  # "by Friday"
    assert raj.phone is None
    assert 0 < raj.confidence <= dana.confidence <= 1


def test_evidence_quotes_are_verbatim_sentences(sandbox_client, sales_note):
    parsed = sandbox_client.messages.parse(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": sales_note}],
        output_format=Extraction,
    )
    dana = parsed.parsed_output.people[0]
    fields = {e.field for e in dana.evidence}
    assert fields == set(FieldName)
    for item in dana.evidence:
        assert item.quote in sales_note
    quotes = {e.field: e.quote for e in dana.evidence}
    assert "next Tuesday" in quotes[FieldName.next_step_date]
    assert "$48,000" in quotes[FieldName.amount]


def test_parse_without_people_still_validates(sandbox_client):
    parsed = sandbox_client.messages.parse(
        model=MODEL,
        max_tokens=500,
        messages=[{"role": "user", "content": "nothing to see here"}],
        output_format=Extraction,
    )
    assert parsed.parsed_output == Extraction(people=[])


def test_raw_json_schema_with_enums_arrays_and_formats(sandbox_client, sales_note):
    schema = {
        "type": "object",
        "properties": {
            "contact_email": {"type": "string", "format": "email"},
            "follow_up": {"type": "string", "format": "date"},
            "stage": {"type": "string", "enum": ["lead", "demo", "proposal", "closed_won"]},
            "emails": {"type": "array", "items": {"type": "string"}},
            "sentiment": {"enum": ["positive", "neutral", "negative"]},
            "seats": {"type": "integer"},
            "is_decision_maker": {"type": "boolean"},
            "summary": {"type": "string"},
            "nothing": {"type": "null"},
            "maybe": {"anyOf": [{"type": "integer"}, {"type": "null"}]},
        },
        "required": [
            "contact_email",
            "follow_up",
            "stage",
            "emails",
            "sentiment",
            "seats",
            "is_decision_maker",
            "summary",
            "nothing",
            "maybe",
        ],
        "additionalProperties": False,
    }
    message = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=2000,
        messages=[{"role": "user", "content": sales_note}],
        output_config={"format": {"type": "json_schema", "schema": schema}},
    )
    assert len(message.content) == 1
    data = json.loads(message.content[0].text)
    assert set(data) == set(schema["properties"])
    assert data["contact_email"] == "dana.whitfield@acmecorp.com"
    assert data["follow_up"] == "2026-11-24"
    assert data["stage"] == "proposal"
    assert data["emails"] == ["dana.whitfield@acmecorp.com", "raj.patel@globex.io"]
    assert data["sentiment"] in ("positive", "neutral", "negative")
    assert data["seats"] == 40
    assert isinstance(data["is_decision_maker"], bool)
    assert data["summary"] and data["nothing"] is None and data["maybe"] is None


def test_legacy_output_format_and_refs(sandbox_client):
    schema = {
        "$defs": {
            "Item": {
                "type": "object",
                "properties": {
                    "task": {"type": "string"},
                    "due_date": {"anyOf": [{"type": "string", "format": "date"}, {"type": "null"}]},
                },
                "required": ["task", "due_date"],
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {"action_items": {"type": "array", "items": {"$ref": "#/$defs/Item"}}},
        "required": ["action_items"],
        "additionalProperties": False,
    }
    note = (
        "Date: 2026-11-19\nWe will send the contract tomorrow. Priya will schedule the kickoff in two weeks."
    )
    message = sandbox_client.messages.create(
        model=MODEL,
        max_tokens=1000,
        messages=[{"role": "user", "content": note}],
        extra_body={"output_format": {"type": "json_schema", "schema": schema}},
    )
    data = json.loads(message.content[0].text)
    assert [item["due_date"] for item in data["action_items"]] == ["2026-11-20", "2026-12-03"]
    assert data["action_items"][0]["task"] == "We will send the contract tomorrow."


def test_stream_parse(sandbox_client, sales_note):
    with sandbox_client.messages.stream(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": sales_note}],
        output_format=Extraction,
    ) as stream:
        final = stream.get_final_message()
    assert [p.name for p in final.parsed_output.people] == ["Dana Whitfield", "Raj Patel"]
