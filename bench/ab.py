"""Two servers of one store, each with its own settings, under the same load in turns: does a setting help?

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/ab.py --b ONEMAP_SERVER_THREADS=4 [--a NAME=VALUE ...] [--stores gpkg] [--seconds 600]
                                 [--rounds 10] [--users 10] [--walls 2] [--think 2,6] [--hold]

Two ``onemap serve --workers 2`` of one writable copy of the 1M store (``bench/largestore.py``), A with the
``--a`` variables, B with the ``--b`` ones, both started before the timing and both holding the cases with
``--hold``. Then ``--rounds`` times: the people (``bench/load.py``'s, each logged in once to each server),
the walls and the commander's probe (the overview's KPI tiles four times a second, as in ``stream.py``)
against A for its share of ``--seconds``, then the same against B. Nothing is written meanwhile: the idle
server's follower finds nothing to follow. Taking turns, both servers see the same drift of the machine.

Printed: each callback's p50 / p95 / p99 on A and on B, the ratio of the p95s (B / A), the ratio per round
(the noise it is weighed against), and the cores each server's processes used. Any failed request fails the
run. ``--small``: the 10 000-row store, 2 rounds of 10 s, 3 people, 1 wall.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, free_port, record, start_server, stop, wait_listening  # noqa: E402
from dashboard_1m import OUT  # noqa: E402
from largestore import postgis_copy, writable_copy  # noqa: E402
from load import PEOPLE, PG, Recorder, logged_in, wall_screen  # noqa: E402
from stream import CHANNEL, Stream, joined, percentiles, phase  # noqa: E402

from dashboards.app import create_app  # noqa: E402
from dashboards.client import for_app  # noqa: E402
from layers.apikeys import add_key  # noqa: E402
from layers.areas import DISTRICT  # noqa: E402
from layers.store import open_store  # noqa: E402
from layers.users import add_kiosk  # noqa: E402


def variables(pairs: list[str]) -> dict[str, str]:
    """``NAME=VALUE`` pairs as an environment; only the product's own variables."""
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        check(bool(sep) and name.startswith("ONEMAP_"), f"{pair!r}: NAME=VALUE of an ONEMAP_ variable")
        env[name] = value
    return env


class Server:
    """One ``onemap serve`` with its variables, and what the load needs of it: its people, walls and probe."""

    def __init__(self, spec: str, name: str, env: dict, args, tokens, key, cells):
        self.name, self.env = name, env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = OUT / f"server_ab_{name}.log"
        self.process = start_server(spec, self.port, self.log, "--workers", str(args.workers), env=env)
        self.args, self.tokens, self.key, self.cells = args, tokens, key, cells

    def ready(self, callback_map) -> None:
        wait_listening(self.process, self.url, self.args.listen_timeout, log=self.log)
        services = [s["service_code"] for s in requests.get(f"{self.url}/open311/v2/services.json", timeout=60,
                                                            headers={"Authorization": f"Bearer {self.key}"}).json()]
        self.probe = Stream(self.url, self.key, self.cells, services, callback_map)
        logins = Recorder()
        self.browsers = [logged_in(self.url, callback_map, PEOPLE[i % len(PEOPLE)], logins)
                         for i in range(self.args.users)]
        self.screens = [wall_screen(self.url, callback_map, token) for token in self.tokens]
        check(not logins.errors, f"{self.name}: a login failed: {logins.reasons}")

    def turn(self, callback_map, seconds, think):
        # Fresh connections for each turn: the server may have closed those left idle through the other's turn
        # (keep-alive 75 s), and a request sent as it closes one is reset. A browser sends it again; requests
        # does not.
        for client in (*self.browsers, *self.screens, self.probe.probe):
            client.http.session.close()
        return phase(self.url, callback_map, self.browsers, self.screens, seconds, think,
                     server_pid=self.process.pid, probe=self.probe)


def compare(spec: str, label: str, args, think) -> list[str]:
    with open_store(spec) as store:
        tokens = [add_kiosk(store, area=DISTRICT, label=f"ab {i}", view="rotate=1")[1] for i in range(args.walls)]
        _, key = add_key(store, CHANNEL, label="bench/ab.py")
        cells = store.read("grid_cells")
    callback_map = for_app(create_app(spec)).callback_map
    servers = [Server(spec, name, env, args, tokens, key, cells)
               for name, env in (("A", variables(args.a)), ("B", variables(args.b)))]
    try:
        for server in servers:
            server.ready(callback_map)
        print(f"{label}: A {servers[0].env or '(defaults)'}; B {servers[1].env or '(defaults)'}", flush=True)
        turns: dict[str, list] = {"A": [], "B": []}
        for _ in range(args.rounds):
            for server in servers:
                turns[server.name].append(server.turn(callback_map, args.seconds / args.rounds, think))
    finally:
        for server in servers:
            stop(server.process)
    a, b = joined(turns["A"]), joined(turns["B"])
    print(f"\n{label}: {args.users} people (thinking {think[0]:g}-{think[1]:g} s) + {args.walls} walls + the probe, "
          f"{args.seconds:.0f} s on each server in {args.rounds} turns each")
    for name, ran in (("A", a), ("B", b)):
        print(f"{label}: {name}: cores busy on average: " + ", ".join(
            f"{role} {seconds / ran.seconds:.2f}" for role, seconds in ran.cpu.items()))
    print("| store | callback | A n | A p50 / p95 / p99 | B n | B p50 / p95 / p99 | p95 ratio B / A |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(set(a.record.times) & set(b.record.times)):
        qa, qb = percentiles(a.record.times[name]), percentiles(b.record.times[name])
        print(f"| {label} | {name} | {len(a.record.times[name])} | {qa[0]:.0f} / {qa[1]:.0f} / {qa[2]:.0f} ms | "
              f"{len(b.record.times[name])} | {qb[0]:.0f} / {qb[1]:.0f} / {qb[2]:.0f} ms | {qb[1] / qa[1]:.2f} |",
              flush=True)
    if args.rounds > 1:
        for name in sorted(set(a.record.times) & set(b.record.times)):
            ratios = [np.percentile(y.record.times[name], 95) / np.percentile(x.record.times[name], 95)
                      for x, y in zip(turns["A"], turns["B"]) if name in x.record.times and name in y.record.times]
            print(f"{label}: {name}: p95 ratio B / A per round " + ", ".join(f"{r:.2f}" for r in ratios))
    failed = []
    for name, ran in (("A", a), ("B", b)):
        errors = sum(ran.record.errors.values())
        for reason, n in sorted(ran.record.reasons.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {name}: {n} × {reason}")
        if errors:
            failed.append(f"{label} {name}: {errors} failed requests")
    if not failed:
        for server in servers:
            server.log.unlink(missing_ok=True)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--a", action="append", default=[], help="NAME=VALUE for server A (repeat)")
    parser.add_argument("--b", action="append", default=[], help="NAME=VALUE for server B (repeat)")
    parser.add_argument("--stores", default="gpkg")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=600, help="on each server, over all rounds")
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--walls", type=int, default=2)
    parser.add_argument("--think", default="2,6", help="seconds between a person's changes: LOW,HIGH")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--listen-timeout", type=float, default=900)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--hold", action="store_true", help="both servers hold the cases whatever their number")
    args = parser.parse_args(argv)
    if args.hold:
        os.environ["ONEMAP_HOLD_MAX"] = str(10**12)  # both servers inherit it
    if args.small:
        args.seconds, args.rounds, args.users, args.walls = 20.0, 2, 3, 1
    think = tuple(float(v) for v in args.think.split(","))
    record(["pandas", "dash", "flask", "gunicorn", "psycopg", "requests"],
           postgres=PG if "postgis" in args.stores else None)
    failed = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="onemap-bench-ab-") as tmp:
        spec, _ = writable_copy(Path(tmp), args.small, args.rows)
        for label in args.stores.split(","):
            if label == "postgis":
                with postgis_copy(spec, PG, f"bench_ab_{uuid.uuid4().hex[:4]}") as where:
                    failed += compare(where, label, args, think)
            else:
                failed += compare(spec, label, args, think)
    print(f"# ran {time.perf_counter() - started:.0f} s")
    check(not failed, "; ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
