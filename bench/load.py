"""Load: 50 people filtering and 10 wall screens at once, against ``onemap serve`` over 1 000 000 cases.

Run by hand: ``.venv/bin/python bench/load.py [--users 50] [--walls 10] [--seconds 120] [--stores gpkg,postgis]
[--think 5,15] [--schema bench_load]``; ``--small``: the 10 000-row store of ``dashboard_1m.py --small``, 4 people
and 2 walls for 10 s on each store (for ``bench/run_small.py``). Any error (an answer but 200) fails the run
(exit status 1), after the figures are printed.
Loopback only, bounded in count and time. The store is the dashboard bench's
(``bench/out/dashboard_1m.gpkg``, built by ``bench/dashboard_1m.py`` if missing); for PostGIS it is
copied once into the schema ``bench_load`` of ``ONEMAP_TEST_PG`` (default the local ``test`` database).

Each store is served by ``onemap serve --workers 2 --brief-at off`` (gunicorn; the morning briefs off, so
that they do not run during the timing) in its own process, waited for up to ``--listen-timeout`` seconds
(it reads its copy of the cases before it listens). Then
for ``--seconds``:

- each simulated person logs in (commander, street staff, grid leader or planner in turn) and does
  what people do at the morning meeting: a filter change from the dashboard bench's sequence, picked
  at random, with a random period ending on a random day, the map, chart and table callbacks posted at
  once as the browser posts them; then looks at the answer for 5-15 s before the next change (``--think``;
  at a meeting people talk about what they see);
- each wall screen opens its kiosk link and asks for its refresh every 10 s (six times a real wall's 60 s).

Reported per store and per callback: requests, errors (any answer but 200), throughput, and latency
p50/p95/p99 from request to answer. Target (issue 7): p95 under 500 ms on PostGIS, no errors.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import (  # noqa: E402
    Watch,
    check,
    children,
    free_port,
    record,
    rss_mb,
    start_server,
    stop,
    wait_listening,
)
from dashboard_1m import CHANGES, OUT, YEARS, bench_store  # noqa: E402

from dashboards.app import create_app  # noqa: E402
from dashboards.client import DashClient, ServerHttp, for_app  # noqa: E402
from demo.users import demo_password  # noqa: E402
from layers.areas import DISTRICT  # noqa: E402
from layers.schema import LAYERS  # noqa: E402
from layers.store import open_store  # noqa: E402
from layers.users import add_kiosk  # noqa: E402

PG = os.environ.get("ONEMAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
PEOPLE = ("commander", "kongpu", "hongmei", "planner")
THINK_S = (5.0, 15.0)
WALL_EVERY_S = 10.0
CALLBACKS = ("overview-kpis", "overview-chart-trend", "overview-table")


def postgis_copy(gpkg_path: Path, schema: str = "bench_load") -> str:
    """The 1M store in PostGIS (schema ``bench_load``), copied layer by layer from the GeoPackage once."""
    url = f"{PG}?schema={schema}"
    with open_store(str(gpkg_path)) as source, open_store(url) as target:
        if target.count("cases") == source.count("cases"):
            return url
        t = time.perf_counter()
        for name in LAYERS:
            if LAYERS[name].counts is None:  # a rollup is counted by the target as its source is written
                target.write_layer(name, source.read(name))
        print(f"copied {source.count('cases'):,} cases into PostGIS in {time.perf_counter() - t:.0f} s", flush=True)
    return url


def postgres_start_time(spec: str):
    """When the database server started (``None`` for a GeoPackage): a restart during a run voids it."""
    if not spec.startswith("postgresql"):
        return None
    import psycopg

    try:
        with psycopg.connect(spec.split("?")[0], connect_timeout=10) as conn:
            return conn.execute("SELECT pg_postmaster_start_time()").fetchone()[0]
    except psycopg.Error as exc:
        return f"unreachable: {exc}"


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.started: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.reasons: dict[str, int] = {}
        self.zero = time.perf_counter()

    def add(self, name, seconds, ok, reason=""):
        with self.lock:
            if not ok:
                self.reasons[f"{name}: {reason}"] = self.reasons.get(f"{name}: {reason}", 0) + 1
            self.times.setdefault(name, []).append(seconds)
            self.started.setdefault(name, []).append(time.perf_counter() - seconds - self.zero)
            if not ok:
                self.errors[name] = self.errors.get(name, 0) + 1


def logged_in(url, callback_map, who, record) -> DashClient:
    """A person's browser, logged in as ``who`` (the login timed into ``record``)."""
    client = DashClient(ServerHttp(url), callback_map)
    t = time.perf_counter()
    answer = client.log_in(who, demo_password(who))
    record.add("login", time.perf_counter() - t, answer.status_code == 200 and "/login" not in answer.url,
               f"HTTP {answer.status_code} {answer.url}")
    return client


def person(url, callback_map, who, until, record, seed, think, client=None):
    """``who`` changing filters until ``until``: logged in first, or in ``client``, a browser logged in before."""
    rng = random.Random(seed)
    client = client or logged_in(url, callback_map, who, record)
    time.sleep(rng.uniform(0, think[1]))  # people open the page over a few seconds, not at one instant
    with ThreadPoolExecutor(3) as pool:
        while time.monotonic() < until:
            _, change = rng.choice(CHANGES)
            values = {**YEARS, "overview-layers.value": ["cases"], **change}
            end = date.fromisoformat(values["overview-period.end_date"]) - timedelta(days=rng.randrange(365))
            values["overview-period.end_date"] = end.isoformat()

            def call(output, values=values):
                t = time.perf_counter()
                try:
                    answer = client.call(output, {**values, "overview-table.page_current": 0})
                    ok, reason = answer.status_code == 200, f"HTTP {answer.status_code} {answer.text[:120]}"
                except requests.RequestException as exc:
                    ok, reason = False, f"{type(exc).__name__}: {str(exc)[:120]}"
                record.add(output, time.perf_counter() - t, ok, reason)

            list(pool.map(call, CALLBACKS))
            time.sleep(rng.uniform(*think))


def wall_screen(url, callback_map, token) -> DashClient:
    """A wall screen's browser, its kiosk token given."""
    session = ServerHttp(url)
    session.get(f"/wall?kiosk={token}")
    return DashClient(session, callback_map)


def wall(url, callback_map, token, until, record, client=None):
    client = client or wall_screen(url, callback_map, token)
    tick = 0
    while time.monotonic() < until:
        t = time.perf_counter()
        try:
            answer = client.call("wall-kpis", {"wall-tick.n_intervals": tick},
                                 {"wall-query.data": {"from": "2024-01-01", "to": "2024-12-31", "rotate": "1"},
                                  "wall-last-good.data": None})
            ok = answer.status_code == 200 and "Store unreachable" not in answer.text
        except requests.RequestException:
            ok = False
        record.add("wall-refresh", time.perf_counter() - t, ok)
        tick += 1
        time.sleep(max(0.0, WALL_EVERY_S - (time.perf_counter() - t)))


def run(spec: str, label: str, users: int, walls: int, seconds: float, port: int, think=THINK_S, workers=2,
        listen_timeout=600.0):
    with open_store(spec) as store:
        tokens = [add_kiosk(store, area=DISTRICT, label=f"load {i}", view="rotate=1")[1] for i in range(walls)]
    log = OUT / f"server_{port}.log"
    postgres_started = postgres_start_time(spec)
    started = time.perf_counter()
    server = start_server(spec, port, log, "--workers", str(workers))
    url = f"http://127.0.0.1:{port}"
    try:
        listening = wait_listening(server, url, listen_timeout, log=log)
        callback_map = for_app(create_app(spec)).callback_map
        warm = DashClient(ServerHttp(url), callback_map)
        answer = warm.log_in("commander", demo_password("commander"))
        check(answer.status_code == 200 and "/login" not in answer.url,
              f"{label}: login failed, HTTP {answer.status_code}")
        print(f"{label}: server listening after {listening:.0f} s, ready after {time.perf_counter() - started:.0f} s "
              f"({workers} processes; {rss_mb(server.pid)})", flush=True)
        record = Recorder()
        until = time.monotonic() + seconds
        threads = [threading.Thread(target=person, args=(url, callback_map, PEOPLE[i % len(PEOPLE)], until, record, i,
                                                         think)) for i in range(users)]
        threads += [threading.Thread(target=wall, args=(url, callback_map, token, until, record)) for token in tokens]
        started = time.perf_counter()
        with Watch(lambda: [os.getpid(), server.pid, *children(server.pid)]) as watch:
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
        elapsed = time.perf_counter() - started
    finally:
        stop(server)
    if postgres_started != postgres_start_time(spec):
        print(f"{label}: PostgreSQL restarted during the run (not by this bench): these figures are not valid")
        record.errors["PostgreSQL restarted"] = 1
    if record.errors:
        print(f"{label}: the server's log is kept in {log}")
    else:
        log.unlink(missing_ok=True)
    total = sum(len(v) for v in record.times.values())
    print(f"\n{label}: {users} people (thinking {think[0]:g}-{think[1]:g} s) + {walls} walls for {elapsed:.0f} s: "
          f"{total} requests, "
          f"{total / elapsed:.1f} requests/s, errors {sum(record.errors.values())}")
    print(f"{label}: {watch.summary}")
    for reason, n in sorted(record.reasons.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n} × {reason}")
    print("| store | callback | requests | errors | p50 | p95 | p99 | max |")
    print("|---|---|---|---|---|---|---|---|")
    for name, times in record.times.items():
        ms = np.percentile(np.array(times) * 1000, [50, 95, 99, 100])
        if os.environ.get("ONEMAP_LOAD_TRACE"):
            for start, took in sorted(zip(record.started[name], times)):
                print(f"  {name} started {start:6.1f} s took {took * 1000:8.0f} ms")
        print(f"| {label} | {name} | {len(times)} | {record.errors.get(name, 0)} | {ms[0]:.0f} ms | {ms[1]:.0f} ms | "
              f"{ms[2]:.0f} ms | {ms[3]:.0f} ms |", flush=True)
    expected = ("login", *CALLBACKS) + (("wall-refresh",) if walls else ())
    missing = [name for name in expected if name not in record.times]
    return sum(record.errors.values()), missing


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--walls", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--stores", default="gpkg,postgis")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, default=2, help="onemap serve --workers (one per core)")
    parser.add_argument("--think", default=f"{THINK_S[0]:g},{THINK_S[1]:g}", help="seconds between changes: LOW,HIGH")
    parser.add_argument("--schema", default="bench_load", help="the PostGIS schema the store is copied into")
    parser.add_argument("--listen-timeout", type=float, default=600)
    parser.add_argument("--small", action="store_true", help="the 10 000-row store, 4 people, 2 walls, 10 s")
    args = parser.parse_args()
    if args.small:
        args.users, args.walls, args.seconds, args.think = 4, 2, 10.0, "1,2"
        args.schema = "bench_load_small"
    think = tuple(float(v) for v in args.think.split(","))
    record(["numpy", "pandas", "pyarrow", "geopandas", "shapely", "pyogrio", "dash", "flask", "plotly", "gunicorn",
            "waitress", "psycopg", "psycopg_pool", "requests"], postgres=PG)
    gpkg = bench_store(args.small, args.rows)
    failed = []
    for label in args.stores.split(","):
        spec = str(gpkg) if label == "gpkg" else postgis_copy(gpkg, args.schema)
        errors, missing = run(spec, label, args.users, args.walls, args.seconds, free_port(), think, args.workers,
                              args.listen_timeout)
        if errors or missing:
            failed.append(f"{label}: {errors} errors" + (f", no {', '.join(missing)} answered" if missing else ""))
    check(not failed, "; ".join(failed))


if __name__ == "__main__":
    main()
