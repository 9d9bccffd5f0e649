"""The usage log: one row per HTTP attempt to Claude, and every query over it.

All usage-log SQL lives here and in `lib/usage/queries.py` (the Usage page's aggregates, and the
daily roll-ups they read so that the page stays fast on a log of millions of rows).

A row the database refuses (locked, disk full) is never dropped: it stays in memory and is written
again before the next row (so a disk that fills for a while loses nothing once it has room), and is
also appended to a fallback JSONL file, beside the database or, when that disk refuses too, in a
second folder (SCRIBE_FALLBACK_DIR, by default ~/.local/state/scribe). The next start imports both
files, skipping rows already logged. `unsaved()` says how many rows are held only in memory.

Writes take `write_lock(db)`, which the roll-up refresh takes too: row ids then become visible in
id order, so a roll-up that has read up to id N can never miss a row with a smaller id. Each runs in
`db.serialized("usage_log")`, which on Postgres extends that order to every process sharing the database.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from lib.core.db import DB_ERRORS, Database

if TYPE_CHECKING:  # the frames come from DuckDB's .df(); the bulk CLI never pays for importing pandas
    import pandas as pd

FALLBACK_SUFFIX = ".usage-fallback.jsonl"
STORAGE_ERRORS = (*DB_ERRORS, OSError)  # what a write may raise when the database or its disk refuses


def default_fallback_dir() -> Path:
    """The second place for rows the database refuses: on the home disk, not the database's."""
    chosen = os.environ.get("SCRIBE_FALLBACK_DIR")
    if chosen:
        return Path(chosen)
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "scribe"


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


_INSERT_IF_NEW = (  # a fallback row whose attempt is already logged (written again from memory) is skipped
    f"INSERT INTO usage_log ({', '.join(_quote(c) for c in COLUMNS)}) "  # noqa: S608 - fixed column names
    f"SELECT {', '.join('?' for _ in COLUMNS)} WHERE NOT EXISTS (SELECT 1 FROM usage_log "
    "WHERE call_id = ? AND attempt = ? AND ts = ? AND status = ?) RETURNING id"
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

    def __init__(self, db: Database, fallback_dir: Path | None = None):
        self.db = db
        self.fallback_path = Path(str(db.path) + FALLBACK_SUFFIX)
        where = str(db.path.resolve()) if str(db.path) != ":memory:" else f":memory:{id(db)}"
        self.second_fallback_path = (fallback_dir or default_fallback_dir()) / (
            f"{db.path.name}-{hashlib.sha256(where.encode()).hexdigest()[:8]}{FALLBACK_SUFFIX}")
        self._fallback_lock = threading.Lock()
        self._unsaved: list[UsageRecord] = []  # refused by the database; written again before the next row
        self._in_memory_only: list[UsageRecord] = []  # of those, the ones no fallback file took either
        self._written_aside: set[Path] = set()

    # -- writing -----------------------------------------------------------------------------

    def write(self, record: UsageRecord) -> int:
        """Insert one row and return its id. Raises one of STORAGE_ERRORS; see `write_or_fallback`."""
        with write_lock(self.db), self.db.serialized("usage_log") as cur:
            return cur.execute(_INSERT, _row_values(record)).fetchone()[0]

    def write_or_fallback(self, record: UsageRecord) -> tuple[int | None, str | None]:
        """Insert the row (after any held back earlier); if the database refuses, keep it aside.

        Returns (row id or None, a warning for the user or None). Never raises for a database or
        disk error: logging must not break the user's work.
        """
        try:
            self.flush()
            return self.write(record), None
        except STORAGE_ERRORS as exc:
            where = self._keep_aside(record)
            return None, (
                f"The usage log could not be written ({type(exc).__name__}: {first_line(exc)}); the row is kept "
                f"{where} and will be written when the database takes it again."
            )

    def flush(self) -> int:
        """Write the rows held back since the database refused them. Raises if it still refuses."""
        with self._fallback_lock:
            if not self._unsaved:
                return 0
            with write_lock(self.db), self.db.serialized("usage_log") as cur:
                for held in self._unsaved:
                    cur.execute(_INSERT, _row_values(held))
            count = len(self._unsaved)
            self._unsaved.clear()
            self._in_memory_only.clear()
            for path in self._written_aside:  # every line in them was one of the rows just written
                path.unlink(missing_ok=True)
            self._written_aside.clear()
            return count

    def unsaved(self) -> list[UsageRecord]:
        """Rows held in memory because the database refused them (each is also in a fallback file if a disk took it)."""
        with self._fallback_lock:
            return list(self._unsaved)

    def in_memory_only(self) -> list[UsageRecord]:
        """Rows neither the database nor any fallback file took: lost when this process ends, unless written now."""
        with self._fallback_lock:
            return list(self._in_memory_only)

    def _keep_aside(self, record: UsageRecord) -> str:
        line = record.model_dump_json() + "\n"
        with self._fallback_lock:
            self._unsaved.append(record)
            for path in (self.fallback_path, self.second_fallback_path):
                try:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    with path.open("a", encoding="utf-8") as fh:
                        fh.write(line)
                        fh.flush()
                        os.fsync(fh.fileno())
                except OSError:
                    continue
                self._written_aside.add(path)
                return f"in memory and in {path}"
            self._in_memory_only.append(record)
        return "in memory only (no disk took it)"

    def import_fallback(self) -> int:
        """Import rows kept in the fallback files, skipping any already logged, then remove the files.
        Returns how many were imported."""
        imported = 0
        with self._fallback_lock, write_lock(self.db):
            for path in (self.fallback_path, self.second_fallback_path):
                if not path.exists():
                    continue
                lines = path.read_text(encoding="utf-8").splitlines()
                records = [UsageRecord.model_validate_json(line) for line in lines if line.strip()]
                with self.db.serialized("usage_log") as cur:
                    for record in records:
                        values = _row_values(record)
                        cur.execute(_INSERT_IF_NEW, [*values, record.call_id, record.attempt, values[0],
                                                     record.status])
                        imported += len(cur.fetchall())
                path.unlink()
        return imported

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

    def typical_latency_s(self, feature: str, model: str, *, last: int = 50) -> float | None:
        """Median seconds of the last `last` successful calls of a feature on a model; None before any."""
        row = self.db.cursor().execute(
            "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY latency_ms) FROM (SELECT latency_ms FROM usage_log "
            "WHERE feature = ? AND model = ? AND status = 'ok' AND latency_ms IS NOT NULL ORDER BY id DESC LIMIT ?) "
            "AS recent", [feature, model, last]).fetchone()
        return row[0] / 1000 if row and row[0] is not None else None

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
        return self.spend_between(start, start + timedelta(days=1), backend=backend)


def first_line(exc: BaseException, limit: int = 160) -> str:
    """An error's first line, for a message (database errors carry long multi-line texts). A long line keeps
    its start and its end, where an I/O error names its cause after a long file path."""
    line = (str(exc).strip().splitlines() or [""])[0]
    if len(line) <= limit:
        return line
    half = (limit - 1) // 2
    return f"{line[:half]}…{line[-half:]}"


def _naive_utc(moment: datetime) -> datetime:
    """DuckDB TIMESTAMP columns hold naive UTC."""
    if moment.tzinfo is None:
        return moment
    return moment.astimezone(UTC).replace(tzinfo=None)
