"""Bulk jobs in the database (DuckDB or Postgres): a job, each of its notes (status, attempts, result or
reason) and its batches.

All the SQL of the jobs tables lives here, written to run on both databases. The state is in the database, not in a session, so a job
survives a page reload (and its results an app restart). Item statuses:

    live:   queued -> running -> succeeded | failed
    batch:  queued -> submitted -> succeeded | failed      (errored, expired, canceled, invalid: failed)

Every item ends succeeded or failed, and a failed one says why. A live job belongs to the process
that works it (`owner`, refreshed in `heartbeat_at`); one its process left unfinished (SIGTERM, a
crash, a full disk) is `interrupted`: its unfinished items stay queued until someone resumes it.

Items are worked only once claimed (`claim_items`): `claimed_by` names the process, `lease_until` says
until when; the runner claims a few at a time and its heartbeat renews the lease. On Postgres several
processes share the database, so a claim takes rows with `FOR UPDATE SKIP LOCKED` (two processes never
get the same item), a result is stored only by the process that still holds the item's claim, and the
items of a process that died are claimable again once their lease has lapsed. On DuckDB one process owns
the file, and a plain update is enough. Times come from `now` (this process's UTC clock: keep the
machines' clocks in sync, as NTP does; tests pass another).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from lib.bulk.input import NoteRow
from lib.claude.gateway import CallResult
from lib.core.db import Database
from lib.usage.log import UsageRecord
from lib.work.extraction import NoteExtraction, note_date_of
from lib.work.schemas import Extraction

if TYPE_CHECKING:
    import pandas as pd

FINAL = ("succeeded", "failed")
_JOBS_SELECT = (
    'SELECT j.id, j.kind, j."user", j.model, j.max_tokens, j.priority, j.source, j.status, j.total, '
    "j.bad_rows, j.error, j.created_at, j.finished_at, "
    "COALESCE(SUM(CASE WHEN i.status = 'succeeded' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN i.status = 'failed' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN i.status = 'running' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(CASE WHEN i.status = 'submitted' THEN 1 ELSE 0 END), 0), "
    "COALESCE(SUM(i.input_tokens), 0), COALESCE(SUM(i.output_tokens), 0), "
    "COALESCE(SUM(i.cost_usd), 0), COALESCE(BOOL_OR(i.cost_unknown), FALSE), j.owner, j.heartbeat_at "
    "FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id"
)
_JOBS_GROUP = (  # every column of jobs that is selected (Postgres and DuckDB both take an explicit list)
    'GROUP BY j.id, j.kind, j."user", j.model, j.max_tokens, j.priority, j.source, j.status, j.total, '
    "j.bad_rows, j.error, j.created_at, j.finished_at, j.owner, j.heartbeat_at"
)
_UNFINISHED = "status NOT IN ('succeeded', 'failed')"
JOB_LEASE_S = 60.0  # a claim (a job's heartbeat, an item's lease) lapses this long after its process last renewed it
ACTIVE_JOB = ("running", "submitted", "canceling")
_INSERT_CHUNK = 200  # job items per INSERT
INTERRUPTED = "interrupted"
PROCESS_OWNER = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"  # this process, as a job's owner


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass
class JobInfo:
    """A job and how far it got."""

    id: str
    kind: str
    user: str
    model: str
    max_tokens: int
    priority: int
    source: str | None
    status: str
    total: int
    bad_rows: int
    error: str | None
    created_at: datetime
    finished_at: datetime | None
    counts: dict[str, int] = field(default_factory=dict)
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    cost_unknown: bool = False
    owner: str | None = None  # the process that works (or last worked) a live job
    heartbeat_at: datetime | None = None  # when it last said so

    @property
    def succeeded(self) -> int:
        return self.counts.get("succeeded", 0)

    @property
    def failed(self) -> int:
        return self.counts.get("failed", 0)

    @property
    def done(self) -> int:
        return self.succeeded + self.failed

    @property
    def remaining(self) -> int:
        return self.total - self.done

    @property
    def active(self) -> bool:
        return self.status in ACTIVE_JOB


@dataclass
class PendingItem:
    """An item that still has to be sent (to resume a job, or to build a batch)."""

    job_id: str
    item_no: int
    note: str
    note_date: date | None
    attempts: int


def custom_id(job_id: str, item_no: int) -> str:
    return f"{job_id}-{item_no}"


def parse_custom_id(value: str) -> tuple[str, int] | None:
    job_id, _, number = value.rpartition("-")
    return (job_id, int(number)) if job_id and number.isdigit() else None


class JobStore:
    """Reads and writes the jobs tables of one Database (safe to share between threads)."""

    def __init__(self, db: Database, owner: str = PROCESS_OWNER, *, lease_s: float = JOB_LEASE_S,
                 now: Callable[[], datetime] = _now):
        self.db = db
        self.owner = owner  # this process, as the owner of the live jobs it works
        self.lease_s = lease_s
        self._now = now
        self._lock = _writer_lock(db)  # one writer at a time per database: no DuckDB write-write conflicts

    def now(self) -> datetime:
        """The store's clock (naive UTC)."""
        return self._now()

    # -- jobs --------------------------------------------------------------------------------------

    def create_job(self, *, kind: str, user: str, model: str, rows: list[NoteRow], max_tokens: int,
                   source: str | None = None, bad_rows: int = 0, priority: int = 0) -> str:
        """A job with one queued item per row; returns its id."""
        job_id = uuid.uuid4().hex[:12]
        now = self._now()
        status = "running" if kind == "live" else "submitted"
        with self._lock, self.db.transaction() as cur:
            cur.execute(
                'INSERT INTO jobs (id, kind, "user", model, max_tokens, priority, source, status, total, bad_rows, '
                "created_at, owner, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [job_id, kind, user, model, max_tokens, priority, source, status, len(rows), bad_rows, now,
                 self.owner, now])
            items = [[job_id, n, r.row, r.text(), r.note_date, r.author, r.contact, "queued", now]
                     for n, r in enumerate(rows, start=1)]
            for start in range(0, len(items), _INSERT_CHUNK):  # multi-row inserts: no pandas on the CLI's path
                chunk = items[start:start + _INSERT_CHUNK]
                marks = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(chunk))
                cur.execute("INSERT INTO job_items (job_id, item_no, source_row, note, note_date, author, contact, "  # noqa: S608
                            f"status, updated_at) VALUES {marks}", [value for item in chunk for value in item])
        return job_id

    def job(self, job_id: str) -> JobInfo | None:
        found = self._jobs("WHERE j.id = ?", [job_id], 1)
        return found[0] if found else None

    def claim(self, job_id: str) -> None:
        """This process works the job from now on."""
        with self._lock:
            self.db.cursor().execute("UPDATE jobs SET owner = ?, heartbeat_at = ? WHERE id = ?",
                                     [self.owner, self._now(), job_id])

    def take_over(self, job_id: str, from_status: str = "interrupted") -> bool:
        """Atomically make this process the job's owner and set it running, if it is still `from_status`
        (of two processes resuming one job at once, exactly one gets True)."""
        with self._lock:
            rows = self.db.cursor().execute(
                "UPDATE jobs SET owner = ?, heartbeat_at = ?, status = 'running', error = NULL "
                "WHERE id = ? AND status = ? RETURNING id", [self.owner, self._now(), job_id, from_status]).fetchall()
        return bool(rows)

    def heartbeat(self, job_ids: list[str]) -> dict[str, str]:
        """Still working these jobs: renews their heartbeat and this process's claims on their items.
        Returns each job's status (another process may have asked to cancel one)."""
        if not job_ids:
            return {}
        marks = ", ".join("?" for _ in job_ids)
        now = self._now()
        with self._lock:  # two statements, no transaction: each renewal stands on its own
            cur = self.db.cursor()
            cur.execute(f"UPDATE job_items SET lease_until = ? WHERE claimed_by = ? AND job_id IN ({marks}) "  # noqa: S608
                        f"AND {_UNFINISHED}", [now + timedelta(seconds=self.lease_s), self.owner, *job_ids])
            rows = cur.execute(f"UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND id IN ({marks}) "  # noqa: S608
                               "RETURNING id, status", [now, self.owner, *job_ids]).fetchall()
        return dict(rows)

    def claim_items(self, job_id: str, limit: int) -> list[PendingItem]:
        """Claim up to `limit` unfinished items of the job that no live process holds, for this process
        (until the lease lapses, unless the heartbeat renews it); in item order."""
        if limit <= 0:
            return []
        now = self._now()
        until = now + timedelta(seconds=self.lease_s)
        free = "job_id = ? AND status IN ('queued', 'running') AND (claimed_by IS NULL OR lease_until < ?)"
        if self.db.dialect == "postgres":  # rows another claimer has locked are skipped, not waited for
            sql = (f"WITH picked AS MATERIALIZED (SELECT item_no FROM job_items WHERE {free} "  # noqa: S608
                   "ORDER BY item_no LIMIT ? FOR UPDATE SKIP LOCKED) "
                   "UPDATE job_items AS i SET claimed_by = ?, lease_until = ? FROM picked "
                   "WHERE i.job_id = ? AND i.item_no = picked.item_no "
                   "RETURNING i.job_id, i.item_no, i.note, i.note_date, i.attempts")
            params = [job_id, now, limit, self.owner, until, job_id]
        else:  # one process owns the file; the lock keeps this process's threads apart
            sql = ("UPDATE job_items SET claimed_by = ?, lease_until = ? WHERE job_id = ? AND item_no IN "  # noqa: S608
                   f"(SELECT item_no FROM job_items WHERE {free} ORDER BY item_no LIMIT ?) "
                   "RETURNING job_id, item_no, note, note_date, attempts")
            params = [self.owner, until, job_id, job_id, now, limit]
        with self._lock:
            rows = self.db.cursor().execute(sql, params).fetchall()
        return sorted((PendingItem(*r) for r in rows), key=lambda p: p.item_no)

    def release_claims(self, job_id: str) -> int:
        """Give back this process's claims on the job's unfinished items (they become claimable at once)."""
        with self._lock:
            rows = self.db.cursor().execute(
                "UPDATE job_items SET claimed_by = NULL, lease_until = NULL WHERE job_id = ? AND claimed_by = ? "
                "RETURNING item_no", [job_id, self.owner]).fetchall()
        return len(rows)

    def holder(self, job_id: str) -> tuple[str, datetime] | None:
        """Another live process that works the job (its owner with a fresh heartbeat, or a claimer whose
        lease has not lapsed), and when it was last seen; None if there is none."""
        now = self._now()
        row = self.db.cursor().execute(
            "SELECT owner, heartbeat_at FROM jobs WHERE id = ? AND status IN ('running', 'canceling') "
            "AND owner IS NOT NULL AND owner <> ? AND heartbeat_at >= ?",
            [job_id, self.owner, now - timedelta(seconds=self.lease_s)]).fetchone()
        if row:
            return row[0], row[1]
        row = self.db.cursor().execute(
            f"SELECT claimed_by, MAX(lease_until) FROM job_items WHERE job_id = ? AND {_UNFINISHED} "  # noqa: S608
            "AND claimed_by IS NOT NULL AND claimed_by <> ? AND lease_until >= ? GROUP BY claimed_by "
            "ORDER BY claimed_by LIMIT 1", [job_id, self.owner, now]).fetchone()
        return (row[0], row[1] - timedelta(seconds=self.lease_s)) if row else None

    def unfinished(self, job_id: str) -> int:
        """Items of the job not yet succeeded or failed."""
        return int(self.db.cursor().execute(
            f"SELECT count(*) FROM job_items WHERE job_id = ? AND {_UNFINISHED}", [job_id]).fetchone()[0])  # noqa: S608

    def fail_unsent(self, job_id: str, reason: str, kind: str = "canceled",
                    statuses: tuple[str, ...] = ("queued", "running")) -> int:
        """Fail the job's items in `statuses` that no other live process holds (a cancel); returns how many."""
        marks = ", ".join("?" for _ in statuses)
        with self._lock:
            rows = self.db.cursor().execute(
                "UPDATE job_items SET status = 'failed', error = ?, failure_kind = ?, claimed_by = NULL, "  # noqa: S608
                f"lease_until = NULL, updated_at = ? WHERE job_id = ? AND status IN ({marks}) "
                "AND (claimed_by IS NULL OR claimed_by = ? OR lease_until < ?) RETURNING item_no",
                [reason, kind, self._now(), job_id, *statuses, self.owner, self._now()]).fetchall()
        return len(rows)

    def interrupt_orphans(self, *, lease_s: float | None = None) -> list[str]:
        """Mark interrupted the live jobs left running by a process that stopped; returns their ids.

        `lease_s` None: every running job another process owns is orphaned (an embedded database is
        open in one process only, so its owner is gone), and so are its item claims; else only those whose
        heartbeat is older (their items' leases lapse with it)."""
        if lease_s is None:
            with self._lock:
                self.db.cursor().execute(
                    "UPDATE job_items SET claimed_by = NULL, lease_until = NULL WHERE claimed_by <> ?", [self.owner])
        sql = ("SELECT id, owner FROM jobs WHERE kind = 'live' AND status = 'running' "
               "AND (owner IS NULL OR owner <> ?)")
        params: list[Any] = [self.owner]
        if lease_s is not None:
            sql += " AND (heartbeat_at IS NULL OR heartbeat_at < ?)"
            params.append(self._now() - timedelta(seconds=lease_s))
        found = self.db.cursor().execute(sql, params).fetchall()
        for job_id, gone in found:
            pid = gone.split(":")[1] if gone and gone.count(":") >= 2 else "unknown"
            self.set_status(job_id, INTERRUPTED, error=f"Interrupted: the process that ran it (pid {pid}) stopped "
                            "before it finished.")
        return [job_id for job_id, _ in found]

    def jobs(self, *, user: str | None = None, limit: int = 20, active_only: bool = False) -> list[JobInfo]:
        """Newest first."""
        where, params = [], []
        if user is not None:
            where.append('j."user" = ?')
            params.append(user)
        if active_only:
            where.append("j.status IN ('running', 'submitted', 'canceling')")
        return self._jobs(("WHERE " + " AND ".join(where)) if where else "", params, limit)

    def _jobs(self, where: str, params: list[Any], limit: int) -> list[JobInfo]:
        sql = f"{_JOBS_SELECT} {where} {_JOBS_GROUP} ORDER BY j.created_at DESC, j.id LIMIT ?"  # noqa: S608
        out = []
        for r in self.db.cursor().execute(sql, [*params, limit]).fetchall():
            info = JobInfo(*r[:13])
            info.counts = {"succeeded": int(r[13]), "failed": int(r[14]), "running": int(r[15]),
                           "submitted": int(r[16])}
            info.counts["queued"] = info.total - sum(info.counts.values())
            info.input_tokens, info.output_tokens = int(r[17]), int(r[18])
            info.cost_usd, info.cost_unknown = Decimal(r[19]), bool(r[20])
            info.owner, info.heartbeat_at = r[21], r[22]
            out.append(info)
        return out

    def set_status(self, job_id: str, status: str, *, error: str | None = None, finished: bool = False,
                   clear_error: bool = False) -> None:
        with self._lock:
            self.db.cursor().execute(
                "UPDATE jobs SET status = ?, error = CASE WHEN ? THEN NULL ELSE COALESCE(?, error) END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?",
                [status, clear_error, error, finished, self._now(), job_id])

    # -- items -------------------------------------------------------------------------------------

    def pending(self, job_id: str, statuses: tuple[str, ...] = ("queued", "running")) -> list[PendingItem]:
        """Items in these statuses, in order (to resume a live job or to submit a batch)."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.cursor().execute(
            f"SELECT job_id, item_no, note, note_date, attempts FROM job_items "  # noqa: S608 - placeholders
            f"WHERE job_id = ? AND status IN ({marks}) ORDER BY item_no", [job_id, *statuses]).fetchall()
        return [PendingItem(*r) for r in rows]

    def mark(self, job_id: str, item_no: int, status: str, *, attempts: int | None = None,
             error: str | None = None, kind: str | None = None, batch_id: str | None = None,
             claimed: bool = False, release: bool = False) -> bool:
        """Move an item to a status (queued/running/submitted/failed); `error` is the reason it failed.

        `claimed`: only if this process still holds the item's claim (the runner's writes); `release`:
        and give the claim back. Returns whether the item was changed."""
        fence, params = self._fence(claimed)
        with self._lock:
            rows = self.db.cursor().execute(
                "UPDATE job_items SET status = ?, attempts = COALESCE(?, attempts), error = ?, failure_kind = ?, "  # noqa: S608
                "batch_id = COALESCE(?, batch_id), updated_at = ?, "
                "claimed_by = CASE WHEN ? THEN NULL ELSE claimed_by END, "
                "lease_until = CASE WHEN ? THEN NULL ELSE lease_until END "
                f"WHERE job_id = ? AND item_no = ?{fence} RETURNING item_no",
                [status, attempts, error, kind, batch_id, self._now(), release, release, job_id, item_no,
                 *params]).fetchall()
        return bool(rows)

    def _fence(self, claimed: bool) -> tuple[str, list[Any]]:
        """The condition that this process still holds an item's claim (a process whose lease lapsed, and
        whose items another took over, must not store a second result)."""
        return (f" AND claimed_by = ? AND {_UNFINISHED}", [self.owner]) if claimed else ("", [])

    def mark_many(self, job_id: str, item_nos: list[int], status: str, *, error: str | None = None,
                  kind: str | None = None, batch_id: str | None = None, only_unfinished: bool = True) -> int:
        """Move several items at once; by default never an item already succeeded or failed."""
        if not item_nos:
            return 0
        guard = " AND status NOT IN ('succeeded', 'failed')" if only_unfinished else ""
        marks = ", ".join("?" for _ in item_nos)
        sql = (f"UPDATE job_items SET status = ?, error = ?, failure_kind = ?, batch_id = COALESCE(?, batch_id), "  # noqa: S608
               f"updated_at = ? WHERE job_id = ? AND item_no IN ({marks}){guard}")
        with self._lock:
            rows = self.db.cursor().execute(sql + " RETURNING item_no",
                                            [status, error, kind, batch_id, self._now(), job_id, *item_nos]).fetchall()
        return len(rows)

    def items_with(self, job_id: str, *, status: str, batch_id: str | None = None,
                   kinds: tuple[str, ...] | None = None) -> list[int]:
        """Item numbers in a status (optionally of one batch, or failed with one of `kinds`)."""
        sql, params = "SELECT item_no FROM job_items WHERE job_id = ? AND status = ?", [job_id, status]
        if batch_id is not None:
            sql += " AND batch_id = ?"
            params.append(batch_id)
        if kinds:
            sql += f" AND failure_kind IN ({', '.join('?' for _ in kinds)})"
            params += list(kinds)
        return [r[0] for r in self.db.cursor().execute(sql + " ORDER BY item_no", params).fetchall()]

    def add_spend(self, job_id: str, item_no: int, record: UsageRecord | None) -> None:
        """Add a billed reply's tokens and cost to the item (an invalid reply is billed too)."""
        if record is None:
            return
        with self._lock:
            self.db.cursor().execute(
                "UPDATE job_items SET input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, "
                "cost_usd = cost_usd + ?, cost_unknown = cost_unknown OR ? WHERE job_id = ? AND item_no = ?",
                [*_spend(record), job_id, item_no])

    def succeed(self, job_id: str, item_no: int, extraction: Extraction, result: CallResult, *,
                attempts: int | None = None, claimed: bool = False) -> bool:
        """Keep the validated extraction and the call that produced it (its tokens and cost are added);
        the item's claim is given back. `claimed`: only if this process still holds it (see `mark`)."""
        record = result.record
        usage = record.model_dump_json() if record else None
        spent = _spend(record)
        fence, params = self._fence(claimed)
        with self._lock:
            rows = self.db.cursor().execute(
                "UPDATE job_items SET status = 'succeeded', error = NULL, failure_kind = NULL, "  # noqa: S608
                "attempts = COALESCE(?, attempts), extraction_json = ?, call_id = ?, request_id = ?, usage_json = ?, "
                "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ?, "
                "cost_unknown = cost_unknown OR ?, updated_at = ?, claimed_by = NULL, lease_until = NULL "
                f"WHERE job_id = ? AND item_no = ?{fence} RETURNING item_no",
                [attempts, extraction.model_dump_json(), result.call_id, result.request_id, usage, *spent, self._now(),
                 job_id, item_no, *params]).fetchall()
        return bool(rows)

    def items(self, job_id: str, status: str | None = None) -> pd.DataFrame:
        """The items for display: row, status, attempts, reason, people found, tokens, cost."""
        sql = ("SELECT item_no AS item, source_row AS row, status, attempts, error AS reason, failure_kind AS kind, "
               "json_array_length(CAST(extraction_json AS JSON) -> 'people') AS people, "
               "input_tokens, output_tokens, cost_usd, batch_id FROM job_items WHERE job_id = ?")
        params: list[Any] = [job_id]
        if status is not None:
            sql += " AND status = ?"
            params.append(status)
        return self.db.cursor().execute(sql + " ORDER BY item_no", params).df()

    def failures(self, job_id: str) -> list[tuple[int, str]]:
        """(source row, reason) of every failed item."""
        return [(int(r), e or "unknown") for r, e in self.db.cursor().execute(
            "SELECT source_row, error FROM job_items WHERE job_id = ? AND status = 'failed' ORDER BY item_no",
            [job_id]).fetchall()]

    def extractions(self, job_id: str) -> list[NoteExtraction]:
        """The succeeded items as NoteExtractions, ready for the review grid (lib.work.review.build_review)."""
        rows = self.db.cursor().execute(
            "SELECT item_no, note, note_date, extraction_json, call_id, request_id, usage_json, attempts "
            "FROM job_items WHERE job_id = ? AND status = 'succeeded' ORDER BY item_no", [job_id]).fetchall()
        return [_note_extraction(job_id, *r) for r in rows]

    def proposals(self, job_id: str) -> list[dict[str, Any]]:
        """The succeeded items as plain JSON-ready dicts (the CLI's --out lines)."""
        rows = self.db.cursor().execute(
            "SELECT item_no, source_row, note_date, author, contact, extraction_json, call_id, request_id, cost_usd "
            "FROM job_items WHERE job_id = ? AND status = 'succeeded' ORDER BY item_no", [job_id]).fetchall()
        return [{"job_id": job_id, "item": n, "row": row, "note_date": d.isoformat() if d else None,
                 "author": author, "contact": contact, "people": json.loads(ex)["people"], "call_id": call,
                 "request_id": req, "cost_usd": str(cost)}
                for n, row, d, author, contact, ex, call, req, cost in rows]

    @contextmanager
    def import_guard(self, job_id: str) -> Iterator[None]:
        """One process at a time checks and imports a batch job's results: on Postgres a transaction
        serialised across processes (two replicas polling one job must not import it twice; the import
        is all or nothing, and the usage rows it logs wait for its commit); on DuckDB one process owns
        the file and the manager's own lock is enough."""
        if self.db.dialect != "postgres":
            yield
            return
        with self.db.serialized(f"batch-import:{job_id}"):
            yield

    # -- batches -------------------------------------------------------------------------------------

    def add_batch(self, job_id: str, batch_id: str, requests: int, status: str) -> None:
        with self._lock:
            self.db.cursor().execute(
                "INSERT INTO job_batches (batch_id, job_id, requests, processing_status, created_at, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [batch_id, job_id, requests, status, self._now(), self._now()])

    def update_batch(self, batch_id: str, status: str, counts: dict[str, int], *, ended: bool = False) -> None:
        with self._lock:
            self.db.cursor().execute(
                "UPDATE job_batches SET processing_status = ?, counts_json = ?, checked_at = ?, "
                "ended_at = CASE WHEN ? AND ended_at IS NULL THEN ? ELSE ended_at END WHERE batch_id = ?",
                [status, json.dumps(counts), self._now(), ended, self._now(), batch_id])

    def mark_imported(self, batch_id: str) -> None:
        with self._lock:
            self.db.cursor().execute("UPDATE job_batches SET imported_at = ? WHERE batch_id = ?", [self._now(), batch_id])

    def batches(self, job_id: str) -> pd.DataFrame:
        return self.db.cursor().execute(
            "SELECT batch_id, requests, processing_status, counts_json, created_at, ended_at, imported_at, "
            "checked_at FROM job_batches WHERE job_id = ? ORDER BY created_at, batch_id", [job_id]).df()

    def item_batch(self, job_id: str, item_no: int) -> tuple[str | None, str] | None:
        row = self.db.cursor().execute(
            "SELECT batch_id, status FROM job_items WHERE job_id = ? AND item_no = ?", [job_id, item_no]).fetchone()
        return (row[0], row[1]) if row else None


_WRITER_LOCKS: weakref.WeakKeyDictionary[Any, threading.Lock] = weakref.WeakKeyDictionary()
_WRITER_LOCKS_GUARD = threading.Lock()


def _writer_lock(db: Database) -> threading.Lock:
    """The lock every JobStore of this database shares in this process (a test may open two stores)."""
    with _WRITER_LOCKS_GUARD:
        return _WRITER_LOCKS.setdefault(db, threading.Lock())


def _spend(record: UsageRecord | None) -> list[Any]:
    """[prompt tokens, output tokens, cost, cost unknown] of one billed reply."""
    if record is None:
        return [0, 0, Decimal(0), False]
    prompt = record.input_tokens + record.cache_creation_input_tokens + record.cache_read_input_tokens
    return [prompt, record.output_tokens, record.cost_usd or Decimal(0), record.cost_usd is None]


def _note_extraction(job_id: str, item_no: int, note: str, note_date: date | None, extraction_json: str,
                     call_id: str | None, request_id: str | None, usage_json: str | None,
                     attempts: int) -> NoteExtraction:
    extraction = Extraction.model_validate_json(extraction_json)
    record = UsageRecord.model_validate_json(usage_json) if usage_json else None
    result = CallResult(call_id=call_id or "", backend=record.backend if record else "unknown",
                        model=record.model if record else "unknown", text=extraction_json,
                        stop_reason=record.stop_reason if record else None, request_id=request_id, record=record)
    return NoteExtraction(note=note, note_date=note_date or note_date_of(note), people=extraction.people, result=result,
                          attempts=max(1, attempts), key=custom_id(job_id, item_no))
