"""The bulk CLI on team Postgres, with another process working the same live job: no note is sent twice,
every attempt is one usage row, and the CLI waits for the other process to finish the job.

The CLI runs in its own process (SCRIBE_DATABASE_URL: the test server), against the real-clock sandbox;
the other process is a JobManager here, with its own connection pool, that joins the job once it runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.bulk.manager import JobManager
from lib.bulk.runner import JobTemplate
from lib.claude.gateway import Gateway
from lib.services import open_database
from lib.usage.log import UsageLog
from tests.support.notes import write_notes_csv

ROOT = Path(__file__).resolve().parents[3]
NOTES = 40


@pytest.fixture
def shared(postgres_url, tmp_path):
    db = open_database(postgres_url, local_path=tmp_path / "helper")
    yield db
    db.close()


def started_job(db, proc, timeout_s: float = 120) -> str:
    """The CLI's job, once it has stored a first result (so it is under way)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.communicate()
        row = db.cursor().execute("SELECT job_id FROM job_items WHERE status = 'succeeded' LIMIT 1").fetchone()
        if row:
            return row[0]
        time.sleep(0.05)
    raise AssertionError("the CLI stored no result")


def test_the_cli_and_another_process_share_one_job_without_sending_a_note_twice(
        shared, postgres_url, sandbox_realtime, hermetic_env, tmp_path):
    sandbox_realtime.configure(ttft_ms=250, tokens_per_s=400)  # about a second a note: the run lasts a while
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DATABASE_URL": postgres_url,
        "SCRIBE_BULK_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1"}
    notes = write_notes_csv(tmp_path / "notes.csv", NOTES)
    proc = subprocess.Popen([sys.executable, "-m", "lib.bulk", "enrich", str(notes), "--mode", "live"], cwd=ROOT,
                            env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    helper = None
    try:
        job_id = started_job(shared, proc)
        gateway = Gateway(UsageLog(shared), api_key="sk-test-helper", base_url=sandbox_realtime.base_url,
                          backend="sandbox")
        helper = JobManager(gateway, shared, concurrency=2, owner="host:9:helper")
        job = helper.store.job(job_id)
        assert helper.runner.work(JobTemplate(job_id=job_id, user=job.user, model=job.model,
                                              max_tokens=job.max_tokens)) > 0
        out, err = proc.communicate(timeout=300)
        assert helper.runner.wait_idle(timeout_s=120)
    finally:
        if proc.poll() is None:
            proc.kill()
        if helper is not None:
            helper.shutdown(wait=True)
    assert proc.returncode == 0, (out, err)
    assert f"Job {job_id} (live, done): {NOTES} item(s), {NOTES} succeeded, 0 failed" in out
    journal = [e for e in sandbox_realtime.journal if e["path"] == "/v1/messages"]
    assert len(journal) == NOTES  # each note sent once, by one of the two
    assert 0 < helper.runner.stats.sent < NOTES  # the helper did part of it, the CLI the rest
    cur = shared.cursor()
    assert cur.execute("SELECT count(*) FROM usage_log").fetchone()[0] == len(journal)  # one row per attempt
    done = cur.execute("SELECT count(*), count(DISTINCT item_no), count(claimed_by) FROM job_items "
                       "WHERE job_id = ? AND status = 'succeeded'", [job_id]).fetchone()
    assert done == (NOTES, NOTES, 0)
