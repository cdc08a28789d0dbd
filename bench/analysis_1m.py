"""Benchmark: the analyses of issue 5 over 1 000 000 cases.

Run by hand: ``.venv/bin/python bench/analysis_1m.py [--repeat 3]``. Uses the dashboard bench's store
(``bench/out/dashboard_1m.gpkg``: the demo geography and a million grid-platform events over five
years, built by ``bench/dashboard_1m.py`` if missing). Reads the five years' cases once (timed), then
times each analysis over them in memory, median of ``--repeat`` runs: Gi* hotspots over the 596 cells,
emerging hotspots (Gi* in each of 60 months and a Mann-Kendall trend per cell), the five blind-spot
rules (with every case's responsible unit looked up again), the priority list, and the remediation
effects of the 25 estates handed over (which read the store themselves).
``--small``: the 10 000-row store of ``dashboard_1m.py --small``, one repeat; fails (exit status 1) unless
every analysis answers for every cell (and every estate).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402
from dashboard_1m import bench_store  # noqa: E402

from demo.remediations import create_demo_remediations  # noqa: E402
from gis.blind_spots import blind_spots  # noqa: E402
from layers.analysis import cells_in, emerging_cells, hotspot_cells, placed  # noqa: E402
from layers.filters import CaseFilter  # noqa: E402
from layers.priority import priority_list  # noqa: E402
from layers.remediation import remediation_effects  # noqa: E402
from layers.responsibilities import responsible_units  # noqa: E402
from layers.store import open_store  # noqa: E402


def timed(make, repeat):
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = make()
        times.append(time.perf_counter() - t)
    return statistics.median(times), times, value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="the 10 000-row store, one repeat")
    args = parser.parse_args()
    if args.small:
        args.repeat = 1
    record(["numpy", "pandas", "pyarrow", "geopandas", "shapely", "pyogrio", "scipy", "esda", "libpysal"])
    path = bench_store(args.small, args.rows)
    f = CaseFilter(start=date(2020, 1, 1), end=date(2024, 12, 31))
    with open_store(str(path)) as store:
        if store.read("remediations").empty:
            create_demo_remediations(store)
        store_cases = store.count("cases")
        t = time.perf_counter()
        cases = f.read_cases(store)
        read_s = time.perf_counter() - t
        cells = cells_in(store, f)
        components, setback_areas = store.read("components"), store.read("setback_areas")
        responsibilities = store.read("responsibilities")
        print(f"{len(cases):,} cases read from the store in {read_s:.1f} s; {len(cells)} grid cells")
        results = {}
        results["hotspots (Gi*, FDR)"] = timed(lambda: hotspot_cells(cases, cells, measure="per_1000"), args.repeat)
        results["emerging (60 months)"] = timed(lambda: emerging_cells(
            cases, cells, start=f.start, end="2024-12-31 23:59:59", measure="per_1000"), args.repeat)
        results["blind spots (5 rules)"] = timed(lambda: placed(blind_spots(
            cases, components, setback_areas, responsible_units(cases, responsibilities)), store), args.repeat)
        hot = results["hotspots (Gi*, FDR)"][2].set_index("grid_cell")["bin"]
        spots = results["blind spots (5 rules)"][2]
        flagged = set(zip(spots["place_kind"], spots["place"]))
        places = cells.assign(place_kind="grid_cell", place=cells["grid_cell"],
                              area_km2=cells.to_crs("EPSG:4549").area / 1e6)
        results["priority list (cells)"] = timed(lambda: priority_list(
            places[["place_kind", "place", "name", "grid_cell", "area_km2"]], cases, hot, flagged), args.repeat)
        results["remediation effects (25)"] = timed(lambda: remediation_effects(store), 1)
        estates = len(store.read("remediations"))
    for name, (median, runs, value) in results.items():
        print(f"{name:28s} median {median:6.2f} s  runs {[round(r, 2) for r in runs]}  -> {len(value):,} rows")
    check(len(cases) == store_cases, f"{len(cases)} cases read for 2020-2024, the store holds {store_cases}")
    for name in ("hotspots (Gi*, FDR)", "emerging (60 months)", "priority list (cells)"):
        check(len(results[name][2]) == len(cells), f"{name}: {len(results[name][2])} rows for {len(cells)} cells")
    check(len(results["remediation effects (25)"][2]) == estates,
          f"remediation effects: {len(results['remediation effects (25)'][2])} rows for {estates} estates")


if __name__ == "__main__":
    main()
