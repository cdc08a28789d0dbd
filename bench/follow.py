"""What a server's copy of 1 000 000 cases costs to follow a write of 10 cases, in process (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/follow.py [--rows 1000000] [--runs 7] [--small]

Builds a synthetic copy of ``--rows`` cases in the form the server holds it (``dashboards.cache._held_cases``
over plain cases shaped like ``_plain_cases``'s: case ids unique, phones about rows/3 distinct, addresses
rows/5, components rows/50, 400 grid cells, 40 categories, their share of missing values), then times
``dashboards.cache._with_rows`` for 10 new cases (new ids, phones and addresses) and for 10 changed ones
(status and close time), ``--runs`` follows in a row after one not timed, each on the copy the last
made, as a server does. Baseline in the same process: ``_with_rows`` as it was at 4f7092d (kept here,
``_old_with_rows``). Prints medians, the ratio, and the copy's memory (``memory_usage(deep=True)``
summed, with the categories' hash tables that are built) before and after, and what the new follow's
lookups hold besides. Checks that the two give the same copy, column by column; exits 1 if not.
``--small``: 20 000 cases, 3 runs (for ``bench/run_small.py``).
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

from dashboards.cache import _Follow, _held_cases, _with_rows  # noqa: E402

# --- Baseline: the follow as it was at 4f7092d (dashboards/cache.py), for comparison only. -----------------

def _old_with_rows(cases: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    codes = cases["case_id"].cat.categories.get_indexer(rows["case_id"].astype(object))
    row_of = np.full(len(cases["case_id"].cat.categories), -1, dtype=np.int64)
    row_of[cases["case_id"].cat.codes.to_numpy()] = np.arange(len(cases))
    at = np.where(codes >= 0, row_of[np.maximum(codes, 0)], -1)
    fresh, changed = (at < 0), (at >= 0)
    columns = {}
    for column in cases.columns:
        held = cases[column]
        if isinstance(held.dtype, pd.CategoricalDtype):
            dtype, given = _old_grown_codes(held.dtype, rows[column])
            out = np.concatenate([held.cat.codes.to_numpy(), given[fresh]])
            out[at[changed]] = given[changed]
            columns[column] = pd.Categorical.from_codes(out, dtype=dtype, validate=False)
        else:
            given = rows[column].astype(held.dtype)
            out = pd.concat([held, given[fresh]], ignore_index=True)
            out.iloc[at[changed]] = given[changed].to_numpy()
            columns[column] = out
    return pd.DataFrame(columns)


def _old_grown_codes(dtype: pd.CategoricalDtype, values: pd.Series) -> tuple[pd.CategoricalDtype, np.ndarray]:
    known = dtype.categories
    plain = values.astype(object).to_numpy()
    codes = known.get_indexer(plain)
    present = pd.notna(plain)
    new = pd.Index(pd.unique(plain[(codes < 0) & present]), dtype=known.dtype)
    if len(new):
        where = new.get_indexer(plain)
        codes = np.where((codes < 0) & (where >= 0), len(known) + where, codes)
        dtype = pd.CategoricalDtype(known.append(new), ordered=dtype.ordered)
    return dtype, codes.astype(np.int64)

# --- End of the baseline. -------------------------------------------------------------------------------


def plain_cases(n: int, *, seed: int = 2020, first: int = 0) -> pd.DataFrame:
    """``n`` cases as ``dashboards.cache._plain_cases`` gives them (pandas' ``str`` text, ms times, nullable
    booleans, coordinates as numbers), with ids from ``first``, in id order."""
    rng = np.random.default_rng(seed)

    def drawn(prefix, distinct, missing=0.0):
        values = np.array([f"{prefix}{i:08d}" for i in range(max(1, distinct))], dtype=object)[
            rng.integers(0, max(1, distinct), n)]
        values[rng.random(n) < missing] = None
        return pd.array(values, dtype="str")

    start = np.datetime64("2020-01-01T00:00:00", "ms")
    reported = start + rng.integers(0, 5 * 365 * 86_400_000, n).astype("timedelta64[ms]")
    closed = reported + rng.integers(0, 30 * 86_400_000, n).astype("timedelta64[ms]")
    closed[rng.random(n) < 0.05] = np.datetime64("NaT")
    lon, lat = 121.40 + rng.random(n) * 0.25, 29.80 + rng.random(n) * 0.20
    lost = rng.random(n) < 0.001
    lon[lost], lat[lost] = np.nan, np.nan
    return pd.DataFrame({
        "case_id": pd.array([f"grid_platform:GP{i:09d}" for i in range(first, first + n)], dtype="str"),
        "kind": drawn("kind", 3), "category": drawn("类别", 40), "channel": drawn("channel", 8),
        "channels": drawn("channels", 23, 0.7), "reported_at": reported, "closed_at": closed,
        "due_at": reported + np.timedelta64(20 * 86_400_000, "ms"), "status": drawn("status", 4),
        "level": drawn("level", 3), "resolved_in_place": pd.array(rng.random(n) < 0.9, dtype="boolean"),
        "reporter_phone": drawn("138", n // 3, 0.2), "grid_cell": drawn("330205", 400, 0.04),
        "community_code": drawn("330205", 152, 0.01), "street_code": drawn("3302050", 8, 0.01),
        "responsible_unit": drawn("单位", 160, 0.02), "address": drawn("宁波市江北区某路", n // 5, 0.6),
        "estate_id": drawn("estate", 1000, 0.9), "setback_area": drawn("setback", 2000, 0.9),
        "component_id": drawn("3302050101", n // 50, 0.9),
        "outside_grid": pd.array(rng.random(n) < 0.01, dtype="boolean"), "district_code": drawn("330205", 1),
        "lon": lon, "lat": lat, "x_m": lon * 1e5, "y_m": lat * 1e5})


def new_rows(run: int, template: pd.DataFrame) -> pd.DataFrame:
    """10 cases no copy holds, with a new reporter, address and component each (known categories, cells)."""
    rows = template.iloc[:10].copy().reset_index(drop=True)
    tag = [f"{run:03d}{i:02d}" for i in range(10)]
    rows["case_id"] = pd.array([f"open311:NEW{t}" for t in tag], dtype="str")
    rows["reporter_phone"] = pd.array([f"199{t:0>8}" for t in tag], dtype="str")
    rows["address"] = pd.array([f"宁波市江北区新路{t}号" for t in tag], dtype="str")
    rows["component_id"] = pd.array([f"3302059999{t:0>6}" for t in tag], dtype="str")
    return rows


def changed_rows(run: int, held: pd.DataFrame, plain: pd.DataFrame) -> pd.DataFrame:
    """10 held cases (spread over the copy) closed, as a write would change them."""
    picked = plain.iloc[np.linspace(0, len(plain) - 20, 10).astype(int) + run + 1].copy().reset_index(drop=True)
    picked["status"] = pd.array(["closed"] * 10, dtype="str")
    picked["closed_at"] = np.datetime64("2026-12-01T09:00:00", "ms") + np.timedelta64(run, "m")
    return picked


def memory_mb(cases: pd.DataFrame) -> float:
    return cases.memory_usage(deep=True, index=False).sum() / 1e6


def kept_mb(follow: _Follow) -> float:
    """What the new follow keeps beyond the copy: each lookup's base (pointers and hash table) where it is
    not the copy's own categories any more (its strings are the copy's), the dicts of values added since,
    and the room left at the end of the buffers the copy's arrays are views of."""
    total = 0
    for lookup in follow.lookups.values():
        if lookup.base is not None and lookup.base is not lookup.at:
            total += lookup.base.memory_usage(deep=False)
        total += sys.getsizeof(lookup.added) + 32 * len(lookup.added)  # an int per entry
    for room in follow.rooms.values():
        if room.buffer is not None:
            total += (len(room.buffer) - room.used) * room.buffer.itemsize
    return total / 1e6


def timed(follow, held, rows_of_run, runs: int) -> tuple[list[float], list[pd.DataFrame]]:
    """``runs`` follows in a row, each on the copy the last made, after one not timed; and every copy made
    (kept, as requests that began with them would)."""
    copies = [follow(held, rows_of_run(-1))]
    times = []
    for run in range(runs):
        rows = rows_of_run(run)
        started = time.perf_counter()
        copies.append(follow(copies[-1], rows))
        times.append(time.perf_counter() - started)
    return times, copies


def arrays_mb(copies: list[pd.DataFrame]) -> float:
    """The memory of the arrays under ``copies``, each buffer counted once however many copies view it
    (codes, times, coordinates, booleans and the categories' pointers; not the strings, which all share)."""
    seen: dict[int, int] = {}
    for cases in copies:
        for column in cases.columns:
            values = cases[column].array
            if isinstance(values, pd.Categorical):
                parts = [values.codes, values.categories.to_numpy()]
            elif hasattr(values, "_data") and hasattr(values, "_mask"):
                parts = [values._data, values._mask]
            else:
                parts = [values._ndarray]
            for part in parts:
                owner = part.base if isinstance(part.base, np.ndarray) else part
                seen[id(owner)] = owner.nbytes
    return sum(seen.values()) / 1e6


def same(a: pd.DataFrame, b: pd.DataFrame) -> str | None:
    """The first column in which two copies differ, or None."""
    if list(a.columns) != list(b.columns) or len(a) != len(b):
        return "shape"
    for column in a.columns:
        x, y = a[column], b[column]
        if isinstance(x.dtype, pd.CategoricalDtype):
            if not (isinstance(y.dtype, pd.CategoricalDtype) and x.cat.categories.equals(y.cat.categories)
                    and np.array_equal(x.cat.codes.to_numpy(), y.cat.codes.to_numpy())):
                return column
        elif not x.reset_index(drop=True).equals(y.reset_index(drop=True)):
            return column
    return None


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.rows, args.runs = 20_000, 3
    record(["pandas", "numpy", "pyarrow"])
    started = time.perf_counter()
    plain = plain_cases(args.rows)
    held = _held_cases(plain.copy())
    print(f"# {len(held):,} cases made in {time.perf_counter() - started:.1f} s; "
          f"{held['reporter_phone'].cat.categories.size:,} phones, {held['address'].cat.categories.size:,} "
          f"addresses, {held['component_id'].cat.categories.size:,} components, "
          f"{held['grid_cell'].cat.categories.size} cells", flush=True)
    before = memory_mb(held)
    results = {}
    for name, rows_of_run in (("10 new", lambda run: new_rows(run, plain)),
                              ("10 changed", lambda run: changed_rows(run, held, plain))):
        follow = _Follow()
        new_times, new_copies = timed(lambda c, r: _with_rows(c, r, follow), held, rows_of_run, args.runs)
        old_times, old_copies = timed(_old_with_rows, held, rows_of_run, args.runs)
        new_copy, old_copy = new_copies[-1], old_copies[-1]
        differs = same(new_copy, old_copy)
        check(differs is None, f"{name}: the copies differ in {differs}")
        grown = args.runs + 1 if name == "10 new" else 0
        check(len(new_copy) == len(held) + 10 * grown, f"{name}: {len(new_copy)} rows, {len(held) + 10 * grown} due")
        check(held.equals(_held_cases(plain.copy())), f"{name}: the copy followed from was written into")
        results[name] = (old_times, new_times, memory_mb(old_copy), memory_mb(new_copy), kept_mb(follow),
                         arrays_mb(old_copies), arrays_mb(new_copies))
        del new_copies, old_copies, new_copy, old_copy
    print(f"{len(held):,} cases held, {before:.0f} MB (memory_usage deep); medians of {args.runs} follows in a row")
    print(f"| rows written | old median | new median | ratio old/new | old runs (ms) | new runs (ms) "
          f"| last copy, old / new | new keeps besides | arrays of all {args.runs + 1} copies, old / new |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (old, new, old_mb, new_mb, extra, old_all, new_all) in results.items():
        o, n = statistics.median(old) * 1e3, statistics.median(new) * 1e3
        print(f"| {name} | {o:.1f} ms | {n:.1f} ms | {o / n:.1f} | {', '.join(f'{t * 1e3:.0f}' for t in old)} "
              f"| {', '.join(f'{t * 1e3:.1f}' for t in new)} | {old_mb:.0f} / {new_mb:.0f} MB | {extra:.1f} MB "
              f"| {old_all:.0f} / {new_all:.0f} MB |", flush=True)
    old, new = (statistics.median(results["10 new"][i]) for i in (0, 1))
    print(f"10 new cases followed in {new * 1e3:.1f} ms (was {old * 1e3:.1f} ms, x{old / new:.1f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
