"""Benchmark: a person's first visit to the dashboard in a new browser, and their return visit (issue 20).

    .venv/bin/python bench/first_visit.py [--runs 5] [--servers waitress,gunicorn] [--million]

``--small``: the small demo store (``bench/out/demo_small.gpkg``), waitress, 2 runs, for ``bench/run_small.py``.

The demo district (``bench/out/demo_firstvisit.gpkg``: the demo until 2021-03-01, built once through the
real ETL, about a minute) served by ``onemap serve`` (waitress; with ``gunicorn`` in ``--servers``,
``--workers 2``). With ``--million``: also the five-year view over ``bench/out/dashboard_1m.gpkg`` (999 900
cases, built once by ``bench/dashboard_1m.py``'s ``build_store``, about 6 minutes on two busy cores).

Each run starts Debian's headless Chromium with a new profile (a new ``--user-data-dir``: nothing cached),
logs in as the commander on the login page (whose page loads none of the dashboard's scripts), then
times the overview from navigation until it is done: the page's own clock (``performance.now()``, from the
navigation's start) at the first moment when

- Dash's store has no callback requested, waiting, running or being applied (``dash_stores[0].getState()
  .callbacks``), nor a layout or dependencies request pending,
- the KPI tiles are filled and every ``dcc.Graph`` on the page has a drawn figure (``_fullLayout``), and
- the map's MapLibre map has loaded its style and sources (``map.loaded()``) and drawn a canvas.

The page is polled every 20 ms in the page's own time (one script that checks and returns its clock), so
the figure is late by at most a poll. Requests and bytes: the Resource Timing API (the navigation and
every resource to that moment): transferred (``transferSize``: headers and the body as sent), the bodies
as sent (``encodedBodySize``) and decoded (``decodedBodySize``). Where the time went: the moment the last
script arrived, the first and last callback requests, and Chrome's main-thread totals
(``Performance.getMetrics``: script, layout and style time). Then, in the same browser, the return visit:
the same page opened again from ``about:blank`` (its scripts in the cache). Medians over the runs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import (  # noqa: E402
    Watch,
    check,
    descendants,
    fail,
    free_port,
    record,
    small_demo_store,
    start_server,
    stop,
    wait_listening,
)

from demo.users import demo_password  # noqa: E402

OUT = Path(__file__).resolve().parent / "out"

# Evaluated in the page: its clock and which parts of "done" hold (all of them: done).
DONE = """
const out = {now: performance.now(), idle: false, tiles: false, graphs: false, map: false};
const stores = window.dash_stores;
if (stores && stores.length) {
  const state = stores[0].getState();
  const cb = state.callbacks || {};
  out.idle = !state.isLoading && ['layoutRequest', 'dependenciesRequest'].every(k => state[k] && state[k].status === 200)
    && ['requested', 'prioritized', 'blocked', 'executing', 'watched', 'executed', 'stored'].every(k => !(cb[k] || []).length);
}
const tile = document.getElementById('overview-kpi-disputes-received');
out.tiles = !!tile && tile.textContent.trim() !== '';
const graphs = [...document.querySelectorAll('.dash-graph')];
out.graphs = graphs.length > 0 && graphs.every(g => { const p = g.querySelector('.js-plotly-plot');
                                                      return !!(p && p._fullLayout && p._fullData); });
const plot = document.querySelector('#overview-map .js-plotly-plot');
const sub = plot && plot._fullLayout && plot._fullLayout.map && plot._fullLayout.map._subplot;
out.map = !!(sub && sub.map && plot._fullData.length && document.querySelector('#overview-map canvas.maplibregl-canvas')
             && sub.map.loaded());
return out;
"""
PARTS = ("idle", "tiles", "graphs", "map")

# Evaluated in the page once it is done: the main thread's long animation frames (over 50 ms) so far, and
# the scripts in them by file: how long each ran, of which compiling (from its start to its execution's).
FRAMES = """
const done = arguments[arguments.length - 1];
const frames = [];
new PerformanceObserver(list => frames.push(...list.getEntries())).observe({type: 'long-animation-frame', buffered: true});
setTimeout(() => {
  const scripts = {};
  for (const f of frames) for (const s of f.scripts) {
    const name = (s.sourceURL || s.invoker || '?').split('?')[0].split('/').pop();
    const row = scripts[name] = scripts[name] || {ms: 0, compile: 0};
    row.ms += s.duration; row.compile += Math.max(0, s.executionStart - s.startTime);
  }
  done({frames: frames.reduce((a, f) => a + f.duration, 0), blocking: frames.reduce((a, f) => a + f.blockingDuration, 0),
        scripts});
}, 300);
"""

# Evaluated in the page once it is done: the requests made since the navigation began, up to ``until`` ms.
REQUESTS = """
const until = arguments[0];
const nav = performance.getEntriesByType('navigation')[0];
const rows = [nav, ...performance.getEntriesByType('resource').filter(e => e.startTime <= until)];
return rows.map(e => ({name: e.name, type: e.initiatorType, start: e.startTime, end: e.responseEnd,
                       transfer: e.transferSize, encoded: e.encodedBodySize, decoded: e.decodedBodySize}));
"""


def chromium(profile: Path):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--use-angle=swiftshader",
                "--enable-unsafe-swiftshader", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1600,1000", "--lang=zh-CN",
                f"--user-data-dir={profile}"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                            options=options)


def log_in(driver, url: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    # The login page with a "next" that is no dashboard page: the timed visit is the first to load its scripts.
    driver.get(f"{url}/login?next=/geo/streets.geojson")
    driver.find_element(By.NAME, "user").send_keys("commander")
    driver.find_element(By.NAME, "password").send_keys(demo_password("commander"))
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(driver, 60).until(lambda d: "/login" not in d.current_url)


def visit(driver, url: str, timeout: float = 180.0) -> dict:
    """Open ``url`` from ``about:blank`` and measure it (see the module's docstring)."""
    driver.get("about:blank")
    driver.execute_cdp_cmd("Performance.enable", {"timeDomain": "threadTicks"})
    before = _metrics(driver)
    driver.get(url)
    started = time.perf_counter()
    first: dict[str, float] = {}
    while True:
        state = driver.execute_script(DONE)
        for part in PARTS:
            if state[part] and part not in first:
                first[part] = state["now"] / 1000
        if all(state[p] for p in PARTS):
            done = state["now"]
            break
        if time.perf_counter() - started > timeout:
            fail(f"{url} was not done after {timeout:.0f} s: {state}")
        time.sleep(0.02)
    after = _metrics(driver)
    driver.execute_cdp_cmd("Performance.disable", {})
    rows = driver.execute_script(REQUESTS, done)
    frames = driver.execute_async_script(FRAMES)
    scripts = [r for r in rows if r["name"].split("?")[0].endswith(".js")]
    callbacks = [r for r in rows if "/_dash-update-component" in r["name"]]
    return {"done": done / 1000, "requests": len(rows),
            "transferred": sum(r["transfer"] for r in rows), "encoded": sum(r["encoded"] for r in rows),
            "decoded": sum(r["decoded"] for r in rows),
            "js_transferred": sum(r["transfer"] for r in scripts), "js_decoded": sum(r["decoded"] for r in scripts),
            "cached": sum(1 for r in rows if r["transfer"] == 0),
            "html": rows[0]["end"] / 1000,
            "scripts_in": max((r["end"] for r in scripts), default=0) / 1000,
            "first_callback": min((r["start"] for r in callbacks), default=0) / 1000,
            "last_callback": max((r["end"] for r in callbacks), default=0) / 1000, "callbacks": len(callbacks),
            **{k: after.get(k, 0) - before.get(k, 0) for k in ("ScriptDuration", "TaskDuration",
                                                                "LayoutDuration", "RecalcStyleDuration")},
            **{f"first_{p}": first[p] for p in PARTS},
            "frames": frames["frames"] / 1000, "scripts": frames["scripts"], "rows": rows}


def _metrics(driver) -> dict:
    return {m["name"]: m["value"] for m in driver.execute_cdp_cmd("Performance.getMetrics", {})["metrics"]}


def runs(url: str, page: str, n: int, returns: int) -> tuple[list[dict], list[dict]]:
    """``n`` first visits, each in a new browser with a new profile; ``returns`` return visits in the first one's."""
    first, again = [], []
    for i in range(n):
        with tempfile.TemporaryDirectory(prefix="onemap-first-visit-") as profile:
            driver = chromium(Path(profile))
            try:
                log_in(driver, url)
                first.append(visit(driver, url + page))
                if i == 0:
                    again = [visit(driver, url + page) for _ in range(returns)]
            finally:
                driver.quit()
    return first, again


def median(results: list[dict], key: str) -> float:
    return statistics.median(r[key] for r in results)


def report(label: str, first: list[dict], again: list[dict]) -> None:
    mb = 1e6
    for name, results in (("first visit", first), ("return visit", again)):
        print(f"{label}, {name}: median {median(results, 'done'):.2f} s, runs "
              f"{[round(r['done'], 2) for r in results]}; {median(results, 'requests'):.0f} requests "
              f"({median(results, 'cached'):.0f} from the cache), {median(results, 'transferred') / mb:.2f} MB "
              f"transferred, bodies {median(results, 'encoded') / mb:.2f} MB as sent, "
              f"{median(results, 'decoded') / mb:.2f} MB decoded (JavaScript {median(results, 'js_transferred') / mb:.2f}"
              f" MB transferred, {median(results, 'js_decoded') / mb:.2f} MB decoded)", flush=True)
        print(f"    where the time went (medians, s from navigation): page {median(results, 'html'):.2f}, last "
              f"script in {median(results, 'scripts_in'):.2f}, first callback sent "
              f"{median(results, 'first_callback'):.2f}, last callback answered {median(results, 'last_callback'):.2f}"
              f" ({median(results, 'callbacks'):.0f} callbacks), tiles filled {median(results, 'first_tiles'):.2f}, "
              f"graphs drawn {median(results, 'first_graphs'):.2f}, map loaded {median(results, 'first_map'):.2f}, "
              f"done {median(results, 'done'):.2f}", flush=True)
        names = sorted({n for r in results for n in r["scripts"]},
                       key=lambda n: -statistics.median(r["scripts"].get(n, {}).get("ms", 0) for r in results))[:5]
        print(f"    main thread: script {median(results, 'ScriptDuration'):.2f} s, layout "
              f"{median(results, 'LayoutDuration'):.2f}, style {median(results, 'RecalcStyleDuration'):.2f}, all tasks "
              f"{median(results, 'TaskDuration'):.2f} (CPU time); long frames {median(results, 'frames'):.2f} s, their "
              "scripts (ms run, of which compiling): " + ", ".join(
                  f"{n} {statistics.median(r['scripts'].get(n, {}).get('ms', 0) for r in results):.0f} "
                  f"({statistics.median(r['scripts'].get(n, {}).get('compile', 0) for r in results):.0f})"
                  for n in names), flush=True)
    slowest = sorted(first[0]["rows"], key=lambda r: r["end"] - r["start"], reverse=True)[:8]
    print("    the first run's slowest requests: " + "; ".join(
        f"{r['name'].split('/', 3)[-1][:60]} {r['start'] / 1000:.2f}-{r['end'] / 1000:.2f} s "
        f"{r['transfer'] / 1000:.0f}/{r['decoded'] / 1000:.0f} kB" for r in slowest), flush=True)


def serve_and_measure(spec: str, label: str, page: str, workers: int, n: int, returns: int) -> tuple[list, list]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = OUT / f"first_visit_{port}.log"
    server = start_server(spec, port, log, *(["--workers", str(workers)] if workers > 1 else []))
    try:
        wait_listening(server, url, 300, log=log)
        with Watch(lambda: [os.getpid(), *descendants(os.getpid())]) as watch:
            first, again = runs(url, page, n, returns)
    finally:
        stop(server)
    log.unlink(missing_ok=True)
    report(label, first, again)
    print(f"    {watch.summary}", flush=True)
    for r in first + again:
        check(r["requests"] > 1 and r["decoded"] > 0, f"{label}: no requests seen")
    check(all(r["cached"] == 0 for r in first), f"{label}: a first visit found something in its new profile's cache")
    return first, again


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="first visits, each in a new browser")
    parser.add_argument("--returns", type=int, default=5, help="return visits, in the first browser")
    parser.add_argument("--servers", default="waitress,gunicorn")
    parser.add_argument("--million", action="store_true", help="also the five-year view over a million cases")
    parser.add_argument("--small", action="store_true", help="the small demo store, waitress, 2 runs")
    args = parser.parse_args()
    if args.small:
        args.runs, args.returns, args.servers, args.million = 2, 2, "waitress", False
    record(["dash", "flask", "plotly", "waitress", "gunicorn", "flask-compress", "selenium"], chromium=True)
    if args.small:
        store = small_demo_store(OUT / "demo_small.gpkg")
    else:
        store = small_demo_store(OUT / "demo_firstvisit.gpkg", until="2021-03-01")
    for server in filter(None, args.servers.split(",")):
        workers = {"waitress": 1, "gunicorn": 2}[server]
        serve_and_measure(str(store), f"demo store, default view, {server}", "/", workers, args.runs, args.returns)
    if args.million:
        from dashboard_1m import bench_store

        big = bench_store(False, 1_000_000)
        serve_and_measure(str(big), "1M cases, five-year view, waitress", "/?from=2020-01-01&to=2024-12-31", 1,
                          args.runs, args.returns)


if __name__ == "__main__":
    main()
