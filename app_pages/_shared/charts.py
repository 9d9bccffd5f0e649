"""Plotly figures built from DataFrames. Never calls st.*: pages render what these return.

The usage figures take the small frames of `lib.usage.queries` (already aggregated in SQL); every
figure can be saved as a PNG from plotly's toolbar (`export_config`).
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

TOKEN_LABELS = {
    "uncached_input": "uncached input",
    "cache_write_5m": "cache write (5 min)",
    "cache_write_1h": "cache write (1 hour)",
    "cache_read": "cache read",
    "output": "output",
}
TOKEN_COLORS = {"uncached_input": "#4C78A8", "cache_write_5m": "#F58518", "cache_write_1h": "#E45756",
                "cache_read": "#54A24B", "output": "#B279A2"}
DIMENSION_LABELS = {"requests": "requests / min", "input_tokens": "input tokens / min",
                    "output_tokens": "output tokens / min"}
ALERT_SHARE = 0.75  # the headroom chart's alert line
_HEIGHT = 320


PERIOD_MS = {"hour": 3_600_000, "day": 86_400_000, "week": 7 * 86_400_000}


MIN_SPAN_BUCKETS = 7  # a zoomed axis shows at least this many buckets, so one bar is not a wall
ZOOM_BELOW = 0.5  # data covering less than this share of the filtered period: the axis zooms to the data


def _buckets_of(fig: go.Figure) -> list[pd.Timestamp]:
    return [pd.Timestamp(x) for trace in fig.data for x in (trace.x if trace.x is not None else ())
            if x is not None and not pd.isna(x)]


def x_range_for(buckets: list, bucket: str, period: tuple | None) -> tuple | None:
    """The time axis: the filtered period, unless the data fills little of it (one day of 30); then the data,
    centred, widened to at least MIN_SPAN_BUCKETS buckets, so a lone bar sits in the middle, readable."""
    if not buckets:
        return period
    step = pd.Timedelta(milliseconds=PERIOD_MS[bucket])
    first, last = min(buckets), max(buckets) + step  # buckets are their start: the last one ends a step later
    if period is not None:
        start, end = pd.Timestamp(period[0]), pd.Timestamp(period[1])
        if (last - first) >= (end - start) * ZOOM_BELOW:
            return period
    widen = max(step * MIN_SPAN_BUCKETS - (last - first), pd.Timedelta(0)) / 2
    return first - widen, last + widen


def _time_axis(fig: go.Figure, bucket: str, x_range: tuple | None) -> go.Figure:
    """Bars span their whole bucket (so one bar is a day wide, not a sliver of milliseconds); points sit
    in the middle of theirs; the axis shows the filtered period, or zooms to data that fill little of it."""
    period = PERIOD_MS[bucket]
    fig.update_traces(width=period * 0.8, offset=period * 0.1, selector={"type": "bar"})  # x = bucket start
    fig.update_traces(xperiod=period, xperiodalignment="middle", selector={"type": "scatter"})
    fig.update_xaxes(type="date")
    shown = x_range_for(_buckets_of(fig), bucket, x_range)
    if shown is not None:
        fig.update_xaxes(range=[shown[0], shown[1]])
    return fig


def export_config(name: str) -> dict:
    """The plotly config for st.plotly_chart: a PNG download button named after the chart."""
    return {"displaylogo": False,
            "toImageButtonOptions": {"format": "png", "filename": f"scribe_{name}", "scale": 2}}


def _layout(fig: go.Figure, *, y_title: str, y_format: str | None = None, height: int = _HEIGHT) -> go.Figure:
    fig.update_layout(height=height, margin={"l": 10, "r": 10, "t": 30, "b": 10}, yaxis_title=y_title,
                      legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
                      hovermode="x unified")
    if y_format:
        fig.update_yaxes(tickformat=y_format)
    return fig


def spend_by_model_chart(frame: pd.DataFrame, bucket: str, x_range: tuple | None = None) -> go.Figure:
    """Known spend per time bucket, stacked by model. Columns: bucket, model, cost_usd."""
    fig = go.Figure()
    for model, part in frame.groupby("model", sort=True):
        fig.add_bar(x=part["bucket"], y=part["cost_usd"], name=str(model),
                    hovertemplate=f"{model}: $%{{y:,.4f}}<extra></extra>")
    fig.update_layout(barmode="stack", showlegend=True)  # the model's name, even when there is one
    return _time_axis(_layout(fig, y_title=f"USD per {bucket}", y_format="$,.4~f"), bucket, x_range)


def tokens_by_kind_chart(frame: pd.DataFrame, bucket: str, x_range: tuple | None = None) -> go.Figure:
    """Tokens per time bucket, stacked by kind. Columns: bucket, kind, tokens (long)."""
    fig = go.Figure()
    for kind, label in TOKEN_LABELS.items():
        part = frame[frame["kind"] == kind]
        fig.add_bar(x=part["bucket"], y=part["tokens"], name=label, marker_color=TOKEN_COLORS[kind],
                    hovertemplate=f"{label}: %{{y:,}}<extra></extra>")
    fig.update_layout(barmode="stack")
    return _time_axis(_layout(fig, y_title=f"tokens per {bucket}", y_format=","), bucket, x_range)


def hit_rate_chart(series: pd.DataFrame, bucket: str = "day", x_range: tuple | None = None) -> go.Figure:
    """Token-weighted cache-hit rate per bucket; buckets without caching are gaps, not 0 %."""
    fig = go.Figure(go.Scatter(x=series["bucket"], y=series["hit_rate"], mode="lines+markers",
                               name="cache-hit rate", connectgaps=False, line={"color": TOKEN_COLORS["cache_read"]},
                               hovertemplate="%{y:.1%} of prompt tokens read from the cache<extra></extra>"))
    if series["hit_rate"].isna().all():
        fig.add_annotation(text="caching not used in this period", showarrow=False, xref="paper", yref="paper",
                           x=0.5, y=0.5)
    fig.update_yaxes(range=[0, 1.02])
    return _time_axis(_layout(fig, y_title="cache reads / prompt tokens", y_format=".0%"), bucket, x_range)


def headroom_chart(frame: pd.DataFrame, bucket: str = "day", x_range: tuple | None = None) -> go.Figure:
    """Rate-limit used share (1 - remaining / limit) per dimension: the bucket's peak, with the 75 % line.

    Columns: bucket, dimension, peak, last.
    """
    fig = go.Figure()
    for dim, label in DIMENSION_LABELS.items():
        part = frame[frame["dimension"] == dim]
        if part.empty:
            continue
        fig.add_scatter(x=part["bucket"], y=part["peak"], mode="lines+markers", name=f"{label} (peak)",
                        hovertemplate=f"{label}: %{{y:.0%}} of the limit used<extra></extra>")
    fig.add_hline(y=ALERT_SHARE, line_dash="dash", line_color="#E45756",
                  annotation_text="75% alert", annotation_position="top left")
    fig.update_yaxes(range=[0, 1.05])
    return _time_axis(_layout(fig, y_title="share of the limit used", y_format=".0%"), bucket, x_range)


def latency_chart(histogram: pd.DataFrame) -> go.Figure:
    """Latency and TTFT distributions of successful calls (log-scale bins, as steps).

    Columns: metric (latency | ttft), lower_ms, upper_ms, calls.
    """
    fig = go.Figure()
    names = {"latency": "latency (whole call)", "ttft": "time to first token"}
    for metric, name in names.items():
        part = histogram[histogram["metric"] == metric].sort_values("lower_ms")
        if part.empty:
            continue
        x = [*part["lower_ms"], part["upper_ms"].iloc[-1]]
        y = [*part["calls"], 0]
        fig.add_scatter(x=x, y=y, mode="lines", line_shape="hv", fill="tozeroy", name=name,
                        hovertemplate=f"{name}: %{{y:,}} calls from %{{x:,.0f}} ms<extra></extra>")
    fig.update_xaxes(type="log", title="milliseconds (log scale)")
    fig.update_layout(hovermode="closest")
    return _layout(fig, y_title="calls")


def spend_by_chart(frame: pd.DataFrame, column: str, top: int = 15) -> go.Figure:
    """Known spend per feature or per user, largest first (horizontal bars). Columns: <column>, cost_usd."""
    part = frame.nlargest(top, "cost_usd").iloc[::-1]
    fig = go.Figure(go.Bar(x=part["cost_usd"], y=part[column].astype(str), orientation="h",
                           customdata=part["requests"],
                           hovertemplate="%{y}: $%{x:,.4f} over %{customdata:,} requests<extra></extra>",
                           marker_color="#4C78A8"))
    fig = _layout(fig, y_title="", height=max(_HEIGHT // 2, 28 * len(part) + 60))
    fig.update_xaxes(tickformat="$,.4~f")
    fig.update_layout(hovermode="closest")
    return fig


def cost_per_outcome_chart(outcomes: pd.DataFrame) -> go.Figure:
    """Cost per outcome per model, grouped by outcome. Columns: outcome, model, outcomes, cost_per_outcome."""
    per_model = outcomes[outcomes["model"].notna() & outcomes["cost_per_outcome"].notna()]
    fig = go.Figure()
    for model, part in per_model.groupby("model", sort=True):
        fig.add_bar(x=part["outcome"], y=part["cost_per_outcome"].astype(float), name=str(model),
                    customdata=part["outcomes"],
                    hovertemplate=f"{model}: $%{{y:,.4f}} each (%{{customdata:,}} outcomes)<extra></extra>")
    fig.update_layout(barmode="group", hovermode="closest")
    return _layout(fig, y_title="USD per outcome", y_format="$,.4~f")


def reconciliation_chart(frame: pd.DataFrame) -> go.Figure:
    """Our cost beside Anthropic's, per day. Columns: day, ours_usd, theirs_usd."""
    per_day = frame.groupby("day", as_index=False)[["ours_usd", "theirs_usd"]].sum()
    fig = go.Figure()
    fig.add_bar(x=per_day["day"], y=per_day["ours_usd"].astype(float), name="Scribe's log",
                hovertemplate="ours: $%{y:,.4f}<extra></extra>")
    fig.add_bar(x=per_day["day"], y=per_day["theirs_usd"].astype(float), name="Anthropic's cost report",
                hovertemplate="Anthropic: $%{y:,.4f}<extra></extra>")
    fig.update_layout(barmode="group")
    return _layout(fig, y_title="USD per day", y_format="$,.4~f")


def pipeline_chart(frame: pd.DataFrame) -> go.Figure:
    """Deals per pipeline stage (bars) with their total amount (hover). Columns: stage, deals, amount."""
    fig = go.Figure(go.Bar(
        x=frame["stage"], y=frame["deals"], customdata=frame["amount"],
        hovertemplate="%{x}: %{y} deal(s), $%{customdata:,.0f}<extra></extra>", marker_color="#4C78A8"))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="deals")
    return fig
