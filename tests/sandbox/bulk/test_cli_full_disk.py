"""The bulk CLI when the database's disk fills mid-run: nothing reported done that was not stored, no usage
row lost (it goes to the second fallback folder), a clear message and exit 1; resumed once there is room.

The database lives on a small tmpfs mounted here (root only; skipped with the reason elsewhere)."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lib.services import open_database
from tests.support.notes import write_notes_csv

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    tried = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], capture_output=True,
                           text=True) if shutil.which("mount") else None
    if tried is None or tried.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({tried.stderr.strip() if tried else 'no mount command'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as fh:
        try:
            while True:
                fh.write(b"\0" * (1 << 20))
        except OSError:
            pass
    return filler


def messages(sandbox) -> list[dict]:
    return [e for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_a_disk_that_fills_mid_run_loses_nothing_and_the_job_resumes(sandbox_realtime, hermetic_env, small_disk,
                                                                      tmp_path):
    sandbox_realtime.configure(ttft_ms=250, tokens_per_s=400)
    notes = write_notes_csv(tmp_path / "notes.csv", 40)
    db_path = small_disk / "scribe.duckdb"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": sandbox_realtime.base_url, "SCRIBE_DB": str(db_path),
        "SCRIBE_FALLBACK_DIR": str(tmp_path / "fallback"), "SCRIBE_BULK_CONCURRENCY": "4", "PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "lib.bulk"]
    proc = subprocess.Popen([*cli, "enrich", str(notes), "--mode", "live"], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while sum(1 for e in messages(sandbox_realtime) if e.get("status") == 200) < 5:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    filler = fill(small_disk)
    time.sleep(2.0)  # replies arrive while the disk is full
    filler.unlink()
    out, err = proc.communicate(timeout=120)

    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err and "(live, done)" not in out  # never reported done
    assert "the database could not be written" in err and "No space left on device" in err
    job_id = re.search(r"python -m lib\.bulk resume (\w+)", err).group(1)
    assert "kept in a fallback file" in err

    resumed = subprocess.run([*cli, "resume", job_id], cwd=ROOT, env=env, capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert "(live, done): 40 item(s), 40 succeeded, 0 failed" in resumed.stdout
    db = open_database(db_path)
    try:
        rows = db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
    finally:
        db.close()
    assert rows == len(messages(sandbox_realtime))  # every attempt has its row, none twice
    assert not list((tmp_path / "fallback").glob("*.jsonl"))  # imported
