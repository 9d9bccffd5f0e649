"""Postgres: the test server (one per session, a database per test) and the Database on a pool."""

import psycopg


def test_each_test_gets_its_own_empty_database(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE mine (x INTEGER)")
        conn.execute("INSERT INTO mine VALUES (1)")
        assert conn.execute("SELECT count(*) FROM mine").fetchone()[0] == 1


def test_a_second_test_does_not_see_the_firsts_tables(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        found = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 'mine'").fetchone()[0]
    assert found == 0


def test_the_server_runs_with_fsync_off(postgres_url):
    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SHOW fsync").fetchone()[0] == "off"


# -- the Postgres Database: DuckDB's API on a pool ----------------------------------------------------


def test_placeholders_outside_quotes_only_and_percent_doubled():
    from lib.core.postgres import placeholders

    assert placeholders("SELECT ? WHERE x LIKE '%?' AND \"a?\" = ?") == \
        "SELECT %s WHERE x LIKE '%%?' AND \"a?\" = %s"
    assert placeholders("SELECT 'it''s ?', ?") == "SELECT 'it''s ?', %s"


def test_the_url_shown_never_holds_the_password():
    from lib.core.postgres import redact

    assert redact("postgresql://scribe:s3cret@db.internal:5432/scribe") == \
        "postgresql://scribe:***@db.internal:5432/scribe"
    assert redact("postgresql://scribe@db/scribe") == "postgresql://scribe@db/scribe"
    assert redact("postgresql://db/scribe?user=scribe&password=s3cret&sslmode=require") == \
        "postgresql://db/scribe?user=scribe&password=***&sslmode=require"


def test_an_unreachable_server_is_a_clear_error_without_the_password(hermetic_env):
    import pytest

    from lib.core.db import DatabaseError
    from lib.core.postgres import PostgresDatabase

    with pytest.raises(DatabaseError) as caught:
        PostgresDatabase("postgresql://scribe:s3cret@127.0.0.1:1/scribe", path=hermetic_env, timeout_s=1)
    assert "127.0.0.1:1" in str(caught.value) and "SCRIBE_DATABASE_URL" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_the_settings_pick_postgres_and_refuse_another_scheme():
    import pytest
    from pydantic import ValidationError

    from lib.core.settings import load_settings
    from lib.services import database_target

    s = load_settings(env={"SCRIBE_DATABASE_URL": "postgresql://u:pw@h/db"}, secrets={})
    assert s.uses_postgres and database_target(s) == "postgresql://u:pw@h/db"
    assert "pw" not in repr(s)
    plain = load_settings(env={}, secrets={})
    assert not plain.uses_postgres and database_target(plain) == str(plain.scribe_db)
    with pytest.raises(ValidationError, match="postgresql://"):
        load_settings(env={"SCRIBE_DATABASE_URL": "mysql://h/db"}, secrets={})


def test_build_puts_all_state_in_postgres_when_the_url_is_set(postgres_url, monkeypatch, hermetic_env):
    from lib.core.settings import load_settings
    from lib.services import build

    monkeypatch.setenv("SCRIBE_DATABASE_URL", postgres_url)
    services = build(load_settings())
    try:
        assert services.db.dialect == "postgres"
        assert len(services.crm.contacts()) == 200  # the sample CRM, seeded into Postgres
        assert not hermetic_env.exists()  # no DuckDB file was made
        assert "scribe_test" in repr(services.db) and services.db.path.parent == hermetic_env.parent
    finally:
        services.close()


def test_inside_a_transaction_this_threads_cursor_sees_its_writes(postgres_url, hermetic_env):
    import threading

    from lib.services import open_database

    db = open_database(postgres_url, local_path=hermetic_env)
    db.cursor().execute("CREATE TABLE t (x INTEGER)")
    seen_elsewhere = []
    with db.transaction() as tx:
        tx.execute("INSERT INTO t VALUES (?)", [1])
        assert db.cursor() is tx
        assert db.cursor().execute("SELECT count(*) FROM t").fetchone() == (1,)
        other = threading.Thread(target=lambda: seen_elsewhere.append(
            db.cursor().execute("SELECT count(*) FROM t").fetchone()))
        other.start()
        other.join()
    assert seen_elsewhere == [(0,)]  # not committed yet when the other thread looked
    assert db.cursor().execute("SELECT count(*) FROM t").fetchone() == (1,)
    db.close()


def test_a_refused_statement_is_a_database_error(postgres_url, hermetic_env):
    import pytest

    from lib.core.db import DB_ERRORS, DatabaseError
    from lib.services import open_database

    db = open_database(postgres_url, local_path=hermetic_env)
    with pytest.raises(DatabaseError) as caught:
        db.cursor().execute("SELECT * FROM no_such_table WHERE x = ?", [1])
    assert isinstance(caught.value, DB_ERRORS) and "no_such_table" in str(caught.value)
    db.close()


def test_placeholders_leave_comments_alone():
    from lib.core.postgres import placeholders

    sql = "SELECT ? -- the companies' names?\n, ? /* it's? */ - ? / 2"
    assert placeholders(sql) == "SELECT %s -- the companies' names?\n, %s /* it's? */ - %s / 2"


def test_serialized_blocks_have_one_process_at_a_time_per_name(postgres_url, hermetic_env):
    import threading

    from lib.services import open_database

    # two Database objects stand for two processes: only the advisory lock in Postgres orders them
    first, second = (open_database(postgres_url, local_path=hermetic_env) for _ in range(2))
    order, inside = [], threading.Event()
    release = threading.Event()

    def hold():
        with first.serialized("usage_log"):
            order.append("first in")
            inside.set()
            release.wait(30)
            order.append("first out")

    holder = threading.Thread(target=hold)
    holder.start()
    inside.wait(30)
    def wait():
        with second.serialized("usage_log"):
            order.append("second in")

    waiter = threading.Thread(target=wait)
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and order == ["first in"]  # the second waits for the first to commit
    release.set()
    holder.join(30)
    waiter.join(30)
    assert order == ["first in", "first out", "second in"]
    first.close()
    second.close()


def test_a_registered_frame_is_a_table_until_the_transaction_ends(postgres_url, hermetic_env):
    from datetime import datetime

    import pandas as pd
    import pytest

    from lib.services import open_database

    db = open_database(postgres_url, local_path=hermetic_env)
    at = datetime.fromisoformat("2026-01-01T00:00:00")  # naive UTC, as the tables keep it
    frame = pd.DataFrame({"n": [1, 2], "name": ["a", None], "at": [at, None]})
    with db.transaction() as tx:
        tx.register("frame", frame)
        assert tx.execute("SELECT n, name, at FROM frame ORDER BY n").fetchall() == [
            (1, "a", at), (2, None, None)]
        tx.unregister("frame")
    with pytest.raises(RuntimeError, match="transaction"):
        db.cursor().register("frame", frame)
    db.close()


def test_a_duckdb_file_handed_in_while_the_url_is_set_is_said_in_the_log(monkeypatch, hermetic_env, caplog):
    from lib.core.settings import load_settings
    from lib.services import build, open_database

    monkeypatch.setenv("SCRIBE_DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none")  # never reached
    services = build(load_settings(), db=open_database(hermetic_env), seed=False)
    try:
        assert services.db.dialect == "duckdb"
        assert "SCRIBE_DATABASE_URL is set" in caplog.text and "nobody" not in caplog.text
    finally:
        services.close()
