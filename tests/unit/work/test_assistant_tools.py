"""The assistant's CRM tools on the sample CRM: compact results, useful is_error messages, no writes."""

import json

import pytest

from lib.crm.builtin import BuiltinCrm
from lib.work.assistant_tools import CrmTools


@pytest.fixture
def crm(database):
    store = BuiltinCrm(database)
    store.seed_if_empty()
    return store


@pytest.fixture
def tools(crm):
    return CrmTools(crm)


def counts(crm):
    cur = crm.db.cursor()
    return [cur.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # noqa: S608
            for t in ("contacts", "deals", "interactions", "field_history", "change_sets")]


def test_lookup_contact_gives_the_last_activity_and_the_deal(tools):
    out = tools.run("lookup_contact", {"email": "John.Smith@acme.com "})
    data = json.loads(out.content)
    assert not out.is_error and data["contact_id"] == 1 and data["name"] == "John Smith"
    assert data["last_activity"] == "2026-09-11 email: Replied to questions on data residency (EU hosting)."
    assert data["deal"] == "Acme Corp. – Fleet telemetry pilot · stage demo · $48,000 (deal_id 1)"
    assert list(data)[:6] == ["contact_id", "name", "title", "company", "email", "last_activity"]


def test_nothing_found_is_an_error_that_says_what_to_try(tools, crm):
    out = tools.run("lookup_contact", {"email": "nobody@nowhere.io"})
    assert out.is_error and out.content == ("No contact with email nobody@nowhere.io; try search_contacts with their "
                                            "name or company.")
    assert tools.run("search_contacts", {"query": "zzqx"}).is_error
    no_deal = crm.db.cursor().execute(
        "SELECT min(id) FROM contacts WHERE id NOT IN (SELECT contact_id FROM deals WHERE contact_id IS NOT NULL)"
    ).fetchone()[0]
    out = tools.run("get_deal", {"contact_id": no_deal})
    assert out.is_error and out.content == f"Contact {no_deal} has no deal in the CRM."
    missing = tools.run("recent_interactions", {"contact_id": 999999, "limit": 5})
    assert missing.is_error and "No contact with id 999999" in missing.content


def test_bad_input_and_unknown_tools_are_errors_not_exceptions(tools):
    assert "must be a number" in tools.run("get_deal", {"contact_id": "one"}).content
    wrong = tools.run("get_deal", {"id": 1})
    assert wrong.is_error and "wrong arguments" in wrong.content
    unknown = tools.run("delete_everything", {})
    assert unknown.is_error and "Unknown tool" in unknown.content


def test_search_falls_back_to_single_words(tools):
    data = json.loads(tools.run("search_contacts", {"query": "Bob Chen"}).content)
    assert {"Robert Chen", "Emily Chen"} <= {c["name"] for c in data}
    assert all(set(c) <= {"contact_id", "name", "title", "company", "email"} for c in data)


def test_recent_interactions_and_the_pipeline(tools):
    items = json.loads(tools.run("recent_interactions", {"contact_id": 1, "limit": 99}).content)
    assert [i["date"] for i in items] == sorted((i["date"] for i in items), reverse=True)
    pipeline = json.loads(tools.run("pipeline_summary", {}).content)
    assert list(pipeline)[:2] == ["lead", "qualified"]
    assert pipeline["open_pipeline"].startswith("39 deal(s), $")


def test_propose_change_checks_the_values_and_writes_nothing(tools, crm):
    before = counts(crm)
    out = tools.run("propose_change", {"contact_id": 1, "changes": {"deal_stage": "closed_won"}, "reason": "signed"})
    assert not out.is_error and json.loads(out.content)["status"] == "proposed, NOT saved"
    assert out.proposal["changes"] == {"deal_stage": "closed_won"} and out.proposal["current"] == {"deal_stage": "demo"}
    bad = tools.run("propose_change", {"contact_id": 1, "changes": {"deal_stage": "closed-won-ish"}})
    assert bad.is_error and "is not a pipeline stage" in bad.content
    assert tools.run("propose_change", {"contact_id": 1, "changes": {"owner": "me"}}).is_error
    assert tools.run("propose_change", {"contact_id": 1, "changes": {}}).is_error
    assert counts(crm) == before
