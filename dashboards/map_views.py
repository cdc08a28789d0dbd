"""The map's layers, one entry each: what it computes, how it is drawn (with its legend), what an export takes.

Adding an analysis layer to the map is one entry in :data:`MAP_VIEWS`: the
overview's checklist, the wall, the link of a view and the export of a view
all read this table. Any other catalogue layer is on the map too, drawn in
the catalogue's style.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
from layers import counted
from layers.analysis import (
    baseline_windows,
    blind_spot_layer,
    cell_change,
    counted_change,
    counted_emerging,
    counted_hotspots,
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
    """What a view is drawn from: the view's filter, its cases and cells, and how the map is shown.

    ``cases`` is None for a view the store counts (a store too large to hold, a wide view): the cells carry
    their counts (``cases``), and a layer that needs each case is not drawn but noted in ``not_drawn``.
    """

    store: object
    f: CaseFilter
    cases: pd.DataFrame | None
    cells: gpd.GeoDataFrame
    measure: str
    as_of: object
    basemap: Basemap
    lang: str
    extent: tuple = (121.35, 29.85, 121.65, 30.06)  # the district's bounds: where the heat is when no cell is in view
    not_drawn: list = field(default_factory=list)

    @property
    def per_cell(self) -> pd.Series:
        """Cases per grid cell in view (the cells' counts)."""
        return pd.Series(self.cells["cases"].to_numpy(), index=self.cells["grid_cell"].astype(object).to_numpy())

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
    windows = [s.f.narrowed(start=a, end=b) for a, b in baseline_windows(s.f.start, s.f.end)]
    if s.cases is None:
        change = counted_change(s.per_cell, [counted.per_cell(s.store, w) for w in windows], s.cells)
    else:
        change = cell_change(s.cases, [filtered_cases(s.store, w, as_of=s.as_of)[0] for w in windows], s.cells)
    return add_change(fig, change, basemap=s.basemap, lang=s.lang)


def _points(fig, s: Sketch):
    if s.cases is None:
        s.not_drawn.append("cases")
        return fig
    if len(s.cases) > POINT_LIMIT:
        return fig
    return add_layers(fig, points=as_points(s.cases), basemap=s.basemap, lang=s.lang)


def _each_case(key: str, draw):
    """A layer that needs each case: drawn over the view's cases, noted as not drawn where it has none."""
    def drawn(fig, s: Sketch):
        if s.cases is None:
            s.not_drawn.append(key)
            return fig
        return draw(fig, s)
    return drawn


def _heat(fig, s: Sketch):
    heat = case_heat(s.cases, s.cells, s.extent) if s.cases is not None else counted_heat(s.cells, s.extent)
    return add_heat(fig, heat, basemap=s.basemap, lang=s.lang)


def _hotspots(fig, s: Sketch):
    found = hotspot_cells(s.cases, s.cells, measure=s.rate) if s.cases is not None else counted_hotspots(
        s.per_cell, s.cells, measure=s.rate)
    return add_hotspots(fig, found, basemap=s.basemap, lang=s.lang)


def _emerging(fig, s: Sketch):
    if s.cases is not None:
        found = emerging_cells(s.cases, s.cells, start=s.f.start, end=s.f.period_end(), measure=s.rate)
    else:
        days = counted.per_cell_day(s.store, s.f)
        found = counted_emerging(days["grid_cell"], days["day"], days["n"], s.cells, start=s.f.start,
                                 end=s.f.period_end(), measure=s.rate)
    return add_emerging(fig, found, basemap=s.basemap, lang=s.lang)


def _places(layer: str):
    return lambda fig, s: add_layers(fig, **{layer: s.places(layer)}, basemap=s.basemap, lang=s.lang)


# Catalogue layers without an entry here are drawn at this depth, in the catalogue's style.
CATALOGUE_DEPTH = 50
MAP_VIEWS = {
    "heat": MapView(("案件热力", "Case heat"), None, _heat, 0),
    "cases": MapView(("案件点", "Case points"), "cases", _points, 90),
    "setback_areas": MapView(None, "setback_areas", _places("setback_areas"), 70),
    "estates": MapView(None, "estates", _places("estates"), 60),
    "components": MapView(None, "components", _places("components"), 80),
    "hotspots": MapView(None, "hotspots", _hotspots, 10),
    "emerging": MapView(None, "emerging_hotspots", _emerging, 20),
    "blind_spots": MapView(None, "blind_spots", _each_case("blind_spots", lambda fig, s: add_blind_spots(
        fig, with_states(s.store, blind_spot_layer(s.store, s.f, cases=s.cases)), basemap=s.basemap, lang=s.lang)),
        30),
    "change": MapView(("同比变化", "Change on last year"), "change", _change, 40),
    "priority": MapView(None, "priorities", _each_case("priority", lambda fig, s: add_priority(
        fig, priority_layer(s.store, s.f, measure=s.rate, cases=s.cases), basemap=s.basemap, lang=s.lang)), 45),
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


def counted_heat(cells, extent=(121.35, 29.85, 121.65, 30.06)) -> Heat:
    """:func:`case_heat` of cases counted per cell, each cell's cases at its inside point: a coarser picture
    (a cell is a few hundred metres across, as the kernel's bandwidth)."""
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else extent
    xs, ys = to_metric([minx, maxx], [miny, maxy])
    bounds = (min(xs), min(ys), max(xs), max(ys))
    cell_m = max(25.0, max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 400)
    busy = cells[cells["cases"].to_numpy() > 0]
    inside = busy.geometry.representative_point()
    x, y = to_metric(inside.x.to_numpy(), inside.y.to_numpy())
    return kernel_density(x, y, bounds, cell_m=cell_m, weights=busy["cases"].to_numpy())


def case_heat(cases: pd.DataFrame, cells, extent=(121.35, 29.85, 121.65, 30.06)) -> Heat:
    """Kernel density of the located cases over the cells in view (bandwidth 300 m, about 400 pixels across)."""
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else extent
    xs, ys = to_metric([minx, maxx], [miny, maxy])
    bounds = (min(xs), min(ys), max(xs), max(ys))
    cell_m = max(25.0, max(bounds[2] - bounds[0], bounds[3] - bounds[1]) / 400)
    located = np.isfinite(cases["x_m"].to_numpy())
    return kernel_density(cases["x_m"].to_numpy()[located], cases["y_m"].to_numpy()[located], bounds,
                          cell_m=cell_m)
