"""Benchmark: ingest of the whole demo (2020 → today) into each store.

Run by hand: ``.venv/bin/python bench/ingest.py [--runs 3] [--pg URL]``.
Baseline, in the same process: read the same raw files with pandas and write
the same number of canonical cases with a plain ``GeoDataFrame.to_file`` —
the I/O no ingest can avoid. Quotes medians and the ratio to that baseline.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from demo.build import build_demo
from etl.geography import load_geography
from etl.ingest import ingest_many
from etl.profiles import read_profile
from etl.read import read_export
from layers.store import open_store


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test?schema=bench_ingest")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-"))
    built = build_demo(tmp / "demo", seed=2020)
    items = [(p, read_profile(c)) for c, p in built["exports"].items()]
    rows = None
    results = {"baseline": [], "gpkg": [], "postgis": []}
    for run in range(args.runs):
        for name, spec in (("gpkg", str(tmp / f"bench{run}.gpkg")), ("postgis", args.pg)):
            with open_store(spec) as store:
                store.reset()
                load_geography(built["geography"], store)
                seconds, report = timed(lambda: ingest_many(items, store))
                results[name].append(seconds)
                rows = report.rows_in
                cases = store.read("cases")

        def baseline():
            for path, profile in items:
                read_export(path, profile)
            cases.to_file(tmp / f"baseline{run}.gpkg", driver="GPKG")

        results["baseline"].append(timed(baseline)[0])
    base = statistics.median(results["baseline"])
    print(f"rows in: {rows}, cases: {len(cases)}, runs: {args.runs}")
    for name, values in results.items():
        med = statistics.median(values)
        print(f"{name:9s} median {med:6.2f} s  ({rows / med:8.0f} rows/s)  ratio to baseline {med / base:4.2f}"
              f"  runs {[round(v, 2) for v in values]}")


if __name__ == "__main__":
    main()
