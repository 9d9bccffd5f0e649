"""Team mode at scale: Postgres (SCRIBE_DATABASE_URL) against the embedded DuckDB file, measured in one run.

    python bench/team_scale.py                  # 10M usage rows for the Usage page part
    python bench/team_scale.py --rows 1000000   # quicker
    python bench/team_scale.py --skip-page      # writes and saves only

a. usage-row writes per second (`UsageLog.write_or_fallback`, what the gateway calls per HTTP attempt)
   from 1, 4 and 16 concurrent writers: on Postgres as threads of one process and as separate
   processes; on DuckDB as threads of its one process (only one process may open the file). After
   each run the rows are counted: as many as the writes made, none doubled.
b. CRM saves per second (`lib.work.saving.save_review`, what Services.save_review runs) from 1, 4 and
   16 writers, then every writer saving a new contact with the same email at once: one live contact
   with that email must come out.
c. the Usage page's queries (bench/usage_scale.py's set) on N rows generated inside Postgres, first and
   second visit, against the target (<= 3 s for everything the page asks, second visit).

A throwaway Postgres server is started (tests/support/postgres.py: initdb + pg_ctl, fsync off) and
removed at the end. Every number is measured in this run; targets are printed beside them.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import usage_scale  # noqa: E402

from lib.core.db import DatabaseError  # noqa: E402
from lib.core.errors import ScribeError  # noqa: E402
from lib.crm.builtin import BuiltinCrm  # noqa: E402
from lib.crm.records import ProposedRow, SaveRequest  # noqa: E402
from lib.services import open_database  # noqa: E402
from lib.usage.log import UsageLog, UsageRecord  # noqa: E402
from lib.usage.outcomes import OutcomeLog  # noqa: E402
from lib.work.saving import save_review  # noqa: E402
from tests.support.postgres import start_server  # noqa: E402

WRITERS = (1, 4, 16)
PAGE_TARGET_S = 3.0
SIDE = Path(tempfile.gettempdir()) / "team_scale-side"


# -- a: usage-row writes ---------------------------------------------------------------------------------


def usage_record(run: str, writer: int, n: int) -> UsageRecord:
    """One attempt as the gateway logs it (a priced, cached Sonnet call)."""
    return UsageRecord(call_id=f"{run}-{writer}-{n}", backend="anthropic", model="claude-sonnet-4-6",
                       feature="extract", user=f"rep{writer:02d}", status="ok", request_id=f"req_{run}_{writer}_{n}",
                       input_tokens=1200, output_tokens=300, cache_read_input_tokens=8000, latency_ms=900.0,
                       rl_requests_limit=4000, rl_requests_remaining=3990, cost_usd="0.0105")


def write_usage(db, run: str, writer: int, count: int) -> int:
    """`count` rows through the gateway's call; returns how many the database refused (kept aside)."""
    log = UsageLog(db, SIDE)
    refused = 0
    for n in range(count):
        row_id, _warning = log.write_or_fallback(usage_record(run, writer, n))
        refused += row_id is None
    return refused


def count_run_rows(db, run: str) -> tuple[int, int]:
    """(rows, distinct attempts) the run left in the log."""
    return db.cursor().execute(
        "SELECT count(*), count(DISTINCT call_id) FROM usage_log WHERE call_id LIKE ?", [f"{run}-%"]).fetchone()


# -- b: CRM saves ----------------------------------------------------------------------------------------


def save_request(run: str, writer: int, n: int, email: str | None = None) -> SaveRequest:
    """A small accepted review: one new contact (name, email, title) from one Claude call, with its note."""
    address = email or f"{run}.{writer}.{n}@example.com"
    row = ProposedRow(values={"name": f"Bench Person {writer}-{n}", "email": address, "title": "Buyer"},
                      evidence={"name": "from the note"}, call_id=f"{run}-call-{writer}-{n}",
                      note=f"Call with {address} about the renewal.")
    return SaveRequest(review_key=f"{run}-{writer}-{n}-{uuid.uuid4().hex[:6]}", user=f"rep{writer:02d}", rows=[row])


def save_reviews(db, run: str, writer: int, count: int, email: str | None = None) -> int:
    """`count` saves; returns how many the store refused (a conflict, a duplicate email)."""
    crm, outcomes = BuiltinCrm(db), OutcomeLog(db)
    refused = 0
    for n in range(count):
        try:
            save_review(crm, outcomes, save_request(run, writer, n, email))
        except (ScribeError, DatabaseError):
            refused += 1
    return refused


def live_contacts(db, email: str) -> int:
    return db.cursor().execute("SELECT count(*) FROM contacts WHERE lower(trim(email)) = lower(?) AND NOT archived",
                               [email]).fetchone()[0]


def contacts_made(db, run: str) -> int:
    return db.cursor().execute("SELECT count(*) FROM contacts WHERE email LIKE ?", [f"{run}.%"]).fetchone()[0]


# -- running writers together ----------------------------------------------------------------------------


def in_threads(db, work: Callable, run: str, writers: int, count: int, **kw) -> tuple[float, int]:
    """(seconds, refusals) of `writers` threads doing `work(db, run, writer, count)` on one database."""
    start = threading.Barrier(writers + 1)
    refused = [0] * writers

    def one(w: int) -> None:
        start.wait()
        refused[w] = work(db, run, w, count, **kw)

    threads = [threading.Thread(target=one, args=(w,)) for w in range(writers)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    return time.perf_counter() - t0, sum(refused)


def _process_writer(url: str, kind: str, run: str, writer: int, count: int, ready, go, done, kw: dict) -> None:
    db = open_database(url, local_path=SIDE)  # each process its own pool, as each app replica has
    work = write_usage if kind == "usage" else save_reviews
    ready.release()
    go.wait()
    done.put(work(db, run, writer, count, **kw))
    db.close()


def in_processes(url: str, kind: str, run: str, writers: int, count: int, **kw) -> tuple[float, int]:
    """(seconds, refusals) of `writers` processes, each with its own connection pool, started together."""
    ctx = mp.get_context("spawn")
    ready, go, done = ctx.Semaphore(0), ctx.Event(), ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(url, kind, run, w, count, ready, go, done, kw))
             for w in range(writers)]
    for p in procs:
        p.start()
    for _ in procs:  # every process has connected and migrated: time the writes only
        ready.acquire()
    t0 = time.perf_counter()
    go.set()
    refused = sum(done.get() for _ in procs)
    took = time.perf_counter() - t0
    for p in procs:
        p.join()
        if p.exitcode:
            raise RuntimeError(f"a writer process failed (exit code {p.exitcode})")
    return took, refused


# -- the tables ------------------------------------------------------------------------------------------


def usage_writes(pg, duck, url: str, total: int) -> None:
    print(f"\n== a. usage-row writes (UsageLog.write_or_fallback), {total:,} rows per run, split among writers")
    print(f"   {'writers':>7}  {'database':<22} {'rows/s':>8}  {'vs DuckDB 1':>11}  check")
    base = None
    for label, kind in (("DuckDB, threads", "duck"), ("Postgres, threads", "pg"), ("Postgres, processes", "proc")):
        for writers in WRITERS:
            run, count = f"u{uuid.uuid4().hex[:8]}", total // writers
            if kind == "proc":
                took, refused = in_processes(url, "usage", run, writers, count)
            else:
                took, refused = in_threads(duck if kind == "duck" else pg, write_usage, run, writers, count)
            rows, distinct = count_run_rows(duck if kind == "duck" else pg, run)
            made = writers * count
            rate = made / took
            base = base or rate
            ok = "ok" if rows == distinct == made and not refused else "MISMATCH"
            print(f"   {writers:>7}  {label:<22} {rate:>8,.0f}  {rate / base:>10.2f}x  "
                  f"{ok}: {rows:,} rows for {made:,} writes, {distinct:,} distinct, {refused} refused", flush=True)


def crm_saves(pg, duck, url: str, total: int) -> None:
    print(f"\n== b. CRM saves (save_review: one new contact, its note, its outcome), {total:,} per run")
    print(f"   {'writers':>7}  {'database':<22} {'saves/s':>8}  {'vs DuckDB 1':>11}  check")
    base = None
    for label, kind in (("DuckDB, threads", "duck"), ("Postgres, threads", "pg"), ("Postgres, processes", "proc")):
        db = duck if kind == "duck" else pg
        for writers in WRITERS:
            run, count = f"s{uuid.uuid4().hex[:8]}", max(1, total // writers)
            if kind == "proc":
                took, refused = in_processes(url, "crm", run, writers, count)
            else:
                took, refused = in_threads(db, save_reviews, run, writers, count)
            made, saved = writers * count, contacts_made(db, run)
            rate = (made - refused) / took
            base = base or rate
            ok = "ok" if saved == made - refused else "MISMATCH"
            print(f"   {writers:>7}  {label:<22} {rate:>8,.1f}  {rate / base:>10.2f}x  "
                  f"{ok}: {saved:,} contacts for {made:,} saves, {refused} refused", flush=True)
        same_email(db, url if kind == "proc" else None, label, 16)


def same_email(db, url: str | None, label: str, writers: int) -> None:
    """Every writer saves a new contact with one email at the same moment: one live contact must result.
    Writers are processes when `url` is given, else threads on `db`."""
    run = f"d{uuid.uuid4().hex[:8]}"
    email = f"{run}.same@example.com"
    if url:
        _took, refused = in_processes(url, "crm", run, writers, 1, email=email)
    else:
        _took, refused = in_threads(db, save_reviews, run, writers, 1, email=email)
    found = live_contacts(db, email)
    verdict = "ok" if found == 1 else "DUPLICATES"
    print(f"   same email from {writers} writers at once ({label}): {found} live contact(s) "
          f"(target 1: {verdict}); {refused} save(s) refused, the others updated it", flush=True)


def usage_page(url: str, rows: int, repeats: int) -> None:
    print(f"\n== c. the Usage page's queries on {rows:,} usage rows in Postgres", flush=True)
    took = usage_scale.fill(url, rows)
    print(f"   generated inside Postgres in {took:.1f} s", flush=True)
    print(f"   first roll-up of the whole log (once): {usage_scale.catch_up(url):.1f} s", flush=True)
    first, runs, f = usage_scale.time_queries(url, repeats)
    second = runs[0]
    verdict = "meets" if second <= PAGE_TARGET_S else "MISSES"
    print(f"   everything the page asks: first visit {first:.2f} s, second visit {second:.2f} s "
          f"(target <= {PAGE_TARGET_S:.0f} s: {verdict}); later visits median {sorted(runs)[len(runs) // 2]:.2f} s")
    each = usage_scale.time_each(url, f)
    print("   per query (warm): " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in each.items()), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000, help="usage rows for part c (default 10M)")
    parser.add_argument("--writes", type=int, default=1600, help="usage rows written per run of part a")
    parser.add_argument("--saves", type=int, default=160, help="CRM saves per run of part b")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-writes", action="store_true")
    parser.add_argument("--skip-page", action="store_true")
    args = parser.parse_args()
    SIDE.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="team_scale_"))
    server = start_server()
    print(f"team_scale: {os.cpu_count()} CPU(s); Postgres {server.bin_dir.parent.name} on port {server.port} "
          "(fsync off, synchronous_commit off), DuckDB file in " + str(work))
    try:
        from tests.support.postgres import _admin

        if not args.skip_writes:
            _admin(server, "CREATE DATABASE scribe_writes")
            url = server.url("scribe_writes")
            pg, duck = open_database(url, local_path=SIDE), open_database(work / "writes.duckdb")
            usage_writes(pg, duck, url, args.writes)
            crm_saves(pg, duck, url, args.saves)
            pg.close()
            duck.close()
        if not args.skip_page:
            _admin(server, "CREATE DATABASE scribe_usage")
            usage_page(server.url("scribe_usage"), args.rows, args.repeats)
    finally:
        server.stop()
        shutil.rmtree(server.folder, ignore_errors=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
