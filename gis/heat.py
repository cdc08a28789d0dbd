"""Case heat: Gaussian kernel density on a metric grid.

Points are binned on a square grid in CGCS2000 / 3-degree Gauss-Krüger
(metres, never degrees) and the counts smoothed with a Gaussian of standard
deviation ``bandwidth_m``: the binned kernel density estimate, which differs
from the exact sum of kernels by less than the bin size and costs one pass
over the points whatever their number. Density is in cases per km².
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from pyproj import Transformer
from scipy.ndimage import gaussian_filter

from gis.datums import METRIC_CRS, STORAGE_CRS

BANDWIDTH_M = 300.0
CELL_M = 50.0

_TO_METRIC = Transformer.from_crs(STORAGE_CRS, METRIC_CRS, always_xy=True)
_TO_LONLAT = Transformer.from_crs(METRIC_CRS, STORAGE_CRS, always_xy=True)


@dataclass(frozen=True)
class Heat:
    """A kernel density raster over a box in metres, with the bandwidth it was made with."""

    density: np.ndarray  # cases per km², rows north to south
    bounds: tuple[float, float, float, float]  # minx, miny, maxx, maxy in METRIC_CRS metres
    bandwidth_m: float
    cell_m: float

    def corners_lonlat(self) -> list[list[float]]:
        """The grid's corners in lon/lat, top-left first, clockwise (as a map's image source wants them)."""
        minx, miny, maxx, maxy = self.bounds
        xs, ys = _TO_LONLAT.transform([minx, maxx, maxx, minx], [maxy, maxy, miny, miny])
        return [[float(x), float(y)] for x, y in zip(xs, ys)]


def to_metric(lon, lat) -> tuple[np.ndarray, np.ndarray]:
    """CGCS2000 lon/lat to metres (EPSG:4549, Gauss-Krüger CM 120E)."""
    return _TO_METRIC.transform(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float))


def kernel_density(x, y, bounds, *, bandwidth_m: float = BANDWIDTH_M, cell_m: float = CELL_M,
                   weights=None) -> Heat:
    """Density of the points ``x, y`` (metres in METRIC_CRS) over ``bounds``, padded by three bandwidths;
    ``weights``: how many cases each point stands for (one each without)."""
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    pad = 3 * bandwidth_m
    minx, miny = bounds[0] - pad, bounds[1] - pad
    nx = max(1, int(np.ceil((bounds[2] + pad - minx) / cell_m)))
    ny = max(1, int(np.ceil((bounds[3] + pad - miny) / cell_m)))
    maxx, maxy = minx + nx * cell_m, miny + ny * cell_m
    counts, _, _ = np.histogram2d(y, x, bins=(ny, nx), range=((miny, maxy), (minx, maxx)),
                                  weights=None if weights is None else np.asarray(weights, dtype=float))
    smoothed = gaussian_filter(counts, sigma=bandwidth_m / cell_m, mode="constant", truncate=4.0)
    per_km2 = smoothed / (cell_m * cell_m) * 1e6
    return Heat(per_km2[::-1], (minx, miny, maxx, maxy), bandwidth_m, cell_m)
