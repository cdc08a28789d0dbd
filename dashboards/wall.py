"""The wall screen's refresh, as a plain function the page's one callback calls."""

from __future__ import annotations

import logging
from datetime import datetime

import dash
import pandas as pd

from dashboards.arrivals import arrivals, ticker
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.data import area_title, paused_banner, unreachable_banner, view_data
from dashboards.geo import read_places
from dashboards.i18n import language, say
from dashboards.tiles import kpi_tiles
from dashboards.wall_panel import panel_children, remediation_panel
from layers.areas import DISTRICT, Area
from layers.filters import CaseFilter

log = logging.getLogger(__name__)


def wall_refresh(get_store, query: dict, tick: int, last_good: str | None, *, area: Area = DISTRICT,
                 basemap: Basemap = NO_BASEMAP, now=None):
    """The wall's outputs for one tick, inside ``area``; on a store failure the last picture stays under a banner.

    The remediation panel (the last output) is of the view's area at ``now``: this year's orders,
    overdue as of now, whatever period the tiles and the map show.
    """
    now = now or datetime.now()
    f = CaseFilter.from_query(query).narrowed(area=area)
    rotate = str(query.get("rotate", "")).lower() in ("1", "true", "yes")
    lang = language(query.get("lang"))
    try:
        store = get_store()
        data = wall_data(store, f, tick, rotate=rotate, basemap=basemap, lang=lang)
        held = unreachable_banner(store, lang)
        paused = "" if held else paused_banner(store, lang)
    except Exception as exc:  # noqa: BLE001 — whatever broke, the wall must keep its picture up
        log.warning("wall refresh failed, keeping the last picture", exc_info=True)
        since = last_good or "—"
        banner = say(f"数据源暂时无法连接，显示的是 {since} 的数据", f"Store unreachable, showing data of {since}",
                     lang, sep=" · ") + f" ({type(exc).__name__})"
        return (dash.no_update, dash.no_update, dash.no_update, dash.no_update, banner, {"display": "block"},
                last_good, dash.no_update, dash.no_update)
    period = f"{f.start:%Y-%m-%d} → {f.end:%Y-%m-%d}" if f.start and f.end else ""
    panel = remediation_children(store, view_area(area, data["street_code"]), now, lang)
    if held:  # the store is gone but the server holds its data: shown, under the banner, as of then
        return (kpi_tiles(data["kpis"], prefix="wall-kpi", lang=lang), data["map"], f"{data['title']}  {period}",
                dash.no_update, held, {"display": "block"}, last_good, data["ticker"], panel)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    # Read from a replica while the primary is down, the picture is current: refreshed, under the intake banner.
    return (kpi_tiles(data["kpis"], prefix="wall-kpi", lang=lang), data["map"], f"{data['title']}  {period}",
            f"{say('更新于', 'Refreshed', lang)} {stamp}", paused, {"display": "block" if paused else "none"}, stamp,
            data["ticker"], panel)


def view_area(area: Area, street_code: str | None) -> Area:
    """The area of the view on the wall: the viewer's own, or the street it has turned to.

    Only a district's wall (or the whole store's) turns through its streets whole; a smaller area spanning two streets
    keeps its own area (a street of it would reach past it).
    """
    return Area("street", (street_code,)) if street_code and area.kind == "district" and area.contains(
        street_code) else area


def remediation_children(store, area: Area, now, lang: str = "zh"):
    """The remediation panel for the view's area; if it cannot be read, the panel shown stays as it is."""
    try:
        return panel_children(remediation_panel(store, area, now), lang)
    except Exception:  # noqa: BLE001 — the map and the tiles (held by the server) still go up
        log.warning("wall remediation panel failed, keeping the last one", exc_info=True)
        return dash.no_update


WALL_BACKGROUND = "#0b1426"


WALL_BACKDROP = dict(sourcetype="geojson", type="fill", color=WALL_BACKGROUND, below="traces", source={
    "type": "Feature", "properties": {},
    "geometry": {"type": "Polygon", "coordinates": [[[-180, -85], [180, -85], [180, 85], [-180, 85], [-180, -85]]]}})


def wall_views(streets: pd.DataFrame, *, rotate: bool, title: str = "全区 Whole district"
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
    # The view is shared with other requests of it (``view_data``): the wall dresses a copy of the parts it changes.
    layout = {**data["map"]["layout"], "map": {**data["map"]["layout"]["map"]}}
    figure = {**data["map"], "layout": layout}
    # Dark under the cells: a fill below the traces on the blank style. (A style object of its
    # own would be set anew at every refresh, and MapLibre then keeps the old picture.)
    if not basemap.tiles:
        layout["map"]["layers"] = [WALL_BACKDROP] + layout["map"]["layers"]
    layout.update(paper_bgcolor=WALL_BACKGROUND, font=dict(color="#e2e8f0"),
                  legend=dict(layout.get("legend", {}), bgcolor="rgba(11,20,38,0.85)",
                              font=dict(color="#e2e8f0", size=14)),
                  title=dict(text=f"{title} · {layout['title']['text']}", font=dict(size=20)))
    # The browser fits the map to the wall and grows this type with it (assets/fit.js).
    layout["meta"] = dict(layout.get("meta", {}), screen="wall", type=dict(title=20, legend=14))
    found = arrivals(store, f.narrowed(street_code=code), as_of or datetime.now())
    return {"title": title, "kpis": data["kpis"], "map": figure, "view": tick % len(views),
            "views": len(views), "street_code": code, "ticker": ticker(found, lang), "arrivals": found}
