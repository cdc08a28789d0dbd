"""The analysis layers: hotspots, emerging hotspots, period change and blind spots, from a store.

Each reads what it needs from the store under a filter (its period, area and
categories) and hands plain frames to ``gis``; the result is a layer the map,
the CLI and exports show alike. Cells are coloured by count or by cases per
1 000 residents (``measure``): the rate takes population out, so a hotspot is a
place with more trouble than its people explain.
"""

from __future__ import annotations

from datetime import date, timedelta

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.blind_spots import blind_spots
from gis.change import period_change
from gis.datums import METRIC_CRS
from gis.emerging import emerging_hotspots, space_time_counts
from gis.hotspots import BIN_WORDS, contiguity, hotspots
from layers import counted
from layers.errors import InvalidValue
from layers.filters import CaseFilter, tally
from layers.priority import priority_list
from layers.responsibilities import responsible_units
from layers.store import Condition, Store, matches

MEASURES = ("cases", "per_1000")


def cells_in(store: Store, f: CaseFilter) -> gpd.GeoDataFrame:
    """The grid cells the filter's street, community, cell and area cover, in code order."""
    return store.read("grid_cells", f.place_conditions("grid_cells")).sort_values("grid_cell", ignore_index=True)


def cell_values(cases: pd.DataFrame, cells: pd.DataFrame, measure: str = "cases") -> np.ndarray:
    """Cases per cell, or cases per 1 000 residents (0 where the population is unknown)."""
    return counted_values(tally(cases["grid_cell"]), cells, measure)


def counted_values(per_cell: pd.Series, cells: pd.DataFrame, measure: str = "cases") -> np.ndarray:
    """:func:`cell_values` from cases already counted per cell (``per_cell``: cell → cases)."""
    if measure not in MEASURES:
        raise InvalidValue(f"unknown measure {measure!r}: {', '.join(MEASURES)}")
    counts = cells["grid_cell"].map(per_cell).fillna(0).to_numpy(dtype=float)
    if measure == "cases":
        return counts
    population = pd.to_numeric(cells["population"], errors="coerce").to_numpy(dtype=float)
    return np.where(population > 0, counts / np.where(population > 0, population, 1) * 1000, 0.0)


def hotspot_layer(store: Store, f: CaseFilter, *, measure: str = "cases") -> gpd.GeoDataFrame:
    """Grid cells with their Gi* ``z``, ``p`` and confidence ``bin`` (-3…3) for the filtered cases (counted by
    the store per cell, whatever its size)."""
    return counted_hotspots(counted.per_cell(store, f), cells_in(store, f), measure=measure)


def hotspot_cells(cases: pd.DataFrame, cells: gpd.GeoDataFrame, *, measure: str = "cases") -> gpd.GeoDataFrame:
    """:func:`hotspot_layer` over cases and cells already in hand (the dashboard's copy)."""
    return counted_hotspots(tally(cases["grid_cell"]), cells, measure=measure)


def counted_hotspots(per_cell: pd.Series, cells: gpd.GeoDataFrame, *, measure: str = "cases") -> gpd.GeoDataFrame:
    """:func:`hotspot_cells` from cases already counted per cell (a store too large to hold counts them)."""
    cells = cells.sort_values("grid_cell", ignore_index=True)
    found = hotspots(cells, counted_values(per_cell, cells, measure), key="grid_cell")
    out = cells[["grid_cell", "name", "community_code", "street_code", "geometry"]].merge(found, on="grid_cell")
    out["label"] = out["bin"].map(lambda b: " ".join(BIN_WORDS[b]))
    return out


def emerging_layer(store: Store, f: CaseFilter, *, freq: str = "MS", measure: str = "cases") -> gpd.GeoDataFrame:
    """Grid cells with their emerging-hotspot ``pattern`` over the filter's period, in ``freq`` bins (counted by
    the store per cell and day: the bins are whole days)."""
    days = counted.per_cell_day(store, f)
    return counted_emerging(days["grid_cell"], days["day"], days["n"], cells_in(store, f), start=f.start,
                            end=f.period_end(), freq=freq, measure=measure)


def emerging_cells(cases: pd.DataFrame, cells: gpd.GeoDataFrame, *, start=None, end=None, freq: str = "MS",
                   measure: str = "cases") -> gpd.GeoDataFrame:
    """:func:`emerging_layer` over cases and cells already in hand."""
    return counted_emerging(cases["grid_cell"], cases["reported_at"], None, cells, start=start, end=end, freq=freq,
                            measure=measure)


def counted_emerging(places: pd.Series, stamps: pd.Series, weights, cells: gpd.GeoDataFrame, *, start=None,
                     end=None, freq: str = "MS", measure: str = "cases") -> gpd.GeoDataFrame:
    """:func:`emerging_cells` from cases as (cell, time, how many) (a store too large to hold counts them per day)."""
    cells = cells.sort_values("grid_cell", ignore_index=True)
    counts = space_time_counts(places, stamps, cells["grid_cell"], freq=freq, start=start, end=end,
                               weights=weights)
    if measure == "per_1000":
        population = pd.to_numeric(cells["population"], errors="coerce").to_numpy(dtype=float)
        counts = counts.mul(np.where(population > 0, 1000 / np.where(population > 0, population, 1), 0), axis=0)
    found = emerging_hotspots(counts, contiguity(cells), key="grid_cell")
    return cells[["grid_cell", "name", "community_code", "street_code", "geometry"]].merge(found, on="grid_cell")


def change_layer(store: Store, f: CaseFilter, *, baseline: str = "last_year") -> gpd.GeoDataFrame:
    """Cases per cell in the filter's period against ``last_year`` (the same days a year before) or
    ``previous_3`` (the three periods of the same length just before)."""
    if f.start is None or f.end is None:
        raise InvalidValue("a change layer needs a period with a start and an end")
    cells = cells_in(store, f)
    windows = baseline_windows(f.start, f.end, baseline)
    return counted_change(counted.per_cell(store, f), [counted.per_cell(store, f.narrowed(start=a, end=b))
                                                       for a, b in windows], cells)


def baseline_windows(start: date, end: date, baseline: str = "last_year") -> list[tuple[date, date]]:
    """The periods a change is measured against: the same days a year before, or the three periods before."""
    length = end - start + timedelta(days=1)
    if baseline == "last_year":
        return [(_years_back(start, 1), _years_back(end, 1))]
    if baseline == "previous_3":
        return [(start - length * k, start - length * (k - 1) - timedelta(days=1)) for k in (1, 2, 3)]
    raise InvalidValue(f"unknown baseline {baseline!r}: last_year or previous_3")


def cell_change(now: pd.DataFrame, before: list[pd.DataFrame], cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cells with their cases ``now`` against the mean of the ``before`` periods (``gis.change``)."""
    return counted_change(tally(now["grid_cell"]), [tally(frame["grid_cell"]) for frame in before], cells)


def counted_change(now: pd.Series, before: list[pd.Series], cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """:func:`cell_change` from cases already counted per cell, now and in each ``before`` period."""
    earlier = pd.concat(before).groupby(level=0).sum()
    found = period_change(now.reindex(cells["grid_cell"], fill_value=0),
                          earlier.reindex(cells["grid_cell"], fill_value=0), periods=len(before))
    return cells[["grid_cell", "name", "community_code", "street_code", "geometry"]].merge(
        found.rename_axis("grid_cell").reset_index(), on="grid_cell")


def blind_spot_layer(store: Store, f: CaseFilter, *, cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """Every blind-spot rule's findings for the filtered cases (read from the store unless given), the
    area's components and setback areas."""
    cases = f.read_cases(store) if cases is None else cases
    components = store.read("components", f.area.conditions("components"))
    setback_areas = store.read("setback_areas", f.area.conditions("setback_areas"))
    if f.street_code:
        components = components[matches(components, [Condition("street_code", "=", f.street_code)])]
        setback_areas = setback_areas[setback_areas["community_code"].astype(str).str.startswith(f.street_code)]
    units = responsible_units(cases, store.read("responsibilities"))
    return placed(blind_spots(cases, components, setback_areas, units), store)


def placed(spots: pd.DataFrame, store: Store) -> pd.DataFrame:
    """Blind spots with a position to draw: their own point, or a point inside their place."""
    spots = spots.copy()
    for kind, layer, key in (("setback_area", "setback_areas", "setback_area"), ("grid_cell", "grid_cells", "grid_cell"),
                             ("community", "communities", "community_code"), ("component", "components", "component_id")):
        rows = ((spots["place_kind"] == kind) & spots["lon"].isna()).to_numpy()
        if rows.any():
            places = store.read(layer, [Condition(key, "in", sorted(set(spots.loc[rows, "place"])))])
            inside = dict(zip(places[key], places.geometry.representative_point()))
            points = spots.loc[rows, "place"].map(inside)
            spots.loc[rows, "lon"] = [p.x if p is not None else np.nan for p in points]
            spots.loc[rows, "lat"] = [p.y if p is not None else np.nan for p in points]
    return spots


def _years_back(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def priority_layer(store: Store, f: CaseFilter, *, measure: str = "per_1000",
                   cases: pd.DataFrame | None = None) -> gpd.GeoDataFrame:
    """Grid cells, estates and setback areas in the filter's area, ranked by priority score (``layers.priority``)."""
    cases = f.read_cases(store) if cases is None else cases
    cells = cells_in(store, f)
    hot = hotspot_cells(cases, cells, measure=measure).set_index("grid_cell")["bin"]
    spots = blind_spot_layer(store, f, cases=cases)
    flagged = set(zip(spots["place_kind"], spots["place"]))
    setback_areas = store.read("setback_areas", [Condition("community_code", "in", sorted(set(cells["community_code"])))])
    estates = store.read("estates", [Condition("community_code", "in", sorted(set(cells["community_code"])))])
    # An estate is a blind spot where any of its setback areas is.
    flagged |= {("estate", e) for e, a in zip(setback_areas["estate_id"], setback_areas["setback_area"])
                if ("setback_area", a) in flagged}
    places = pd.concat([_places(cells, "grid_cell", "grid_cell", cells), _places(estates, "estate", "estate_id", cells),
                        _places(setback_areas, "setback_area", "setback_area", cells)], ignore_index=True)
    ranked = priority_list(places.drop(columns="geometry"), cases, hot, flagged)
    return gpd.GeoDataFrame(ranked.merge(places[["place_kind", "place", "geometry"]], on=["place_kind", "place"]),
                            geometry="geometry", crs=cells.crs)


def _places(frame, kind, key, cells):
    """Places of one kind with their name, area and the grid cell their inside point lies in."""
    inside = gpd.GeoDataFrame(geometry=frame.geometry.representative_point(), crs=frame.crs)
    cell = gpd.sjoin(inside, cells[["grid_cell", "geometry"]], how="left", predicate="within")["grid_cell"]
    return gpd.GeoDataFrame({"place_kind": kind, "place": frame[key].to_numpy(),
                             "name": frame["name"].to_numpy() if "name" in frame else frame[key].to_numpy(),
                             "grid_cell": cell.groupby(level=0).first().reindex(frame.index).to_numpy(),
                             "area_km2": frame.to_crs(METRIC_CRS).area.to_numpy() / 1e6},
                            geometry=frame.geometry.to_numpy(), crs=frame.crs)
