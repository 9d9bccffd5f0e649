"""What-if: the same period's logged tokens repriced under another model, the Batch API or caching."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from lib.usage import log as usage_log
from lib.usage.log import UsageRecord
from lib.usage.queries import UsageFilter, UsageQueries, what_if

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
DAY = UsageFilter.for_days(date(2026, 11, 20), date(2026, 11, 20), backend="anthropic")


def rec(**over) -> UsageRecord:
    base = dict(ts=T0, call_id="c", backend="anthropic", model="claude-sonnet-4-6", feature="summarize", user="dana",
                status="ok")
    return UsageRecord(**(base | over))


def groups(db, records):
    with db.transaction() as cur:
        for r in records:
            cur.execute(usage_log._INSERT, usage_log._row_values(r))
    return UsageQueries(db).report(DAY).groups


@pytest.fixture
def db(database):
    """This test's database: each test runs on DuckDB and on Postgres."""
    return database


@pytest.fixture
def fixed(db):
    # The same three priced calls as tests/unit/usage/test_queries.py (A and B on Sonnet 4.6, C on Haiku 4.5),
    # logged at $0.018 + $0.0111 + $0.0073 = $0.0364, and one call on a model without a price.
    return groups(db, [
        rec(call_id="a", input_tokens=1000, cache_creation_input_tokens=2000, cache_write_5m_tokens=2000,
            output_tokens=500, cost_usd=Decimal("0.018")),
        rec(call_id="b", input_tokens=1000, cache_read_input_tokens=2000, output_tokens=500, cost_usd=Decimal("0.0111")),
        rec(call_id="c", model="claude-haiku-4-5", input_tokens=4000, cache_creation_input_tokens=1000,
            cache_write_1h_tokens=1000, cache_read_input_tokens=3000, output_tokens=200, cost_usd=Decimal("0.0073")),
        rec(call_id="e", model="claude-nope-1", input_tokens=100, output_tokens=10, cost_usd=None),
    ])


def test_batch_halves_everything(fixed):
    r = what_if(fixed, "batch")
    assert r.baseline == Decimal("0.0364") and r.cost == Decimal("0.0182")
    assert r.delta == Decimal("-0.0182") and r.change == Decimal("-0.5") and r.unpriced_rows == 1


def test_every_call_on_another_model(fixed):
    r = what_if(fixed, "model", model="claude-haiku-4-5")
    # A: 1*1000 + 1.25*2000 + 5*500 = 6000; B: 1000 + 0.1*2000 + 2500 = 3700; C unchanged 7300 -> 17000 / 1e6
    assert r.cost == Decimal("0.017") and r.description.endswith("claude-haiku-4-5")
    r = what_if(fixed, "model", model="claude-opus-4-8")
    # A: 5*1000 + 6.25*2000 + 25*500 = 30000; B: 5000 + 0.5*2000 + 12500 = 18500;
    # C: 5*4000 + 10*1000 + 0.5*3000 + 25*200 = 36500 -> 85000 / 1e6
    assert r.cost == Decimal("0.085")


def test_without_caching_costs_exactly_the_savings_more(fixed, db):
    r = what_if(fixed, "no_cache")
    # A: 3*(1000 + 2000) + 7500 = 16500; B: 3*3000 + 7500 = 16500; C: 1*(4000 + 1000 + 3000) + 1000 = 9000
    assert r.cost == Decimal("0.042")
    savings = UsageQueries(db).report(DAY).headline.savings
    assert r.delta == savings.amount == Decimal("0.0056")


def test_more_of_the_input_from_the_cache(fixed):
    r = what_if(fixed, "more_cache", share=0.5)
    # A: 3*500 + 3.75*2000 + 0.3*500 + 7500 = 16650; B: 3*500 + 0.3*2500 + 7500 = 9750;
    # C: 1*2000 + 2*1000 + 0.1*5000 + 1000 = 5500 -> 31900 / 1e6
    assert r.cost == Decimal("0.0319") and r.description.startswith("50%")
    assert what_if(fixed, "more_cache", share=0.0).cost == r.baseline


def test_long_prompts_get_the_target_models_long_context_rates(db):
    g = groups(db, [rec(input_tokens=250_000, output_tokens=1000, cost_usd=Decimal("0.765"))])
    assert what_if(g, "batch").baseline == Decimal("0.765")  # 3*250000 + 15*1000: Sonnet 4.6 is flat
    # Sonnet 4.5 above 200k: 6*250000 + 22.5*1000 = 1522500; Haiku 5.5 above 100k: 0.5*250000 + 2.5*1000
    assert what_if(g, "model", model="claude-sonnet-4-5").cost == Decimal("1.5225")
    assert what_if(g, "model", model="claude-haiku-5-5").cost == Decimal("0.1275")


def test_batch_and_us_region_stack_in_both_prices(db):
    g = groups(db, [rec(model="claude-opus-4-8", service_tier="batch", inference_geo="us", input_tokens=1000,
                        output_tokens=100, cost_usd=Decimal("0.004125"))])
    r = what_if(g, "model", model="claude-sonnet-4-6")
    # baseline: (5*1000 + 25*100) * 0.5 * 1.1 = 4125; Sonnet 4.6: (3*1000 + 15*100) * 0.55 = 2475
    assert r.baseline == Decimal("0.004125") and r.cost == Decimal("0.002475")
    assert what_if(g, "batch").cost == r.baseline  # already batch: the discount applies once


def test_a_price_the_scenario_lacks_leaves_the_rows_out_of_both_sides(db):
    g = groups(db, [rec(speed="fast", model="claude-opus-4-8", input_tokens=1000, cost_usd=Decimal("0.01")),
                    rec(call_id="2", input_tokens=1000, cost_usd=Decimal("0.003"))])
    r = what_if(g, "model", model="claude-sonnet-4-6")  # Sonnet has no fast-mode price
    assert r.unpriced_rows == 1 and r.baseline == Decimal("0.003") and r.cost == Decimal("0.003")


def test_scenario_arguments_are_checked(fixed):
    with pytest.raises(ValueError, match="unknown scenario"):
        what_if(fixed, "cheaper")
    with pytest.raises(ValueError, match="needs a model"):
        what_if(fixed, "model")
