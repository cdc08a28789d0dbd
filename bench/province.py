"""A province on PostgreSQL: a store of several districts and tens of millions of cases, served by two servers
that hold no cases, behind HAProxy, sharing Redis; 50 people filtering at the think times of ``bench/load.py``.

Run by hand (figures in ``bench/README.md`` and ``docs/scale.md``)::

    .venv/bin/python bench/province.py build [--districts 10] [--cases 20000000] [--years 5] [--schema bench_province]
    .venv/bin/python bench/province.py load [--schema bench_province] [--users 50] [--seconds 300]
    .venv/bin/python bench/province.py load --store URL --hold   # today's design on another store, for comparison

``build`` makes the province in the schema ``--schema`` of ``ONEMAP_TEST_PG`` (default the local ``test``
database), at about a million cases a minute on two cores: its districts' geography (streets, communities and
grid cells as a regular layout of boxes), its users (a province commander, each district's commander and
street staff, grid leaders), and its cases, written a million at a time by ``COPY`` into the store's monthly
partitions, each statement counted into ``case_counts`` by the store's own triggers, as any write is. Walk-in
visits are one intake record per visited case (3 %); the other intake records are not made (the pages do not
read them). ``--small``: 2 districts and 200 000 cases, built then loaded by 4 people for 20 s (for
``bench/run_small.py``).

``load`` starts two ``onemap serve`` on the store (``ONEMAP_HOLD_MAX`` 0 unless ``--hold``: they hold no cases),
each reporting its start (process start to its first answered login) and its memory, HAProxy in front of them,
and Redis between them; then for ``--seconds`` each simulated person logs in through the balancer and changes
filters (the overview's map, chart and table callbacks at once), thinking 5-15 s in between. Reported: each
callback's requests, errors, p50 and p95; each server's resident memory at the end.
"""

from __future__ import annotations

import argparse
import io
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchenv import check, fail, free_port, record, stop, wait_listening  # noqa: E402

PG = os.environ.get("ONEMAP_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
OUT = Path(__file__).resolve().parent / "out"
CHUNK = 1_000_000
CATEGORIES = ["邻里纠纷", "物业纠纷", "噪声扰民", "乱停车", "占道经营", "环境卫生", "劳资纠纷", "婚姻家庭", "消费纠纷",
              "土地纠纷", "违章搭建", "油烟污染", "交通事故", "医疗纠纷", "征地拆迁", "信访诉求"]
CHANNELS = ["hotline_12345", "e_ningbo", "minsheng", "mediation", "grid_platform", "city_management", "walk_in",
            "video_mediation"]
KINDS = ["dispute", "event", "petition"]
DEADLINE_DAYS = {"dispute": 30, "event": 7, "petition": 60}
STREETS, COMMUNITIES, CELLS = 8, 10, 8  # per district, per street, per community
START = date(2020, 1, 1)


def district_codes(n: int) -> list[str]:
    return [f"33{1 + d // 90:02d}{1 + d % 90:02d}" for d in range(n)]


def geography(n_districts: int) -> dict:
    """The districts' layers as boxes: each district 0.32° × 0.20°, its streets 4 × 2, communities 5 × 2, cells 4 × 2."""
    import geopandas as gpd
    from shapely.geometry import box

    rows = {name: [] for name in ("district", "streets", "communities", "grid_cells")}
    for d, code in enumerate(district_codes(n_districts)):
        x0, y0 = 118.0 + 0.34 * (d % 10), 27.5 + 0.22 * (d // 10)
        rows["district"].append({"district_code": code, "name": f"第{d + 1}区", "name_en": f"District {d + 1}",
                                 "address_prefix": f"浙江省 模拟市 第{d + 1}区", "elsewhere": "",
                                 "geometry": box(x0, y0, x0 + 0.32, y0 + 0.20)})
        for s in range(STREETS):
            street = f"{code}{s + 1:03d}"
            sx, sy = x0 + 0.08 * (s % 4), y0 + 0.10 * (s // 4)
            rows["streets"].append({"street_code": street, "name": f"第{d + 1}区{s + 1}街道", "kind": "subdistrict",
                                    "geometry": box(sx, sy, sx + 0.08, sy + 0.10)})
            for c in range(COMMUNITIES):
                community = f"{street}{c + 1:03d}"
                cx, cy = sx + 0.016 * (c % 5), sy + 0.05 * (c // 5)
                rows["communities"].append({"community_code": community, "name": f"{street[-3:]}街{c + 1}社区",
                                            "official_name": f"{street[-3:]}街{c + 1}社区", "kind": "urban",
                                            "population": 3000, "street_code": street,
                                            "geometry": box(cx, cy, cx + 0.016, cy + 0.05)})
                for k in range(CELLS):
                    gx, gy = cx + 0.004 * (k % 4), cy + 0.025 * (k // 4)
                    rows["grid_cells"].append({"grid_cell": f"{community}{k + 1:02d}", "name": f"{community}第{k + 1}网格",
                                               "community_code": community, "street_code": street, "kind": "general",
                                               "population": 400,
                                               "geometry": box(gx, gy, gx + 0.004, gy + 0.025)})
    return {name: gpd.GeoDataFrame(r, crs="EPSG:4490") for name, r in rows.items()}


def cases_chunk(rng: np.random.Generator, cells: pd.DataFrame, weights: np.ndarray, first: int, n: int,
                days: int) -> pd.DataFrame:
    """``n`` cases numbered from ``first``: places by the cells' weights, times over ``days`` days, closed
    mostly (the older, the likelier), merged across two channels now and then."""
    at = rng.choice(len(cells), n, p=weights)
    cell = cells.iloc[at]
    reported = pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, days * 86_400, n), unit="s")
    kind = np.array(KINDS)[rng.choice(3, n, p=[0.6, 0.3, 0.1])]
    due = reported + pd.to_timedelta(pd.Series(kind).map(DEADLINE_DAYS).to_numpy(), unit="D")
    age = (pd.Timestamp(START) + pd.Timedelta(days=days) - reported).days.to_numpy()
    closed = rng.random(n) < np.clip(0.55 + age / 120, 0, 0.985)
    status = np.where(closed, "closed", np.array(["reported", "dispatched", "coordinated"])[rng.integers(0, 3, n)])
    closed_at = reported + pd.to_timedelta(rng.integers(3600, 40 * 86_400, n), unit="s")
    channel = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)]
    other = np.array(CHANNELS)[rng.integers(0, len(CHANNELS), n)]
    merged = (rng.random(n) < 0.03) & (other != channel)
    first_, second = np.where(channel < other, channel, other), np.where(channel < other, other, channel)
    channels = np.where(merged, np.char.add(np.char.add(first_, ";"), second), channel)
    level = np.array(["community", "street", "district"])[rng.choice(3, n, p=[0.7, 0.22, 0.08])]
    phone = np.where(kind == "petition", np.char.add("139", rng.integers(0, 5_000_000, n).astype(str)), "")
    lon = cell["x0"].to_numpy() + rng.random(n) * 0.004
    lat = cell["y0"].to_numpy() + rng.random(n) * 0.025
    return pd.DataFrame({
        "case_id": [f"P{first + i:09d}" for i in range(n)], "kind": kind,
        "category": np.array(CATEGORIES)[rng.zipf(1.6, n) % len(CATEGORIES)], "channel": channel,
        "reported_at": reported, "dispatched_at": reported + pd.Timedelta(hours=2),
        "closed_at": pd.Series(closed_at).where(closed, pd.NaT).to_numpy(), "status": status,
        "level_received": level, "level": level, "resolved_in_place": closed & (rng.random(n) < 0.8),
        "people": 1, "description": "", "address": "", "reporter_phone": pd.Series(phone).replace("", None).to_numpy(),
        "location_precision": "building", "grid_cell": cell["grid_cell"].to_numpy(),
        "community_code": cell["community_code"].to_numpy(), "street_code": cell["street_code"].to_numpy(),
        "estate_id": None, "setback_area": None, "outside_grid": False, "address_id": None,
        "responsible_unit": None, "component_id": None, "district_code": cell["street_code"].str[:6].to_numpy(),
        "channels": channels, "due_at": due,
        "geometry": [f"SRID=4490;POINT({x:.6f} {y:.6f})" for x, y in zip(lon, lat)],
    })


def _copy(cur, table, frame: pd.DataFrame, columns: list[str]) -> None:
    """The frame into ``table`` by one COPY of CSV text (the geometry as EWKT)."""
    buffer = io.StringIO()
    frame[columns].to_csv(buffer, index=False, header=False, na_rep="\\N", date_format="%Y-%m-%d %H:%M:%S")
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN (FORMAT csv, NULL '\\N')") as copy:
        copy.write(buffer.getvalue())


def build(args) -> None:
    from demo.users import demo_password
    from layers.areas import Area
    from layers.schema import CHANGE_SEQ, LAYERS
    from layers.store import open_store
    from layers.users import add_kiosk, add_user

    url = f"{PG}?schema={args.schema}"
    rng = np.random.default_rng(2020)
    days = 365 * args.years
    t0 = time.perf_counter()
    with open_store(url) as store:
        store.reset()
        layers = geography(args.districts)
        for name, frame in layers.items():
            store.write_layer(name, frame)
        codes = district_codes(args.districts)
        add_user(store, "commander", role="commander", area=Area(), password=demo_password("commander"))
        for d, code in enumerate(codes):
            add_user(store, f"chief{d}", role="commander", area=Area.parse(f"district:{code}"),
                     password=demo_password(f"chief{d}"))
            add_user(store, f"street{d}", role="street_staff", area=Area.parse(f"street:{code}001"),
                     password=demo_password(f"street{d}"))
            add_user(store, f"leader{d}", role="grid_leader",
                     area=Area.parse(f"cells:{code}00100101,{code}00100102"), password=demo_password(f"leader{d}"))
        add_user(store, "planner", role="planner", area=Area(), password=demo_password("planner"))
        token = add_kiosk(store, area=Area(), label="省大屏", view="rotate=1")[1]
        (OUT / "province_kiosk.txt").parent.mkdir(parents=True, exist_ok=True)
        (OUT / "province_kiosk.txt").write_text(token)
        cells = layers["grid_cells"].assign(x0=layers["grid_cells"].bounds["minx"],
                                            y0=layers["grid_cells"].bounds["miny"])
        # Some cells are busier than others, as a city's are: weights from a long-tailed draw.
        weights = rng.pareto(1.5, len(cells)) + 0.2
        weights /= weights.sum()
        months = pd.date_range(START, pd.Timestamp(START) + pd.Timedelta(days=days), freq="MS")
        store._write(lambda cur: store._add_partitions(cur, "cases", list(months)))
        columns = [*LAYERS["cases"].columns, "geometry"]
        sources = list(LAYERS["case_sources"].columns)
        print(f"geography and users in {time.perf_counter() - t0:.0f} s: {args.districts} districts, "
              f"{len(cells):,} grid cells", flush=True)
        written = 0
        while written < args.cases:
            n = min(CHUNK, args.cases - written)
            t = time.perf_counter()
            chunk = cases_chunk(rng, cells, weights, written, n, days)
            visits = chunk[rng.random(n) < 0.03].assign(
                source="walk_in", channel="walk_in", source_id=lambda f: f["case_id"], file="province.csv", row=0,
                merged=False, merge_reason=None, original=None)
            with store._connection() as conn:
                with conn.transaction(), conn.cursor() as cur:
                    seq = store._next_seq(cur)
                    _copy(cur, f'"{store.schema}".cases', chunk.assign(**{CHANGE_SEQ: seq}), [*columns, CHANGE_SEQ])
                    _copy(cur, f'"{store.schema}".case_sources', visits.assign(**{CHANGE_SEQ: seq}),
                          [*sources, "geometry", CHANGE_SEQ])
            written += n
            print(f"{written:,} cases ({n / (time.perf_counter() - t):,.0f} a second)", flush=True)
        with store._connection() as conn:
            conn.autocommit = True
            t = time.perf_counter()
            conn.execute(f'ANALYZE "{store.schema}".cases')
            conn.execute(f'ANALYZE "{store.schema}".case_counts')
            conn.execute(f'ANALYZE "{store.schema}".case_sources')
            conn.autocommit = False
        store.upsert("settings", pd.DataFrame([{"name": "version:cases", "value": str(time.time())}]))
        counts = store.count("case_counts")
    print(f"built {written:,} cases in {time.perf_counter() - t0:.0f} s; case_counts holds {counts:,} rows "
          f"({counts / written:.2f} a case); analysed in {time.perf_counter() - t:.0f} s", flush=True)
    print(f"size: {database_size(url)}")


def database_size(url: str) -> str:
    import psycopg

    from layers.store.postgis import split_schema

    dsn, schema = split_schema(url)
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = "
            "c.relnamespace WHERE n.nspname = %s AND c.relkind IN ('r', 'p')", (schema,)).fetchall()
    total = sum(size for _, size in rows)
    cases = sum(size for name, size in rows if name.startswith("cases_"))
    counts = sum(size for name, size in rows if name == "case_counts")
    return f"{total / 2**30:.1f} GiB in all, cases {cases / 2**30:.1f} GiB, case_counts {counts / 2**30:.1f} GiB"


# What people change, as the dashboard bench's sequence, with the province's places.
def changes(codes: list[str]) -> list[tuple[str, dict]]:
    some = codes[len(codes) // 2]
    return [
        ("five years", {}),
        ("the last month", {"overview-period.start_date": "2024-12-01", "overview-period.end_date": "2024-12-31"}),
        ("a district", {"overview-district.value": some}),
        ("a street", {"overview-district.value": some, "overview-street.value": f"{some}003"}),
        ("two categories", {"overview-category.value": ["邻里纠纷", "物业纠纷"]}),
        ("a channel", {"overview-channel.value": ["grid_platform"]}),
        ("closed at the community", {"overview-status.value": ["closed"], "overview-level.value": ["community"]}),
        ("overdue only", {"overview-overdue.value": ["1"]}),
    ]


CALLBACKS = ("overview-kpis", "overview-chart-trend", "overview-table")


def people(n: int, codes: list[str]) -> list[str]:
    """Who the ``n`` people are: of every ten, one of the province's commanders, three districts' commanders,
    three streets' staff, three grid leaders."""
    who = []
    for i in range(n):
        d = i % len(codes)
        who.append(["commander", f"chief{d}", f"chief{(d + 1) % len(codes)}", f"chief{(d + 2) % len(codes)}",
                    f"street{d}", f"street{(d + 3) % len(codes)}", f"street{(d + 5) % len(codes)}",
                    f"leader{d}", f"leader{(d + 4) % len(codes)}", f"leader{(d + 6) % len(codes)}"][i % 10])
    return who


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.times: dict[str, list[float]] = {}
        self.errors: dict[str, int] = {}
        self.reasons: dict[str, int] = {}

    def add(self, name, seconds, ok, reason=""):
        with self.lock:
            self.times.setdefault(name, []).append(seconds)
            if not ok:
                self.errors[name] = self.errors.get(name, 0) + 1
                self.reasons[reason] = self.reasons.get(reason, 0) + 1


def person(url, callback_map, who, until, rec, seed, think, plan):
    from concurrent.futures import ThreadPoolExecutor

    from dashboards.client import DashClient, ServerHttp
    from demo.users import demo_password

    rng = random.Random(seed)
    client = DashClient(ServerHttp(url, timeout=300), callback_map)
    t = time.perf_counter()
    answer = client.log_in(who, demo_password(who))
    rec.add("login", time.perf_counter() - t, answer.status_code == 200 and "/login" not in answer.url,
            f"login HTTP {answer.status_code}")
    time.sleep(rng.uniform(0, think[1]))
    with ThreadPoolExecutor(3) as pool:
        while time.monotonic() < until:
            _, change = rng.choice(plan)
            # The year up to a day of the last year (people look at this year, this month); five years at
            # once are timed one view at a time (`views`).
            end = date(2024, 12, 31) - timedelta(days=rng.randrange(365))
            values = {"overview-period.start_date": (end - timedelta(days=364)).isoformat(),
                      "overview-period.end_date": end.isoformat(), "overview-layers.value": ["cases"], **change}

            def call(output, values=values):
                t = time.perf_counter()
                try:
                    answer = client.call(output, {**values, "overview-table.page_current": 0})
                    ok, reason = answer.status_code == 200, f"{output} HTTP {answer.status_code} {answer.text[:160]}"
                except requests.RequestException as exc:
                    ok, reason = False, f"{type(exc).__name__}: {str(exc)[:120]}"
                rec.add(output, time.perf_counter() - t, ok, reason)
            list(pool.map(call, CALLBACKS))
            time.sleep(rng.uniform(*think))


def load(args) -> None:
    import redis

    from dashboards.app import create_app
    from dashboards.client import for_app
    from layers.store import open_store
    from tests.dashboards.test_load_balancer import haproxy

    url = args.store or f"{PG}?schema={args.schema}"
    with open_store(url) as store:
        codes = sorted(store.read("district")["district_code"])
        cases = store.estimated_count("cases")
    redis.Redis.from_url("redis://127.0.0.1:6379/0").ping()
    env = {**os.environ, "ONEMAP_REDIS": "redis://127.0.0.1:6379/0", "ONEMAP_PROXIES": "1",
           "ONEMAP_HOLD_MAX": str(10**12 if args.hold else 0), "ONEMAP_PG_POOL_MAX": "12"}
    servers, urls, logs = [], [], []
    folder = Path(tempfile.mkdtemp(prefix="province-"))
    try:
        for i in range(2):
            port = free_port()
            logs.append(folder / f"server{i}.log")
            started = time.perf_counter()
            servers.append(subprocess.Popen(
                [sys.executable, "-m", "onemap.cli", "serve", "--store", url, "--port", str(port), "--brief-at", "off",
                 "--workers", "1"], stdout=open(logs[-1], "wb"), stderr=subprocess.STDOUT, env=env))
            urls.append(f"http://127.0.0.1:{port}")
            listening = wait_listening(servers[-1], urls[-1], 1800, log=logs[-1])
            answer = requests.post(urls[-1] + "/login", data={"user": "planner", "password": "planner-demo"},
                                   allow_redirects=False, timeout=600)
            check(answer.status_code == 302, f"server {i}: login HTTP {answer.status_code}")
            ready = time.perf_counter() - started
            print(f"server {i}: listening after {listening:.1f} s, first login answered after {ready:.1f} s; "
                  f"{_rss(servers[-1].pid):.0f} MB resident", flush=True)
        # The callbacks' map is the app's, whatever its store: made on an empty one, not read from the province.
        callback_map = for_app(create_app(str(folder / "empty.gpkg"))).callback_map
        with haproxy(*urls) as front:
            rec = Recorder()
            until = time.monotonic() + args.seconds
            plan = changes(codes)
            threads = [threading.Thread(target=person, args=(front, callback_map, who, until, rec, i, (5.0, 15.0),
                                                             plan))
                       for i, who in enumerate(people(args.users, codes))]
            t = time.perf_counter()
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            elapsed = time.perf_counter() - t
        memory = [_rss(s.pid) for s in servers]
    finally:
        for server in servers:
            stop(server)
    total = sum(len(v) for v in rec.times.values())
    label = "held (today's design)" if args.hold else "holding no cases"
    print(f"\n{cases:,} cases, {len(codes)} districts, two servers {label} behind HAProxy: {args.users} people for "
          f"{elapsed:.0f} s, {total} requests, errors {sum(rec.errors.values())}; servers' memory at the end "
          f"{', '.join(f'{m:.0f} MB' for m in memory)}")
    for reason, n in sorted(rec.reasons.items(), key=lambda kv: -kv[1])[:5]:
        print(f"  {n} × {reason}")
    print("| callback | requests | errors | p50 | p95 | max |")
    print("|---|---|---|---|---|---|")
    for name, times in rec.times.items():
        ms = np.percentile(np.array(times) * 1000, [50, 95, 100])
        print(f"| {name} | {len(times)} | {rec.errors.get(name, 0)} | {ms[0]:.0f} ms | {ms[1]:.0f} ms | {ms[2]:.0f} ms |")
    shutil.rmtree(folder, ignore_errors=True)
    if rec.errors:
        fail(f"{sum(rec.errors.values())} errors")


def _rss(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("what", nargs="?", choices=("build", "load"), help="without it (--small): both")
    parser.add_argument("--districts", type=int, default=10)
    parser.add_argument("--cases", type=int, default=20_000_000)
    parser.add_argument("--years", type=int, default=5)
    parser.add_argument("--schema", default="bench_province")
    parser.add_argument("--store", help="load: another store (a URL) instead of the province's")
    parser.add_argument("--hold", action="store_true", help="load: the servers hold the cases (today's design)")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--small", action="store_true", help="2 districts, 200 000 cases; 4 people for 20 s")
    args = parser.parse_args()
    if args.small:
        args.districts, args.cases, args.users, args.seconds = 2, 200_000, 4, 20
        args.schema = args.schema if args.schema != "bench_province" else "bench_province_small"
    record(("psycopg", "pandas", "numpy"), postgres=PG)
    if args.what is None and not args.small:
        parser.error("build or load (or --small: both)")
    if args.what in (None, "build"):
        build(args)
    if args.what in (None, "load"):
        load(args)


if __name__ == "__main__":
    main()
