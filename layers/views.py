"""Named views over the store that the map shows: cases per grid cell, outlines."""

from __future__ import annotations

import geopandas as gpd
import pandas as pd

from gis.datums import METRIC_CRS
from layers.filters import tally
from layers.store import Store, period_filter


def count_per_cell(cases: pd.DataFrame, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Cells with ``cases`` (count), ``cases_per_km2`` and ``cases_per_1000`` residents (empty where
    the population is not known); cells without cases show 0.

    Cells that already carry ``area_km2`` (the dashboard's cached layer) are not projected again.
    """
    return counted_per_cell(tally(cases["grid_cell"]), cells)


def counted_per_cell(counts: pd.Series, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """:func:`count_per_cell` from cases already counted per cell (``counts``: cell → cases)."""
    out = cells.copy()
    out["cases"] = out["grid_cell"].map(counts).fillna(0).astype(int)
    area_km2 = out["area_km2"] if "area_km2" in out else out.to_crs(METRIC_CRS).area / 1e6
    out["cases_per_km2"] = (out["cases"] / area_km2).round(1)
    population = pd.to_numeric(out["population"], errors="coerce").astype(float)
    out["cases_per_1000"] = (out["cases"] / population.where(population > 0) * 1000).round(2)
    return out


def cell_choropleth(store: Store, *, start=None, end=None, street_code=None) -> gpd.GeoDataFrame:
    """The grid cells with their case counts for a period (and a street), for a choropleth."""
    cells = store.read("grid_cells")
    if street_code:
        cells = cells[cells["street_code"] == street_code]
    cases = store.read("cases", period_filter(start, end, street_code=street_code))
    return count_per_cell(cases, cells)
