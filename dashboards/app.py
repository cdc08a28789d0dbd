"""Create and serve the Dash app over one store."""

from __future__ import annotations

from pathlib import Path

import dash
import plotly.io as pio
from flask import current_app

from dashboards import auth, feed, figures, geo
from dashboards.basemap import NO_BASEMAP, Basemap
from layers.store import Store, open_store

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


def serve(store_spec: str, *, host: str = "127.0.0.1", port: int = 8050, basemap: Basemap = NO_BASEMAP):
    from waitress import serve as waitress_serve

    app = create_app(store_spec, basemap=basemap)
    print(f"serving the one map on http://{host}:{port} (store {store_spec})", flush=True)
    # Every browser keeps several connections open (a wall all day); waitress's default limit of 100
    # open connections left the 101st client waiting until another went away.
    waitress_serve(app.server, host=host, port=port, threads=8, connection_limit=CONNECTION_LIMIT)
