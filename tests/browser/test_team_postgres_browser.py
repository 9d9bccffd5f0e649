"""A team on one Postgres: two app processes (`streamlit run` twice, two ports) and the nightly CLI at once.

Both reps extract the same note and save the same new contact while the CLI enriches the sample file:
every save lands, the contact exists once, every job item was worked once, and the usage log holds one
row per HTTP attempt the sandbox saw (issue 16).
"""

import os
import subprocess
import sys
from pathlib import Path

import psycopg
from playwright.sync_api import expect

from tests.browser.conftest import start_app
from tests.browser.test_extract_browser import extract_note, part, wait_until_idle

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "notes" / "sample_notes.csv"
NEW_EMAIL = "tom.baker@acme.com"  # the new contact in 01_acme_demo.txt


def messages_seen(sandbox) -> int:
    return sum(1 for e in sandbox.journal if e["path"] == "/v1/messages")


def saves_made(postgres_url: str) -> list[tuple]:
    """What each save wrote, for a failure's message: change set, entity, id, field, new value."""
    with psycopg.connect(postgres_url) as con:
        return con.execute("SELECT change_set_id, entity, entity_id, field, new_value FROM field_history "
                           "WHERE change_set_id <> 'seed' ORDER BY ts, entity, entity_id, field").fetchall()


def accept_tom_and_save(page) -> None:
    row = next(r for r in range(3) if "Tom Baker" in part(page, r, "box").inner_text())
    accept = part(page, row, "accept_all")
    expect(accept.get_by_role("checkbox")).not_to_be_checked()  # a new contact is never pre-accepted
    accept.get_by_text("Accept all").click()  # the rep accepts it
    wait_until_idle(page)
    expect(accept.get_by_role("checkbox")).to_be_checked()
    page.get_by_role("button", name="Save accepted to CRM").click()


def test_two_app_processes_and_the_cli_share_one_postgres(browser, browser_sandbox, postgres_url, tmp_path):
    browser_sandbox.configure(ttft_ms=20, tokens_per_s=2000)
    before = messages_seen(browser_sandbox)
    team = {"SCRIBE_DATABASE_URL": postgres_url}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    # two reps (each one's unsaved review is kept as theirs: the same rep would resume it in the other app)
    apps = [start_app(tmp_path / name, browser_sandbox.base_url, team | {"SCRIBE_USER": rep})
            for name, rep in (("a", "ana"), ("b", "ben"))]
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")} | team | {
        "ANTHROPIC_BASE_URL": browser_sandbox.base_url, "SCRIBE_DB": str(tmp_path / "cli.duckdb")}
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        cli = subprocess.Popen([sys.executable, "-m", "lib.bulk", "enrich", str(SAMPLE), "--mode", "live"], cwd=ROOT,
                               env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        pages = [context.new_page() for _ in apps]
        for page, app in zip(pages, apps, strict=True):
            page.set_default_timeout(60_000)
            extract_note(page, app.url)  # both reviews are built before either is saved
        for page in pages:
            accept_tom_and_save(page)
        saved = []
        for page in pages:  # the two saves run at once, in two processes: either may commit first
            page.get_by_text("Saved:").first.wait_for(timeout=180_000)  # two saves and a CLI job on 2 cores
            saved.append(page.get_by_text("Saved:").first.inner_text())
        # one created Tom; the other matched him again by email at save time, inside its transaction
        assert sorted(s.split(",")[0] for s in saved) == ["Saved: 0 new contact(s)", "Saved: 1 new contact(s)"], (
            saved, saves_made(postgres_url))
        out, err = cli.communicate(timeout=300)
        assert cli.returncode == 0, err
        assert "(live, done): 20 item(s)" in out
    finally:
        context.close()
        for app in apps:
            app.stop()

    with psycopg.connect(postgres_url) as con:
        toms = con.execute("SELECT count(*) FROM contacts WHERE lower(email) = %s AND NOT archived",
                           [NEW_EMAIL]).fetchone()[0]
        items = dict(con.execute("SELECT status, count(*) FROM job_items GROUP BY status").fetchall())
        worked_twice = con.execute("SELECT count(*) FROM job_items WHERE attempts > 1").fetchone()[0]
        extract_rows = con.execute("SELECT count(*) FROM usage_log WHERE feature = 'extract'").fetchone()[0]
        saves = con.execute("SELECT count(DISTINCT change_set_id) FROM field_history").fetchone()[0]
    assert toms == 1
    assert sum(items.values()) == 20 and set(items) <= {"succeeded", "failed"}
    assert worked_twice == 0
    assert saves >= 1
    assert extract_rows == messages_seen(browser_sandbox) - before  # 2 app extractions + the CLI's 20 (+ retries)
