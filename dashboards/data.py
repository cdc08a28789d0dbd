"""The overview's view model: its tiles, its map and its charts for a filter, and what names its area."""

from __future__ import annotations

import pandas as pd

from dashboards import charts
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.cache import CACHE
from dashboards.figures import case_map, cells_geojson
from dashboards.geo import geojson_url, read_places
from dashboards.i18n import say
from dashboards.map_views import POINT_LIMIT, Sketch, draw_views
from dashboards.selection import filtered_cases, standings, view_cases, view_rows, view_visits
from layers import counted, tallies
from layers.areas import Area, area_places, district_extent, district_names
from layers.arrivals import arrived_since
from layers.errors import StoreError
from layers.filters import CaseFilter, channel_counts, tally
from layers.kpis import compute_kpis, filtered_kpis, setback_summary, street_code_for
from layers.users import record_look
from layers.views import count_per_cell, counted_per_cell


def view_data(store, f: CaseFilter, *, as_of=None, layers=("cases",), measure="cases", outline_colour=None,
              basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """The overview's tiles and map (with the chosen layers) for one filter; the charts are :func:`chart_data`.

    A view of a store the server does not hold, keeping more cases than it reads, is counted by the store
    (``layers.counted``): the same tiles and cells; the layers that need each case (points, blind spots,
    priorities) wait for a narrower view and say so (``not_drawn``).

    As of now, a view is made once per version of the store's layers and reused for a few seconds
    (``CACHE.answer``): the walls of one area, a screen refreshing, people on the default view. Shared by
    those requests, so not to be changed in place. The view's cases are :func:`view_cases`'.
    """
    if as_of is not None:
        return _view_data(store, f, as_of=as_of, layers=layers, measure=measure, outline_colour=outline_colour,
                          basemap=basemap, lang=lang)
    key = ("view", f, tuple(layers), measure, outline_colour, basemap, lang)
    return CACHE.answer(store, key, lambda: _view_data(store, f, layers=layers, measure=measure,
                                                       outline_colour=outline_colour, basemap=basemap, lang=lang))


def _view_data(store, f: CaseFilter, *, as_of=None, layers=("cases",), measure="cases", outline_colour=None,
               basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    # A view counted case by case needs no copy of its cases: the tiles and cells are counted over the held copy
    # under the view's mask. Its cases are copied out for a layer drawn case by case, and for the points of a
    # view few enough to show them.
    each_case = bool(set(layers) - {"cases"})
    cases = None
    if CACHE.holds_cases(store) and not each_case:
        every, rows = view_rows(store, f, as_of=as_of)
        kpis = tallies.kpis(every, standings(store), rows, view_visits(store, f), start=f.start, end=f.end,
                            as_of=as_of)
        cells = counted_per_cell(tally(every["grid_cell"], rows), read_places(store, f, "grid_cells"))
        if "cases" in layers and len(every if rows is None else rows) <= POINT_LIMIT:
            cases = view_cases(store, f, as_of=as_of)[0]
    elif (found := view_cases(store, f, as_of=as_of)) is not None:
        cases, sources = found
        kpis = compute_kpis(cases, sources, start=f.start, end=f.end, as_of=as_of)
        kpis["all"] = filtered_kpis(cases, as_of=as_of)
        cells = count_per_cell(cases, read_places(store, f, "grid_cells"))
    else:
        # Counted to the minute: the overdue tiles move with the clock, and walls of one view share a count.
        moment = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now().floor("min")
        kpis = dict(CACHE.recent(store, ("counted-kpis", f, moment), lambda: counted.kpis(store, f, as_of=moment)))
        per_cell = CACHE.recent(store, ("counted-cells", f), lambda: counted.per_cell(store, f))
        cells = counted_per_cell(per_cell, read_places(store, f, "grid_cells"))
    kpis["setback_areas"] = setback_summary(read_places(store, f.narrowed(community_code=None, grid_cell=None),
                                                        "setback_areas"), street_code=f.street_code)
    extent = district_extent(CACHE.layer(store, "district"))
    shapes = CACHE.derived_layer(store, "grid_cells", (basemap.datum, tuple(cells["grid_cell"])),
                                 lambda: cells_geojson(basemap.shift(cells)))
    figure = case_map(cells, cells_geojson=shapes, basemap=basemap,
                      outlines={layer: geojson_url(store, layer) for layer in ("communities", "streets")},
                      measure=measure, outline_colour=outline_colour, lang=lang,
                      place=f.grid_cell or f.community_code or f.street_code or "", extent=extent)
    sketch = Sketch(store, f, cases, cells, measure, as_of, basemap, lang, extent)
    draw_views(figure, layers, sketch)
    points_shown = "cases" in layers and cases is not None and len(cases) <= POINT_LIMIT
    return {
        "kpis": kpis,
        "map": figure,
        "points_shown": points_shown,
        "not_drawn": list(sketch.not_drawn),
    }


def since_last_look(store, user_name: str, area: Area, page: str = "overview") -> tuple:
    """(when the person last opened the page, cases that arrived in their area since); the look is noted.

    (None, 0) the first time, or while the store does not answer (the page still shows what is held) or
    takes no writes (the look is a write: the page would wait for it to fail).
    """
    if CACHE.writes_paused_since(store) is not None:
        return None, 0
    try:
        since = record_look(store, user_name, page)
    except StoreError:
        return None, 0
    if since is None:
        return None, 0
    if not CACHE.holds_cases(store):
        return since, counted.arrived_since(store, CaseFilter(area=area), since)
    return since, arrived_since(filtered_cases(store, CaseFilter(area=area))[0], since)


def chart_data(cases: pd.DataFrame, lang: str = "zh") -> dict:
    """The overview's small charts of the filtered cases: daily trend, top categories, channel mix, level split."""
    return {"trend": charts.daily_trend(cases, lang), "categories": charts.top_categories(cases, lang=lang),
            "channels": charts.channel_mix(cases, lang), "levels": charts.level_split(cases, lang)}


def view_charts(store, f: CaseFilter, lang: str = "zh") -> dict:
    """:func:`chart_data` of a filter's view: counted over the held cases under its mask, of the cases read for it
    (a narrow view of a store not held), or counted by the store (a wide one)."""
    if CACHE.holds_cases(store):
        every, rows = view_rows(store, f)
        standing = standings(store)
        return {"trend": charts.daily_trend_of(tallies.per_day(standing.reported_day, rows),
                                               tallies.per_day(standing.closed_day, rows), lang),
                "categories": charts.top_categories_of(tally(every["category"], rows), lang=lang),
                "channels": charts.channel_mix_of(channel_counts(every, rows), lang),
                "levels": charts.level_split_of(tallies.closed_per_level(standing, rows), lang)}
    found = view_cases(store, f)
    if found is not None:
        return chart_data(found[0], lang)
    return CACHE.recent(store, ("charts", f, lang), lambda: {
        "trend": charts.daily_trend_of(counted.received_per_day(store, f), counted.closed_per_day(store, f), lang),
        "categories": charts.top_categories_of(counted.per_category(store, f), lang=lang),
        "channels": charts.channel_mix_of(counted.per_channel(store, f), lang),
        "levels": charts.level_split_of(counted.closed_per_level(store, f), lang)})


def district_title(store, lang: str = "zh") -> str:
    """The product's title for the district in the store: 江北区社会治理一张图, or Jiangbei one map."""
    zh, en = district_names(CACHE.layer(store, "district"))
    return f"{en} one map" if lang == "en" else f"{zh}社会治理一张图"


def area_title(store, area: Area, lang: str = "zh") -> str:
    """What a person calls an area: 江北区, a street's or a community's name, or a community's cells."""
    if area.kind == "district":
        zh, en = district_names(CACHE.layer(store, "district"), area.codes[0] if area.codes else None)
        return say(f"{zh} 全区", f"Whole {en}" if en != zh else "Whole district", lang)
    names = "、".join(area_places(area, lambda layer: CACHE.layer(store, layer)))
    if area.kind == "cells":
        return f"{names} " + (f"{len(area.codes)} grid cells" if lang == "en" else f"{len(area.codes)}个网格")
    return names


def unreachable_banner(store, lang: str = "zh") -> str:
    """The banner over a page served from what the server holds while the store does not answer; or ""."""
    since = CACHE.unreachable_since(store)
    if since is None:
        return ""
    return say(f"数据源暂时无法连接，显示的是 {since:%Y-%m-%d %H:%M:%S} 的数据",
               f"Store unreachable, showing data of {since:%Y-%m-%d %H:%M:%S}", lang, sep=" · ")


def paused_banner(store, lang: str = "zh") -> str:
    """The banner over a page served from a read replica while the primary takes no writes; or ""."""
    since = CACHE.writes_paused_since(store)
    if since is None:
        return ""
    return say(f"数据录入暂停：主库自 {since:%Y-%m-%d %H:%M:%S} 起不可用，当前显示只读副本数据",
               f"Intake paused: the primary store has been down since {since:%Y-%m-%d %H:%M:%S}; showing the read replica",
               lang, sep=" · ")


def store_banner(store, lang: str = "zh") -> str:
    """What a page says of its store above what it shows: unreachable (what is shown is as of then), else
    intake paused (what is shown is current, nothing new comes in); or ""."""
    return unreachable_banner(store, lang) or paused_banner(store, lang)


def overview_data(store, *, start, end, street=None):
    """KPIs and the case map for one period and (optionally) one street."""
    data = view_data(store, CaseFilter(start=start, end=end, street_code=street_code_for(store, street)))
    return data["kpis"], data["map"]
