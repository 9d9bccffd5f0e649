"""Bulk enrichment through Message Batches on the sandbox: submit, end, import, review, save; and what fails."""

from decimal import Decimal
from pathlib import Path

import pytest

from lib.bulk import batches
from lib.bulk import input as bulk_input
from lib.bulk.manager import JobManager
from lib.bulk.runner import SimulatedTime
from lib.claude.gateway import Gateway
from lib.crm.builtin import BuiltinCrm
from lib.usage import pricing
from lib.usage.log import UsageLog
from lib.work.review import blocking_problems, build_review, problems, to_save_request

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "notes" / "sample_notes.csv"
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def notes():
    return bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name)


@pytest.fixture
def manager(sandbox, db):
    gateway = Gateway(UsageLog(db), api_key="sk-test-batch", base_url=sandbox.base_url, backend="sandbox")
    simulated = SimulatedTime(sandbox.clock.now, sandbox.clock.advance)
    jobs = JobManager(gateway, db, clock=simulated.now, sleep=simulated.sleep)
    simulated.attach(jobs.runner)
    yield jobs
    jobs.shutdown()


def batch_usage(db):
    return db.cursor().execute(
        "SELECT model, service_tier, batch_id, input_tokens, output_tokens, cache_read_input_tokens, "
        "cache_creation_input_tokens, cost_usd, feature, \"user\", status FROM usage_log ORDER BY id").fetchall()


def test_submit_end_import_review_save(sandbox, manager, notes, db):
    job_id = manager.start_batch(notes, user="dana", model=MODEL)
    job = manager.store.job(job_id)
    assert job.kind == "batch" and job.status == "submitted" and job.total == 20 and job.bad_rows == 3
    (batch_id,) = manager.store.batches(job_id)["batch_id"]
    assert manager.refresh_batches(job_id)[0].processing_status == "in_progress"
    assert manager.store.job(job_id).counts["submitted"] == 20

    sandbox.clock.advance(sandbox.config.batch_delay_s + 1)
    (ended,) = manager.refresh_batches(job_id)
    assert ended.processing_status == "ended" and ended.request_counts["succeeded"] == 20
    job = manager.store.job(job_id)
    assert job.status == "done" and job.done == 20 and job.succeeded >= 10
    assert all(reason for _, reason in manager.store.failures(job_id))

    rows = batch_usage(db)
    assert len(rows) == 20 and {r[1] for r in rows} == {"batch"} and {r[2] for r in rows} == {batch_id}
    assert {(r[8], r[9], r[10]) for r in rows} == {("batch", "dana", "ok")}
    for model, _, _, inp, out, read, write, cost, *_ in rows:
        usage = {"input_tokens": inp, "output_tokens": out, "cache_read_input_tokens": read,
                 "cache_creation_input_tokens": write}
        assert Decimal(str(cost)) == pricing.cost_usd(model, usage, batch=True)
        assert pricing.cost_usd(model, usage) == pytest.approx(2 * pricing.cost_usd(model, usage, batch=True),
                                                               abs=Decimal("1e-9"))
    assert manager.refresh_batches(job_id) == []  # imported once; nothing left to ask about
    assert len(batch_usage(db)) == 20

    crm = BuiltinCrm(db)
    crm.seed_if_empty()
    extractions = manager.store.extractions(job_id)
    review = build_review(extractions, crm)
    assert len(review.frame) == sum(len(e.people) for e in extractions) and len(review.notes) == job.succeeded
    for i, row in review.frame.iterrows():  # what a rep would untick: rows that cannot be saved as they are
        if row["accept"] and problems(row):
            review.frame.at[i, "accept"] = False
    assert not blocking_problems(review)
    saved = crm.save(to_save_request(review, "dana"))
    assert saved.changes > 0
    history = crm.history(saved.change_set_id)
    assert {h.actor for h in history} == {"ai"} and {h.approved_by for h in history} == {"dana"}
    call_ids = {e.result.call_id for e in extractions}
    assert {h.call_id for h in history if h.call_id} <= call_ids


def test_errored_expired_and_invalid_results_are_reported_and_can_be_resubmitted(sandbox, manager, notes, db):
    sandbox.script({"error": {"status": 400, "message": "bad params"}}, {"text": "this is not JSON"})
    job_id = manager.start_batch(notes.rows[:4], user="dana", model=MODEL)
    sandbox.clock.advance(sandbox.config.batch_delay_s + 1)
    manager.refresh_batches(job_id)
    kinds = manager.store.items(job_id, status="failed").set_index("item")["kind"].to_dict()
    assert kinds == {1: "errored", 2: "invalid"}
    assert "bad params" in manager.store.items(job_id, status="failed")["reason"].iloc[0]
    assert manager.store.job(job_id).succeeded == 2
    assert len(batch_usage(db)) == 3  # the invalid reply was billed, so it is logged; the errored one was not

    sandbox.configure(batch_delay_s=2 * 24 * 3600)  # a batch the API never gets to: it expires after 24 h
    assert manager.retryable(job_id) == [1, 2] and manager.retry_failed(job_id) == 2
    assert manager.store.job(job_id).status == "submitted"
    sandbox.clock.advance(24 * 3600 + 1)
    manager.refresh_batches(job_id)
    failed = manager.store.items(job_id, status="failed")
    assert list(failed["kind"]) == ["expired", "expired"] and "24 hours" in failed["reason"].iloc[0]

    sandbox.configure(batch_delay_s=2)
    assert manager.retry_failed(job_id) == 2
    sandbox.clock.advance(3)
    manager.refresh_batches(job_id)
    job = manager.store.job(job_id)
    assert job.status == "done" and job.succeeded == 4 and len(manager.store.batches(job_id)) == 3


def test_a_big_job_is_split_into_several_batches(sandbox, manager, notes):
    job_id = manager.start_batch(notes.rows[:7], user="dana", model=MODEL, max_requests=3)
    sent = manager.store.batches(job_id)
    assert list(sent["requests"]) == [3, 3, 1]
    sandbox.clock.advance(5)
    manager.refresh_batches(job_id)
    assert manager.store.job(job_id).done == 7


def test_canceling_a_batch_ends_its_notes_as_canceled(sandbox, manager, notes):
    job_id = manager.start_batch(notes.rows[:3], user="dana", model=MODEL)
    manager.cancel(job_id)
    assert manager.store.job(job_id).status == "canceling"
    sandbox.clock.advance(2)
    manager.refresh_batches(job_id)
    job = manager.store.job(job_id)
    assert job.status == "canceled" and job.failed == 3
    assert set(manager.store.items(job_id)["kind"]) == {"canceled"} and manager.retryable(job_id) == [1, 2, 3]


def test_results_of_another_job_are_not_imported(sandbox, manager, notes):
    first = manager.start_batch(notes.rows[:2], user="dana", model=MODEL)
    second = manager.start_batch(notes.rows[2:4], user="dana", model=MODEL)
    sandbox.clock.advance(5)
    other_batch = manager.store.batches(second)["batch_id"].iloc[0]
    summary = batches.import_results(manager.gateway, manager.store, first, other_batch)
    assert summary.succeeded == 0 and len(summary.unknown) == 2
