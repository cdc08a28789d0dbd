"""Benchmark: end-to-end ingest of 1 000 000 synthetic rows into the GeoPackage store.

Run by hand: ``.venv/bin/python bench/ingest_1m.py [--rows 1000000] [--runs 3]``; ``--small``: 10 000 rows,
one run (``bench/run_small.py``).
The rows are a grid-platform export (CGCS2000 lon/lat, the shipped
``grid_platform`` profile) spread over the demo district's cells, five years
of events, with a sprinkling of the defects real exports carry. Baseline, in
the same process: ``pandas.read_csv`` of the same file plus a plain
``GeoDataFrame.to_file`` of as many points — the I/O no ingest can avoid.
Prints medians, the ratio to the baseline and peak memory.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402

from demo.build import build_demo  # noqa: E402
from etl.geography import load_geography, load_responsibilities  # noqa: E402
from etl.ingest import ingest  # noqa: E402
from layers.store import open_store  # noqa: E402

STATUS = {"reported": "待受理", "dispatched": "已分拨", "coordinated": "处置中", "closed": "已办结"}
CATEGORIES = ["垃圾堆放", "乱停车", "占道经营", "违章搭建", "安全隐患", "噪声扰民", "设施损坏", "环境卫生"]


def synthetic_export(district, rows: int, path: Path, seed: int = 1) -> Path:
    rng = np.random.default_rng(seed)
    cells = district.grid_cells
    weights = cells["population"].to_numpy(float)
    pick = rng.choice(len(cells), rows, p=weights / weights.sum())
    # A point in the picked cell: sample its bounding box, keep what falls inside, retry the rest.
    x, y = np.empty(rows), np.empty(rows)
    todo = np.arange(rows)
    geoms = cells.geometry.to_numpy()
    bounds = shapely.bounds(geoms)
    while len(todo):
        b = bounds[pick[todo]]
        cx = rng.uniform(b[:, 0], b[:, 2])
        cy = rng.uniform(b[:, 1], b[:, 3])
        inside = shapely.contains_xy(geoms[pick[todo]], cx, cy)
        x[todo[inside]], y[todo[inside]] = cx[inside], cy[inside]
        todo = todo[~inside]
    start = pd.Timestamp("2020-01-01").value // 10**9
    reported = pd.to_datetime(rng.integers(start, start + 5 * 365 * 86400, rows), unit="s")
    dispatched = reported + pd.to_timedelta(rng.integers(600, 7200, rows), unit="s")
    closed = dispatched + pd.to_timedelta(rng.integers(3600, 7 * 86400, rows), unit="s")
    status = rng.choice(list(STATUS.values()), rows, p=[0.01, 0.02, 0.02, 0.95])
    fmt = "%Y-%m-%d %H:%M:%S"
    frame = pd.DataFrame({
        "事件编号": [f"SPT{i:09d}" for i in range(rows)],
        "上报时间": reported.strftime(fmt), "事件类型": rng.choice(CATEGORIES, rows),
        "事件描述": "网格员巡查发现问题", "网格编码": "",
        "经度": np.round(x, 7).astype(str), "纬度": np.round(y, 7).astype(str),
        "上报人电话": [f"13{p:09d}" for p in rng.choice(10**9, rows, replace=False)],
        "事件状态": status, "分拨时间": dispatched.strftime(fmt),
        "办结时间": np.where(status == "已办结", closed.strftime(fmt), ""),
        "受理层级": "村社", "处置层级": "村社",
    })
    bad = rng.choice(rows, 100, replace=False)
    frame.loc[bad[:50], "上报时间"] = "2021-02-30 08:00:00"
    frame.loc[bad[50:], "经度"] = "abc"
    frame.to_csv(path, index=False, encoding="utf-8")
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--small", action="store_true", help="10 000 rows, one run")
    args = parser.parse_args()
    if args.small:
        args.rows, args.runs = 10_000, 1
    record(["numpy", "pandas", "pyarrow", "geopandas", "shapely", "pyogrio", "pyproj", "rasterio", "rapidfuzz"])
    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-1m-"))
    built = build_demo(tmp / "demo", seed=2020, until="2020-02-01")
    export = synthetic_export(built["district"], args.rows, tmp / "四平台事件导出_1m.csv")
    print(f"{args.rows} rows, {export.stat().st_size / 1e6:.0f} MB CSV")
    times = {"baseline": [], "ingest": []}
    for run in range(args.runs):
        store_path = tmp / f"bench{run}.gpkg"
        with open_store(str(store_path)) as store:
            load_geography(built["geography"], store)
            load_responsibilities(built["responsibilities"], store)
            t = time.perf_counter()
            report = ingest([export], "grid_platform", store)
            times["ingest"].append(time.perf_counter() - t)
            check(report.rows_in == report.stored + report.merged + report.quarantined == args.rows,
                  f"rows in {report.rows_in}, stored {report.stored}, merged {report.merged}, quarantined "
                  f"{report.quarantined}: not every one of {args.rows} rows accounted for")
            check(report.quarantined == 100, f"{report.quarantined} rows quarantined, 100 made unreadable")
            stored = store.count("cases")
            check(stored == report.stored, f"{stored} cases in the store, {report.stored} reported stored")

        t = time.perf_counter()
        raw = pd.read_csv(export, dtype=str, keep_default_na=False)
        points = gpd.GeoDataFrame(raw.drop(columns=["经度", "纬度"]), geometry=gpd.points_from_xy(
            pd.to_numeric(raw["经度"], errors="coerce"), pd.to_numeric(raw["纬度"], errors="coerce")), crs=4490)
        points.to_file(tmp / f"baseline{run}.gpkg", driver="GPKG")
        times["baseline"].append(time.perf_counter() - t)
        print(f"run {run + 1}: ingest {times['ingest'][-1]:.1f} s, baseline {times['baseline'][-1]:.1f} s, "
              f"stored {stored}, quarantined {report.quarantined}", flush=True)
    base = statistics.median(times["baseline"])
    for name, values in times.items():
        med = statistics.median(values)
        print(f"{name:9s} median {med:6.1f} s  ({args.rows / med:8.0f} rows/s)  ratio to baseline {med / base:4.2f}"
              f"  runs {[round(v, 1) for v in values]}")
    print(f"peak memory (max RSS) {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
