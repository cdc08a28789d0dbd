"""Assign points to the polygons they fall in (grid cells, estates, setback areas).

A district's cells are few and its cases many, so the polygons are burnt
once into a raster of polygon numbers. A point in a pixel that no polygon
edge touches takes that pixel's polygon with no geometry test at all; only
points in pixels along an edge (a few percent) are tested exactly with
shapely. The result is the same as an exact ``intersects`` join.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from rasterio import features
from rasterio.transform import Affine

# Pixels along the longer side of the raster: 2048 keeps it a few MB and,
# for a district, leaves about 5% of points to the exact test.
RASTER_SIDE = 2048
# Up to this many points, each is tested exactly (an STRtree query) and no raster is drawn.
EXACT_MAX = 2000


class PolygonIndex:
    """Which polygon each of many points falls in.

    A point on an edge shared by two polygons touches both; it goes to the
    one with the smallest id, so the same point gets the same polygon every
    run whatever the input order.

    Parameters
    ----------
    polygons : GeoDataFrame with ``id_column``
    id_column : str
    raster_side : int, pixels along the longer side of the lookup raster
    """

    def __init__(self, polygons: gpd.GeoDataFrame, id_column: str, *, raster_side: int = RASTER_SIDE):
        self.crs = polygons.crs
        present = polygons[polygons.geometry.notna() & ~polygons.geometry.is_empty]
        ids = present[id_column].astype(str).to_numpy()
        order = np.argsort(ids, kind="stable")
        # Polygon number k + 1 is the k-th smallest id, so "smallest number" is "smallest id".
        self.ids = np.concatenate([[None], ids[order]]).astype(object)
        self.geoms = present.geometry.to_numpy()[order]
        self.tree = shapely.STRtree(self.geoms)
        self.raster_side = raster_side
        self.numbers: np.ndarray | None = None  # the raster, drawn when a batch first needs it

    def _draw(self) -> np.ndarray:
        minx, miny, maxx, maxy = shapely.total_bounds(self.geoms)
        self.pixel = max(maxx - minx, maxy - miny) / self.raster_side or 1.0
        # One pixel of margin on every side: every polygon point is strictly inside the raster.
        self.x0, self.y0 = minx - self.pixel, maxy + self.pixel
        shape = (int(np.ceil((maxy - miny) / self.pixel)) + 3, int(np.ceil((maxx - minx) / self.pixel)) + 3)
        transform = Affine(self.pixel, 0.0, self.x0, 0.0, -self.pixel, self.y0)
        # Drawn largest number first, so where polygons overlap the smallest wins.
        shapes = [(g, k + 1) for k, g in reversed(list(enumerate(self.geoms)))]
        self.numbers = features.rasterize(shapes, out_shape=shape, transform=transform, fill=0,
                                          dtype="int32", all_touched=False)
        edges = features.rasterize([(b, 1) for b in shapely.boundary(self.geoms)], out_shape=shape,
                                   transform=transform, fill=0, dtype="uint8", all_touched=True).astype(bool)
        # Grown by a pixel so that rounding in the line drawing cannot leave an edge pixel unmarked.
        grown = edges.copy()
        grown[1:, :] |= edges[:-1, :]
        grown[:-1, :] |= edges[1:, :]
        grown[:, 1:] |= edges[:, :-1]
        grown[:, :-1] |= edges[:, 1:]
        self.edge = grown
        return self.numbers

    def numbers_at(self, x, y) -> np.ndarray:
        """Polygon number (0 for none) at each point given by arrays ``x``, ``y``."""
        x = np.asarray(x, dtype=float)
        y = np.asarray(y, dtype=float)
        result = np.zeros(len(x), dtype=np.int64)
        if len(self.geoms) == 0:
            return result
        finite = np.isfinite(x) & np.isfinite(y)
        if finite.sum() <= EXACT_MAX and self.numbers is None:
            # A few points (a push, a small file): the exact test costs less than drawing the raster.
            where = np.flatnonzero(finite)
            result[where] = self._exact(x[where], y[where])
            return result
        numbers = self.numbers if self.numbers is not None else self._draw()
        col = np.floor((np.where(finite, x, self.x0) - self.x0) / self.pixel).astype(np.int64)
        row = np.floor((self.y0 - np.where(finite, y, self.y0)) / self.pixel).astype(np.int64)
        rows, cols = numbers.shape
        inside = finite & (row >= 0) & (row < rows) & (col >= 0) & (col < cols)
        r, c = row[inside], col[inside]
        where = np.flatnonzero(inside)
        result[where] = numbers[r, c]
        exact = where[self.edge[r, c]]
        if len(exact):
            result[exact] = self._exact(x[exact], y[exact])
        return result

    def _exact(self, x, y):
        points = shapely.points(x, y)
        # intersects, not within: a point exactly on a shared edge must still find a polygon.
        hit_point, hit_poly = self.tree.query(points, predicate="intersects")
        best = np.zeros(len(points), dtype=np.int64)
        if len(hit_point):
            number = hit_poly + 1
            # The smallest number per point: sort by number descending, last write wins.
            order = np.argsort(-number, kind="stable")
            best[hit_point[order]] = number[order]
        return best

    def assign(self, points: gpd.GeoSeries) -> pd.Series:
        """The id of the polygon each point falls in, or None; aligned with ``points``."""
        if points.crs is not None and self.crs is not None and not points.crs.equals(self.crs):
            raise ValueError(f"CRS mismatch: points are {points.crs}, polygons are {self.crs}")
        present = (points.notna() & ~points.is_empty).to_numpy()
        x = np.full(len(points), np.nan)
        y = np.full(len(points), np.nan)
        if present.any():
            x[present] = shapely.get_x(points.values[present])
            y[present] = shapely.get_y(points.values[present])
        return pd.Series(self.ids[self.numbers_at(x, y)], index=points.index, dtype=object)


def assign_to_polygons(points: gpd.GeoSeries, polygons: gpd.GeoDataFrame, id_column: str) -> pd.Series:
    """The id of the polygon each point falls in, or None where it falls in none.

    A one-off :class:`PolygonIndex`; build the index once yourself to assign
    many batches against the same polygons.
    """
    if points.crs is not None and polygons.crs is not None and not points.crs.equals(polygons.crs):
        raise ValueError(f"CRS mismatch: points are {points.crs}, polygons are {polygons.crs}")
    return PolygonIndex(polygons, id_column).assign(points)
