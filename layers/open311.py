"""Cases as Open311 GeoReport v2 service requests, the services list, and the push API's OpenAPI document.

Open311 (https://wiki.open311.org/GeoReport_v2) is what FixMyStreet and 311
systems speak. A service is a category of the district's responsibility list
(属地管理责任清单) or of its stored cases; its ``service_code`` is the
category's name. A service request is a case: ``service_request_id`` is the
case id, ``status`` is Open311's ``open``/``closed``, and the lifecycle's own
step (呼·分·联·销) is in the extension ``detailed_status``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from layers.features import LOCAL_OFFSET

PREFIX = "/open311/v2"


def services(categories: pd.DataFrame) -> list[dict]:
    """The services (categories) a channel system may report, in name order.

    ``categories``: one row per category with its ``kind`` (dispute, event, petition) where known.
    """
    out = []
    for row in categories.drop_duplicates("category").sort_values("category").itertuples(index=False):
        out.append({"service_code": row.category, "service_name": row.category, "description": row.category,
                    "metadata": False, "type": "realtime", "keywords": "", "group": row.kind or ""})
    return out


def category_kinds(category: pd.Series, kind: pd.Series) -> pd.DataFrame:
    """Each category the cases hold with a kind, and the kind most of them have (ties: the first kind).

    Counted on the categoricals' codes: at a million cases a few milliseconds, where their values as
    Python objects took a second (a push asks for the categories every time).
    """
    category, kind = _categorical(category), _categorical(kind)
    codes = category.codes.astype(np.int64) * len(kind.categories) + kind.codes
    both = (category.codes >= 0) & (kind.codes >= 0)
    counts = np.bincount(codes[both], minlength=len(category.categories) * len(kind.categories))
    counts = counts.reshape(len(category.categories), len(kind.categories))
    held = np.flatnonzero(counts.sum(axis=1) > 0)
    return pd.DataFrame({"category": category.categories.take(held).to_numpy(dtype=object),
                         "kind": kind.categories.take(counts[held].argmax(axis=1)).to_numpy(dtype=object)})


def _categorical(column: pd.Series) -> pd.Categorical:
    # A categorical column's own array (its codes a view); ``pd.Categorical(column)`` would copy them.
    return column.array if isinstance(column.dtype, pd.CategoricalDtype) else pd.Categorical(column)


def _time(stamp) -> str | None:
    """A stored local time as RFC 3339 with the district's offset (+08:00)."""
    if stamp is None or pd.isna(stamp):
        return None
    hours = int(LOCAL_OFFSET / pd.Timedelta(hours=1))
    return pd.Timestamp(stamp).strftime("%Y-%m-%dT%H:%M:%S") + f"{'+' if hours >= 0 else '-'}{abs(hours):02d}:00"


def service_request(case: dict, *, description: str | None = None) -> dict:
    """One case as an Open311 service request (no reporter data; ``description`` only where the asker may see it)."""
    status = case.get("status")
    channels = str(case.get("channels") or case.get("channel") or "").split(";")
    updated = max((t for t in (case.get("closed_at"), case.get("dispatched_at"), case.get("reported_at"))
                   if t is not None and not pd.isna(t)), default=None)
    lat, lon = case.get("lat"), case.get("lon")
    return {
        "service_request_id": case["case_id"],
        "status": "closed" if status == "closed" else "open",
        "detailed_status": status,
        "status_notes": None,
        "service_name": case.get("category"),
        "service_code": case.get("category"),
        "description": description,
        "agency_responsible": _text(case.get("responsible_unit")),
        "service_notice": None,
        "requested_datetime": _time(case.get("reported_at")),
        "updated_datetime": _time(updated),
        "expected_datetime": _time(case.get("due_at")),
        "dispatched_datetime": _time(case.get("dispatched_at")),
        "closed_datetime": _time(case.get("closed_at")),
        "address": _text(case.get("address")),
        "address_id": None,
        "zipcode": None,
        "lat": None if lat is None or pd.isna(lat) else float(lat),
        "long": None if lon is None or pd.isna(lon) else float(lon),
        "media_url": None,
        "channels": [c for c in channels if c],  # a channel a profile brought is a channel too
        "grid_cell": _text(case.get("grid_cell")),
    }


def _text(value):
    return None if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


_REQUEST = {
    "type": "object",
    "properties": {
        "service_code": {"type": "string", "description": "a service_code of services.json (the category)"},
        "lat": {"type": "number", "minimum": -90, "maximum": 90},
        "long": {"type": "number", "minimum": -180, "maximum": 180},
        "address_string": {"type": "string", "description": "the place in words, geocoded to the address register"},
        "description": {"type": "string"},
        "phone": {"type": "string", "description": "the reporter's phone: kept for staff allowed to see it"},
        "requested_datetime": {"type": "string", "format": "date-time",
                               "description": "extension: when the case was received (default: now)"},
        "channel_request_id": {"type": "string", "description": "extension: the system's own id of the case; "
                               "sending it again returns the same case and changes nothing"},
        "datum": {"type": "string", "enum": ["wgs84", "gcj02", "bd09", "cgcs2000"],
                  "description": "extension: the datum of lat/long (default wgs84)"},
        "kind": {"type": "string", "enum": ["dispute", "event", "petition"]},
        "status": {"type": "string", "enum": ["open", "reported", "dispatched", "coordinated", "closed"]},
        "dispatched_datetime": {"type": "string", "format": "date-time"},
        "closed_datetime": {"type": "string", "format": "date-time"},
        "channel": {"type": "string", "description": "extension: must be the key's own channel if given"},
    },
    "required": ["service_code", "channel_request_id"],
}
_ERRORS = {"type": "array", "items": {"type": "object", "required": ["code", "description"], "properties": {
    "code": {"type": "integer"}, "description": {"type": "string"}, "field": {"type": "string"},
    "reason": {"type": "string"}}}}
_CREATED = {"type": "array", "items": {"type": "object", "properties": {
    "service_request_id": {"type": "string"}, "channel_request_id": {"type": "string"},
    "service_notice": {"type": "string"}, "merged": {"type": "boolean"}, "repeated": {"type": "boolean"}}}}
_SERVICE_REQUEST = {"type": "object", "properties": {
    "service_request_id": {"type": "string"}, "status": {"type": "string", "enum": ["open", "closed"]},
    "detailed_status": {"type": "string"}, "service_code": {"type": "string"},
    "requested_datetime": {"type": ["string", "null"]}, "updated_datetime": {"type": ["string", "null"]},
    "lat": {"type": ["number", "null"]}, "long": {"type": ["number", "null"]}}}


def _answers(ok: dict, *codes: int) -> dict:
    words = {400: "bad request: every field that is wrong and why", 401: "no key, or not a valid key",
             403: "a key of another channel, or a case another channel opened", 404: "no such case",
             413: "too many cases in one batch", 429: "too many requests (Retry-After says when to try again)"}
    out = {"200": ok}
    for code in codes:
        out[str(code)] = {"description": words[code], "content": {"application/json": {"schema": _ERRORS}}}
    return out


def _json(schema) -> dict:
    return {"content": {"application/json": {"schema": schema}}}


def api_document(base: str) -> dict:
    """The push API's OpenAPI 3.0 document (``base``: the server's URL)."""
    request_id = {"name": "service_request_id", "in": "path", "required": True, "schema": {"type": "string"}}
    listing = [{"name": n, "in": "query", "required": False, "schema": s} for n, s in (
        ("service_request_id", {"type": "string"}), ("service_code", {"type": "string"}),
        ("start_date", {"type": "string", "format": "date-time"}),
        ("end_date", {"type": "string", "format": "date-time"}),
        ("status", {"type": "string", "enum": ["open", "closed"]}),
        ("limit", {"type": "integer", "minimum": 1, "maximum": 1000}))]
    form = {"application/json": {"schema": _REQUEST}, "application/x-www-form-urlencoded": {"schema": _REQUEST}}
    return {
        "openapi": "3.0.3",
        "info": {"title": "一张图 push API (Open311 GeoReport v2)", "version": "2",
                 "description": "Channel systems push cases and their status; each key writes and reads its own "
                                "channel's cases only."},
        "servers": [{"url": base}],
        "components": {"securitySchemes": {
            "key": {"type": "http", "scheme": "bearer", "description": "the channel system's key (onemap apikey add)"},
            "api_key": {"type": "apiKey", "in": "query", "name": "api_key"}}},
        "security": [{"key": []}, {"api_key": []}],
        "paths": {
            "/services.json": {"get": {"summary": "the services (categories) a case may be reported as",
                                       "responses": _answers({"description": "the services", **_json(
                                           {"type": "array", "items": {"type": "object"}})}, 401, 429)}},
            "/requests.json": {
                "get": {"summary": "cases this key's channel sent (a user: cases in their area)",
                        "parameters": listing,
                        "responses": _answers({"description": "service requests", **_json(
                            {"type": "array", "items": _SERVICE_REQUEST})}, 400, 401, 429)},
                "post": {"summary": "report one case", "requestBody": {"required": True, "content": form},
                         "responses": _answers({"description": "the case it became", **_json(_CREATED)},
                                               400, 401, 403, 429)}},
            "/batch.json": {"post": {
                "summary": "report many cases in one request (extension)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["requests"],
                    "properties": {"requests": {
                        "type": "array", "minItems": 1,
                        # Each an object of plain values: one that is not a request as POST /requests.json
                        # takes is kept back with its reasons, and the others are stored.
                        "items": {"type": "object", "description": "a request as POST /requests.json takes it",
                                  "additionalProperties": {"anyOf": [{"type": "string", "nullable": True}, {"type": "number"},
                                                                     {"type": "boolean"}]}}}}}}}},
                "responses": _answers({"description": "per case: the case it became, or why it was kept back",
                                       **_json({"type": "object"})}, 400, 401, 403, 413, 429)}},
            "/requests/{service_request_id}.json": {"get": {
                "summary": "one case", "parameters": [request_id],
                "responses": _answers({"description": "the case", **_json(
                    {"type": "array", "items": _SERVICE_REQUEST})}, 401, 403, 404, 429)}},
            "/requests/{service_request_id}/status.json": {"post": {
                "summary": "the case's next step (extension): dispatched, coordinated, closed, with its time",
                "parameters": [request_id],
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "required": ["status"], "properties": {
                        "status": {"type": "string", "enum": ["reported", "dispatched", "coordinated", "closed"]},
                        "updated_datetime": {"type": "string", "format": "date-time"}}}}}},
                "responses": _answers({"description": "the case as it is now", **_json(
                    {"type": "array", "items": _SERVICE_REQUEST})}, 400, 401, 403, 404, 429)}},
        },
    }
