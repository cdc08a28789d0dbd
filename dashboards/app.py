"""Create and serve the Dash app over one store: only wiring (the request helpers are in ``dashboards.request``)."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path

import dash
import plotly.io as pio
from dash import html

from dashboards import auth, download, errors, feed, figures, geo, open311
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.cache import CACHE
from dashboards.schedule import BriefSchedule
from layers.errors import StoreUnreachable
from layers.settings import SETTINGS
from layers.store import open_store

_HERE = Path(__file__).parent
CONNECTION_LIMIT = SETTINGS.connection_limit


def create_app(store_spec: str, *, basemap: Basemap = NO_BASEMAP) -> dash.Dash:
    """The Dash app over one store: one store object (with its connection pool) for every request of a process."""
    pio.templates.default = figures.TEMPLATE_NAME
    app = dash.Dash(
        __name__, use_pages=True, pages_folder=str(_HERE / "pages"), assets_folder=str(_HERE / "assets"),
        title="社会治理一张图 · One map", suppress_callback_exceptions=True, on_error=errors.on_callback_error,
    )
    store = open_store(store_spec)
    app.server.extensions["onemap_store"] = store
    app.server.config["ONEMAP_STORE"] = str(store_spec)
    app.server.extensions["onemap_basemap"] = basemap
    app.layout = html.Div([errors.error_box(), dash.page_container])
    errors.install(app)
    auth.install(app, store)
    geo.install(app)
    feed.install(app)
    open311.install(app)
    return app


def serve(store_spec: str, *, host: str = "127.0.0.1", port: int = 8050, basemap: Basemap = NO_BASEMAP,
          workers: int = 1, brief_at=None, inbox=None):
    """Serve the app: waitress in this process, or with ``workers`` > 1, gunicorn with that many processes;
    with ``brief_at`` (a time of day), the day's briefs are made and archived then (``dashboards.schedule``);
    with ``inbox`` (a folder), what is dropped there is ingested as it arrives, by ``onemap watch`` in a process
    of its own (``etl.inbox``).

    One process answers with one core at a time (Python's lock); a server with several cores and
    many people filtering at once needs several. The cases are read once, before the processes
    are forked, so they start warm and share those pages of memory.
    """
    app = settled(create_app(store_spec, basemap=basemap))
    store = app.server.extensions["onemap_store"]
    swept = download.sweep()  # what a killed server's export left behind
    if swept:
        print(f"removed {swept} export folder(s) a stopped server left behind", flush=True)
    try:
        store.check_schema()  # a store behind its schema is refused here, with how to migrate it
        CACHE.warm(store)
    except StoreUnreachable as exc:  # the database may be down at start: the first requests try again
        print(f"the store did not answer at start ({exc}); serving anyway", flush=True)
    store.close()  # its connections are not carried into the processes forked below: each makes its own
    print(f"serving the one map on http://{host}:{port} (store {store_spec}, {workers} process"
          f"{'es' if workers > 1 else ''})", flush=True)
    if brief_at is not None:  # in this process: gunicorn's workers are forked from it and run no thread of it
        BriefSchedule(str(store_spec), brief_at, log=lambda text: print(text, flush=True)).start()
        print(f"the daily briefs are made at {brief_at:%H:%M}", flush=True)
    if inbox:  # the writer in a process of its own, as the briefs: the server only reads
        watcher = subprocess.Popen([sys.executable, "-m", "onemap.cli", "watch", str(inbox), "--store", str(store_spec),
                                    "--parent", str(os.getpid())])
        atexit.register(watcher.terminate)  # and, killed, the watcher sees its parent gone and stops
        print(f"watching {inbox} for exports (a folder per source profile)", flush=True)
    if workers > 1:
        _Gunicorn(app.server, {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                               "threads": SETTINGS.server_threads, "worker_connections": CONNECTION_LIMIT, "keepalive": 75,
                               "timeout": 300, "preload_app": True, "accesslog": None}).run()
        return
    from waitress import serve as waitress_serve

    # Every browser keeps several connections open (a wall all day); waitress's default limit of 100
    # open connections left the 101st client waiting until another went away.
    waitress_serve(app.server, host=host, port=port, threads=SETTINGS.server_threads, connection_limit=CONNECTION_LIMIT)


def settled(app: dash.Dash) -> dash.Dash:
    """The app with what Dash does on its first request done: its pages' callbacks registered.

    Dash does it in the first request of a process without a lock; two first requests at once (ten people
    and two walls opening a server just started) raced it, and a login was answered 500. Done once here,
    before the processes are forked: each starts with it done. An anonymous request for the layout: Dash's
    own hooks run before the gate, which refuses it without reading the store.
    """
    app.server.test_client().get("/_dash-layout")
    return app


def _Gunicorn(wsgi, options):
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    return Application()
