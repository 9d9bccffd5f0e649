"""The bulk CLI stopped by SIGTERM / SIGINT / SIGKILL, then resumed: no note sent twice, every attempt logged.

The CLI runs in its own process against a sandbox started here (real clock, slow enough that a run is
still going when the signal comes)."""

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.services import open_database
from tests.support.notes import write_notes_csv

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def notes_file(tmp_path):
    return write_notes_csv(tmp_path / "notes.csv", 40)


@pytest.fixture
def env(sandbox_realtime, hermetic_env):
    sandbox_realtime.configure(ttft_ms=250, tokens_per_s=400)  # about a second a note: a run lasts a while
    environ = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return environ | {"ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(hermetic_env),
                      "SCRIBE_BULK_CONCURRENCY": "4", "PYTHONUNBUFFERED": "1"}


def start(env, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=300)


def messages_sent(sandbox) -> int:
    return len([e for e in sandbox.journal if e["path"] == "/v1/messages"])


def wait_for_replies(sandbox, count: int, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while sum(1 for e in sandbox.journal if e["path"] == "/v1/messages" and e.get("status") == 200) < count:
        assert time.monotonic() < deadline, "the CLI sent nothing"
        time.sleep(0.05)


def counts(db_path) -> tuple[int, int, int]:
    """(usage rows, items succeeded or failed, jobs)."""
    db = open_database(db_path)
    try:
        rows = db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
        done = db.cursor().execute("SELECT count(*) FROM job_items WHERE status IN ('succeeded', 'failed')").fetchone()[0]
        return rows, done, db.cursor().execute("SELECT count(*) FROM jobs").fetchone()[0]
    finally:
        db.close()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_interrupts_the_job_cleanly_and_resume_sends_only_the_rest(env, notes_file, sandbox_realtime,
                                                                             hermetic_env, signum):
    proc = start(env, "enrich", str(notes_file), "--mode", "live")
    wait_for_replies(sandbox_realtime, 3)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    job_id = re.search(r"python -m lib\.bulk resume (\w+)", err).group(1)
    assert f"Interrupted by {signal.Signals(signum).name}." in err and "not finished, nothing of them lost" in err
    sent_at_stop = messages_sent(sandbox_realtime)
    assert sent_at_stop < 40
    rows, done, _ = counts(hermetic_env)
    assert rows == sent_at_stop == done  # the requests in flight were waited for: logged and kept

    resumed = run(env, "resume", job_id)
    assert resumed.returncode == 0, resumed.stderr
    assert f"Resuming job {job_id}: {40 - done} note(s) still to send" in resumed.stdout
    assert f"Job {job_id} (live, done): 40 item(s), 40 succeeded, 0 failed" in resumed.stdout
    assert messages_sent(sandbox_realtime) == 40  # nothing sent twice
    assert counts(hermetic_env)[:2] == (40, 40)

    again = run(env, "resume", job_id)
    assert again.returncode == 1 and "only an interrupted job can be resumed" in again.stderr


def test_a_killed_run_is_reported_by_the_next_one_and_resumed_without_resending_finished_notes(
        env, notes_file, sandbox_realtime, hermetic_env):
    proc = start(env, "enrich", str(notes_file), "--mode", "live")
    wait_for_replies(sandbox_realtime, 3)
    proc.kill()  # no chance to clean up: the job is left "running"
    proc.communicate(timeout=60)
    time.sleep(1.0)  # let the requests the kill cut short reach the sandbox's journal
    sent_before = messages_sent(sandbox_realtime)
    _, done_before, _ = counts(hermetic_env)

    other = run(env, "collect", "no-such-job")
    assert other.returncode == 2
    job_id = re.search(r"Job (\w+) was left unfinished by a process that stopped", other.stdout).group(1)

    resumed = run(env, "resume", job_id)
    assert resumed.returncode == 0, resumed.stderr
    assert counts(hermetic_env)[1] == 40
    resent = messages_sent(sandbox_realtime) - sent_before - (40 - done_before)
    assert 0 <= resent <= 4  # at most the requests in flight at the kill (concurrency 4) go again
