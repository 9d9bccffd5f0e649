"""Benchmark: the rep's flow in the browser, on the real clock, against a sandbox in its own process.

Measures, one after another:

  first page     `streamlit run app.py` until /_stcore/health answers (app.py warms the imports and the
                 services before it does), then until the first page is drawn in Chromium (target: <= 2 s
                 after the server is up)
  extract N      wall time from clicking Extract to the review grid, for 1, 5 and 10 pasted notes, as
                 ratios to 1 note (target: 5 notes <= 1.5x, 10 notes <= 2.5x, limits permitting)
  assistant      time from asking to the first text of the answer, beside the sandbox's TTFT x (tool rounds + 1)
  CLI            `python -m lib.bulk enrich` from start to its first request at the sandbox, beside
                 `python -c "import anthropic"` (target: within 0.5 s of it)

    python bench/rep_flow.py [--ttft-ms 800] [--tokens-per-s 300] [--repeats 3]

Needs Debian's Chromium (/usr/bin/chromium, or SCRIBE_CHROMIUM).
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx2  # noqa: E402

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, free_port, start_app  # noqa: E402
from tests.support.notes import note, write_notes_csv  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ttft-ms", type=float, default=800)
    p.add_argument("--tokens-per-s", type=float, default=300)
    p.add_argument("--repeats", type=int, default=3, help="runs per measurement (the median is printed)")
    args = p.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scribe-rep-flow-"))
    port = free_port()
    sandbox = subprocess.Popen([sys.executable, "-m", "lib.sandbox", "--port", str(port), "--ttft-ms",
                                str(args.ttft_ms), "--tokens-per-s", str(args.tokens_per_s)], cwd=ROOT,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base_url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: httpx2.get(base_url + "/_sandbox/health", timeout=1).status_code == 200)
        rows = measure(args, base_url, work)
        rows += cli_rows(base_url, work, args.repeats)
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(f"\nsandbox: TTFT {args.ttft_ms:.0f} ms, {args.tokens_per_s:.0f} tokens/s, its own process; "
          f"median of {args.repeats}")
    for name, value, note_text in rows:
        print(f"{name:34} {value:>10}   {note_text}")
    return 0


def wait_for(ready, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if ready():
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("timed out")


def measure(args: argparse.Namespace, base_url: str, work: Path) -> list[tuple[str, str, str]]:
    from playwright.sync_api import sync_playwright

    rows = []
    first_pages, starts = [], []
    extract: dict[int, list[float]] = {1: [], 5: [], 10: []}
    assistant: list[float] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        for run in range(args.repeats):
            folder = work / f"run{run}"
            folder.mkdir()
            started = time.monotonic()
            app = start_app(folder, base_url)
            up = time.monotonic()
            starts.append(up - started)
            try:
                page = browser.new_page(viewport={"width": 1366, "height": 768})
                page.goto(app.url)
                page.get_by_test_id("stSidebar").wait_for()
                page.get_by_role("heading").first.wait_for()
                first_pages.append(time.monotonic() - up)
                for count in extract:
                    extract[count].append(extract_time(page, app.url, count, offset=100 * run + 10 * count))
                assistant.append(assistant_time(page, app.url))
                page.close()
            finally:
                app.stop()
        browser.close()
    one = statistics.median(extract[1])
    rows.append(("server start (until health)", f"{statistics.median(starts):.2f} s", ""))
    rows.append(("first page after the server is up", f"{statistics.median(first_pages):.2f} s", "target <= 2 s"))
    for count, times in extract.items():
        ratio = statistics.median(times) / one
        target = {1: "", 5: "target <= 1.5x", 10: "target <= 2.5x"}[count]
        rows.append((f"extract {count} note(s)", f"{statistics.median(times):.2f} s",
                     f"{ratio:.2f}x of 1 note  {target}"))
    floor = 2 * args.ttft_ms / 1000  # one tool round, then the answer: two calls, each waits its TTFT
    rows.append(("assistant: ask to first answer text", f"{statistics.median(assistant):.2f} s",
                 f"sandbox TTFT x 2 calls = {floor:.2f} s (+ the tool round's output and the tool)"))
    return rows


def assistant_time(page, url: str) -> float:
    """Seconds from asking (Enter) to the first words of the final answer, after one lookup_contact round."""
    page.goto(url + "/assistant")
    chat = page.get_by_placeholder("Ask about a contact, a deal or the pipeline…")
    chat.fill("What is the last activity for john.smith@acme.com?")
    started = time.monotonic()
    chat.press("Enter")
    page.get_by_text("Here is what I found").first.wait_for(timeout=120_000)
    return time.monotonic() - started


def extract_time(page, url: str, count: int, offset: int) -> float:
    """Seconds from clicking Extract to the review of `count` pasted notes."""
    page.goto(url + "/extract")
    page.get_by_role("textbox", name="Notes").fill("\n---\n".join(note(offset + n) for n in range(count)))
    started = time.monotonic()
    page.get_by_role("button", name="Extract", exact=True).click()
    page.get_by_text(re.compile(rf"Review: \d+ person\(s\) from {count} note\(s\)")).wait_for(timeout=300_000)
    return time.monotonic() - started


def cli_rows(base_url: str, work: Path, repeats: int) -> list[tuple[str, str, str]]:
    """The bulk CLI's start-to-first-request time beside the SDK's import time."""
    notes = write_notes_csv(work / "one.csv", 1)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": base_url, "SCRIBE_DB": str(work / "cli.duckdb"), "SCRIBE_FALLBACK_DIR": str(work)}
    imports, firsts = [], []
    for _ in range(repeats):
        started = time.monotonic()
        subprocess.run([sys.executable, "-c", "import anthropic"], check=True)
        imports.append(time.monotonic() - started)
        before = journal_count(base_url)
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "-m", "lib.bulk", "enrich", str(notes), "--mode", "live"], cwd=ROOT,
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda before=before: journal_count(base_url) > before, timeout_s=120)
        firsts.append(time.monotonic() - started)
        proc.wait(timeout=120)
    sdk, cli = statistics.median(imports), statistics.median(firsts)
    return [("python -c 'import anthropic'", f"{sdk:.2f} s", ""),
            ("CLI start to first request", f"{cli:.2f} s", f"{cli - sdk:+.2f} s beside the import  target <= +0.5 s")]


def journal_count(base_url: str) -> int:
    entries = httpx2.get(base_url + "/_sandbox/journal", timeout=5).json()
    items = entries.get("entries", entries) if isinstance(entries, dict) else entries
    return sum(1 for e in items if str(e.get("path", "")).startswith("/v1/messages"))


if __name__ == "__main__":
    sys.exit(main())
