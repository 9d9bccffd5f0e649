"""The bulk CLI when the database's disk fills mid-run: nothing reported done that was not stored, no usage
row lost (it goes to the second fallback folder), a clear message and exit 1; resumed once there is room.

The database lives on a small tmpfs mounted here (root only; skipped with the reason elsewhere)."""

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.services import open_database
from tests.support.disk import fill, mount_tmpfs, unmount
from tests.support.notes import write_notes_csv

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    why = mount_tmpfs(mount)
    if why:
        pytest.skip(f"cannot mount a tmpfs here ({why})")
    yield mount
    unmount(mount)


def messages(sandbox) -> list[dict]:
    return [e for e in sandbox.journal if e["path"] == "/v1/messages"]


@pytest.fixture
def cli_on(sandbox_realtime, hermetic_env, small_disk, tmp_path):
    """Run the CLI with its database on the small disk: start(*args) -> Popen, run(*args) -> CompletedProcess."""
    sandbox_realtime.configure(ttft_ms=250, tokens_per_s=400)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(small_disk / "scribe.duckdb"),
        "SCRIBE_FALLBACK_DIR": str(tmp_path / "fallback"), "SCRIBE_BULK_CONCURRENCY": "4", "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "lib.bulk"]

    class Cli:
        notes = write_notes_csv(tmp_path / "notes.csv", 40)

        @staticmethod
        def start(*args):
            return subprocess.Popen([*cli, *args], cwd=ROOT, env=env, text=True, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)

        @staticmethod
        def run(*args):
            return subprocess.run([*cli, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)

    return Cli


def fill_after_replies(sandbox, proc, disk: Path, replies: int, full_for_s: float) -> None:
    deadline = time.monotonic() + 120
    while sum(1 for e in messages(sandbox) if e.get("status") == 200) < replies:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    filler = fill(disk)
    time.sleep(full_for_s)  # replies arrive while the disk is full
    filler.unlink()


def usage_rows(db_path: Path) -> int:
    db = open_database(db_path)
    try:
        return db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
    finally:
        db.close()


def test_a_disk_full_for_a_moment_pauses_the_run_and_loses_nothing(cli_on, sandbox_realtime, small_disk, tmp_path):
    proc = cli_on.start("enrich", str(cli_on.notes), "--mode", "live")
    fill_after_replies(sandbox_realtime, proc, small_disk, replies=5, full_for_s=2.0)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, (out, err)
    assert "(live, done): 40 item(s), 40 succeeded, 0 failed" in out and "Traceback" not in err
    assert "refused writes for a while" in err
    assert len(messages(sandbox_realtime)) == 40  # nothing sent twice
    assert usage_rows(small_disk / "scribe.duckdb") == 40  # the rows held back were written
    assert not list((tmp_path / "fallback").glob("*.jsonl"))


def test_a_disk_that_stays_full_interrupts_the_job_which_resumes_once_there_is_room(cli_on, sandbox_realtime,
                                                                                     small_disk, tmp_path):
    proc = cli_on.start("enrich", str(cli_on.notes), "--mode", "live", "--storage-grace-s", "0.5")
    fill_after_replies(sandbox_realtime, proc, small_disk, replies=5, full_for_s=3.0)
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and "(live, done)" not in out  # never reported done
    assert "the database could not be written" in err and "No space left on device" in err
    job_id = re.search(r"python -m lib\.bulk resume (\w+)", err).group(1)

    resumed = cli_on.run("resume", job_id)
    assert resumed.returncode == 0, resumed.stderr
    assert "(live, done): 40 item(s), 40 succeeded, 0 failed" in resumed.stdout
    assert usage_rows(small_disk / "scribe.duckdb") == len(messages(sandbox_realtime))  # every attempt, once
    assert len(messages(sandbox_realtime)) <= 40 + 4  # at most the results refused while in flight go again
    assert not list((tmp_path / "fallback").glob("*.jsonl"))  # imported
