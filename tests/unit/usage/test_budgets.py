"""Budgets: the arithmetic, the policies, the step-down ladder, and the guard on a hand-made log."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import duckdb
import pytest

from lib.core.db import DatabaseError
from lib.core.errors import BudgetExceeded
from lib.core.settings import load_settings
from lib.usage import budgets, pricing
from lib.usage.budgets import Budget, BudgetGuard, BudgetStatus, BudgetStore
from lib.usage.log import UsageLog, UsageRecord

NOW = datetime.now(UTC)
PRICES = pricing.load_prices()


def settings(**env):
    return load_settings(env={k.upper(): str(v) for k, v in env.items()}, secrets={})


def spend(db, amount, *, user="dana", feature="summarize", backend="sandbox", ts=None):
    UsageLog(db).write(UsageRecord(ts=ts or NOW, call_id=f"s{amount}{user}{feature}", backend=backend,
                                   model="claude-sonnet-4-6", feature=feature, user=user, status="ok",
                                   cost_usd=Decimal(str(amount))))


@pytest.fixture
def db(database):
    """This test's database: each test runs on DuckDB and on Postgres."""
    return database


def guard(db, backend="sandbox", **env):
    return BudgetGuard(db, backend=backend, settings=lambda: settings(**env), ttl_s=0)


# -- pure arithmetic --------------------------------------------------------------------------------


def status(limit, spent, policy="block"):
    return BudgetStatus(Budget("team", "", "day", Decimal(limit)), Decimal(spent), policy)


def test_share_and_state_thresholds():
    assert status("10", "7.49").state == "ok"
    assert status("10", "7.50").state == "warn" and status("10", "7.50").share == Decimal("0.75")
    assert status("10", "9.99").state == "warn"
    assert status("10", "10").state == "over"
    assert status("0", "0").state == "over"  # a zero budget allows nothing
    assert status("10", "12.5").describe() == "The team's daily budget is at 125%: $12.50 of $10.00"


def test_validation_names_what_is_wrong():
    with pytest.raises(ValueError, match="scope"):
        budgets.validate("org", "", "day", 1)
    with pytest.raises(ValueError, match="period"):
        budgets.validate("team", "", "week", 1)
    with pytest.raises(ValueError, match="user's name"):
        budgets.validate("user", " ", "day", 1)
    with pytest.raises(ValueError, match="positive"):
        budgets.validate("team", "", "day", "-1")
    with pytest.raises(ValueError, match="policy"):
        budgets.validate("team", "", "day", 1, "shout")
    assert budgets.validate("team", "ignored", "month", "2.5") == Budget("team", "", "month", Decimal("2.5"))


def test_settings_give_the_team_budgets_unless_the_page_set_its_own():
    s = settings(scribe_budget_daily_usd="5", scribe_budget_monthly_usd="100")
    found = budgets.effective_budgets([], s)
    assert {(b.period, b.limit_usd, b.source) for b in found} == {("day", Decimal(5), "settings"),
                                                                  ("month", Decimal(100), "settings")}
    mine = [Budget("team", "", "day", Decimal(7))]
    found = budgets.effective_budgets(mine, s)
    assert sorted((b.period, b.limit_usd) for b in found) == [("day", Decimal(7)), ("month", Decimal(100))]


def test_policy_falls_back_to_the_setting_then_to_block():
    b = Budget("team", "", "day", Decimal(1))
    assert budgets.policy_of(b, settings(scribe_budget_policy="step_down")) == "step_down"
    assert budgets.policy_of(b, settings(scribe_budget_policy="stepdown")) == "block"  # a typo is the safe one
    assert budgets.policy_of(Budget("team", "", "day", Decimal(1), "batch"), settings()) == "batch"


def test_the_step_down_ladder():
    targets = budgets.ladder_models(settings(), PRICES)
    # the settings' own Sonnet; no Haiku is configured, so the newest verified Haiku in the price table
    assert targets["sonnet"] == "claude-sonnet-4-6" and targets["haiku"] == "claude-haiku-4-5"
    down = lambda m, n: budgets.step_down(m, n, targets, PRICES)  # noqa: E731
    assert down("claude-opus-4-8", 1) == "claude-sonnet-4-6" and down("claude-opus-4-8", 2) == "claude-haiku-4-5"
    assert down("claude-sonnet-4-6", 1) == "claude-haiku-4-5" and down("claude-sonnet-4-6", 2) == "claude-haiku-4-5"
    assert down("claude-haiku-4-5", 1) == "claude-haiku-4-5"  # the bottom of the ladder
    assert down("claude-fable-5-2", 1) == targets["opus"]
    assert down("some-other-model", 1) == "some-other-model"
    configured = budgets.ladder_models(settings(scribe_model_summarize="claude-sonnet-5"), PRICES)
    assert configured["sonnet"] == "claude-sonnet-5"


def test_a_step_down_never_goes_to_a_dearer_model():
    # Opus 4.1 ($15 in) steps to Sonnet; a made-up ladder whose Sonnet costs more is skipped for Haiku
    targets = {"sonnet": "claude-opus-4-1", "haiku": "claude-haiku-4-5"}
    assert budgets.step_down("claude-opus-4-8", 1, targets, PRICES) == "claude-haiku-4-5"


# -- the guard on a hand-made log -------------------------------------------------------------------


def test_no_budgets_means_no_query_and_no_warning(db):
    g = guard(db)
    g.queries.period_spend = None  # would fail if it were called
    assert g("summarize", "dana", "claude-opus-4-8") == budgets.Verdict("claude-opus-4-8", [])


def test_warns_from_75_percent(db):
    spend(db, "0.80")
    verdict = guard(db, scribe_budget_daily_usd="1")("summarize", "dana", "claude-opus-4-8")
    assert verdict.model == "claude-opus-4-8"
    assert verdict.warnings == ["The team's daily budget is at 80%: $0.80 of $1.00 (warning at 75%)."]


def test_blocks_at_100_percent_with_a_clear_message(db):
    spend(db, "0.60")
    spend(db, "0.45", user="lee")
    with pytest.raises(BudgetExceeded) as caught:
        guard(db, scribe_budget_daily_usd="1")("summarize", "dana", "claude-opus-4-8")
    assert str(caught.value).startswith("The team's daily budget is at 105%: $1.05 of $1.00, so Scribe blocks new "
                                        "calls until the next UTC day.")


def test_user_and_feature_budgets_apply_to_their_own_calls_only(db):
    spend(db, "2", user="lee", feature="extract")
    BudgetStore(db).set("user", "lee", "day", "1")
    BudgetStore(db).set("feature", "assistant", "month", "1")
    g = guard(db)
    with pytest.raises(BudgetExceeded, match="daily budget of user lee is at 200%"):
        g("summarize", "lee", "claude-sonnet-4-6")
    assert g("summarize", "dana", "claude-sonnet-4-6").warnings == []
    spend(db, "0.9", user="dana", feature="assistant")
    assert g("assistant", "dana", "claude-opus-4-8").warnings[0].startswith(
        "The monthly budget of feature assistant is at 90%")


def test_only_the_guards_backend_counts(db):
    spend(db, "5", backend="sandbox")
    spend(db, "0.1", backend="anthropic")
    real = guard(db, backend="anthropic", scribe_budget_daily_usd="1")
    assert real("summarize", "dana", "claude-sonnet-4-6").warnings == []
    with pytest.raises(BudgetExceeded):
        guard(db, backend="sandbox", scribe_budget_daily_usd="1")("summarize", "dana", "claude-sonnet-4-6")


def test_yesterdays_spend_counts_for_the_month_not_the_day(db):
    spend(db, "3", ts=NOW - timedelta(days=1)) if NOW.day > 1 else spend(db, "3", ts=NOW - timedelta(hours=1))
    g = guard(db, scribe_budget_daily_usd="1", scribe_budget_monthly_usd="10")
    states = {s.budget.period: (s.spend, s.state) for s in g.statuses()}
    assert states["month"] == (Decimal(3), "ok")
    if NOW.day > 1:
        assert states["day"] == (Decimal(0), "ok")


@pytest.mark.parametrize(("spent", "model", "expected"), [
    ("1.00", "claude-opus-4-8", "claude-sonnet-4-6"),  # 100 %: one step
    ("1.24", "claude-opus-4-8", "claude-sonnet-4-6"),
    ("1.25", "claude-opus-4-8", "claude-haiku-4-5"),  # 125 %: two steps
    ("1.10", "claude-sonnet-4-6", "claude-haiku-4-5"),
    ("1.60", "claude-haiku-4-5", "claude-haiku-4-5"),  # nothing cheaper: it goes ahead, and says so
])
def test_step_down_by_how_far_over(db, spent, model, expected):
    spend(db, spent)
    verdict = guard(db, scribe_budget_daily_usd="1", scribe_budget_policy="step_down")("assistant", "dana", model)
    assert verdict.model == expected
    assert (f"used {expected} instead of {model}" if expected != model else "no cheaper step") in verdict.warnings[0]


def test_step_down_stops_at_twice_the_budget(db):
    spend(db, "2")
    with pytest.raises(BudgetExceeded, match="past twice the budget"):
        guard(db, scribe_budget_daily_usd="1", scribe_budget_policy="step_down")("assistant", "dana", "claude-haiku-4-5")


def test_batch_policy_pauses_interactive_work_and_lets_batches_run(db):
    spend(db, "1.5")
    g = guard(db, scribe_budget_daily_usd="1", scribe_budget_policy="batch")
    with pytest.raises(BudgetExceeded) as caught:
        g("summarize", "dana", "claude-sonnet-4-6")
    assert "interactive calls are paused" in caught.value.message and "Batch mode" in caught.value.hint
    verdict = g("batch", "dana", "claude-sonnet-4-6")
    assert verdict.model == "claude-sonnet-4-6" and "Batch API at half price" in verdict.warnings[0]


def test_the_strictest_policy_of_the_budgets_over_wins(db):
    spend(db, "1.1")
    BudgetStore(db).set("user", "dana", "day", "1", policy="step_down")
    BudgetStore(db).set("feature", "summarize", "day", "1", policy="block")
    with pytest.raises(BudgetExceeded):
        guard(db)("summarize", "dana", "claude-opus-4-8")
    assert guard(db)("extract", "dana", "claude-opus-4-8").model == "claude-sonnet-4-6"


def test_spend_is_cached_for_the_ttl(db):
    g = BudgetGuard(db, backend="sandbox", settings=lambda: settings(scribe_budget_daily_usd="1"), ttl_s=60)
    assert g("summarize", "dana", "claude-sonnet-4-6").warnings == []
    spend(db, "5")
    assert g("summarize", "dana", "claude-sonnet-4-6").warnings == []  # the cached answer
    g.invalidate()
    with pytest.raises(BudgetExceeded):
        g("summarize", "dana", "claude-sonnet-4-6")


def test_a_broken_check_lets_the_call_go_with_a_warning(db):
    g = guard(db, scribe_budget_daily_usd="1")

    def broken(*a, **k):
        raise duckdb.IOException("disk gone") if db.dialect == "duckdb" else DatabaseError("connection gone")

    g.queries.period_spend = broken
    verdict = g("summarize", "dana", "claude-sonnet-4-6")
    assert verdict.model == "claude-sonnet-4-6" and "could not be checked" in verdict.warnings[0]


def test_the_store_replaces_and_deletes(db):
    store = BudgetStore(db)
    store.set("feature", "extract", "day", "3", policy="batch", user="boss")
    store.set("feature", "extract", "day", "4")
    assert store.list() == [Budget("feature", "extract", "day", Decimal(4), None)]
    store.delete("feature", "extract", "day")
    assert store.list() == []
