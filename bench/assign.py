"""Benchmark: assigning 1 000 000 points to the demo's grid cells.

Run by hand: ``.venv/bin/python bench/assign.py [--runs 3] [--points 1000000]``.
Baseline, in the same process: ``geopandas.sjoin(predicate="intersects")``
with the smallest cell id kept per point, the same rule ``gis.assign`` uses.
``PolygonIndex`` is timed with its build included. The results must be
identical, point for point, or the script fails.
"""

from __future__ import annotations

import argparse
import statistics
import time

import geopandas as gpd
import numpy as np
import shapely

from demo.district import build_district
from gis.assign import PolygonIndex


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def sjoin_assign(points, cells):
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points), cells[["grid_cell", "geometry"]], predicate="intersects")
    return joined["grid_cell"].groupby(level=0).min().reindex(points.index)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--points", type=int, default=1_000_000)
    args = parser.parse_args()
    cells = build_district(2020).grid_cells
    rng = np.random.default_rng(1)
    minx, miny, maxx, maxy = cells.total_bounds
    x, y = rng.uniform(minx, maxx, args.points), rng.uniform(miny, maxy, args.points)
    # Every cell vertex among them: the points where a wrong answer would show.
    vertices = shapely.get_coordinates(cells.boundary.values)
    x[: len(vertices)], y[: len(vertices)] = vertices[:, 0], vertices[:, 1]
    points = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=cells.crs)

    results = {"sjoin": [], "PolygonIndex": []}
    for _ in range(args.runs):
        seconds, expected = timed(lambda: sjoin_assign(points, cells))
        results["sjoin"].append(seconds)
        seconds, got = timed(lambda: PolygonIndex(cells, "grid_cell").assign(points))
        results["PolygonIndex"].append(seconds)
        same = [v if isinstance(v, str) else None for v in expected] == got.tolist()
        if not same:
            raise SystemExit("PolygonIndex and sjoin disagree")
    base = statistics.median(results["sjoin"])
    print(f"points {args.points}, cells {len(cells)}, in a cell {int(got.notna().sum())}, identical: yes")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:13s} median {med:6.3f} s  speed-up {base / med:5.1f}x  runs {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main()
