"""OGC API – Features documents for catalogue layers: what a request asks, and the JSON that answers it.

Parts 1 (Core, GeoJSON) and 2 (coordinate reference systems by reference) of
the standard: ``bbox``, ``bbox-crs``, ``datetime``, ``crs``, ``limit`` and
``offset``, and any field of the layer as a property filter (``category=噪声扰民``).
This module takes data and returns data; the web routes are in
``dashboards.feed``. Coordinates are stored CGCS2000 lon/lat; CRS84 (the
standard's default) is WGS84 lon/lat, the same to well under a metre (PROJ
treats the two as one datum), so they pass unchanged.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import CRS, Transformer

from gis.datums import METRIC_CRS, STORAGE_CRS
from layers.catalogue import CatalogueLayer
from layers.errors import InvalidValue
from layers.filters import CaseFilter
from layers.settings import SETTINGS

CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
_EPSG = "http://www.opengis.net/def/crs/EPSG/0/"
# What a client may ask features in: CRS84 (the default), CGCS2000, WGS84 and CGCS2000 Gauss-Krüger 120E.
STORAGE_CRS_URI = _EPSG + STORAGE_CRS.split(":")[1]
CRS_LIST = (CRS84, STORAGE_CRS_URI, _EPSG + "4326", _EPSG + METRIC_CRS.split(":")[1])
LIMIT_DEFAULT, LIMIT_MAX = 100, SETTINGS.feed_limit_max
# Parameters of the standard; any other must be a field of the layer.
_STANDARD = {"bbox", "bbox-crs", "datetime", "crs", "limit", "offset", "f"}
CONFORMANCE = (
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-2/1.0/conf/crs",
)
# Times are stored as the district's local time (UTC+8) without a zone.
LOCAL_OFFSET = pd.Timedelta(hours=8)


class BadQuery(InvalidValue):
    """A request the standard says to answer with 400, with what was wrong."""


@dataclass(frozen=True)
class ItemsQuery:
    """An OGC API items request, read and checked: box, period, property filters, paging and CRS."""

    bbox: tuple[float, float, float, float] | None = None  # stored lon/lat
    start: pd.Timestamp | None = None  # local time, inclusive
    end: pd.Timestamp | None = None  # local time, inclusive
    limit: int = LIMIT_DEFAULT
    offset: int = 0
    properties: dict = field(default_factory=dict)
    crs: str = CRS84

    def narrowed(self, f: CaseFilter) -> CaseFilter:
        """The case filter that covers this query: its days and the property terms a filter knows."""
        changes = {}
        if self.start is not None or self.end is not None:
            changes["start"] = self.start.date() if self.start is not None else None
            changes["end"] = self.end.date() if self.end is not None else None
        for column, name in (("street_code", "street_code"), ("community_code", "community_code"),
                             ("grid_cell", "grid_cell")):
            if column in self.properties:
                changes[name] = self.properties[column]
        for column, name in (("category", "categories"), ("status", "statuses"), ("level", "levels")):
            if column in self.properties:
                changes[name] = (self.properties[column],)
        return f.narrowed(**changes) if changes else f


def parse_items_query(args, fields=None) -> ItemsQuery:
    """The query string of ``/collections/{id}/items``; any parameter not the standard's filters a property.

    With ``fields`` (the layer's property names) an unknown one is refused here; without, the caller
    checks the properties once it has the layer.
    """
    unknown = [k for k in args if k not in _STANDARD and fields is not None and k not in fields]
    if unknown:
        raise BadQuery(f"unknown parameter {unknown[0]!r}; the layer's fields are {', '.join(fields)}")
    crs = args.get("crs", CRS84)
    if crs not in CRS_LIST:
        raise BadQuery(f"crs {crs!r} is not offered; offered: {', '.join(CRS_LIST)}")
    if args.get("bbox-crs", CRS84) not in CRS_LIST:  # wrong even without a bbox to apply it to
        raise BadQuery(f"bbox-crs {args['bbox-crs']!r} is not offered; offered: {', '.join(CRS_LIST)}")
    start, end = parse_datetime(args["datetime"]) if args.get("datetime") else (None, None)
    return ItemsQuery(
        bbox=parse_bbox(args["bbox"], args.get("bbox-crs", CRS84)) if args.get("bbox") else None,
        start=start, end=end,
        limit=_whole(args.get("limit"), "limit", LIMIT_DEFAULT, 1, LIMIT_MAX),
        offset=_whole(args.get("offset"), "offset", 0, 0),
        properties={k: v for k, v in args.items() if k not in _STANDARD}, crs=crs)


def _whole(text, name, default, least, most=None) -> int:
    if text in (None, ""):
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadQuery(f"{name} must be a whole number, not {text!r}") from None
    if value < least:
        raise BadQuery(f"{name} must be at least {least}, not {value}")
    if most is not None and value > most:  # as the API document says, which GDAL reads its page size from
        raise BadQuery(f"{name} must be at most {most}, not {value}")
    return value


def parse_datetime(text: str) -> tuple[pd.Timestamp | None, pd.Timestamp | None]:
    """An instant or an interval (``a/b``, ``../b``, ``a/..``) as local times, both ends inclusive.

    A date alone means the whole day; a time with a zone (``Z``, ``+08:00``) is moved to local time.
    """
    parts = text.split("/")
    if len(parts) > 2:
        raise BadQuery(f"datetime {text!r}: an instant or one interval a/b")
    ends: list[tuple | None] = []
    for i, part in enumerate(parts):
        if part in ("..", ""):
            ends.append(None)
            continue
        try:
            stamp = pd.Timestamp(part)
        except (ValueError, TypeError):
            raise BadQuery(f"datetime {part!r} is not RFC 3339 (2020-06-01 or 2020-06-01T08:00:00Z)") from None
        if stamp.tzinfo is not None:
            stamp = stamp.tz_convert("UTC").tz_localize(None) + LOCAL_OFFSET
        day_only = len(part) == 10
        if day_only and (i == 1 or len(parts) == 1):
            ends.append((stamp, stamp + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1)))
        else:
            ends.append((stamp, stamp))
    if len(parts) == 1:
        if ends[0] is None:
            raise BadQuery("datetime '..' alone says nothing; give an instant or an interval")
        return ends[0]
    start = ends[0][0] if ends[0] else None
    end = ends[1][1] if ends[1] else None
    if start is not None and end is not None and end < start:
        raise BadQuery(f"datetime {text!r}: the interval ends before it starts")
    return start, end


def parse_bbox(text: str, bbox_crs: str = CRS84) -> tuple[float, float, float, float]:
    """``minx,miny,maxx,maxy`` (or six numbers, heights ignored) in ``bbox-crs``, as stored lon/lat."""
    try:
        numbers = [float(v) for v in text.split(",")]
    except ValueError:
        raise BadQuery(f"bbox {text!r}: four numbers separated by commas") from None
    if len(numbers) == 6:
        numbers = [numbers[0], numbers[1], numbers[3], numbers[4]]
    if len(numbers) != 4 or not all(map(math.isfinite, numbers)):
        raise BadQuery(f"bbox {text!r}: four numbers separated by commas")
    if numbers[0] > numbers[2] or numbers[1] > numbers[3]:
        raise BadQuery(f"bbox {text!r}: the lower corner comes first (a box across the antimeridian is not offered)")
    if bbox_crs not in CRS_LIST:
        raise BadQuery(f"bbox-crs {bbox_crs!r} is not offered; offered: {', '.join(CRS_LIST)}")
    xs, ys = _to_storage(bbox_crs, [numbers[0], numbers[2], numbers[0], numbers[2]],
                         [numbers[1], numbers[3], numbers[3], numbers[1]])
    return (min(xs), min(ys), max(xs), max(ys))


@lru_cache(maxsize=None)
def _transformer(source: str, target: str) -> Transformer:
    # always_xy: lon/lat and east/north in, whatever the CRS's own axis order; axes are put right by hand.
    return Transformer.from_crs(_crs(source), _crs(target), always_xy=True)


@lru_cache(maxsize=None)
def _crs(uri: str) -> CRS:
    return CRS("OGC:CRS84") if uri == CRS84 else CRS(f"EPSG:{uri.rsplit('/', 1)[1]}")


def _north_first(uri: str) -> bool:
    """Whether the CRS's first axis is latitude or northing (EPSG:4490 and 4549 are; CRS84 is not)."""
    return _crs(uri).axis_info[0].direction in ("north", "south")


def _to_storage(uri, xs, ys):
    if _north_first(uri):
        xs, ys = ys, xs
    return _transformer(uri, STORAGE_CRS_URI).transform(np.asarray(xs, float), np.asarray(ys, float))


def in_crs(geometry: gpd.GeoSeries, uri: str) -> np.ndarray:
    """Stored geometries in the CRS ``uri``, coordinates in that CRS's own axis order."""
    flip = _north_first(uri)
    move = _transformer(STORAGE_CRS_URI, uri)

    def one(xy):
        x, y = move.transform(xy[:, 0], xy[:, 1])
        return np.column_stack([y, x] if flip else [x, y])

    return shapely.transform(np.asarray(geometry.values, dtype=object), one)


def matching(frame: pd.DataFrame, q: ItemsQuery, *, time_field: str | None = None,
             lon_lat: tuple[str, str] | None = None) -> np.ndarray:
    """Which rows the query keeps (bbox, datetime on ``time_field``, properties).

    ``lon_lat`` names plain columns of points to test the bbox on instead of the geometry.
    """
    keep = np.ones(len(frame), dtype=bool)
    if q.bbox is not None:
        x0, y0, x1, y1 = q.bbox
        if lon_lat:
            lon, lat = (frame[c].to_numpy(dtype=float) for c in lon_lat)
            keep &= (lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1)
        else:
            keep &= shapely.intersects(np.asarray(frame.geometry.values, dtype=object), shapely.box(*q.bbox))
    if time_field and (q.start is not None or q.end is not None):
        stamps = frame[time_field].to_numpy("datetime64[ns]")
        if q.start is not None:
            keep &= stamps >= q.start.to_datetime64()
        if q.end is not None:
            keep &= stamps <= q.end.to_datetime64()
    for column, text in q.properties.items():
        # A field of the layer an analysis made no column for (nothing found) matches nothing.
        keep &= _equals(frame[column], text) if column in frame else False
    return keep


def _equals(column: pd.Series, text: str) -> np.ndarray:
    """A property filter: numbers compared as numbers, true/false as booleans, the rest as text."""
    if pd.api.types.is_bool_dtype(column):
        wanted = text.lower() in ("true", "1", "yes")
        return (column == wanted).fillna(False).to_numpy(dtype=bool)
    if pd.api.types.is_numeric_dtype(column) and not isinstance(column.dtype, pd.CategoricalDtype):
        try:
            number = float(text)
        except ValueError:
            raise BadQuery(f"{column.name} is a number; {text!r} is not") from None
        return (column.astype(float) == number).fillna(False).to_numpy(dtype=bool)
    if isinstance(column.dtype, pd.CategoricalDtype):
        return (column == text).fillna(False).to_numpy(dtype=bool) if text in column.cat.categories else (
            np.zeros(len(column), dtype=bool))
    return (column.astype("string") == text).fillna(False).to_numpy(dtype=bool)


def feature_id(frame: pd.DataFrame, key: tuple[str, ...]) -> list[str]:
    """Each row's id: its key's values, joined by ``~`` when the key has several columns."""
    parts = [frame[c].astype("string").fillna("") for c in key]
    joined = parts[0]
    for part in parts[1:]:
        joined = joined + "~" + part
    return joined.tolist()


def features(page: gpd.GeoDataFrame, layer: CatalogueLayer, crs: str = CRS84) -> list[dict]:
    """The page's rows as GeoJSON features in ``crs`` (None geometry where a case has no place)."""
    geometry = page.geometry
    present = (geometry.notna() & ~geometry.is_empty).to_numpy()
    shapes = np.full(len(page), None, dtype=object)
    if present.any():
        moved = in_crs(geometry[present], crs) if crs != CRS84 else np.asarray(geometry[present].values, object)
        shapes[present] = [json.loads(g) for g in shapely.to_geojson(moved)]
    table = pd.DataFrame(page.drop(columns=page.geometry.name))
    records = json.loads(table.to_json(orient="records", date_format="iso", force_ascii=False))
    ids = feature_id(page, layer.key)
    return [{"type": "Feature", "id": i, "geometry": g, "properties": r} for i, g, r in zip(ids, shapes, records)]


def feature_collection(page: gpd.GeoDataFrame, layer: CatalogueLayer, q: ItemsQuery, matched: int,
                       url: str, query: dict) -> dict:
    """One page of items, with the standard's counts and its self, next and previous links."""
    def link(rel, offset):
        params = {**query, "offset": str(offset), "limit": str(q.limit)}
        from urllib.parse import urlencode
        return {"href": f"{url}?{urlencode(params)}", "rel": rel, "type": "application/geo+json",
                "title": {"self": "this page", "next": "next page", "prev": "previous page"}[rel]}

    links = [link("self", q.offset)]
    if q.offset + q.limit < matched:
        links.append(link("next", q.offset + q.limit))
    if q.offset > 0:
        links.append(link("prev", max(q.offset - q.limit, 0)))
    found = features(page, layer, q.crs)
    return {"type": "FeatureCollection", "features": found, "numberMatched": int(matched),
            "numberReturned": len(found), "timeStamp": pd.Timestamp.now("UTC").strftime("%Y-%m-%dT%H:%M:%SZ"),
            "links": links}


def landing_page(base: str) -> dict:
    """The OGC API landing page: the links to the API definition, conformance and collections."""
    return {"title": "社会治理一张图 · One map", "description": "图层服务 (OGC API – Features) · the one map's layers",
            "links": [
                {"href": f"{base}", "rel": "self", "type": "application/json", "title": "this document"},
                {"href": f"{base}/api", "rel": "service-desc",
                 "type": "application/vnd.oai.openapi+json;version=3.0", "title": "the API definition"},
                {"href": f"{base}/conformance", "rel": "conformance", "type": "application/json",
                 "title": "conformance classes"},
                {"href": f"{base}/collections", "rel": "data", "type": "application/json",
                 "title": "the layers"}]}


def api_definition(base: str, layers, *, personal_allowed: bool = False) -> dict:
    """The OpenAPI 3.0 document: each layer's items path with its parameters, the fields the role may
    filter on among them (never a field it sees masked).

    GDAL and QGIS read it to know the page size they may ask and which fields they may filter on
    at the server (the rest they filter themselves).
    """
    def parameter(name, schema, description, style=None) -> dict:
        found: dict = {"name": name, "in": "query", "required": False, "schema": schema, "description": description}
        if style:
            found.update(style=style, explode=False)
        return found

    standard = [
        parameter("bbox", {"oneOf": [{"type": "array", "minItems": n, "maxItems": n, "items": {"type": "number"}}
                                     for n in (4, 6)]},
                  "minx,miny,maxx,maxy (or with minz, maxz) in bbox-crs (CRS84 unless given)", "form"),
        parameter("bbox-crs", {"type": "string", "format": "uri", "enum": list(CRS_LIST)}, "the bbox's CRS"),
        parameter("datetime", {"type": "string"}, "an instant or an interval a/b, RFC 3339, '..' open"),
        parameter("limit", {"type": "integer", "minimum": 1, "maximum": LIMIT_MAX, "default": LIMIT_DEFAULT},
                  "features per page"),
        parameter("offset", {"type": "integer", "minimum": 0, "default": 0}, "features to skip"),
        parameter("crs", {"type": "string", "format": "uri", "enum": list(CRS_LIST)}, "the answer's CRS"),
    ]
    def answers(ok: str, kind: str = "application/json", **errors: str) -> dict:
        # Every error is the OGC exception as JSON; without a login every path answers 401.
        error = {"application/json": {"schema": {"$ref": "#/components/schemas/exception"}}}
        found = {"200": {"description": ok, "content": {kind: {"schema": {"type": "object"}}}},
                 "401": {"description": "log in: HTTP Basic", "content": error}}
        found.update({code.lstrip("_"): {"description": about, "content": error} for code, about in errors.items()})
        return found

    paths: dict[str, dict] = {
        "/": {"get": {"summary": "landing page", "responses": answers("links")}},
        "/conformance": {"get": {"summary": "conformance classes", "responses": answers("ok")}},
        "/collections": {"get": {"summary": "the layers", "responses": answers("ok")}}}
    for layer in layers:
        allowed = layer.filterable(personal_allowed=personal_allowed)
        fields = [parameter(f.name, {"type": "string"}, f"{f.zh} {f.en}: features whose {f.name} equals this")
                  for f in layer.fields if f.name in allowed]
        paths[f"/collections/{layer.name}"] = {"get": {
            "summary": f"{layer.title[0]} · {layer.title[1]}", "responses": answers("ok")}}
        paths[f"/collections/{layer.name}/items"] = {"get": {
            "summary": f"{layer.title[1]}: features", "parameters": standard + fields,
            "responses": answers("a page of features", "application/geo+json", _400="a parameter is wrong",
                                 _429="too many different values of one filter lately (Retry-After says when)")}}
        paths[f"/collections/{layer.name}/items/{{featureId}}"] = {"get": {
            "summary": f"{layer.title[1]}: one feature",
            "parameters": [{"name": "featureId", "in": "path", "required": True, "schema": {"type": "string"}},
                           standard[-1]],
            "responses": answers("the feature", "application/geo+json", _400="a parameter is wrong",
                                 _404="not in your area", _429="too many different features asked lately")}}
    exception = {"type": "object", "required": ["code", "description"],
                 "properties": {"code": {"type": "string"}, "description": {"type": "string"},
                                "description_zh": {"type": "string"}}}
    return {"openapi": "3.0.3",
            "info": {"title": "社会治理一张图 · One map", "version": "1.0",
                     "description": "OGC API – Features, Parts 1 and 2. Log in with HTTP Basic."},
            "servers": [{"url": base}], "paths": paths, "security": [{"basic": []}],
            "components": {"securitySchemes": {"basic": {"type": "http", "scheme": "basic"}},
                           "schemas": {"exception": exception}}}


def collection(layer: CatalogueLayer, base: str, bbox, interval=None) -> dict:
    """One layer as a collection: titles, extent, CRSs and its items link."""
    url = f"{base}/collections/{layer.name}"
    extent = {"spatial": {"bbox": [list(map(float, bbox))], "crs": CRS84}}
    if interval:
        extent["temporal"] = {"interval": [[_rfc3339(interval[0]), _rfc3339(interval[1])]],
                              "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}
    return {"id": layer.name, "title": f"{layer.title[0]} · {layer.title[1]}",
            "description": "; ".join(f"{f.name}: {f.zh} {f.en}" + (f" ({f.unit})" if f.unit else "")
                                     for f in layer.fields),
            "itemType": "feature", "extent": extent, "crs": list(CRS_LIST), "storageCrs": STORAGE_CRS_URI,
            "links": [{"href": url, "rel": "self", "type": "application/json", "title": "this collection"},
                      {"href": f"{url}/items", "rel": "items", "type": "application/geo+json",
                       "title": f"{layer.title[1]}: items"}]}


def _rfc3339(stamp) -> str | None:
    if stamp is None or pd.isna(stamp):
        return None
    return (pd.Timestamp(stamp) - LOCAL_OFFSET).strftime("%Y-%m-%dT%H:%M:%SZ")


def analysis_period(q: ItemsQuery, f: CaseFilter, newest) -> CaseFilter:
    """An analysis layer's period: ``datetime`` in whole days; without one, the calendar year of the
    newest case up to it (an analysis needs a period, and the newest year is what a planner asks first).
    """
    newest = pd.Timestamp(newest) if newest is not None and not pd.isna(newest) else pd.Timestamp.now()
    start = q.start.date() if q.start is not None else None
    end = q.end.date() if q.end is not None else None
    if start is None and end is None:
        return f.narrowed(start=date(newest.year, 1, 1), end=newest.date())
    return f.narrowed(start=start or date(2000, 1, 1), end=end or newest.date())
