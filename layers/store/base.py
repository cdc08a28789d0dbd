"""The store interface: one method set, two backends (GeoPackage, PostGIS).

Backends move frames in and out; everything they share (schema checks,
upsert semantics, filters) lives here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import pandas as pd

from layers.schema import LAYERS, conform


class StoreError(RuntimeError):
    """The store could not be reached or could not do what was asked."""


@dataclass(frozen=True)
class Condition:
    """One filter term, ``column op value``; terms are ANDed."""

    column: str
    op: str  # one of =, >=, <, in
    value: Any


def matches(frame: pd.DataFrame, terms: list[Condition]) -> np.ndarray:
    """The rows of a frame already in memory that the terms keep, as a store would filter them.

    Categorical and datetime columns are compared as their integer codes: a term over a
    million rows then costs a millisecond, not a pandas comparison of objects.
    """
    keep = np.ones(len(frame), dtype=bool)
    for term in terms:
        if term.op not in ("=", ">=", "<", "in"):
            raise StoreError(f"unsupported filter operator {term.op!r}")
        column = frame[term.column]
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


def _has_code(column: pd.Series, values: list) -> np.ndarray:
    """Which rows of a categorical hold one of the values, compared as integer codes."""
    wanted = column.cat.categories.get_indexer(values)
    wanted, codes = wanted[wanted >= 0], column.cat.codes.to_numpy()
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


class Store:
    """What every backend offers.

    ``write_layer`` replaces a layer whole (geography delivered as a set);
    ``upsert`` inserts or replaces records by their natural key, so running
    the same ingest twice leaves the store as one run did.
    """

    url: str

    def write_layer(self, name: str, frame) -> int:
        frame = conform(name, frame)
        self._replace(name, frame)
        self._upsert_many({"settings": _versions([name])})
        return len(frame)

    def upsert(self, name: str, frame) -> int:
        return self.upsert_many({name: frame})[name]

    def upsert_many(self, frames: dict) -> dict[str, int]:
        """Upsert several layers in one transaction: all of them land, or none.

        An ingest writes its cases, their source records and its quarantine
        this way, so an interrupted run leaves the store as before or as after.
        """
        ready = {}
        for name, frame in frames.items():
            frame = conform(name, frame)
            key = list(LAYERS[name].key)
            if frame.duplicated(key).any():
                dup = frame.loc[frame.duplicated(key), key].head(3).to_dict("records")
                raise StoreError(f"upsert into {name!r}: duplicate keys in one batch, e.g. {dup}")
            ready[name] = frame
        batch = {name: frame for name, frame in ready.items() if len(frame)}
        if batch:
            changed = [name for name in batch if name != "settings"]
            if changed:
                versions = _versions(changed)
                batch["settings"] = pd.concat([batch["settings"], versions]) if "settings" in batch else versions
            self._upsert_many(batch)
        return {name: len(frame) for name, frame in ready.items()}

    def read(self, name: str, where: list[Condition] | None = None):
        _check_read(name, where)
        return self._read(name, _storable(where))

    def read_batches(self, name: str, where: list[Condition] | None = None, size: int = 100_000):
        """The layer's rows as frames of at most ``size`` rows, read as they are asked for.

        What an export of a million cases reads: memory holds one batch, not the layer.
        """
        _check_read(name, where)

        def batches():
            nothing = True
            for frame in self._read_batches(name, _storable(where), size):
                nothing = False
                yield frame
            if nothing:  # no rows: one empty frame, so a writer still knows the columns
                yield empty_frame(name)
        return batches()

    def data_versions(self) -> dict[str, str]:
        """Layer → a stamp that changes with every write to it: what a cache checks before it trusts itself."""
        rows = self._read("settings", [])
        return {n[len("version:"):]: v for n, v in zip(rows["name"], rows["value"]) if n.startswith("version:")}

    def count(self, name: str) -> int:
        if name not in LAYERS:
            raise StoreError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
        return self._count(name)

    def reset(self):
        """Remove every layer and table: the store is as new."""
        raise NotImplementedError

    # Backends implement these.
    def _replace(self, name, frame):
        raise NotImplementedError

    def _upsert_many(self, frames):
        raise NotImplementedError

    def _count(self, name):
        return len(self._read(name, []))

    def _read(self, name, where):
        raise NotImplementedError

    def _read_batches(self, name, where, size):
        yield self._read(name, where)

    def close(self):
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _check_read(name, where):
    if name not in LAYERS:
        raise StoreError(f"unknown layer {name!r}; known layers: {', '.join(LAYERS)}")
    for term in where or []:
        if term.column not in LAYERS[name].columns:
            raise StoreError(f"layer {name!r} has no column {term.column!r} to filter on")
        if term.op not in ("=", ">=", "<", "in"):
            raise StoreError(f"unsupported filter operator {term.op!r}")


def _storable(where) -> list[Condition]:
    """The terms as a store can run them: text holding a NUL character matches nothing stored.

    Neither store can hold NUL in text, and it would cut GDAL's where clause short (a C string) or
    make PostgreSQL refuse the query; such a value is dropped from its term instead.
    """
    def holds_nul(value):
        return isinstance(value, str) and "\x00" in value

    terms = []
    for term in where or []:
        if term.op == "in":
            term = Condition(term.column, "in", [v for v in term.value if not holds_nul(v)])
        elif holds_nul(term.value):
            if term.op != "=":
                raise StoreError(f"a NUL character in the bound {term.column} {term.op} …")
            term = Condition(term.column, "in", [])
        terms.append(term)
    return terms


def _versions(names) -> pd.DataFrame:
    stamp = uuid.uuid4().hex
    return conform("settings", pd.DataFrame({"name": [f"version:{n}" for n in names], "value": stamp}))


def empty_frame(name: str):
    """An empty frame with the layer's columns and types."""
    import geopandas as gpd

    layer = LAYERS[name]
    frame = pd.DataFrame({c: pd.Series(dtype=object) for c in layer.columns})
    if layer.geometry:
        frame = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries([], crs="EPSG:4490"))
    return conform(name, frame)

