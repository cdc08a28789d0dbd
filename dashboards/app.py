"""Create and serve the Dash app over one store."""

from __future__ import annotations

from pathlib import Path

import dash
import plotly.io as pio
from flask import current_app

from dashboards import auth, feed, figures, geo
from dashboards.cache import CACHE
from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.schedule import BriefSchedule
from layers.store import Store, StoreError, open_store

_HERE = Path(__file__).parent
CONNECTION_LIMIT = 2000


def store_from_request() -> Store:
    """The store of the app serving the current request (set by :func:`create_app`)."""
    return open_store(current_app.config["ONEMAP_STORE"])


def basemap_from_request() -> Basemap:
    return current_app.config.get("ONEMAP_BASEMAP", NO_BASEMAP)


def create_app(store_spec: str, *, basemap: Basemap = NO_BASEMAP) -> dash.Dash:
    pio.templates.default = figures.TEMPLATE_NAME
    app = dash.Dash(
        __name__, use_pages=True, pages_folder=str(_HERE / "pages"), assets_folder=str(_HERE / "assets"),
        title="社会治理一张图 · One map", suppress_callback_exceptions=True,
    )
    app.server.config["ONEMAP_STORE"] = str(store_spec)
    app.server.config["ONEMAP_BASEMAP"] = basemap
    app.layout = dash.page_container
    auth.install(app, str(store_spec))
    geo.install(app)
    feed.install(app)
    return app


def serve(store_spec: str, *, host: str = "127.0.0.1", port: int = 8050, basemap: Basemap = NO_BASEMAP,
          workers: int = 1, brief_at=None):
    """Serve the app: waitress in this process, or with ``workers`` > 1, gunicorn with that many processes;
    with ``brief_at`` (a time of day), the day's briefs are made and archived then (``dashboards.schedule``).

    One process answers with one core at a time (Python's lock); a server with several cores and
    many people filtering at once needs several. The cases are read once, before the processes
    are forked, so they start warm and share those pages of memory.
    """
    app = create_app(store_spec, basemap=basemap)
    try:
        with open_store(store_spec) as store:
            CACHE.warm(store)
    except StoreError as exc:  # the database may be down at start: the first requests try again
        print(f"the store did not answer at start ({exc}); serving anyway", flush=True)
    print(f"serving the one map on http://{host}:{port} (store {store_spec}, {workers} process"
          f"{'es' if workers > 1 else ''})", flush=True)
    if brief_at is not None:  # in this process: gunicorn's workers are forked from it and run no thread of it
        BriefSchedule(str(store_spec), brief_at, log=lambda text: print(text, flush=True)).start()
        print(f"the daily briefs are made at {brief_at:%H:%M}", flush=True)
    if workers > 1:
        _Gunicorn(app.server, {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread",
                               "threads": 8, "worker_connections": CONNECTION_LIMIT, "keepalive": 75,
                               "timeout": 300, "preload_app": True, "accesslog": None}).run()
        return
    from waitress import serve as waitress_serve

    # Every browser keeps several connections open (a wall all day); waitress's default limit of 100
    # open connections left the 101st client waiting until another went away.
    waitress_serve(app.server, host=host, port=port, threads=8, connection_limit=CONNECTION_LIMIT)


def _Gunicorn(wsgi, options):
    from gunicorn.app.base import BaseApplication

    class Application(BaseApplication):
        def load_config(self):
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self):
            return wsgi

    return Application()
