"""Benchmark: ingest of the whole demo (2020 → today) into each store.

Run by hand: ``.venv/bin/python bench/ingest.py [--runs 3] [--pg URL]``; ``--small``: the demo's first two
months (about 4 700 rows), one run (``bench/run_small.py``). Fails unless every row is accounted for
and both stores end with the same cases.
Baseline, in the same process: read the same raw files with pandas and write
the same number of canonical cases with a plain ``GeoDataFrame.to_file`` —
the I/O no ingest can avoid. Quotes medians and the ratio to that baseline.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402

from demo.build import build_demo  # noqa: E402
from etl.geography import load_geography  # noqa: E402
from etl.ingest import ingest_many  # noqa: E402
from etl.profiles import read_profile  # noqa: E402
from etl.read import read_export  # noqa: E402
from layers.store import open_store  # noqa: E402


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432/test?schema=bench_ingest")
    parser.add_argument("--small", action="store_true", help="the demo until 2020-03-01, one run")
    args = parser.parse_args()
    if args.small:
        args.runs = 1
        args.pg = args.pg.replace("schema=bench_ingest", "schema=bench_ingest_small")
    record(["numpy", "pandas", "pyarrow", "geopandas", "shapely", "pyogrio", "pyproj", "rapidfuzz", "psycopg"],
           postgres=args.pg.split("?")[0])
    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-"))
    built = build_demo(tmp / "demo", seed=2020, until="2020-03-01" if args.small else None)
    items = [(p, read_profile(c)) for c, p in built["exports"].items()]
    rows = None
    counts = {}
    results = {"baseline": [], "gpkg": [], "postgis": []}
    for run in range(args.runs):
        for name, spec in (("gpkg", str(tmp / f"bench{run}.gpkg")), ("postgis", args.pg)):
            with open_store(spec) as store:
                store.reset()
                load_geography(built["geography"], store)
                seconds, report = timed(lambda: ingest_many(items, store))
                results[name].append(seconds)
                rows = report.rows_in
                for f in report.files:
                    check(f.rows_in == f.stored + f.merged + f.quarantined,
                          f"{name}, {f.file}: {f.rows_in} rows in, {f.stored} stored, {f.merged} merged, "
                          f"{f.quarantined} quarantined")
                cases = store.read("cases")
                counts[name] = (len(cases), report.stored, report.merged, report.quarantined)
        check(counts["gpkg"] == counts["postgis"], f"the stores differ (cases, stored, merged, quarantined): {counts}")

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
    shutil.rmtree(tmp, ignore_errors=True)
    if args.small:  # the small run's schema is not kept
        import psycopg

        with psycopg.connect(args.pg.split("?")[0], autocommit=True) as conn:
            conn.execute('DROP SCHEMA IF EXISTS "bench_ingest_small" CASCADE')


if __name__ == "__main__":
    main()
