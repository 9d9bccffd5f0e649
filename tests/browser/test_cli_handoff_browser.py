"""The nightly CLI while the real app holds the DuckDB file: the app takes the job, the CLI reports it,
and the Bulk page shows it (embedded mode, lib/bulk/handoff.py)."""

import os
import subprocess
import sys
from pathlib import Path

from playwright.sync_api import expect

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"


def test_the_cli_hands_its_job_to_the_running_app_and_the_bulk_page_shows_it(page, streamlit_app, browser_sandbox):
    browser_sandbox.configure(ttft_ms=20, tokens_per_s=2000)
    page.get_by_role("button", name="Summarize").wait_for()  # drawn once the app's services (and watcher) are up
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | {
        "ANTHROPIC_BASE_URL": browser_sandbox.base_url, "SCRIBE_DB": str(streamlit_app.db_path)}
    done = subprocess.run([sys.executable, "-m", "lib.bulk", "enrich", str(SAMPLE), "--mode", "live"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert "handed to it" in done.stdout
    job_id = done.stdout.split("Live job ")[1].split(":")[0]
    assert f"Job {job_id} (live, done): 20 item(s)" in done.stdout

    page.get_by_role("link", name="Bulk enrich").click()
    page.get_by_text("of 20 note(s) read").wait_for()
    # the job picker names the job (its value sits in the combobox, not in the page's text)
    page.wait_for_function("id => document.querySelector('[data-testid=stMain]').innerHTML.includes(id)", arg=job_id)
    expect(page.get_by_role("button", name="Review")).to_be_visible()
