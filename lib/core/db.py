"""The database: the DuckDB file (default), or Postgres (lib/core/postgres.py) with the same API.

The DuckDB file: one connection per process, a cursor per thread, named migrations.

DuckDB lets one process write a file; inside that process every thread (every Streamlit session)
must use its own cursor, which `Database.cursor()` hands out. This module knows no table: each
package lists its schema changes as (name, sql) pairs in its `migrations.py`, and whoever opens the
database (the composition root, `lib/services.py`) hands them in; `migrate()` applies the ones not
yet recorded in `_migrations`, in the order given. Where a migration's SQL is DuckDB's own, its package
also gives a Postgres form under the same name (`POSTGRES`), and `for_dialect` picks it.

Stores catch `DB_ERRORS` (DuckDB's errors and `DatabaseError`, which the Postgres side raises).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from lib.core.errors import ScribeError

Migration = tuple[str, str]  # (name, sql)


class DatabaseError(ScribeError):
    """The database refused a statement (raised by the Postgres side; DuckDB raises duckdb.Error)."""

    default_hint = "The database refused the change; nothing was saved. Try again, or ask an admin."


DB_ERRORS: tuple[type[Exception], ...] = (duckdb.Error, DatabaseError)


def for_dialect(migrations: Sequence[Migration], forms: Mapping[str, str], dialect: str) -> list[Migration]:
    """The migrations as `dialect` runs them: on Postgres, a migration with a Postgres form uses it."""
    if dialect == "duckdb":
        return list(migrations)
    unknown = set(forms) - {name for name, _ in migrations}
    if unknown:
        raise ValueError(f"Postgres forms of unknown migrations: {', '.join(sorted(unknown))}")
    return [(name, forms.get(name, sql)) for name, sql in migrations]


class DatabaseBusy(ScribeError):
    default_hint = (
        "Another process (most likely the running Scribe app) holds the database. "
        "Stop it, or point SCRIBE_DB at another file."
    )


class Database:
    """A DuckDB file opened once per process; use `cursor()` from any thread."""

    dialect = "duckdb"

    def __init__(self, path: Path | str, migrations: Sequence[Migration] = ()):
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
        self._cursors: list[duckdb.DuckDBPyConnection] = []  # closed before the connection, in close()
        migrate(self, migrations)

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """This thread's cursor (DuckDB connections must not be shared between threads)."""
        cur = getattr(self._local, "cursor", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cursor = cur
            self._cursors.append(cur)
        return cur

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """All or nothing: commit when the block ends, roll back if it raises."""
        cur = self.cursor()
        cur.begin()
        self._local.in_transaction = True
        try:
            yield cur
        except BaseException:
            cur.rollback()
            raise
        else:
            cur.commit()
        finally:
            self._local.in_transaction = False

    @contextmanager
    def serialized(self, name: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """A transaction that, across processes, runs one at a time per `name` (on DuckDB only one
        process opens the file, so this is `transaction()`; callers still hold their thread lock).
        Inside this thread's open transaction, it is part of that one."""
        if getattr(self._local, "in_transaction", False):
            yield self.cursor()
            return
        with self.transaction() as cur:
            yield cur

    def migration_lock(self):
        """Nothing to take: DuckDB lets one process open the file."""
        return nullcontext()

    def close(self) -> None:
        """Close every thread's cursor, then the connection (nothing of DuckDB is left for interpreter exit)."""
        for cur in self._cursors:
            cur.close()
        self._cursors.clear()
        self._con.close()


def applied_migrations(db: Database) -> list[str]:
    """Names of the migrations already applied, oldest first."""
    cur = db.cursor()
    cur.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name VARCHAR PRIMARY KEY, applied_at TIMESTAMP NOT NULL)"
    )
    return [r[0] for r in cur.execute("SELECT name FROM _migrations ORDER BY applied_at, name").fetchall()]


def pending_migrations(db: Database, migrations: Sequence[Migration]) -> list[Migration]:
    """The migrations not applied yet, in the order given."""
    done = set(applied_migrations(db))
    return [(name, sql) for name, sql in migrations if name not in done]


def migrate(db: Database, migrations: Sequence[Migration]) -> list[str]:
    """Apply pending migrations, each in its own transaction; return their names."""
    names = []
    with db.migration_lock():
        for name, sql in pending_migrations(db, migrations):
            with db.transaction() as cur:
                cur.execute(sql)
                cur.execute("INSERT INTO _migrations VALUES (?, ?)", [name, datetime.now(UTC).replace(tzinfo=None)])
            names.append(name)
    return names
