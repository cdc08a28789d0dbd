"""The round-trip error of every export format and datum, in metres, for the closing note.

Run by hand: ``.venv/bin/python bench/export_roundtrip.py``. Copies the demo store
(``data/onemap.gpkg``, from ``onemap demo``), adds a component at the known point
29.87 N 121.55 E (CGCS2000), exports it in each format and datum, reads it back as
a GIS does (the tests' own reader: pyogrio/GDAL, pandas for CSV), and measures:

- lands at: the distance from where the file puts it to its known coordinates in that datum
  (EPSG:4549 E 649757.548 N 3306711.728 from DESIGN.md; GCJ-02 by our tested offset);
- back home: the distance after converting the read coordinates back to CGCS2000.

``--store PATH`` copies another GeoPackage store; ``--small`` a two-month demo store
(``bench/out/demo_small.gpkg``, built if missing). Either way it fails (exit status 1) if any
distance is over a millimetre.
"""

from __future__ import annotations

import argparse
import math
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from benchenv import check, record, small_demo_store  # noqa: E402

from gis.datums import to_cgcs2000  # noqa: E402
from layers.export import FORMATS, export_layers  # noqa: E402
from layers.store import open_store  # noqa: E402
from tests.layers.test_export import KNOWN_IN, known_point, point_back  # noqa: E402


def metres(a, b, projected=False) -> float:
    if projected:
        return math.dist(a, b)
    dx = (a[0] - b[0]) * 111_320 * math.cos(math.radians(29.87))
    return math.hypot(dx, (a[1] - b[1]) * 110_574)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--store", default=str(ROOT / "data" / "onemap.gpkg"), help="a GeoPackage store (copied)")
    parser.add_argument("--small", action="store_true", help="a two-month demo store")
    args = parser.parse_args()
    if args.small:
        args.store = str(small_demo_store(ROOT / "bench" / "out" / "demo_small.gpkg"))
    record(["numpy", "pandas", "geopandas", "shapely", "pyogrio", "pyproj"])
    folder = Path(tempfile.mkdtemp(prefix="onemap-roundtrip-"))
    shutil.copy(args.store, folder / "store.gpkg")
    worst = 0.0
    print("| format | datum | lands at (m) | back to CGCS2000 (m) |")
    print("|---|---|---|---|")
    with open_store(str(folder / "store.gpkg")) as store:
        known_point(store)
        for fmt in ("gpkg", "geojson", "csv", "shp", "kml"):
            for datum, expected in KNOWN_IN.items():
                if fmt == "kml" and datum not in ("wgs84", "gcj02"):
                    continue
                out = folder / f"{fmt}_{datum}{FORMATS[fmt].suffix}"
                export_layers(store, ["components"], out, fmt=fmt, datum=datum)
                x, y = point_back(out, fmt, datum)
                lon, lat = to_cgcs2000(np.array([x]), np.array([y]), {"gk": "EPSG:4549"}.get(datum, datum))
                lands, home = metres((x, y), expected, datum == "gk"), metres((lon[0], lat[0]), (121.55, 29.87))
                print(f"| {fmt} | {datum} | {lands:.2e} | {home:.2e} |")
                worst = max(worst, lands, home)
    shutil.rmtree(folder)
    check(worst <= 1e-3, f"a round trip is off by {worst * 1000:.2f} mm")


if __name__ == "__main__":
    main()
