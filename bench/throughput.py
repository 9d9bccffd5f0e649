"""Benchmark: bulk extraction goodput under rate limits. The live runner vs a naive asyncio pool vs a loop.

Starts `python -m lib.sandbox` in its own process (real clock) with RPM / ITPM / OTPM limits and a short
burst, synthesises N notes from data/notes (each made unique), and runs, one after another on fresh
buckets (POST /_sandbox/reset), each on its own API key:

  live       lib.bulk.runner.LiveRunner via JobManager: header-driven limiter, max_retries=0, own retries
  naive-32   asyncio, 32 at a time, anthropic.AsyncAnthropic with the SDK's default retries (2)
  sequential one at a time, anthropic.Anthropic with default retries (stopped at --sequential-cap-s)

For each: notes done, notes lost (failed after all retries), 429s and their share of all responses, and
goodput = what the successful replies took from each bucket / what the bucket could give in the run's
time (burst capacity + limit x minutes). The binding limit is the bucket with the highest share. The
ttft/tps are set so that the limits, not latency, bind. Target (issue 7): live >= 90% of the binding
limit, <= 1% of requests answered 429, no note lost.

    python bench/throughput.py [--notes 1000] [--rpm 4800 --itpm 1600000 --otpm 320000 --burst-s 5]
                               [--ttft-ms 20 --tokens-per-s 4000] [--sequential-cap-s 60]

The defaults are the issue's example limits (RPM 600, ITPM 200k, OTPM 40k, 5 s burst) times 8, so
1,000 notes take about a minute per run; `--rpm 600 --itpm 200000 --otpm 40000` runs them as written
(OTPM's 5 s bucket, 3,333 tokens, is then smaller than max_tokens 4,000: the runner learns and lowers it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402

from lib.bulk.input import NoteRow, extraction_params  # noqa: E402
from lib.bulk.manager import JobManager  # noqa: E402
from lib.claude.gateway import Gateway  # noqa: E402
from lib.services import open_database  # noqa: E402
from lib.usage.log import UsageLog  # noqa: E402

MODEL = "claude-sonnet-4-6"
DIMS = ("requests", "input", "output")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int, args: argparse.Namespace) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "lib.sandbox", "--port", str(port), "--rpm", str(args.rpm), "--itpm", str(args.itpm),
           "--otpm", str(args.otpm), "--burst-s", str(args.burst_s), "--ttft-ms", str(args.ttft_ms),
           "--tokens-per-s", str(args.tokens_per_s), "--seed", "7"]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout.readline().strip())
    return proc


def control(base_url: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, headers={"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local sandbox
        return json.loads(response.read())


def synthesise(n: int) -> list[NoteRow]:
    """N notes from the twenty in data/notes: each made unique by a reference line."""
    sources = []
    for path in sorted((ROOT / "data" / "notes").glob("*.txt")):
        lines = path.read_text(encoding="utf-8").splitlines()
        sources.append("\n".join(line for line in lines if not line.startswith(("Date:", "Rep:"))).strip())
    return [NoteRow(row=k + 1, note=f"{sources[k % len(sources)]}\n\nRef: BULK-{k:05d}") for k in range(n)]


@dataclass
class Outcome:
    name: str
    notes: int
    done: int
    lost: int
    seconds: float
    stats: dict
    responses: int
    rate_limited: int


def run_live(base_url: str, rows: list[NoteRow], concurrency: int) -> tuple[int, int, float]:
    """done = notes Claude answered (including "no people found"); lost = notes failed for API reasons."""
    with tempfile.TemporaryDirectory() as tmp:
        db = open_database(Path(tmp) / "bench.duckdb")
        gateway = Gateway(UsageLog(db), api_key="sk-bench-live", base_url=base_url, backend="sandbox")
        manager = JobManager(gateway, db, concurrency=concurrency, resume=False)
        start = time.monotonic()
        job_id = manager.start_live(rows, user="bench", model=MODEL)
        manager.runner.wait_idle()
        seconds = time.monotonic() - start
        kinds = dict(db.cursor().execute(
            "SELECT COALESCE(failure_kind, status), count(*) FROM job_items WHERE job_id = ? GROUP BY ALL",
            [job_id]).fetchall())
        logged = db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
        unfinished = manager.store.job(job_id).remaining
        manager.shutdown()
        db.close()
    answered = kinds.pop("succeeded", 0) + kinds.pop("no_people", 0) + kinds.pop("invalid", 0)
    print(f"  live: outcomes {kinds or 'all answered'}; {unfinished} unfinished; {logged} usage rows")
    return answered, sum(kinds.values()) + unfinished, seconds


async def run_naive(base_url: str, rows: list[NoteRow], pool: int, max_tokens: int) -> tuple[int, int, float]:
    done = lost = 0
    gate = asyncio.Semaphore(pool)
    async with anthropic.AsyncAnthropic(base_url=base_url, api_key="sk-bench-naive") as client:  # max_retries=2

        async def one(row: NoteRow) -> None:
            nonlocal done, lost
            async with gate:
                try:
                    await client.messages.create(**extraction_params(row.text(), None, model=MODEL,
                                                                     max_tokens=max_tokens))
                    done += 1
                except anthropic.APIError:
                    lost += 1

        start = time.monotonic()
        await asyncio.gather(*(one(r) for r in rows))
        return done, lost, time.monotonic() - start


def run_sequential(base_url: str, rows: list[NoteRow], cap_s: float, max_tokens: int) -> tuple[int, int, float, int]:
    done = lost = 0
    with anthropic.Anthropic(base_url=base_url, api_key="sk-bench-sequential") as client:
        start = time.monotonic()
        for row in rows:
            if time.monotonic() - start > cap_s:
                break
            try:
                client.messages.create(**extraction_params(row.text(), None, model=MODEL, max_tokens=max_tokens))
                done += 1
            except anthropic.APIError:
                lost += 1
        return done, lost, time.monotonic() - start, done + lost


def measure(base_url: str, name: str, rows: list[NoteRow], runner) -> Outcome:  # noqa: ANN001
    control(base_url, "/_sandbox/reset", {})
    result = runner()
    done, lost, seconds = result[:3]
    attempted = result[3] if len(result) > 3 else len(rows)
    stats = control(base_url, "/_sandbox/stats")
    responses = stats["by_path"].get("/v1/messages", 0)
    return Outcome(name, attempted, done, lost, seconds, stats, responses, stats["rate_limited"])


def shares(outcome: Outcome, args: argparse.Namespace) -> dict[str, float]:
    """Per bucket: what the successful replies took / what the bucket could give in the run's time."""
    tokens = outcome.stats["tokens"]
    used = {"requests": outcome.done, "input": tokens["input"] + tokens["cache_write_5m"] + tokens["cache_write_1h"],
            "output": tokens["output"]}
    limits = {"requests": args.rpm, "input": args.itpm, "output": args.otpm}
    return {d: used[d] / (limits[d] * args.burst_s / 60 + limits[d] * outcome.seconds / 60) for d in DIMS}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notes", type=int, default=1000)
    parser.add_argument("--rpm", type=int, default=4800)
    parser.add_argument("--itpm", type=int, default=1_600_000)
    parser.add_argument("--otpm", type=int, default=320_000)
    parser.add_argument("--burst-s", type=float, default=5.0)
    parser.add_argument("--ttft-ms", type=float, default=20.0)
    parser.add_argument("--tokens-per-s", type=float, default=4000.0)
    parser.add_argument("--concurrency", type=int, default=16, help="the live runner's thread cap")
    parser.add_argument("--pool", type=int, default=32, help="the naive pool's size")
    parser.add_argument("--sequential-cap-s", type=float, default=60.0)
    parser.add_argument("--skip", nargs="*", default=[], choices=["live", "naive", "sequential"])
    args = parser.parse_args()
    rows = synthesise(args.notes)
    port = free_port()
    proc = start_sandbox(port, args)
    base_url = f"http://127.0.0.1:{port}"
    print(f"{args.notes} notes; limits RPM {args.rpm:,}, ITPM {args.itpm:,}, OTPM {args.otpm:,}, burst {args.burst_s:g} s;"
          f" TTFT {args.ttft_ms:g} ms, {args.tokens_per_s:g} tokens/s; {os.cpu_count()} CPUs")
    # The baselines get a max_tokens their output bucket can hold (4,000 cannot fit a 5 s OTPM 40k bucket:
    # every request would be refused for good); the live runner starts at 4,000 and learns.
    baseline_max = min(4000, int(0.9 * args.otpm * args.burst_s / 60))
    print(f"baselines: max_tokens {baseline_max}; live runner: 4000, lowered to what the output bucket holds")
    runs = {
        "live": lambda: run_live(base_url, rows, args.concurrency),
        "naive": lambda: asyncio.run(run_naive(base_url, rows, args.pool, baseline_max)),
        "sequential": lambda: run_sequential(base_url, rows, args.sequential_cap_s, baseline_max),
    }
    outcomes = []
    try:
        for name, runner in runs.items():
            if name in args.skip:
                continue
            print(f"running {name} …", flush=True)
            outcomes.append(measure(base_url, name, rows, runner))
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    print_table(outcomes, args)
    return 0


def print_table(outcomes: list[Outcome], args: argparse.Namespace) -> None:
    print()
    print(f"{'run':<11} {'notes':>6} {'done':>6} {'lost':>5} {'seconds':>8} {'notes/s':>8} {'429s':>6} "
          f"{'429 %':>6} {'req %':>6} {'in %':>6} {'out %':>6} {'binding':>8} {'goodput':>8}")
    for o in outcomes:
        s = shares(o, args)
        binding = max(s, key=s.get)
        print(f"{o.name:<11} {o.notes:>6} {o.done:>6} {o.lost:>5} {o.seconds:>8.1f} {o.done / o.seconds:>8.2f} "
              f"{o.rate_limited:>6} {100 * o.rate_limited / max(1, o.responses):>5.1f}% "
              f"{100 * s['requests']:>5.1f}% {100 * s['input']:>5.1f}% {100 * s['output']:>5.1f}% {binding:>8} "
              f"{100 * s[binding]:>7.1f}%")
    print("\ngoodput = bucket use of the successful replies / (burst + limit x run time); 429 % = share of all "
          "Messages responses.\nsequential stops at --sequential-cap-s: its notes column is how many it reached.")


if __name__ == "__main__":
    sys.exit(main())
