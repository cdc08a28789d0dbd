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

import uuid

import pandas as pd

from etl.ingest import Pushed, ingest_many
from etl.profiles import ISO8601, Location, Profile, Unlisted, available_profiles, read_profile
from etl.read import cell_text
from layers.apikeys import ApiKey
from layers.audit import audit_rows
from layers.schema import CASE_KINDS, CASE_STATUSES
from layers.store import Condition, Store

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
# What an audit row of a pushed case leaves out: the case holds its personal fields and point; the audit says
# who changed what.
NOT_AUDITED = ("reporter_phone", "description", "geometry")


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


def ingest_requests(store: Store, key: ApiKey, items: list, *, services: dict[str, str], address: str = "",
                    idempotency_key: str | None = None, now=None) -> dict:
    """Ingest pushed requests for ``key``'s channel: per request, the case it became or why it was kept back.

    ``services``: the service codes a request may name (``services.json``'s, code → category). The
    caller has checked that no request names another channel than the key's.

    rows in = stored + merged + quarantined, stored = new + updated + unchanged; ``repeated`` counts requests
    already stored by an earlier push (answered with their case, written again not at all: unchanged, or merged).
    """
    now = pd.Timestamp(now or pd.Timestamp.now())
    raw = request_rows(items, received_at=now, idempotency_key=idempotency_key)
    request_ids = dict(zip(raw["_row"], raw["channel_request_id"]))  # row number → the system's own id
    ids = sorted(set(raw["channel_request_id"]) - {""})
    known = store.read("case_sources", [Condition("source", "=", key.channel), Condition("source_id", "in", ids)]) \
        if ids else None
    known_case = dict(zip(known["source_id"], known["case_id"])) if known is not None else {}
    known_merged = dict(zip(known["source_id"], known["merged"].astype(bool))) if known is not None else {}
    repeated = raw["channel_request_id"].isin(list(known_case)).to_numpy()
    fresh = raw[~repeated]
    name = f"open311-{key.key_id}-{now.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
    results: dict[int, dict] = {}
    counts = {"rows_in": len(raw), "stored": 0, "new": 0, "updated": 0, "unchanged": 0, "merged": 0,
              "quarantined": 0, "repeated": int(repeated.sum())}
    for _, row in raw[repeated].iterrows():
        rid = row["channel_request_id"]
        merged = bool(known_merged[rid])
        if not merged:
            counts["stored"] += 1
            counts["unchanged"] += 1
        else:
            counts["merged"] += 1
        results[int(row["_row"])] = {"service_request_id": known_case[rid], "channel_request_id": rid,
                                     "merged": merged, "repeated": True,
                                     "service_notice": "已受理(重复提交) · already received"}
    if len(fresh):
        actor = f"apikey:{key.key_id}"
        profile = push_profile(key.channel, services)

        def audit(prior, written):
            before = {r["case_id"]: audited(r) for r in _records(prior)}
            return audit_rows(actor, "open311.request", "cases",
                              [(r["case_id"], before.get(r["case_id"]), audited(r)) for r in _records(written)],
                              address=address, now=now)
        report = ingest_many([(Pushed(name, fresh.reset_index(drop=True)), profile)], store, audit=audit)
        for outcome in ("stored", "new", "updated", "unchanged", "merged"):
            counts[outcome] += getattr(report, outcome)
        counts["quarantined"] += report.quarantined
        if report.outcomes is not None:
            for row in report.outcomes.itertuples(index=False):
                rid = request_ids[row.row]
                results[int(row.row)] = {"service_request_id": row.case_id, "channel_request_id": rid,
                                         "merged": bool(row.merged), "repeated": bool(row.seen),
                                         "service_notice": "已受理 · received"}
        for kept in report.quarantine.to_dict("records"):
            results[int(kept["row"])] = {
                "channel_request_id": request_ids[kept["row"]],
                "errors": [{"code": 400, "field": column, "reason": reason, "description": f"{column}: {words}"}
                           for column, reason, words in kept["_problems"]],
                "quarantined": True}
    return {**counts, "requests": [results[n] for n in sorted(results)]}


def _records(frame) -> list[dict]:
    if frame is None or frame.empty:
        return []
    return pd.DataFrame(frame.drop(columns=[c for c in NOT_AUDITED if c in frame])).to_dict("records")


def audited(record: dict | None) -> dict | None:
    if record is None:
        return None
    return {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v)
            for k, v in record.items() if k not in NOT_AUDITED}
