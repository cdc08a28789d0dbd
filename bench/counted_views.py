"""Each counted view of a store the servers do not hold, timed one at a time (issue 22).

Run by hand on a province built by ``bench/province.py build`` (figures in ``bench/README.md``)::

    .venv/bin/python bench/counted_views.py [--schema bench_province_1m] [--runs 3]
    .venv/bin/python bench/counted_views.py --small     # a 2-district province of 200 000 cases, built first (and --baseline)

One person, the machine otherwise quiet: each function of ``layers.counted`` that the overview's callbacks
call (the tiles, the map's cells, the four charts, the table's page), over views of the sizes people ask for
(the province or a district over a year, a street over half a year, a grid leader's cells, the province over
five years, and the province's year narrowed by categories, a channel, or a status and level). The year ends
mid-month, as people's do, so a count by month has days at both ends. Each figure is the median of
``--runs`` after one run not timed; the view's cases are printed beside it, and the tiles' count is checked
against counting the same view's cases (``Store.aggregate`` over ``cases``). ``--baseline``: each view also
counted from ``case_counts`` alone (the one rollup before migration 16), in the same process, and the two
answers checked equal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchenv import check, record  # noqa: E402

PG = os.environ.get("ONEMAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


def views(store) -> list[tuple[str, object]]:
    from layers.areas import Area
    from layers.filters import CaseFilter

    codes = sorted(store.read("district")["district_code"])
    some = codes[len(codes) // 2]
    cells = sorted(store.read("grid_cells")["grid_cell"])
    leader = tuple(c for c in cells if c.startswith(some))[:2]
    year = CaseFilter(start=date(2024, 1, 10), end=date(2024, 12, 20))
    return [
        ("the province, a year", year),
        ("a district, a year", year.narrowed(district_code=some)),
        ("a street, half a year", year.narrowed(start=date(2024, 6, 10), district_code=some,
                                                 street_code=f"{some}003")),
        ("a grid leader's 2 cells, a year", year.narrowed(area=Area("cells", leader))),
        ("the province, five years", CaseFilter()),
        ("the province, a year, 2 categories", year.narrowed(categories=("邻里纠纷", "物业纠纷"))),
        ("the province, a year, a channel", year.narrowed(channels=("grid_platform",))),
        ("the province, a year, closed at the community", year.narrowed(statuses=("closed",), levels=("community",))),
    ]


def functions():
    from dashboards.table import _read_page
    from layers import counted

    return [
        ("tiles", lambda s, f: counted.kpis(s, f, as_of="2025-01-01")),
        ("cells", counted.per_cell),
        ("per day", counted.received_per_day),
        ("closed per day", counted.closed_per_day),
        ("categories", counted.per_category),
        ("channels", counted.per_channel),
        ("levels", counted.closed_per_level),
        ("table page", lambda s, f: _read_page(s, f, [{"column_id": "reported_at", "direction": "desc"}], 0, 20,
                                               "zh")),
    ]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--schema", default="bench_province_1m")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="build a 2-district province of 200 000 cases first")
    parser.add_argument("--baseline", action="store_true", help="each view also from case_counts alone")
    args = parser.parse_args()
    record(("pandas", "psycopg"), postgres=PG)
    if args.small:
        args.schema, args.runs, args.baseline = "bench_counted_small", 1, True
        subprocess.run([sys.executable, str(Path(__file__).parent / "province.py"), "build", "--districts", "2",
                        "--cases", "200000", "--schema", args.schema], check=True)

    from layers import counted
    from layers.store import open_store

    with open_store(f"{PG}?schema={args.schema}") as store:
        print(f"# store: {PG}?schema={args.schema}, {store.estimated_count('cases'):,} cases (estimated)")
        names = [name for name, _ in functions()]
        print("| view | cases | counted from | " + " | ".join(names) + " | all |")
        print("|---|---|---|" + "---|" * (len(names) + 1))
        for label, f in views(store):
            cases = int(store.aggregate("cases", counted.terms(store, f, "cases"))["rows"].sum())
            answers = {}
            for rollups in (("the narrowest", "case_counts") if args.baseline else ("the narrowest",)):
                row, answers[rollups] = [], []
                with widest_only(rollups == "case_counts"):
                    for name, call in functions():
                        call(store, f)
                        times = []
                        for _ in range(args.runs):
                            t = time.perf_counter()
                            answer = call(store, f)
                            times.append(time.perf_counter() - t)
                        if name == "tiles":
                            received = sum(answer[g]["received"] for g in ("disputes", "events", "petitions"))
                            check(received == cases, f"{label}: the tiles count {received}, the cases {cases}")
                        answers[rollups].append(comparable(answer))
                        row.append(statistics.median(times))
                print(f"| {label} | {cases:,} | {rollups} | " + " | ".join(f"{t * 1000:,.0f}" for t in row)
                      + f" | {sum(row) * 1000:,.0f} |", flush=True)
            check(len(set(map(tuple, answers.values()))) == 1, f"{label}: the rollups' answers differ")
        print("(milliseconds, median of", args.runs, "after one run not timed)")


def comparable(answer) -> str:
    """An answer as text that two equal answers share (a series' order is the store's grouping's: sorted)."""
    import pandas as pd

    return repr(answer.sort_index().to_dict() if isinstance(answer, pd.Series) else answer)


@contextlib.contextmanager
def widest_only(wanted: bool):
    """Every count read from case_counts (or the cases, where it has not the columns), as before the narrower
    rollups (migration 16)."""
    from layers import counted
    from layers.schema import LAYERS

    narrowest = counted._narrowest
    if wanted:
        counted._narrowest = lambda needed, grain: (
            "case_counts" if grain == "day" and needed <= set(LAYERS["case_counts"].columns) else None)
    try:
        yield
    finally:
        counted._narrowest = narrowest


if __name__ == "__main__":
    main()
