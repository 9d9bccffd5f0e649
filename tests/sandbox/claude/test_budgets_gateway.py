"""Budgets through the gateway against the sandbox: warn at 75 %, block at 100 %, step the model down."""

from decimal import ROUND_DOWN, Decimal

import pytest

from lib.claude import prompts
from lib.claude.gateway import Gateway
from lib.core.errors import BudgetExceeded
from lib.core.settings import load_settings
from lib.usage.budgets import BudgetGuard, BudgetStore, usd
from lib.usage.log import UsageLog

NOTE = ("Date: 2026-11-19\nRep: dana\n\nDemo with Acme Corp. John Smith (VP Operations) liked the live map. "
        "Linda Park, their CFO, wants pricing in writing: $48,000 for the first year. Next step: send the proposal.")


@pytest.fixture
def db(database):
    """The gateway's usage log on DuckDB and on Postgres (the same tests, both databases)."""
    return database


def make_gateway(sandbox, db, **env):
    settings = load_settings(env={k.upper(): str(v) for k, v in env.items()}, secrets={})
    guard = BudgetGuard(db, backend="sandbox", settings=lambda: settings, ttl_s=0)
    return Gateway(UsageLog(db), api_key="sk-test-budgets", base_url=sandbox.base_url, backend="sandbox",
                   budget_check=guard)


def summarize(gw, model="claude-sonnet-4-6", user="dana"):
    stream = gw.stream_text(feature="summarize", user=user, model=model, max_tokens=300,
                            system=prompts.summarize_system("short"), messages=prompts.note_message(NOTE))
    list(stream)
    return stream.result


def rows(db):
    return db.cursor().execute("SELECT model, cost_usd FROM usage_log WHERE status = 'ok' ORDER BY id").fetchall()


def budget_of(db):
    return BudgetStore(db).list()[0].limit_usd


def messages_sent(sandbox):
    return [e for e in sandbox.journal if e["path"] == "/v1/messages"]


def test_warn_at_75_then_block_at_100(sandbox, db):
    first = summarize(make_gateway(sandbox, db))
    cost = first.cost_usd
    assert cost > 0 and first.warnings == []
    BudgetStore(db).set("team", "", "day", (cost / Decimal("0.8")).quantize(Decimal("1e-6")))
    gw = make_gateway(sandbox, db)
    second = summarize(gw)  # spend so far: one call = 80 % of the budget
    assert len(second.warnings) == 1 and second.warnings[0].startswith("The team's daily budget is at 80%")
    assert "(warning at 75%)" in second.warnings[0]
    before = len(messages_sent(sandbox))
    spent = cost + second.cost_usd  # over 100 % (less than 160 %: the second call read the cache)
    with pytest.raises(BudgetExceeded) as caught:
        summarize(gw)
    assert f"The team's daily budget is at {spent / budget_of(db):.0%}: {usd(spent)} of {usd(budget_of(db))}, " \
           "so Scribe blocks new calls until the next UTC day." == caught.value.message
    assert len(messages_sent(sandbox)) == before and len(rows(db)) == 2  # nothing was sent, nothing logged


def test_a_user_budget_blocks_that_user_only(sandbox, db):
    cost = summarize(make_gateway(sandbox, db), user="lee").cost_usd
    BudgetStore(db).set("user", "lee", "month", cost.quantize(Decimal("1e-6"), rounding=ROUND_DOWN))
    gw = make_gateway(sandbox, db)
    with pytest.raises(BudgetExceeded, match="monthly budget of user lee is at 10[0-9]%"):
        summarize(gw, user="lee")
    assert summarize(gw, user="dana").warnings == []


def test_step_down_opus_to_sonnet_to_haiku(sandbox, db):
    opus = summarize(make_gateway(sandbox, db), model="claude-opus-4-8")
    spent = opus.cost_usd
    store = BudgetStore(db)
    store.set("feature", "summarize", "day", spent.quantize(Decimal("1e-6"), rounding=ROUND_DOWN),
              policy="step_down")  # 100 %: one step down
    second = summarize(make_gateway(sandbox, db), model="claude-opus-4-8")
    assert second.model == "claude-sonnet-4-6" and second.record.model == "claude-sonnet-4-6"
    assert "this call used claude-sonnet-4-6 instead of claude-opus-4-8 (policy step_down)" in second.warnings[0]
    spent += second.cost_usd
    store.set("feature", "summarize", "day", (spent / Decimal("1.3")).quantize(Decimal("1e-6")), policy="step_down")
    third = summarize(make_gateway(sandbox, db), model="claude-opus-4-8")  # 130 %: two steps
    assert third.model == "claude-haiku-4-5" and "instead of claude-opus-4-8" in third.warnings[0]
    assert [m for m, _ in rows(db)] == ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]
    assert [e["model"] for e in messages_sent(sandbox)] == ["claude-opus-4-8", "claude-sonnet-4-6", "claude-haiku-4-5"]


def test_batch_policy_sends_interactive_work_to_the_bulk_page_and_lets_batches_through(sandbox, db):
    cost = summarize(make_gateway(sandbox, db)).cost_usd
    gw = make_gateway(sandbox, db, scribe_budget_daily_usd=cost.quantize(Decimal("1e-6"), rounding=ROUND_DOWN),
                      scribe_budget_policy="batch")
    with pytest.raises(BudgetExceeded) as caught:
        summarize(gw)
    assert "Bulk enrich page in Batch mode" in caught.value.hint
    params = {"model": "claude-haiku-4-5", "max_tokens": 100, "messages": [{"role": "user", "content": NOTE}]}
    batch = gw.create_batch([{"custom_id": "n1", "params": params}], user="dana", model="claude-haiku-4-5")
    assert batch.id.startswith("msgbatch_")


def test_budgets_count_only_the_gateways_backend(sandbox, db):
    summarize(make_gateway(sandbox, db))  # sandbox spend
    settings = load_settings(env={"SCRIBE_BUDGET_DAILY_USD": "0.000001"}, secrets={})
    real_guard = BudgetGuard(db, backend="anthropic", settings=lambda: settings, ttl_s=0)
    assert real_guard("summarize", "dana", "claude-sonnet-4-6").warnings == []  # no real spend yet
    sandbox_guard = BudgetGuard(db, backend="sandbox", settings=lambda: settings, ttl_s=0)
    with pytest.raises(BudgetExceeded):
        sandbox_guard("summarize", "dana", "claude-sonnet-4-6")
