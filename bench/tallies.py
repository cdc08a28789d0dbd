"""A view's tiles, cells and charts counted under its mask against its cases copied out, at 1 000 000 cases (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/tallies.py [--rows 1000000] [--runs 5] [--small]

In one process, no server: the held copy of the store the 1M benches share (``dashboards.cache._load_cases``).
For each of ``dashboard_1m.CHANGES``' views (the whole district over five years down to one grid cell), as
the overview's KPI and chart callbacks count it, alternating run by run, checked equal:

- copied out, as at 2016662: the view's rows of the 12 columns counted (``every[COUNTED].iloc[rows]``), then
  ``compute_kpis`` and ``filtered_kpis``, the cells (``count_per_cell``) and the four charts' counts over them;
- counted under the mask (``layers.tallies``): the same from the held copy, the numbers of the view's rows (made
  from its mask here, once per filter and copy in the server) and the standings.

Both take the view's mask as made (``dashboards.selection.kept`` makes it once per filter and copy). The
standings are made once per copy of the cases (per write): timed apart, made again and brought up to date from
the copy before (``dashboards.selection.followed_standings``) after a write of 10 new cases, checked equal.
Prints medians and ratios.
``--small``: the 10 000-row store, 3 runs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, record  # noqa: E402
from dashboard_1m import CHANGES, YEARS, bench_store  # noqa: E402
from follow import new_rows  # noqa: E402

from dashboards.cache import _Follow, _load_cases, _plain_cases, _with_rows  # noqa: E402
from dashboards.selection import followed_standings  # noqa: E402
from layers import tallies  # noqa: E402
from layers.filters import CaseFilter, channel_counts, tally  # noqa: E402
from layers.kpis import compute_kpis, filtered_kpis  # noqa: E402
from layers.schema import LEVELS  # noqa: E402
from layers.store import matches, open_store, period_filter  # noqa: E402
from layers.views import count_per_cell  # noqa: E402

# What the overview's tiles, cells and charts read of a view's cases, copied out as at 2016662.
COUNTED = ["kind", "category", "channel", "channels", "reported_at", "closed_at", "due_at", "status", "level",
           "resolved_in_place", "reporter_phone", "grid_cell"]
_FIELDS = {"overview-period.start_date": "start", "overview-period.end_date": "end",
           "overview-street.value": "street_code", "overview-community.value": "community_code",
           "overview-cell.value": "grid_cell", "overview-category.value": "categories",
           "overview-status.value": "statuses", "overview-channel.value": "channels"}


def view_filter(change: dict) -> CaseFilter:
    """A view of ``dashboard_1m.CHANGES`` as the overview's filter."""
    values = {**YEARS, **change}
    terms = {_FIELDS[k]: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in _FIELDS}
    terms["start"], terms["end"] = date.fromisoformat(terms["start"]), date.fromisoformat(terms["end"])
    return CaseFilter(**terms, overdue_only=bool(values.get("overview-overdue.value")))


def copied_out(every, visits, within, f, cells, as_of):
    held = every[COUNTED]
    cases = held if within.all() else held.iloc[np.flatnonzero(within)]
    kpis = compute_kpis(cases, visits, start=f.start, end=f.end, as_of=as_of)
    kpis["all"] = filtered_kpis(cases, as_of=as_of)
    closed = (cases["status"] == "closed").to_numpy(dtype=bool)
    charts = (tallies.per_day(tallies.day_numbers(cases["reported_at"])),
              tallies.per_day(tallies.day_numbers(cases["closed_at"])), tally(cases["category"]),
              channel_counts(cases), tally(cases["level"], closed).reindex(list(LEVELS), fill_value=0))
    return kpis, count_per_cell(cases, cells)["cases"], charts


def under_mask(every, standing, visits, within, f, cells, as_of):
    rows = None if within.all() else np.flatnonzero(within)
    kpis = tallies.kpis(every, standing, rows, visits, start=f.start, end=f.end, as_of=as_of)
    charts = (tallies.per_day(standing.reported_day, rows), tallies.per_day(standing.closed_day, rows),
              tally(every["category"], rows), channel_counts(every, rows),
              tallies.closed_per_level(standing, rows))
    per_cell = cells[["grid_cell"]].assign(cases=cells["grid_cell"].map(tally(every["grid_cell"], rows)).fillna(0)
                                           .astype(int))
    return kpis, per_cell["cases"], charts


def same(a, b) -> bool:
    (ka, ca, ga), (kb, cb, gb) = a, b
    return ka == kb and ca.equals(cb) and all(
        x.equals(y) if isinstance(x, pd.Series) else x == y for x, y in zip(ga, gb))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.runs = 3
    record(["numpy", "pandas", "geopandas"])
    with open_store(str(bench_store(args.small, args.rows))) as store:
        follow = _Follow()
        every, all_visits = _load_cases(store, follow)
        cells = store.read("grid_cells")
        template = _plain_cases(store.read_page("cases", limit=10))
    as_of = pd.Timestamp.now()
    made = []
    for _ in range(args.runs):
        t = time.perf_counter()
        standing = tallies.standings(every)
        made.append(time.perf_counter() - t)
    # After a write of 10 new cases: the standings brought up to date from the copy's before, or made again.
    before, ways = every, {"made again": [], "followed": []}
    for run in range(args.runs):
        after = _with_rows(before, new_rows(run, template), follow)
        held = tallies.standings(before)
        t = time.perf_counter()
        again = tallies.standings(after)
        ways["made again"].append(time.perf_counter() - t)
        t = time.perf_counter()
        followed = followed_standings(held, before, after)
        ways["followed"].append(time.perf_counter() - t)
        check(all(np.array_equal(a, b, equal_nan=a.dtype.kind == "M") for a, b in zip(again, followed)),
              "the standings followed are those made again")
        before = after
    a, f = (statistics.median(ways[w]) * 1000 for w in ("made again", "followed"))
    print(f"{len(every):,} cases held; the standings made in {statistics.median(made) * 1000:.1f} ms; after a write "
          f"of 10 cases, made again {a:.1f} ms, brought up to date {f:.1f} ms ({a / f:.1f}x); "
          f"medians of {args.runs} runs")
    print("| view | cases in view | copied out | under the mask | ratio |")
    print("|---|---|---|---|---|")
    totals = {"copied out": [], "under the mask": []}
    for name, change in CHANGES:
        f = view_filter(change)
        within = f.mask(every, as_of=as_of)
        in_period = all_visits[matches(all_visits, period_filter(f.start, f.end))]
        visits = in_period[f.narrowed(start=None, end=None).mask(every.iloc[in_period["case_row"].to_numpy()])]
        view_cells = cells[cells["grid_cell"].isin(set(every["grid_cell"].astype(object)[within].dropna()))
                           ] if f.grid_cell else cells
        times = {"copied out": [], "under the mask": []}
        for _ in range(args.runs):
            t = time.perf_counter()
            before = copied_out(every, visits, within, f, view_cells, as_of)
            times["copied out"].append(time.perf_counter() - t)
            t = time.perf_counter()
            now = under_mask(every, standing, visits, within, f, view_cells, as_of)
            times["under the mask"].append(time.perf_counter() - t)
            check(same(before, now), f"{name}: the same tiles, cells and charts")
        o, n = (statistics.median(times[w]) * 1000 for w in ("copied out", "under the mask"))
        for way in totals:
            totals[way] += times[way]
        print(f"| {name} | {int(np.count_nonzero(within)):,} | {o:.1f} ms | {n:.1f} ms | {o / n:.1f} |", flush=True)
    o, n = (statistics.median(totals[w]) * 1000 for w in ("copied out", "under the mask"))
    print(f"| every view | | {o:.1f} ms | {n:.1f} ms | {o / n:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
