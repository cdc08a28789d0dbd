"""What a write of a few cases costs in a large store: 10 new cases into a store of 1 000 000 (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/write_small.py [--rows 1000000] [--runs 5] [--postgis] [--small]

Copies the store the 1M benches share (``bench/largestore.py``: the demo's geography and ``--rows``
grid-platform cases) and with ``--postgis`` that copy into a PostGIS schema, then ingests an export
of 10 new cases ``--runs`` times (new ids each time) and prints the median seconds and the first
write's (it reads the district's geography, which later writes in the process reuse): as the code is,
and, in the same process, with the intake-record lookup as it was before (the channel's whole
history read to know which ids were seen: ``etl.ingest.KNOWN_LOOKUP_MAX = 0``). Each write is
checked: 10 rows in, 10 stored. ``--small``: the 10 000-row store, 2 runs (for ``bench/run_small.py``).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402
from ingest_1m import synthetic_export  # noqa: E402
from largestore import writable_copy  # noqa: E402

import etl.ingest  # noqa: E402
from etl.ingest import ingest  # noqa: E402
from layers.store import open_store  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"


def ten_new(district, folder: Path, run: int, seed: int) -> Path:
    """An export of 10 cases whose ids no store holds yet."""
    path = synthetic_export(district["district"], 200, folder / f"new_{seed}_{run}.csv", seed=100 + seed * 10 + run)
    text = path.read_text(encoding="utf-8-sig").splitlines()
    header, rows = text[0], [r for r in text[1:] if "abc" not in r and "2021-02-30" not in r][:10]  # no defects
    fresh = [f"NEW{seed}{run}{i:03d}" + row[row.index(","):] for i, row in enumerate(rows)]
    path.write_text("\n".join([header, *fresh]) + "\n", encoding="utf-8")
    return path


def timed_writes(spec, district, folder, runs, seed) -> list[float]:
    times = []
    for run in range(runs):
        path = ten_new(district, folder, run, seed)
        with open_store(spec) as store:
            started = time.perf_counter()
            report = ingest([path], "grid_platform", store)
            times.append(time.perf_counter() - started)
        check(report.rows_in == 10 and report.stored + report.merged == 10, f"10 rows in, 10 kept: {report.to_dict()}")
    return times


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
        with open_store(spec) as store:
            held = store.count("cases")
        specs = [("gpkg", spec)] + ([("postgis", f"{PG}?schema=bench_write_{uuid.uuid4().hex[:8]}")]
                                    if args.postgis else [])
        for kind, where in specs:
            if kind == "postgis":
                sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
                from tests.conftest import copy_store

                copy_store(spec, where)
            now = timed_writes(where, district, folder, args.runs, seed=1)
            lookup, etl.ingest.KNOWN_LOOKUP_MAX = etl.ingest.KNOWN_LOOKUP_MAX, 0
            before = timed_writes(where, district, folder, args.runs, seed=2)
            etl.ingest.KNOWN_LOOKUP_MAX = lookup
            median, was = statistics.median(now), statistics.median(before)
            print(f"{kind:8} 10 new cases into {held:,}: {median:6.2f} s (the first {now[0]:.2f} s); "
                  f"the whole-history lookup {was:6.2f} s (x{was / median:.1f}); median of {args.runs}", flush=True)
            if kind == "postgis":
                with open_store(where) as store, store._connection() as conn:
                    conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
    return 0


if __name__ == "__main__":
    sys.exit(main())
