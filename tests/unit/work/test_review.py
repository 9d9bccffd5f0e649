"""The review grid's model: matching, current vs proposed, checks, and what a save would write."""

from datetime import date

import pytest

from lib.claude.gateway import CallResult
from lib.crm.builtin import BuiltinCrm
from lib.services import open_database
from lib.work.extraction import NoteExtraction, note_date_of, split_notes
from lib.work.review import (
    CHOOSE,
    CREATE_NEW,
    apply_edits,
    blocking_problems,
    build_review,
    contact_id_of,
    refresh_checks,
    to_save_request,
)
from lib.work.schemas import Evidence, ExtractedPerson


@pytest.fixture
def crm(hermetic_env):
    store = BuiltinCrm(open_database(hermetic_env))
    store.seed_if_empty()
    return store


def person(**over):
    base = dict(name="John Smith", email=None, company="Acme Corp", title="VP Operations", phone=None,
                deal_stage="proposal", next_step="Send proposal", next_step_date=date(2026, 11, 20),
                amount=48000.0, confidence=0.9,
                evidence=[Evidence(field="deal_stage", quote="moving to proposal")])
    return ExtractedPerson(**(base | over))


def extraction(*people):
    note = "Date: 2026-11-19\nDemo with Acme."
    return NoteExtraction(note=note, note_date=date(2026, 11, 19), people=list(people),
                          result=CallResult(call_id="call-x", backend="sandbox", model="m", request_id="req_x"))


def test_rows_are_matched_with_current_values_beside_proposed(crm):
    review = build_review([extraction(person(), person(name="Tom Baker", email="tom.baker@acme.com",
                                                       title="IT"))], crm)
    john, tom = review.frame.iloc[0], review.frame.iloc[1]
    assert contact_id_of(john["contact"]) == 1 and john["accept"]
    assert john["title_crm"] == "VP Operations" and john["deal_stage_crm"] == "demo"
    assert john["locked"] == "next_step"  # dana typed the next step by hand
    assert tom["contact"] == CREATE_NEW and tom["accept"]


def test_ambiguous_rows_wait_for_a_choice(crm):
    review = build_review([extraction(person(name="Sarah", company="Umbrella", title=None))], crm)
    row = review.frame.iloc[0]
    assert row["contact"] == CHOOSE and not row["accept"]
    assert {contact_id_of(o) for o in review.meta[0].options} >= {13, 14}
    review.frame.at[0, "accept"] = True
    assert blocking_problems(review) == ["Sarah: choose a contact or 'Create new'"]


def test_save_request_keeps_only_accepted_changed_values_and_their_evidence(crm):
    review = build_review([extraction(person(), person(name="Linda Park", company="Acme Corp.",
                                                       title="CFO", deal_stage=None, next_step=None,
                                                       next_step_date=None, amount=None))], crm)
    review.frame.at[1, "accept"] = False
    request = to_save_request(review, "dana")
    (row,) = request.rows
    assert row.contact_id == 1 and row.call_id == "call-x" and row.note.startswith("Date:")
    assert row.values == {"deal_stage": "proposal", "next_step": "Send proposal",
                          "next_step_date": date(2026, 11, 20)}  # title, amount and company are unchanged
    assert row.evidence == {"deal_stage": "moving to proposal"}


def test_editing_the_contact_refreshes_current_values(crm):
    review = build_review([extraction(person(name="John Smith", company=None))], crm)
    other = next(o for o in review.contact_options if contact_id_of(o) == 2)
    apply_edits(review, {0: {"contact": other, "email": "bad@", "accept": True}}, crm)
    row = review.frame.iloc[0]
    assert row["title_crm"] == "Head of Procurement"
    assert "'bad@' is not an email address" in row["check"]


def test_checks_flag_bad_stage_and_new_contact_without_name(crm):
    review = build_review([extraction(person(name="Tom Baker", email="t@acme.com"))], crm)
    review.frame.at[0, "deal_stage"] = "won"
    review.frame.at[0, "name"] = " "
    refresh_checks(review)
    assert "not a stage" in review.frame.at[0, "check"] and "needs a name" in review.frame.at[0, "check"]


def test_note_helpers():
    assert note_date_of("Date: 2026-11-19\nRep: dana") == date(2026, 11, 19)
    assert note_date_of("Date: 2026-02-30") is None and note_date_of("no header") is None
    assert split_notes("a\n---\nb\n\n-----\n") == ["a", "b"]
