"""The store interface: one method set, two backends (GeoPackage, PostGIS).

Backends move frames in and out; everything they share (schema checks,
upsert semantics, filters) lives here.
"""

from __future__ import annotations

import abc
import functools
import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from gis.datums import STORAGE_CRS
from layers.errors import Conflict, DuplicateKey, InvalidValue, StoreBehindSchema
from layers.schema import CHANGE_SEQ, LAYERS, conform
from layers.store.migrations import SCHEMA_VERSION, pending

OPERATORS = ("=", ">=", "<", "in", "within", "bbox", "among")


@dataclass(frozen=True)
class Expect:
    """What a write expects of a stored record, checked in its transaction: the record of ``layer`` with the
    key ``key`` (its key columns' values, in order) has ``value`` in ``column`` (None: no such record)."""

    layer: str
    key: tuple
    column: str
    value: object


def check_expected(expect: Expect, found: list) -> None:
    """Raise :class:`Conflict` unless the stored value (``found``: the rows read, at most one) is the expected."""
    held = found[0][0] if found else None
    if (held is None) != (expect.value is None) or (held is not None and str(held) != str(expect.value)):
        raise Conflict(f"{expect.layer} {'/'.join(map(str, expect.key))} changed meanwhile: its {expect.column} "
                       f"is {held!r}, not {expect.value!r}; nothing was written",
                       zh=f"记录已被他人修改：{expect.layer} {'/'.join(map(str, expect.key))} 的 {expect.column} "
                          f"现为 {held!r}，未保存")


@dataclass(frozen=True)
class Condition:
    """One filter term, ``column op value``; terms are ANDed."""

    column: str
    # one of =, >=, <, in, within (value: (start, end) pairs; start <= column < end for one of them), bbox (on the
    # column "geometry", value (west, south, east, north): a feature whose bounds meet the box; a point: in it),
    # among (value (layer, terms): the column's value is that column's in a row of the layer under the terms; asked
    # of a store, which joins them: the visits of a period whose case is in a view, say)
    op: str
    value: Any


def matches(frame: pd.DataFrame, terms: list[Condition]) -> np.ndarray:
    """The rows of a frame already in memory that the terms keep, as a store would filter them.

    Categorical and datetime columns are compared as their integer codes: a term over a
    million rows then costs a millisecond, not a pandas comparison of objects.
    """
    keep = np.ones(len(frame), dtype=bool)
    for term in terms:
        if term.op not in OPERATORS:
            raise InvalidValue(f"unsupported filter operator {term.op!r}")
        if term.op == "among":
            raise InvalidValue("'among' is asked of a store, which joins its layers")
        if term.op == "bbox":
            x0, y0, x1, y1 = term.value
            bounds = frame.geometry.bounds
            keep &= ((bounds["maxx"] >= x0) & (bounds["minx"] <= x1) & (bounds["maxy"] >= y0)
                     & (bounds["miny"] <= y1)).fillna(False).to_numpy(dtype=bool)
            continue
        column = frame[term.column]
        if term.op == "within":
            keep &= _within(column, term.value)
            continue
        values = list(term.value) if term.op == "in" else [term.value]
        if isinstance(column.dtype, pd.CategoricalDtype) and term.op in ("=", "in"):
            keep &= _has_code(column, values)
            continue
        if pd.api.types.is_datetime64_any_dtype(column) and term.op in (">=", "<"):
            stamps = column.to_numpy("datetime64[ms]")
            bound = np.datetime64(pd.Timestamp(term.value).to_datetime64(), "ms")
            keep &= (stamps >= bound) if term.op == ">=" else (stamps < bound)  # NaT compares False
            continue
        if term.op == "=":
            keep &= (column == term.value).fillna(False).to_numpy(dtype=bool)
        elif term.op == "in":
            keep &= column.isin(values).to_numpy(dtype=bool)
        elif term.op == ">=":
            keep &= (column >= term.value).fillna(False).to_numpy(dtype=bool)
        else:
            keep &= (column < term.value).fillna(False).to_numpy(dtype=bool)
    return keep


def _within(column: pd.Series, spans) -> np.ndarray:
    hit = np.zeros(len(column), dtype=bool)
    for start, end in spans:
        hit |= ((column >= start) & (column < end)).fillna(False).to_numpy(dtype=bool)
    return hit


def _has_code(column: pd.Series, values: list) -> np.ndarray:
    """Which rows of a categorical hold one of the values, compared as integer codes."""
    wanted = column.cat.categories.get_indexer(values)
    wanted, codes = wanted[wanted >= 0], column.array.codes  # a view; `.cat.codes` copies them
    if len(wanted) <= 4:  # a few equalities are cheaper than any lookup (np.isin is ~100x slower)
        hit = np.zeros(len(codes), dtype=bool)
        for code in wanted:
            hit |= codes == code
        return hit
    # A lookup of each code's answer; its last slot, False, is where missing (-1) lands.
    answer = np.zeros(len(column.cat.categories) + 1, dtype=bool)
    answer[wanted] = True
    return answer.take(codes)


def period_filter(start: date | None = None, end: date | None = None, *,
                  column: str = "reported_at", street_code: str | None = None):
    """Filter terms for a period (``end`` inclusive, whole days) and optionally a street."""
    terms = []
    if start is not None:
        terms.append(Condition(column, ">=", pd.Timestamp(start).to_pydatetime()))
    if end is not None:
        next_day = pd.Timestamp(end).normalize() + pd.Timedelta(days=1)
        terms.append(Condition(column, "<", next_day.to_pydatetime()))
    if street_code is not None:
        terms.append(Condition("street_code", "=", street_code))
    return terms


class Store(abc.ABC):
    """What every backend offers.

    ``write_layer`` replaces a layer whole (geography delivered as a set);
    ``upsert`` inserts or replaces records by their natural key, so running
    the same ingest twice leaves the store as one run did.

    A store object is made once per process and shared by its threads (the
    dashboard's requests): opening one connects to nothing and runs no DDL.
    The first read or write checks the schema's version once
    (:meth:`check_schema`); a store that holds nothing yet reads as empty and
    is built (:meth:`migrate`) by its first write.
    """

    url: str
    _schema_checked = False

    def __init_subclass__(cls, **kwargs):
        # A backend that leaves out a method fails when it is defined (at import), not at its first call.
        super().__init_subclass__(**kwargs)
        missing = sorted(name for name in _BACKEND_METHODS if getattr(getattr(cls, name), "__isabstractmethod__", False))
        if missing:
            raise TypeError(f"store backend {cls.__name__} lacks {', '.join(missing)}")

    # The schema's version.
    def schema_version(self) -> int | None:
        """The last migration this store has had; 0 for a store made before versioning; None if it holds nothing."""
        return self._schema_version()

    def check_schema(self, *, writing: bool = False) -> bool:
        """Whether the store has its schema (else it holds nothing yet); raise if it is behind or ahead of this program's.

        Checked once per store object; a write into a store that holds nothing builds it first.
        """
        if self._schema_checked:
            return True
        version = self._schema_version_for(writing)
        if version is None:
            if not writing:
                return False
            self.migrate()
            return True
        if version != SCHEMA_VERSION:
            raise _behind(self.url, version)
        self._schema_checked = True
        return True

    def migrate(self) -> list[int]:
        """Apply the migrations this store lacks, in order; the versions applied (none when it was current)."""
        applied = []
        with self._migration_lock():
            version = self._schema_version() or 0
            if version > SCHEMA_VERSION:
                raise _behind(self.url, version)
            for migration in pending(version):
                for step in migration.steps:
                    self._apply(step)
                self._upsert_many({"schema_version": conform("schema_version", pd.DataFrame([{
                    "version": migration.version, "about": migration.about, "applied_at": pd.Timestamp.now()}]))})
                applied.append(migration.version)
        self._schema_checked = True
        return applied

    def write_layer(self, name: str, frame) -> int:
        """Replace a layer whole (geography is delivered as a set); returns the rows written."""
        _writable(name)
        self.check_schema(writing=True)
        frame = conform(name, frame)
        self._replace(name, frame)
        versions = _versions([name])
        if LAYERS[name].changes:  # a layer replaced whole is read whole again, whatever was held of it
            versions = pd.concat([versions, conform("settings", pd.DataFrame(
                [{"name": f"epoch:{name}", "value": uuid.uuid4().hex}]))], ignore_index=True)
        self._upsert_many({"settings": versions})
        return len(frame)

    def upsert(self, name: str, frame) -> int:
        """Insert or replace one layer's rows by their natural key; returns the rows given."""
        return self.upsert_many({name: frame})[name]

    def upsert_many(self, frames: dict, *, expect: tuple = ()) -> dict[str, int]:
        """Upsert several layers in one transaction: all of them land, or none.

        An ingest writes its cases, their source records and its quarantine
        this way, so an interrupted run leaves the store as before or as after.
        ``expect`` (:class:`Expect`): what the records the write was decided on must still hold, checked
        inside the transaction, with the record locked; otherwise :class:`Conflict` and nothing is written
        (two people taking different steps on one order at the same moment: one of them is told).
        """
        for e in expect:
            if e.layer not in LAYERS or e.column not in LAYERS[e.layer].columns or len(e.key) != len(
                    LAYERS[e.layer].key):
                raise InvalidValue(f"cannot expect {e.column!r} of {e.layer!r} by the key {e.key!r}")
        ready = {}
        for name, frame in frames.items():
            _writable(name)
            frame = conform(name, frame)
            key = list(LAYERS[name].key)
            if frame.duplicated(key).any():
                dup = frame.loc[frame.duplicated(key), key].head(3).to_dict("records")
                raise DuplicateKey(f"upsert into {name!r}: duplicate keys in one batch, e.g. {dup}")
            ready[name] = frame
        batch = {name: frame for name, frame in ready.items() if len(frame)}
        if batch:
            self.check_schema(writing=True)
            changed = [name for name in batch if name != "settings"]
            if changed:
                versions = _versions(changed)
                batch["settings"] = pd.concat([batch["settings"], versions]) if "settings" in batch else versions
            self._upsert_many(batch, tuple(expect))
        return {name: len(frame) for name, frame in ready.items()}

    def read(self, name: str, where: list[Condition] | None = None):
        """A layer's rows under the filter terms, with the layer's columns and types."""
        _check_read(name, where)
        if not self.check_schema():
            return empty_frame(name)
        return self._read(name, _storable(where))

    def read_changes(self, name: str, after: int, where: list[Condition] | None = None):
        """The rows of a layer with change numbers (``Layer.changes``) written after change ``after``.

        With the ``seq:changes`` of :meth:`data_versions` read before, a reader that applies these rows
        to what it holds is as up to date as that number (a row written since may come twice: apply
        by key). Rows written before the layer had change numbers come only with a whole read.
        """
        if not LAYERS.get(name, None) or not LAYERS[name].changes:
            raise InvalidValue(f"layer {name!r} does not keep change numbers")
        _check_read(name, where)
        if not self.check_schema():
            return empty_frame(name)
        return self._read(name, [Condition(CHANGE_SEQ, ">", int(after)), *_storable(where)])

    def read_batches(self, name: str, where: list[Condition] | None = None, size: int = 100_000):
        """The layer's rows as frames of at most ``size`` rows, read as they are asked for.

        What an export of a million cases reads: memory holds one batch, not the layer.
        """
        _check_read(name, where)

        def batches():
            nothing = True
            if self.check_schema():
                for frame in self._read_batches(name, _storable(where), size):
                    nothing = False
                    yield frame
            if nothing:  # no rows: one empty frame, so a writer still knows the columns
                yield empty_frame(name)
        return batches()

    def written_elsewhere(self) -> None:
        """Another process wrote for this one (a server's intake process): what this store reads next must
        include that write. Nothing to do for a store whose reads all go where the writes went."""

    def data_versions(self) -> dict[str, str]:
        """Layer → a stamp that changes with every write to it: what a cache checks before it trusts itself.

        Also ``seq:changes``, the last change number written, and ``epoch:LAYER`` for a layer with change
        numbers, which changes when the layer is replaced whole (:meth:`read_changes` then cannot say it).
        """
        if not self.check_schema():
            return {}
        rows = self._read("settings", [])
        return versions_from(zip(rows["name"], rows["value"]))

    def aggregate(self, name: str, where: list[Condition] | None = None, by: tuple[str, ...] = (),
                  measures: tuple[str, ...] = ("rows",)) -> pd.DataFrame:
        """The layer's rows under the filter terms, grouped by the columns ``by``, each group's ``measures``:
        ``rows`` (how many), ``sum:COLUMN``, ``count:COLUMN`` (its values that are not missing), ``true:COLUMN``
        (rows where a yes/no column says yes), ``min:COLUMN`` and ``max:COLUMN``, as columns ``rows``,
        ``sum_COLUMN``, ``count_COLUMN``, ``true_COLUMN``, ``min_COLUMN``, ``max_COLUMN``. ``day:COLUMN`` in ``by`` groups a time by its day (the
        column ``COLUMN`` holds each day's midnight). The store groups and sums: what a city's or a province's
        pages ask of millions of rows comes back as a few hundred.
        """
        _check_read(name, where)
        known = LAYERS[name].columns
        wrong = [c for c in by if (c.split(":", 1)[1] if c.startswith("day:") else c) not in known or (
            c.startswith("day:") and known[c[4:]] != "datetime")] + [m for m in measures if m != "rows" and (
            ":" not in m or m.split(":", 1)[0] not in ("sum", "count", "min", "max", "true")
            or m.split(":", 1)[1] not in known)]
        if wrong:
            raise InvalidValue(f"cannot group or measure {name!r} by {wrong[0]!r}")
        out = [m.replace(":", "_") for m in measures]
        columns = [c.split(":", 1)[1] if c.startswith("day:") else c for c in by]
        if not self.check_schema():
            return pd.DataFrame({**{c: pd.Series(dtype=object) for c in columns},
                                 **{m: pd.Series(dtype="int64") for m in out}})
        frame = pd.DataFrame(self._aggregate(name, _storable(where), tuple(by), tuple(measures)),
                             columns=[*columns, *out])
        for column in columns:
            if known[column] == "datetime":
                frame[column] = pd.to_datetime(frame[column], format="ISO8601")
        for m in out:
            kind = known.get(m.split("_", 1)[1]) if m != "rows" else "int"
            if m.startswith(("min_", "max_")):
                if kind == "datetime":
                    frame[m] = pd.to_datetime(frame[m], format="ISO8601")
                continue
            frame[m] = pd.to_numeric(frame[m]).fillna(0)
            if m == "rows" or m.startswith(("count_", "true_")) or kind in ("int", "bool"):
                frame[m] = frame[m].astype("int64")
        return frame

    def read_page(self, name: str, where: list[Condition] | None = None, *,
                  order: tuple[tuple[str, bool], ...] = (), limit: int = 100, offset: int = 0):
        """One page of the layer's rows under the filter terms: ``order`` is (column, descending) pairs, then
        the key, so the pages of one query never overlap; only the page is read, through the store's indexes."""
        _check_read(name, where)
        key = LAYERS[name].key
        known = LAYERS[name].columns
        wrong = [c for c, _ in order if c not in known]
        if wrong or len(key) != 1:
            raise InvalidValue(f"cannot page {name!r} by {wrong[:1] or key!r}")
        if not self.check_schema():
            return empty_frame(name)
        order = tuple((c, bool(d)) for c, d in order) + ((key[0], False),)
        keys = self._page_keys(name, _storable(where), order, max(0, int(limit)), max(0, int(offset)))
        if not keys:
            return empty_frame(name)
        rows = self._read(name, [Condition(key[0], "in", list(keys))])
        place = {k: i for i, k in enumerate(keys)}
        return rows.iloc[np.argsort(rows[key[0]].map(place).to_numpy())].reset_index(drop=True)

    def estimated_count(self, name: str) -> int:
        """About how many rows a layer holds, answered at once (a store may keep statistics rather than count)."""
        return self.count(name)

    def count(self, name: str) -> int:
        """How many rows a layer holds."""
        if name not in LAYERS:
            raise InvalidValue(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
        if not self.check_schema():
            return 0
        return self._count(name)

    @abc.abstractmethod
    def reset(self):
        """Remove every layer and table: the store is as new (it holds nothing; the next write builds it)."""

    def close(self):
        """Let go of connections; the store may be used again after (it connects anew)."""

    @property
    def separate_reads(self) -> bool:
        """Whether reads are served elsewhere than writes (a read replica): reads may go on while writes cannot."""
        return False

    def accepts_writes(self, timeout: float = 2.0) -> bool:
        """Whether a write would be taken now, found out within about ``timeout`` seconds.

        Asked only of a store with :attr:`separate_reads`: for the others a write fails exactly when a
        read does, and the store counts as unreachable.
        """
        return True

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Backends implement these.
    @abc.abstractmethod
    def _schema_version(self) -> int | None:
        """The highest version in ``schema_version``; 0 if the store has layers but no such record; None if empty."""

    def _schema_version_for(self, writing: bool) -> int | None:
        """The version :meth:`check_schema` compares; a backend that reads from a replica asks its primary
        before a write."""
        return self._schema_version()

    @abc.abstractmethod
    def _migration_lock(self):
        """A context in which one process at a time migrates."""

    @abc.abstractmethod
    def _apply(self, step) -> None:
        """Apply one migration step (``layers.store.migrations``); safe to apply again."""

    @abc.abstractmethod
    def _replace(self, name, frame):
        """Replace the layer's rows with the frame's."""

    @abc.abstractmethod
    def _upsert_many(self, frames, expect=()):
        """Insert or replace each frame's rows by natural key, all layers in one transaction, once each of
        ``expect`` holds (checked in it, :func:`check_expected`)."""

    @abc.abstractmethod
    def _aggregate(self, name, where, by, measures) -> list[tuple]:
        """Rows of (each ``by`` value, each measure) for the groups under ``where`` (see :meth:`aggregate`;
        ``day:COLUMN``: the column's day, as a time at its midnight or ISO 8601 text)."""

    @abc.abstractmethod
    def _page_keys(self, name, where, order, limit, offset) -> list:
        """The keys of the rows under ``where`` in ``order`` ((column, descending) pairs), ``limit`` of them after
        ``offset``; missing values last."""

    @abc.abstractmethod
    def _count(self, name):
        """How many rows the layer holds."""

    @abc.abstractmethod
    def _read(self, name, where):
        """The layer's rows under the terms, conformed."""

    def _read_batches(self, name, where, size):
        yield self._read(name, where)


_BACKEND_METHODS = ("reset", "_schema_version", "_migration_lock", "_apply", "_replace", "_upsert_many",
                    "_count", "_read", "_aggregate", "_page_keys")


def _behind(url: str, version: int) -> StoreBehindSchema:
    if version > SCHEMA_VERSION:
        return StoreBehindSchema(
            f"store {url} is at schema version {version}, newer than this onemap's {SCHEMA_VERSION}: "
            "update onemap", zh=f"数据库 {url} 的结构版本 {version} 高于本程序的 {SCHEMA_VERSION}：请升级 onemap")
    return StoreBehindSchema(
        f"store {url} is at schema version {version}; this onemap needs {SCHEMA_VERSION}: "
        f"back it up, then run: onemap migrate --store {url}",
        zh=f"数据库 {url} 的结构版本为 {version}，本程序需要 {SCHEMA_VERSION}：请备份后运行 onemap migrate --store {url}")


def _writable(name):
    """Refuse a write into a rollup: the store keeps it from its source's rows, and a row written into it would
    be counted on by the next write of the source as if it were right."""
    layer = LAYERS.get(name)
    if layer is not None and layer.counts is not None:
        raise InvalidValue(f"layer {name!r} is kept by the store from {layer.counts.source!r}: write that instead",
                           zh=f"{name} 由数据库根据 {layer.counts.source} 自动统计，不能直接写入")


def _check_read(name, where):
    if name not in LAYERS:
        raise InvalidValue(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
    for term in where or []:
        if term.op == "bbox" or term.column == "geometry":
            if not (term.op == "bbox" and term.column == "geometry" and LAYERS[name].geometry
                    and len(term.value) == 4):
                raise InvalidValue(f"'bbox' takes a layer's geometry and (west, south, east, north), not "
                                   f"{term.column!r} {term.value!r}")
            continue
        if term.column not in LAYERS[name].columns:
            raise InvalidValue(f"layer {name!r} has no column {term.column!r} to filter on")
        if term.op not in OPERATORS:
            raise InvalidValue(f"unsupported filter operator {term.op!r}")
        if term.op == "within" and not all(isinstance(span, (tuple, list)) and len(span) == 2 for span in term.value):
            raise InvalidValue(f"'within' takes (start, end) pairs, not {term.value!r}")
        if term.op == "among":
            other, inner = term.value
            if other not in LAYERS or term.column not in LAYERS[other].columns:
                raise InvalidValue(f"'among' takes a layer with the column {term.column!r}, not {other!r}")
            _check_read(other, inner)


def _storable(where) -> list[Condition]:
    """The terms as a store can run them: text holding a NUL character matches nothing stored.

    Neither store can hold NUL in text, and it would cut GDAL's where clause short (a C string) or
    make PostgreSQL refuse the query; such a value is dropped from its term instead.
    """
    def holds_nul(value):
        return isinstance(value, str) and "\x00" in value

    terms = []
    for term in where or []:
        if term.op == "among":
            terms.append(Condition(term.column, "among", (term.value[0], _storable(term.value[1]))))
            continue
        if term.op == "in":
            term = Condition(term.column, "in", [v for v in term.value if not holds_nul(v)])
        elif holds_nul(term.value):
            if term.op != "=":
                raise InvalidValue(f"a NUL character in the bound {term.column} {term.op} …")
            term = Condition(term.column, "in", [])
        terms.append(term)
    return terms


def versions_from(rows) -> dict[str, str]:
    """The settings rows (name, value) :meth:`Store.data_versions` answers with."""
    out = {}
    for name, value in rows:
        if name.startswith("version:"):
            out[name[len("version:"):]] = value
        elif name.startswith(("seq:", "epoch:")):
            out[name] = value
    return out


def _versions(names) -> pd.DataFrame:
    stamp = uuid.uuid4().hex
    return conform("settings", pd.DataFrame({"name": [f"version:{n}" for n in names], "value": stamp}))


def empty_frame(name: str):
    """An empty frame with the layer's columns and types."""
    return _empty(name).copy()


@functools.cache
def _empty(name: str):
    # Made once per layer: conforming even no rows costs ~17 ms, and a server asks for none after every write.
    import geopandas as gpd

    layer = LAYERS[name]
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in layer.columns})
    if layer.geometry:
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs=STORAGE_CRS))
    return conform(name, frame)

