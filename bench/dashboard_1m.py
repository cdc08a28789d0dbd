"""Benchmark: the dashboard over a store of 1 000 000 cases.

Run by hand: ``.venv/bin/python bench/dashboard_1m.py [--rows 1000000] [--repeat 5] [--browser]``.
The store (``bench/out/dashboard_1m.gpkg``, built once and reused) holds the
demo district's geography and users and a million grid-platform events over
five years, ingested through the real ETL (``bench/ingest_1m.synthetic_export``).

Measured through the real server (the Flask app of the Dash app, gate and
callbacks included, with a logged-in commander), for a sequence of filter
changes a person makes: the server time of each change (the overview's
``update`` callback and its table callback, request to response) and the
bytes sent. Baseline in the same run: the same filter answered with every
raw case point in the map, as a dashboard without server-side aggregation
would send it. With ``--browser``: the initial page in headless Chromium,
from navigation to tiles and drawn map.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import plotly.graph_objects as go

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ingest_1m import synthetic_export  # noqa: E402

from dashboards.app import create_app  # noqa: E402
from dashboards.cache import CASES  # noqa: E402
from demo.users import create_demo_users, demo_password  # noqa: E402
from layers.filters import CaseFilter  # noqa: E402
from layers.store import open_store  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"
YEARS = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2024-12-31"}
# What a person does at the morning meeting: the whole district, then narrower and narrower.
CHANGES = [
    ("district, 5 years", {}),
    ("district, 2023", {"overview-period.start_date": "2023-01-01", "overview-period.end_date": "2023-12-31"}),
    ("street 孔浦", {"overview-street.value": "330205003"}),
    ("community 红梅", {"overview-street.value": "330205003", "overview-community.value": "330205003002"}),
    ("grid cell", {"overview-street.value": "330205003", "overview-community.value": "330205003002",
                   "overview-cell.value": "33020500300201"}),
    ("category 垃圾堆放", {"overview-category.value": ["垃圾堆放"]}),
    ("status open", {"overview-status.value": ["reported", "dispatched", "coordinated"]}),
    ("overdue only", {"overview-overdue.value": ["1"]}),
    ("channel grid platform", {"overview-channel.value": ["grid_platform"]}),
    ("2023 + street + category", {"overview-period.start_date": "2023-01-01",
                                  "overview-period.end_date": "2023-12-31", "overview-street.value": "330205004",
                                  "overview-category.value": ["乱停车", "占道经营"]}),
]


def build_store(path: Path, rows: int) -> Path:
    if path.exists():
        with open_store(str(path)) as store:
            if store.count("cases") >= rows * 0.99:
                return path
        path.unlink()
    from demo.build import build_demo
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest

    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-dash-"))
    built = build_demo(tmp / "demo", seed=2020, until="2020-02-01")
    export = synthetic_export(built["district"], rows, tmp / "四平台事件导出_1m.csv")
    with open_store(str(path)) as store:
        load_geography(built["geography"], store)
        load_responsibilities(built["responsibilities"], store)
        t = time.perf_counter()
        report = ingest([export], "grid_platform", store)
        create_demo_users(store)
        print(f"store built: {report.stored} cases in {time.perf_counter() - t:.0f} s", flush=True)
    return path


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--browser", action="store_true")
    args = parser.parse_args()
    path = build_store(OUT / "dashboard_1m.gpkg", args.rows)
    print(f"store {path}")


if __name__ == "__main__":
    main()
