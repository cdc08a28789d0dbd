"""The live feed: the catalogue's layers as OGC API – Features under ``/ogcapi``, for QGIS and GDAL.

QGIS adds it as a WFS / OGC API layer (URL ``http://server/ogcapi``, HTTP Basic
with the user's dashboard login). Every answer is within the user's area, as
on the dashboard; phones are masked unless the role may see them. Cases page
from the server's held copy (``dashboards.cache``), so a client paging through
a million cases does not make the store read them all for each page; other
layers are made by the catalogue's query and reused for a few seconds while a
client pages.
"""

from __future__ import annotations

import json

import flask
import geopandas as gpd
import numpy as np
import pandas as pd

from dashboards import shared
from dashboards.auth import FEED_PREFIX
from dashboards.cache import CACHE, HELD_COLUMNS
from dashboards.limits import QueryThrottle
from dashboards.request import principal, store_from_request
from dashboards.table import plain_values
from gis.datums import STORAGE_CRS
from layers import counted
from layers.catalogue import CATALOGUE, mask_personal
from layers.errors import NotFound, TooManyQueries
from layers.features import (
    CONFORMANCE,
    BadQuery,
    ItemsQuery,
    analysis_period,
    api_definition,
    collection,
    feature_collection,
    features,
    landing_page,
    matching,
    parse_items_query,
)
from layers.filters import CaseFilter
from layers.schema import LAYERS
from layers.store import Condition, matches
from layers.users import PERSONAL_DATA_ROLES

# How many different values of one filtered query each user has tried lately: per server process, or
# counted in Redis for all the servers of the store (dashboards.shared, ONEMAP_REDIS).
THROTTLE = QueryThrottle()
_GEOGRAPHY = ("streets", "communities", "grid_cells", "estates", "setback_areas", "components")


def install(app):
    server = app.server

    def base() -> str:
        return flask.request.host_url.rstrip("/") + FEED_PREFIX

    @server.route(FEED_PREFIX)
    @server.route(FEED_PREFIX + "/")
    def feed_landing():
        return _json(landing_page(base()))

    @server.route(FEED_PREFIX + "/api")
    def feed_api():
        return _json(api_definition(base(), CATALOGUE.values(),
                                    personal_allowed=principal().role in PERSONAL_DATA_ROLES),
                     mimetype="application/vnd.oai.openapi+json;version=3.0")

    @server.route(FEED_PREFIX + "/conformance")
    def feed_conformance():
        return _json({"conformsTo": list(CONFORMANCE)})

    @server.route(FEED_PREFIX + "/collections")
    def feed_collections():
        f = CaseFilter(area=principal().area)
        store = store_from_request()
        bbox, interval = _extent(store, f)
        found = [collection(layer, base(), bbox, interval if layer.time else None) for layer in CATALOGUE.values()]
        return _json({"collections": found, "links": [
            {"href": f"{base()}/collections", "rel": "self", "type": "application/json", "title": "the layers"}]})

    @server.route(FEED_PREFIX + "/collections/<name>")
    def feed_collection(name):
        layer = _layer(name)
        f = CaseFilter(area=principal().area)
        store = store_from_request()
        bbox, interval = _extent(store, f)
        return _json(collection(layer, base(), bbox, interval if layer.time else None))

    @server.route(FEED_PREFIX + "/collections/<name>/items")
    def feed_items(name):
        layer = _layer(name)
        who = principal()
        # A bad parameter (BadQuery) becomes the OGC exception with 400 in dashboards.errors, as every error does.
        q = parse_items_query(flask.request.args, None)
        if q.properties:  # a filtered query: how many different values one may try is limited
            _throttle(who, (name, tuple(sorted(q.properties))),
                      tuple(sorted((k, v) for k, v in flask.request.args.items() if k not in ("offset", "limit"))))
        store = store_from_request()
        page, matched = items_page(store, layer, q, CaseFilter(area=who.area),
                                   personal_allowed=who.role in PERSONAL_DATA_ROLES)
        body = feature_collection(page, layer, q, matched, f"{base()}/collections/{name}/items",
                                  {k: v for k, v in flask.request.args.items() if k not in ("offset", "limit")})
        return _json(body, mimetype="application/geo+json", crs=q.crs)

    @server.route(FEED_PREFIX + "/collections/<name>/items/<path:fid>")
    def feed_item(name, fid):
        layer = _layer(name)
        who = principal()
        values = fid.split("~")
        if len(values) != len(layer.key):
            raise NotFound(f"no {name} {fid} in your area", zh=f"您的辖区内没有 {fid}")
        _throttle(who, (name, "item"), (fid,))
        q = parse_items_query(flask.request.args, None)
        q = ItemsQuery(limit=1, crs=q.crs, start=q.start, end=q.end, properties=dict(zip(layer.key, values)))
        store = store_from_request()
        page, matched = items_page(store, layer, q, CaseFilter(area=who.area),
                                   personal_allowed=who.role in PERSONAL_DATA_ROLES)
        if not matched:
            raise NotFound(f"no {name} {fid} in your area", zh=f"您的辖区内没有 {fid}")
        feature = features(page, layer, q.crs)[0]
        feature["links"] = [{"href": f"{base()}/collections/{name}/items/{fid}", "rel": "self",
                             "type": "application/geo+json"},
                            {"href": f"{base()}/collections/{name}", "rel": "collection", "type": "application/json"}]
        return _json(feature, mimetype="application/geo+json", crs=q.crs)


def _throttle(who, shape: tuple, values: tuple):
    wait = shared.throttle(THROTTLE, "feed").wait_s(f"{who.kind}:{who.name}", shape, values)
    if wait:
        raise TooManyQueries(wait)


def items_page(store, layer, q: ItemsQuery, f: CaseFilter, *, personal_allowed: bool):
    """One page of a layer's features under the query and the area, and how many matched in all.

    A property filter on a field the role sees masked is refused (``BadQuery``), as is one on no field.
    """
    _check_filterable(q, layer, personal_allowed)
    if layer.name == "cases":
        return _case_page(store, layer, q, f, personal_allowed)
    if layer.name in _GEOGRAPHY:
        made = q.narrowed(f)
    else:  # an analysis is of its period over the whole area; properties narrow its answer, not its input
        made = analysis_period(q, f, _newest(store))
    frame = CACHE.recent(store, ("feed", layer.name, made), lambda: layer.query(store, made))
    _check_properties(q, [f.name for f in layer.fields], layer)
    keep = matching(frame, q, time_field=layer.time)
    rows = np.flatnonzero(keep)
    page = frame.iloc[rows[q.offset:q.offset + q.limit]]
    return mask_personal(page, layer, allowed=personal_allowed), len(rows)


def _newest(store):
    """When the newest case was reported."""
    if CACHE.holds_cases(store):
        return CACHE.cases(store)[0]["reported_at"].max()
    return CACHE.recent(store, ("newest",), lambda: store.aggregate(
        "cases", [], measures=("max:reported_at",))["max_reported_at"].iat[0])


def _case_page(store, layer, q, f, personal_allowed):
    if not CACHE.holds_cases(store):
        return _read_case_page(store, layer, q, f, personal_allowed)
    cases, _ = CACHE.cases(store)
    fields = [fl.name for fl in layer.fields]
    _check_properties(q, [c for c in fields if c in cases.columns], layer)  # free text is not held: not filterable
    narrowed = q.narrowed(f)
    keep = narrowed.mask(cases) & matching(cases, q, time_field=layer.time, lon_lat=("lon", "lat"))
    rows = np.flatnonzero(keep)
    chosen = cases.iloc[rows[q.offset:q.offset + q.limit]]
    page = pd.DataFrame({c: plain_values(chosen[c]) if isinstance(chosen[c].dtype, pd.CategoricalDtype)
                         else chosen[c].to_numpy() for c in fields if c in chosen.columns})
    if "description" in fields:
        page["description"] = None
        if personal_allowed and len(page):  # free text is not held in memory: read for this page only
            texts = store.read("cases", [Condition("case_id", "in", page["case_id"].tolist())])
            page["description"] = page["case_id"].map(dict(zip(texts["case_id"], texts["description"])))
    lon, lat = chosen["lon"].to_numpy(), chosen["lat"].to_numpy()
    located = ~np.isnan(lon)
    points = np.full(len(page), None, dtype=object)
    points[located] = gpd.points_from_xy(lon[located], lat[located])
    page = gpd.GeoDataFrame(page, geometry=gpd.GeoSeries(points, crs=STORAGE_CRS))
    return mask_personal(page, layer, allowed=personal_allowed), len(rows)


def _read_case_page(store, layer, q, f, personal_allowed):
    """:func:`_case_page` asked of a store the server does not hold: the page read, the rest counted."""
    fields = [fl.name for fl in layer.fields]
    _check_properties(q, [c for c in fields if c in HELD_COLUMNS], layer)  # free text is not filterable
    where = counted.terms(store, q.narrowed(f), "cases")
    if q.start is not None:
        where.append(Condition("reported_at", ">=", q.start.to_pydatetime()))
    if q.end is not None:
        where.append(Condition("reported_at", "<", (q.end + pd.Timedelta(microseconds=1)).to_pydatetime()))
    if q.bbox is not None:
        where.append(Condition("geometry", "bbox", q.bbox))
    for column, text in q.properties.items():
        where.append(_property_term(column, text))
    total = int(store.aggregate("cases", where)["rows"].sum())
    rows = store.read_page("cases", where, limit=q.limit, offset=q.offset)
    page = gpd.GeoDataFrame(pd.DataFrame({c: rows[c].to_numpy() for c in fields if c in rows.columns}),
                            geometry=gpd.GeoSeries(rows.geometry.to_numpy(), crs=STORAGE_CRS))
    if "description" in fields and not personal_allowed:
        page["description"] = None
    return mask_personal(page, layer, allowed=personal_allowed), total


def _property_term(column: str, text: str) -> Condition:
    """A feed's property filter as a store's term: numbers compared as numbers, yes/no as such, the rest as text
    (as :func:`layers.features.matching` compares them in memory)."""
    kind = LAYERS["cases"].columns[column]
    if kind == "bool":
        return Condition(column, "=", text.lower() in ("true", "1", "yes"))
    if kind in ("int", "float"):
        try:
            return Condition(column, "=", float(text) if kind == "float" else int(float(text)))
        except ValueError:
            raise BadQuery(f"{column} is a number; {text!r} is not") from None
    return Condition(column, "=", text)


def _check_filterable(q: ItemsQuery, layer, personal_allowed: bool):
    masked = [k for k in q.properties if k in layer.personal and not personal_allowed]
    if masked:
        raise BadQuery(f"{masked[0]} is shown masked to your role and cannot be filtered on",
                       zh=f"{masked[0]} 对您的角色是脱敏显示的，不能按它筛选")


def _check_properties(q: ItemsQuery, columns, layer):
    unknown = [k for k in q.properties if k not in columns]
    if unknown:
        known = [c for c in columns if c != "geometry"]
        raise BadQuery(f"{layer.name} has no field {unknown[0]!r} to filter on; fields: {', '.join(known)}")


def _extent(store, f: CaseFilter):
    """The area's bounding box (lon/lat) and the period its cases span, for the collections' extents."""
    cells = CACHE.layer(store, "grid_cells")
    cells = cells[matches(cells, f.place_conditions("grid_cells"))]
    bbox = cells.total_bounds if len(cells) else (-180.0, -90.0, 180.0, 90.0)
    if not CACHE.holds_cases(store):
        span = CACHE.recent(store, ("extent", f), lambda: store.aggregate(
            "cases", counted.terms(store, f, "cases"), measures=("rows", "min:reported_at", "max:reported_at")))
        return bbox, (span["min_reported_at"].iat[0], span["max_reported_at"].iat[0]) if span["rows"].iat[0] else None
    cases, _ = CACHE.cases(store)
    stamps = cases["reported_at"][f.mask(cases)]
    return bbox, (stamps.min(), stamps.max()) if len(stamps) else None


def _layer(name):
    if name not in CATALOGUE:
        raise NotFound(f"no layer {name!r}", zh=f"没有图层 {name!r}")
    return CATALOGUE[name]


def _json(body, status=200, *, mimetype="application/json", crs=None):
    response = flask.Response(json.dumps(body, ensure_ascii=False, allow_nan=False, default=str), status=status,
                              mimetype=mimetype)
    if crs:
        response.headers["Content-Crs"] = f"<{crs}>"
    return response

