"""Benchmark: does the sandbox pace streams as configured? TTFT and gap between deltas at 1/16/64 streams.

Starts `python -m lib.sandbox` in its own process (real clock, --ttft-ms 500 --tokens-per-s 50), scripts a
~100-token reply through the control plane, then runs N concurrent streams with AsyncAnthropic and prints
measured/configured ratios. TTFT = request sent -> first text delta. The expected gap before each delta is
(its tokens) / tokens_per_s, using the sandbox's own output tokenizer.

    python bench/sandbox_timing.py [--concurrency 1 16 64] [--ttft-ms 500] [--tokens-per-s 50]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import anthropic  # noqa: E402

from lib.sandbox.tokens import count_output  # noqa: E402

REPLY = (
    "Thanks for the update on the Acme renewal. Dana confirmed the budget of forty eight thousand dollars for "
    "forty seats, and legal is reviewing the order form this week. The proposal went out on Monday and she will "
    "walk her finance lead through it next Tuesday. Raj from Globex wants a short demo of the reporting module "
    "before Friday, so I will book a thirty minute slot and send the agenda today. Overall the pipeline looks "
    "healthy and both deals are on track for this quarter."
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_sandbox(port: int, ttft_ms: float, tps: float) -> subprocess.Popen:
    cmd = [
        sys.executable,
        "-m",
        "lib.sandbox",
        "--port",
        str(port),
        "--ttft-ms",
        str(ttft_ms),
        "--tokens-per-s",
        str(tps),
        "--rpm",
        "1000000",
        "--itpm",
        "100000000",
        "--otpm",
        "100000000",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    print(proc.stdout.readline().strip())
    return proc


def control(base_url: str, path: str, body: dict) -> dict:
    request = urllib.request.Request(
        base_url + path, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
        return json.loads(response.read())


async def one_stream(
    client: anthropic.AsyncAnthropic, max_tokens: int
) -> tuple[float, list[tuple[float, str]]]:
    sent = time.perf_counter()
    deltas: list[tuple[float, str]] = []
    stream = await client.messages.create(
        model="claude-sonnet-4-6",
        max_tokens=max_tokens,
        messages=[{"role": "user", "content": "benchmark: give me the account update"}],
        stream=True,
    )
    async for event in stream:
        if event.type == "content_block_delta" and event.delta.type == "text_delta":
            deltas.append((time.perf_counter(), event.delta.text))
    return sent, deltas


async def run_level(base_url: str, n: int, ttft_s: float, tps: float) -> dict[str, float]:
    async with anthropic.AsyncAnthropic(
        base_url=base_url, api_key="sk-bench-sandbox", max_retries=0
    ) as client:
        await asyncio.gather(*(one_stream(client, 1) for _ in range(n)))  # warm the connection pool
        results = await asyncio.gather(*(one_stream(client, 1000) for _ in range(n)))
    ttfts, gap_ratios, end_ratios, gaps_ms = [], [], [], []
    for sent, deltas in results:
        ttfts.append(deltas[0][0] - sent)
        measured = [b[0] - a[0] for a, b in zip(deltas, deltas[1:], strict=False)]
        expected = [count_output(text) / tps for _t, text in deltas[1:]]
        gap_ratios.append(sum(measured) / sum(expected))
        gaps_ms.append(statistics.mean(measured) * 1000)
        tokens = sum(count_output(text) for _t, text in deltas)
        end_ratios.append((deltas[-1][0] - sent) / (ttft_s + (tokens - 1) / tps))
    return {
        "streams": n,
        "ttft_p50_ms": statistics.median(ttfts) * 1000,
        "ttft_p50_ratio": statistics.median(ttfts) / ttft_s,
        "ttft_max_ratio": max(ttfts) / ttft_s,
        "gap_mean_ms": statistics.mean(gaps_ms),
        "gap_ratio": statistics.mean(gap_ratios),
        "end_ratio_p50": statistics.median(end_ratios),
        "end_ratio_max": max(end_ratios),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--ttft-ms", type=float, default=500)
    parser.add_argument("--tokens-per-s", type=float, default=50)
    args = parser.parse_args()
    port = free_port()
    proc = start_sandbox(port, args.ttft_ms, args.tokens_per_s)
    base_url = f"http://127.0.0.1:{port}"
    try:
        control(
            base_url, "/_sandbox/script", {"rules": [{"contains": "benchmark", "reply": {"text": REPLY}}]}
        )
        tokens = count_output(REPLY)
        gap = 1000 * (tokens - 1) / args.tokens_per_s
        print(
            f"reply: {tokens} tokens; configured TTFT {args.ttft_ms:.0f} ms, {args.tokens_per_s:g} tokens/s "
            f"(ideal last delta at {args.ttft_ms + gap:.0f} ms); {os.cpu_count()} CPUs\n"
        )
        print(
            f"{'streams':>7} {'TTFT p50 ms':>12} {'TTFT p50/cfg':>13} {'TTFT max/cfg':>13} "
            f"{'gap mean ms':>12} {'gap/cfg':>8} {'end p50/cfg':>12} {'end max/cfg':>12}"
        )
        for n in args.concurrency:
            r = asyncio.run(run_level(base_url, n, args.ttft_ms / 1000, args.tokens_per_s))
            print(
                f"{r['streams']:>7} {r['ttft_p50_ms']:>12.1f} {r['ttft_p50_ratio']:>13.3f} {r['ttft_max_ratio']:>13.3f} "
                f"{r['gap_mean_ms']:>12.1f} {r['gap_ratio']:>8.3f} {r['end_ratio_p50']:>12.3f} {r['end_ratio_max']:>12.3f}"
            )
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    return 0


if __name__ == "__main__":
    sys.exit(main())
