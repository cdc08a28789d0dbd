"""The outlines the map draws, served as GeoJSON the browser fetches once and keeps.

Community and street outlines do not change with the filter, so a filter
change does not send them again: ``/geo/streets.geojson?v=...`` answers with the
layer inside the user's area (the same scoping as every callback); ``v`` is the
layer's data version, so a browser keeps one copy per area until the geography
changes. (The cells' shapes go with each figure: Plotly redraws a choropleth
whose GeoJSON is a URL wrongly when its numbers change.)
"""

from __future__ import annotations

import flask

from dashboards.cache import CACHE
from dashboards.request import basemap_from_request, principal, store_from_request
from layers.filters import CaseFilter
from layers.store import matches

# Layer → the key its features are named by; simplification tolerance in degrees (≈5 m and ≈20 m).
GEO_LAYERS = {"grid_cells": ("grid_cell", 0.00005), "communities": ("community_code", 0.0002),
              "streets": ("street_code", 0.0002)}


def geojson_url(store, layer: str) -> str:
    return f"/geo/{layer}.geojson?v={CACHE.version(store, layer) or '0'}"


def to_geojson(frame, layer: str) -> str:
    key, tolerance = GEO_LAYERS[layer]
    return frame[[key, "geometry"]].assign(geometry=frame.geometry.simplify(tolerance)).to_json(
        drop_id=True, ensure_ascii=False)


# (store, layer, version, codes) → GeoJSON text: made once per place a user opens.
_TEXTS: dict[tuple, str] = {}


def read_places(store, f: CaseFilter, layer: str):
    """A geography layer within the filter's street, community and cell, and within the viewer's area."""
    return held(store)(layer, f.place_conditions(layer))


def held(store):
    """The store's read of a geography layer, answered from what this server holds of it: no store read."""
    def read(layer: str, where=None):
        frame = CACHE.layer(store, layer)
        return frame[matches(frame, where or [])]
    return read


def install(app):
    @app.server.route("/geo/<layer>.geojson")
    def geo(layer):
        who = principal()
        if layer not in GEO_LAYERS or who is None:
            flask.abort(404)
        f = CaseFilter(area=who.area)
        key = GEO_LAYERS[layer][0]
        basemap = basemap_from_request()
        store = store_from_request()
        places = read_places(store, f, layer)
        memo = (store.url, layer, CACHE.version(store, layer), basemap.datum, tuple(places[key]))
        if memo not in _TEXTS:
            if len(_TEXTS) > 256:
                _TEXTS.clear()
            _TEXTS[memo] = to_geojson(basemap.shift(places), layer)
        body = _TEXTS[memo]
        response = flask.Response(body, mimetype="application/geo+json")
        response.headers["Cache-Control"] = "private, max-age=86400"
        return response
