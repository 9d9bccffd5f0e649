"""Copy one database's rows into another (a DuckDB file into team Postgres), idempotently.

Both databases are opened by the caller with the same migrations, so they hold the same tables. Every
table (but `_migrations` and those the caller names as derived) is copied row by row, by primary key:
a row whose key the target lacks is inserted; one the target already holds with the same values is
left alone (so a second run copies nothing); one it holds with other values is a conflict, and then
nothing at all is copied (one transaction). Derived tables (roll-ups a package rebuilds from its raw
rows) are not copied: when rows were copied, the target's are emptied, to be rebuilt on first use.
Sequences behind `DEFAULT nextval(…)` columns are moved past the copied ids, so new rows do not collide.

This module knows no table: it reads the target's catalogue (information_schema), as db.py knows none.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lib.core.errors import ScribeError

CHUNK = 500  # rows read, looked up and inserted at a time
_NEXTVAL = re.compile(r"nextval\('([^']+)'")


class TransferConflict(ScribeError):
    default_hint = ("The target already holds a different row under this key (it has been used on its own). "
                    "Nothing was copied; copy into an empty database, or settle the difference by hand.")


@dataclass
class TableCopy:
    """What copying one table did."""

    table: str
    source: int = 0  # rows in the source
    present: int = 0  # already in the target, the same
    copied: int = 0  # inserted now
    target: int = 0  # rows in the target afterwards

    @property
    def complete(self) -> bool:
        """Every source row is in the target now."""
        return self.present + self.copied == self.source and self.target >= self.source


def copy_database(source: Any, target: Any, *, derived: Sequence[str] = ()) -> list[TableCopy]:
    """Copy `source`'s rows into `target` (both migrated alike); see the module's docstring. Raises
    TransferConflict (nothing copied) when a key holds different values in the two. The target is Postgres."""
    if target.dialect != "postgres":
        raise ValueError("copy_database copies into Postgres (it reads the target's catalogue)")
    tables = [t for t in _tables(target) if t != "_migrations" and t not in derived and t in set(_tables(source))]
    report = []
    with target.transaction() as cur:
        for table in tables:
            report.append(_copy_table(source, cur, table))
        if any(r.copied for r in report):
            for table in derived:
                if table in tables or table in _tables(target):
                    cur.execute(f"DELETE FROM {_ident(table)}")  # noqa: S608 - a name from the catalogue
            _advance_sequences(cur)
    return report


def _tables(db: Any) -> list[str]:
    schema = "public" if db.dialect == "postgres" else "main"
    rows = db.cursor().execute("SELECT table_name FROM information_schema.tables WHERE table_schema = ? "
                               "AND table_type = 'BASE TABLE' ORDER BY table_name", [schema]).fetchall()
    return [r[0] for r in rows]


def _columns(cur: Any, table: str) -> tuple[list[str], list[str]]:
    """(the table's columns in order, its primary key's columns) from the target's catalogue."""
    columns = [r[0] for r in cur.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' AND table_name = ? "
        "ORDER BY ordinal_position", [table]).fetchall()]
    key = [r[0] for r in cur.execute(
        "SELECT k.column_name FROM information_schema.table_constraints c JOIN information_schema.key_column_usage k "
        "ON k.constraint_name = c.constraint_name AND k.table_schema = c.table_schema AND k.table_name = c.table_name "
        "WHERE c.table_schema = 'public' AND c.table_name = ? AND c.constraint_type = 'PRIMARY KEY' "
        "ORDER BY k.ordinal_position", [table]).fetchall()]
    return columns, key or columns  # no key: the whole row is its identity


def _copy_table(source: Any, cur: Any, table: str) -> TableCopy:
    columns, key = _columns(cur, table)
    names = ", ".join(_ident(c) for c in columns)
    positions = [columns.index(k) for k in key]
    done = TableCopy(table)
    for rows in _chunks(source, f"SELECT {names} FROM {_ident(table)}"):  # noqa: S608 - names from the catalogue
        done.source += len(rows)
        held = _held(cur, table, columns, key, [tuple(r[i] for i in positions) for r in rows])
        new = []
        for row in rows:
            there = held.get(tuple(row[i] for i in positions))
            if there is None:
                new.append(row)
            elif _same(row, there):
                done.present += 1
            else:
                shown = ", ".join(f"{k}={row[i]!r}" for k, i in zip(key, positions, strict=True))
                raise TransferConflict(f"{table}: the row with {shown} differs between the two databases.")
        _insert(cur, table, names, len(columns), new)
        done.copied += len(new)
    done.target = int(cur.execute(f"SELECT count(*) FROM {_ident(table)}").fetchone()[0])  # noqa: S608
    return done


def _chunks(source: Any, sql: str) -> Iterator[list[tuple]]:
    cur = source.cursor().execute(sql)
    if not hasattr(cur, "fetchmany"):
        rows = cur.fetchall()
        yield from (rows[i:i + CHUNK] for i in range(0, len(rows), CHUNK))
        return
    while rows := cur.fetchmany(CHUNK):
        yield rows


def _held(cur: Any, table: str, columns: list[str], key: list[str], keys: list[tuple]) -> dict[tuple, tuple]:
    """The target's rows with these keys, by key."""
    if not keys:
        return {}
    row_mark = "(" + ", ".join("?" for _ in key) + ")"
    sql = (f"SELECT {', '.join(_ident(c) for c in columns)} FROM {_ident(table)} "  # noqa: S608
           f"WHERE ({', '.join(_ident(k) for k in key)}) IN ({', '.join(row_mark for _ in keys)})")
    positions = [columns.index(k) for k in key]
    found = cur.execute(sql, [v for k in keys for v in k]).fetchall()
    return {tuple(r[i] for i in positions): r for r in found}


def _insert(cur: Any, table: str, names: str, width: int, rows: list[tuple]) -> None:
    if not rows:
        return
    mark = "(" + ", ".join("?" for _ in range(width)) + ")"
    cur.execute(f"INSERT INTO {_ident(table)} ({names}) VALUES {', '.join(mark for _ in rows)}",  # noqa: S608
                [v for row in rows for v in row])


def _same(a: tuple, b: tuple) -> bool:
    return len(a) == len(b) and all(_same_value(x, y) for x, y in zip(a, b, strict=True))


def _same_value(x: object, y: object) -> bool:
    if x == y:
        return True
    numbers = (int, float, Decimal)
    if isinstance(x, numbers) and isinstance(y, numbers) and not isinstance(x, bool):
        return float(x) == float(y)
    return False


def _advance_sequences(cur: Any) -> None:
    """Move each sequence a column takes its default from past that column's largest value."""
    rows = cur.execute("SELECT table_name, column_name, column_default FROM information_schema.columns "
                       "WHERE table_schema = 'public' AND column_default LIKE 'nextval(%'").fetchall()
    for table, column, default in rows:
        found = _NEXTVAL.search(default)
        if not found:
            continue
        top = cur.execute(f"SELECT max({_ident(column)}) FROM {_ident(table)}").fetchone()[0]  # noqa: S608
        if top is not None:  # never backwards: the sequence may already be past it
            cur.execute("SELECT setval(CAST(? AS regclass), GREATEST(?, (SELECT last_value FROM pg_sequences "
                        "WHERE schemaname = 'public' AND sequencename = ?) ), true)",
                        [found.group(1), int(top), found.group(1).split(".")[-1].strip('"')])


def _ident(name: str) -> str:
    """A quoted identifier (the names come from the catalogue, never from a user)."""
    return '"' + name.replace('"', '""') + '"'
