"""What just arrived in the area a screen shows, as the wall's and the overview's ticker draw it."""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboards.cache import CACHE
from dashboards.geo import read_places
from dashboards.i18n import only, say
from dashboards.selection import view_rows
from layers import counted
from layers.arrivals import LATEST, fell_overdue, latest
from layers.brief import hotspot_changes
from layers.filters import CaseFilter
from layers.glossary import channel_names
from layers.schema import stored_time

# The cells that became hot are found again every HOT_EVERY, not at each write: one more case in a week of them
# seldom moves a cell's Gi* (50 ms over a million cases, at each wall's refresh under a stream of cases).
HOT_EVERY = "5min"
HOT_FROM = ("grid_cells", "epoch:cases")
# What the ticker reads of the area's cases: 7 of the held copy's 26 columns (a street's, copied at every write).
READ = ["reported_at", "category", "channel", "community_code", "grid_cell", "due_at", "status"]


def arrivals(store, f: CaseFilter, now) -> dict:
    """What just arrived in the view's area (whatever its period): the latest cases, cases that fell overdue
    in the last day, and cells that became hot in the rolling seven days (as the daily brief finds them)."""
    scope = CaseFilter(area=f.area, district_code=f.district_code, street_code=f.street_code)
    now = pd.Timestamp(now)
    if not CACHE.holds_cases(store):
        return _counted(store, scope, now)
    every = CACHE.recent(store, ("arrivals", scope), lambda: _area_cases(store, scope))

    def hot():
        lately = every[(every["reported_at"] >= stored_time(now - pd.Timedelta(days=14))).to_numpy()]
        if lately.empty:
            return []
        changes = hotspot_changes(lately, read_places(store, scope, "grid_cells"), now)
        return list(changes.loc[changes["change"] == "new", "name"])
    return {"latest": latest(every, CACHE.layer(store, "communities")), "overdue": fell_overdue(every, now),
            "hot": CACHE.lasting(store, HOT_FROM, ("became-hot", scope, now.floor(HOT_EVERY)), hot)}


def _area_cases(store, scope: CaseFilter) -> pd.DataFrame:
    every, rows = view_rows(store, scope)
    return every[READ] if rows is None else every[READ].iloc[rows]


def _counted(store, scope: CaseFilter, now) -> dict:
    """:func:`arrivals` asked of a store the server does not hold: the latest cases read, the rest counted (the
    week's hot cells from the counts per cell and day, so by the day of report rather than the hour)."""
    def hot():
        days = counted.per_cell_day(store, scope.narrowed(start=(now - pd.Timedelta(days=14)).date(), end=now.date()))
        if days.empty:
            return []
        changes = hotspot_changes(counted.as_reports(days), read_places(store, scope, "grid_cells"),
                                  now.normalize() + pd.Timedelta(days=1))
        return list(changes.loc[changes["change"] == "new", "name"])
    newest = counted.latest(store, scope, LATEST)
    return {"latest": latest(newest, CACHE.layer(store, "communities")),
            "overdue": counted.fell_overdue(store, scope, now),
            "hot": CACHE.lasting(store, HOT_FROM, ("became-hot", scope, now.floor(HOT_EVERY)), hot)}


def ticker(found: dict, lang: str = "zh", *, prefix: str = "wall") -> list:
    """A screen's line of what just arrived: each case as time · category · place · channel (no personal data)."""
    # The counts first: on a narrow screen the line is cut after two rows, and they must stay.
    items = [html.Span(className="ticker-count", id=f"{prefix}-new-overdue",
                       children=f"{say('今日新增超期', 'Fell overdue today', lang)} {found['overdue']}")]
    if found["hot"]:
        items.append(html.Span(className="ticker-count ticker-hot",
                               children=f"{say('新热点网格', 'New hot cells', lang)} {'、'.join(found['hot'][:5])}"))
    items.append(html.Span(say("刚刚到达", "Just arrived", lang), className="ticker-label"))
    for case in found["latest"]:
        place = " ".join(p for p in (case["community"], case["grid_cell"]) if p)
        channel = channel_names(case["channel"])
        items.append(html.Span(className="ticker-case", children=[
            html.B(f"{case['reported_at']:%m-%d %H:%M}"), f" {case['category']} · {place} · {only(channel, lang)}"]))
    if not found["latest"]:
        items.append(html.Span(say("暂无", "none yet", lang), className="ticker-case"))
    return items
