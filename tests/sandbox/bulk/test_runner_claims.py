"""Two processes on one Postgres database working bulk jobs: no item is worked twice, a dead process's
items are taken over once its lease has lapsed, a job another live process works is not resumed, and a
cancel asked in one process stops the job in the process that works it; two processes polling one
batch job import its results once.

Each "process" is a JobManager with its own owner name and its own connection pool (its own
PostgresDatabase on the same URL), against the real-clock sandbox."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from lib.bulk import input as bulk_input
from lib.bulk.jobs import JobStore
from lib.bulk.manager import JobManager
from lib.bulk.runner import JobTemplate
from lib.claude.gateway import Gateway
from lib.core.errors import InputRejected
from lib.services import open_database
from lib.usage.log import UsageLog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "notes" / "sample_notes.csv"
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def notes():
    return bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name).rows


@pytest.fixture
def process(postgres_url, sandbox_realtime, tmp_path):
    """process(owner) -> a JobManager of its own on the shared Postgres database."""
    made = []

    def make(owner: str, **options) -> JobManager:
        db = open_database(postgres_url, local_path=tmp_path / owner.replace(":", "_"))
        gateway = Gateway(UsageLog(db), api_key="sk-test-claims", base_url=sandbox_realtime.base_url,
                          backend="sandbox")
        manager = JobManager(gateway, db, concurrency=4, owner=owner, **options)
        made.append((manager, db))
        return manager

    yield make
    for manager, db in made:
        manager.shutdown(wait=True)
        db.close()


def sent(sandbox) -> int:
    return len([e for e in sandbox.journal if e["path"] == "/v1/messages"])


def counts(manager, job_id):
    return manager.store.db.cursor().execute(
        "SELECT count(*), count(DISTINCT item_no), count(claimed_by) FROM job_items "
        "WHERE job_id = ? AND status IN ('succeeded', 'failed')", [job_id]).fetchone()


def template(manager, job_id) -> JobTemplate:
    job = manager.store.job(job_id)
    return JobTemplate(job_id=job_id, user=job.user, model=job.model, max_tokens=job.max_tokens)


def test_two_processes_working_one_job_do_every_item_exactly_once(process, notes, sandbox_realtime):
    first, second = process("host:1:first"), process("host:2:second")
    job_id = first.start_live(notes * 2, user="dana", model=MODEL)
    assert second.runner.work(template(second, job_id)) > 0  # the second claims what the first has not
    assert first.runner.wait_idle(timeout_s=120) and second.runner.wait_idle(timeout_s=120)
    assert first.runner.stats.sent > 0 and second.runner.stats.sent > 0  # both worked it
    assert sent(sandbox_realtime) == 40  # each note sent once, by one of them
    assert counts(first, job_id) == (40, 40, 0)  # every item over, every claim given back
    job = first.store.job(job_id)
    assert job.status == "done" and job.done == 40
    rows = first.store.db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
    assert rows == sent(sandbox_realtime)


def test_a_dead_process_items_are_taken_over_once_its_lease_has_lapsed(process, notes, sandbox_realtime):
    survivor = process("host:2:survivor")
    long_ago = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=120)
    dead = JobStore(survivor.store.db, "host:1:dead", lease_s=60, now=lambda: long_ago)  # its clock: 2 minutes ago
    job_id = dead.create_job(kind="live", user="dana", model=MODEL, rows=notes[:10], max_tokens=4000)
    assert len(dead.claim_items(job_id, 6)) == 6  # claimed, then the process died: nothing renews its lease

    restarted = process("host:3:restarted")  # a start marks the job interrupted: its heartbeat is stale
    assert job_id in restarted.interrupted_on_start
    assert restarted.resume_job(job_id) == 10
    assert restarted.runner.wait_idle(timeout_s=120)
    assert restarted.store.job(job_id).status == "done" and sent(sandbox_realtime) == 10
    assert counts(restarted, job_id) == (10, 10, 0)


def test_a_job_another_live_process_works_is_not_resumed_here(process, notes, sandbox_realtime):
    sandbox_realtime.configure(ttft_ms=300, tokens_per_s=400)  # the first process is still at it below
    first, second = process("host:1:first"), process("host:2:second")
    job_id = first.start_live(notes, user="dana", model=MODEL)
    first.store.set_status(job_id, "interrupted", error="say someone marked it")  # status alone is not enough
    with pytest.raises(InputRejected, match=r"being worked by another process \(host:1:first, last seen"):
        second.resume_job(job_id)
    assert not second.runner.outstanding(job_id)
    first.cancel(job_id)
    assert first.runner.wait_idle(timeout_s=120)


def test_a_cancel_asked_in_one_process_stops_the_job_where_it_runs(process, notes, sandbox_realtime):
    sandbox_realtime.configure(ttft_ms=300, tokens_per_s=400)
    worker, other = process("host:1:worker"), process("host:2:page")
    worker.runner.heartbeat_s = 0.1  # the cancel arrives at the next heartbeat
    job_id = worker.start_live(notes * 2, user="dana", model=MODEL)
    other.cancel(job_id)  # e.g. the Bulk page on another replica
    assert other.store.job(job_id).status == "canceling"  # the worker's items are left to the worker
    assert worker.runner.wait_idle(timeout_s=120)
    job = worker.store.job(job_id)
    assert job.status == "canceled" and job.done == 40 and sent(sandbox_realtime) < 40
    assert counts(worker, job_id) == (40, 40, 0)


def test_two_processes_polling_one_batch_job_import_it_once(postgres_url, sandbox, notes, tmp_path):
    import threading

    made = []
    for owner in ("host:1:page", "host:2:cron"):
        db = open_database(postgres_url, local_path=tmp_path / owner.replace(":", "_"))
        gateway = Gateway(UsageLog(db), api_key="sk-test-claims", base_url=sandbox.base_url, backend="sandbox")
        made.append((JobManager(gateway, db, owner=owner), db))
    (first, _), (second, _) = made
    try:
        job_id = first.start_batch(notes, user="dana", model=MODEL)
        sandbox.clock.advance(3.0)  # the batch has ended
        start = threading.Barrier(2)

        def poll(manager):
            start.wait()
            manager.refresh_batches(job_id)

        threads = [threading.Thread(target=poll, args=(m,)) for m in (first, second)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        job = second.store.job(job_id)
        assert job.status == "done" and job.done == len(notes)
        rows = first.store.db.cursor().execute("SELECT count(*) FROM usage_log WHERE batch_id IS NOT NULL").fetchone()
        assert rows[0] == len(notes)  # each result logged once, not once per poller
    finally:
        for manager, db in made:
            manager.shutdown(wait=True)
            db.close()
