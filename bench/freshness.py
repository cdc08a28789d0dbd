"""From a write to the KPI that counts it, in a store of 1 000 000 cases (issue 18): changed rows against a re-read.

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/freshness.py [--rows 1000000] [--runs 5] [--postgis] [--small]

Builds the store as ``bench/write_small.py`` does, then in one process holds the server's copy of it
(``dashboards.cache.StoreCache``) and, ``--runs`` times: ingests an export of 10 new cases, brings the
copy up to date, and counts the cases a filter keeps in it (the mask every KPI tile starts from). Prints the medians of each step and of the whole (write → KPI), and,
in the same process, the same copy read whole again (what the server did before: ``_load_cases``),
with the process's RSS before and after the runs. Each run checks that the KPI counts the 10 cases.
``--small``: the 10 000-row store, 2 runs (for ``bench/run_small.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, record  # noqa: E402
from largestore import writable_copy  # noqa: E402
from write_small import PG, ten_new  # noqa: E402

from dashboards.cache import StoreCache, _load_cases  # noqa: E402
from etl.ingest import ingest  # noqa: E402
from layers.filters import CaseFilter  # noqa: E402
from layers.store import open_store  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def followed(spec: str, district, folder: Path, runs: int) -> dict:
    cache = StoreCache(check_s=0)
    year = CaseFilter(start=date(2000, 1, 1), end=date(2099, 12, 31))
    steps: dict[str, list[float]] = {"write": [], "follow": [], "kpi": [], "whole": [], "reread": []}
    with open_store(spec) as store:
        # A write first, so the store has change numbers (a store made before them is read whole once).
        ingest([ten_new(district, folder, 99, seed=7)], "grid_platform", store)
        cases, _ = cache.cases(store)
        counted = int(year.mask(cases).sum())
        rss_before = rss_mb()
        for run in range(runs):
            path = ten_new(district, folder, run, seed=int(time.time()) % 1000)
            started = time.perf_counter()
            report = ingest([path], "grid_platform", store)
            wrote = time.perf_counter()
            cases, _ = cache.cases(store)
            follow = time.perf_counter()
            now = int(year.mask(cases).sum())
            done = time.perf_counter()
            check(now == counted + report.stored, f"the KPI counts the {report.stored} new cases: {counted} → {now}")
            counted = now
            steps["write"].append(wrote - started)
            steps["follow"].append(follow - wrote)
            steps["kpi"].append(done - follow)
            steps["whole"].append(done - started)
        rss_after = rss_mb()
        for _ in range(max(1, runs // 2)):
            started = time.perf_counter()
            again, _ = _load_cases(store)
            steps["reread"].append(time.perf_counter() - started)
            check(len(again) == len(cases), "a whole read holds as many cases as the followed copy")
    return {k: statistics.median(v) for k, v in steps.items()} | {"rss_before": rss_before, "rss_after": rss_after,
                                                                  "cases": len(cases)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--postgis", action="store_true", help="the same on a PostGIS copy")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.runs = 2
    record(["pandas", "geopandas", "pyogrio", "psycopg"], postgres=PG if args.postgis else None)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec, district = writable_copy(folder, args.small, args.rows)
        specs = [("gpkg", spec)] + ([("postgis", f"{PG}?schema=bench_fresh_{uuid.uuid4().hex[:8]}")]
                                    if args.postgis else [])
        for kind, where in specs:
            if kind == "postgis":
                from tests.conftest import copy_store

                copy_store(spec, where)
            m = followed(where, district, folder, args.runs)
            print(f"{kind:8} {m['cases']:,} cases, 10 new per write (median of {args.runs}): write {m['write']:.2f} s, "
                  f"copy follows {m['follow']:.3f} s, KPI {m['kpi']:.3f} s; write → KPI {m['whole']:.2f} s. "
                  f"Read whole instead: {m['reread']:.2f} s (x{m['reread'] / m['follow']:.0f} the follow). "
                  f"RSS {m['rss_before']:.0f} → {m['rss_after']:.0f} MB over {args.runs} writes", flush=True)
            if kind == "postgis":
                with open_store(where) as store, store._connection() as conn:
                    conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
