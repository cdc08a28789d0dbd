"""Create and serve the Dash app over one store: only wiring (the request helpers are in ``dashboards.request``)."""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path

import dash
import flask
import plotly.io as pio
from dash import html
from dash.fingerprint import check_fingerprint
from flask_compress import Compress

from dashboards import auth, download, errors, feed, figures, geo, in_flight, memory, open311, request_log
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.cache import CACHE
from dashboards.schedule import BriefSchedule
from layers.errors import StoreUnreachable
from layers.settings import SETTINGS
from layers.store import open_store

_HERE = Path(__file__).parent
CONNECTION_LIMIT = SETTINGS.connection_limit
# What is worth compressing: flask-compress's list and the outlines' GeoJSON (dashboards.geo).
COMPRESSED_TYPES = ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                    "application/geo+json", "image/svg+xml"]
A_YEAR = 365 * 24 * 3600


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
    _install_delivery(app.server)
    in_flight.install(app.server)  # what the follower gives way to
    request_log.install(app.server)
    geo.install(app)
    feed.install(app)
    open311.install(app)
    return app


def set_up(app: dash.Dash) -> None:
    """Have Dash set itself up now, before a server answers (waitress's threads, gunicorn's forked workers).

    Dash sets itself up at a process's first request (the pages' callbacks, the scripts it will serve), and
    answered the requests a browser sends beside that one before it was done: a script refused (500), a new
    browser left on a blank page; two first requests at once (ten people and two walls opening a server just
    started) raced it, and a login was answered 500. Done once here, before gunicorn forks: each process starts
    with it done. After this, no route can be added to the app.
    """
    app.server.test_client().get("/login")


def _immutable(path: str, args) -> bool:
    """Whether this URL always gives the same bytes: a component suite's file named with its version
    (``dash_renderer.v4_4_1m1796131350.min.js``), or an asset asked for with its modification time (``?m=``)."""
    if path.startswith("/_dash-component-suites/"):
        return check_fingerprint(path.split("/", 3)[-1])[1]
    return path.startswith("/assets/") and "m" in args


class _StaticBodies:
    """flask-compress's cache of compressed bodies, holding only those of static files: a package's file or an
    asset does not change while the server runs (it is restarted to upgrade), so each is compressed once; the
    answers of callbacks are compressed each time (their key is ``None``)."""

    def __init__(self):
        self.bodies: dict[str, bytes] = {}

    def get(self, key: str) -> bytes | None:
        return self.bodies.get(key)

    def set(self, key: str, value: bytes) -> None:
        if not key.endswith(";None"):
            self.bodies[key] = value


def _install_delivery(server: flask.Flask) -> None:
    """Compressed responses (brotli, zstd or gzip, as the browser takes them) and a year's caching of the
    files whose URL changes when they do: a first visit was 7 MB of scripts sent as they are."""
    server.config.update(COMPRESS_MIMETYPES=COMPRESSED_TYPES, COMPRESS_CACHE_BACKEND=_StaticBodies,
                         COMPRESS_CACHE_KEY=lambda request: (
                             request.full_path if request.path.startswith("/_dash-component-suites/")
                             or _immutable(request.path, request.args) else None))
    Compress(server)

    @server.after_request  # registered after flask-compress's, so run before it
    def kept_a_year(response):
        if response.status_code == 200 and _immutable(flask.request.path, flask.request.args):
            response.headers["Cache-Control"] = f"public, max-age={A_YEAR}, immutable"
            if response.is_streamed:  # an asset is sent as a file: read whole, it is compressed once and kept
                response.direct_passthrough = False
                response.set_data(response.get_data())
        return response


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
    app = create_app(store_spec, basemap=basemap)
    set_up(app)
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
                               "timeout": 300, "preload_app": True, "accesslog": None,
                               "post_fork": lambda server, worker: _each_process(store)}).run()
        return
    from waitress import serve as waitress_serve

    _each_process(store)
    # Every browser keeps several connections open (a wall all day); waitress's default limit of 100
    # open connections left the 101st client waiting until another went away.
    waitress_serve(app.server, host=host, port=port, threads=SETTINGS.server_threads, connection_limit=CONNECTION_LIMIT)


def _each_process(store) -> None:
    """What every serving process runs beside its requests: the memory it frees given back, and the store followed."""
    memory.keep_trimming()
    CACHE.keep_following(store)


def _Gunicorn(wsgi, options):
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    return Application()
