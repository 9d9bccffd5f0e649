"""Bulk jobs in DuckDB: a job, each of its notes (status, attempts, result or reason) and its batches.

All the SQL of the jobs tables lives here. The state is in the database, not in a session, so a job
survives a page reload (and its results an app restart). Item statuses:

    live:   queued -> running -> succeeded | failed
    batch:  queued -> submitted -> succeeded | failed      (errored, expired, canceled, invalid: failed)

Every item ends succeeded or failed, and a failed one says why. A live job belongs to the process
that works it (`owner`, refreshed in `heartbeat_at`); one its process left unfinished (SIGTERM, a
crash, a full disk) is `interrupted`: its unfinished items stay queued until someone resumes it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import uuid
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
    "COALESCE(SUM(i.cost_usd), 0), COALESCE(BOOL_OR(i.cost_unknown), FALSE) "
    "FROM jobs j LEFT JOIN job_items i ON i.job_id = j.id"
)
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

    def __init__(self, db: Database, owner: str = PROCESS_OWNER):
        self.db = db
        self.owner = owner  # this process, as the owner of the live jobs it works
        self._lock = threading.Lock()  # one writer at a time: no DuckDB write-write conflicts

    # -- jobs --------------------------------------------------------------------------------------

    def create_job(self, *, kind: str, user: str, model: str, rows: list[NoteRow], max_tokens: int,
                   source: str | None = None, bad_rows: int = 0, priority: int = 0) -> str:
        """A job with one queued item per row; returns its id."""
        job_id = uuid.uuid4().hex[:12]
        now = _now()
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
                                     [self.owner, _now(), job_id])

    def heartbeat(self, job_ids: list[str]) -> None:
        """Still working these jobs."""
        if not job_ids:
            return
        marks = ", ".join("?" for _ in job_ids)
        with self._lock:
            self.db.cursor().execute(
                f"UPDATE jobs SET heartbeat_at = ? WHERE owner = ? AND id IN ({marks})",  # noqa: S608
                [_now(), self.owner, *job_ids])

    def interrupt_orphans(self, *, lease_s: float | None = None) -> list[str]:
        """Mark interrupted the live jobs left running by a process that stopped; returns their ids.

        `lease_s` None: every running job another process owns is orphaned (an embedded database is
        open in one process only, so its owner is gone); else only those whose heartbeat is older."""
        sql = ("SELECT id, owner FROM jobs WHERE kind = 'live' AND status = 'running' "
               "AND (owner IS NULL OR owner <> ?)")
        params: list[Any] = [self.owner]
        if lease_s is not None:
            sql += " AND (heartbeat_at IS NULL OR heartbeat_at < ?)"
            params.append(_now() - timedelta(seconds=lease_s))
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
        sql = f"{_JOBS_SELECT} {where} GROUP BY ALL ORDER BY j.created_at DESC, j.id LIMIT ?"  # noqa: S608
        out = []
        for r in self.db.cursor().execute(sql, [*params, limit]).fetchall():
            info = JobInfo(*r[:13])
            info.counts = {"succeeded": int(r[13]), "failed": int(r[14]), "running": int(r[15]),
                           "submitted": int(r[16])}
            info.counts["queued"] = info.total - sum(info.counts.values())
            info.input_tokens, info.output_tokens = int(r[17]), int(r[18])
            info.cost_usd, info.cost_unknown = Decimal(r[19]), bool(r[20])
            out.append(info)
        return out

    def set_status(self, job_id: str, status: str, *, error: str | None = None, finished: bool = False,
                   clear_error: bool = False) -> None:
        with self._lock:
            self.db.cursor().execute(
                "UPDATE jobs SET status = ?, error = CASE WHEN ? THEN NULL ELSE COALESCE(?, error) END, "
                "finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?",
                [status, clear_error, error, finished, _now(), job_id])

    # -- items -------------------------------------------------------------------------------------

    def pending(self, job_id: str, statuses: tuple[str, ...] = ("queued", "running")) -> list[PendingItem]:
        """Items in these statuses, in order (to resume a live job or to submit a batch)."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.db.cursor().execute(
            f"SELECT job_id, item_no, note, note_date, attempts FROM job_items "  # noqa: S608 - placeholders
            f"WHERE job_id = ? AND status IN ({marks}) ORDER BY item_no", [job_id, *statuses]).fetchall()
        return [PendingItem(*r) for r in rows]

    def mark(self, job_id: str, item_no: int, status: str, *, attempts: int | None = None,
             error: str | None = None, kind: str | None = None, batch_id: str | None = None) -> None:
        """Move an item to a status (queued/running/submitted/failed); `error` is the reason it failed."""
        with self._lock:
            self.db.cursor().execute(
                "UPDATE job_items SET status = ?, attempts = COALESCE(?, attempts), error = ?, failure_kind = ?, "
                "batch_id = COALESCE(?, batch_id), updated_at = ? WHERE job_id = ? AND item_no = ?",
                [status, attempts, error, kind, batch_id, _now(), job_id, item_no])

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
            cur = self.db.cursor()
            cur.execute(sql, [status, error, kind, batch_id, _now(), job_id, *item_nos])
            return int(cur.fetchone()[0])

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
                attempts: int | None = None) -> None:
        """Keep the validated extraction and the call that produced it (its tokens and cost are added)."""
        record = result.record
        usage = record.model_dump_json() if record else None
        spent = _spend(record)
        with self._lock:
            self.db.cursor().execute(
                "UPDATE job_items SET status = 'succeeded', error = NULL, failure_kind = NULL, "
                "attempts = COALESCE(?, attempts), extraction_json = ?, call_id = ?, request_id = ?, usage_json = ?, "
                "input_tokens = input_tokens + ?, output_tokens = output_tokens + ?, cost_usd = cost_usd + ?, "
                "cost_unknown = cost_unknown OR ?, updated_at = ? WHERE job_id = ? AND item_no = ?",
                [attempts, extraction.model_dump_json(), result.call_id, result.request_id, usage, *spent, _now(),
                 job_id, item_no])

    def items(self, job_id: str, status: str | None = None) -> pd.DataFrame:
        """The items for display: row, status, attempts, reason, people found, tokens, cost."""
        sql = ("SELECT item_no AS item, source_row AS row, status, attempts, error AS reason, failure_kind AS kind, "
               "json_array_length(json_extract(extraction_json, '$.people')) AS people, "
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

    # -- batches -------------------------------------------------------------------------------------

    def add_batch(self, job_id: str, batch_id: str, requests: int, status: str) -> None:
        with self._lock:
            self.db.cursor().execute(
                "INSERT INTO job_batches (batch_id, job_id, requests, processing_status, created_at, checked_at) "
                "VALUES (?, ?, ?, ?, ?, ?)", [batch_id, job_id, requests, status, _now(), _now()])

    def update_batch(self, batch_id: str, status: str, counts: dict[str, int], *, ended: bool = False) -> None:
        with self._lock:
            self.db.cursor().execute(
                "UPDATE job_batches SET processing_status = ?, counts_json = ?, checked_at = ?, "
                "ended_at = CASE WHEN ? AND ended_at IS NULL THEN ? ELSE ended_at END WHERE batch_id = ?",
                [status, json.dumps(counts), _now(), ended, _now(), batch_id])

    def mark_imported(self, batch_id: str) -> None:
        with self._lock:
            self.db.cursor().execute("UPDATE job_batches SET imported_at = ? WHERE batch_id = ?", [_now(), batch_id])

    def batches(self, job_id: str) -> pd.DataFrame:
        return self.db.cursor().execute(
            "SELECT batch_id, requests, processing_status, counts_json, created_at, ended_at, imported_at, "
            "checked_at FROM job_batches WHERE job_id = ? ORDER BY created_at, batch_id", [job_id]).df()

    def item_batch(self, job_id: str, item_no: int) -> tuple[str | None, str] | None:
        row = self.db.cursor().execute(
            "SELECT batch_id, status FROM job_items WHERE job_id = ? AND item_no = ?", [job_id, item_no]).fetchone()
        return (row[0], row[1]) if row else None


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
