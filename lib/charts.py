"""Plotly figures built from DataFrames. Never calls st.*: pages render what these return."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go


def pipeline_chart(frame: pd.DataFrame) -> go.Figure:
    """Deals per pipeline stage (bars) with their total amount (hover). Columns: stage, deals, amount."""
    fig = go.Figure(go.Bar(
        x=frame["stage"], y=frame["deals"], customdata=frame["amount"],
        hovertemplate="%{x}: %{y} deal(s), $%{customdata:,.0f}<extra></extra>", marker_color="#4C78A8"))
    fig.update_layout(height=300, margin={"l": 10, "r": 10, "t": 10, "b": 10}, yaxis_title="deals")
    return fig
