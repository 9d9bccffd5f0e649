"""lib/usage/pricing.py against hand-computed costs and against the price list in claude-api.md §10."""

from __future__ import annotations

import ast
import tomllib
import typing
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import anthropic
import pytest
from pydantic import ValidationError

from lib.usage import pricing
from lib.usage.pricing import ModelPrice, PriceTable, PricingFileError

AT = date(2026, 11, 20)  # after every release in the table; Sonnet 5.5 is on its 2026-10-07 row
D = Decimal


def usage(**fields: object) -> dict[str, object]:
    """A usage dict shaped like the API's; counts default to 0."""
    return {"input_tokens": 0, "output_tokens": 0} | fields


def split(five_min: int = 0, one_hour: int = 0) -> dict[str, object]:
    """Cache writes with their TTL split and their total, as the API reports them."""
    return {
        "cache_creation_input_tokens": five_min + one_hour,
        "cache_creation": {"ephemeral_5m_input_tokens": five_min, "ephemeral_1h_input_tokens": one_hour},
    }


# (model, usage, keyword arguments, expected USD). Rates are USD per million tokens, so each
# comment sums tokens x rate and divides by 1e6.
CASES = [
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=1000, output_tokens=500), {},
        D("0.0105"),  # 1000x3 + 500x15 = 3000 + 7500 = 10500 / 1e6
        id="uncached-only",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=100, output_tokens=200, **split(five_min=2000)), {},
        D("0.0108"),  # 100x3 + 2000x(3x1.25=3.75) + 200x15 = 300 + 7500 + 3000 = 10800 / 1e6
        id="5m-writes-1.25x",
    ),
    pytest.param(
        "claude-opus-4-6",
        usage(input_tokens=50, output_tokens=100, **split(one_hour=4000)), {},
        D("0.04275"),  # 50x5 + 4000x(5x2=10) + 100x25 = 250 + 40000 + 2500 = 42750 / 1e6
        id="1h-writes-2x",
    ),
    pytest.param(
        "claude-haiku-4-5",
        usage(input_tokens=10, output_tokens=40, **split(five_min=1000, one_hour=3000)), {},
        D("0.00746"),  # 10x1 + 1000x1.25 + 3000x2 + 40x5 = 10 + 1250 + 6000 + 200 = 7460 / 1e6
        id="mixed-5m-and-1h",
    ),
    pytest.param(
        "claude-sonnet-5",
        usage(input_tokens=20, cache_read_input_tokens=10_000, output_tokens=300), {},
        D("0.00504"),  # 20x2 + 10000x(2x0.1=0.2) + 300x10 = 40 + 2000 + 3000 = 5040 / 1e6
        id="reads-0.1x",
    ),
    pytest.param(
        "claude-opus-5-5",
        usage(input_tokens=20, cache_read_input_tokens=100_000, output_tokens=1000), {},
        D("0.04008"),  # 20x4 + 100000x(4x0.05=0.20) + 1000x20 = 80 + 20000 + 20000 = 40080 / 1e6
        id="opus-5.5-reads-0.05x",
    ),
    pytest.param(
        "claude-fable-5-1",
        usage(cache_read_input_tokens=100_000), {},
        D("0.025"),  # 100000x(10x0.025=0.25) = 25000 / 1e6
        id="fable-5.1-reads-0.025x",
    ),
    pytest.param(
        "claude-fable-5",
        usage(cache_read_input_tokens=100_000), {},
        D("0.1"),  # 100000x1.00 = 100000 / 1e6
        id="fable-5-reads-1.00",
    ),
    pytest.param(
        "claude-fable-5-2",
        usage(input_tokens=1000, cache_read_input_tokens=100_000, output_tokens=100), {},
        D("0.032"),  # 1000x8 + 100000x0.20 + 100x40 = 8000 + 20000 + 4000 = 32000 / 1e6
        id="fable-5.2-reads-0.20",
    ),
    pytest.param(
        "claude-3-haiku-20240307",
        usage(input_tokens=1000, cache_read_input_tokens=1000, **split(five_min=1000)), {},
        D("0.00058"),  # 1000x0.25 + 1000x0.30 (1.2x, as printed) + 1000x0.03 = 250 + 300 + 30 = 580 / 1e6
        id="haiku-3-printed-cache-rates",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=1000, output_tokens=500), {"batch": True},
        D("0.00525"),  # uncached-only x 0.5: 10500 x 0.5 = 5250 / 1e6
        id="batch-argument-halves",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=1000, output_tokens=500, service_tier="batch"), {},
        D("0.00525"),  # service_tier "batch" is batch pricing too: 10500 x 0.5 = 5250 / 1e6
        id="batch-service-tier-halves",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=1000, output_tokens=500, service_tier="batch"), {"batch": True},
        D("0.00525"),  # both say batch: halved once, not quartered
        id="batch-said-twice-halves-once",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=100, cache_read_input_tokens=10_000, output_tokens=200, service_tier="batch",
              **split(five_min=2000, one_hour=1000)), {},
        D("0.0099"),  # (100x3 + 2000x3.75 + 1000x6 + 10000x0.30 + 200x15) x 0.5
        #              = (300 + 7500 + 6000 + 3000 + 3000) x 0.5 = 19800 x 0.5 = 9900 / 1e6
        id="batch-stacks-with-cache",
    ),
    pytest.param(
        "claude-opus-4-6",
        usage(input_tokens=1000, output_tokens=1000, speed="fast"), {},
        D("0.18"),  # fast $30 / $150: 1000x30 + 1000x150 = 30000 + 150000 = 180000 / 1e6
        id="fast-mode-opus-4.6",
    ),
    pytest.param(
        "claude-opus-5-5",
        usage(input_tokens=100, cache_read_input_tokens=10_000, output_tokens=100, speed="fast"), {},
        D("0.0088"),  # fast $8 / $40, reads keep 0.05x = 0.40:
        #              100x8 + 10000x0.40 + 100x40 = 800 + 4000 + 4000 = 8800 / 1e6
        id="fast-mode-stacks-with-cache-read-override",
    ),
    pytest.param(
        "claude-opus-5",
        usage(input_tokens=1000, output_tokens=1000, inference_geo="us", service_tier="batch"), {},
        D("0.0165"),  # (1000x5 + 1000x25) x 0.5 x 1.1 = 30000 x 0.55 = 16500 / 1e6
        id="us-geo-1.1x-stacks-with-batch",
    ),
    pytest.param(
        "claude-opus-4-6",
        usage(input_tokens=1000, output_tokens=1000, inference_geo="us", speed="fast"), {},
        D("0.198"),  # (1000x30 + 1000x150) x 1.1 = 180000 x 1.1 = 198000 / 1e6
        id="us-geo-stacks-with-fast",
    ),
    pytest.param(
        "claude-opus-4-5",
        usage(input_tokens=1000, output_tokens=1000, inference_geo="us"), {},
        D("0.03"),  # Opus 4.5 predates the surcharge: 1000x5 + 1000x25 = 30000 / 1e6, no 1.1x
        id="us-geo-no-surcharge-before-opus-4.6",
    ),
    pytest.param(
        "claude-haiku-5-5",
        usage(input_tokens=100_000, output_tokens=1000), {},
        D("0.0105"),  # a prompt of exactly 100K is not above it: 100000x0.10 + 1000x0.50 = 10500 / 1e6
        id="haiku-5.5-at-100k-low-tier",
    ),
    pytest.param(
        "claude-haiku-5-5",
        usage(input_tokens=90_001, cache_read_input_tokens=10_000, output_tokens=1000), {},
        D("0.0480005"),  # prompt 100001 > 100K: high tier on the whole request, output included:
        #                 90001x0.50 + 10000x0.05 + 1000x2.50 = 45000.5 + 500 + 2500 = 48000.5 / 1e6
        id="haiku-5.5-over-100k-high-tier",
    ),
    pytest.param(
        "claude-haiku-5-5",
        usage(input_tokens=1, output_tokens=1, **split(one_hour=100_000)), {},
        D("0.100003"),  # prompt 100001 (writes count): 1x0.50 + 100000x1.00 + 1x2.50 = 100003 / 1e6
        id="haiku-5.5-cache-writes-count-toward-tier",
    ),
    pytest.param(
        "claude-sonnet-4-5",
        usage(input_tokens=250_000, output_tokens=1000), {},
        D("1.5225"),  # > 200K: 250000x6 + 1000x22.50 = 1500000 + 22500 = 1522500 / 1e6
        id="sonnet-4.5-over-200k-long-context",
    ),
    pytest.param(
        "claude-sonnet-4-5-20250929",
        usage(input_tokens=1000, output_tokens=500), {},
        D("0.0105"),  # the dated id of Sonnet 4.5: 1000x3 + 500x15 = 10500 / 1e6
        id="dated-id-sonnet-4.5",
    ),
    pytest.param(
        "claude-haiku-4-5-20251001",
        usage(input_tokens=1000, output_tokens=1000), {},
        D("0.006"),  # the dated id of Haiku 4.5: 1000x1 + 1000x5 = 6000 / 1e6
        id="dated-id-haiku-4.5",
    ),
    pytest.param(
        "claude-opus-4-6-20260205",
        usage(input_tokens=1000, output_tokens=1000), {},
        D("0.03"),  # not listed; its base claude-opus-4-6 is: 1000x5 + 1000x25 = 30000 / 1e6
        id="dated-id-suffix-stripped",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=100, output_tokens=200, cache_creation_input_tokens=2000), {},
        D("0.0108"),  # no split: the 2000 writes are 5m writes, as in 5m-writes-1.25x
        id="unsplit-writes-are-5m",
    ),
    pytest.param(
        "claude-sonnet-4-6",
        usage(input_tokens=100, output_tokens=200, cache_creation_input_tokens=2000,
              cache_creation={"ephemeral_5m_input_tokens": 0, "ephemeral_1h_input_tokens": 0}), {},
        D("0.0108"),  # a split of zeros leaves the 2000 writes unaccounted for: 5m writes too
        id="unaccounted-writes-are-5m",
    ),
]


@pytest.mark.parametrize(("model", "usage_", "kwargs", "expected"), CASES)
def test_cost_usd_matches_hand_computed_cases(model: str, usage_: dict[str, object],
                                               kwargs: dict[str, bool], expected: Decimal) -> None:
    cost = pricing.cost_usd(model, usage_, at=AT, **kwargs)
    assert isinstance(cost, Decimal)
    assert cost == expected


def test_breakdown_gives_each_kind_and_the_cache_savings() -> None:
    breakdown = pricing.cost_breakdown(
        "claude-sonnet-4-6",
        usage(input_tokens=100, cache_read_input_tokens=10_000, output_tokens=200, service_tier="batch",
              **split(five_min=2000, one_hour=1000)),
        at=AT,
    )
    assert breakdown is not None
    assert breakdown.input == D("0.00015")  # 100 x 3 x 0.5 = 150 / 1e6
    assert breakdown.cache_write_5m == D("0.00375")  # 2000 x 3.75 x 0.5 = 3750 / 1e6
    assert breakdown.cache_write_1h == D("0.003")  # 1000 x 6 x 0.5 = 3000 / 1e6
    assert breakdown.cache_read == D("0.0015")  # 10000 x 0.30 x 0.5 = 1500 / 1e6
    assert breakdown.output == D("0.0015")  # 200 x 15 x 0.5 = 1500 / 1e6
    assert breakdown.total == D("0.0099")  # 150 + 3750 + 3000 + 1500 + 1500 = 9900 / 1e6
    assert breakdown.batch and not breakdown.fast and not breakdown.long_context
    assert breakdown.multiplier == D("0.5")
    assert breakdown.rates.input == D("1.5")  # per MTok as charged: 3 x 0.5
    # The 13000 cached tokens as plain input: 13000 x 1.5 = 19500; they cost 3750 + 3000 + 1500 = 8250.
    assert breakdown.cache_savings == D("0.01125")  # (19500 - 8250) / 1e6
    assert breakdown.model_dump()["cache_savings"] == D("0.01125")  # the Usage page can tabulate it


def test_a_write_with_no_read_saves_less_than_nothing() -> None:
    breakdown = pricing.cost_breakdown("claude-haiku-4-5", usage(**split(one_hour=1000)), at=AT)
    assert breakdown is not None
    assert breakdown.cache_savings == D("-0.001")  # 1000 x 1 as input - 1000 x 2 as a 1h write = -1000 / 1e6


@pytest.mark.parametrize("model", ["claude-mythos-5-2", "claude-mythos-preview", "gpt-4o", "claude-opus-9",
                                   "claude-nonexistent-20250101", ""])
def test_an_unknown_model_costs_none_never_zero(model: str) -> None:
    cost = pricing.cost_usd(model, usage(input_tokens=1000, output_tokens=1000), at=AT)
    assert cost is None
    assert cost != 0
    assert pricing.cost_breakdown(model, usage(input_tokens=1), at=AT) is None
    assert pricing.price_for(model, at=AT) is None
    assert pricing.is_verified(model, at=AT) is None


def test_a_known_model_with_no_tokens_costs_zero_not_none() -> None:
    # An attempt that used no tokens really did cost nothing; that is not "unknown".
    assert pricing.cost_usd("claude-haiku-4-5", usage(), at=AT) == 0


@pytest.mark.parametrize("model", ["claude-fable-5-2", "claude-sonnet-4-6", "claude-haiku-5-5"])
def test_fast_mode_without_a_fast_price_costs_none(model: str) -> None:
    assert pricing.cost_usd(model, usage(input_tokens=10, speed="fast"), at=AT) is None
    assert pricing.cost_usd(model, usage(input_tokens=10, speed="standard"), at=AT) is not None


@pytest.mark.parametrize(("field", "value"), [("speed", "turbo"), ("service_tier", "flex"),
                                              ("inference_geo", "eu")])
def test_a_modifier_with_no_known_price_costs_none(field: str, value: str) -> None:
    assert pricing.cost_usd("claude-opus-5-5", usage(input_tokens=10, **{field: value}), at=AT) is None


@pytest.mark.parametrize("geo", [None, "", "global", "not_available"])
def test_regions_without_a_surcharge_cost_the_standard_price(geo: str | None) -> None:
    cost = pricing.cost_usd("claude-opus-5-5", usage(input_tokens=1000, inference_geo=geo), at=AT)
    assert cost == D("0.004")  # 1000 x 4 = 4000 / 1e6


def test_priority_tier_is_priced_at_list_price() -> None:
    # Priority Tier contracts are not in the table; the list price is the estimate.
    cost = pricing.cost_usd("claude-opus-5-5", usage(input_tokens=1000, service_tier="priority"), at=AT)
    assert cost == D("0.004")  # 1000 x 4 = 4000 / 1e6


def test_fast_mode_verified_flag_follows_the_fast_source() -> None:
    fast = usage(input_tokens=1, speed="fast")
    official = pricing.cost_breakdown("claude-opus-4-6", fast, at=AT)
    assert official is not None and official.verified is True
    for model in ("claude-opus-4-8", "claude-opus-5", "claude-opus-5-5"):
        breakdown = pricing.cost_breakdown(model, fast, at=AT)
        assert breakdown is not None and breakdown.fast
        assert breakdown.verified is False, model  # base rates official, fast rates third-party
        assert "fast mode: [3P]" in breakdown.source
        assert pricing.is_verified(model, at=AT) is True


def test_sdk_usage_object_costs_the_same_as_the_dict() -> None:
    sdk_usage = anthropic.types.Usage(
        input_tokens=100, output_tokens=200, cache_read_input_tokens=10_000, cache_creation_input_tokens=3000,
        cache_creation=anthropic.types.CacheCreation(ephemeral_5m_input_tokens=2000,
                                                     ephemeral_1h_input_tokens=1000),
        service_tier="batch", speed="standard", inference_geo="global",
    )
    as_dict = usage(input_tokens=100, cache_read_input_tokens=10_000, output_tokens=200, service_tier="batch",
                    speed="standard", inference_geo="global", **split(five_min=2000, one_hour=1000))
    from_object = pricing.cost_breakdown("claude-sonnet-4-6", sdk_usage, at=AT)
    assert from_object == pricing.cost_breakdown("claude-sonnet-4-6", as_dict, at=AT)
    assert from_object == pricing.cost_breakdown("claude-sonnet-4-6", sdk_usage.model_dump(), at=AT)
    assert from_object is not None and from_object.total == D("0.0099")  # as batch-stacks-with-cache


def test_sdk_usage_with_optional_fields_unset() -> None:
    sdk_usage = anthropic.types.Usage(input_tokens=1000, output_tokens=500)  # cache fields are None
    assert pricing.cost_usd("claude-sonnet-4-6", sdk_usage, at=AT) == D("0.0105")  # as uncached-only


def test_gateway_shaped_dict_with_extra_keys() -> None:
    # lib/claude/gateway.py passes its usage_fields() dict, which has keys of its own; they are ignored.
    fields = usage(input_tokens=100, output_tokens=200, cache_write_5m_tokens=2000, cache_write_1h_tokens=0,
                   service_tier=None, speed=None, inference_geo=None, **split(five_min=2000))
    assert pricing.cost_usd("claude-sonnet-4-6", fields, at=AT) == D("0.0108")  # as 5m-writes-1.25x


def test_the_sum_never_touches_float() -> None:
    # 3 cache reads on Haiku 5.5, batch, US-only: 3 x 0.01 x 0.5 x 1.1 = 0.0165 / 1e6 = 1.65e-8 dollars,
    # exactly half a nano-dollar, so half-even rounding gives 1.6e-8. In float it lands just above half.
    assert 3 * 0.01 * 0.5 * 1.1 / 1e6 == 1.6500000000000002e-08
    assert round(3 * 0.01 * 0.5 * 1.1 / 1e6, 9) == 1.7e-08
    reads = usage(cache_read_input_tokens=3, service_tier="batch", inference_geo="us")
    assert pricing.cost_usd("claude-haiku-5-5", reads, at=AT) == D("0.000000016")


def test_the_module_has_no_float_literal_or_conversion() -> None:
    nodes = list(ast.walk(ast.parse(Path(pricing.__file__).read_text())))
    literals = [node.lineno for node in nodes
                if isinstance(node, ast.Constant) and isinstance(node.value, float)]
    calls = [node.lineno for node in nodes
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"]
    assert literals == [] and calls == []


@pytest.mark.parametrize("bad", [1000.0, 1e3, "1000", True, -1])
def test_token_counts_must_be_non_negative_integers(bad: object) -> None:
    with pytest.raises((TypeError, ValueError)):
        pricing.cost_usd("claude-haiku-4-5", usage(input_tokens=bad), at=AT)


def test_a_float_price_is_refused() -> None:
    row: dict[str, object] = {"model": "m", "name": "M", "valid_from": AT, "input": 0.1, "output": D(1),
                              "source": "s", "verified": True}
    with pytest.raises(ValidationError, match="not float"):
        ModelPrice.model_validate(row)


def test_cost_is_quantised_to_nanodollars() -> None:
    cost = pricing.cost_usd("claude-haiku-5-5", usage(input_tokens=7, output_tokens=3), at=AT)
    assert cost == D("0.0000022")  # 7 x 0.10 + 3 x 0.50 = 0.7 + 1.5 = 2.2 / 1e6
    assert cost is not None and cost.as_tuple().exponent == -9


def test_naive_and_aware_datetimes_pick_the_utc_date() -> None:
    reads = usage(cache_read_input_tokens=1_000_000)  # $0.20 before the Sonnet 5.5 cut, $0.10 from it

    def cost(at: datetime) -> Decimal | None:
        return pricing.cost_usd("claude-sonnet-5-5", reads, at=at)

    assert cost(datetime(2026, 10, 6, 23, 59)) == D("0.20")  # noqa: DTZ001 (naive is read as UTC)
    assert cost(datetime(2026, 10, 7, 0, 0, tzinfo=UTC)) == D("0.10")
    # 01:00 on the 7th at UTC+5 is 20:00 on the 6th in UTC; 22:00 on the 6th at UTC-5 is 03:00 on the 7th.
    assert cost(datetime(2026, 10, 7, 1, 0, tzinfo=timezone(timedelta(hours=5)))) == D("0.20")
    assert cost(datetime(2026, 10, 6, 22, 0, tzinfo=timezone(timedelta(hours=-5)))) == D("0.10")


def test_sonnet_5_5_cache_read_cut_is_a_dated_row() -> None:
    before = pricing.price_for("claude-sonnet-5-5", at=date(2026, 10, 6))
    after = pricing.price_for("claude-sonnet-5-5", at=date(2026, 10, 7))
    assert before is not None and after is not None
    assert (before.cache_read, before.verified) == (D("0.20"), True)  # official overview page
    assert (after.cache_read, after.verified) == (D("0.10"), False)  # third-party release notes only
    assert after.input == before.input == D("2")


TWO_ROWS = """
[models.claude-test-1]
name = "Test 1"
aliases = ["claude-test-1-latest"]

[[models.claude-test-1.prices]]
valid_from = 2026-03-01
input = 0.50
output = 1.00
source = "second"
verified = false

[[models.claude-test-1.prices]]
valid_from = 2026-01-01
input = 1.00
output = 2.00
source = "first"
verified = true
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pricing.toml"
    path.write_text(text)
    return path


def test_the_price_in_force_on_the_call_date_is_used(tmp_path: Path) -> None:
    table = PriceTable.from_toml(write(tmp_path, TWO_ROWS))  # rows out of order on purpose
    call = usage(input_tokens=1000, output_tokens=1000)
    assert table.cost_usd("claude-test-1", call, at=date(2026, 2, 28)) == D("0.003")  # 1000x1 + 1000x2
    assert table.cost_usd("claude-test-1", call, at=date(2026, 3, 1)) == D("0.0015")  # 1000x0.5 + 1000x1
    assert table.cost_usd("claude-test-1-latest", call, at=date(2027, 1, 1)) == D("0.0015")
    # Before the first row, the first known price applies (a release date may be recorded a day late).
    assert table.cost_usd("claude-test-1", call, at=date(2025, 12, 31)) == D("0.003")
    assert table.is_verified("claude-test-1", at=date(2026, 2, 1)) is True
    assert table.is_verified("claude-test-1", at=date(2026, 3, 1)) is False
    first = table.price_for("claude-test-1", at=date(2026, 1, 15))
    assert first is not None and (first.valid_from, first.source) == (date(2026, 1, 1), "first")
    assert (first.cache_write_5m, first.cache_write_1h, first.cache_read) == (D("1.25"), D("2"), D("0.1"))


ROW = '[models.m]\nname = "M"\n[[models.m.prices]]\nvalid_from = 2026-01-01\ninput = 1\noutput = 2\n'
FAST_AND_LONG = ('[models.m.prices.fast]\ninput = 2\noutput = 4\nsource = "s"\nverified = true\n'
                 '[models.m.prices.long_context]\nabove = 10\ninput = 2\noutput = 4\n')


@pytest.mark.parametrize(("text", "message"), [
    (ROW + "verified = true\n", "source"),
    (ROW + 'source = "s"\n', "verified"),
    (ROW + 'source = "s"\nverified = true\ncache_reed = 0.1\n', "cache_reed"),
    (ROW + 'source = "s"\nverified = true\n' + FAST_AND_LONG, "both fast and long_context"),
    (ROW + 'source = "s"\nverified = true\n[[models.m.prices]]\nvalid_from = 2026-01-01\ninput = 2\n'
     'output = 4\nsource = "s"\nverified = true\n', "share a valid_from"),
    ('[models.m]\nname = "M"\n', "either"),
    ('[models.m]\nname = "M"\nunknown = "why"\n' + ROW.split("\n", 2)[2] + 'source = "s"\nverified = true\n',
     "either"),
    ('[models.m]\nname = "M"\nunknown = "why"\n[models.n]\nname = "N"\naliases = ["m"]\nunknown = "why"\n',
     "already used"),
])
def test_a_malformed_file_is_refused_with_the_model_named(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(PricingFileError, match=message) as caught:
        PriceTable.from_toml(write(tmp_path, text))
    assert "[models." in str(caught.value)


def test_the_default_table_is_loaded_once() -> None:
    assert pricing.load_prices() is pricing.load_prices()


# --- The shipped price file against claude-api.md §10 ------------------------------------------

RAW = tomllib.loads(pricing.DEFAULT_PATH.read_text())


def official_only(source: str) -> bool:
    """A source may be marked verified only if it cites an official page and no third party."""
    return "[DOCS]" in source and "[3P]" not in source


def test_every_price_row_states_source_and_verified() -> None:
    for model, table in RAW["models"].items():
        assert ("unknown" in table) != ("prices" in table), model
        for row in table.get("prices", []):
            assert {"valid_from", "input", "output", "source", "verified"} <= row.keys(), model
            assert isinstance(row["verified"], bool) and row["source"].strip(), model
            assert row["verified"] == official_only(row["source"]), model
            if "fast" in row:
                assert {"source", "verified"} <= row["fast"].keys(), model
                assert row["fast"]["verified"] == official_only(row["fast"]["source"]), model


# §10 transcribed by hand: (input, 5m write, 1h write, cache hit, output) in USD per MTok on
# 2026-10-01, before the Sonnet 5.5 cache-read cut (that row is checked above).
SECTION_10 = {
    "claude-fable-5-2": ("8", "10", "16", "0.20", "40"),
    "claude-fable-5-1": ("10", "12.50", "20", "0.25", "50"),
    "claude-mythos-5-1": ("10", "12.50", "20", "0.25", "50"),
    "claude-fable-5": ("10", "12.50", "20", "1.00", "50"),
    "claude-mythos-5": ("10", "12.50", "20", "1.00", "50"),
    "claude-opus-5-5": ("4", "5", "8", "0.20", "20"),
    "claude-opus-5": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-8": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-7": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-6": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-5": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-5-20251101": ("5", "6.25", "10", "0.50", "25"),
    "claude-opus-4-1": ("15", "18.75", "30", "1.50", "75"),
    "claude-opus-4-0": ("15", "18.75", "30", "1.50", "75"),
    "claude-sonnet-5-5": ("2", "2.50", "4", "0.20", "10"),
    "claude-sonnet-5": ("2", "2.50", "4", "0.20", "10"),
    "claude-sonnet-4-6": ("3", "3.75", "6", "0.30", "15"),
    "claude-sonnet-4-5": ("3", "3.75", "6", "0.30", "15"),
    "claude-sonnet-4-5-20250929": ("3", "3.75", "6", "0.30", "15"),
    "claude-sonnet-4-0": ("3", "3.75", "6", "0.30", "15"),
    "claude-haiku-5-5": ("0.10", "0.125", "0.20", "0.01", "0.50"),
    "claude-haiku-4-5": ("1", "1.25", "2", "0.10", "5"),
    "claude-haiku-4-5-20251001": ("1", "1.25", "2", "0.10", "5"),
    "claude-3-5-haiku-20241022": ("0.80", "1", "1.6", "0.08", "4"),
    "claude-3-haiku-20240307": ("0.25", "0.30", "0.50", "0.03", "1.25"),
}
LONG_CONTEXT = {  # (threshold, input, 5m write, 1h write, cache hit, output)
    "claude-haiku-5-5": (100_000, "0.50", "0.625", "1.00", "0.05", "2.50"),
    # $6 / $22.50 are printed; the cache rates are the standard 1.25x / 2x / 0.1x of $6.
    "claude-sonnet-4-5": (200_000, "6", "7.50", "12", "0.60", "22.50"),
    "claude-sonnet-4-0": (200_000, "6", "7.50", "12", "0.60", "22.50"),
}
FAST = {  # (input, output)
    "claude-opus-5-5": ("8", "40"),
    "claude-opus-5": ("10", "50"),
    "claude-opus-4-8": ("10", "50"),
    "claude-opus-4-7": ("30", "150"),
    "claude-opus-4-6": ("30", "150"),
}
US_GEO_SURCHARGE = {  # Opus 4.6 and every later model (docs: data residency, service tiers)
    "claude-fable-5-2", "claude-fable-5-1", "claude-mythos-5-1", "claude-fable-5", "claude-mythos-5",
    "claude-opus-5-5", "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-opus-4-6",
    "claude-sonnet-5-5", "claude-sonnet-5", "claude-sonnet-4-6", "claude-haiku-5-5",
}
# Every model whose current base rates are not all from an official page, and why.
UNVERIFIED = {
    "claude-fable-5-2": "third-party release notes only",
    "claude-haiku-5-5": "official pages give only 'From $0.10 / $0.50'; cache rates and tier are 3P",
    "claude-sonnet-5-5": "the 2026-10-07 cache-read cut to $0.10 is reported by third parties only",
}


@pytest.mark.parametrize("model", sorted(SECTION_10))
def test_rates_match_section_10(model: str) -> None:
    price = pricing.price_for(model, at=date(2026, 10, 1))
    assert price is not None
    key = price.model  # the table's key, for dated aliases too
    rates = (price.input, price.cache_write_5m, price.cache_write_1h, price.cache_read, price.output)
    assert rates == tuple(D(value) for value in SECTION_10[model])
    tier, lc = LONG_CONTEXT.get(key), price.long_context
    assert (None if lc is None else (lc.above, lc.input, lc.cache_write_5m, lc.cache_write_1h, lc.cache_read,
                                     lc.output)) == (None if tier is None else (tier[0], *map(D, tier[1:])))
    fast = FAST.get(key)
    assert (None if price.fast is None else (price.fast.input, price.fast.output)) == (
        None if fast is None else tuple(map(D, fast)))
    assert price.inference_geo_us == (D("1.1") if key in US_GEO_SURCHARGE else D(1))


def test_every_price_in_section_10_is_in_the_file() -> None:
    assert set(SECTION_10) <= set(pricing.known_models())


def test_unverified_models_are_exactly_the_listed_ones() -> None:
    unverified = {model for model in pricing.known_models() if not pricing.is_verified(model, at=AT)}
    assert unverified == set(UNVERIFIED)
    assert pricing.is_verified("claude-sonnet-5-5", at=date(2026, 10, 1)) is True


# claude-api.md §13: the SDK's Model literal list. The models deliberately left without a price:
SECTION_13 = [
    "claude-fable-5-2", "claude-mythos-5-2", "claude-haiku-5-5", "claude-sonnet-5-5", "claude-fable-5-1",
    "claude-opus-5-5", "claude-mythos-5-1", "claude-sonnet-5", "claude-fable-5", "claude-mythos-5",
    "claude-opus-5", "claude-opus-4-8", "claude-opus-4-7", "claude-mythos-preview", "claude-opus-4-6",
    "claude-sonnet-4-6", "claude-haiku-4-5", "claude-haiku-4-5-20251001", "claude-opus-4-5",
    "claude-opus-4-5-20251101", "claude-sonnet-4-5", "claude-sonnet-4-5-20250929",
]
DELIBERATELY_UNKNOWN = {
    "claude-mythos-5-2": "no price published; AWS says it is the same model as Fable 5.2",
    "claude-mythos-preview": "no price found; deprecated, end of life 2026-06-30",
}
# The installed SDK's list too, so that an SDK upgrade that adds a model fails here until it is priced.
SDK_MODELS = typing.get_args(typing.get_args(anthropic.types.Model)[0])


@pytest.mark.parametrize("model", sorted(set(SECTION_13) | set(SDK_MODELS)))
def test_every_listed_model_is_priced_or_deliberately_unknown(model: str) -> None:
    if model in DELIBERATELY_UNKNOWN:
        assert model in pricing.load_prices().unknown_models()
        assert pricing.price_for(model, at=AT) is None
        assert pricing.cost_usd(model, usage(input_tokens=1), at=AT) is None
    else:
        assert model in pricing.known_models()
        assert pricing.price_for(model, at=AT) is not None
