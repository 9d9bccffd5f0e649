"""Benchmark: 500 notes through the bulk CLI against a faulty sandbox, stopped three times, then resumed.

The sandbox runs in this process (real clock, fast timing) with 10% 500s, 5% 529s, 5% replies cut off
mid-body (the bulk requests are not streamed, so this is the sandbox's `disconnect` fault; its
`midstream_error_rate` is set too, for streamed calls) and an RPM limit that binds. The CLI runs in its
own processes, with its database on a small tmpfs:

  1. enrich 500 notes; SIGTERM after 100 replies
  2. resume;           SIGTERM after 200 replies
  3. resume;           the database's disk is full for 5 s after 300 replies (the run pauses for it,
                       as the default --storage-grace-s of 60 s allows); SIGTERM after 400
  4. resume --storage-grace-s 2; the disk is full for 5 s after 450 replies: longer than the grace,
                       so the job is interrupted (replies refused meanwhile are sent again on resume)
  5. resume;           to the end

Then 20 more short CLI runs (5 notes each), to count exit statuses. It prints: notes done, failed with
the reason, lost (neither succeeded nor failed), sent more than once (notes with more than one complete
reply in the sandbox's journal; per step: complete replies vs notes finished), and usage rows vs the
journal's attempts. Target (issue 11): 0 lost, 0 sent twice (beyond replies the store refused past the
grace in step 4), rows = attempts, 20/20 exits 0.

    python bench/faults.py [--notes 500] [--rpm 600] [--runs 20]

Needs root for the tmpfs (mount -t tmpfs); without it, step 3 is skipped and says so.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lib.sandbox import SandboxConfig, Simulator  # noqa: E402
from lib.services import open_database  # noqa: E402
from tests.support.disk import fill, mount_tmpfs, unmount  # noqa: E402
from tests.support.notes import write_notes_csv  # noqa: E402

NOTE_ID = re.compile(r"@acme(\d+)\.com")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--notes", type=int, default=500)
    p.add_argument("--rpm", type=int, default=600)
    p.add_argument("--runs", type=int, default=20)
    args = p.parse_args()

    sim = Simulator(SandboxConfig(virtual_clock=False, ttft_ms=20, tokens_per_s=4000, rpm=args.rpm, burst_s=5,
                                  fail_rate=0.10, overload_rate=0.05, midstream_error_rate=0.05,
                                  disconnect_rate=0.05, journal_bodies=True, journal_limit=100_000, seed=11))
    base_url = sim.start()
    work = Path(tempfile.mkdtemp(prefix="scribe-faults-"))
    disk = work / "disk"
    disk.mkdir()
    mounted = mount_tmpfs(disk, "64m") is None
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": base_url, "SCRIBE_DB": str(disk / "scribe.duckdb"),
        "SCRIBE_FALLBACK_DIR": str(work / "fallback"), "PYTHONUNBUFFERED": "1"}
    notes = write_notes_csv(work / "notes.csv", args.notes)
    try:
        steps = run_steps(sim, env, notes, disk if mounted else None, args.notes)
        exits = short_runs(env, work, args.runs)
        report(sim, disk / "scribe.duckdb", args.notes, steps, exits, mounted)
    finally:
        sim.stop()
        if mounted:
            unmount(disk)
        shutil.rmtree(work, ignore_errors=True)
    return 0


def cli(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "lib.bulk", *args], cwd=ROOT, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def replies(sim: Simulator) -> int:
    return sum(1 for e in sim.journal if e["path"] == "/v1/messages" and e.get("decision") == "ok")


def wait_for(sim: Simulator, proc: subprocess.Popen, count: int) -> bool:
    while replies(sim) < count:
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return True


def finished(env: dict[str, str]) -> int:
    """Items of the big job that succeeded or failed so far (read between runs, when no CLI holds the file)."""
    db = open_database(env["SCRIBE_DB"])
    try:
        return db.cursor().execute("SELECT count(*) FROM job_items WHERE status IN ('succeeded', 'failed')"
                                   ).fetchone()[0]
    finally:
        db.close()


class Steps(list):
    """(step, exit status, seconds, complete replies during it, notes finished during it)."""

    def __init__(self, sim: Simulator, env: dict[str, str]):
        super().__init__()
        self.sim, self.env = sim, env
        self.replies, self.finished = 0, 0

    def add(self, name: str, code: int, seconds: float) -> None:
        replies_now, finished_now = replies(self.sim), finished(self.env)
        self.append((name, code, seconds, replies_now - self.replies, finished_now - self.finished))
        self.replies, self.finished = replies_now, finished_now


def run_steps(sim: Simulator, env: dict[str, str], notes: Path, disk: Path | None, total: int) -> Steps:
    """The four CLI runs."""
    steps = Steps(sim, env)
    started = time.monotonic()
    proc = cli(env, "enrich", str(notes), "--mode", "live")
    wait_for(sim, proc, total // 5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate()
    job_id = re.search(r"resume (\w+)", err).group(1)
    steps.add("enrich, SIGTERM after 100 replies", proc.returncode, time.monotonic() - started)

    started = time.monotonic()
    proc = cli(env, "resume", job_id)
    wait_for(sim, proc, 2 * total // 5)
    proc.send_signal(signal.SIGTERM)
    proc.communicate()
    steps.add("resume, SIGTERM after 200 replies", proc.returncode, time.monotonic() - started)

    if disk is not None:
        started = time.monotonic()
        proc = cli(env, "resume", job_id)  # the default --storage-grace-s (60 s): a pause, then on
        if wait_for(sim, proc, 3 * total // 5):
            fill_for(disk, 5.0)
        wait_for(sim, proc, 4 * total // 5)
        proc.send_signal(signal.SIGTERM)
        proc.communicate()
        steps.add("resume, disk full 5 s at 300, SIGTERM at 400", proc.returncode, time.monotonic() - started)

        started = time.monotonic()
        proc = cli(env, "resume", job_id, "--storage-grace-s", "2")  # shorter than the outage: interrupted
        if wait_for(sim, proc, 9 * total // 10):
            fill_for(disk, 5.0)
        proc.communicate()
        steps.add("resume --storage-grace-s 2, disk full 5 s at 450", proc.returncode, time.monotonic() - started)

    started = time.monotonic()
    proc = cli(env, "resume", job_id)
    out, err = proc.communicate()
    steps.add("resume to the end", proc.returncode, time.monotonic() - started)
    if proc.returncode != 0:
        print(err[-2000:], file=sys.stderr)
    return steps


def fill_for(disk: Path, seconds: float) -> None:
    """Fill the disk, keep it full for `seconds`, free it."""
    filler = fill(disk)
    time.sleep(seconds)
    filler.unlink()


def short_runs(env: dict[str, str], work: Path, runs: int) -> Counter:
    """Exit statuses of `runs` short CLI runs of 5 notes each, one after another."""
    small = write_notes_csv(work / "small.csv", 5)
    exits: Counter = Counter()
    for _ in range(runs):
        proc = cli(env, "enrich", str(small), "--mode", "live")
        proc.communicate()
        exits[proc.returncode] += 1
    return exits


def report(sim: Simulator, db_path: Path, total: int, steps: list[tuple], exits: Counter, mounted: bool) -> None:
    db = open_database(db_path)  # imports any fallback rows first, as the app and the CLI do
    from lib.usage.log import UsageLog

    UsageLog(db).import_fallback()
    cur = db.cursor()
    job_id = cur.execute("SELECT id FROM jobs ORDER BY created_at LIMIT 1").fetchone()[0]
    statuses = dict(cur.execute("SELECT status, count(*) FROM job_items WHERE job_id = ? GROUP BY 1",
                                [job_id]).fetchall())
    reasons = Counter(dict(cur.execute("SELECT error, count(*) FROM job_items WHERE job_id = ? AND status = 'failed' "
                                       "GROUP BY 1", [job_id]).fetchall()))
    rows = cur.execute("SELECT count(*) FROM usage_log").fetchone()[0]
    db.close()

    messages = [e for e in sim.journal if e["path"] == "/v1/messages"]
    complete = Counter()
    for entry in messages:
        if entry.get("decision") == "ok" and entry.get("body"):
            found = NOTE_ID.search(str(entry["body"].get("messages")))
            if found and int(found.group(1)) < total:  # the big job's notes (the short runs reuse 0..4)
                complete[int(found.group(1))] += 1
    big_job_complete = complete  # short runs' notes 0-4 are counted below and taken out
    for n in range(5):
        big_job_complete[n] -= exits.total()
    decisions = Counter(e.get("decision") for e in messages)

    print(f"\n{'step':50} {'exit':>5} {'seconds':>8} {'replies':>8} {'finished':>9}")
    for name, code, seconds, got, done in steps:
        print(f"{name:50} {code:>5} {seconds:>8.1f} {got:>8} {done:>9}")
    if not mounted:
        print("(no tmpfs: the disk-full step was skipped; run as root to include it)")
    succeeded, failed = statuses.get("succeeded", 0), statuses.get("failed", 0)
    print(f"\nnotes                  {total}")
    print(f"done (succeeded)       {succeeded}")
    print(f"failed, with a reason  {failed}" + "".join(f"\n  {n} x {why}" for why, n in reasons.most_common()))
    print(f"lost                   {total - succeeded - failed}")
    print(f"sent more than once    {sum(1 for n in range(total) if big_job_complete[n] > 1)} "
          "(notes with more than one complete reply)")
    print(f"usage rows / attempts  {rows} / {len(messages)} (ratio {rows / len(messages):.3f}; "
          f"sandbox decisions: {dict(decisions)})")
    print(f"short CLI runs         {exits.get(0, 0)}/{exits.total()} exited 0 (all: {dict(exits)})")


if __name__ == "__main__":
    sys.exit(main())
