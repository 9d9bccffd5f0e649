"""The live runner on the sandbox's virtual clock: faults, every note accounted for, fairness, cancel, resume.

The tests that take `manager` run on DuckDB and on Postgres (the `database` fixture); those about a
process that stopped use the DuckDB file, where another owner is gone by definition."""

import threading
from collections import Counter
from pathlib import Path

import pytest

from lib.bulk import input as bulk_input
from lib.bulk.manager import JobManager
from lib.bulk.runner import SimulatedTime
from lib.claude.gateway import Gateway
from lib.core.errors import InputRejected
from lib.usage.log import UsageLog

SAMPLE = Path(__file__).resolve().parents[3] / "data" / "notes" / "sample_notes.csv"
KEY = "sk-test-runner"
MODEL = "claude-sonnet-4-6"


@pytest.fixture
def notes():
    return bulk_input.load(SAMPLE.read_bytes(), SAMPLE.name).rows


def make_manager(sandbox, db, *, key=KEY, concurrency=8, owner="this-process"):
    gateway = Gateway(UsageLog(db), api_key=key, base_url=sandbox.base_url, backend="sandbox")
    simulated = SimulatedTime(sandbox.clock.now, sandbox.clock.advance)
    manager = JobManager(gateway, db, concurrency=concurrency, clock=simulated.now, sleep=simulated.sleep,
                         owner=owner)
    simulated.attach(manager.runner)
    return manager


def after_third_result(manager, action):
    """Run `action` once the third result is stored (from the worker that stored it)."""
    real, stored = manager.store.succeed, []

    def succeed(*args, **kwargs):
        real(*args, **kwargs)
        stored.append(1)
        if len(stored) == 3:
            action()

    manager.store.succeed = succeed


@pytest.fixture
def manager(sandbox, database):
    jobs = make_manager(sandbox, database)
    yield jobs
    jobs.shutdown()


def usage_rows(db):
    return db.cursor().execute('SELECT status, "user", batch_id FROM usage_log ORDER BY id').fetchall()


def item_states(manager, job_id):
    return manager.store.db.cursor().execute(
        "SELECT status, error FROM job_items WHERE job_id = ? ORDER BY item_no", [job_id]).fetchall()


JOURNAL_TO_USAGE = {"ok": "ok", "fault_rate_limited": "429", "rate_limited": "429", "fault_overloaded": "529",
                    "fault_api_error": "500", "disconnect": "connection_error"}


def test_a_fault_run_ends_every_note_and_logs_every_attempt(sandbox, manager, notes):
    db = manager.store.db
    # the fault mix: 10% 429, 5% 529, 2% broken replies (a non-streamed call breaks as a dropped
    # connection: `event: error` only exists in streams, so midstream_error_rate alone would do nothing here)
    sandbox.configure(seed=5, rate_limit_rate=0.10, overload_rate=0.05, disconnect_rate=0.02, midstream_error_rate=0.02)
    job_id = manager.start_live(notes * 5, user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=120)
    job = manager.store.job(job_id)
    assert job.status == "done" and job.total == 100
    states = item_states(manager, job_id)
    assert {s for s, _ in states} <= {"succeeded", "failed"}
    assert all(error for status, error in states if status == "failed")  # a reason for every failure
    assert job.succeeded >= 70
    journal = [e for e in sandbox.journal if e["path"] == "/v1/messages"]
    seen = Counter(e["decision"] for e in journal)
    assert seen["fault_rate_limited"] >= 5 and seen["fault_overloaded"] >= 2 and seen["disconnect"] >= 1
    logged = Counter(status for status, _, _ in usage_rows(db))
    assert logged == Counter(JOURNAL_TO_USAGE[d] for d in (e["decision"] for e in journal))
    assert len(usage_rows(db)) == len(journal)  # one usage row per HTTP attempt, none missing


def test_a_reply_dropped_after_its_headers_is_logged_and_sent_again(sandbox, manager, notes):
    db = manager.store.db
    sandbox.script({"fault": {"kind": "disconnect", "after_events": 1}})  # non-streamed: dropped after the headers
    job_id = manager.start_live(notes[:1], user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=30)
    assert manager.store.job(job_id).succeeded == 1
    assert [s for s, _, _ in usage_rows(db)] == ["connection_error", "ok"]


def test_one_reps_big_job_does_not_starve_anothers_single_note(sandbox, manager, notes):
    db = manager.store.db
    sandbox.configure(rpm=60, burst_s=5, ttft_ms=50, tokens_per_s=4000)  # one request a second
    manager.start_live(notes + notes, user="ana", model=MODEL)
    manager.start_live(notes[:1], user="bo", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=120)
    served = [user for status, user, _ in usage_rows(db) if status == "ok"]
    assert served.index("bo") <= 8, served  # FIFO would serve bo 41st


def test_interactive_work_goes_ahead_of_everyones_bulk_work(sandbox, manager, notes):
    db = manager.store.db
    sandbox.configure(rpm=60, burst_s=5, ttft_ms=50, tokens_per_s=4000)
    manager.start_live(notes + notes, user="ana", model=MODEL)
    found = manager.extract_now(notes[0], user="cy", model=MODEL)
    assert found.people and found.result.record.user == "cy"
    assert manager.runner.wait_idle(timeout_s=120)
    served = [user for status, user, _ in usage_rows(db) if status == "ok"]
    assert served.index("cy") <= 8, served


def test_cancel_drops_what_was_not_sent_and_every_note_still_ends(sandbox, manager, notes):
    sandbox.configure(rpm=60, burst_s=2, ttft_ms=50, tokens_per_s=4000)
    after_third_result(manager, lambda: manager.cancel(job_id))  # not a race with the (virtual) clock
    job_id = manager.start_live(notes * 2, user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=60)
    job = manager.store.job(job_id)
    assert job.status == "canceled" and job.done == job.total == 40
    reasons = Counter(error for status, error in item_states(manager, job_id) if status == "failed")
    assert reasons["Canceled before it was sent."] >= 20
    assert len([e for e in sandbox.journal if e["path"] == "/v1/messages"]) < 40
    canceled = manager.retryable(job_id)  # canceled notes can be sent later
    assert len(canceled) >= 20 and manager.retry_failed(job_id) == len(canceled)
    assert manager.runner.wait_idle(timeout_s=60)
    job = manager.store.job(job_id)
    assert job.status == "done" and job.done == 40 and not manager.retryable(job_id)


def test_a_job_left_running_by_a_stopped_process_waits_to_be_resumed(sandbox, db, notes):
    first = make_manager(sandbox, db, owner="host:4242:gone")
    job_id = first.store.create_job(kind="live", user="dana", model=MODEL, rows=notes[:6], max_tokens=4000)
    first.store.mark(job_id, 1, "succeeded")  # finished before the process stopped
    first.store.mark(job_id, 2, "running", attempts=1)  # in flight when it stopped
    first.shutdown()
    second = make_manager(sandbox, db, owner="host:5151:new")
    try:
        assert second.interrupted_on_start == [job_id]
        job = second.store.job(job_id)
        assert job.status == "interrupted" and "pid 4242" in job.error
        assert not [e for e in sandbox.journal if e["path"] == "/v1/messages"]  # nothing sent by itself
        assert second.resume_job(job_id) == 5
        assert second.runner.wait_idle(timeout_s=60)
        job = second.store.job(job_id)
        assert job.status == "done" and job.done == 6 and job.error is None
        assert len([e for e in sandbox.journal if e["path"] == "/v1/messages"]) == 5  # not the finished one
    finally:
        second.shutdown()


def test_interrupting_keeps_unsent_items_queued_and_resume_sends_each_once(sandbox, manager, notes):
    sandbox.configure(ttft_ms=400)
    signalled = threading.Event()
    after_third_result(manager, lambda: (manager.runner.interrupt(job_id, "Interrupted by SIGTERM."),
                                         signalled.set()))
    job_id = manager.start_live(notes[:20], user="dana", model=MODEL)
    assert signalled.wait(60)
    manager.interrupt("Interrupted by SIGTERM.", grace_s=60)  # waits for the requests in flight
    assert manager.runner.wait_idle(timeout_s=60)
    job = manager.store.job(job_id)
    assert job.status == "interrupted" and job.error == "Interrupted by SIGTERM."
    assert 3 <= job.done < 20 and job.counts["queued"] == 20 - job.done  # none failed as canceled
    sent_before = len([e for e in sandbox.journal if e["path"] == "/v1/messages"])
    assert sent_before == job.done  # the requests in flight finished and were kept
    with pytest.raises(InputRejected):
        manager.resume_job("no-such-job")
    assert manager.resume_job(job_id) == 20 - job.done
    assert manager.runner.wait_idle(timeout_s=60)
    job = manager.store.job(job_id)
    assert job.status == "done" and job.done == 20
    assert len([e for e in sandbox.journal if e["path"] == "/v1/messages"]) == 20
    rows = manager.store.db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
    assert rows == 20


def test_a_spend_limit_stops_the_job_with_the_reason(sandbox, manager, notes):
    sandbox.configure(spend_limit_reached=True)
    job_id = manager.start_live(notes[:10], user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=30)
    job = manager.store.job(job_id)
    assert job.status == "failed" and "spend" in job.error.lower() and job.failed == 10
    assert len([e for e in sandbox.journal if e["path"] == "/v1/messages"]) <= 2  # not 10 refusals


def test_a_wrong_key_fails_the_job_once_not_note_by_note(sandbox, db, notes):
    manager = make_manager(sandbox, db, key="sk-invalid-key")
    try:
        job_id = manager.start_live(notes[:10], user="dana", model=MODEL)
        assert manager.runner.wait_idle(timeout_s=30)
        job = manager.store.job(job_id)
        assert job.status == "failed" and "ANTHROPIC_API_KEY" not in (job.error or "") and job.failed == 10
        assert "sk-invalid-key" not in str(item_states(manager, job_id))
    finally:
        manager.shutdown()


def refusing(store, calls, refusals):
    """store.succeed, refused with a full-disk error the first `refusals` times."""
    import duckdb

    real = store.succeed

    def flaky(job_id, item_no, *args, **kwargs):
        calls.append(item_no)
        if len(calls) <= refusals:
            raise duckdb.IOException("No space left on device")
        return real(job_id, item_no, *args, **kwargs)

    return flaky


def test_a_result_the_database_refuses_for_a_while_is_stored_once_it_has_room(sandbox, manager, notes, monkeypatch):
    calls = []
    monkeypatch.setattr(manager.store, "succeed", refusing(manager.store, calls, refusals=3))
    job_id = manager.start_live(notes[:3], user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=30)
    job = manager.store.job(job_id)
    assert job.status == "done" and job.failed == 0 and job.succeeded == 3
    assert manager.runner.storage_waits >= 3 and manager.runner.storage_error is None
    assert len([e for e in sandbox.journal if e["path"] == "/v1/messages"]) == 3  # nothing sent twice


def test_a_database_that_keeps_refusing_interrupts_the_job_which_resumes_later(sandbox, manager, notes, monkeypatch):
    manager.runner.storage_grace_s = 0
    calls = []
    monkeypatch.setattr(manager.store, "succeed", refusing(manager.store, calls, refusals=1))
    job_id = manager.start_live(notes[:3], user="dana", model=MODEL)
    assert manager.runner.wait_idle(timeout_s=30)
    job = manager.store.job(job_id)
    assert job.status == "interrupted" and "No space left on device" in job.error  # never "done"
    assert job.failed == 0 and job.succeeded <= 2 and manager.runner.storage_error
    assert manager.runner.outcomes[job_id].status == "interrupted"
    assert manager.resume_job(job_id) == 3 - job.succeeded
    assert manager.runner.wait_idle(timeout_s=30)
    assert manager.store.job(job_id).status == "done" and manager.store.job(job_id).succeeded == 3
