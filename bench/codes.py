"""What reading a held categorical's codes costs in the dashboard's filters, at 1 000 000 cases (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/codes.py [--rows 1000000] [--runs 21] [--small]

In process, no store: the synthetic copy of ``bench/follow.py`` (``_held_cases`` over ``plain_cases``). Times,
now and as at 3a551e2 (the functions kept here read the codes through ``Series.cat.codes``, which makes a
new Series and, in pandas 3, copies the codes), alternating run by run, checked equal:

- a filter's mask (``layers.store.matches``): a street, three categories, a status; as every KPI tile,
  chart and table page starts from (``dashboards.selection.kept``);
- a tally of the categories (``layers.filters.tally``), as the charts count;
- the table's sort key for the status column (``dashboards.table._sort_key``).

Prints medians and ratios. ``--small``: 20 000 cases, 5 runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, record  # noqa: E402
from follow import plain_cases  # noqa: E402

from dashboards.cache import _held_cases  # noqa: E402
from dashboards.table import _sort_key  # noqa: E402
from layers.filters import tally  # noqa: E402
from layers.store import Condition, base, matches  # noqa: E402

# --- Baseline: as at 3a551e2, for comparison only. --------------------------------------------------------


def _old_has_code(column: pd.Series, values: list) -> np.ndarray:
    wanted = column.cat.categories.get_indexer(values)
    wanted, codes = wanted[wanted >= 0], column.cat.codes.to_numpy()
    if len(wanted) <= 4:
        hit = np.zeros(len(codes), dtype=bool)
        for code in wanted:
            hit |= codes == code
        return hit
    answer = np.zeros(len(column.cat.categories) + 1, dtype=bool)
    answer[wanted] = True
    return answer.take(codes)


def _old_tally(column: pd.Series) -> pd.Series:
    codes = column.cat.codes.to_numpy()
    n = np.bincount(codes[codes >= 0], minlength=len(column.cat.categories))
    counts = pd.Series(n, index=column.cat.categories.astype(object))
    return counts[counts > 0].sort_values(ascending=False, kind="stable")


def _old_sort_key(column: pd.Series) -> np.ndarray:
    categories = column.cat.categories
    rank = np.empty(len(categories) + 1, dtype=np.int64)
    rank[:-1] = np.arange(len(categories)) if categories.is_monotonic_increasing else (
        np.argsort(np.argsort(categories.to_numpy(dtype=object), kind="stable"), kind="stable"))
    rank[-1] = -1
    return rank[column.cat.codes.to_numpy()]

# --- End of the baseline. -------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=21)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.rows, args.runs = 20_000, 5
    record(["numpy", "pandas"])
    cases = _held_cases(plain_cases(args.rows))
    street = str(cases["street_code"].cat.categories[0])
    categories = [str(c) for c in cases["category"].cat.categories[:3]]
    terms = [Condition("street_code", "=", street), Condition("category", "in", categories),
             Condition("status", "in", [str(cases["status"].cat.categories[0])])]
    now = base._has_code

    def mask_before():
        base._has_code = _old_has_code
        try:
            return matches(cases, terms)
        finally:
            base._has_code = now

    ways = {
        "a filter's mask (3 categorical terms)": (lambda: matches(cases, terms), mask_before),
        "a tally of the categories": (lambda: tally(cases["category"]), lambda: _old_tally(cases["category"])),
        "the table's sort key (status)": (lambda: _sort_key(cases["status"]), lambda: _old_sort_key(cases["status"])),
    }
    print(f"{len(cases):,} cases held; medians of {args.runs}")
    print("| what | before (.cat.codes) | now (.array.codes) | ratio |")
    print("|---|---|---|---|")
    for name, (new, old) in ways.items():
        times: dict[str, list[float]] = {"old": [], "new": []}
        for _ in range(args.runs):
            for way, call in (("old", old), ("new", new)):
                t = time.perf_counter()
                answer = call()
                times[way].append(time.perf_counter() - t)
                if way == "old":
                    expected = answer
                else:
                    same = expected.equals(answer) if isinstance(answer, pd.Series) else np.array_equal(expected, answer)
                    check(same, f"{name}: the same answer")
        o, n = statistics.median(times["old"]) * 1000, statistics.median(times["new"]) * 1000
        print(f"| {name} | {o:.2f} ms | {n:.2f} ms | {o / n:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
