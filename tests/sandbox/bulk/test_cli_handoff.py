"""The nightly CLI while the app holds the DuckDB file: the job is handed to the app, which runs it.

The "app" here is this test process holding the file with its Services and serving handoffs, as
app_pages/_shared/resources.py makes the Streamlit app do; the CLI runs in its own process against the
sandbox (real clock). tests/browser/test_bulk_browser.py does the same with the real app.
"""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib import services as wiring
from lib.bulk import handoff
from lib.core.settings import load_settings

ROOT = Path(__file__).resolve().parents[3]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"

pytestmark = pytest.mark.sandbox


@pytest.fixture
def env(sandbox_realtime, hermetic_env, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", sandbox_realtime.base_url)
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    return {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(hermetic_env)}


@pytest.fixture
def app(env):
    """Services holding the file and watching its handoff folder, as the running app does."""
    services = wiring.build(load_settings(), seed=False)
    services.serve_cli_handoffs()
    yield services
    services.close()


def cli(env, *args: str, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=180, **kw)


def test_a_live_job_is_handed_to_the_app_that_holds_the_database(app, env, tmp_path, sandbox_realtime):
    out = tmp_path / "proposals.jsonl"
    done = cli(env, "enrich", str(SAMPLE), "--mode", "live", "--out", str(out))
    assert done.returncode == 0, done.stderr
    assert "holds" in done.stdout and "handed to it" in done.stdout
    assert "20 note(s) to send, 3 bad row(s) left out" in done.stdout and "row 22: The date 2026-02-30" in done.stdout
    job_id = done.stdout.split("Live job ")[1].split(":")[0]
    job = app.jobs().job(job_id)
    assert job.status == "done" and job.total == 20 and job.bad_rows == 3  # run by the app, in its database
    assert f"Job {job_id} (live, done): 20 item(s), {job.succeeded} succeeded" in done.stdout
    proposals = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(proposals) == job.succeeded > 0
    rows = app.db.cursor().execute("SELECT count(*) FROM usage_log WHERE feature = 'extract'").fetchone()[0]
    assert rows == len([e for e in sandbox_realtime.journal if e["path"] == "/v1/messages"]) >= 20
    assert not list((handoff.folder_for(Path(env["SCRIBE_DB"])) / "outbox").iterdir())  # nothing left behind


def test_a_batch_job_is_handed_over_and_waited_for(app, env):
    done = cli(env, "enrich", str(SAMPLE), "--mode", "batch", "--poll-s", "0.3")
    assert done.returncode == 0, done.stderr
    job_id = done.stdout.split("Batch job ")[1].split(":")[0]
    assert f"Job {job_id} (batch, done): 20 item(s)" in done.stdout and "(batch: half price)" in done.stdout
    assert app.jobs().job(job_id).status == "done"


def test_an_unknown_job_is_named_with_status_2(app, env):
    refused = cli(env, "resume", "nosuchjob")
    assert refused.returncode == 2 and "No job nosuchjob" in refused.stdout


def test_a_request_the_app_does_not_take_is_withdrawn(env, hermetic_env, monkeypatch, capsys):
    """A fresh beat but nobody taking (a hung app): after the wait the request is taken back, nothing sent."""
    from lib.bulk import __main__ as bulk_cli

    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); "
                               "print('held', flush=True); time.sleep(120)", str(hermetic_env)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        mailbox = handoff.Mailbox(handoff.folder_for(hermetic_env))
        mailbox.beat()  # this process's pid, fresh, and no watcher
        monkeypatch.setattr(handoff, "TAKE_WITHIN_S", 0.5)
        started = time.monotonic()
        code = bulk_cli.main(["enrich", str(SAMPLE), "--mode", "live"])
    finally:
        holder.kill()
        holder.wait()
    assert code == 2 and time.monotonic() - started < 60
    assert "did not take the job; nothing was sent" in capsys.readouterr().err
    assert not list(mailbox.inbox.iterdir())


def test_without_a_watching_app_the_database_is_busy_as_before(env, hermetic_env):
    """Another program holds the file and no app beats: exit 2 at once, with the reason."""
    holder = wiring.open_database(hermetic_env)
    try:
        refused = cli(env, "enrich", str(SAMPLE), "--mode", "live")
    finally:
        holder.close()
    assert refused.returncode == 2 and "locked" in refused.stderr and "handed" not in refused.stdout
