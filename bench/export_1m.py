"""Benchmark: exporting 1 000 000 cases, against a plain ``GeoDataFrame.to_file`` of the same data.

Run by hand: ``.venv/bin/python bench/export_1m.py [--repeat 3]``. Uses the dashboard bench's store
(``bench/out/dashboard_1m.gpkg``, built by ``bench/dashboard_1m.py`` if missing). Every measurement
runs in a fresh process, so its peak memory (max RSS) is its own:

- baseline: ``pyogrio.read_dataframe`` of the cases layer, then ``GeoDataFrame.to_file`` to GeoPackage
  or GeoJSON; the write alone is the baseline time (the read is reported beside it);
- export: ``onemap export cases`` as the CLI runs it (``layers.export.export_layers``: read from the
  store a batch at a time, mask personal fields, write), timed whole, read included;
- memory: the export of a quarter, a half and all of the cases (by period) to GeoJSON, CSV and
  GeoPackage: streaming means the peak does not grow with the rows.

Prints a Markdown table per part; medians of ``--repeat`` runs, the export's ratio to the baseline.
``--small``: the 10 000-row store of ``dashboard_1m.py --small``, one repeat, the memory part for the
whole period only; fails (exit status 1) unless every export writes every case of its period.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402
from dashboard_1m import bench_store  # noqa: E402

DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON"}


def child(kind: str, fmt: str, store_path: str, start: str | None, end: str | None) -> dict:
    """One measurement, in this (fresh) process."""
    import pyogrio

    folder = Path(tempfile.mkdtemp(prefix="onemap-bench-export-"))
    out = folder / f"cases.{fmt}"
    result = {"kind": kind, "fmt": fmt}
    if kind == "baseline":
        t = time.perf_counter()
        frame = pyogrio.read_dataframe(store_path, layer="cases")
        result["read_s"] = time.perf_counter() - t
        t = time.perf_counter()
        frame.to_file(out, driver=DRIVERS[fmt], layer="cases")
        result["seconds"] = time.perf_counter() - t
        result["rows"] = len(frame)
    else:
        from datetime import date

        from layers.export import export_layers
        from layers.filters import CaseFilter
        from layers.store import open_store

        f = CaseFilter(start=date.fromisoformat(start) if start else None,
                       end=date.fromisoformat(end) if end else None)
        with open_store(store_path) as store:
            t = time.perf_counter()
            counts = export_layers(store, ["cases"], out, fmt=fmt, f=f, user="bench")
            result["seconds"] = time.perf_counter() - t
        result["rows"] = counts["cases"]
        if fmt != "csv":
            written = pyogrio.read_info(out, layer="cases")["features"]
        else:
            import pandas as pd

            written = len(pd.read_csv(out, dtype=str, keep_default_na=False))
        check(written == counts["cases"], f"{fmt}: {written} rows written, {counts['cases']} read")
    result["bytes"] = out.stat().st_size
    result["peak_mb"] = peak_mb()
    for part in folder.iterdir():
        part.unlink()
    folder.rmdir()
    return result


def peak_mb() -> float:
    """This process's peak resident memory (VmHWM). Not ``ru_maxrss``: Linux carries that over from
    the parent through fork and exec, so a child of a big parent would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


def run(kind, fmt, store_path, start=None, end=None) -> dict:
    args = [sys.executable, __file__, "--child", kind, fmt, store_path, start or "", end or ""]
    done = subprocess.run(args, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-4000:], file=sys.stderr)
        check(False, f"the {kind} of {fmt} failed with exit status {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def periods(store_path):
    """Periods holding about a quarter, a half and all of the cases."""
    import pyogrio

    stamps = pyogrio.read_dataframe(store_path, layer="cases", columns=["reported_at"],
                                    read_geometry=False)["reported_at"].sort_values(ignore_index=True)
    last = stamps.iloc[-1].date().isoformat()
    return [(stamps.iloc[int(len(stamps) * (1 - share))].date().isoformat(), last) for share in (0.25, 0.5)] + [
        (None, None)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=5)
    parser.add_argument("--small", action="store_true", help="the 10 000-row store, one repeat")
    args = parser.parse_args()
    if args.child:
        kind, fmt, store_path, start, end = args.child
        print(json.dumps(child(kind, fmt, store_path, start or None, end or None)))
        return
    if args.small:
        args.repeat = 1
    record(["numpy", "pandas", "pyarrow", "geopandas", "shapely", "pyogrio"])
    store_path = str(bench_store(args.small, args.rows))
    from layers.store import open_store

    with open_store(store_path) as store:
        stored = store.count("cases")

    print("| format | run | median | runs | rows | file | peak RSS | ratio to `to_file` |")
    print("|---|---|---|---|---|---|---|---|")
    for fmt in ("gpkg", "geojson"):
        runs = {"baseline": [], "export": []}
        for _ in range(args.repeat):  # alternating, so drift on a noisy machine hits both alike
            for kind in runs:
                runs[kind].append(run(kind, fmt, store_path))
        base = statistics.median(r["seconds"] for r in runs["baseline"])
        for kind, done in runs.items():
            check(all(r["rows"] == stored for r in done), f"{fmt} {kind}: rows {[r['rows'] for r in done]}, "
                                                          f"the store holds {stored}")
        for kind, done in runs.items():
            median = statistics.median(r["seconds"] for r in done)
            label = "`to_file` (write only; read " + f"{statistics.median(r['read_s'] for r in done):.1f} s)" if (
                kind == "baseline") else "`export_layers` (read + write)"
            each = ", ".join(f"{r['seconds']:.1f}" for r in done)
            print(f"| {fmt} | {label} | {median:.1f} s | {each} | "
                  f"{done[0]['rows']:,} | {done[0]['bytes'] / 1e6:.0f} MB | "
                  f"{statistics.median(r['peak_mb'] for r in done):,.0f} MB | {median / base:.2f} |", flush=True)

    print()
    print("| format | rows | median | peak RSS |")
    print("|---|---|---|---|")
    for fmt in ("geojson", "csv", "gpkg"):
        for start, end in periods(store_path)[2 if args.small else 0:]:
            done = [run("export", fmt, store_path, start, end) for _ in range(args.repeat)]
            if start is None:
                check(all(r["rows"] == stored for r in done), f"{fmt}: {[r['rows'] for r in done]} rows of {stored}")
            print(f"| {fmt} | {done[0]['rows']:,} | {statistics.median(r['seconds'] for r in done):.1f} s | "
                  f"{statistics.median(r['peak_mb'] for r in done):,.0f} MB |", flush=True)


if __name__ == "__main__":
    main()
