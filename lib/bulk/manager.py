"""JobManager: the process's bulk work, live and batch. The app holds one (st.cache_resource); so does the CLI.

A live job runs in this process on the LiveRunner's worker threads; its state and every item's status
and result are in the database (JobStore), so a page reload just reads them back. A job whose process
stopped before it finished (killed, crashed, a full disk) is marked interrupted when a manager starts,
and is only resumed when someone asks (`resume_job`: the app's button, the CLI's `resume JOB_ID`): its
finished items are never sent again. A batch job lives at the API; the manager submits, refreshes and
imports it.

On Postgres other processes share the jobs: a job counts as abandoned only once its heartbeat is older
than the lease (JOB_LEASE_S), a job another live process works is never resumed here (the refusal names
that process), a cancel asked here of a job worked elsewhere reaches its process at that process's next
heartbeat, and a batch job's results are imported by one process at a time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lib.bulk import batches
from lib.bulk.input import BulkInput, NoteRow
from lib.bulk.jobs import INTERRUPTED, JOB_LEASE_S, PROCESS_OWNER, JobInfo, JobStore
from lib.bulk.runner import DEFAULT_MAX_TOKENS, JobTemplate, LiveRunner
from lib.claude.gateway import BatchInfo, Gateway
from lib.core.db import Database
from lib.core.errors import InputRejected, ScribeError
from lib.work.extraction import NoteExtraction

RETRYABLE_LIVE = ("transient", "rate_limited", "canceled", "invalid", "internal")


@dataclass
class Progress:
    """A job as the page shows it: counts, and for live work an ETA."""

    job: JobInfo
    eta_s: float | None = None

    @property
    def fraction(self) -> float:
        return self.job.done / self.job.total if self.job.total else 1.0


class JobManager:
    """Starts, follows, cancels and resumes bulk jobs; `store` answers every question about them."""

    def __init__(self, gateway: Gateway, db: Database, *, concurrency: int = 8,
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], None] | None = None,
                 lease_s: float | None = None, owner: str = PROCESS_OWNER):
        """`lease_s`: how long after its last heartbeat another process's job and item claims count as
        abandoned. None: on DuckDB at once (one process opens the file, so another owner is gone), on
        Postgres after JOB_LEASE_S."""
        self.gateway = gateway
        self.store = JobStore(db, owner, lease_s=lease_s or JOB_LEASE_S)
        self.lease_s = lease_s if lease_s is not None or db.dialect == "duckdb" else JOB_LEASE_S
        self.runner = LiveRunner(gateway, self.store, concurrency=concurrency, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        self.interrupted_on_start = self.store.interrupt_orphans(lease_s=self.lease_s)
        self._last_sweep = time.monotonic()
        self._close_orphaned_cancels()

    # -- starting -------------------------------------------------------------------------------------

    def start_live(self, notes: BulkInput | list[NoteRow], *, user: str, model: str,
                   max_tokens: int = DEFAULT_MAX_TOKENS, priority: int = 0) -> str:
        """Queue every good row now; returns the job id."""
        rows, bad, source = _unpack(notes)
        job_id = self.store.create_job(kind="live", user=user, model=model, rows=rows, max_tokens=max_tokens,
                                       source=source, bad_rows=bad, priority=priority)
        self._enqueue(job_id)
        return job_id

    def start_batch(self, notes: BulkInput | list[NoteRow], *, user: str, model: str,
                    max_tokens: int = DEFAULT_MAX_TOKENS, **limits: int) -> str:
        """Create the job and submit it as Message Batch(es); a refused submission fails the job."""
        rows, bad, source = _unpack(notes)
        job_id = self.store.create_job(kind="batch", user=user, model=model, rows=rows, max_tokens=max_tokens,
                                       source=source, bad_rows=bad)
        try:
            batches.submit(self.gateway, self.store, job_id, **limits)
        except ScribeError as err:
            self._fail_unsent(job_id, f"Not submitted: {err.message}")
            raise
        return job_id

    def extract_now(self, row: NoteRow, *, user: str, model: str, timeout_s: float = 300.0) -> NoteExtraction:
        """One note ahead of all bulk work (the priority lane), under the same limits; waits for it."""
        job_id = self.start_live([row], user=user, model=model, priority=1)
        deadline = time.monotonic() + timeout_s
        while (job := self.store.job(job_id)) is not None and job.active:
            if time.monotonic() > deadline:
                raise TimeoutError(f"note still running after {timeout_s:.0f} s (job {job_id})")
            time.sleep(0.02)
        found = self.store.extractions(job_id)
        if not found:
            failures = self.store.failures(job_id)
            raise InputRejected(failures[0][1] if failures else "The note could not be read.")
        return found[0]

    # -- following ------------------------------------------------------------------------------------

    def progress(self, job_id: str) -> Progress | None:
        self._sweep()
        job = self.store.job(job_id)
        if job is None:
            return None
        eta = self.runner.eta_s(job_id, job.remaining) if job.kind == "live" and job.active else None
        return Progress(job=job, eta_s=eta)

    def refresh_batches(self, job_id: str) -> list[BatchInfo]:
        """Check a batch job's batches at the API; import the ones that ended."""
        with self._lock, self.store.import_guard(job_id):  # two pages (or replicas) polling it import it once
            return batches.refresh(self.gateway, self.store, job_id)

    def seed_limits(self, limits: dict[str, int]) -> bool:
        """Start the live runner's limiter from configured limits (see RateLimiter.seed)."""
        return self.runner.limiter.seed(limits)

    def limits(self) -> dict | None:
        """The rate limits the live runner's limiter has learned from the API's headers, if any."""
        return self.runner.limiter.limits() or None

    def job(self, job_id: str) -> JobInfo | None:
        return self.store.job(job_id)

    def jobs(self, *, user: str | None = None, limit: int = 10) -> list[JobInfo]:
        self._sweep()
        return self.store.jobs(user=user, limit=limit)

    def _sweep(self) -> None:
        """Shared database: now and then, mark interrupted the jobs whose process stopped since this one
        started (their heartbeat is older than the lease), so the page offers them for resuming."""
        if self.lease_s is None or time.monotonic() - self._last_sweep < self.lease_s / 4:
            return
        self._last_sweep = time.monotonic()
        self.store.interrupt_orphans(lease_s=self.lease_s)

    def items(self, job_id: str, *, status: str | None = None):
        """The job's items (a frame: row, status, reason, result), optionally of one status."""
        return self.store.items(job_id, status=status)

    def extractions(self, job_id: str) -> list[NoteExtraction]:
        """The job's results, ready for the Extract page's review."""
        return self.store.extractions(job_id)

    def batch_status(self, job_id: str):
        """One row per batch of the job, as the page shows it."""
        return batches.status_table(self.store, job_id)

    # -- stopping and retrying ------------------------------------------------------------------------

    def cancel(self, job_id: str) -> None:
        """Live: queued items fail as canceled, items in flight finish. Batch: the API cancels the batches."""
        job = self.store.job(job_id)
        if job is None or not job.active:
            return
        self.store.set_status(job_id, "canceling")
        if job.kind == "live":
            if not self.runner.outstanding(job_id) and self.store.holder(job_id) is None:
                self._fail_unsent(job_id, "Canceled before it was sent.", status="canceled")  # no one works it
            self.runner.cancel(job_id)  # (worked by another process: it cancels at its next heartbeat)
        else:
            batches.cancel(self.gateway, self.store, job_id)

    def retryable(self, job_id: str) -> list[int]:
        """Failed items another try may fix (not e.g. "no people in this note")."""
        job = self.store.job(job_id)
        if job is None:
            return []
        if job.kind == "batch":
            return batches.resubmittable(self.store, job_id)
        return self.store.items_with(job_id, status="failed", kinds=RETRYABLE_LIVE)

    def retry_failed(self, job_id: str) -> int:
        """Send again what may succeed on another try (batch: errored/expired/canceled/invalid)."""
        job = self.store.job(job_id)
        if job is None or job.active:
            return 0
        if job.kind == "batch":
            with self._lock:
                numbers = batches.resubmittable(self.store, job_id)
                batches.resubmit(self.gateway, self.store, job_id)
            return len(numbers)
        numbers = self.retryable(job_id)
        if not numbers:
            return 0
        self.store.mark_many(job_id, numbers, "queued", only_unfinished=False)
        self.store.claim(job_id)
        self.store.set_status(job_id, "running")
        self._enqueue(job_id)
        return len(numbers)

    def resumable(self, job: JobInfo) -> bool:
        """A live job whose process stopped before it finished, with items still to send."""
        return job.kind == "live" and job.status == INTERRUPTED and not self.runner.outstanding(job.id)

    def resume_job(self, job_id: str) -> int:
        """Send an interrupted job's unfinished items (never its finished ones); returns how many."""
        job = self.store.job(job_id)
        if job is None:
            raise InputRejected(f"There is no job {job_id}.")
        if job.kind != "live":
            raise InputRejected(f"Job {job_id} is a batch job: collect it (python -m lib.bulk collect {job_id}).")
        if job_id in self.store.interrupt_orphans(lease_s=self.lease_s):  # its process stopped since
            job = self.store.job(job_id)
        held = self.store.holder(job_id)
        if held is not None:
            owner, seen = held
            ago = max(0, round((self.store.now() - seen).total_seconds()))
            raise InputRejected(
                f"Job {job_id} is being worked by another process ({owner}, last seen {ago} s ago); it can be "
                f"resumed once that process stops (its claim lapses {self.store.lease_s:.0f} s after it was last seen).")
        if not self.resumable(job):
            raise InputRejected(f"Job {job_id} is {job.status}: only an interrupted job can be resumed.")
        if not self.store.take_over(job_id):
            raise InputRejected(f"Job {job_id} was resumed by another process a moment ago.")
        self.store.release_claims(job_id)  # this process's own, left by a write the database refused
        pending = len(self.store.pending(job_id))
        self._enqueue(job_id)
        return pending

    def interrupt(self, reason: str, *, grace_s: float = 30.0) -> list[str]:
        """Stop every live job here so it can be resumed: nothing new is sent; waits up to `grace_s` for the
        requests in flight (their usage is logged, their results kept). Returns the jobs interrupted; a job
        whose requests outlived the grace is marked interrupted anyway (those items are sent again on resume)."""
        jobs = self.runner.jobs_here()
        for job_id in jobs:
            self.runner.interrupt(job_id, reason)
        self.runner.wait_idle(timeout_s=grace_s)
        for job_id in self.runner.jobs_here():
            self.store.set_status(job_id, INTERRUPTED, error=reason)
        return jobs

    def shutdown(self, wait: bool = False) -> None:
        self.runner.shutdown(wait=wait)

    def _close_orphaned_cancels(self) -> None:
        """A live job canceled by a process that stopped: what it did not send is canceled now."""
        for job in self.store.jobs(limit=1000, active_only=True):
            if (job.kind == "live" and job.status == "canceling" and not self.runner.outstanding(job.id)
                    and self.store.holder(job.id) is None):
                self._fail_unsent(job.id, "Canceled before it was sent.", status="canceled")

    # -- internals ------------------------------------------------------------------------------------

    def _enqueue(self, job_id: str) -> None:
        """The runner works the job's items, claiming them as it goes; with none left unfinished it is done."""
        job = self.store.job(job_id)
        template = JobTemplate(job_id=job_id, user=job.user, model=job.model, max_tokens=job.max_tokens,
                               priority=job.priority)
        if not self.runner.work(template) and not self.store.unfinished(job_id):
            self.store.set_status(job_id, "done", finished=True)

    def _fail_unsent(self, job_id: str, reason: str, status: str = "failed") -> None:
        self.store.fail_unsent(job_id, reason)
        self.store.set_status(job_id, status, error=reason if status == "failed" else None, finished=True)


def _unpack(notes: BulkInput | list[NoteRow]) -> tuple[list[NoteRow], int, str | None]:
    if isinstance(notes, BulkInput):
        return notes.rows, len(notes.bad), notes.source or None
    return list(notes), 0, None
