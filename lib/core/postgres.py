"""Postgres (team mode, SCRIBE_DATABASE_URL): the same `Database` API as the DuckDB file, on a pool.

Several app processes and the CLI share one database. `cursor()` and `transaction()` behave as on
DuckDB, so a store needs no second code path for them:

- outside a transaction, each `execute` borrows a pooled connection (autocommit), runs the statement,
  reads its whole result and gives the connection back (Scribe's queries return small results);
- inside `transaction()`, this thread's `cursor()` is the transaction's (as DuckDB's per-thread cursor
  is), so a store that reads through `db.cursor()` mid-transaction sees its own uncommitted writes.

Statements are written with DuckDB's `?` placeholders; the adapter turns them into psycopg's. Values
are bound by psycopg's client-side cursor (quoted by the driver, never by us): server-side binding
would make Postgres guess the type of a bare parameter (`? IS NULL`), which DuckDB never asks for.
Errors come out as `lib.core.db.DatabaseError`, which every store catches beside `duckdb.Error`.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pandas as pd
import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

from lib.core.db import DatabaseError, Migration, migrate


def placeholders(sql: str) -> str:
    """DuckDB-style SQL in psycopg's format: `?` -> %s outside quotes and comments; every % doubled."""
    out: list[str] = []
    for piece in _PIECES.finditer(sql):
        text = piece.group(0).replace("%", "%%")
        out.append(text.replace("?", "%s") if piece.lastgroup == "code" else text)
    return "".join(out)


# SQL split into quoted text, identifiers and comments (left alone) and the code between them.
_PIECES = re.compile(r"""(?P<text>'(?:[^']|'')*'?)|(?P<ident>"(?:[^"]|"")*"?)|(?P<line>--[^\n]*)"""
                     r"""|(?P<block>/\*.*?(?:\*/|$))|(?P<code>[^'"/-]+|[/-])""", re.S)


def redact(url: str) -> str:
    """The URL without its password, in the user part or the query (for messages: never show the secret)."""
    parts = urlsplit(url)
    query = re.sub(r"(?i)(^|&)(password)=[^&]*", r"\1\2=***", parts.query)
    if parts.password is not None:
        host = parts.hostname or ""
        netloc = f"{parts.username}:***@{host}" + (f":{parts.port}" if parts.port else "")
        parts = parts._replace(netloc=netloc)
    return urlunsplit(parts._replace(query=query))


_NUMERIC, _DATE = 1700, 1082  # Postgres type oids


_TYPES = {bool: "BOOLEAN", int: "BIGINT", float: "DOUBLE PRECISION", Decimal: "NUMERIC", str: "TEXT",
          datetime: "TIMESTAMP", pd.Timestamp: "TIMESTAMP", date: "DATE"}


def _pg_type(column: pd.Series) -> str:
    """The Postgres type of a registered frame's column, from its values (TEXT when mixed or all NULL)."""
    names = {_TYPES.get(type(v), "?") for v in column if v is not None}
    if names == {"BIGINT", "DOUBLE PRECISION"}:
        return "DOUBLE PRECISION"
    return names.pop() if len(names) == 1 and "?" not in names else "TEXT"


class PgCursor:
    """What the stores use of a DuckDB cursor: execute(?-params), executemany, fetchone, fetchall,
    df, description. Bound to one connection inside a transaction, else to the pool."""

    def __init__(self, pool: ConnectionPool | None = None, conn: psycopg.Connection | None = None):
        self._pool = pool
        self._conn = conn
        self._rows: list[tuple] = []
        self._pos = 0
        self.description: list[tuple] | None = None
        self.rowcount = -1

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> PgCursor:
        """Run one statement (or, without parameters, several) and keep its whole result."""
        query, args = (placeholders(sql), list(params)) if params else (sql, None)
        return self._run(lambda cur: cur.execute(query, args))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> PgCursor:
        query = placeholders(sql)
        return self._run(lambda cur: cur.executemany(query, [list(r) for r in rows]))

    def _run(self, action) -> PgCursor:
        try:
            if self._conn is not None:
                self._read(self._conn, action)
            else:
                with self._pool.connection() as conn:
                    self._read(conn, action)
        except psycopg.Error as exc:
            raise DatabaseError(f"Postgres refused a statement: {type(exc).__name__}: {exc}".strip()) from exc
        except PoolTimeout as exc:
            raise DatabaseError("No Postgres connection was free in time.",
                                "The database is busy or unreachable; try again.") from exc
        return self

    def _read(self, conn: psycopg.Connection, action) -> None:
        with conn.cursor() as cur:
            action(cur)
            self.rowcount = cur.rowcount
            self.description = [tuple(c) for c in cur.description] if cur.description else None
            self._rows = cur.fetchall() if cur.description else []
            self._pos = 0

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Make `frame` readable as the table `name` in this transaction, as DuckDB's register does
        (a temporary table, dropped at commit). `name` and the columns come from the code, never users."""
        if self._conn is None:
            raise RuntimeError("register() needs a transaction: a temporary table lives on one connection")
        values = frame.astype(object).where(frame.notna(), None)
        columns = ", ".join(f'"{c}" {_pg_type(values[c])}' for c in values.columns)
        self.execute(f"CREATE TEMPORARY TABLE {name} ({columns}) ON COMMIT DROP")
        rows = [list(r) for r in values.itertuples(index=False)]
        marks = "(" + ", ".join("?" for _ in values.columns) + ")"
        for start in range(0, len(rows), 500):  # a few statements, not a round trip per row
            chunk = rows[start:start + 500]
            self.execute(f"INSERT INTO {name} VALUES {', '.join(marks for _ in chunk)}",  # noqa: S608
                         [v for row in chunk for v in row])

    def unregister(self, name: str) -> None:
        self.execute(f"DROP TABLE IF EXISTS {name}")

    def fetchone(self) -> tuple | None:
        if self._pos >= len(self._rows):
            return None
        self._pos += 1
        return self._rows[self._pos - 1]

    def fetchall(self) -> list[tuple]:
        rows, self._pos = self._rows[self._pos:], len(self._rows)
        return rows

    def df(self) -> pd.DataFrame:
        """The result as a DataFrame, typed as DuckDB's `.df()` types it: DECIMAL as float, DATE as datetime."""
        names = [d[0] for d in self.description or []]
        frame = pd.DataFrame.from_records(self.fetchall(), columns=names)
        for i, d in enumerate(self.description or []):
            if d[1] == _NUMERIC:
                frame[names[i]] = frame.iloc[:, i].astype("float64")
            elif d[1] == _DATE:
                frame[names[i]] = pd.to_datetime(frame.iloc[:, i])
        return frame


class PostgresDatabase:
    """A Postgres database reached through a connection pool; use `cursor()` from any thread."""

    dialect = "postgres"

    def __init__(self, url: str, migrations: Sequence[Migration] = (), *, path: Path | str,
                 min_size: int = 1, max_size: int = 10, timeout_s: float = 30.0):
        """`path` names local side files (the usage log's fallback file is kept beside it)."""
        self.url = url
        self.path = Path(path)
        self.label = redact(url)
        self._local = threading.local()
        self._pool = ConnectionPool(
            url, min_size=min_size, max_size=max_size, timeout=timeout_s, open=False, name="scribe",
            kwargs={"autocommit": True, "cursor_factory": psycopg.ClientCursor},
            check=ConnectionPool.check_connection)
        try:
            self._pool.open(wait=True, timeout=timeout_s)
        except PoolTimeout as exc:
            self._pool.close()
            raise DatabaseError(f"Cannot reach Postgres at {self.label}.",
                                "Check SCRIBE_DATABASE_URL and that the server is running.") from exc
        migrate(self, migrations)

    def cursor(self) -> PgCursor:
        """This thread's transaction's cursor inside `transaction()`, else one that uses the pool."""
        tx = getattr(self._local, "tx", None)
        return tx if tx is not None else PgCursor(pool=self._pool)

    @contextmanager
    def transaction(self) -> Iterator[PgCursor]:
        """All or nothing: commit when the block ends, roll back if it raises."""
        if getattr(self._local, "tx", None) is not None:
            raise RuntimeError("transaction() is not reentrant (DuckDB's is not either)")
        try:
            with self._pool.connection() as conn, conn.transaction():
                self._local.tx = PgCursor(conn=conn)
                try:
                    yield self._local.tx
                finally:
                    self._local.tx = None
        except psycopg.Error as exc:  # at COMMIT (a statement's own errors are already DatabaseError)
            raise DatabaseError(f"Postgres refused a transaction: {type(exc).__name__}: {exc}") from exc

    @contextmanager
    def serialized(self, name: str) -> Iterator[PgCursor]:
        """A transaction that runs alone among every process's `serialized(name)` (an advisory lock
        held until it commits): e.g. usage-log writes, so that row ids become visible in id order.
        Inside this thread's open transaction, it is part of that one."""
        open_tx = getattr(self._local, "tx", None)
        if open_tx is not None:  # part of this thread's open transaction: the lock is held until it commits
            open_tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"scribe:{name}"])
            yield open_tx
            return
        with self.transaction() as tx:
            tx.execute("SELECT pg_advisory_xact_lock(hashtext(?))", [f"scribe:{name}"])
            yield tx

    @contextmanager
    def migration_lock(self) -> Iterator[None]:
        """One process at a time runs migrations (several replicas may start together)."""
        with self._pool.connection() as conn:
            conn.execute("SELECT pg_advisory_lock(hashtext('scribe_migrations'))")
            try:
                yield
            finally:
                conn.execute("SELECT pg_advisory_unlock(hashtext('scribe_migrations'))")

    def close(self) -> None:
        self._pool.close()

    def __repr__(self) -> str:
        return f"PostgresDatabase({self.label!r})"
