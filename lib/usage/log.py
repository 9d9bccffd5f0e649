"""The usage log: one row per HTTP attempt to Claude, and every query over it.

All usage-log SQL lives here and in `lib/usage/queries.py` (the Usage page's aggregates, and the
daily roll-ups they read so that the page stays fast on a log of millions of rows).

A row that cannot be written (database locked, disk full) is appended to a fallback JSONL file
beside the database instead, and imported on the next start: the log never loses a row.

Writes take `write_lock(db)`, which the roll-up refresh takes too: row ids then become visible in
id order, so a roll-up that has read up to id N can never miss a row with a smaller id. Each runs in
`db.serialized("usage_log")`, which on Postgres extends that order to every process sharing the database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from lib.core.db import DB_ERRORS, Database

FALLBACK_SUFFIX = ".usage-fallback.jsonl"


class UsageRecord(BaseModel):
    """One HTTP attempt, as stored. Tokens are kept even when the cost is unknown."""

    ts: datetime = Field(default_factory=lambda: datetime.now(UTC))
    call_id: str
    backend: str
    request_id: str | None = None
    model: str
    feature: str
    user: str
    status: str
    error_type: str | None = None
    attempt: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_write_5m_tokens: int = 0
    cache_write_1h_tokens: int = 0
    usage_estimated: bool = False
    service_tier: str | None = None
    speed: str | None = None
    inference_geo: str | None = None
    stop_reason: str | None = None
    latency_ms: float | None = None
    ttft_ms: float | None = None
    rl_requests_limit: int | None = None
    rl_requests_remaining: int | None = None
    rl_input_tokens_limit: int | None = None
    rl_input_tokens_remaining: int | None = None
    rl_output_tokens_limit: int | None = None
    rl_output_tokens_remaining: int | None = None
    retry_after_s: float | None = None
    cost_usd: Decimal | None = None
    batch_id: str | None = None
    outcome_kind: str | None = None
    outcome_ref: str | None = None


COLUMNS = list(UsageRecord.model_fields)


def _quote(column: str) -> str:
    return f'"{column}"'


_INSERT = (
    f"INSERT INTO usage_log ({', '.join(_quote(c) for c in COLUMNS)}) "  # noqa: S608 - fixed column names
    f"VALUES ({', '.join('?' for _ in COLUMNS)}) RETURNING id"
)


_LOCKS: dict[str, threading.RLock] = {}  # one per database file (a handful per process)
_LOCKS_GUARD = threading.Lock()


def write_lock(db: Database) -> threading.RLock:
    """The lock every write to the usage log (and every roll-up refresh) of one file holds."""
    key = getattr(db, "url", None) or (str(db.path.resolve()) if str(db.path) != ":memory:" else f":memory:{id(db)}")
    with _LOCKS_GUARD:
        return _LOCKS.setdefault(key, threading.RLock())


def _row_values(record: UsageRecord) -> list[Any]:
    values = record.model_dump()
    values["ts"] = record.ts.astimezone(UTC).replace(tzinfo=None)
    return [values[c] for c in COLUMNS]


class UsageLog:
    """Writes and reads the usage_log table of one Database."""

    def __init__(self, db: Database):
        self.db = db
        self.fallback_path = Path(str(db.path) + FALLBACK_SUFFIX)
        self._fallback_lock = threading.Lock()

    # -- writing -----------------------------------------------------------------------------

    def write(self, record: UsageRecord) -> int:
        """Insert one row and return its id. Raises one of DB_ERRORS; see `write_or_fallback`."""
        with write_lock(self.db), self.db.serialized("usage_log") as cur:
            return cur.execute(_INSERT, _row_values(record)).fetchone()[0]

    def write_or_fallback(self, record: UsageRecord) -> tuple[int | None, str | None]:
        """Insert the row; if the database refuses, keep it in the fallback file.

        Returns (row id or None, a warning for the user or None). Never raises for a database
        error: logging must not break the user's work.
        """
        try:
            return self.write(record), None
        except DB_ERRORS as exc:
            self._append_fallback(record)
            return None, (
                f"The usage log could not be written ({type(exc).__name__}); the row was kept in "
                f"{self.fallback_path.name} and will be imported on the next start."
            )

    def _append_fallback(self, record: UsageRecord) -> None:
        line = record.model_dump_json()
        with self._fallback_lock, self.fallback_path.open("a", encoding="utf-8") as fh:
            fh.write(line + "\n")

    def import_fallback(self) -> int:
        """Import rows kept in the fallback file, then remove it. Returns how many were imported."""
        if not self.fallback_path.exists():
            return 0
        with self._fallback_lock, write_lock(self.db):
            lines = self.fallback_path.read_text(encoding="utf-8").splitlines()
            records = [UsageRecord.model_validate_json(line) for line in lines if line.strip()]
            with self.db.serialized("usage_log") as cur:
                for record in records:
                    cur.execute(_INSERT, _row_values(record))
            self.fallback_path.unlink()
        return len(records)

    def set_outcome(self, call_id: str, kind: str, ref: str) -> None:
        """Tie the successful attempt of a call to what it produced (cost per outcome)."""
        self.db.cursor().execute(
            "UPDATE usage_log SET outcome_kind = ?, outcome_ref = ? WHERE call_id = ? AND status = 'ok'",
            [kind, ref, call_id],
        )

    # -- reading -----------------------------------------------------------------------------

    def rows_for_call(self, call_id: str) -> pd.DataFrame:
        """Every attempt of one logical call, in order."""
        return self.db.cursor().execute(
            "SELECT * FROM usage_log WHERE call_id = ? ORDER BY id", [call_id]
        ).df()

    def call_costs(self, call_ids: Iterable[str]) -> dict[str, Decimal | None]:
        """What each call cost, its attempts added up (None where no attempt has a known price)."""
        ids = sorted({c for c in call_ids if c})
        if not ids:
            return {}
        marks = ", ".join("?" for _ in ids)
        rows = self.db.cursor().execute(
            f"""SELECT call_id, sum(cost_usd)
                FROM usage_log WHERE call_id IN ({marks}) GROUP BY call_id""", ids).fetchall()  # noqa: S608
        return {call_id: (Decimal(str(cost)) if cost is not None else None) for call_id, cost in rows}

    def recent(self, limit: int = 50) -> pd.DataFrame:
        return self.db.cursor().execute(
            "SELECT * FROM usage_log ORDER BY id DESC LIMIT ?", [limit]
        ).df()

    def spend_between(
        self, start: datetime, end: datetime, *, backend: str | None = None,
        user: str | None = None, feature: str | None = None,
    ) -> Decimal:
        """Sum of known costs in [start, end), optionally for one backend, user or feature."""
        sql = "SELECT COALESCE(SUM(cost_usd), 0) FROM usage_log WHERE ts >= ? AND ts < ?"
        params: list[Any] = [_naive_utc(start), _naive_utc(end)]
        for column, value in (("backend", backend), ('"user"', user), ("feature", feature)):
            if value is not None:
                sql += f" AND {column} = ?"
                params.append(value)
        return Decimal(self.db.cursor().execute(sql, params).fetchone()[0])

    def spend_today(self, *, backend: str | None = None, today: date | None = None) -> Decimal:
        """Known spend since 00:00 UTC today."""
        day = today or datetime.now(UTC).date()
        start = datetime(day.year, day.month, day.day, tzinfo=UTC)
        return self.spend_between(start, start + pd.Timedelta(days=1), backend=backend)


def _naive_utc(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
