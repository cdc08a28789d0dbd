"""What each page shows for a filter: plain functions over a store, called by thin callbacks."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboards import charts
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.cache import CACHE
from dashboards.figures import (add_blind_spots, add_catalogue_layer, add_change, add_emerging, add_heat, add_hotspots,
                                add_layers, add_priority, case_map, cells_geojson)
from dashboards.geo import geojson_url
from dashboards.i18n import only, say
from gis.datums import STORAGE_CRS
from gis.heat import Heat, kernel_density, to_metric
from layers.analysis import (baseline_windows, blind_spot_layer, cell_change, emerging_cells, hotspot_cells,
                             priority_layer)
from layers.areas import DISTRICT, Area, area_places
from layers.catalogue import CATALOGUE
from layers.filters import CaseFilter
from layers.kpis import compute_kpis, filtered_kpis, setback_summary, street_code_for
from layers.schema import CHANNELS
from layers.store import Condition, matches, period_filter
from layers.views import count_per_cell

# The case table's columns: (field, 中文, English).
TABLE_COLUMNS = [("case_id", "编号", "Case"), ("reported_at", "受理时间", "Reported"), ("category", "类别", "Category"),
                 ("channels", "渠道", "Channels"), ("status", "状态", "Status"), ("level", "层级", "Level"),
                 ("responsible_unit", "责任单位", "Responsible unit"), ("due_at", "期限", "Due"),
                 ("address", "地址", "Address")]
STATUS_WORDS = {"reported": ("呼 已受理", "reported"), "dispatched": ("分 已派单", "dispatched"),
                "coordinated": ("联 协调中", "coordinated"), "closed": ("销 已办结", "closed")}
LEVEL_WORDS = {"community": ("村社", "community"), "street": ("街镇", "street"), "district": ("区", "district")}


DEFAULT_SORT = [{"column_id": "reported_at", "direction": "desc"}]

# Above this many cases in view the map shows cells only: no more dots than a person can read.
POINT_LIMIT = 3000
# The map's views drawn their own way, and the catalogue layer each shows (what an export of the view takes).
MAP_VIEWS = {"heat": None, "cases": "cases", "setback_areas": "setback_areas", "estates": "estates",
             "components": "components", "hotspots": "hotspots", "emerging": "emerging_hotspots",
             "blind_spots": "blind_spots", "change": "change", "priority": "priorities"}
# Under every view: the map's base, not a choice.
BASE_LAYERS = ("streets", "communities", "grid_cells")
_VIEW_TITLES = {"heat": ("案件热力", "Case heat"), "cases": ("案件点", "Case points"),
                "change": ("同比变化", "Change on last year")}


def map_layers() -> dict[str, tuple[str, str]]:
    """The layers the map can switch on, with their titles: its own views, then every other catalogue
    layer (drawn in the catalogue's style), so a layer added to the catalogue is on the map too."""
    views = {key: _VIEW_TITLES.get(key) or CATALOGUE[name].title for key, name in MAP_VIEWS.items()}
    return {**views, **{name: layer.title for name, layer in CATALOGUE.items()
                        if name not in MAP_VIEWS.values() and name not in BASE_LAYERS}}


def catalogue_names(keys) -> list[str]:
    """The catalogue layers that the map's layer keys show."""
    return [name for name in (MAP_VIEWS.get(key, key) for key in keys) if name in CATALOGUE]


def view_data(store, f: CaseFilter, *, as_of=None, layers=("cases",), measure="cases", outline_colour=None,
              basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """The overview's tiles and map (with the chosen layers) for one filter; the charts are :func:`chart_data`."""
    cases, sources = filtered_cases(store, f, as_of=as_of)
    kpis = compute_kpis(cases, sources, start=f.start, end=f.end, as_of=as_of)
    kpis["all"] = filtered_kpis(cases, as_of=as_of)
    kpis["setback_areas"] = setback_summary(read_places(store, f.narrowed(community_code=None, grid_cell=None),
                                                        "setback_areas"), street_code=f.street_code)
    cells = count_per_cell(cases, read_places(store, f, "grid_cells"))
    shapes = CACHE.derived_layer(store, "grid_cells", (basemap.datum, tuple(cells["grid_cell"])),
                                 lambda: cells_geojson(basemap.shift(cells)))
    figure = case_map(cells, cells_geojson=shapes, basemap=basemap,
                      outlines={layer: geojson_url(store, layer) for layer in ("communities", "streets")},
                      measure=measure, outline_colour=outline_colour, lang=lang,
                      place=f.grid_cell or f.community_code or f.street_code or "")
    if "heat" in layers:
        add_heat(figure, case_heat(cases, cells), basemap=basemap, lang=lang)
    rate = "per_1000" if measure == "per_1000" else "cases"
    if "hotspots" in layers:
        add_hotspots(figure, hotspot_cells(cases, cells, measure=rate), basemap=basemap, lang=lang)
    if "emerging" in layers:
        add_emerging(figure, emerging_cells(cases, cells, start=f.start, end=f.period_end(), measure=rate),
                     basemap=basemap, lang=lang)
    if "blind_spots" in layers:
        add_blind_spots(figure, blind_spot_layer(store, f, cases=cases), basemap=basemap, lang=lang)
    if "change" in layers and f.start and f.end:
        before = [filtered_cases(store, f.narrowed(start=a, end=b), as_of=as_of)[0]
                  for a, b in baseline_windows(f.start, f.end)]
        add_change(figure, cell_change(cases, before, cells), basemap=basemap, lang=lang)
    if "priority" in layers:
        add_priority(figure, priority_layer(store, f, measure=rate, cases=cases), basemap=basemap, lang=lang)
    for key in layers:
        if key not in MAP_VIEWS and key in CATALOGUE:
            layer = CATALOGUE[key]
            add_catalogue_layer(figure, layer, layer.query(store, f), basemap=basemap, lang=lang)
    points_shown = "cases" in layers and len(cases) <= POINT_LIMIT
    add_layers(figure, points=as_points(cases) if points_shown else None, basemap=basemap, lang=lang,
               **{layer: read_places(store, f, layer) if layer in layers else None
                  for layer in ("setback_areas", "estates", "components")})
    return {
        "kpis": kpis,
        "map": figure,
        "points_shown": points_shown,
        "cases": cases,
    }


def chart_data(cases: pd.DataFrame, lang: str = "zh") -> dict:
    """The overview's small charts of the filtered cases: daily trend, top categories, channel mix, level split."""
    return {"trend": charts.daily_trend(cases, lang), "categories": charts.top_categories(cases, lang=lang),
            "channels": charts.channel_mix(cases, lang), "levels": charts.level_split(cases, lang)}


def as_points(cases: pd.DataFrame) -> gpd.GeoDataFrame:
    """The located cases of the server's copy (plain lon/lat there) as points to draw."""
    located = cases[cases["lon"].notna()]
    return gpd.GeoDataFrame(located, geometry=gpd.points_from_xy(located["lon"], located["lat"]), crs=STORAGE_CRS)


def case_heat(cases: pd.DataFrame, cells) -> Heat:
    """Kernel density of the located cases over the cells in view (bandwidth 300 m, about 400 pixels across)."""
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else (121.35, 29.85, 121.65, 30.06)
    xs, ys = to_metric([minx, maxx], [miny, maxy])
    bounds = (min(xs), min(ys), max(xs), max(ys))
    cell_m = max(25.0, max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 400)
    located = np.isfinite(cases["x_m"].to_numpy())
    return kernel_density(cases["x_m"].to_numpy()[located], cases["y_m"].to_numpy()[located], bounds,
                          cell_m=cell_m)


def filtered_cases(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases the filter keeps, from the server's copy of the store, and the walk-in visits behind them."""
    every_case, visits = CACHE.cases(store)
    if as_of is not None:
        return _select(every_case, visits, f, f.mask(every_case, as_of=as_of))
    return CACHE.recent(store, ("cases", f), lambda: _select(every_case, visits, f, kept(store, f)))


def kept(store, f: CaseFilter) -> np.ndarray:
    """Which of the server's copy of the cases the filter keeps, as of now."""
    return CACHE.recent(store, ("mask", f), lambda: f.mask(CACHE.cases(store)[0]))


def _select(every_case, visits, f, chosen):
    cases = every_case if chosen.all() else every_case.iloc[np.flatnonzero(chosen)]
    visits = visits[matches(visits, period_filter(f.start, f.end))]
    # A visit in the period counts where its case is in the filter's area and kinds, whenever the case
    # was opened: a second visit about last month's matter is still today's visit (as `onemap kpis` counts).
    rows = visits["case_row"].to_numpy()
    return cases, visits[f.narrowed(start=None, end=None).mask(every_case.iloc[rows])]


def read_places(store, f: CaseFilter, layer: str):
    """A geography layer within the filter's street, community and cell, and within the viewer's area."""
    frame = CACHE.layer(store, layer)
    return frame[matches(frame, f.place_conditions(layer))]


def area_title(store, area: Area, lang: str = "zh") -> str:
    """What a person calls an area: 江北区, a street's or a community's name, or a community's cells."""
    if area.is_district:
        return say("江北区 全区", "Whole district", lang)
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


def overview_data(store, *, start, end, street=None):
    """KPIs and the case map for one period and (optionally) one street."""
    data = view_data(store, CaseFilter(start=start, end=end, street_code=street_code_for(store, street)))
    return data["kpis"], data["map"]


def case_table(cases: pd.DataFrame, *, sort_by=None, page: int = 0, page_size: int = 15,
               lang: str = "zh") -> tuple[list, int]:
    """One page of the cases as table rows, sorted on the server; and the number of pages."""
    sort_by = DEFAULT_SORT if sort_by is None else sort_by
    columns = [c for c, _, _ in TABLE_COLUMNS]
    picked = cases.iloc[sort_order(cases, sort_by)[page * page_size:(page + 1) * page_size]]
    pages = max(1, -(-len(cases) // page_size))
    rows = pd.DataFrame({c: plain_values(picked[c]) for c in columns}, index=picked.index)
    for column in ("reported_at", "due_at"):
        rows[column] = pd.to_datetime(rows[column]).dt.strftime("%Y-%m-%d %H:%M")
    rows["status"] = rows["status"].map(lambda s: only(STATUS_WORDS[s], lang) if s in STATUS_WORDS else s)
    rows["level"] = rows["level"].map(lambda v: only(LEVEL_WORDS[v], lang) if v in LEVEL_WORDS else v)
    rows["channels"] = rows["channels"].fillna("").map(
        lambda cs: ("、" if lang != "en" else ", ").join(only(CHANNELS.get(c, (c, c)), lang) for c in cs.split(";") if c))
    return rows.astype(object).where(rows.notna(), "").to_dict("records"), pages


def plain_values(column: pd.Series) -> np.ndarray:
    """A column's values as Python objects (None where missing).

    A categorical of the held copy may have a million categories (case ids, addresses): pandas'
    ``astype(object)`` turns all of them into Python strings first, ~10 ms a column even for a
    table page of 15 rows; here only the rows' own categories are taken.
    """
    if isinstance(column.dtype, pd.CategoricalDtype):
        codes = column.cat.codes.to_numpy()
        out = np.full(len(codes), None, dtype=object)
        present = codes >= 0
        out[present] = column.cat.categories.take(codes[present]).to_numpy(dtype=object)
        return out
    return column.astype(object).where(column.notna(), None).to_numpy()


def table_page(store, f: CaseFilter, *, sort_by=None, page: int = 0, page_size: int = 15,
               lang: str = "zh") -> tuple[list, int]:
    """The case table's page for a filter: the server's held sort order of all cases, masked by the filter."""
    sort_by = [t for t in (sort_by or DEFAULT_SORT) if t["column_id"] in {c for c, _, _ in TABLE_COLUMNS}]
    every, _ = CACHE.cases(store)
    key = ("sorted", tuple((t["column_id"], t["direction"]) for t in sort_by))
    order = CACHE.derived(store, key, lambda cases: sort_order(cases, sort_by))
    keep = kept(store, f)
    in_order = order[keep[order]]
    rows = case_table(every.iloc[in_order[page * page_size:(page + 1) * page_size]], sort_by=[], page_size=page_size,
                      lang=lang)
    return rows[0], max(1, -(-int(keep.sum()) // page_size))


def sort_order(cases: pd.DataFrame, sort_by) -> np.ndarray:
    """Row numbers of ``cases`` in the table's order; ties keep the frame's order (the cache's: case id)."""
    columns = {c for c, _, _ in TABLE_COLUMNS}
    order = np.arange(len(cases))
    for term in reversed([t for t in sort_by if t["column_id"] in columns]):
        key = _sort_key(cases[term["column_id"]])[order]
        order = order[np.argsort(key if term["direction"] == "asc" else -key, kind="stable")]
    return order


def _sort_key(column: pd.Series) -> np.ndarray:
    """Integers that sort as the column does, missing values first."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy().astype(np.int64)  # categories are kept sorted; missing is -1
    if pd.api.types.is_datetime64_any_dtype(column):
        return column.to_numpy("datetime64[ms]").astype(np.int64)  # NaT is the smallest
    return pd.factorize(column, sort=True)[0].astype(np.int64)


def cell_details(store, f: CaseFilter, grid_cell: str, *, latest: int = 5, as_of=None, lang: str = "zh") -> dict | None:
    """A grid cell's figures under the filter, and its latest cases: what a click on the map opens."""
    cells = store.read("grid_cells", [Condition("grid_cell", "=", grid_cell)] + f.area.conditions("grid_cells"))
    if cells.empty:
        return None
    cell = cells.iloc[0]
    cases, _ = filtered_cases(store, f.narrowed(grid_cell=grid_cell, community_code=cell["community_code"],
                                                street_code=cell["street_code"]), as_of=as_of)
    tiles = filtered_kpis(cases, as_of=as_of)
    communities = store.read("communities", [Condition("community_code", "=", cell["community_code"])])
    rows, _ = case_table(cases, page_size=latest, lang=lang)
    return {"grid_cell": grid_cell, "name": cell["name"], "kind": cell["kind"],
            "community": communities["name"].iat[0] if len(communities) else None,
            "population": None if pd.isna(cell["population"]) else int(cell["population"]),
            "received": tiles["received"], "closed": tiles["closed"], "overdue": tiles["overdue"],
            "closure_rate": tiles["closure_rate"], "latest": rows}


WALL_BACKGROUND = "#0b1426"
WALL_BACKDROP = dict(sourcetype="geojson", type="fill", color=WALL_BACKGROUND, below="traces", source={
    "type": "Feature", "properties": {},
    "geometry": {"type": "Polygon", "coordinates": [[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]]}})


def wall_views(streets: pd.DataFrame, *, rotate: bool, title: str = "江北区 全区 Whole district"
               ) -> list[tuple[str | None, str]]:
    """The views a wall screen shows in turn: its whole area, then each of the area's streets (code, title)."""
    views = [(None, title)]
    if rotate and len(streets) > 1:
        views += [(code, name) for code, name in sorted(zip(streets["street_code"], streets["name"]))]
    return views


def wall_data(store, f: CaseFilter, tick: int, *, rotate: bool, as_of=None, basemap: Basemap = NO_BASEMAP,
              lang: str = "zh") -> dict:
    """What the wall shows at its ``tick``-th refresh: the view's title, tiles and map."""
    views = wall_views(read_places(store, CaseFilter(area=f.area), "streets"), rotate=rotate,
                       title=area_title(store, f.area, lang))
    code, title = views[tick % len(views)]
    data = view_data(store, f.narrowed(street_code=code, community_code=None, grid_cell=None), as_of=as_of,
                     outline_colour="#a0aec0", basemap=basemap, lang=lang)
    # Dark under the cells: a fill below the traces on the blank style. (A style object of its
    # own would be set anew at every refresh, and MapLibre then keeps the old picture.)
    layout = data["map"]["layout"]
    if not basemap.tiles:
        layout["map"]["layers"] = [WALL_BACKDROP] + layout["map"]["layers"]
    layout.update(paper_bgcolor=WALL_BACKGROUND, font=dict(color="#e2e8f0"),
                  legend=dict(layout.get("legend", {}), bgcolor="rgba(11,20,38,0.85)",
                              font=dict(color="#e2e8f0", size=14)),
                  title=dict(text=f"{title} · {layout['title']['text']}", font=dict(size=20)))
    return {"title": title, "kpis": data["kpis"], "map": data["map"], "view": tick % len(views),
            "views": len(views)}


def case_details(store, case_id: str, area: Area = DISTRICT, lang: str = "zh") -> dict | None:
    """One case as a click on its point opens it: lifecycle, level, unit, and every intake record behind it.

    None for a case outside ``area``, as for one that does not exist.
    """
    found = store.read("cases", [Condition("case_id", "=", case_id)] + area.conditions("cases"))
    if found.empty:
        return None
    case = found.iloc[0]
    records = store.read("case_sources", [Condition("case_id", "=", case_id)]).sort_values("reported_at")

    def when(value):
        return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")

    return {
        "case_id": case_id, "category": case["category"],
        "status": only(STATUS_WORDS.get(case["status"], (case["status"],) * 2), lang),
        "level": " → ".join(only(LEVEL_WORDS.get(case[c], ("", "")), lang) for c in ("level_received", "level")),
        "responsible_unit": case["responsible_unit"], "address": case["address"],
        "precision": case["location_precision"],
        "lifecycle": [(say(zh, en, lang), when(case[column])) for column, zh, en in (
            ("reported_at", "呼 受理", "reported"), ("dispatched_at", "分 派单", "dispatched"),
            ("closed_at", "销 办结", "closed"), ("due_at", "期限", "due"))],
        "sources": [{"channel": only(CHANNELS.get(r.channel, (r.channel,) * 2), lang), "source_id": r.source_id,
                     "reported_at": when(r.reported_at), "merge_reason": r.merge_reason if r.merged else None}
                    for r in records.itertuples()],
    }
