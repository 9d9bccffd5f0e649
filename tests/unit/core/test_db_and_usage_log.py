"""The database, its migrations, and the usage log's write path (including the fallback file).

Each test runs on DuckDB and on Postgres (the `database` fixture), except the file lock, DuckDB's own."""

import subprocess
import sys
import threading
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from lib.core.db import DB_ERRORS, applied_migrations, migrate
from lib.services import MIGRATIONS, open_database
from lib.usage.log import UsageLog, UsageRecord

ROOT = str(Path(__file__).resolve().parents[3])


def record(**over):
    base = dict(call_id="c1", backend="sandbox", model="claude-sonnet-4-6", feature="summarize", user="dana",
                status="ok", input_tokens=10, output_tokens=5, cost_usd=Decimal("0.000105"))
    return UsageRecord(**(base | over))


def reopen(db):
    """The same database opened again, as another process would."""
    if db.dialect == "duckdb":
        return open_database(db.path)
    return open_database(db.url, local_path=db.path)


def test_migrations_run_once(database):
    db = database
    first = applied_migrations(db)
    assert "usage_log_001_create" in first and "conversations_001_create" in first
    assert migrate(db, MIGRATIONS) == []
    db.close()
    again = reopen(db)
    assert applied_migrations(again) == first
    again.close()


def test_write_and_read_back(database):
    log = UsageLog(database)
    row_id = log.write(record())
    rows = log.rows_for_call("c1")
    assert list(rows["id"]) == [row_id]
    assert rows.loc[0, "user"] == "dana" and rows.loc[0, "input_tokens"] == 10
    assert Decimal(str(rows.loc[0, "cost_usd"])) == Decimal("0.000105")


def test_unknown_cost_is_null_not_zero(database):
    log = UsageLog(database)
    log.write(record(cost_usd=None))
    assert log.db.cursor().execute("SELECT cost_usd IS NULL FROM usage_log").fetchone() == (True,)


def test_a_refused_write_goes_to_the_fallback_file_and_comes_back(database):
    db = database
    log = UsageLog(db)
    db.cursor().execute("ALTER TABLE usage_log RENAME TO usage_log_away")  # every insert now fails
    row_id, warning = log.write_or_fallback(record(call_id="lost?"))
    assert row_id is None and "fallback" in warning
    assert log.fallback_path.exists()
    db.cursor().execute("ALTER TABLE usage_log_away RENAME TO usage_log")
    assert log.import_fallback() == 1
    assert not log.fallback_path.exists()
    assert len(log.rows_for_call("lost?")) == 1


def test_a_row_refused_while_the_disk_is_full_is_written_once_it_has_room(hermetic_env, tmp_path):
    db = open_database(hermetic_env)
    log = UsageLog(db, tmp_path / "second")
    log.fallback_path.mkdir()  # the database's own folder refuses the file too (as a full disk would)
    db.cursor().execute("ALTER TABLE usage_log RENAME TO usage_log_away")
    row_id, warning = log.write_or_fallback(record(call_id="held"))
    assert row_id is None and str(log.second_fallback_path) in warning
    assert [r.call_id for r in log.unsaved()] == ["held"]
    assert "held" in log.second_fallback_path.read_text()
    db.cursor().execute("ALTER TABLE usage_log_away RENAME TO usage_log")
    row_id, warning = log.write_or_fallback(record(call_id="next"))  # the held row goes first
    assert row_id is not None and warning is None and log.unsaved() == []
    assert not log.second_fallback_path.exists()  # its rows are in the database now
    assert list(log.db.cursor().execute("SELECT call_id FROM usage_log ORDER BY id").fetchall()) == [("held",),
                                                                                                  ("next",)]


def test_when_no_disk_takes_the_row_it_is_kept_in_memory(hermetic_env, tmp_path):
    db = open_database(hermetic_env)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, so no folder can be made under it")
    log = UsageLog(db, blocked / "sub")
    log.fallback_path.mkdir()
    db.cursor().execute("ALTER TABLE usage_log RENAME TO usage_log_away")
    row_id, warning = log.write_or_fallback(record(call_id="only-here"))
    assert row_id is None and "in memory only" in warning
    db.cursor().execute("ALTER TABLE usage_log_away RENAME TO usage_log")
    assert log.flush() == 1 and len(log.rows_for_call("only-here")) == 1


def test_importing_a_fallback_file_skips_rows_already_logged(hermetic_env, tmp_path):
    db = open_database(hermetic_env)
    log = UsageLog(db, tmp_path / "second")
    logged = record(call_id="twice")
    log.write(logged)
    log.second_fallback_path.parent.mkdir(parents=True)
    log.second_fallback_path.write_text(logged.model_dump_json() + "\n" + record(call_id="new").model_dump_json()
                                        + "\n")
    assert log.import_fallback() == 1
    assert len(log.rows_for_call("twice")) == 1 and len(log.rows_for_call("new")) == 1


def test_spend_today_sums_known_costs_of_one_backend(database):
    log = UsageLog(database)
    now = datetime(2026, 11, 26, 12, tzinfo=UTC)
    log.write(record(ts=now, cost_usd=Decimal("0.5")))
    log.write(record(ts=now, cost_usd=None))
    log.write(record(ts=now, backend="anthropic", cost_usd=Decimal("2")))
    log.write(record(ts=datetime(2026, 11, 25, 23, 59, tzinfo=UTC), cost_usd=Decimal("9")))
    assert log.spend_today(backend="sandbox", today=now.date()) == Decimal("0.5")
    assert log.spend_today(today=now.date()) == Decimal("2.5")


def test_each_thread_gets_its_own_cursor(database):
    db = database
    log = UsageLog(db)
    seen, errors = set(), []

    def work(n):
        try:
            seen.add(id(db.cursor()))
            for i in range(20):
                log.write(record(call_id=f"t{n}-{i}"))
        except DB_ERRORS as exc:  # pragma: no cover - the failure this test is about
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(seen) == 4 or db.dialect == "postgres"  # Postgres: a pooled connection per statement instead
    assert db.cursor().execute("SELECT count(*) FROM usage_log").fetchone() == (80,)


def test_transaction_rolls_back_on_error(database):
    db = database
    with pytest.raises(RuntimeError), db.transaction() as cur:
        cur.execute("CREATE TABLE t (x INT)")
        cur.execute("INSERT INTO t VALUES (1)")
        raise RuntimeError("boom")
    assert db.cursor().execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_name = 't'").fetchone() == (0,)


def test_a_second_process_gets_a_clear_busy_error(hermetic_env):
    holder = open_database(hermetic_env)  # this process holds the file while the other tries
    code = ("from lib.core.db import DatabaseBusy\nfrom lib.services import open_database\n"
            f"try:\n    open_database({str(hermetic_env)!r})\nexcept DatabaseBusy as e:\n    print('BUSY', e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert "BUSY" in out.stdout and "holds the database" in out.stdout
    holder.close()


def test_call_costs_add_up_each_calls_attempts(database):
    log = UsageLog(database)
    log.write(record(call_id="x", cost_usd=Decimal("0.25")))
    log.write(record(call_id="x", status="429", cost_usd=Decimal("0.5")))
    log.write(record(call_id="y", cost_usd=None))
    log.write(record(call_id="z", cost_usd=Decimal("9")))
    assert log.call_costs(["x", "y", "x", "", "nobody"]) == {"x": Decimal("0.75"), "y": None}
    assert log.call_costs([]) == {}


def test_a_usage_row_written_inside_an_open_transaction_is_part_of_it(database):
    log = UsageLog(database)
    with pytest.raises(RuntimeError), database.transaction():
        log.write(record(call_id="inside"))
        raise RuntimeError("the outer work failed")
    assert log.rows_for_call("inside").empty
    with database.transaction():
        log.write(record(call_id="kept"))
    assert len(log.rows_for_call("kept")) == 1
