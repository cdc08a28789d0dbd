"""Statements and connections per dashboard request on PostGIS, counted in the client.

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/requests_pg.py [--requests 20] [--small]

It builds the demo (until 2021-03-01), copies it into a schema of its own on
the local server, serves the app in this process (Flask's test client, the
real callbacks and routes) and counts, per request of each kind, the
connections psycopg opened and the statements it sent (every ``execute``,
``COPY`` and pool check). Run it in a checkout of another commit with
``PYTHONPATH=that/checkout`` to compare (the "before" of issue 16).
``--small``: the demo until 2020-03-01 and 2 requests of each kind (for ``bench/run_small.py``);
any answer but 200 or 302 fails the run (exit status 1).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"
YEAR = {"overview-period.start_date": "2020-01-01", "overview-period.end_date": "2020-12-31",
        "overview-layers.value": ["cases"]}


class Counts:
    connections = 0
    statements = 0


def count_psycopg():
    connect, execute, copy = psycopg.Connection.connect.__func__, psycopg.Cursor.execute, psycopg.Cursor.copy

    def counted_connect(cls, *args, **kwargs):
        Counts.connections += 1
        return connect(cls, *args, **kwargs)

    def counted_execute(self, *args, **kwargs):
        Counts.statements += 1
        return execute(self, *args, **kwargs)

    def counted_copy(self, *args, **kwargs):
        Counts.statements += 1
        return copy(self, *args, **kwargs)

    psycopg.Connection.connect = classmethod(counted_connect)
    psycopg.connect = psycopg.Connection.connect  # the module's alias was bound before
    psycopg.Cursor.execute = counted_execute
    psycopg.Cursor.copy = counted_copy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20, help="requests of each kind (default 20)")
    parser.add_argument("--small", action="store_true", help="a two-month demo, 2 requests of each kind")
    args = parser.parse_args(argv)
    if args.small:
        args.requests = 2
    record(["psycopg", "psycopg_pool", "pandas", "geopandas", "pyogrio", "dash", "flask"], postgres=PG)

    from demo.build import build_demo
    from demo.users import create_demo_users, demo_password
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest_many
    from etl.profiles import read_profile
    from layers.store import open_store

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    url = f"{PG}?schema={schema}"
    with tempfile.TemporaryDirectory() as folder:
        until = "2020-03-01" if args.small else "2021-03-01 12:00:00"
        built = build_demo(Path(folder) / "demo", seed=2020, until=until)
        with open_store(url) as store:
            load_geography(built["geography"], store)
            load_responsibilities(built["responsibilities"], store)
            ingest_many([(p, read_profile(c)) for c, p in built["exports"].items()], store)
            create_demo_users(store)
    try:
        count_psycopg()
        from dashboards.app import create_app
        from dashboards.cache import CACHE
        from dashboards.client import for_app

        app = create_app(url)
        client = for_app(app)
        client.log_in("commander", demo_password("commander"))
        client.call("overview-kpis", YEAR)  # the cases read once, as a running server holds them
        cell = "330205003001001"
        kinds = {
            "login": lambda: client.log_in("commander", demo_password("commander")),
            "filter change (KPIs)": lambda: client.call("overview-kpis", YEAR),
            "cell click": lambda: client.call("overview-details", {
                "overview-map.clickData": {"points": [{"location": cell}]}, **YEAR}),
            "feed page": lambda: client.http.get("/ogcapi/collections/cases/items?limit=10"),
        }
        results = {}
        for name, request in kinds.items():
            per = []
            for _ in range(args.requests):
                time.sleep(getattr(CACHE, "check_s", 1.0) + 0.05)  # past the cache's check: each asks the store
                before = (Counts.connections, Counts.statements)
                answer = request()
                check(answer.status_code in (200, 302), f"{name}: HTTP {answer.status_code}")
                per.append((Counts.connections - before[0], Counts.statements - before[1]))
            results[name] = {"connections": statistics.median(c for c, _ in per),
                             "statements": statistics.median(s for _, s in per),
                             "statements_max": max(s for _, s in per)}
        print(json.dumps({"python": sys.version.split()[0], "psycopg": psycopg.__version__,
                          "requests_each": args.requests, "per_request_median": results}, ensure_ascii=False, indent=1))
        print("connections / statements per request (medians): " + "; ".join(
            f"{name} {r['connections']:g} / {r['statements']:g}" for name, r in results.items()))
    finally:
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


if __name__ == "__main__":
    main()
