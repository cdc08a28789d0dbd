"""The embedded store: one GeoPackage file, no server needed.

A GeoPackage is an SQLite database, so upserts go straight to SQLite: one
transaction for a whole ingest batch, ``INSERT ... ON CONFLICT`` on the
layer's natural key, the GeoPackage's own R-tree kept by its triggers.
Layers are created and whole layers replaced through pyogrio (GDAL), so the
file stays a plain GeoPackage that QGIS or ``ogrinfo`` opens.
"""

from __future__ import annotations

import sqlite3
import struct
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

from layers.schema import LAYERS, conform
from layers.store.base import Store, StoreError, empty_frame

_SRS_ID = 4490
_GEOMETRY = "geom"
# GeoPackage geometry header: magic "GP", version 0, flags (little-endian, no envelope), srs id.
_HEADER = b"GP\x00\x01" + struct.pack("<i", _SRS_ID)
_HEADER_EMPTY = b"GP\x00\x11" + struct.pack("<i", _SRS_ID)
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "datetime": "DATETIME"}


class GeoPackageStore(Store):
    def __init__(self, path):
        self.path = Path(path)
        self.url = str(self.path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"store {self.path} is a directory, expected a .gpkg file")
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def reset(self):
        self.path.unlink(missing_ok=True)

    def _recover(self):
        """Roll back what a killed writer left half done, before GDAL opens the file read-only.

        SQLite undoes an interrupted transaction from its journal on the next
        read-write open; a read-only open cannot, and fails.
        """
        if self.path.with_name(self.path.name + "-journal").exists():
            conn = self._connect()
            try:
                conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot recover from an interrupted write: {exc}") from exc
            finally:
                conn.close()

    def _layers(self):
        if not self.path.exists():
            return set()
        self._recover()
        try:
            return {str(row[0]) for row in pyogrio.list_layers(self.path)}
        except pyogrio.errors.DataSourceError as exc:
            raise StoreError(f"{self.path} is not a readable GeoPackage: {exc}") from exc

    def _replace(self, name, frame):
        layer = LAYERS[name]
        # Point layers may hold only empty geometries (unlocated cases), so say the type.
        kwargs = {"geometry_type": "Point"} if layer.geometry == "Point" else {}
        pyogrio.write_dataframe(frame, self.path, layer=name, driver="GPKG", **kwargs)

    def _upsert_many(self, frames):
        present = self._layers()
        for name in frames:
            if name not in present:
                # An empty layer made by GDAL: its tables, triggers and metadata are what any reader expects.
                self._replace(name, empty_frame(name))
        conn = self._connect()
        try:
            with conn:  # one transaction: every layer of the batch, or none
                for name, frame in frames.items():
                    self._migrate(conn, name)
                    self._upsert_one(conn, name, frame)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        finally:
            conn.close()

    def _connect(self):
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level="DEFERRED")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {self.path}: {exc}") from exc
        # The R-tree triggers GDAL puts on a layer call these GeoPackage SQL functions.
        conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
        for fn, index in (("ST_MinX", 0), ("ST_MinY", 1), ("ST_MaxX", 2), ("ST_MaxY", 3)):
            conn.create_function(fn, 1, lambda blob, i=index: _bound(blob, i), deterministic=True)
        return conn

    def _migrate(self, conn, name):
        """Add columns the schema has gained since the file was made, and the natural-key index."""
        layer = LAYERS[name]
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})")}
        for column, kind in layer.columns.items():
            if column not in have:
                conn.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(column)} {_SQL_TYPES[kind]}")
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote(name + '_natural_key')} ON {_quote(name)} "
                     f"({', '.join(map(_quote, layer.key))})")

    def _upsert_one(self, conn, name, frame):
        layer = LAYERS[name]
        columns = list(layer.columns)
        values = [_sqlite_values(frame[c], kind) for c, kind in layer.columns.items()]
        if layer.geometry:
            columns.append(_GEOMETRY)
            values.append(_gpkg_blobs(frame.geometry.values))
        updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns if c not in layer.key)
        statement = (f"INSERT INTO {_quote(name)} ({', '.join(map(_quote, columns))}) "
                     f"VALUES ({', '.join('?' * len(columns))}) "
                     f"ON CONFLICT ({', '.join(map(_quote, layer.key))}) DO UPDATE SET {updates}")
        conn.executemany(statement, zip(*values))
        if layer.geometry:
            extent = conn.execute(f"SELECT min(minx), min(miny), max(maxx), max(maxy) "
                                  f"FROM {_quote('rtree_' + name + '_' + _GEOMETRY)}").fetchone()
            if extent[0] is not None:
                conn.execute("UPDATE gpkg_contents SET min_x = ?, min_y = ?, max_x = ?, max_y = ?, "
                             "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?",
                             (*extent, name))

    def _count(self, name):
        if name not in self._layers():
            return 0
        conn = self._connect()
        try:
            return int(conn.execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])
        finally:
            conn.close()

    def _read(self, name, where):
        if name not in self._layers():
            return empty_frame(name)
        clause = " AND ".join(_sql_term(t) for t in where) or None
        try:
            frame = pyogrio.read_dataframe(self.path, layer=name, where=clause,
                                           fid_as_index=False)
        except pyogrio.errors.DataSourceError as exc:
            raise StoreError(f"cannot read layer {name!r} from {self.path}: {exc}") from exc
        if "geometry" in frame.columns and LAYERS[name].geometry is None:
            frame = pd.DataFrame(frame.drop(columns="geometry"))
        return conform(name, frame)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sqlite_values(values: pd.Series, kind: str) -> list:
    """A column as the Python values SQLite stores, None for missing; datetimes as GDAL writes them."""
    missing = values.isna().to_numpy()
    if kind == "datetime":
        text = values.dt.strftime("%Y-%m-%dT%H:%M:%S").to_numpy(dtype=object)
        ms = (values.dt.microsecond // 1000).to_numpy()
        with_ms = ~missing & (np.nan_to_num(ms) > 0)
        if with_ms.any():
            text[with_ms] = [f"{t}.{int(m):03d}" for t, m in zip(text[with_ms], ms[with_ms])]
        out = text
    elif kind == "bool":
        out = np.where(missing, None, values.fillna(False).astype(bool).astype(int)).astype(object)
    elif kind == "int":
        out = np.where(missing, None, values.fillna(0).astype("int64").astype(object))
    elif kind == "float":
        out = values.astype(float).to_numpy(dtype=object)
    else:
        out = values.to_numpy(dtype=object)
    out = np.array(out, dtype=object)
    out[missing] = None
    return out.tolist()


def _gpkg_blobs(geoms) -> list:
    """GeoPackage geometry blobs: the standard header, then little-endian ISO WKB."""
    geoms = np.asarray(geoms, dtype=object)
    present = ~shapely.is_missing(geoms)
    wkb = np.full(len(geoms), None, dtype=object)
    if present.any():
        wkb[present] = shapely.to_wkb(geoms[present], byte_order=1, flavor="iso")
    empty = np.zeros(len(geoms), dtype=bool)
    empty[present] = shapely.is_empty(geoms[present])
    return [None if w is None else (_HEADER_EMPTY if e else _HEADER) + w for w, e in zip(wkb, empty)]


def _header_size(blob) -> int:
    return 8 + _ENVELOPE_BYTES.get((blob[3] >> 1) & 0x07, 0)


def _is_empty(blob):
    if blob is None:
        return None
    return 1 if blob[3] & 0x10 else 0


def _bound(blob, index):
    """minx, miny, maxx or maxy of a GeoPackage blob; a point is read directly, anything else by shapely."""
    if blob is None or blob[3] & 0x10:
        return None
    body = memoryview(blob)[_header_size(blob):]
    if len(body) == 21 and body[0] == 1 and body[1:5] == b"\x01\x00\x00\x00":
        x, y = struct.unpack_from("<dd", body, 5)
        return (x, y, x, y)[index]
    return shapely.from_wkb(bytes(body)).bounds[index]


def _literal(value):
    if isinstance(value, (int, float)):
        return repr(value)
    if hasattr(value, "isoformat"):
        # GeoPackage stores datetimes as ISO 8601 text, so text order is time order
        # as long as the literal is written as GDAL writes the values: seconds, then milliseconds if any.
        if hasattr(value, "hour"):
            value = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
        else:
            value = value.isoformat()
    return "'" + str(value).replace("'", "''") + "'"


def _sql_term(term):
    column = '"' + term.column.replace('"', '""') + '"'
    if term.op == "in":
        values = ", ".join(_literal(v) for v in term.value) or "NULL"
        return f"{column} IN ({values})"
    return f"{column} {term.op} {_literal(term.value)}"
