"""The Usage page in a real browser: on a log with rows, the plotly charts draw (svg) and can be exported."""

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from lib.services import open_database
from lib.usage import pricing
from lib.usage.log import UsageLog, UsageRecord
from tests.browser.conftest import StreamlitApp, start_app

MODELS = ["claude-sonnet-4-6", "claude-haiku-4-5", "claude-opus-4-8"]


def some_rows(n: int, seed: int = 5) -> list[UsageRecord]:
    rnd, now, out = random.Random(seed), datetime.now(UTC), []
    for i in range(n):
        model, ok = rnd.choice(MODELS), rnd.random() > 0.05
        usage = {"input_tokens": rnd.randint(200, 3000) if ok else 0, "output_tokens": rnd.randint(50, 900) if ok else 0,
                 "cache_read_input_tokens": rnd.choice([0, 4000]) if ok else 0,
                 "cache_creation_input_tokens": rnd.choice([0, 0, 2000]) if ok else 0}
        usage["cache_write_5m_tokens"] = usage["cache_creation_input_tokens"]
        out.append(UsageRecord(
            ts=now - timedelta(hours=rnd.uniform(0, 24 * 10)), call_id=f"b{i}", backend="anthropic", model=model,
            feature=rnd.choice(["summarize", "extract", "follow_up"]), user=rnd.choice(["dana", "lee", "kim"]),
            status="ok" if ok else "429", cost_usd=pricing.cost_usd(model, usage) if ok else Decimal(0),
            latency_ms=rnd.uniform(400, 9000), ttft_ms=rnd.uniform(150, 1500),
            rl_requests_limit=4000, rl_requests_remaining=rnd.randint(500, 4000), rl_input_tokens_limit=400_000,
            rl_input_tokens_remaining=rnd.randint(50_000, 400_000), rl_output_tokens_limit=80_000,
            rl_output_tokens_remaining=rnd.randint(10_000, 80_000), **usage))
    return out


@pytest.fixture
def usage_app(tmp_path: Path, browser_sandbox) -> Iterator[StreamlitApp]:
    """The app started on a database that already holds a log (DuckDB: one process, so close it first)."""
    db = open_database(tmp_path / "browser.duckdb")  # the file start_app points SCRIBE_DB at
    log = UsageLog(db)
    for r in some_rows(300):
        log.write(r)
    db.close()
    app = start_app(tmp_path, browser_sandbox.base_url)
    yield app
    app.stop()


def test_the_usage_charts_render(browser, usage_app, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1200})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(usage_app.url)
    page.get_by_text("Sandbox").first.wait_for()  # app.py ran: navigation and sidebar are there
    page.get_by_role("link", name="Usage & spend").click()
    page.get_by_text("Spend in range").wait_for()
    charts = page.locator("[data-testid='stPlotlyChart']")
    charts.first.wait_for()
    first = charts.first
    first.locator("svg.main-svg").first.wait_for()
    assert first.locator(".barlayer .trace").count() == len(MODELS)  # spend stacked by model
    assert first.locator(".barlayer .point").count() > 10  # bars for the days
    page.get_by_role("tab", name="Tokens & cache").click()
    tokens = page.locator("[data-testid='stPlotlyChart']:visible")
    tokens.first.locator(".barlayer .trace").first.wait_for()
    assert tokens.count() == 2 and tokens.nth(1).locator(".scatterlayer .trace").count() == 1  # hit rate line
    page.get_by_role("tab", name="Rate limits").click()
    limits = page.locator("[data-testid='stPlotlyChart']:visible").first
    limits.locator(".scatterlayer .trace").first.wait_for()
    assert limits.locator(".scatterlayer .trace").count() == 3  # one line per dimension
    assert "75% alert" in limits.inner_text()
    limits.hover()
    assert limits.locator("[data-title='Download plot as a PNG']").count() == 1  # the PNG export button
    page.screenshot(path=str(tmp_path / "usage.png"), full_page=True)
    assert "Traceback" not in page.locator("[data-testid='stMain']").inner_text()
    context.close()
