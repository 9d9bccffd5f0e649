"""The Usage page in AppTest: a friendly empty state, and a full log with its numbers, charts and tools."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from lib.services import open_database
from lib.usage.budgets import BudgetStore
from lib.usage.log import UsageLog, UsageRecord

NOW = datetime.now(UTC)


def rec(**over) -> UsageRecord:
    base = dict(ts=NOW - timedelta(minutes=30), call_id="c", backend="anthropic", model="claude-sonnet-4-6",
                feature="summarize", user="dana", status="ok", latency_ms=1200.0, ttft_ms=300.0,
                rl_requests_limit=100, rl_requests_remaining=60, rl_input_tokens_limit=1000,
                rl_input_tokens_remaining=900, rl_output_tokens_limit=500, rl_output_tokens_remaining=400)
    return UsageRecord(**(base | over))


@pytest.fixture
def full_log(hermetic_env):
    """Real and sandbox rows; the real spend is $0.0364, as in tests/unit/usage/test_queries.py."""
    log = UsageLog(open_database(hermetic_env))
    for r in [
        rec(call_id="a", input_tokens=1000, cache_creation_input_tokens=2000, cache_write_5m_tokens=2000,
            output_tokens=500, cost_usd=Decimal("0.018")),
        rec(call_id="b", input_tokens=1000, cache_read_input_tokens=2000, output_tokens=500,
            cost_usd=Decimal("0.0111"), ts=NOW - timedelta(minutes=20)),
        rec(call_id="c", model="claude-haiku-4-5", feature="extract", user="lee", input_tokens=4000,
            cache_creation_input_tokens=1000, cache_write_1h_tokens=1000, cache_read_input_tokens=3000,
            output_tokens=200, cost_usd=Decimal("0.0073"), ts=NOW - timedelta(days=2)),
        rec(call_id="b", status="429", error_type="rate_limit_error", cost_usd=Decimal(0),
            ts=NOW - timedelta(minutes=21)),
        rec(call_id="s", backend="sandbox", input_tokens=900, output_tokens=90, cost_usd=Decimal("0.5")),
    ]:
        log.write(r)
    return log


def usage_page(app):
    app.switch_page("app_pages/usage.py")
    app.run()
    assert not app.exception, app.exception
    return app


def metrics(app):
    return {m.label: m.value for m in app.metric}


def test_an_empty_log_has_a_friendly_empty_state(app):
    at = usage_page(app)
    assert any("Nothing to show yet" in i.value for i in at.info)
    assert not at.error and not at.get("plotly_chart")
    assert "Spend in range" not in metrics(at)


def test_a_full_log_shows_its_numbers_and_charts(app, full_log):
    at = usage_page(app)
    m = metrics(at)
    assert at.segmented_control(key="usage_backend").value == "anthropic"  # real rows exist: real by default
    assert m["Spend in range"] == "$0.0364"
    assert m["Requests"] == "4" and m["Error rate"] == "25.0%" and m["429 rate"] == "25.0%"
    assert m["Cache-hit rate"] == "35.7%"  # 5000 read / (6000 input + 3000 written + 5000 read) = 0.357
    assert m["Cache savings"] == "$0.0056"
    assert m["Rate limit used now"] == "40%"  # 1 - 60/100 on requests, the tightest dimension
    assert m["Latency p50"] == "1.2 s" and m["TTFT p50"] == "300 ms"
    assert {x.label: x.delta for x in at.metric}["Latency p50"] == "p95 1.2 s"
    assert {c.key for c in at.get("plotly_chart")} == {
        f"usage_chart_{name}" for name in ("spend_by_model", "spend_by_feature", "spend_by_user", "tokens_by_kind",
                                           "cache_hit_rate", "rate_limit_headroom", "latency")}
    assert any("No outcomes in this period yet" in i.value for i in at.info)  # no CRM saves in this log
    assert [t.label for t in at.tabs][:3] == ["Spend", "Tokens & cache", "Rate limits"]
    assert at.get("download_button")


def test_the_filters_change_the_numbers(app, full_log):
    at = usage_page(app)
    at.segmented_control(key="usage_backend").set_value("sandbox").run()
    assert metrics(at)["Spend in range"] == "$0.50" and metrics(at)["Cache-hit rate"] == "caching not used"
    at.segmented_control(key="usage_backend").set_value("anthropic").run()
    at.multiselect(key="usage_users").set_value(["lee"]).run()
    assert metrics(at)["Spend in range"] == "$0.0073"
    today = NOW.date()
    at.multiselect(key="usage_users").set_value([]).run()
    at.date_input(key="usage_dates").set_value((today, today)).run()
    assert metrics(at)["Spend in range"] == "$0.0291" and not at.exception  # the Haiku call was two days ago


def test_what_if_batch_halves_the_period(app, full_log):
    at = usage_page(app)
    at.radio(key="usage_whatif").set_value("batch").run()
    m = metrics(at)
    assert m["As it happened (repriced)"] == "$0.0364" and m["Under the scenario"] == "$0.0182"


def test_new_rows_show_without_a_restart(app, full_log):
    at = usage_page(app)
    full_log.write(rec(call_id="new", input_tokens=100, cost_usd=Decimal("1")))
    at.run()
    assert metrics(at)["Spend in range"] == "$1.04"


def test_budgets_are_set_on_the_page_and_shown_against_spend(app, full_log, hermetic_env):
    at = usage_page(app)
    at.selectbox(key="usage_budget_scope").set_value("team")
    at.number_input(key="usage_budget_limit").set_value(0.04)
    at.button(key="FormSubmitter:usage_budget_form-Save budget").click().run()
    assert any("Saved: The team's daily budget" in s.value for s in at.success)
    assert BudgetStore(open_database(hermetic_env)).list()[0].limit_usd == Decimal("0.04")
    assert metrics(at)["Today (UTC)"] == "$0.0291"
    assert any("daily budget is at 73%" in w.value for w in at.warning) is False  # 73 % < 75 %: no warning
    assert [m.delta for m in at.metric if m.label == "Today (UTC)"] == ["73% of $0.04 budget"]
    at.selectbox(key="usage_budget_scope").set_value("user")
    at.text_input(key="usage_budget_subject").set_value("dana")
    at.number_input(key="usage_budget_limit").set_value(0.02)
    at.button(key="FormSubmitter:usage_budget_form-Save budget").click().run()
    assert any("The daily budget of user dana is at 146%" in e.value for e in at.error)


def test_reconciliation_explains_how_to_enable_it(app, full_log):
    at = usage_page(app)
    assert any("set ANTHROPIC_ADMIN_KEY" in i.value for i in at.info)


def test_reconciliation_with_an_admin_key(app_env, full_log, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from tests.app.conftest import APP

    monkeypatch.setenv("ANTHROPIC_ADMIN_KEY", "sk-ant-admin-apptest")
    at = AppTest.from_file(APP, default_timeout=30)
    at.run()
    at = usage_page(at)
    at.button(key="usage_reconcile_fetch").click().run()
    assert not at.exception, at.exception
    m = metrics(at)
    assert m["Scribe's log"] == "$0.50"  # the app runs on the sandbox: its rows are compared with its bill
    assert "Anthropic's report" in m and at.dataframe
    page_text = " ".join(str(e.value) for e in [*at.markdown, *at.caption, *at.info, *at.warning, *at.metric])
    assert "apptest" not in page_text and "sk-ant-admin" not in page_text  # the admin key is never shown
    assert any("Configured limits" in md.value for md in at.markdown)  # the Rate Limits API, beside the headroom


def test_a_budget_set_here_can_be_removed(app, full_log, hermetic_env):
    BudgetStore(open_database(hermetic_env)).set("feature", "extract", "month", "5")
    at = usage_page(app)
    assert at.selectbox(key="usage_budget_remove").value.label == "The monthly budget of feature extract"
    at.button(key="usage_budget_remove_btn").click().run()
    assert any("Removed: The monthly budget of feature extract" in s.value for s in at.success)
    assert BudgetStore(open_database(hermetic_env)).list() == []


def test_a_call_without_a_known_price_is_flagged_not_counted_as_zero(app, full_log):
    full_log.write(rec(call_id="u", model="claude-nope-1", input_tokens=100, output_tokens=10, cost_usd=None))
    at = usage_page(app)
    assert metrics(at)["Spend in range"] == "$0.0364"
    assert any("1 call(s) used a model without a known price" in w.value for w in at.warning)


def metric_rows(node) -> list[int]:
    """How many columns each row holding a metric has (rows are blocks whose children are columns)."""
    found = []
    children = list(getattr(node, "children", {}).values())
    if children and all(getattr(c, "type", None) == "column" for c in children):
        if any(getattr(leaf, "type", None) == "metric" for c in children for leaf in _leaves(c)):
            found.append(len(children))
    for child in children:
        found += metric_rows(child)
    return found


def _leaves(node):
    children = list(getattr(node, "children", {}).values())
    if not children:
        yield node
    for child in children:
        yield from _leaves(child)


def test_the_headline_metrics_come_in_rows_of_at_most_four(app, full_log):
    at = usage_page(app)
    rows = metric_rows(at.main)
    assert rows and max(rows) <= 4, rows
    assert sum(1 for m in at.main.metric) >= 12  # every headline number is still there
