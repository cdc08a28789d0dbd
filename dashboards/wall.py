"""The wall screen's refresh, as a plain function the page's one callback calls."""

from __future__ import annotations

import logging
from datetime import datetime

import dash

from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.data import unreachable_banner, wall_data
from dashboards.i18n import language, say
from dashboards.tiles import kpi_tiles
from layers.areas import DISTRICT, Area
from layers.filters import CaseFilter

log = logging.getLogger(__name__)


def wall_refresh(open_store, query: dict, tick: int, last_good: str | None, *, area: Area = DISTRICT,
                 basemap: Basemap = NO_BASEMAP, now=None):
    """The wall's outputs for one tick, inside ``area``; on a store failure the last picture stays under a banner."""
    now = now or datetime.now()
    f = CaseFilter.from_query(query).narrowed(area=area)
    rotate = str(query.get("rotate", "")).lower() in ("1", "true", "yes")
    lang = language(query.get("lang"))
    try:
        with open_store() as store:
            data = wall_data(store, f, tick, rotate=rotate, basemap=basemap, lang=lang)
            held = unreachable_banner(store, lang)
    except Exception as exc:  # noqa: BLE001 — whatever broke, the wall must keep its picture up
        log.warning("wall refresh failed, keeping the last picture", exc_info=True)
        since = last_good or "—"
        banner = say(f"数据源暂时无法连接，显示的是 {since} 的数据", f"Store unreachable, showing data of {since}",
                     lang, sep=" · ") + f" ({type(exc).__name__})"
        return dash.no_update, dash.no_update, dash.no_update, dash.no_update, banner, {"display": "block"}, last_good
    period = f"{f.start:%Y-%m-%d} → {f.end:%Y-%m-%d}" if f.start and f.end else ""
    if held:  # the store is gone but the server holds its data: shown, under the banner, as of then
        return (kpi_tiles(data["kpis"], prefix="wall-kpi", lang=lang), data["map"], f"{data['title']}  {period}",
                dash.no_update, held, {"display": "block"}, last_good)
    stamp = now.strftime("%Y-%m-%d %H:%M:%S")
    return (kpi_tiles(data["kpis"], prefix="wall-kpi", lang=lang), data["map"], f"{data['title']}  {period}",
            f"{say('更新于', 'Refreshed', lang)} {stamp}", "", {"display": "none"}, stamp)
