"""The map's layers, one entry each: what it computes, how it is drawn (with its legend), what an export takes.

Adding an analysis layer to the map is one entry in :data:`MAP_VIEWS`: the
overview's checklist, the wall, the link of a view and the export of a view
all read this table. Any other catalogue layer is on the map too, drawn in
the catalogue's style.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from dashboards.basemap import Basemap
from dashboards.figures import (
    add_blind_spots,
    add_catalogue_layer,
    add_change,
    add_emerging,
    add_heat,
    add_hotspots,
    add_layers,
    add_priority,
)
from dashboards.geo import read_places
from dashboards.selection import filtered_cases
from gis.datums import STORAGE_CRS
from gis.heat import Heat, kernel_density, to_metric
from layers.analysis import (
    baseline_windows,
    blind_spot_layer,
    cell_change,
    emerging_cells,
    hotspot_cells,
    priority_layer,
)
from layers.blind_spot_register import with_states
from layers.catalogue import CATALOGUE
from layers.filters import CaseFilter
from layers.settings import SETTINGS

# Above this many cases in view the map shows cells only: no more dots than a person can read.
POINT_LIMIT = SETTINGS.point_limit
# Under every view: the map's base, not a choice.
BASE_LAYERS = ("streets", "communities", "grid_cells")


@dataclass(frozen=True)
class Sketch:
    """What a view is drawn from: the view's filter, its cases and cells, and how the map is shown."""

    store: object
    f: CaseFilter
    cases: pd.DataFrame
    cells: gpd.GeoDataFrame
    measure: str
    as_of: object
    basemap: Basemap
    lang: str
    extent: tuple = (121.35, 29.85, 121.65, 30.06)  # the district's bounds: where the heat is when no cell is in view

    @property
    def rate(self) -> str:
        """What the hotspot statistics run on: cases, or cases per 1 000 residents."""
        return "per_1000" if self.measure == "per_1000" else "cases"

    def places(self, layer: str):
        return read_places(self.store, self.f, layer)


@dataclass(frozen=True)
class MapView:
    """One layer of the map: its title (None: its catalogue layer's), the catalogue layer an export of it
    takes (None: nothing), how it is computed and drawn, and where it lies (higher is drawn later, on top)."""

    title: tuple[str, str] | None
    catalogue: str | None
    draw: Callable[[dict, Sketch], object]
    depth: int


def _change(fig, s: Sketch):
    if not (s.f.start and s.f.end):
        return fig
    before = [filtered_cases(s.store, s.f.narrowed(start=a, end=b), as_of=s.as_of)[0]
              for a, b in baseline_windows(s.f.start, s.f.end)]
    return add_change(fig, cell_change(s.cases, before, s.cells), basemap=s.basemap, lang=s.lang)


def _points(fig, s: Sketch):
    if len(s.cases) > POINT_LIMIT:
        return fig
    return add_layers(fig, points=as_points(s.cases), basemap=s.basemap, lang=s.lang)


def _places(layer: str):
    return lambda fig, s: add_layers(fig, **{layer: s.places(layer)}, basemap=s.basemap, lang=s.lang)


# Catalogue layers without an entry here are drawn at this depth, in the catalogue's style.
CATALOGUE_DEPTH = 50
MAP_VIEWS = {
    "heat": MapView(("案件热力", "Case heat"), None, lambda fig, s: add_heat(
        fig, case_heat(s.cases, s.cells, s.extent), basemap=s.basemap, lang=s.lang), 0),
    "cases": MapView(("案件点", "Case points"), "cases", _points, 90),
    "setback_areas": MapView(None, "setback_areas", _places("setback_areas"), 70),
    "estates": MapView(None, "estates", _places("estates"), 60),
    "components": MapView(None, "components", _places("components"), 80),
    "hotspots": MapView(None, "hotspots", lambda fig, s: add_hotspots(
        fig, hotspot_cells(s.cases, s.cells, measure=s.rate), basemap=s.basemap, lang=s.lang), 10),
    "emerging": MapView(None, "emerging_hotspots", lambda fig, s: add_emerging(
        fig, emerging_cells(s.cases, s.cells, start=s.f.start, end=s.f.period_end(), measure=s.rate),
        basemap=s.basemap, lang=s.lang), 20),
    "blind_spots": MapView(None, "blind_spots", lambda fig, s: add_blind_spots(
        fig, with_states(s.store, blind_spot_layer(s.store, s.f, cases=s.cases)), basemap=s.basemap, lang=s.lang),
        30),
    "change": MapView(("同比变化", "Change on last year"), "change", _change, 40),
    "priority": MapView(None, "priorities", lambda fig, s: add_priority(
        fig, priority_layer(s.store, s.f, measure=s.rate, cases=s.cases), basemap=s.basemap, lang=s.lang), 45),
}


def map_layers() -> dict[str, tuple[str, str]]:
    """The layers the map can switch on, with their titles: its own views, then every other catalogue
    layer (drawn in the catalogue's style), so a layer added to the catalogue is on the map too."""
    views = {key: view.title or CATALOGUE[view.catalogue].title for key, view in MAP_VIEWS.items()}
    shown = {view.catalogue for view in MAP_VIEWS.values()}
    return {**views, **{name: layer.title for name, layer in CATALOGUE.items()
                        if name not in shown and name not in BASE_LAYERS}}


def catalogue_names(keys) -> list[str]:
    """The catalogue layers that the map's layer keys show."""
    names = (MAP_VIEWS[key].catalogue if key in MAP_VIEWS else key for key in keys)
    return [name for name in names if name in CATALOGUE]


def draw_views(fig: dict, keys, sketch: Sketch) -> dict:
    """The chosen layers over the case map, each computed and drawn with its legend, lowest first."""
    chosen = []
    for key in dict.fromkeys(keys):
        if key in MAP_VIEWS:
            chosen.append((MAP_VIEWS[key].depth, key, MAP_VIEWS[key].draw))
        elif key in CATALOGUE and key not in BASE_LAYERS:
            layer = CATALOGUE[key]
            chosen.append((CATALOGUE_DEPTH, key, lambda fig, s, layer=layer: add_catalogue_layer(
                fig, layer, layer.query(s.store, s.f), basemap=s.basemap, lang=s.lang)))
    for _, _, draw in sorted(chosen, key=lambda c: (c[0], c[1])):
        draw(fig, sketch)
    fig["layout"].update(showlegend=True, legend=dict(x=0.01, y=0.01, bgcolor="rgba(255,255,255,0.85)"))
    return fig


def as_points(cases: pd.DataFrame) -> gpd.GeoDataFrame:
    """The located cases of the server's copy (plain lon/lat there) as points to draw."""
    located = cases[cases["lon"].notna()]
    return gpd.GeoDataFrame(located, geometry=gpd.points_from_xy(located["lon"], located["lat"]), crs=STORAGE_CRS)


def case_heat(cases: pd.DataFrame, cells, extent=(121.35, 29.85, 121.65, 30.06)) -> Heat:
    """Kernel density of the located cases over the cells in view (bandwidth 300 m, about 400 pixels across)."""
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else extent
    xs, ys = to_metric([minx, maxx], [miny, maxy])
    bounds = (min(xs), min(ys), max(xs), max(ys))
    cell_m = max(25.0, max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 400)
    located = np.isfinite(cases["x_m"].to_numpy())
    return kernel_density(cases["x_m"].to_numpy()[located], cases["y_m"].to_numpy()[located], bounds,
                          cell_m=cell_m)
