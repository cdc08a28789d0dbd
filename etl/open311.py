"""Cases pushed by a channel system as Open311 GeoReport v2 service requests, read into intake records.

A request is one case: ``service_code`` (a category from ``services.json``),
``lat``/``long`` or ``address_string``, ``description``, ``phone`` and, as
extensions, ``requested_datetime`` (ISO 8601; the time it was received when
absent), ``channel_request_id`` (the system's own id for the case: what makes
a repeat harmless), ``datum`` (of lat/long: ``wgs84`` as Open311 says, or
``gcj02``, ``bd09``, ``cgcs2000``), ``kind``, ``status``,
``dispatched_datetime`` and ``closed_datetime``. Names (``first_name``,
``last_name``, ``email``) are not kept: the product holds no reporter names.

The rows go through the same profile checks, datum conversion, geocoding,
assignment, merge and quarantine as an export file (``etl.ingest``), under a
profile made here for the key's channel.
"""

from __future__ import annotations

import pandas as pd

from etl.profiles import ISO8601, Location, Profile, Unlisted, available_profiles, read_profile
from etl.read import cell_text
from layers.schema import CASE_KINDS, CASE_STATUSES

# What a pushed request may say, and the intake field each one fills.
FIELDS = {
    "channel_request_id": "source_id", "requested_datetime": "reported_at", "service_code": "category",
    "description": "description", "phone": "reporter_phone", "status": "status", "kind": "kind",
    "dispatched_datetime": "dispatched_at", "closed_datetime": "closed_at", "address_string": "address",
}
COORDINATES = ("lat", "long", "datum")
# Open311's two statuses, and the lifecycle's own (呼·分·联·销).
STATUS_WORDS = {"open": "reported", "closed": "closed", **{s: s for s in CASE_STATUSES}}
DEFAULT_DATUM = "wgs84"


def channel_kind(channel: str) -> str:
    """The kind of case a channel's export profile gives its cases (a dispute where the profile has a column)."""
    for name in available_profiles():
        profile = read_profile(name)
        if profile.channel == channel and profile.kind:
            return profile.kind
    return "dispute"


def push_profile(channel: str, services: dict[str, str]) -> Profile:
    """The profile pushed requests of ``channel`` are read by; ``services`` maps service_code → category."""
    columns = {target: given for given, target in FIELDS.items()}
    return Profile(
        source=channel, channel=channel, format="json", columns=columns,
        location=Location(x="long", y="lat", datum=DEFAULT_DATUM, address="address_string", datum_column="datum"),
        datetime_formats=(ISO8601,), kind=channel_kind(channel),
        vocab={"status": STATUS_WORDS, "kind": {k: k for k in CASE_KINDS}, "category": dict(services)},
        unlisted={"category": Unlisted("refuse")},  # a service_code is one services.json lists
        path=f"open311:{channel}")


def request_rows(items: list, *, received_at: pd.Timestamp, idempotency_key: str | None = None) -> pd.DataFrame:
    """The pushed requests as raw rows (text, ``_row`` from 1, ``_shape`` saying what is malformed).

    A request that is not an object, or gives neither coordinates nor an address, is malformed whole.
    """
    rows, shapes = [], []
    for item in items:
        row = {k: cell_text(item.get(k)).strip() for k in (*FIELDS, *COORDINATES)} if isinstance(item, dict) else {}
        shape = ""
        if not isinstance(item, dict):
            shape = "该请求不是JSON对象 · not a JSON object"
        elif not (row["lat"] or row["long"] or row["address_string"]):
            shape = "缺少位置: lat/long 或 address_string · no location: lat/long or address_string"
        if isinstance(item, dict) and not row["requested_datetime"]:
            row["requested_datetime"] = received_at.strftime("%Y-%m-%dT%H:%M:%S")
        if isinstance(item, dict) and not row["status"]:
            row["status"] = "open"
        rows.append(row)
        shapes.append(shape)
    if len(items) == 1 and idempotency_key and not rows[0].get("channel_request_id"):
        rows[0]["channel_request_id"] = idempotency_key
    frame = pd.DataFrame(rows, columns=[*FIELDS, *COORDINATES]).fillna("").astype(str)
    frame["_shape"] = shapes
    frame["_row"] = range(1, len(frame) + 1)
    return frame
