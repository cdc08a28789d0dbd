"""What a write costs the dashboard callbacks that come after it, in one process over 1 000 000 cases (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/after_write.py [--rows 1000000] [--runs 10] [--postgis] [--small] [--profile]

In one process, through Flask's test client, with no other load: the app over a writable copy of the store
the 1M benches share, the commander logged in. Each run makes one person's filter change as
``bench/load.py`` does (a change of ``dashboard_1m.CHANGES`` with an end day drawn back up to a year, so no
run reuses another's filter) and asks for the KPI tiles, the trend chart, the table's first page (at once
in the browser; here one after the other) and one wall refresh. Runs alternate between:

- quiet: nothing written since the last run;
- after a write: one case pushed first (``POST /open311/v2/requests.json``, not timed), so the first
  request that reads cases brings the copy up to date (timed apart: "follow"), and what is made once per
  version of the cases (the table's sort order, the wall's hot cells ...) is made again.

Prints each callback's median both ways and the ratio. ``--profile``: cProfile of one run after a write
(top by cumulative time). ``--small``: the 10 000-row store, 4 runs.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, record  # noqa: E402
from dashboard_1m import CHANGES, YEARS  # noqa: E402
from largestore import postgis_copy, writable_copy  # noqa: E402
from push import a_case  # noqa: E402
from stream import CHANNEL  # noqa: E402
from write_small import PG  # noqa: E402

from dashboards.app import create_app  # noqa: E402
from dashboards.cache import CACHE  # noqa: E402
from dashboards.client import DashClient, for_app  # noqa: E402
from demo.users import demo_password  # noqa: E402
from layers.apikeys import add_key  # noqa: E402
from layers.areas import DISTRICT  # noqa: E402
from layers.store import open_store  # noqa: E402
from layers.users import add_kiosk  # noqa: E402

CALLBACKS = ("overview-kpis", "overview-chart-trend", "overview-table")
STEPS = ("follow", *CALLBACKS, "wall-kpis")


def measure(spec: str, runs: int, show_profile: bool) -> dict:
    with open_store(spec) as store:
        _, key = add_key(store, CHANNEL, label="bench/after_write.py")
        _, token = add_kiosk(store, area=DISTRICT, label="after_write", view="rotate=1")
        cells = store.read("grid_cells")
    # A server holding the cases, as a district's does (above ONEMAP_HOLD_MAX, 250 000 by default, it holds none).
    CACHE.hold_max = 10**12
    app = create_app(spec)
    store = app.server.extensions["onemap_store"]
    CACHE.warm(store)
    server = app.server.test_client()
    person = for_app(app)
    check(person.log_in("commander", demo_password("commander")).status_code in (200, 302), "login failed")
    wall_http = app.server.test_client()
    wall_http.get(f"/wall?kiosk={token}")
    wall = DashClient(wall_http, app.callback_map)
    headers = {"Authorization": f"Bearer {key}"}
    rng, points = random.Random(2020), np.random.default_rng(2020)

    def one_run(tick: int) -> dict:
        _, change = rng.choice(CHANGES)
        values = {**YEARS, "overview-layers.value": ["cases"], **change, "overview-table.page_current": 0}
        end = date.fromisoformat(values["overview-period.end_date"]) - timedelta(days=rng.randrange(365))
        values["overview-period.end_date"] = end.isoformat()
        took = {}
        t = time.perf_counter()
        with app.server.test_request_context("/"):
            CACHE.cases(store)
        took["follow"] = time.perf_counter() - t
        for output in CALLBACKS:
            t = time.perf_counter()
            answer = person.call(output, values)
            took[output] = time.perf_counter() - t
            check(answer.status_code == 200, f"{output}: HTTP {answer.status_code}")
        t = time.perf_counter()
        answer = wall.call("wall-kpis", {"wall-tick.n_intervals": tick},
                           {"wall-query.data": {"from": "2024-01-01", "to": "2024-12-31", "rotate": "1"},
                            "wall-last-good.data": None})
        took["wall-kpis"] = time.perf_counter() - t
        check(answer.status_code == 200, f"wall: HTTP {answer.status_code}")
        return took

    def push(n):
        answer = server.post("/open311/v2/requests.json", json=a_case(cells, points, n), headers=headers)
        check(answer.status_code == 201, f"push: HTTP {answer.status_code}")

    times = {(way, step): [] for way in ("quiet", "after a write") for step in STEPS}
    for n in range(2 * runs + 2):
        way = "after a write" if n % 2 else "quiet"
        if way == "after a write":
            push(n)
        took = one_run(n)
        if n >= 2:
            for step in STEPS:
                times[(way, step)].append(took[step])
    if show_profile:
        push(10_000)
        profile = cProfile.Profile()
        profile.enable()
        one_run(10_000)
        profile.disable()
        out = io.StringIO()
        pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(45)
        print("\n--- one run after a write ---\n" + out.getvalue())
    return {key: statistics.median(v) for key, v in times.items()}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--postgis", action="store_true", help="on a PostGIS copy instead")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.runs = 4
    record(["numpy", "pandas", "geopandas", "pyogrio", "flask", "dash", "psycopg"],
           postgres=PG if args.postgis else None)
    with tempfile.TemporaryDirectory(prefix="onemap-bench-after-write-") as tmp:
        spec, _ = writable_copy(Path(tmp), args.small, args.rows)
        with postgis_copy(spec, PG, "bench_after") if args.postgis else contextlib.nullcontext(spec) as where:
            m = measure(where, args.runs, args.profile)
    kind = "postgis" if args.postgis else "gpkg"
    print(f"\n{kind}: a person's filter change and a wall refresh, quiet and after a write (medians of {args.runs}):")
    print("| step | quiet | after a write | ratio |")
    print("|---|---|---|---|")
    for step in STEPS:
        q, w = m[("quiet", step)] * 1000, m[("after a write", step)] * 1000
        print(f"| {step} | {q:.1f} ms | {w:.1f} ms | {w / q:.1f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
