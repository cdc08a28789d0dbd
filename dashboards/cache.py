"""What the dashboard server holds in memory of each store, and how it stays true to the store.

A filter change must answer in well under a second over a million cases, so
the server does not read them again for every click: it keeps one compact
copy of the cases per store (text columns as categoricals, the long
description left out), the walk-in visits, and the geography layers. Before
it answers from them it asks the store for its data versions (one small
read, at most once per ``CHECK_S``); a write anywhere (an ingest, an
unmerge, another server) changes a version and the layers it touched are
read again. If the store cannot be reached, what is held is served as it
was and :meth:`StoreCache.unreachable_since` says since when, for the page's
banner; the next check that reaches the store ends it.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import flask
import numpy as np
import pandas as pd

from gis.datums import METRIC_CRS
from gis.heat import to_metric
from layers.settings import SETTINGS
from layers.store import Condition, Store, StoreError

CHECK_S = SETTINGS.cache_check_s
# How long a filter's cases are reused, and for how many filters at most: the callbacks of one
# filter change ask for the same ones, overdue moves with the clock, and each may be a million rows.
RECENT_S = SETTINGS.cache_recent_s
RECENT_MAX = SETTINGS.cache_recent_max
# What the dashboard reads of a case; the rest (free text, intake details) is read from the store when a case is opened.
_KEPT = ("case_id", "kind", "category", "channel", "channels", "reported_at", "closed_at", "due_at", "status",
         "level", "resolved_in_place", "reporter_phone", "grid_cell", "community_code", "street_code",
         "responsible_unit", "address", "estate_id", "setback_area", "component_id", "outside_grid", "geometry")
_TEXT = ("case_id", "reporter_phone", "address", "estate_id", "setback_area", "component_id")
_CATEGORICAL = ("kind", "category", "channel", "channels", "status", "level", "grid_cell", "community_code",
                "street_code", "responsible_unit")


class StoreCache:
    def __init__(self, check_s: float = CHECK_S):
        self.check_s = check_s
        self._lock = threading.Lock()
        self._versions: dict[str, tuple[float, dict, datetime]] = {}  # url → (checked at, versions, answered at)
        self._unreachable: dict[str, datetime] = {}  # url → when the store last answered
        self._held: dict[tuple[str, str], tuple] = {}  # (store url, what) → (version, value)
        self._recent: dict[tuple, tuple[float, object]] = {}  # (store url, versions, key) → (made at, value)
        self._making: dict[tuple, threading.Lock] = {}

    def cases(self, store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The store's cases and their walk-in visit records: within a request, the copy it began with.

        Read whole in case-id order at first; after a write, the rows it changed are applied (a case
        changed in place, a new one at the end), so the rows of a copy keep their numbers in the next.
        """
        versions = self._current(store)
        pinned = _pinned()
        if pinned is not None and store.url in pinned:
            return pinned[store.url][1]
        return self._cases_at(store, versions)[1]

    def _cases_at(self, store, versions) -> tuple[dict, tuple]:
        """(the versions the copy is at, the copy) for ``versions``; while another thread brings the copy
        up to date, the one held is answered with its own versions instead of waiting."""
        key = (store.url, "cases")
        want = (versions.get("cases"), versions.get("case_sources"))
        held = self._held.get(key)
        if held is not None and held[0] == want:
            return held[2], held[1]
        if not self._lock.acquire(blocking=held is None):
            return held[2], held[1]
        try:
            held = self._held.get(key)
            if held is None or held[0] != want:
                value = None
                if held is not None and _follows(held[2], versions):
                    try:
                        value = _apply_changes(held[1], store, int(held[2]["seq:changes"]))
                    except StoreError:
                        return held[2], held[1]  # the store went away mid-way: what is held stands
                held = (want, value if value is not None else _load_cases(store), dict(versions))
                self._held[key] = held
        finally:
            self._lock.release()
        return held[2], held[1]

    def warm(self, store: Store) -> None:
        """Read the cases and the layers every page asks for, before the first person does."""
        self.cases(store)
        for name in ("streets", "communities", "grid_cells", "setback_areas", "users", "kiosks", "responsibilities"):
            self.layer(store, name)

    def recent(self, store: Store, key: tuple, make):
        """``make()`` for ``key`` under the current data versions, made once and reused for ``RECENT_S``.

        The map's, the charts' and the table's callbacks of one filter change ask for the same
        filter's cases at once: the first makes them, the others wait for it.
        """
        versions = self._current(store)
        key = (store.url, versions.get("cases"), versions.get("case_sources"), key)
        with self._lock:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            now = time.monotonic()
            made = self._recent.get(key)
            if made is None or now - made[0] > RECENT_S:
                made = (now, make())
                fresh = sorted((k for k, v in self._recent.items() if now - v[0] <= RECENT_S),
                               key=lambda k: self._recent[k][0])
                self._recent = {k: self._recent[k] for k in fresh[-(RECENT_MAX - 1):]}
                self._recent[key] = made
                self._making = {k: v for k, v in self._making.items() if k in self._recent}
        return made[1]

    def layer(self, store: Store, name: str) -> pd.DataFrame:
        """A geography layer as stored; grid cells carry their area in km² (``area_km2``)."""
        return self._get(store, name, self._current(store).get(name), lambda s: _load_layer(s, name))

    def derived(self, store: Store, key: tuple, make):
        """``make(cases)`` over the held cases, made once per version of them (a sort order, say)."""
        versions = self._current(store)
        version = (versions.get("cases"), versions.get("case_sources"))
        return self._get(store, key, version, lambda s: make(self.cases(s)[0]))

    def derived_layer(self, store: Store, name: str, key: tuple, make):
        """``make()`` for a layer, made once per version of the layer and ``key`` (the cells' GeoJSON, say)."""
        return self._get(store, (name, key), self._current(store).get(name), lambda s: make())

    def written(self, store: Store) -> None:
        """This process just wrote to the store: the next request asks for its versions, not after ``check_s``."""
        self._versions.pop(store.url, None)

    def version(self, store: Store, name: str) -> str | None:
        return self._current(store).get(name)

    def unreachable_since(self, store: Store) -> datetime | None:
        """When the store last answered, if its last check failed: what is shown is as of then."""
        return self._unreachable.get(store.url)

    def _current(self, store):
        """The store's data versions; within a request, those of the cases it began with (one snapshot)."""
        pinned = _pinned()
        if pinned is not None and store.url in pinned:
            return pinned[store.url][0]
        versions = self._checked(store)
        if pinned is not None:
            at, value = self._cases_at(store, versions)
            # The copy held may be a moment behind (being brought up to date): its case versions, the rest now.
            versions = {**versions, **{k: v for k, v in at.items() if k in _CASE_VERSIONS}}
            pinned[store.url] = (versions, value)
        return versions

    def _checked(self, store):
        checked = self._versions.get(store.url)
        if checked is None or time.monotonic() - checked[0] > self.check_s:
            try:
                versions = store.data_versions()
            except StoreError:
                if checked is None:
                    raise  # nothing held to show instead
                # The last good data stands; the store is asked again after ``check_s``.
                self._unreachable.setdefault(store.url, checked[2])
                self._versions[store.url] = (time.monotonic(), checked[1], checked[2])
                return checked[1]
            self._unreachable.pop(store.url, None)
            checked = (time.monotonic(), versions, datetime.now())
            self._versions[store.url] = checked
        return checked[1]

    def _get(self, store, what, version, load):
        key = (store.url, what)
        held = self._held.get(key)
        if held is None or held[0] != version:
            with self._lock:  # one reload at a time; a request waiting here finds it done
                held = self._held.get(key)
                if held is None or held[0] != version:
                    held = (version, load(store))
                    self._held[key] = held
        return held[1]


_CASE_VERSIONS = ("cases", "case_sources", "seq:changes", "epoch:cases", "epoch:case_sources")


def _pinned() -> dict | None:
    """The snapshot of the current request (store url → (versions, cases)), or None outside a request."""
    if not flask.has_request_context():
        return None
    return flask.g.setdefault("onemap_snapshot", {})


def _follows(held: dict, now: dict) -> bool:
    """Whether the copy made at ``held`` versions becomes ``now``'s by the rows changed since (no layer replaced)."""
    return ("seq:changes" in held and "seq:changes" in now and int(now["seq:changes"]) >= int(held["seq:changes"])
            and all(held.get(e) == now.get(e) for e in ("epoch:cases", "epoch:case_sources")))


def _apply_changes(held: tuple, store: Store, after: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held (cases, visits) with the rows written since change ``after``: a new copy, the old untouched."""
    cases, visits = held
    changed = store.read_changes("cases", after)
    came = store.read_changes("case_sources", after, [Condition("channel", "=", "walk_in")])
    if changed.empty and came.empty:
        return held
    if len(changed):
        cases = _with_rows(cases, _plain_cases(changed))
    if len(came):
        came = _visits(came, cases)
        known = pd.MultiIndex.from_frame(visits[["source", "source_id"]])
        stale = known.isin(pd.MultiIndex.from_frame(came[["source", "source_id"]]))
        visits = pd.concat([visits[~stale], came[came["case_row"] >= 0]], ignore_index=True)
    return cases, visits


def _with_rows(cases: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """``cases`` with ``rows`` applied by case id: a known case replaced where it is, a new one added at the end.

    A new frame: the one given is never written into (a request may still hold it).
    """
    codes = cases["case_id"].cat.categories.get_indexer(rows["case_id"].astype(object))
    row_of = np.full(len(cases["case_id"].cat.categories), -1, dtype=np.int64)
    row_of[cases["case_id"].cat.codes.to_numpy()] = np.arange(len(cases))
    at = np.where(codes >= 0, row_of[np.maximum(codes, 0)], -1)
    fresh, changed = (at < 0), (at >= 0)
    columns = {}
    for column in cases.columns:
        held = cases[column]
        if isinstance(held.dtype, pd.CategoricalDtype):
            dtype, given = _grown_codes(held.dtype, rows[column])
            out = np.concatenate([held.cat.codes.to_numpy(), given[fresh]])
            out[at[changed]] = given[changed]
            # Codes already held keep their meaning (categories only grow at the end): nothing is recoded.
            columns[column] = pd.Categorical.from_codes(out, dtype=dtype, validate=False)
        else:
            given = rows[column].astype(held.dtype)
            out = pd.concat([held, given[fresh]], ignore_index=True)
            out.iloc[at[changed]] = given[changed].to_numpy()
            columns[column] = out
    return pd.DataFrame(columns)


def _grown_codes(dtype: pd.CategoricalDtype, values: pd.Series) -> tuple[pd.CategoricalDtype, np.ndarray]:
    """The categorical type grown by ``values`` it lacks (at the end), and each value's code in it (-1: missing).

    The held categories' own lookup table answers for the values they know; a million categories are not
    listed again nor hashed again but once, when the type grows.
    """
    known = dtype.categories
    plain = values.astype(object).to_numpy()
    codes = known.get_indexer(plain)
    present = pd.notna(plain)
    new = pd.Index(pd.unique(plain[(codes < 0) & present]), dtype=known.dtype)
    if len(new):
        where = new.get_indexer(plain)
        codes = np.where((codes < 0) & (where >= 0), len(known) + where, codes)
        dtype = pd.CategoricalDtype(known.append(new), ordered=dtype.ordered)
    return dtype, codes.astype(np.int64)


def _load_cases(store: Store):
    # In case-id order, so a stable sort on any column breaks its ties by case id (dashboards.data.case_table);
    # cases that arrive later are added at the end (see _with_rows).
    cases = _plain_cases(store.read("cases")).sort_values("case_id", ignore_index=True)
    # Text as codes: a filter that keeps most of a million cases copies numbers, not a million strings.
    for column in _CATEGORICAL:
        cases[column] = cases[column].astype("category")
    for column in _TEXT:
        # Categories of Python strings, not pandas' Arrow-backed "str": adding a case's new id to a million
        # of them (every write, _with_rows) costs 0.5 s instead of 3 s, which pandas spends iterating Arrow.
        values = cases[column].to_numpy(dtype=object, na_value=None)
        uniques = pd.unique(values[pd.notna(values)])
        cases[column] = pd.Categorical(values, categories=pd.Index(uniques, dtype=object))
    visits = _visits(store.read("case_sources", [Condition("channel", "=", "walk_in")]), cases)
    return cases, visits[visits["case_row"] >= 0].reset_index(drop=True)


def _plain_cases(read: pd.DataFrame) -> pd.DataFrame:
    """What the dashboard holds of stored cases: the kept columns, coordinates as plain numbers."""
    cases = read[list(_KEPT)].reset_index(drop=True)
    # Plain numbers instead of point objects (cheap to copy when a filter picks rows), and metres
    # in the metric CRS worked out once: the heat layer bins them at every filter change.
    geometry = cases.geometry
    located = (geometry.notna() & ~geometry.is_empty).to_numpy()
    for column in ("lon", "lat", "x_m", "y_m"):
        cases[column] = np.nan
    cases.loc[located, "lon"], cases.loc[located, "lat"] = geometry[located].x, geometry[located].y
    cases.loc[located, "x_m"], cases.loc[located, "y_m"] = to_metric(geometry[located].x, geometry[located].y)
    return pd.DataFrame(cases.drop(columns="geometry"))


def _visits(records: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Walk-in visit records, each with its case as a row number of the copy (-1: not held)."""
    visits = pd.DataFrame(records[["source", "source_id", "case_id", "channel", "reported_at", "people"]])
    # Which visits a filter keeps is then one lookup.
    codes = cases["case_id"].cat.categories.get_indexer(visits["case_id"].astype(object))
    row_of = np.full(len(cases["case_id"].cat.categories) + 1, -1, dtype=np.int64)
    row_of[cases["case_id"].cat.codes.to_numpy()] = np.arange(len(cases))
    visits["case_row"] = row_of[codes]  # a code of -1 reads the last slot, which stays -1
    return visits.reset_index(drop=True)


def _load_layer(store: Store, name: str):
    frame = store.read(name)
    if name == "grid_cells":
        frame["area_km2"] = frame.to_crs(METRIC_CRS).area / 1e6
    return frame


CACHE = StoreCache()
