"""Saving a review reports its outcomes to the usage side; an undo or a revert takes them back."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from lib.crm.builtin import BuiltinCrm
from lib.crm.records import ProposedRow, SaveRequest
from lib.usage.log import UsageLog, UsageRecord
from lib.usage.outcomes import OutcomeLog
from lib.work import saving


@pytest.fixture
def db(database):
    """On DuckDB and on Postgres."""
    return database


@pytest.fixture
def crm(db):
    store = BuiltinCrm(db)
    store.seed_if_empty()
    return store


def call(db, call_id):
    UsageLog(db).write(UsageRecord(ts=datetime.now(UTC), backend="sandbox", model="claude-sonnet-4-6",
                                   feature="extract", user="dana", status="ok", call_id=call_id,
                                   input_tokens=100, output_tokens=50, cost_usd=Decimal("0.01")))


def test_a_save_counts_its_fields_and_an_undo_takes_them_back(db, crm):
    call(db, "x1")
    outcomes = OutcomeLog(db)
    row = ProposedRow(contact_id=1, values={"title": "COO", "phone": "+1 312 555 9999"}, call_id="x1")
    request = SaveRequest(review_key="r1", user="dana", rows=[row])
    saved = saving.save_review(crm, outcomes, request)
    assert outcomes.counted(saved.change_set_id)["x1"].fields == 2
    assert outcomes.counted(saved.change_set_id)["x1"].contacts == 1
    again = saving.save_review(crm, outcomes, request)  # the same review saved twice: counted once
    assert again.already_saved and outcomes.counted(saved.change_set_id)["x1"].fields == 2
    phone = next(c for c in crm.history(saved.change_set_id) if c.field == "phone")
    saving.revert_change(crm, outcomes, phone.id, "dana")
    assert outcomes.counted(saved.change_set_id)["x1"].fields == 1
    saving.undo_save(crm, outcomes, saved.change_set_id, "dana")
    assert outcomes.counted(saved.change_set_id) == {}
