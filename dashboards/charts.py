"""The overview's small charts: daily trend, top categories, channel mix, level split. Frames in, figures out."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import plotly.graph_objects as go

from layers.filters import channel_lists
from layers.schema import CHANNELS

LEVEL_WORDS = {"community": "村社 community", "street": "街镇 street", "district": "区 district"}
_LAYOUT = dict(margin=dict(l=8, r=8, t=34, b=8), height=240, showlegend=False, plot_bgcolor="#fff",
               paper_bgcolor="#fff", font=dict(size=11))


def _titled(fig, title):
    fig.update_layout(title=dict(text=title, x=0.02, font=dict(size=13)), **_LAYOUT)
    return fig


def daily_trend(cases: pd.DataFrame) -> go.Figure:
    days = pd.to_datetime(cases["reported_at"]).dt.normalize().value_counts().sort_index()
    closed = pd.to_datetime(cases["closed_at"].dropna()).dt.normalize().value_counts().sort_index()
    fig = go.Figure([go.Scatter(x=days.index, y=days.values, name="受理 received", mode="lines",
                                line=dict(color="#1f3b73", width=1.5)),
                     go.Scatter(x=closed.index, y=closed.values, name="办结 closed", mode="lines",
                                line=dict(color="#38a169", width=1))])
    fig = _titled(fig, "每日受理与办结 Daily received / closed")
    fig.update_layout(showlegend=True, legend=dict(orientation="h", y=-0.15, x=0.5, xanchor="center", yanchor="top"),
                      margin=dict(l=8, r=8, t=34, b=40))
    return fig


def top_categories(cases: pd.DataFrame, n: int = 8) -> go.Figure:
    counts = cases["category"].value_counts()
    counts = counts[counts > 0].head(n).iloc[::-1]  # a categorical column counts absent categories as 0
    fig = go.Figure(go.Bar(x=counts.values, y=counts.index, orientation="h", marker_color="#dd6b20"))
    return _titled(fig, "高发类别 Top categories")


def channel_mix(cases: pd.DataFrame) -> go.Figure:
    """Cases per channel that reported them; a case two channels reported counts for both."""
    counts = Counter()
    for names, n in channel_lists(cases).value_counts().items():
        for name in names.split(";"):
            counts[name] += int(n)
    channels = pd.Series(counts, dtype=int).sort_values(ascending=False)
    labels = [CHANNELS.get(c, (c,))[0] for c in channels.index]
    fig = go.Figure(go.Bar(x=labels, y=channels.values, marker_color="#3182ce"))
    return _titled(fig, "渠道构成 Channel mix")


def level_split(cases: pd.DataFrame) -> go.Figure:
    closed = cases[cases["status"] == "closed"]
    counts = closed["level"].value_counts().reindex(list(LEVEL_WORDS), fill_value=0)
    fig = go.Figure(go.Bar(x=[LEVEL_WORDS[k] for k in counts.index], y=counts.values,
                           marker_color=["#38a169", "#d69e2e", "#e53e3e"]))
    return _titled(fig, "化解层级 Settled at (小事不出村·大事不出街·难事不出区)")
