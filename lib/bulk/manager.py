"""JobManager: the process's bulk work, live and batch. The app holds one (st.cache_resource); so does the CLI.

A live job runs in this process on the LiveRunner's worker threads; its state and every item's status
and result are in DuckDB (JobStore), so a page reload just reads them back, and a job that was running
when the app stopped is resumed when it starts again (its unfinished items are sent again). A batch job
lives at the API; the manager submits, refreshes and imports it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from lib.bulk import batches
from lib.bulk.input import BulkInput, NoteRow
from lib.bulk.jobs import JobInfo, JobStore
from lib.bulk.runner import DEFAULT_MAX_TOKENS, LiveRunner, WorkItem
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
                 resume: bool = True):
        self.gateway = gateway
        self.store = JobStore(db)
        self.runner = LiveRunner(gateway, self.store, concurrency=concurrency, clock=clock, sleep=sleep)
        self._lock = threading.Lock()
        if resume:
            self.resume()

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
        job = self.store.job(job_id)
        if job is None:
            return None
        eta = self.runner.eta_s(job_id) if job.kind == "live" and job.active else None
        return Progress(job=job, eta_s=eta)

    def refresh_batches(self, job_id: str) -> list[BatchInfo]:
        """Check a batch job's batches at the API; import the ones that ended."""
        with self._lock:  # two pages polling the same job must not import it twice
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
        return self.store.jobs(user=user, limit=limit)

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
            if not self.runner.outstanding(job_id):  # nothing of it here (e.g. not resumed): close it now
                self._fail_unsent(job_id, "Canceled before it was sent.", status="canceled")
            self.runner.cancel(job_id)
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
        self.store.set_status(job_id, "running")
        self._enqueue(job_id)
        return len(numbers)

    def resume(self) -> list[str]:
        """Live jobs left running by a previous process: send their unfinished items again."""
        resumed = []
        for job in self.store.jobs(limit=1000, active_only=True):
            if job.kind != "live" or self.runner.outstanding(job.id):
                continue
            if job.status == "canceling":
                self._fail_unsent(job.id, "Canceled before it was sent.", status="canceled")
                continue
            self._enqueue(job.id)
            resumed.append(job.id)
        return resumed

    def shutdown(self) -> None:
        self.runner.shutdown(wait=False)

    # -- internals ------------------------------------------------------------------------------------

    def _enqueue(self, job_id: str) -> None:
        job = self.store.job(job_id)
        pending = self.store.pending(job_id)
        self.store.mark_many(job_id, [p.item_no for p in pending], "queued")  # "running" ones were cut short
        if not pending:
            self.store.set_status(job_id, "done", finished=True)
            return
        self.runner.submit([WorkItem(job_id=job_id, item_no=p.item_no, user=job.user, model=job.model, note=p.note,
                                     note_date=p.note_date, max_tokens=job.max_tokens, priority=job.priority,
                                     attempts=p.attempts) for p in pending])

    def _fail_unsent(self, job_id: str, reason: str, status: str = "failed") -> None:
        numbers = [p.item_no for p in self.store.pending(job_id, ("queued", "running"))]
        self.store.mark_many(job_id, numbers, "failed", error=reason, kind="canceled")
        self.store.set_status(job_id, status, error=reason if status == "failed" else None, finished=True)


def _unpack(notes: BulkInput | list[NoteRow]) -> tuple[list[NoteRow], int, str | None]:
    if isinstance(notes, BulkInput):
        return notes.rows, len(notes.bad), notes.source or None
    return list(notes), 0, None
