"""The overview's small charts: daily trend, top categories, channel mix, level split.

Frames in, Plotly figures out as plain dicts (what Dash sends anyway).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.figures import nice_step
from dashboards.i18n import pick, say
from layers.filters import channel_counts, tally
from layers.glossary import LEVEL_LABELS, channel_names
from layers.tallies import day_numbers, per_day

# The axes make room for their own labels (automargin): with fixed margins a category's name was cut to
# its first character and a count to its last digit.
_LAYOUT = dict(margin=dict(l=8, r=12, t=34, b=8), height=240, showlegend=False, plot_bgcolor="#fff",
               paper_bgcolor="#fff", font=dict(size=11))


def _figure(traces: list, title: str, lang: str, *, counts: str = "y") -> dict:
    """A chart whose ``counts`` axis ("x" or "y") counts cases: from 0, in whole numbers."""
    # Plain dicts, not plotly objects: building and checking these is most of a filter change's time.
    top = max((max(t[counts], default=0) for t in traces), default=0)
    axes = {"xaxis": {"automargin": True}, "yaxis": {"automargin": True}}
    axes[f"{counts}axis"].update(rangemode="tozero", tick0=0, dtick=nice_step(top), tickformat=",d")
    layout = {"title": {"text": title, "x": 0.02, "font": {"size": 13}}, **_LAYOUT, **axes}
    if not top:  # an empty month says so, instead of an empty frame
        layout["annotations"] = [{"text": say("本时段无案件", "No cases in this view", lang),
                                  "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5,
                                  "font": {"size": 13, "color": "#718096"}}]
    return {"data": traces, "layout": layout}


def _trace(kind: str, **properties) -> dict:
    return {"type": kind, **properties}


def _days(counts: pd.Series) -> list[str]:
    return np.datetime_as_string(counts.index.to_numpy("datetime64[D]"), unit="D").tolist()


def daily_trend(cases: pd.DataFrame, lang: str = "zh") -> dict:
    return daily_trend_of(per_day(day_numbers(cases["reported_at"])), per_day(day_numbers(cases["closed_at"])), lang)


def daily_trend_of(days: pd.Series, closed: pd.Series, lang: str = "zh") -> dict:
    """The daily trend from cases already counted per day received and per day closed."""
    fig = _figure([_trace("scatter", x=_days(days), y=days.to_numpy().tolist(), name=say("受理", "received", lang),
                          mode="lines", line=dict(color="#1f3b73", width=1.5)),
                   _trace("scatter", x=_days(closed), y=closed.to_numpy().tolist(), name=say("办结", "closed", lang),
                          mode="lines", line=dict(color="#38a169", width=1))],
                  say("每日受理与办结", "Daily received / closed", lang), lang)
    fig["layout"].update(showlegend=True, margin=dict(l=8, r=8, t=34, b=40),
                         legend=dict(orientation="h", y=-0.15, x=0.5, xanchor="center", yanchor="top"))
    return fig


def top_categories(cases: pd.DataFrame, n: int = 8, lang: str = "zh") -> dict:
    return top_categories_of(tally(cases["category"]), n, lang)


def top_categories_of(per_category: pd.Series, n: int = 8, lang: str = "zh") -> dict:
    """The top categories from cases already counted per category, largest first."""
    counts = per_category.head(n).iloc[::-1]
    return _figure([_trace("bar", x=counts.to_numpy().tolist(), y=[str(c) for c in counts.index], orientation="h",
                           marker=dict(color="#dd6b20"))], say("高发类别", "Top categories", lang), lang, counts="x")


def channel_mix(cases: pd.DataFrame, lang: str = "zh") -> dict:
    """Cases per channel that reported them; a case two channels reported counts for both."""
    return channel_mix_of(channel_counts(cases), lang)


def channel_mix_of(per_channel, lang: str = "zh") -> dict:
    """The channel mix from cases already counted per channel (``Counter``)."""
    channels = pd.Series(per_channel, dtype=int).sort_values(ascending=False)
    labels = [channel_names(c)[1 if lang == "en" else 0] for c in channels.index]
    return _figure([_trace("bar", x=labels, y=channels.to_numpy().tolist(), marker=dict(color="#3182ce"))],
                   say("渠道构成", "Channel mix", lang), lang)


def level_split(cases: pd.DataFrame, lang: str = "zh") -> dict:
    closed = (cases["status"] == "closed").to_numpy(dtype=bool)
    return level_split_of(tally(cases["level"], closed), lang)


def level_split_of(closed_per_level: pd.Series, lang: str = "zh") -> dict:
    """Where the closed cases were settled, from them already counted per level."""
    counts = closed_per_level.reindex(list(LEVEL_LABELS), fill_value=0)
    return _figure([_trace("bar", x=[pick(LEVEL_LABELS[k], lang) for k in counts.index], y=counts.to_numpy().tolist(),
                           marker=dict(color=["#38a169", "#d69e2e", "#e53e3e"]))],
                   say("化解层级", "Settled at level", lang), lang)
