"""The DuckDB file: one connection per process, a cursor per thread, named migrations.

DuckDB lets one process write a file; inside that process every thread (every Streamlit session)
must use its own cursor, which `Database.cursor()` hands out. Each table family keeps its SQL in its
own module, which lists its schema changes in `MIGRATIONS` as (name, sql) pairs; `migrate()` applies
the ones not yet recorded in `_migrations`, in the order of `FAMILIES` and then list order.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from lib.errors import ScribeError

# Modules that own tables, in the order their migrations run.
FAMILIES = ("lib.usage_log", "lib.crm", "lib.conversations", "lib.jobs", "lib.budgets")


class DatabaseBusy(ScribeError):
    default_hint = (
        "Another process (most likely the running Scribe app) holds the database. "
        "Stop it, or point SCRIBE_DB at another file."
    )


class Database:
    """A DuckDB file opened once per process; use `cursor()` from any thread."""

    def __init__(self, path: Path | str, *, migrate_now: bool = True):
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(path))
        except duckdb.IOException as exc:
            if "lock" in str(exc).lower():
                raise DatabaseBusy(f"Cannot open {self.path}: it is locked.") from exc
            raise
        self._local = threading.local()
        if migrate_now:
            migrate(self)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections must not be shared between threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commit when the block ends, roll back if it raises."""
        cur = self.cursor()
        cur.begin()
        try:
            yield cur
        except BaseException:
            cur.rollback()
            raise
        cur.commit()

    def close(self) -> None:
        self._con.close()


def applied_migrations(db: Database) -> list[str]:
    """Names of the migrations already applied, oldest first."""
    cur = db.cursor()
    cur.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    return [r[0] for r in cur.execute("SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()]


def pending_migrations(db: Database) -> list[tuple[str, str]]:
    """(name, sql) of every migration not applied yet, in run order."""
    done = set(applied_migrations(db))
    pending = []
    for module_name in FAMILIES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name == module_name:  # a family not built yet
                continue
            raise
        pending += [(name, sql) for name, sql in getattr(module, "MIGRATIONS", []) if name not in done]
    return pending


def migrate(db: Database) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    names = []
    for name, sql in pending_migrations(db):
        with db.transaction() as cur:
            cur.execute(sql)
            cur.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(UTC).replace(tzinfo=None)])
        names.append(name)
    return names
