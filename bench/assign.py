"""Benchmark: assigning 1 000 000 points to the demo's grid cells.

Run by hand: ``.venv/bin/python bench/assign.py [--runs 3] [--points 1000000]``; ``--small``: 20 000
points, one run (the check of ``bench/run_small.py``).
Baseline, in the same process: ``geopandas.sjoin(predicate="intersects")``
with the smallest cell id kept per point, the same rule ``gis.assign`` uses
(its time printed in two parts: the join, then keeping the smallest id per point).
``PolygonIndex`` is timed with its build included. The results must be
identical, point for point, or the script fails (exit status 1).

A third line, the floor: the same points' coordinates taken from the same GeoSeries and binned
with ``numpy.histogram2d`` into a regular grid of as many bins as there are cells over the same
bounding box. It assigns nothing (the cells are not a regular grid); it is the arithmetic any
point-by-point assignment has to do at least.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402

from demo.district import build_district  # noqa: E402
from gis.assign import PolygonIndex  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def sjoin_assign(points, cells, parts):
    t = time.perf_counter()
    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points), cells[["grid_cell", "geometry"]], predicate="intersects")
    parts["join"].append(time.perf_counter() - t)
    t = time.perf_counter()
    smallest = joined["grid_cell"].groupby(level=0).min().reindex(points.index)
    parts["smallest id per point"].append(time.perf_counter() - t)
    return smallest


def floor(points, bounds, bins):
    """Coordinates out of the GeoSeries and binned: the least work of any assignment (assigns nothing)."""
    xy = shapely.get_coordinates(points.values)
    minx, miny, maxx, maxy = bounds
    counts, _, _ = np.histogram2d(xy[:, 0], xy[:, 1], bins=bins, range=[[minx, maxx], [miny, maxy]])
    return counts


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--small", action="store_true", help="20 000 points, one run")
    args = parser.parse_args()
    if args.small:
        args.points, args.runs = 20_000, 1
    record(["numpy", "pandas", "geopandas", "shapely", "pyogrio", "rasterio"])
    cells = build_district(2020).grid_cells
    rng = np.random.default_rng(1)
    bounds = minx, miny, maxx, maxy = cells.total_bounds
    x, y = rng.uniform(minx, maxx, args.points), rng.uniform(miny, maxy, args.points)
    # Every cell vertex among them: the points where a wrong answer would show.
    vertices = shapely.get_coordinates(cells.boundary.values)
    x[: len(vertices)], y[: len(vertices)] = vertices[:, 0], vertices[:, 1]
    points = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=cells.crs)
    # A regular grid of (about) as many bins as cells, in the bounding box's proportions.
    nx = max(1, round(math.sqrt(len(cells) * (maxx - minx) / (maxy - miny))))
    bins = (nx, max(1, round(len(cells) / nx)))

    results = {"sjoin": [], "PolygonIndex": [], "floor": []}
    parts = {"join": [], "smallest id per point": []}
    for _ in range(args.runs):
        seconds, expected = timed(lambda: sjoin_assign(points, cells, parts))
        results["sjoin"].append(seconds)
        seconds, got = timed(lambda: PolygonIndex(cells, "grid_cell").assign(points))
        results["PolygonIndex"].append(seconds)
        seconds, counts = timed(lambda: floor(points, bounds, bins))
        results["floor"].append(seconds)
        same = [v if isinstance(v, str) else None for v in expected] == got.tolist()
        check(same, "PolygonIndex and sjoin disagree")
        check(int(counts.sum()) == args.points, f"the floor binned {int(counts.sum())} of {args.points} points")
    base = statistics.median(results["sjoin"])
    print(f"points {args.points}, cells {len(cells)}, in a cell {int(got.notna().sum())}, identical: yes; "
          f"floor bins {bins[0]}x{bins[1]} = {bins[0] * bins[1]}")
    print("sjoin in parts: " + ", ".join(f"{name} median {statistics.median(v):.3f} s runs {[round(s, 3) for s in v]}"
                                         for name, v in parts.items()))
    labels = {"sjoin": "sjoin", "PolygonIndex": "PolygonIndex", "floor": "floor (histogram2d, assigns nothing)"}
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{labels[name]:37s} median {med:6.3f} s  speed-up {base / med:5.1f}x  "
              f"runs {[round(v, 3) for v in values]}")


if __name__ == "__main__":
    main()
