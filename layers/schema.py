"""The canonical schema of every stored layer and table.

One definition serves both stores: the GeoPackage writes it through pyogrio,
PostGIS turns it into DDL. Each record kind has a natural key, which is what
makes a re-ingest an upsert that changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.datums import STORAGE_CRS
from layers.errors import InvalidValue

CASE_KINDS = ("dispute", "event", "petition")
CASE_STATUSES = ("reported", "dispatched", "coordinated", "closed")
LEVELS = ("community", "street", "district")
PRECISIONS = ("building", "road", "community", "street", "none")


class SchemaError(InvalidValue):
    """A frame that does not fit its layer's schema."""


# What a rollup's key holds where the rows it counts hold nothing (a case outside every grid cell): a key
# column cannot be NULL in a primary key, and "" is no code, category or status of ours.
MISSING = ""


@dataclass(frozen=True)
class Counts:
    """How a rollup layer counts the rows of another (``source``): by its key columns, each the source's column
    of the same name (missing: :data:`MISSING`), but ``day`` and ``month``, the midnight that begins the day or
    the month of the source's ``day_of`` (a time as stored: local wall-clock). The store keeps it in the
    transaction of each write to the source."""

    source: str
    day_of: str
    # Besides ``n``, a count per boolean column of the source: ``n_<column>``, the rows where it is true.
    flags: tuple[str, ...] = ()
    # Key columns that hold the midnight of the day of another time of the source: (key column, source column).
    # A row whose time is missing (a case not closed yet) is not counted.
    days: tuple[tuple[str, str], ...] = ()

    def counted_where(self) -> tuple[str, ...]:
        """The source's columns a row must have for the row to be counted."""
        return tuple(column for _, column in self.days)


@dataclass(frozen=True)
class Layer:
    """One stored layer or table: its natural key, columns and types, geometry type and required columns."""

    name: str
    key: tuple[str, ...]
    columns: dict[str, str]  # column → str | int | float | bool | datetime
    geometry: str | None = None  # Point, Polygon, MultiPolygon, Geometry, or None for a table
    not_null: tuple[str, ...] = field(default=())
    # Lookups that must not scan the layer as it grows (the login limit's per name and per address).
    indexes: tuple[tuple[str, ...], ...] = field(default=())
    # Each write stamps its rows with the store's next change number (a column the backends keep,
    # ``CHANGE_SEQ``, not one of ``columns``): a server holding the layer reads only the rows changed since.
    changes: bool = False
    # PostGIS keeps the layer in one partition per month of this column (declarative range partitioning), so
    # a read of a period touches its months only and a month can be detached whole; the GeoPackage does not.
    partitioned_by: str | None = None
    # A rollup (Counts): kept by the store itself, never written directly (layers.rollups reads it).
    counts: Counts | None = None


CHANGE_SEQ = "change_seq"


_GEOGRAPHY_COMMON = {"name": "str", "street_code": "str"}
# What one intake record says about its matter, and where it was placed: shared by cases and their records.
_RECORD = {
    "kind": "str", "category": "str", "channel": "str", "reported_at": "datetime", "dispatched_at": "datetime",
    "closed_at": "datetime", "status": "str", "level_received": "str", "level": "str",
    "resolved_in_place": "bool", "people": "int", "description": "str", "address": "str",
    "reporter_phone": "str", "location_precision": "str", "grid_cell": "str", "community_code": "str",
    "street_code": "str", "estate_id": "str", "setback_area": "str", "outside_grid": "bool",
    "address_id": "str", "responsible_unit": "str", "component_id": "str",
    # Which of the store's districts the record is in (a city's store holds several), also where it is in none
    # of the district's streets (on a river, at the edge): by its street, else by the district outline nearest.
    "district_code": "str",
}

LAYERS = {
    layer.name: layer
    for layer in [
        # The district: its outline, its name in each language, the names an address may begin with
        # before the street (province, city, district), and names that mark an address as another place.
        Layer("district", ("district_code",),
              {"district_code": "str", "name": "str", "name_en": "str", "address_prefix": "str", "elsewhere": "str"},
              "Geometry"),
        Layer("streets", ("street_code",), {"street_code": "str", "name": "str", "kind": "str"}, "Geometry"),
        Layer("communities", ("community_code",),
              {"community_code": "str", "official_name": "str", "kind": "str",
               "population": "int", **_GEOGRAPHY_COMMON}, "Geometry"),
        Layer("grid_cells", ("grid_cell",),
              {"grid_cell": "str", "community_code": "str", "kind": "str",
               "population": "int", **_GEOGRAPHY_COMMON}, "Geometry"),
        Layer("estates", ("estate_id",),
              {"estate_id": "str", "community_code": "str", "built_year": "int",
               "households": "int", **_GEOGRAPHY_COMMON}, "Geometry"),
        Layer("setback_areas", ("setback_area",),
              {"setback_area": "str", "estate_id": "str", "community_code": "str",
               "status": "str", "managing_unit": "str", "handed_over_at": "datetime",
               "handed_over_to": "str", **_GEOGRAPHY_COMMON}, "Geometry"),
        # 标准地址库: one point per doorplate or building; the geocoder's reference.
        Layer("addresses", ("address_id",),
              {"address_id": "str", "street_code": "str", "community_code": "str", "road": "str",
               "doorplate": "str", "building": "str", "estate_id": "str", "name": "str"},
              "Point", not_null=("address_id", "name")),
        # 属地管理责任清单: which unit answers for which category in which area
        # (a district, street or community code; the most specific entry wins).
        Layer("responsibilities", ("category", "area_code"),
              {"category": "str", "area_code": "str", "area_name": "str", "unit": "str"},
              None, not_null=("category", "area_code", "unit")),
        # 城市部件: the inventory, one point per component, classed by GB/T 30428.2 (layers.components).
        Layer("components", ("component_id",),
              {"component_id": "str", "major_class": "str", "minor_class": "str",
               "class_name": "str", "state": "str", "surveyed_at": "datetime", "source": "str",
               "grid_cell": "str", "community_code": "str", "street_code": "str", "outside_grid": "bool",
               "managing_unit": "str", "owning_unit": "str", "maintaining_unit": "str"},
              "Point", not_null=("component_id", "major_class", "minor_class")),
        Layer("cases", ("case_id",), {"case_id": "str", **_RECORD, "channels": "str", "due_at": "datetime"},
              "Point", not_null=("case_id", "kind", "category", "channel", "reported_at",
                                 "status", "level_received", "level"), changes=True,
              indexes=(("reported_at",), ("status", "due_at"), ("district_code", "reported_at"),
                       ("street_code", "reported_at"), ("community_code", "reported_at"),
                       ("grid_cell", "reported_at"), ("district_code", "case_id"), ("street_code", "case_id")),
              partitioned_by="reported_at"),
        # How many cases there are per day reported × street × grid cell × kind × category × channel × status ×
        # level, kept by the store's triggers in the transaction of every write to cases, so the pages of a city
        # or a province count rows of this instead of cases. Key columns a case leaves empty hold "" (MISSING):
        # grid_cell "" is outside every cell (still in its street), street_code "" in no street, channels "" a
        # case one channel reported (a merged case's channels lists them all). day: the midnight that begins the
        # day of reported_at. n_resolved_in_place: how many of the n were settled where received. A row whose n
        # falls to 0 is removed.
        Layer("case_counts", ("day", "district_code", "street_code", "community_code", "grid_cell", "kind",
                              "category", "channel", "channels", "status", "level"),
              {"day": "datetime", "district_code": "str", "street_code": "str", "community_code": "str",
               "grid_cell": "str", "kind": "str",
               "category": "str", "channel": "str", "channels": "str", "status": "str", "level": "str", "n": "int",
               "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",)),
              indexes=(("street_code", "day"), ("grid_cell", "day"))),
        # Narrower counts of the same cases, kept the same way, for the wide views of a city or a province: at a
        # day × cell grain a group mostly holds one case (case_counts is nearly as long as the cases), so a
        # province's year reads millions of its rows. Each of these drops what most views neither show nor
        # filter by; ``layers.counted`` reads the narrowest that holds every column a view asks for, by month
        # where the view's whole months allow (``month``: the midnight that begins the month of reported_at) and
        # the days at its ends by day. The per-cell map:
        Layer("counts_month_cell", ("month", "district_code", "street_code", "community_code", "grid_cell"),
              {"month": "datetime", "district_code": "str", "street_code": "str", "community_code": "str",
               "grid_cell": "str", "n": "int", "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",)),
              indexes=(("street_code", "month"), ("grid_cell", "month"))),
        # The tiles, the channel and level charts, and the channels' lists a channel filter names:
        Layer("counts_month_street", ("month", "district_code", "street_code", "kind", "channel", "channels",
                                      "status", "level"),
              {"month": "datetime", "district_code": "str", "street_code": "str", "kind": "str", "channel": "str",
               "channels": "str", "status": "str", "level": "str", "n": "int", "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",)),
              indexes=(("street_code", "month"),)),
        # The categories chart, and each category's kind (what the push API's service list says):
        Layer("counts_month_category", ("month", "district_code", "street_code", "kind", "category"),
              {"month": "datetime", "district_code": "str", "street_code": "str", "kind": "str", "category": "str",
               "n": "int", "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",)),
              indexes=(("street_code", "month"),)),
        # The lists of channels that reported a case together, which a channel filter names:
        Layer("counts_month_channels", ("month", "channels"),
              {"month": "datetime", "channels": "str", "n": "int", "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",))),
        # The trend's cases closed per day (of closing), of the cases reported in a view's whole months:
        Layer("counts_month_closed", ("month", "closed_day", "district_code", "street_code"),
              {"month": "datetime", "closed_day": "datetime", "district_code": "str", "street_code": "str",
               "n": "int", "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",),
                                                   days=(("closed_day", "closed_at"),)),
              indexes=(("street_code", "month"),)),
        # The trend (cases per day), and the days at the ends of a view of whole months:
        Layer("counts_day_street", ("day", "district_code", "street_code"),
              {"day": "datetime", "district_code": "str", "street_code": "str", "n": "int",
               "n_resolved_in_place": "int"},
              None, not_null=("n",), counts=Counts("cases", day_of="reported_at", flags=("resolved_in_place",)),
              indexes=(("street_code", "day"),)),
        # 一窗受理: every intake record, and the case it landed in (merged into another record's
        # case, and why). A record that opened its case has its fields in that case's row; a
        # merged record keeps all it said here, so a merge can be undone (etl.unmerge).
        Layer("case_sources", ("source", "source_id"),
              {"source": "str", "source_id": "str", "case_id": "str", **_RECORD, "file": "str", "row": "int",
               "merged": "bool", "merge_reason": "str", "original": "str"},
              "Point", not_null=("source", "source_id", "case_id"), changes=True,
              indexes=(("channel", "reported_at"),)),
        # Channels that came with a profile (channel, channel_title) rather than with the glossary
        # (layers.glossary.CHANNELS): their titles, for every page that shows a channel.
        Layer("channels", ("channel",), {"channel": "str", "title_zh": "str", "title_en": "str"},
              None, not_null=("channel", "title_zh", "title_en")),
        # Who may log in, in which role, over which area (layers.areas spec); passwords as slow hashes.
        Layer("users", ("user_name",),
              {"user_name": "str", "display_name": "str", "role": "str", "area": "str", "password_hash": "str",
               "created_at": "datetime", "disabled": "bool", "sessions_after": "datetime"},
              None, not_null=("user_name", "role", "area", "password_hash")),
        # Each login attempt (a page's form or a GIS client's Basic login) and the client address it came
        # from: the failed-login limit counts them here, so every process and server of one store counts
        # the same attempts. A page login's id is its session's id.
        Layer("logins", ("login_id",),
              {"login_id": "str", "user_name": "str", "at": "datetime", "ok": "bool", "address": "str"},
              None, not_null=("login_id", "user_name", "at", "ok"),
              indexes=(("user_name", "at"), ("address", "at"))),
        # Sessions ended before their time (a logout), by session id: every server process refuses them.
        # A password change ends a user's older sessions through users.sessions_after instead.
        Layer("ended_sessions", ("session_id",),
              {"session_id": "str", "user_name": "str", "ended_at": "datetime"},
              None, not_null=("session_id", "ended_at"), indexes=(("ended_at",),)),
        # When each person last opened a page (the overview): what arrived since is counted from it.
        Layer("looks", ("user_name", "page"), {"user_name": "str", "page": "str", "at": "datetime"},
              None, not_null=("user_name", "page", "at")),
        # Kiosk links for wall screens: only a hash of the token is kept; revoked_at ends a link.
        Layer("kiosks", ("kiosk_id",),
              {"kiosk_id": "str", "token_hash": "str", "label": "str", "area": "str", "view": "str",
               "created_at": "datetime", "revoked_at": "datetime"},
              None, not_null=("kiosk_id", "token_hash", "area")),
        # Keys of the channel systems that push cases (dashboards.open311): only a hash of each is kept; a key
        # writes and reads its own channel's cases only, until revoked.
        Layer("api_keys", ("key_id",),
              {"key_id": "str", "key_hash": "str", "channel": "str", "label": "str", "created_at": "datetime",
               "created_by": "str", "revoked_at": "datetime"},
              None, not_null=("key_id", "key_hash", "channel", "created_at")),
        # Every write a person or a channel system makes through the server: who, when, what it was before
        # and after (JSON), so a changed case or a revoked key can be traced back.
        Layer("audit", ("audit_id",),
              {"audit_id": "str", "at": "datetime", "actor": "str", "action": "str", "layer": "str",
               "record": "str", "before": "str", "after": "str", "address": "str"},
              None, not_null=("audit_id", "at", "actor", "action", "layer", "record"),
              indexes=(("layer", "record"), ("at",))),
        # 靶向治理台账: what was done to a place (a setback area, an estate, a grid cell), by whom,
        # when it started and finished, and to whom it was handed over.
        # An order opened in the product (layers.remediation_orders) also keeps where it stands (state), the
        # problem (category) and the evidence frozen when it was opened (JSON), the plan, and the place's codes.
        Layer("remediations", ("remediation_id",),
              {"remediation_id": "str", "place_kind": "str", "place": "str", "what": "str", "unit": "str",
               "started_at": "datetime", "finished_at": "datetime", "handed_over_to": "str",
               "handed_over_at": "datetime", "entered_by": "str", "entered_at": "datetime",
               "state": "str", "category": "str", "evidence": "str", "planned_start": "datetime",
               "planned_finish": "datetime", "grid_cell": "str", "community_code": "str", "street_code": "str",
               "updated_at": "datetime"},
              None, not_null=("remediation_id", "place_kind", "place", "what")),
        # Each step an order took: to which state, who (and in which role), when, a note; a handover's unit.
        Layer("remediation_steps", ("remediation_id", "step"),
              {"remediation_id": "str", "step": "int", "state": "str", "at": "datetime", "actor": "str",
               "role": "str", "note": "str", "handed_over_to": "str"},
              None, not_null=("remediation_id", "step", "state", "at", "actor")),
        # 盲点数据库: each blind spot the rules found (identity: rule, place, category) and where it stands.
        Layer("blind_spot_entries", ("blind_spot_id",),
              {"blind_spot_id": "str", "rule": "str", "place_kind": "str", "place": "str", "category": "str",
               "cases": "int", "state": "str", "unit": "str", "deadline": "datetime", "resolution": "str",
               "resolved_at": "datetime", "first_found": "datetime", "last_found": "datetime",
               "updated_at": "datetime", "grid_cell": "str", "community_code": "str", "street_code": "str"},
              None, not_null=("blind_spot_id", "rule", "place_kind", "place", "state")),
        Layer("blind_spot_steps", ("blind_spot_id", "step"),
              {"blind_spot_id": "str", "step": "int", "state": "str", "at": "datetime", "actor": "str", "note": "str"},
              None, not_null=("blind_spot_id", "step", "state", "at", "actor")),
        # Every export: who took which layers out, when, in which format and datum, under which filter.
        Layer("exports", ("export_id",),
              {"export_id": "str", "user_name": "str", "at": "datetime", "layers": "str", "format": "str",
               "datum": "str", "filter": "str", "area": "str", "rows": "int", "path": "str", "personal": "bool"},
              None, not_null=("export_id", "at", "layers", "format")),
        # 今日要情 as it was made: the page of each brief, per day and area, so yesterday's reads as it was.
        Layer("briefs", ("brief_date", "area"),
              {"brief_date": "str", "area": "str", "made_at": "datetime", "html": "str"},
              None, not_null=("brief_date", "area", "made_at", "html")),
        Layer("settings", ("name",), {"name": "str", "value": "str"}, None, not_null=("name",)),
        # The migrations (layers.store.migrations) this store has had, one row each.
        Layer("schema_version", ("version",), {"version": "int", "about": "str", "applied_at": "datetime"},
              None, not_null=("version", "applied_at")),
        # Rows an ingest kept back, as the file had them, and why; the row's id and place where it gave them
        # (a clerk's area); cleared_at when the row was ingested again successfully (etl.quarantine).
        Layer("quarantine", ("source", "file", "row"),
              {"source": "str", "file": "str", "row": "int", "fields": "str",
               "reasons": "str", "message": "str", "raw": "str", "source_id": "str", "grid_cell": "str",
               "community_code": "str", "street_code": "str", "cleared_at": "datetime"},
              None, not_null=("source", "file", "row")),
    ]
}


def conform(name: str, frame) -> pd.DataFrame:
    """Return ``frame`` with exactly the layer's columns, in order, with their types.

    Missing optional columns are added empty; a missing key or not-null
    column, a null in one, or an unknown column raises :class:`SchemaError`.
    """
    layer = LAYERS.get(name)
    if layer is None:
        raise SchemaError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
    extra = set(frame.columns) - set(layer.columns) - {"geometry"}
    if extra:
        raise SchemaError(f"layer {name!r}: unknown columns {sorted(extra)}")
    columns = {}
    for col, kind in layer.columns.items():
        if col not in frame.columns:
            if col in layer.not_null or col in layer.key:
                raise SchemaError(f"layer {name!r}: required column {col!r} is missing")
            values = pd.Series(None, index=frame.index, dtype=object)
        else:
            values = frame[col]
        columns[col] = _coerce(values, kind, name, col)
        if (col in layer.not_null or col in layer.key) and columns[col].isna().any():
            bad = frame.index[columns[col].isna().to_numpy()][:5].tolist()
            raise SchemaError(f"layer {name!r}: column {col!r} is empty in rows {bad}")
    # Made at once: a frame grown column by column costs more than its values, on every small read and write.
    out = pd.DataFrame(columns, index=frame.index)
    if layer.geometry is None:
        return out.reset_index(drop=True)
    if not isinstance(frame, gpd.GeoDataFrame):
        raise SchemaError(f"layer {name!r} needs a GeoDataFrame with a geometry column")
    geoms = frame.geometry
    if geoms.crs is None:
        raise SchemaError(f"layer {name!r}: geometry has no CRS; stored geometry is {STORAGE_CRS}")
    if not geoms.crs.equals(STORAGE_CRS):
        geoms = geoms.to_crs(STORAGE_CRS)
    return gpd.GeoDataFrame(out, geometry=geoms.values, crs=STORAGE_CRS).reset_index(drop=True)


# The dtype each kind of column is held as: a column that has it already is kept as it is.
_HELD_AS = {"int": pd.Int64Dtype(), "float": np.dtype("float64"), "bool": pd.BooleanDtype(),
            "datetime": np.dtype("datetime64[ms]")}


def stored_time(stamp) -> pd.Timestamp:
    """A time in the unit stored times are held in (milliseconds, cut), to compare a column of them with.

    pandas compares a column of milliseconds with a finer time (``Timestamp.now()`` is in microseconds)
    by converting the whole column first: 26 ms at a million rows, against 2 ms in the column's own unit.
    """
    return pd.Timestamp(stamp).as_unit("ms")


# Up to this many rows a store's read builds each column from its rows' values (``from_rows``).
FEW_ROWS = 500


def from_rows(name: str, rows: list, shapes=None) -> pd.DataFrame:
    """The layer's frame of ``rows`` as a store reads them: tuples of its columns' values in order (text, numbers,
    booleans as 0 and 1 or as themselves, times as ISO 8601 text or as ``datetime``, None for missing); ``shapes``,
    one per row, for a layer with geometry.

    For the few rows most reads keep (a server's follow of a write, a push's look for the ids it knows): each
    column is made as it is held (``_HELD_AS``, text as objects), and the frame made once; pandas guessing each
    column's type, then :func:`conform` converting it, cost 12-20 ms for two rows of cases at every follow. Rows
    with a value of another type (a number in a text column) or a missing one where the layer needs it are
    left to :func:`conform`, to convert them or to say what is wrong.
    """
    layer = LAYERS[name]
    columns, held = {}, True
    for at, (column, kind) in enumerate(layer.columns.items()):
        values = [row[at] for row in rows]
        made = _held_values(values, kind)
        if made is None:
            held, made = False, pd.Series(values, dtype=object)
        elif (column in layer.not_null or column in layer.key) and any(v is None for v in values):
            held = False
        columns[column] = made
    frame = pd.DataFrame(columns, copy=False)
    if layer.geometry is not None:
        frame = gpd.GeoDataFrame(frame, geometry=np.asarray(shapes, dtype=object), crs=STORAGE_CRS)
    return frame if held else conform(name, frame)


def _held_values(values: list, kind: str):
    """``values`` as a column of ``kind`` is held, or None where one of them is not of its type."""
    if kind == "str":
        if not all(v is None or type(v) is str for v in values):
            return None
        out = np.empty(len(values), dtype=object)
        out[:] = values
        return pd.Series(out, dtype=object, copy=False)
    if kind == "float":
        if not all(v is None or isinstance(v, (int, float)) for v in values):
            return None
        return np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if kind == "int":
        if not all(v is None or type(v) is int for v in values):
            return None
        return pd.array(values, dtype=pd.Int64Dtype())
    if kind == "bool":  # SQLite keeps them as 0 and 1
        if not all(v is None or type(v) is bool or v in (0, 1) for v in values):
            return None
        return pd.array([None if v is None else bool(v) for v in values], dtype=pd.BooleanDtype())
    if kind == "datetime":
        stamps = [_naive_time(v) for v in values]
        if not all(v is None or type(v) is datetime for v in stamps):
            return None
        return np.array([np.datetime64("NaT") if v is None else np.datetime64(v, "ms") for v in stamps],
                        dtype="datetime64[ms]")
    return None


def _naive_time(value):
    """A stored time as the district's wall clock: its zone, if it has one, dropped (as the stores read them)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.replace(tzinfo=None)
    return value


# Up to this many rows a text column is checked value by value (text or None) before it is rebuilt.
_CHECKED_ROWS = 10_000


def _held_already(values: pd.Series, kind: str) -> bool:
    """Whether ``values`` are held as ``kind`` is: a read or a write of a few rows (a pushed case, the rows a
    write changed) then costs no pandas operation per column, where each costs more than the values."""
    if kind == "str":
        return (values.dtype == object and len(values) <= _CHECKED_ROWS
                and all(v is None or type(v) is str for v in values.array))
    return values.dtype == _HELD_AS.get(kind)


def _coerce(values: pd.Series, kind: str, name: str, col: str) -> pd.Series:
    if _held_already(values, kind):
        return values
    try:
        if kind == "str" and isinstance(values.dtype, pd.StringDtype):  # as Arrow reads text: text or missing
            return pd.Series(values.to_numpy(dtype=object, na_value=None), index=values.index, dtype=object)
        if kind == "str":
            out = values.to_numpy(dtype=object, na_value=None) if hasattr(values, "array") else values
            out = np.array(out, dtype=object)
            missing = pd.isna(out)
            out[missing] = None
            # Text columns are text already, but a number read from a spreadsheet is made text here.
            if pd.api.types.infer_dtype(out, skipna=True) not in ("string", "empty"):
                out[~missing] = [str(v) for v in out[~missing]]
            return pd.Series(out, index=values.index, dtype=object)
        if kind == "int":
            return pd.to_numeric(values).astype("Int64")
        if kind == "float":
            return pd.to_numeric(values).astype("float64")
        if kind == "bool":
            return values.astype("boolean")
        if kind == "datetime":
            return pd.to_datetime(values).astype("datetime64[ms]")
    except (ValueError, TypeError) as exc:
        raise SchemaError(f"layer {name!r}: column {col!r} is not {kind}: {exc}") from exc
    raise SchemaError(f"layer {name!r}: column {col!r} has unknown type {kind!r}")
