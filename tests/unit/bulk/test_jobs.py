"""The job store on both databases (the `database` fixture: DuckDB, then a real Postgres): jobs and their
counts, items, proposals, batches, and the claims that keep processes from working one item twice."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from lib.bulk.input import NoteRow
from lib.bulk.jobs import JobStore
from lib.claude.gateway import CallResult
from lib.work.schemas import ExtractedPerson, Extraction

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).replace(tzinfo=None)  # the store keeps naive UTC
LEASE = 60.0


def rows(n: int) -> list[NoteRow]:
    return [NoteRow(row=i + 1, note=f"Call with Person {i}.", note_date=date(2026, 3, 1), author="dana")
            for i in range(n)]


class Clock:
    """A store's `now`, moved by hand: no test waits for a lease to lapse."""

    def __init__(self, at: datetime = T0):
        self.at = at

    def __call__(self) -> datetime:
        return self.at

    def advance(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


def store(database, owner: str, clock: Clock | None = None) -> JobStore:
    return JobStore(database, owner, lease_s=LEASE, now=clock or Clock())


def extraction(name: str = "Ana Diaz") -> Extraction:
    return Extraction(people=[ExtractedPerson(name=name, confidence=0.9), ExtractedPerson(name="Bo", confidence=0.5)])


def result() -> CallResult:
    return CallResult(call_id="call-1", backend="sandbox", model="claude-sonnet-4-6", request_id="req_1")


def test_a_job_its_counts_items_and_proposals_read_back_the_same_on_both_databases(database):
    jobs = store(database, "host:1:a")
    job_id = jobs.create_job(kind="live", user="dana", model="claude-sonnet-4-6", rows=rows(5), max_tokens=4000,
                             source="notes.csv", bad_rows=2)
    assert jobs.succeed(job_id, 1, extraction(), result(), attempts=1)
    assert jobs.mark(job_id, 2, "failed", error="Claude found no people in this note.", kind="no_people")
    assert jobs.mark_many(job_id, [2, 3, 4], "queued") == 2  # never the failed one
    job = jobs.job(job_id)
    assert (job.total, job.succeeded, job.failed, job.counts["queued"], job.bad_rows) == (5, 1, 1, 3, 2)
    assert job.owner == "host:1:a" and job.heartbeat_at == T0 and job.cost_usd == Decimal(0)
    assert [j.id for j in jobs.jobs(user="dana")] == [job_id] and jobs.jobs(user="bo") == []
    items = jobs.items(job_id)
    assert list(items["status"]) == ["succeeded", "failed", "queued", "queued", "queued"]
    assert int(items["people"].iloc[0]) == 2 and items["people"].isna().iloc[1]
    assert len(jobs.items(job_id, status="failed")) == 1
    assert jobs.failures(job_id) == [(2, "Claude found no people in this note.")]
    [proposal] = jobs.proposals(job_id)
    assert proposal["item"] == 1 and proposal["note_date"] == "2026-03-01" and len(proposal["people"]) == 2
    [found] = jobs.extractions(job_id)
    assert found.key == f"{job_id}-1" and found.people[0].name == "Ana Diaz"
    assert [p.item_no for p in jobs.pending(job_id)] == [3, 4, 5]
    assert jobs.items_with(job_id, status="failed", kinds=("no_people",)) == [2]


def test_batches_and_their_items_read_back(database):
    jobs = store(database, "host:1:a")
    job_id = jobs.create_job(kind="batch", user="dana", model="claude-sonnet-4-6", rows=rows(3), max_tokens=4000)
    jobs.add_batch(job_id, "msgbatch_1", 3, "in_progress")
    assert jobs.mark_many(job_id, [1, 2, 3], "submitted", batch_id="msgbatch_1") == 3
    jobs.update_batch("msgbatch_1", "ended", {"succeeded": 3}, ended=True)
    jobs.mark_imported("msgbatch_1")
    [batch] = jobs.batches(job_id).itertuples()
    assert batch.processing_status == "ended" and batch.imported_at is not None
    assert jobs.item_batch(job_id, 2) == ("msgbatch_1", "submitted")
    assert jobs.job(job_id).counts["submitted"] == 3


def test_two_processes_claim_disjoint_items_until_none_is_left(database):
    first, second = store(database, "host:1:a"), store(database, "host:2:b")
    job_id = first.create_job(kind="live", user="dana", model="m", rows=rows(7), max_tokens=4000)
    a = [p.item_no for p in first.claim_items(job_id, 3)]
    b = [p.item_no for p in second.claim_items(job_id, 3)]
    assert a == [1, 2, 3] and b == [4, 5, 6]
    assert [p.item_no for p in first.claim_items(job_id, 5)] == [7]
    assert first.claim_items(job_id, 5) == [] and second.claim_items(job_id, 5) == []
    assert second.holder(job_id) == ("host:1:a", T0)
    assert first.release_claims(job_id) == 4
    assert [p.item_no for p in second.claim_items(job_id, 9)] == [1, 2, 3, 7]


def test_only_the_claimer_stores_a_result_and_a_dead_claimers_items_are_taken_over_after_the_lease(database):
    clock_a, clock_b = Clock(), Clock()
    first, second = store(database, "host:1:a", clock_a), store(database, "host:2:b", clock_b)
    job_id = first.create_job(kind="live", user="dana", model="m", rows=rows(4), max_tokens=4000)
    assert len(first.claim_items(job_id, 4)) == 4
    assert not second.succeed(job_id, 1, extraction(), result(), claimed=True)  # not its claim
    clock_a.advance(LEASE - 1)
    first.heartbeat([job_id])  # renews the lease
    clock_b.advance(LEASE + 1)
    assert second.claim_items(job_id, 4) == []  # still held
    assert first.succeed(job_id, 1, extraction(), result(), claimed=True)
    clock_b.advance(LEASE)  # the first process has not renewed since: it stopped
    assert second.holder(job_id) is None
    assert [p.item_no for p in second.claim_items(job_id, 4)] == [2, 3, 4]
    assert not first.mark(job_id, 2, "failed", error="late", claimed=True, release=True)  # fenced off
    assert second.mark(job_id, 2, "failed", error="no people", claimed=True, release=True)
    assert second.succeed(job_id, 3, extraction(), result(), claimed=True)
    assert not first.succeed(job_id, 3, extraction("Twice"), result(), claimed=True)  # finished by the other
    assert [p.name for p in second.extractions(job_id)[1].people][0] == "Ana Diaz"
    assert second.unfinished(job_id) == 1


def test_of_two_processes_resuming_one_job_only_one_takes_it(database):
    first, second = store(database, "host:1:a"), store(database, "host:2:b")
    job_id = first.create_job(kind="live", user="dana", model="m", rows=rows(2), max_tokens=4000)
    first.set_status(job_id, "interrupted", error="Interrupted by SIGTERM.")
    assert second.take_over(job_id) and not first.take_over(job_id)
    job = first.job(job_id)
    assert (job.status, job.owner, job.error) == ("running", "host:2:b", None)
    assert first.holder(job_id) == ("host:2:b", T0)


def test_the_heartbeat_tells_the_owner_its_jobs_status(database):
    jobs = store(database, "host:1:a")
    job_id = jobs.create_job(kind="live", user="dana", model="m", rows=rows(1), max_tokens=4000)
    assert jobs.heartbeat([job_id]) == {job_id: "running"}
    jobs.set_status(job_id, "canceling")
    assert jobs.heartbeat([job_id]) == {job_id: "canceling"}
    assert store(database, "host:2:b").heartbeat([job_id]) == {}  # not its job


def test_a_cancel_fails_only_the_items_no_live_process_holds(database):
    clock = Clock()
    first, second = store(database, "host:1:a", clock), store(database, "host:2:b", clock)
    job_id = first.create_job(kind="live", user="dana", model="m", rows=rows(4), max_tokens=4000)
    first.claim_items(job_id, 2)
    assert second.fail_unsent(job_id, "Canceled before it was sent.") == 2
    assert [p.item_no for p in first.pending(job_id)] == [1, 2]


def test_many_threads_claiming_at_once_never_get_the_same_item(database):
    workers = [store(database, f"host:{n}:w") for n in range(6)]
    job_id = workers[0].create_job(kind="live", user="dana", model="m", rows=rows(120), max_tokens=4000)
    got: list[list[int]] = [[] for _ in workers]
    start = threading.Barrier(len(workers))

    def claim(n: int) -> None:
        start.wait()
        while batch := workers[n].claim_items(job_id, 5):
            got[n] += [p.item_no for p in batch]

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(len(workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    claimed = [n for mine in got for n in mine]
    assert sorted(claimed) == list(range(1, 121))  # every item once, none twice

