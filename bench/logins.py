"""How long the failed-login check takes as the store's login history grows, with and without its indexes.

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/logins.py [--rows 1000000] [--small]

Fills the ``logins`` layer of a new GeoPackage and of a new PostGIS schema with ``--rows`` attempts
(one person's 2 000 among 5 000 names and 2 000 addresses, over a year), then times
``LoginLimiter.locked(name, address)`` (the three reads every login makes) 30 times each: with the
lookup indexes migration 3 made, then in the same process with them dropped (the baseline: the store
as it was before). Prints medians and the ratio. ``--small``: 20 000 rows, 5 checks (for
``bench/run_small.py``); a check that answers wrongly fails the run.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import fail, record  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432/test"


def history(rows: int, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    names = np.array([f"user{i}" for i in range(5000)])
    addresses = np.array([f"10.{i // 250}.{i % 250}.1" for i in range(2000)])
    who = names[rng.integers(0, len(names), rows)]
    who[:2000] = "hongmei"
    at = pd.Timestamp.now() - pd.to_timedelta(rng.integers(1_000, 365 * 86400, rows), unit="s")
    return pd.DataFrame({"login_id": [uuid.uuid4().hex for _ in range(rows)], "user_name": who, "at": at,
                         "ok": rng.random(rows) < 0.9, "address": addresses[rng.integers(0, len(addresses), rows)]})


def timed(limiter, checks: int) -> float:
    times = []
    for _ in range(checks):
        started = time.perf_counter()
        if limiter.locked("hongmei", "10.0.1.1"):
            fail("a name with no recent failures was found locked")
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def drop_indexes(store, kind: str) -> None:
    names = ["logins_user_name_at", "logins_address_at"]
    if kind == "gpkg":
        conn = store._connect()
        for name in names:
            conn.execute(f'DROP INDEX IF EXISTS "{name}"')
        conn.commit()
    else:
        with store._connection() as conn:
            for name in names:
                conn.execute(f'DROP INDEX IF EXISTS "{store.schema}"."{name}"')
            conn.commit()


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=30)
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.rows, args.checks = 20_000, 5
    record(["pandas", "pyogrio", "psycopg"], postgres=PG)
    from dashboards.limits import LoginLimiter
    from layers.store import open_store

    frame = history(args.rows)
    print(f"{args.rows:,} login attempts; LoginLimiter.locked(name, address), median of {args.checks}")
    with tempfile.TemporaryDirectory() as folder:
        schema = f"bench_logins_{uuid.uuid4().hex[:8]}"
        for kind, spec in (("gpkg", str(Path(folder) / "logins.gpkg")), ("postgis", f"{PG}?schema={schema}")):
            with open_store(spec) as store:
                store.migrate()
                started = time.perf_counter()
                for i in range(0, len(frame), 100_000):
                    store.upsert("logins", frame.iloc[i:i + 100_000])
                filled = time.perf_counter() - started
                indexed = timed(LoginLimiter(store), args.checks)
                drop_indexes(store, kind)
                scanned = timed(LoginLimiter(store), args.checks)
                print(f"{kind:8} filled in {filled:5.1f} s; with the indexes {indexed:7.1f} ms, without "
                      f"{scanned:7.1f} ms (x{scanned / indexed:.1f})", flush=True)
                if kind == "postgis":
                    with store._connection() as conn:
                        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
                        conn.commit()
    return 0


if __name__ == "__main__":
    sys.exit(main())
