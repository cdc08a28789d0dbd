"""The push API: channel systems report cases and their status as Open311 GeoReport v2, under ``/open311/v2``.

A channel system sends its key (``Authorization: Bearer om_…`` or Open311's
``api_key`` parameter); the key writes and reads its own channel's cases only.
A logged-in user may read (``GET``) the cases of their area; only keys write,
so a page's session cookie never writes here (nothing for a forged cross-site
request to ride on). Every write is audited in the same transaction, and a
request sent again (the same ``channel_request_id``) returns the case it made
the first time and writes nothing.
"""

from __future__ import annotations

import uuid

import flask
import numpy as np
import pandas as pd
from werkzeug.routing import Map, Rule

from dashboards import intake, shared
from dashboards.cache import CACHE
from dashboards.limits import QueryThrottle
from dashboards.request import principal, store_from_request
from dashboards.table import plain_values
from etl.normalise import parse_datetimes
from etl.open311 import audited, ingest_requests
from etl.status import NotYours, update_status
from layers import counted
from layers.apikeys import ApiKey, key_for
from layers.areas import DISTRICT
from layers.audit import audit_rows
from layers.errors import InvalidValue, NotFound, OnemapError, TooManyQueries
from layers.filters import CaseFilter
from layers.open311 import PREFIX, api_document, category_kinds, service_request, services
from layers.settings import SETTINGS
from layers.store import Condition, matches
from layers.users import PERSONAL_DATA_ROLES

# Requests per key (or user) within the window: per server process, or in Redis for all the servers of the
# store (dashboards.shared, ONEMAP_REDIS).
THROTTLE = QueryThrottle(SETTINGS.open311_requests, SETTINGS.open311_window_s)
BATCH_MAX = SETTINGS.open311_batch
BODY_MAX = 8 * 1024 * 1024
LIST_MAX = 1000
# What a listed service request shows of a held case (``layers.open311.service_request``).
_LISTED = ("case_id", "status", "channel", "channels", "category", "responsible_unit", "address", "grid_cell",
           "reported_at", "closed_at", "due_at", "lon", "lat")


class Refused(OnemapError):
    """A request the API answers with an Open311 error list."""

    def __init__(self, status: int, description: str, errors: list | None = None):
        super().__init__(description)
        self.status = status
        self.errors = errors or [{"code": status, "description": description}]


def install(app):
    server = app.server

    @server.route(PREFIX + "/openapi.json")
    def open311_api():
        return flask.jsonify(api_document(flask.request.host_url.rstrip("/") + PREFIX))

    @server.route(PREFIX + "/services.json")
    def open311_services():
        _who()
        return flask.jsonify(services(_categories(store_from_request())))

    @server.route(PREFIX + "/requests.json", methods=["GET"])
    def open311_list():
        return flask.jsonify(_listing(_who(), flask.request.args))

    @server.route(PREFIX + "/requests.json", methods=["POST"])
    def open311_post():
        key = _writer()
        item = _body_object()
        result = push(key, [item], idempotency_key=flask.request.headers.get("Idempotency-Key"))
        outcome = result["requests"][0]
        if "errors" in outcome:
            return flask.jsonify(outcome["errors"]), 400
        return flask.jsonify([outcome]), 201 if not outcome["repeated"] else 200

    @server.route(PREFIX + "/batch.json", methods=["POST"])
    def open311_batch():
        key = _writer()
        body = flask.request.get_json(silent=True)
        items = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise Refused(400, 'the body must be {"requests": [...]} with at least one request')
        if len(items) > BATCH_MAX:
            raise Refused(413, f"{len(items)} requests in one batch; at most {BATCH_MAX}")
        # A batch that is not a list of objects of plain values is a sender's bug: refused whole, nothing stored.
        for n, item in enumerate(items, 1):
            if not isinstance(item, dict) or any(isinstance(v, (dict, list)) for v in item.values()):
                raise Refused(400, f"request {n} of the batch is not an object of plain values")
        return flask.jsonify(push(key, items))

    @server.route(PREFIX + "/requests/<request_id>.json", methods=["GET"])
    def open311_one(request_id):
        return flask.jsonify([_one(_who(), request_id)])

    @server.route(PREFIX + "/requests/<request_id>/status.json", methods=["POST"])
    def open311_status(request_id):
        key = _writer()
        body = _body_object()
        store = store_from_request()
        status = str(body.get("status") or "")
        status = {"open": "reported"}.get(status, status)
        at = _local_time(body.get("updated_datetime"), "updated_datetime")
        actor, address = f"apikey:{key.key_id}", _address()

        def audit(before, after):
            return audit_rows(actor, "open311.status", "cases", [(request_id, audited(before), audited(after))],
                              address=address)
        try:
            update_status(store, request_id, key.channel, status, at, audit=audit)
        except NotYours as exc:
            raise Refused(403, str(exc)) from None
        except NotFound as exc:
            raise Refused(404, str(exc)) from None
        except InvalidValue as exc:
            raise Refused(400, exc.message("en"), [{"code": 400, "field": "status", "reason": "unknown_value",
                                                   "description": exc.message("en")}]) from None
        return flask.jsonify([_one(key, request_id)])

    @server.after_request
    def open311_written(response):
        if flask.request.path.startswith(PREFIX + "/") and flask.request.method == "POST":
            # Taken in by this process's follower, as by every other's; the listing reads it back meanwhile.
            CACHE.written(store_from_request(), shown=False)
        return response

    @server.errorhandler(Refused)
    def refused(exc: Refused):
        response = flask.jsonify(exc.errors)
        response.status_code = exc.status
        return response

    ours: list = []  # the push API's own routes, apart from the pages' catch-all GET

    @server.before_request
    def open311_methods():
        """A method the push API does not take on a path of its own: 405 with its methods, not a page."""
        if not flask.request.path.startswith(PREFIX + "/"):
            return None
        if not ours:
            ours.append(Map([Rule(r.rule, methods=r.methods, endpoint=r.endpoint)
                             for r in server.url_map.iter_rules() if r.endpoint.startswith("open311_")]))
        adapter = ours[0].bind("onemap.invalid")
        allowed = set(adapter.allowed_methods(flask.request.path))
        if not allowed:
            raise Refused(404, f"no such resource: {flask.request.path}")
        allow = ", ".join(sorted(allowed | {"OPTIONS"}))
        if flask.request.method == "OPTIONS":
            return flask.Response(status=204, headers={"Allow": allow})
        if flask.request.method not in allowed:
            response = flask.jsonify([{"code": 405, "description": f"{flask.request.method} is not taken here"}])
            response.status_code = 405
            response.headers["Allow"] = allow
            return response
        return None

    @server.before_request
    def open311_throttle():
        if not flask.request.path.startswith(PREFIX + "/") or flask.request.path == PREFIX + "/openapi.json":
            return None
        who = _asker()
        if who is None:
            return None  # answered 401 by the route
        wait = shared.throttle(THROTTLE, "open311").wait_s(who, ("open311",), (uuid.uuid4().hex,))
        if wait:
            response = flask.jsonify([{"code": 429, "description": TooManyQueries(wait).message("en")}])
            response.status_code = 429
            response.headers["Retry-After"] = str(int(wait))
            return response
        return None


def push(key: ApiKey, items: list, *, idempotency_key: str | None = None) -> dict:
    """This request's pushed cases ingested (``etl.open311.ingest_requests``), in the serving process's intake
    child (``dashboards.intake``): per request, the case it became or why it was kept back."""
    for item in items:
        if isinstance(item, dict) and item.get("channel") not in (None, "", key.channel):
            raise Refused(403, f"this key writes {key.channel}'s cases, not {item.get('channel')}'s")
    store = store_from_request()
    return intake.run(ingest_requests, store, key, items, services=_service_codes(store), address=_address(),
                      idempotency_key=idempotency_key)


def _categories(store) -> pd.DataFrame:
    """Each category of the responsibility list or of the stored cases, with its kind where cases say it."""
    # The copy as held, perhaps a write behind: a push answers without bringing it up to date (the requests
    # that show cases do), and a category new in the last write is in the responsibility list or came before.
    if CACHE.holds_cases(store):
        cases = CACHE.cases_held(store)[0]
        seen = category_kinds(cases["category"], cases["kind"])
    else:  # counted by the store: each category's most frequent kind (ties: the first kind, as above)
        seen = CACHE.recent(store, ("category-kinds",), lambda: counted_kinds(store))
    listed = CACHE.layer(store, "responsibilities")[["category"]].dropna().drop_duplicates().assign(kind=None)
    both = pd.concat([seen, listed[~listed["category"].isin(seen["category"])]], ignore_index=True)
    return both.drop_duplicates("category")


def counted_kinds(store) -> pd.DataFrame:
    """:func:`layers.open311.category_kinds` counted by the store."""
    found = counted.summed(store, [], ("category", "kind"), ("n",))  # month × category: not every case's day
    found["kind"] = pd.Categorical(found["kind"], categories=sorted(set(found["kind"])))
    found = found.sort_values(["category", "n", "kind"], ascending=[True, False, True], kind="stable")
    return pd.DataFrame(found.drop_duplicates("category")[["category", "kind"]].astype(object)).reset_index(drop=True)


def _service_codes(store) -> dict[str, str]:
    return {code: code for code in _categories(store)["category"]}


def _key_given() -> str | None:
    header = flask.request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[len("bearer "):].strip()
    given = flask.request.args.get("api_key") or flask.request.form.get("api_key")
    return given or None


def _key() -> ApiKey | None:
    if "onemap_apikey" not in flask.g:
        given = _key_given()
        flask.g.onemap_apikey = key_for(CACHE.layer(store_from_request(), "api_keys"), given) if given else None
    return flask.g.onemap_apikey


def _asker() -> str | None:
    key = _key()
    if key is not None:
        return f"apikey:{key.key_id}"
    who = principal()
    return f"user:{who.name}" if who is not None and who.kind == "user" else None


def _who():
    """The key, or the logged-in user, a read answers; 401 for neither."""
    key = _key()
    if key is not None:
        return key
    if _key_given() is None:
        who = principal()
        if who is not None and who.kind == "user":
            return who
    raise Refused(401, "send the channel system's key (Authorization: Bearer …, or api_key), or log in")


def _writer() -> ApiKey:
    """Only a channel system's key writes."""
    key = _key()
    if key is None:
        raise Refused(401, "writing needs a channel system's key (Authorization: Bearer …, or api_key)")
    if (flask.request.content_length or 0) > BODY_MAX:
        raise Refused(413, f"a request body of at most {BODY_MAX} bytes")
    return key


def _body_object() -> dict:
    if flask.request.is_json:
        body = flask.request.get_json(silent=True)
        if not isinstance(body, dict):
            raise Refused(400, "the body must be one JSON object")
        return body
    return {k: v for k, v in flask.request.form.items() if k != "api_key"}


def _address() -> str:
    return flask.request.remote_addr or ""


def _local_time(value, field: str, *, strict: bool = False) -> pd.Timestamp:
    """An ISO 8601 time as the district's local time; none given (unless ``strict``): now."""
    if value in (None, "") and not strict:
        return pd.Timestamp.now().floor("s")
    parsed = parse_datetimes(pd.Series([str(value)]), ("iso8601",)).iat[0]
    if pd.isna(parsed):
        raise Refused(400, f"{field}: not an ISO 8601 time: {value}",
                      [{"code": 400, "field": field, "reason": "bad_date",
                        "description": f"{field}: not an ISO 8601 time: {value}"}])
    return pd.Timestamp(parsed)


def _scope(who) -> tuple[CaseFilter, bool]:
    """What an asker may read: a key its channel's cases, a user their area's; and whether free text is shown."""
    if isinstance(who, ApiKey):
        return CaseFilter(area=DISTRICT, channels=(who.channel,)), False
    return CaseFilter(area=who.area), who.role in PERSONAL_DATA_ROLES


def _listing(who, args) -> list[dict]:
    f, _ = _scope(who)
    start = _local_time(args["start_date"], "start_date", strict=True) if "start_date" in args else None
    end = _local_time(args["end_date"], "end_date", strict=True) if "end_date" in args else None
    if start is None and end is None:  # Open311: the last 90 days unless asked otherwise
        start = pd.Timestamp.now().floor("D") - pd.Timedelta(days=90)
    terms = []
    if args.get("service_request_id"):
        terms.append(Condition("case_id", "in", args["service_request_id"].split(",")[:LIST_MAX]))
    if args.get("service_code"):
        terms.append(Condition("category", "in", args["service_code"].split(",")))
    if args.get("status"):
        wanted = set(args["status"].split(","))
        unknown = wanted - {"open", "closed"}
        if unknown:
            raise Refused(400, f"status {sorted(unknown)}: Open311 knows open and closed",
                          [{"code": 400, "field": "status", "reason": "unknown_value",
                            "description": f"status {sorted(unknown)}: Open311 knows open and closed"}])
    else:
        wanted = {"open", "closed"}
    try:
        limit = int(args.get("limit", LIST_MAX))
    except ValueError:
        raise Refused(400, "limit: not a whole number",
                      [{"code": 400, "field": "limit", "reason": "bad_number",
                        "description": "limit: not a whole number"}]) from None
    if not 1 <= limit <= LIST_MAX:
        words = f"limit: from 1 to {LIST_MAX}"
        raise Refused(400, words, [{"code": 400, "field": "limit", "reason": "bad_number", "description": words}])
    store = store_from_request()
    if not CACHE.holds_cases(store) or CACHE.behind(store):  # held: a system's push is read back at once
        return [service_request(case) for case in _read_latest(store, f, terms, start, end, wanted, limit)]
    cases = CACHE.cases(store)[0]
    keep = f.mask(cases) & matches(cases, terms)
    at = cases["reported_at"]
    if start is not None:
        keep &= (at >= start).to_numpy()
    if end is not None:
        keep &= (at <= end).to_numpy()
    if wanted != {"open", "closed"}:
        closed = matches(cases, [Condition("status", "=", "closed")])
        keep &= closed if wanted == {"closed"} else ~closed
    return [service_request(case) for case in latest_cases(cases, np.flatnonzero(keep), limit)]


def _read_latest(store, f: CaseFilter, terms, start, end, wanted, limit) -> list[dict]:
    """:func:`latest_cases` of the asker's cases read from the store, newest first, only ``limit`` of them (a
    store the server does not hold)."""
    where = counted.terms(store, f, "cases") + terms
    if start is not None:
        where.append(Condition("reported_at", ">=", start.to_pydatetime()))
    if end is not None:
        where.append(Condition("reported_at", "<", (end + pd.Timedelta(microseconds=1)).to_pydatetime()))
    if wanted != {"open", "closed"}:
        where.append(Condition("status", "in", ["closed"] if wanted == {"closed"} else counted.OPEN))
    rows = store.read_page("cases", where, order=(("reported_at", True), ("case_id", True)), limit=limit)
    located = rows.geometry.notna() & ~rows.geometry.is_empty
    frame = pd.DataFrame(rows.drop(columns="geometry")).assign(lon=rows.geometry.x.where(located),
                                                              lat=rows.geometry.y.where(located))
    return [_plain(record) for record in frame[list(_LISTED)].to_dict("records")]


def latest_cases(cases: pd.DataFrame, rows: np.ndarray, limit: int) -> list[dict]:
    """The ``limit`` latest reported of ``rows`` (ties: the later case id first; no time: last), as plain
    records of the columns a service request shows: only those rows and columns are read, not the copy."""
    stamps = cases["reported_at"].to_numpy("datetime64[ms]")[rows].view(np.int64)  # no time: the smallest
    if len(rows) > limit:  # those at or after the limit-th latest time, found without sorting them all
        within = np.flatnonzero(stamps >= np.partition(stamps, len(stamps) - limit)[len(stamps) - limit])
        rows, stamps = rows[within], stamps[within]
    ids = cases["case_id"].array.codes[rows]  # ties in the order of the categories, as pandas sorts a categorical
    picked = cases.iloc[rows[np.lexsort((ids, stamps))[::-1][:limit]]]
    columns = {c: plain_values(picked[c]) for c in _LISTED if c in picked}
    return [dict(zip(columns, values)) for values in zip(*columns.values())]


def _one(who, case_id: str) -> dict:
    store = store_from_request()
    rows = store.read("cases", [Condition("case_id", "=", case_id)])
    if rows.empty:
        raise Refused(404, f"no case {case_id}")
    f, personal = _scope(who)
    located = rows.geometry.notna() & ~rows.geometry.is_empty
    frame = pd.DataFrame(rows.drop(columns="geometry"))
    frame["lon"] = rows.geometry.x.where(located)
    frame["lat"] = rows.geometry.y.where(located)
    if not f.mask(frame).all():
        raise Refused(403, f"case {case_id} is not one this key's channel sent, or not in your area")
    case = _plain(frame.iloc[0].to_dict())
    return service_request(case, description=case.get("description") if personal else None)


def _plain(row: dict) -> dict:
    return {k: (None if not isinstance(v, (list, dict)) and pd.isna(v) else v) for k, v in row.items()}

