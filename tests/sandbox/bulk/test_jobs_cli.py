"""`python -m lib.bulk`: the cron CLI in its own process, against a sandbox started here (real clock)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lib.services import open_database

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"


@pytest.fixture
def cli(sandbox_realtime, hermetic_env):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    env |= {"ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(hermetic_env)}

    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, capture_output=True,
                              text=True, timeout=120)

    return run


def test_live_enrich_writes_proposals_and_a_summary(cli, tmp_path, hermetic_env):
    out = tmp_path / "proposals.jsonl"
    done = cli("enrich", str(SAMPLE), "--mode", "live", "--out", str(out))
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Backend: sandbox" in text and "20 note(s) to send, 3 bad row(s) left out" in text
    assert "row 22: The date 2026-02-30 does not exist." in text
    proposals = [json.loads(line) for line in out.read_text().splitlines()]
    assert proposals and all(p["people"] for p in proposals)
    assert f"20 item(s), {len(proposals)} succeeded, {20 - len(proposals)} failed" in text
    assert "input + " in text and "output tokens; cost $" in text
    db = open_database(hermetic_env)
    assert db.cursor().execute("SELECT count(*) FROM usage_log WHERE status = 'ok'").fetchone()[0] == 20
    assert db.cursor().execute("SELECT count(*) FROM contacts").fetchone()[0] == 0  # proposals only


def test_batch_enrich_waits_for_the_batch_then_summarises(cli, tmp_path):
    out = tmp_path / "proposals.jsonl"
    done = cli("enrich", str(SAMPLE), "--mode", "batch", "--poll-s", "0.3", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "(batch, done): 20 item(s)" in done.stdout and "(batch: half price)" in done.stdout
    assert "msgbatch_" in done.stdout and out.read_text().strip()


def test_batch_no_wait_prints_the_job_then_collect_finishes_it(cli, tmp_path, sandbox_realtime):
    sandbox_realtime.configure(batch_delay_s=8)  # still running when --no-wait returns, on a loaded machine too
    sent = cli("enrich", str(SAMPLE), "--mode", "batch", "--no-wait")
    assert sent.returncode == 0, sent.stderr
    job_id = sent.stdout.split("Batch job ")[1].split(":")[0]
    # On a loaded machine the sandbox may end the batch before the CLI looks again: then it says so, not "collect".
    assert f"python -m lib.bulk collect {job_id}" in sent.stdout or f"Job {job_id} (batch, done)" in sent.stdout
    collected = cli("collect", job_id, "--poll-s", "0.3")
    assert collected.returncode == 0, collected.stderr
    assert f"Job {job_id} (batch, done)" in collected.stdout


def test_it_says_so_when_the_app_holds_the_database(cli, hermetic_env):
    holder = open_database(hermetic_env)  # as the running app would
    try:
        refused = cli("enrich", str(SAMPLE), "--mode", "live")
    finally:
        holder.close()
    assert refused.returncode == 2
    assert "locked" in refused.stderr and "the running Scribe app" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_an_unreadable_file_is_a_clear_message(cli, tmp_path):
    bad = tmp_path / "notes.csv"
    bad.write_bytes("note\nCafé\n".encode("latin-1"))
    refused = cli("enrich", str(bad), "--mode", "live")
    assert refused.returncode == 2 and "not UTF-8" in refused.stderr and "Traceback" not in refused.stderr
