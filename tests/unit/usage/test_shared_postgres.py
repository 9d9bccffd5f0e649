"""Team mode: several processes write one Postgres usage log while the roll-ups are refreshed; no row is
missed (writes and refreshes take the same advisory lock, so ids become visible in id order)."""

import subprocess
import sys
import threading
from datetime import date
from pathlib import Path

import pytest

from lib.services import open_database
from lib.usage.queries import UsageFilter, UsageQueries

ROOT = str(Path(__file__).resolve().parents[3])
WRITER = """
import sys
from datetime import UTC, datetime
from decimal import Decimal
from lib.services import open_database
from lib.usage.log import UsageLog, UsageRecord
db = open_database(sys.argv[1], local_path=__import__("pathlib").Path(sys.argv[3]))
log = UsageLog(db)
for i in range(int(sys.argv[2])):
    log.write(UsageRecord(ts=datetime(2026, 11, 20, 9, tzinfo=UTC), call_id=f"{sys.argv[3]}-{i}", backend="anthropic",
                          model="claude-sonnet-4-6", feature="summarize", user="dana", status="ok",
                          input_tokens=10, output_tokens=1, cost_usd=Decimal("0.001")))
db.close()
"""


def test_two_processes_write_while_the_rollup_refreshes_and_nothing_is_missed(postgres_url, tmp_path):
    db = open_database(postgres_url, local_path=tmp_path / "main")
    queries = UsageQueries(db)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, postgres_url, "400", str(tmp_path / f"w{n}")],
                                cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
               for n in range(2)]
    stop = threading.Event()

    def refresh_all_along():
        while not stop.is_set():
            queries.refresh()

    refresher = threading.Thread(target=refresh_all_along)
    refresher.start()
    for w in writers:
        _, err = w.communicate(timeout=240)
        assert w.returncode == 0, err
    stop.set()
    refresher.join(60)
    assert queries.refresh()
    days = UsageFilter.for_days(date(2026, 11, 18), date(2026, 11, 22), backend="anthropic")
    assert queries._uses_rollup(days)
    assert queries.report(days).headline.requests == 800  # read from the roll-up
    raw = db.cursor().execute("SELECT count(*) FROM usage_log").fetchone()[0]
    assert raw == 800
    db.close()


def test_a_budget_counts_what_other_processes_spent(postgres_url, tmp_path):
    """A team budget on Postgres: the spend another process logged (here 400 × $0.001) stops this one's call."""
    from lib.core.errors import BudgetExceeded
    from lib.core.settings import load_settings
    from lib.usage.budgets import BudgetGuard

    db = open_database(postgres_url, local_path=tmp_path / "main")
    guard = BudgetGuard(db, backend="anthropic", ttl_s=0,
                        settings=lambda: load_settings(env={"SCRIBE_BUDGET_DAILY_USD": "0.30"}, secrets={}))
    guard("summarize", "lee", "claude-sonnet-4-6")  # nothing spent yet: the call may go
    writer = subprocess.run([sys.executable, "-c", WRITER.replace("datetime(2026, 11, 20, 9, tzinfo=UTC)",
                                                                  "datetime.now(UTC)"),
                             postgres_url, "400", str(tmp_path / "w")], cwd=ROOT, capture_output=True, text=True)
    assert writer.returncode == 0, writer.stderr
    with pytest.raises(BudgetExceeded, match=r"\$0\.40 of \$0\.30"):
        guard("summarize", "lee", "claude-sonnet-4-6")  # lee never spent: the team's spend elsewhere counts
    db.close()
