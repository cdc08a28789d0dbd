"""What one pushed case costs the server process that takes it, in a store of 1 000 000 cases (issue 18).

Run by hand (README of bench/ has the figures):

    .venv/bin/python bench/push.py [--rows 1000000] [--runs 9] [--postgis] [--small] [--profile]

In one process: the app over a writable copy of the store the 1M benches share (``bench/largestore.py``;
``--postgis``: that copy in its own schema), through Flask's test client, its copy of the cases read
first. Each run pushes two cases (``POST /open311/v2/requests.json`` with the grid platform's key, as
``bench/stream.py`` sends it), then asks for the commander's KPI tiles over the pushed case's days (the
callback that counts it) and checks they count it; a second push comes before the KPI, so that it finds the
process's copy a write behind. Runs alternate between two ways of taking the push:

- now: the code checked out. The push writes and answers; the follower's turn (``CACHE.follow_now``, in a
  server its own thread) brings the process's copy up to date, then the KPI request counts the cases.
- before (3a551e2, kept here): the push request also pins the held cases and brings them up to date
  first (its key lookup went through the cache, which pinned the cases of every request that asked it for
  anything), and names the categories a case may be reported as from the copy's values as Python
  objects (``_old_categories``).

Then the Open311 reads of the channel's cases: the listing (``GET requests.json`` since 2000: every case
of the channel kept and sorted, 1000 answered) as ``dashboards.open311._listing`` makes it now and as it did (``_old_listing``), checked
equal, and one case (``GET requests/{id}.json``).

Prints medians. ``--profile``: cProfile of one push each way (the top by cumulative time).
``--small``: the 10 000-row store, 3 runs each way.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import flask
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchenv import check, record  # noqa: E402
from largestore import postgis_copy, writable_copy  # noqa: E402
from stream import CHANNEL, LOCAL, RECEIVED, tile_value  # noqa: E402
from write_small import PG  # noqa: E402

from dashboards import open311  # noqa: E402
from dashboards.app import create_app  # noqa: E402
from dashboards.cache import CACHE  # noqa: E402
from dashboards.client import for_app  # noqa: E402
from dashboards.request import store_from_request  # noqa: E402
from demo.users import demo_password  # noqa: E402
from layers.apikeys import add_key  # noqa: E402
from layers.open311 import service_request  # noqa: E402
from layers.store import open_store  # noqa: E402

# --- Baseline: the push and the listing as they were at 3a551e2 (dashboards/open311.py), for comparison only. --


def _old_categories(store) -> pd.DataFrame:
    cases = CACHE.cases(store)[0]
    seen = pd.DataFrame({"category": cases["category"].astype(object), "kind": cases["kind"].astype(object)})
    seen = seen.dropna().drop_duplicates()
    listed = CACHE.layer(store, "responsibilities")[["category"]].dropna().drop_duplicates().assign(kind=None)
    both = pd.concat([seen, listed[~listed["category"].isin(seen["category"])]], ignore_index=True)
    return both.drop_duplicates("category")


def _old_listing(who, args) -> list[dict]:
    f, _ = open311._scope(who)
    store = store_from_request()
    cases = CACHE.cases(store)[0]
    start = open311._local_time(args["start_date"], "start_date", strict=True) if "start_date" in args else None
    end = open311._local_time(args["end_date"], "end_date", strict=True) if "end_date" in args else None
    if start is None and end is None:  # Open311: the last 90 days unless asked otherwise
        start = pd.Timestamp.now().floor("D") - pd.Timedelta(days=90)
    keep = f.mask(cases)
    at = cases["reported_at"]
    if start is not None:
        keep &= (at >= start).to_numpy()
    if end is not None:
        keep &= (at <= end).to_numpy()
    if args.get("service_request_id"):
        keep &= cases["case_id"].isin(args["service_request_id"].split(",")[:open311.LIST_MAX]).to_numpy()
    if args.get("service_code"):
        keep &= cases["category"].isin(args["service_code"].split(",")).to_numpy()
    if args.get("status"):
        wanted = set(args["status"].split(","))
        unknown = wanted - {"open", "closed"}
        if unknown:
            raise open311.Refused(400, f"status {sorted(unknown)}: Open311 knows open and closed",
                          [{"code": 400, "field": "status", "reason": "unknown_value",
                            "description": f"status {sorted(unknown)}: Open311 knows open and closed"}])
        closed = (cases["status"] == "closed").to_numpy()
        keep &= closed if wanted == {"closed"} else ~closed if wanted == {"open"} else True
    try:
        limit = int(args.get("limit", open311.LIST_MAX))
    except ValueError:
        raise open311.Refused(400, "limit: not a whole number",
                      [{"code": 400, "field": "limit", "reason": "bad_number",
                        "description": "limit: not a whole number"}]) from None
    if not 1 <= limit <= open311.LIST_MAX:
        words = f"limit: from 1 to {open311.LIST_MAX}"
        raise open311.Refused(400, words, [{"code": 400, "field": "limit", "reason": "bad_number", "description": words}])
    found = cases[keep].sort_values(["reported_at", "case_id"], ascending=False).head(limit)
    return [service_request(open311._plain(row)) for row in found.to_dict("records")]


# --- End of the baseline. -------------------------------------------------------------------------------


class Before:
    """Switches the app between the push as it is now and as it was (``before``)."""

    def __init__(self, app):
        self.on = False
        self.categories = open311._categories

        @app.server.before_request
        def pin_cases():  # what the key lookup did at 3a551e2: pin the cases, following any write first
            if self.on and flask.request.path.startswith(open311.PREFIX + "/"):
                CACHE.cases(store_from_request())

    def __call__(self, on: bool):
        self.on = on
        open311._categories = _old_categories if on else self.categories


# The listing asked for: the channel's cases since 2000, the first thousand by time (every case kept is sorted).
LISTED = {"start_date": "2000-01-01T00:00:00+08:00"}


def a_case(cells, rng, n: int) -> dict:
    cell = cells.geometry.iat[int(rng.integers(len(cells)))].representative_point()
    return {"service_code": "邻里纠纷", "lat": round(cell.y, 7), "long": round(cell.x, 7), "datum": "cgcs2000",
            "description": "推送压测", "requested_datetime": pd.Timestamp.now(tz=LOCAL).isoformat(timespec="seconds"),
            "channel_request_id": f"PUSH-{uuid.uuid4().hex[:12]}-{n}"}


def profiled(call) -> str:
    profile = cProfile.Profile()
    profile.enable()
    call()
    profile.disable()
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(28)
    return out.getvalue()


def measure(spec: str, runs: int, show_profile: bool) -> dict:
    with open_store(spec) as store:
        _, key = add_key(store, CHANNEL, label="bench/push.py")
        cells = store.read("grid_cells")
    # A server holding the cases, as a district's does (above ONEMAP_HOLD_MAX, 250 000 by default, it holds none).
    CACHE.hold_max = 10**12
    app = create_app(spec)
    before = Before(app)
    started = time.perf_counter()
    CACHE.warm(app.server.extensions["onemap_store"])
    print(f"copy of {len(CACHE.cases(app.server.extensions['onemap_store'])[0]):,} cases read in "
          f"{time.perf_counter() - started:.1f} s", flush=True)
    server = app.server.test_client()
    people = for_app(app)
    answer = people.log_in("commander", demo_password("commander"))
    check(answer.status_code in (200, 302), "the commander's login failed")
    today = pd.Timestamp.now(tz=LOCAL).date()
    period = {"overview-period.start_date": (today - timedelta(days=1)).isoformat(),
              "overview-period.end_date": (today + timedelta(days=1)).isoformat()}
    headers = {"Authorization": f"Bearer {key}"}
    rng = np.random.default_rng(2020)

    def kpi() -> int:
        answer = people.call("overview-kpis", period)
        check(answer.status_code == 200, f"KPI callback: HTTP {answer.status_code}")
        return tile_value(answer.get_json(), RECEIVED)

    def push(n):
        answer = server.post(f"{open311.PREFIX}/requests.json", json=a_case(cells, rng, n), headers=headers)
        check(answer.status_code == 201, f"push: HTTP {answer.status_code} {answer.get_data(as_text=True)[:200]}")
        return answer.get_json()[0]["service_request_id"]

    steps = ("push", "push after a push", "kpi", "all")
    times = {(way, step): [] for way in ("before", "now") for step in steps}
    counted = kpi()
    for n in range(1, 2 * runs + 3):
        way = "before" if n % 2 else "now"
        before(way == "before")
        t0 = time.perf_counter()
        push(2 * n)  # the process's copy is up to date: the KPI before counted the last push
        t1 = time.perf_counter()
        case_id = push(2 * n + 1)  # the copy is a write behind
        t2 = time.perf_counter()
        CACHE.follow_now(app.server.extensions["onemap_store"])  # the follower's turn, which takes a push in (in a server, its own thread)
        now = kpi()
        t3 = time.perf_counter()
        check(now == counted + 2, f"the KPI counts the two pushed cases: {counted} → {now}")
        counted = now
        if n > 2:  # the first of each way warms what it reads
            for step, took in zip(steps, (t1 - t0, t2 - t1, t3 - t2, t3 - t0)):
                times[(way, step)].append(took)
    if show_profile:
        for way in ("before", "now"):
            before(way == "before")
            push(1000 + (way == "now"))
            print(f"\n--- a push a write behind, {way} ---\n" + profiled(lambda: push(2000 + (way == "now"))))
            kpi()
    before(False)
    listing = {"before": [], "now": []}
    for _ in range(runs):
        for way, make in (("before", _old_listing), ("now", open311._listing)):
            with app.server.test_request_context(f"{open311.PREFIX}/requests.json", headers=headers):
                who = open311._who()
                t = time.perf_counter()
                found = make(who, LISTED)
                listing[way].append(time.perf_counter() - t)
                if way == "before":
                    old = found
                else:
                    check(found == old, "the listing is the same as before")
    one = []
    for _ in range(runs):
        t = time.perf_counter()
        answer = server.get(f"{open311.PREFIX}/requests/{case_id}.json", headers=headers)
        one.append(time.perf_counter() - t)
        check(answer.status_code == 200, f"one case: HTTP {answer.status_code}")
    out = {f"{way} {step}": statistics.median(v) for (way, step), v in times.items()}
    out |= {f"listing {way}": statistics.median(v) for way, v in listing.items()}
    return out | {"one": statistics.median(one), "listed": len(old), "cases": counted}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--postgis", action="store_true", help="on a PostGIS copy instead")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--small", action="store_true")
    args = parser.parse_args(argv)
    if args.small:
        args.runs = 3
    record(["pandas", "geopandas", "pyogrio", "flask", "dash", "psycopg"], postgres=PG if args.postgis else None)
    with tempfile.TemporaryDirectory(prefix="onemap-bench-push-") as tmp:
        spec, _ = writable_copy(Path(tmp), args.small, args.rows)
        with postgis_copy(spec, PG, "bench_push") if args.postgis else contextlib.nullcontext(spec) as where:
            m = measure(where, args.runs, args.profile)
    kind = "postgis" if args.postgis else "gpkg"
    print(f"\n{kind}: two cases pushed, then the KPI that counts them (medians of {args.runs} each way, "
          f"{m['cases']:,} cases counted by the KPI's days):")
    print("| way | push (copy up to date) | push (copy a write behind) | a follow and the KPI after them | all three |")
    print("|---|---|---|---|---|")
    for way in ("before", "now"):
        print(f"| {way} | " + " | ".join(f"{m[f'{way} {step}'] * 1000:.0f} ms" for step in
                                      ("push", "push after a push", "kpi", "all")) + " |")
    print(f"{kind}: listing of the channel's cases since 2000 ({m['listed']} requests): before "
          f"{m['listing before'] * 1000:.0f} ms, now {m['listing now'] * 1000:.0f} ms "
          f"(x{m['listing before'] / m['listing now']:.1f}); one case {m['one'] * 1000:.0f} ms", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
