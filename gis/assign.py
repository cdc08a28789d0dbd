"""Assign points to the polygons they fall in (grid cells, estates, setback areas)."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd


def assign_to_polygons(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame, id_column: str) -> pd.Series:
    """The id of the polygon each point falls in, or None where it falls in none.

    A point on an edge shared by two polygons touches both; it goes to the
    one with the smallest id, so the same point gets the same polygon every
    run whatever the input order. Empty or missing points get None.

    Parameters
    ----------
    points : GeoSeries of points
    polygons : GeoDataFrame with ``id_column``, in the same CRS as ``points``
    id_column : str

    Returns
    -------
    Series of str (or None), aligned with ``points``.
    """
    if points.crs is not None and polygons.crs is not None and not points.crs.equals(polygons.crs):
        raise ValueError(f"CRS mismatch: points are {points.crs}, polygons are {polygons.crs}")
    result = pd.Series(None, index=points.index, dtype=object)
    present = points.notna() & ~points.is_empty
    if not present.any() or polygons.empty:
        return result
    pts = gpd.GeoDataFrame(geometry=points[present].values, index=points.index[present], crs=points.crs)
    # intersects, not within: a point exactly on a shared edge must still find a cell.
    hits = gpd.sjoin(pts, polygons[[id_column, "geometry"]], how="inner", predicate="intersects")
    if hits.empty:
        return result
    first = hits[id_column].astype(str).groupby(level=0).min()
    values = np.full(len(points), None, dtype=object)
    values[points.index.get_indexer(first.index)] = first.to_numpy(dtype=object)
    return pd.Series(values, index=points.index, dtype=object)
