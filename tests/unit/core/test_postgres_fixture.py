"""The test Postgres: a throwaway server for the session, and a database of each test's own."""

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
