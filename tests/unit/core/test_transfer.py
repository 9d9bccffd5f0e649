"""`python -m lib.bulk migrate`: a DuckDB file's data copied into a real Postgres (the test server),
idempotently, with the counts checked, a conflicting key refused, and the URL's password never shown."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from lib.bulk.input import NoteRow
from lib.bulk.jobs import JobStore
from lib.core.transfer import TransferConflict, copy_database
from lib.crm.builtin import BuiltinCrm
from lib.services import open_database
from lib.usage.log import UsageLog, UsageRecord
from lib.usage.queries import UsageQueries

ROOT = Path(__file__).resolve().parents[3]
DERIVED = ("usage_daily", "usage_latency_daily", "usage_outcome_daily", "usage_rollup_state")
PASSWORD = "s3cret-Pa55"


def record(n: int) -> UsageRecord:
    return UsageRecord(call_id=f"c{n}", backend="sandbox", model="claude-sonnet-4-6", feature="extract", user="dana",
                       status="ok", input_tokens=10 * n, output_tokens=5, cost_usd=Decimal("0.000105"),
                       ts=datetime(2026, 3, 1, 9, n, tzinfo=UTC))


@pytest.fixture
def duckdb_file(tmp_path):
    """A DuckDB file as one person's Scribe leaves it: the sample CRM, usage rows (rolled up), a job."""
    path = tmp_path / "solo.duckdb"
    db = open_database(path)
    BuiltinCrm(db).seed_if_empty()
    log = UsageLog(db)
    for n in range(1, 6):
        log.write(record(n))
    assert UsageQueries(db).refresh()
    jobs = JobStore(db, "host:1:solo")
    jobs.create_job(kind="live", user="dana", model="claude-sonnet-4-6", max_tokens=4000,
                    rows=[NoteRow(row=1, note="Call with Ana."), NoteRow(row=2, note="Call with Bo.")])
    db.close()
    return path


def counts(db, tables=("contacts", "companies", "deals", "usage_log", "jobs", "job_items")) -> dict[str, int]:
    return {t: db.cursor().execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in tables}  # noqa: S608


def test_a_file_is_copied_once_with_its_counts_checked(duckdb_file, postgres_url):
    source, target = open_database(duckdb_file), open_database(postgres_url)
    try:
        first = {r.table: r for r in copy_database(source, target, derived=DERIVED)}
        assert counts(target) == counts(source) and counts(source)["contacts"] == 200
        assert all(r.complete for r in first.values()) and first["usage_log"].copied == 5
        assert "_migrations" not in first and "usage_daily" not in first  # roll-ups are rebuilt, not copied
        again = copy_database(source, target, derived=DERIVED)
        assert sum(r.copied for r in again) == 0 and all(r.complete for r in again)
        assert counts(target) == counts(source)
        # new rows in Postgres take ids after the copied ones
        contact = target.cursor().execute("SELECT nextval('contact_id_seq')").fetchone()[0]
        assert contact > target.cursor().execute("SELECT max(id) FROM contacts").fetchone()[0]
        assert UsageLog(target).write(record(9)) == 6
        queries = UsageQueries(target)
        assert queries.refresh()
        assert target.cursor().execute("SELECT sum(requests) FROM usage_daily").fetchone()[0] == 6
    finally:
        source.close()
        target.close()


def test_a_key_that_holds_another_row_in_postgres_stops_the_copy_with_nothing_copied(duckdb_file, postgres_url):
    source, target = open_database(duckdb_file), open_database(postgres_url)
    try:
        UsageLog(target).write(record(7))  # Postgres was used on its own: its usage row 1 is another call
        with pytest.raises(TransferConflict, match=r"usage_log: the row with id=1 differs"):
            copy_database(source, target, derived=DERIVED)
        assert counts(target) == {"contacts": 0, "companies": 0, "deals": 0, "usage_log": 1, "jobs": 0,
                                  "job_items": 0}
    finally:
        source.close()
        target.close()


def with_password(url: str) -> str:
    """The test server trusts every login; a password in the URL shows whether the CLI ever prints it."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=f"{parts.username}:{PASSWORD}@{parts.hostname}:{parts.port}"))


def migrate(*args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ANTHROPIC_", "SCRIBE_DATABASE_URL"))}
    return subprocess.run([sys.executable, "-m", "lib.bulk", "migrate", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def test_the_cli_copies_prints_the_counts_and_never_the_password(duckdb_file, postgres_url):
    url = with_password(postgres_url)
    done = migrate("--to", url, "--from", str(duckdb_file))
    assert done.returncode == 0, done.stderr
    assert PASSWORD not in done.stdout + done.stderr and "***" in done.stdout
    line = next(x for x in done.stdout.splitlines() if x.startswith("contacts "))
    assert line.split() == ["contacts", "200", "0", "200", "200"]
    assert "Checked: every row is in Postgres" in done.stdout

    again = migrate("--to", url, "--from", str(duckdb_file))
    assert again.returncode == 0, again.stderr
    assert "(0 copied now" in again.stdout
    line = next(x for x in again.stdout.splitlines() if x.startswith("contacts "))
    assert line.split() == ["contacts", "200", "200", "0", "200"]


def test_the_cli_exits_1_on_a_conflicting_key_and_2_without_a_file(duckdb_file, postgres_url, tmp_path):
    target = open_database(postgres_url)
    UsageLog(target).write(record(7))
    target.close()
    url = with_password(postgres_url)
    refused = migrate("--to", url, "--from", str(duckdb_file))
    assert refused.returncode == 1, refused.stdout
    assert "usage_log: the row with id=1 differs" in refused.stderr and "Nothing was copied" in refused.stderr
    assert PASSWORD not in refused.stdout + refused.stderr and "Traceback" not in refused.stderr
    missing = migrate("--to", url, "--from", str(tmp_path / "none.duckdb"))
    assert missing.returncode == 2 and "There is no DuckDB file" in missing.stderr
