"""The usage figures: the right traces from the small frames, the 75 % line, PNG export, the pipeline chart."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pandas as pd

from app_pages._shared import charts

B1, B2 = datetime(2026, 11, 19, tzinfo=UTC), datetime(2026, 11, 20, tzinfo=UTC)
DAY = timedelta(days=1)


def test_spend_is_stacked_by_model():
    frame = pd.DataFrame({"bucket": [B1, B1, B2], "model": ["claude-haiku-4-5", "claude-sonnet-4-6",
                                                            "claude-sonnet-4-6"], "cost_usd": [0.5, 1.25, 2.0]})
    fig = charts.spend_by_model_chart(frame, "day")
    assert fig.layout.barmode == "stack" and [t.name for t in fig.data] == ["claude-haiku-4-5", "claude-sonnet-4-6"]
    assert list(fig.data[1].y) == [1.25, 2.0] and fig.layout.yaxis.title.text == "USD per day"
    # bars are most of a day wide, and the axis is the filtered period when the data fill much of it
    fig = charts.spend_by_model_chart(frame, "day", (datetime(2026, 11, 18, tzinfo=UTC), B2 + DAY))
    assert fig.data[0].width == 0.8 * 86_400_000 and fig.layout.xaxis.type == "date"
    assert fig.layout.xaxis.range[0] == datetime(2026, 11, 18, tzinfo=UTC)


THIRTY_DAYS = (datetime(2026, 10, 22, tzinfo=UTC), datetime(2026, 11, 21, tzinfo=UTC))


def span_days(fig) -> float:
    start, end = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    return (end - start) / DAY


def middle(fig) -> pd.Timestamp:
    start, end = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    return start + (end - start) / 2


def test_one_day_of_data_in_thirty_days_is_zoomed_to_the_data_not_a_bar_at_the_edge():
    frame = pd.DataFrame({"bucket": [B1], "model": ["claude-sonnet-4-6"], "cost_usd": [0.5]})
    fig = charts.spend_by_model_chart(frame, "day", THIRTY_DAYS)
    assert span_days(fig) == charts.MIN_SPAN_BUCKETS  # a week around the day, not the 30 days
    assert middle(fig) == pd.Timestamp(B1 + DAY / 2).tz_localize(None)  # the day's bar in the middle
    tokens = pd.DataFrame({"bucket": [B1] * 5, "kind": list(charts.TOKEN_LABELS), "tokens": [1, 2, 3, 4, 5]})
    assert span_days(charts.tokens_by_kind_chart(tokens, "day", THIRTY_DAYS)) == charts.MIN_SPAN_BUCKETS
    series = pd.DataFrame({"bucket": [B1], "hit_rate": [0.4]})
    assert span_days(charts.hit_rate_chart(series, "day", THIRTY_DAYS)) == charts.MIN_SPAN_BUCKETS
    headroom = pd.DataFrame({"bucket": [B1], "dimension": ["requests"], "peak": [0.2], "last": [0.1]})
    assert span_days(charts.headroom_chart(headroom, "day", THIRTY_DAYS)) == charts.MIN_SPAN_BUCKETS


def test_data_that_fill_the_period_keep_the_whole_period_and_a_few_days_are_all_shown():
    every_day = pd.date_range(THIRTY_DAYS[0], THIRTY_DAYS[1] - DAY, freq="D")
    frame = pd.DataFrame({"bucket": every_day, "model": "claude-sonnet-4-6", "cost_usd": 1.0})
    fig = charts.spend_by_model_chart(frame, "day", THIRTY_DAYS)
    assert tuple(fig.layout.xaxis.range) == THIRTY_DAYS
    ten_days = pd.DataFrame({"bucket": [B1 - 9 * DAY, B1], "model": "m", "cost_usd": 1.0})
    fig = charts.spend_by_model_chart(ten_days, "day", THIRTY_DAYS)
    start, end = (pd.Timestamp(x) for x in fig.layout.xaxis.range)
    assert span_days(fig) == 10 and start == pd.Timestamp(B1 - 9 * DAY).tz_localize(None)  # both bars, no more


def test_one_hour_of_data_on_an_hourly_axis_is_zoomed_to_hours():
    frame = pd.DataFrame({"bucket": [B1], "model": ["m"], "cost_usd": [0.5]})
    fig = charts.spend_by_model_chart(frame, "hour", (B1 - DAY, B1 + DAY))
    assert span_days(fig) * 24 == charts.MIN_SPAN_BUCKETS


def test_tokens_by_kind_has_the_five_kinds_in_order():
    frame = pd.DataFrame({"bucket": [B1] * 5, "kind": list(charts.TOKEN_LABELS), "tokens": [1, 2, 3, 4, 5]})
    fig = charts.tokens_by_kind_chart(frame, "hour")
    assert [t.name for t in fig.data] == ["uncached input", "cache write (5 min)", "cache write (1 hour)",
                                          "cache read", "output"]
    assert [list(t.y) for t in fig.data] == [[1], [2], [3], [4], [5]]


def test_hit_rate_leaves_buckets_without_caching_as_gaps():
    fig = charts.hit_rate_chart(pd.DataFrame({"bucket": [B1, B2], "hit_rate": [0.5, None]}))
    assert fig.data[0].connectgaps is False and pd.isna(fig.data[0].y[1]) and not fig.layout.annotations
    none = charts.hit_rate_chart(pd.DataFrame({"bucket": [B1], "hit_rate": [None]}))
    assert none.layout.annotations[0].text == "caching not used in this period"


def test_headroom_has_one_line_per_dimension_and_the_alert_line():
    frame = pd.DataFrame({"bucket": [B1, B1, B1], "dimension": ["requests", "input_tokens", "output_tokens"],
                          "peak": [0.2, 0.8, 0.1], "last": [0.1, 0.5, 0.1]})
    fig = charts.headroom_chart(frame)
    assert len(fig.data) == 3 and list(fig.data[1].y) == [0.8]
    (line,) = fig.layout.shapes
    assert line.y0 == line.y1 == 0.75 and fig.layout.annotations[0].text == "75% alert"


def test_latency_histogram_is_a_step_line_on_a_log_axis():
    hist = pd.DataFrame({"metric": ["latency", "latency", "ttft"], "lower_ms": [100.0, 125.9, 50.1],
                         "upper_ms": [125.9, 158.5, 63.1], "calls": [3, 5, 2]})
    fig = charts.latency_chart(hist)
    assert fig.layout.xaxis.type == "log" and len(fig.data) == 2
    assert list(fig.data[0].x) == [100.0, 125.9, 158.5] and list(fig.data[0].y) == [3, 5, 0]


def test_spend_by_feature_largest_on_top():
    frame = pd.DataFrame({"feature": ["extract", "summarize", "batch"], "cost_usd": [2.0, 5.0, 0.5],
                          "requests": [10, 20, 3]})
    fig = charts.spend_by_chart(frame, "feature", top=2)
    assert list(fig.data[0].y) == ["extract", "summarize"]  # plotly draws the last bar on top


def test_cost_per_outcome_leaves_out_totals_and_missing_ratios():
    frame = pd.DataFrame([["accepted CRM field", "claude-sonnet-4-6", 4, Decimal("0.03"), Decimal("0.0075")],
                          ["drafted email", "claude-sonnet-4-6", 0, Decimal("0.01"), None],
                          ["accepted CRM field", None, 4, Decimal("0.03"), Decimal("0.0075")]],
                         columns=["outcome", "model", "outcomes", "spend_usd", "cost_per_outcome"])
    fig = charts.cost_per_outcome_chart(frame)
    assert len(fig.data) == 1 and list(fig.data[0].x) == ["accepted CRM field"] and list(fig.data[0].y) == [0.0075]


def test_reconciliation_sums_models_per_day():
    frame = pd.DataFrame({"day": [date(2026, 11, 19)] * 2, "ours_usd": [Decimal(1), Decimal(2)],
                          "theirs_usd": [Decimal(1), Decimal("2.5")]})
    fig = charts.reconciliation_chart(frame)
    assert list(fig.data[0].y) == [3.0] and list(fig.data[1].y) == [3.5]


def test_every_chart_can_be_saved_as_png():
    config = charts.export_config("spend_by_model")
    assert config["toImageButtonOptions"] == {"format": "png", "filename": "scribe_spend_by_model", "scale": 2}


def test_pipeline_chart():
    frame = pd.DataFrame({"stage": ["lead", "demo"], "deals": [3, 1], "amount": [1000.0, 48000.0]})
    fig = charts.pipeline_chart(frame)
    assert list(fig.data[0].x) == ["lead", "demo"] and list(fig.data[0].customdata) == [1000.0, 48000.0]
