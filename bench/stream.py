"""One case a second for ten minutes, pushed while people use the dashboard: freshness, latency, memory (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/stream.py [--stores gpkg,postgis] [--quiet 300] [--seconds 600] [--users 10] [--walls 2] [--hold]
                                     [--rounds 1]

``--hold``: the server holds the cases (as a district's store under ``ONEMAP_HOLD_MAX`` does); without it, a
server over a million cases holds none and each view is read or counted from the store (``layers/counted.py``).

A writable copy of the store the 1M benches share (``bench/largestore.py``; PostGIS: that copy in its own
schema) is served by ``onemap serve --workers 2``. Then, against the running server:

1. quiet, ``--quiet`` seconds: ``--users`` people change filters (``bench/load.py``'s people, thinking
   ``--think`` seconds) and ``--walls`` wall screens refresh every 10 s. The baseline.
2. stream, ``--seconds`` seconds: the same people and walls, while a channel system pushes one case a
   second (``POST /open311/v2/requests.json`` with the grid platform's key, at a random point of a random
   cell) and a probe, logged in as the commander, asks for the overview's KPI tiles every 0.25 s over the
   days the pushed cases fall in. A case's freshness: from its POST being sent to the first KPI answer
   that counts it. The probe is the instrument, not the stream: it asks in the quiet phase too, so the
   two phases differ by the pushed cases alone.

``--control``: the second phase pushes nothing, an A/A run: how far the ratios move between two quiet phases
of the same run, the noise a stream's ratio is weighed against.

``--rounds N``: quiet then stream N times, each for its share of the seconds, each phase's rounds taken
together; both phases then span the whole run, so a drift of the machine weighs on both alike.

Printed per store: each callback's p50/p95/p99 in each phase and the ratio of the p95s (target: the stream
no worse than quiet, under 300 ms); freshness p50/p95/max (target p95 under 5 s); the server's memory
(its processes' RSS summed) at each phase's start and end and per 100 cases pushed; and from the server's
request log (``ONEMAP_REQUEST_LOG``, kept in ``bench/out/requests_stream_<store>.log``), each callback's time
on the server, the processor time it used and what it waited for, per phase. Any failed request
fails the run. ``--small``: the 10 000-row store, 10 s quiet, 30 s stream, 3 people, 1 wall.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import requests
import shapely

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import (  # noqa: E402
    _status_mb,
    check,
    children,
    cpu_s,
    descendants,
    free_port,
    record,
    start_server,
    stop,
    wait_listening,
)
from dashboard_1m import OUT  # noqa: E402
from largestore import writable_copy  # noqa: E402
from load import PEOPLE, PG, Recorder, logged_in, person, wall, wall_screen  # noqa: E402

from dashboards.app import create_app  # noqa: E402
from dashboards.client import DashClient, ServerHttp, for_app  # noqa: E402
from dashboards.request_log import CALLBACK_PATH  # noqa: E402
from demo.users import demo_password  # noqa: E402
from layers.apikeys import add_key  # noqa: E402
from layers.areas import DISTRICT  # noqa: E402
from layers.store import open_store  # noqa: E402
from layers.users import add_kiosk  # noqa: E402

CHANNEL = "grid_platform"
LOCAL = "Asia/Shanghai"  # requested_datetime carries +08:00; stored times are the district's wall clock
RECEIVED = "overview-kpi-events-received"


def server_rss_mb(pid: int) -> float:
    return sum(_status_mb(p, "VmRSS") for p in [pid, *children(pid)])


def server_pss_mb(pid: int) -> float:
    """The server's memory with the pages its forked processes share counted once (RSS counts them in each).

    Read at the ends of a phase only: the kernel walks a process's pages for it, holding its memory map's lock
    (every page fault of the server waits), which made the callbacks of the phase it was read in slower."""
    return sum(_status_mb(p, "Pss", "smaps_rollup") for p in [pid, *children(pid)])


def tile_value(answer: dict, tile_id: str) -> int | None:
    """The number a KPI tile shows, found in a Dash callback's JSON answer."""
    stack = [answer]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("id") == tile_id:
                text = str(node.get("children", "")).replace(",", "")
                return int(text) if text.isdigit() else None
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return None


def cpu_by_role(server_pid: int) -> dict[int, tuple[str, float]]:
    """Each process of the server (pid → role, CPU seconds so far), and this bench's own process (the clients).

    Roles: ``serving`` (the server and its workers), ``intake`` (the workers' intake children, started by
    multiprocessing), ``clients`` (this process: the people, the walls, the probe and the channel system)."""
    found = {}
    for pid in [server_pid, *descendants(server_pid)]:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        found[pid] = ("intake" if b"multiprocessing" in command else "serving", cpu_s(pid))
    times = os.times()
    found[os.getpid()] = ("clients", times.user + times.system)
    return found


def cpu_used(start: dict, end: dict) -> dict[str, float]:
    """CPU seconds used between two ``cpu_by_role`` readings, by role (a process started since counts whole)."""
    used: dict[str, float] = {"serving": 0.0, "intake": 0.0, "clients": 0.0}
    for pid, (role, seconds) in end.items():
        used[role] += seconds - start.get(pid, (role, 0.0))[1]
    return used


class Stream:
    """The channel system pushing one case every ``every`` seconds, and the probe that waits to see each counted."""

    def __init__(self, url, key, cells, services, callback_map, every=1.0):
        self.url, self.key, self.every = url, key, every
        self.cells = cells
        self.services = services
        self.probe = DashClient(ServerHttp(url), callback_map)
        answer = self.probe.log_in("commander", demo_password("commander"))
        check(answer.status_code == 200 and "/login" not in answer.url, "the probe's login failed")
        today = pd.Timestamp.now(tz=LOCAL).date()
        self.period = {"overview-period.start_date": (today - timedelta(days=1)).isoformat(),
                       "overview-period.end_date": (today + timedelta(days=1)).isoformat()}
        self.sent: list[float] = []  # when each stored case's POST was sent
        self.seen: list[float] = []  # when the KPI first counted it
        self.rss: list[tuple[int, float]] = []
        self.lock = threading.Lock()

    def counted(self, record) -> int | None:
        t = time.perf_counter()
        try:
            answer = self.probe.call("overview-kpis", self.period)
            ok = answer.status_code == 200
            value = tile_value(answer.json(), RECEIVED) if ok else None
        except (requests.RequestException, json.JSONDecodeError) as exc:
            ok, value = False, None
            answer = exc
        record.add("probe overview-kpis", time.perf_counter() - t, ok and value is not None, str(answer)[:120])
        return value

    def push(self, n: int, rng: random.Random, record) -> bool:
        cell = self.cells.geometry.iat[rng.randrange(len(self.cells))]
        minx, miny, maxx, maxy = cell.bounds
        while True:
            x, y = rng.uniform(minx, maxx), rng.uniform(miny, maxy)
            if shapely.contains_xy(cell, x, y):
                break
        body = {"service_code": rng.choice(self.services), "lat": round(y, 7), "long": round(x, 7),
                "description": "推送压测", "requested_datetime": pd.Timestamp.now(tz=LOCAL).isoformat(timespec="seconds"),
                "channel_request_id": f"STREAM-{uuid.uuid4().hex[:12]}-{n}"}
        t = time.perf_counter()
        try:
            answer = requests.post(f"{self.url}/open311/v2/requests.json", json=body, timeout=60,
                                   headers={"Authorization": f"Bearer {self.key}"})
            ok = answer.status_code in (200, 201)
            reason = f"HTTP {answer.status_code} {answer.text[:120]}"
        except requests.RequestException as exc:
            ok, reason = False, f"{type(exc).__name__}: {str(exc)[:120]}"
        record.add("push (POST requests.json)", time.perf_counter() - t, ok, reason)
        if ok:
            with self.lock:
                self.sent.append(t)
        return ok

    def probing(self, record, base=None):
        """Ask for the KPI tiles every 0.25 s until the event returned is set; with ``base`` (the count before the
        first push), note when each case sent is first counted."""
        stop_probe = threading.Event()

        def probe():
            while not stop_probe.is_set():
                value = self.counted(record)
                now = time.perf_counter()
                if base is not None and value is not None:
                    with self.lock:
                        while len(self.seen) < min(value - base, len(self.sent)):
                            self.seen.append(now)
                stop_probe.wait(0.25)

        prober = threading.Thread(target=probe)
        prober.start()
        return stop_probe, prober

    def run(self, until, record, server_pid):
        counted = self.counted(record)
        check(counted is not None, "the probe could not read the received tile")
        # What was counted before the first case this bench pushed (every case of an earlier round was counted).
        base = counted - len(self.sent)
        stop_probe, prober = self.probing(record, base)
        rng = random.Random(2020)
        start, n = time.perf_counter(), 0
        while time.monotonic() < until:
            self.push(n, rng, record)
            n += 1
            if n % 10 == 0:
                self.rss.append((len(self.sent), server_rss_mb(server_pid)))
            time.sleep(max(0.0, start + n * self.every - time.perf_counter()))
        # The last cases: give them up to 60 s to be counted.
        deadline = time.perf_counter() + 60
        while len(self.seen) < len(self.sent) and time.perf_counter() < deadline:
            time.sleep(0.25)
        stop_probe.set()
        prober.join()
        return base


def phase(url, callback_map, browsers, screens, seconds, think, stream=None, server_pid=None, probe=None):
    """People (``browsers``, logged in) and walls (``screens``) for ``seconds``; with ``stream``, the cases pushed
    and the probe; with ``probe`` (a ``Stream`` that pushes nothing in this phase), its probe alone, so the
    quiet phase bears the same requests."""
    record = Recorder()
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=person, args=(url, callback_map, PEOPLE[i % len(PEOPLE)], until, record, i,
                                                     think, client)) for i, client in enumerate(browsers)]
    threads += [threading.Thread(target=wall, args=(url, callback_map, None, until, record, screen))
                for screen in screens]
    rss = [server_rss_mb(server_pid)]
    pss = [server_pss_mb(server_pid)]
    cpu = cpu_by_role(server_pid)
    began = pd.Timestamp.now(tz="UTC").tz_localize(None)
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    probing = probe.probing(record) if probe is not None else None
    if stream is not None:
        stream.run(until, record, server_pid)
    for thread in threads:
        thread.join()
    if probing is not None:
        probing[0].set()
        probing[1].join()
    used, elapsed = cpu_used(cpu, cpu_by_role(server_pid)), time.perf_counter() - started
    rss.append(server_rss_mb(server_pid))
    pss.append(server_pss_mb(server_pid))
    return Phase(record, rss, pss, used, elapsed, [(began, pd.Timestamp.now(tz="UTC").tz_localize(None))])


@dataclass
class Phase:
    record: Recorder
    rss: list[float]  # MB at its start and end
    pss: list[float]
    cpu: dict[str, float]  # CPU seconds by role (``cpu_used``)
    seconds: float
    spans: list  # (began, ended) of each of its rounds, UTC


def joined(rounds: list[Phase]) -> Phase:
    """The rounds of one phase as one: their requests together, memory at the first's start and the last's end."""
    record = Recorder()
    for ran in rounds:
        for name, times in ran.record.times.items():
            record.times.setdefault(name, []).extend(times)
        for counts, into in ((ran.record.errors, record.errors), (ran.record.reasons, record.reasons)):
            for name, n in counts.items():
                into[name] = into.get(name, 0) + n
    cpu = {role: sum(ran.cpu[role] for ran in rounds) for role in rounds[0].cpu}
    return Phase(record, [rounds[0].rss[0], rounds[-1].rss[-1]], [rounds[0].pss[0], rounds[-1].pss[-1]], cpu,
                 sum(ran.seconds for ran in rounds), [span for ran in rounds for span in ran.spans])


def server_side(requests_log: Path, phases: dict[str, Phase]) -> list[str]:
    """The server's own timing of each callback per phase, from its request log (``ONEMAP_REQUEST_LOG``): how long
    it took, the processor time its thread used, and the difference, what it waited for (the other threads of
    its process, the store). p50 / p95 in ms."""
    if not requests_log.exists():
        return []
    lines = pd.read_csv(requests_log, sep="\t", header=None, quoting=3,
                        names=["began", "pid", "method", "asked", "status", "sent", "ms", "cpu"])
    lines["began"] = pd.to_datetime(lines["began"])
    lines["asked"] = lines["asked"].str.replace(f"{CALLBACK_PATH}:", "", regex=False)
    lines["waited"] = lines["ms"] - lines["cpu"]
    out = ["| callback (server side) | phase | n | took p50 / p95 | CPU p50 / p95 | waited p50 / p95 |", "|---|---|---|---|---|---|"]
    for name, ran in phases.items():
        within = np.zeros(len(lines), dtype=bool)
        for began, ended in ran.spans:
            within |= ((lines["began"] >= began) & (lines["began"] < ended)).to_numpy()
        for asked, rows in lines[within].groupby("asked"):
            if len(rows) < 20:
                continue
            cells = [f"{rows[c].quantile(0.5):.0f} / {rows[c].quantile(0.95):.0f}" for c in ("ms", "cpu", "waited")]
            out.append(f"| {asked} | {name} | {len(rows)} | " + " | ".join(cells) + " |")
    return out


def percentiles(times) -> np.ndarray:
    return np.percentile(np.array(times) * 1000, [50, 95, 99])


def serve_and_stream(spec: str, label: str, args, think) -> list[str]:
    with open_store(spec) as store:
        tokens = [add_kiosk(store, area=DISTRICT, label=f"stream {i}", view="rotate=1")[1] for i in range(args.walls)]
        _, key = add_key(store, CHANNEL, label="bench/stream.py")
        cells = store.read("grid_cells")
        cases_before = store.count("cases")
    log = OUT / f"server_stream_{label}.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    started = time.perf_counter()
    requests_log = OUT / f"requests_stream_{label}.log"
    requests_log.unlink(missing_ok=True)
    server = start_server(spec, port, log, "--workers", str(args.workers), env={"ONEMAP_REQUEST_LOG": str(requests_log)})
    failed = []
    try:
        wait_listening(server, url, args.listen_timeout, log=log)
        callback_map = for_app(create_app(spec)).callback_map
        services = [s["service_code"] for s in requests.get(f"{url}/open311/v2/services.json", timeout=60,
                                                            headers={"Authorization": f"Bearer {key}"}).json()]
        check(len(services) > 0, f"{label}: services.json listed no service")
        print(f"{label}: {cases_before:,} cases; server ready after {time.perf_counter() - started:.0f} s, "
              f"{server_rss_mb(server.pid):.0f} MB", flush=True)
        stream = Stream(url, key, cells, services, callback_map)
        # Logged in once, before the phases: ten logins (a password hash each) at a phase's start made a burst
        # of CPU that the callbacks of that phase's first seconds waited behind, in every round of both phases.
        logins = Recorder()
        browsers = [logged_in(url, callback_map, PEOPLE[i % len(PEOPLE)], logins) for i in range(args.users)]
        screens = [wall_screen(url, callback_map, token) for token in tokens]
        check(not logins.errors, f"{label}: a login failed: {logins.reasons}")
        # Rounds of quiet then stream, taken together per phase: both phases then span the same stretch of the
        # run, and a drift of the machine over it (another process, the store's growth) weighs on both alike.
        calms, busies = [], []
        for _ in range(args.rounds):
            calms.append(phase(url, callback_map, browsers, screens, args.quiet / args.rounds, think,
                               server_pid=server.pid, probe=stream))
            busies.append(phase(url, callback_map, browsers, screens, args.seconds / args.rounds, think,
                                None if args.control else stream, server.pid, probe=stream if args.control else None))
        calm, busy = joined(calms), joined(busies)
    finally:
        stop(server)
    with open_store(spec) as store:
        cases_after = store.count("cases")
    pushed = len(stream.sent)
    fresh = np.array(stream.seen) - np.array(stream.sent[:len(stream.seen)])
    second = "nothing pushed (--control)" if args.control else f"one case every {stream.every:g} s"
    print(f"\n{label}: {args.users} people (thinking {think[0]:g}-{think[1]:g} s) + {args.walls} walls; quiet "
          f"{args.quiet:.0f} s and {args.seconds:.0f} s with {second}, "
          f"in {args.rounds} round(s) of quiet then stream")
    print(f"{label}: pushed {pushed} cases, the store grew by {cases_after - cases_before}; counted by the KPI: "
          f"{len(stream.seen)} of {pushed}")
    if len(fresh):
        print(f"{label}: freshness (POST sent → KPI counts it) p50 {np.percentile(fresh, 50):.2f} s, "
              f"p95 {np.percentile(fresh, 95):.2f} s, max {fresh.max():.2f} s")
    grown = [f"{n} cases {mb:.0f} MB" for n, mb in stream.rss[::max(1, len(stream.rss) // 6)]]
    print(f"{label}: server RSS quiet {calm.rss[0]:.0f} → {calm.rss[1]:.0f} MB; stream {busy.rss[0]:.0f} → "
          f"{busy.rss[1]:.0f} MB ({'; '.join(grown)})")
    if len(stream.rss) >= 2:
        slope = np.polyfit([n for n, _ in stream.rss], [mb for _, mb in stream.rss], 1)[0] * 100
        print(f"{label}: RSS slope over the stream {slope:.1f} MB per 100 cases; PSS (shared pages counted once) "
              f"quiet {calm.pss[0]:.0f} → {calm.pss[1]:.0f} MB, stream {busy.pss[0]:.0f} → {busy.pss[1]:.0f} MB")
    for name, ran in (("quiet", calm), ("stream", busy)):
        print(f"{label}: CPU in the {name} phase, cores busy on average: " + ", ".join(
            f"{role} {seconds / ran.seconds:.2f}" for role, seconds in ran.cpu.items()))
    if pushed:
        print(f"{label}: CPU per case pushed, over the quiet phase's rate: " + ", ".join(
            f"{role} {1000 * (busy.cpu[role] - calm.cpu[role] / calm.seconds * busy.seconds) / pushed:.0f} ms"
            for role in busy.cpu))
    print("| store | callback | quiet n | quiet p50 / p95 / p99 | stream n | stream p50 / p95 / p99 | p95 ratio |")
    print("|---|---|---|---|---|---|---|")
    for name in sorted(set(calm.record.times) | set(busy.record.times)):
        q, b = calm.record.times.get(name, []), busy.record.times.get(name, [])
        qp = percentiles(q) if q else [np.nan] * 3
        bp = percentiles(b) if b else [np.nan] * 3
        print(f"| {label} | {name} | {len(q)} | {qp[0]:.0f} / {qp[1]:.0f} / {qp[2]:.0f} ms | {len(b)} | "
              f"{bp[0]:.0f} / {bp[1]:.0f} / {bp[2]:.0f} ms | {bp[1] / qp[1]:.2f} |", flush=True)
    if args.rounds > 1:  # how much the ratio moves between rounds: the noise it is weighed against
        for name in sorted(set(calm.record.times) & set(busy.record.times)):
            ratios = [np.percentile(b.record.times[name], 95) / np.percentile(q.record.times[name], 95)
                      for q, b in zip(calms, busies) if name in q.record.times and name in b.record.times]
            print(f"{label}: {name}: p95 ratio per round " + ", ".join(f"{r:.2f}" for r in ratios))
    for line in server_side(requests_log, {"quiet": calm, "stream": busy}):
        print(line, flush=True)
    for recorder in (calm.record, busy.record):
        for reason, n in sorted(recorder.reasons.items(), key=lambda kv: -kv[1])[:5]:
            print(f"  {n} × {reason}")
    errors = sum(calm.record.errors.values()) + sum(busy.record.errors.values())
    if errors:
        failed.append(f"{label}: {errors} failed requests (server log kept in {log})")
    if len(stream.seen) < pushed:
        failed.append(f"{label}: {pushed - len(stream.seen)} pushed cases never counted")
    if cases_after - cases_before != pushed:
        failed.append(f"{label}: {pushed} pushed but the store grew by {cases_after - cases_before}")
    if not failed:
        log.unlink(missing_ok=True)
    return failed


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stores", default="gpkg,postgis")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--quiet", type=float, default=300)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--users", type=int, default=10)
    parser.add_argument("--control", action="store_true",
                        help="push nothing in the stream phase: how far the ratios move with no stream (the noise)")
    parser.add_argument("--walls", type=int, default=2)
    parser.add_argument("--think", default="2,6", help="seconds between a person's changes: LOW,HIGH")
    parser.add_argument("--rounds", type=int, default=1,
                        help="quiet then stream this many times, each for its share of --quiet and --seconds")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--listen-timeout", type=float, default=600)
    parser.add_argument("--small", action="store_true")
    parser.add_argument("--hold", action="store_true",
                        help="the server holds the cases whatever their number (ONEMAP_HOLD_MAX; by default a "
                             "server holds none above 250 000, and its views ask the store)")
    args = parser.parse_args(argv)
    if args.hold:
        os.environ["ONEMAP_HOLD_MAX"] = str(10**12)  # the server started below inherits it
    if args.small:
        args.quiet, args.seconds, args.users, args.walls = 10.0, 30.0, 3, 1
    think = tuple(float(v) for v in args.think.split(","))
    record(["pandas", "geopandas", "pyogrio", "dash", "flask", "gunicorn", "psycopg", "requests"],
           postgres=PG if "postgis" in args.stores else None)
    failed = []
    with tempfile.TemporaryDirectory(prefix="onemap-bench-stream-") as tmp:
        folder = Path(tmp)
        spec, _ = writable_copy(folder, args.small, args.rows)
        for label in args.stores.split(","):
            where = spec
            if label == "postgis":
                from tests.conftest import copy_store

                where = f"{PG}?schema=bench_stream_{uuid.uuid4().hex[:8]}"
                copy_store(spec, where)
            try:
                failed += serve_and_stream(where, label, args, think)
            finally:
                if label == "postgis":
                    with open_store(where) as store, store._connection() as conn:
                        conn.execute(f'DROP SCHEMA "{store.schema}" CASCADE')
    check(not failed, "; ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
