"""The embedded store: one GeoPackage file, no server needed.

A GeoPackage is an SQLite database, so upserts go straight to SQLite: one
transaction for a whole ingest batch, ``INSERT ... ON CONFLICT`` on the
layer's natural key, the GeoPackage's own R-tree kept by its triggers.
Layers are created and whole layers replaced through pyogrio (GDAL), so the
file stays a plain GeoPackage that QGIS or ``ogrinfo`` opens.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import struct
import threading
import time
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.datums import STORAGE_CRS
from layers.errors import StoreDamaged, StoreError, StoreLocked, StoreUnreachable
from layers.schema import CHANGE_SEQ, FEW_ROWS, LAYERS, MISSING, conform, from_rows
from layers.settings import Settings
from layers.store.base import Store, check_expected, empty_frame, versions_from
from layers.store.migrations import (
    ROLLED_UP_SINCE,
    TRACKED_SINCE,
    AddColumn,
    AddIndex,
    CreateLayer,
    FillDistrict,
    Partition,
    Rollup,
    TrackChanges,
)
from layers.store.rtree import bulk_load

_SRS_ID = int(STORAGE_CRS.split(":")[1])
_GEOMETRY = "geom"
# GeoPackage geometry header: magic "GP", version 0, flags (little-endian, no envelope), srs id.
_HEADER = b"GP\x00\x01" + struct.pack("<i", _SRS_ID)
_HEADER_EMPTY = b"GP\x00\x11" + struct.pack("<i", _SRS_ID)
_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
# Up to this many rows, a read of a layer with geometry goes through SQLite, not GDAL: GDAL's open costs 20-30 ms
# whatever it reads; SQLite 12 ms for one case, 16 for 100, 38 for 1000 (GDAL 24, 25, 35): past 500, GDAL.
SQLITE_ROWS_MAX = 500
_BLOB = "onemap_geometry_blob"  # what the geometry column is read as through SQLite
_SQL_TYPES = {"str": "TEXT", "int": "INTEGER", "float": "REAL", "bool": "BOOLEAN", "datetime": "DATETIME"}
# Names of the triggers that keep a rollup (Layer.counts): kept on the source while a batch is written,
# unlike GDAL's own triggers, which are set aside for it.
_ROLLUP_TRIGGER = "rollup_"


class GeoPackageStore(Store):
    """The embedded store: one GeoPackage file, read through GDAL and written through SQLite."""

    def __init__(self, path):
        self.path = Path(path)
        self.url = str(self.path)
        if self.path.exists() and self.path.is_dir():
            raise StoreError(f"store {self.path} is a directory, expected a .gpkg file",
                             zh=f"数据库 {self.path} 是一个文件夹，应为 .gpkg 文件")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One SQLite connection per thread (and process), made at its first use; reset() ends them all.
        self._local = threading.local()
        self._generation = 0

    def reset(self):
        """Delete the file: the store holds nothing; the next write builds it.

        With its journal: a killed writer's journal left beside a new file of the same name would be
        played into it at the next open, and damage it.
        """
        self.close()
        self._generation += 1
        self._schema_checked = False
        for suffix in ("", "-journal", "-wal", "-shm"):
            self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)

    def close(self):
        """Close this thread's connection (the next use opens another)."""
        conn = self._thread_conn(make=False)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _recover(self):
        """Roll back what a killed writer left half done, before GDAL opens the file read-only.

        SQLite undoes an interrupted transaction from its journal on the next
        read-write open; a read-only open cannot, and fails.
        """
        if self.path.with_name(self.path.name + "-journal").exists():
            try:
                self._connect().execute("SELECT count(*) FROM sqlite_master").fetchone()
            except sqlite3.Error as exc:
                raise StoreDamaged(f"{self.path}: cannot recover from an interrupted write: {exc}") from exc

    def _layers(self):
        if not self.path.exists():
            return set()
        self._recover()
        try:
            return {str(row[0]) for row in _patiently(pyogrio.list_layers, self.path)}
        except pyogrio.errors.DataSourceError as exc:
            raise StoreDamaged(f"{self.path} is not a readable GeoPackage: {exc}") from exc

    def check_schema(self, *, writing=False):
        """As :meth:`Store.check_schema`, after rolling back what a killed writer left half done."""
        self._recover()  # every time: a writer killed since would leave GDAL unable to read
        return super().check_schema(writing=writing)

    def _schema_version(self):
        if not self.path.exists() or self.path.stat().st_size == 0:
            return None
        self._intact()
        conn = self._connect()
        try:
            return int(conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0])
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise _failed(self.path, exc, "cannot read") from exc
        ours = conn.execute("SELECT count(*) FROM gpkg_contents WHERE table_name IN (%s)"
                            % ", ".join("?" * len(LAYERS)), tuple(LAYERS)).fetchone()[0]
        return 0 if ours else None

    @contextlib.contextmanager
    def _migration_lock(self):
        with self._layer_lock():
            yield

    def _apply(self, step):
        if isinstance(step, CreateLayer):
            name, layer = step.layer, LAYERS[step.layer]
            present = self._layers()
            if name not in present:
                # An empty layer made by GDAL: its tables, triggers and metadata are what any reader expects.
                self._replace(name, empty_frame(name))
            elif layer.geometry and not self._spatial(name):
                # A table from before the schema gave it a geometry: rewritten once as a layer.
                self._replace(name, self._read(name, []))  # read as the layer's rows, with no geometry yet
            conn = self._connect()
            for column in layer.columns:
                self._add_column(conn, name, column)
            self._natural_key(conn, name)  # a layer from before versioning may lack it
        elif isinstance(step, AddColumn):
            self._add_column(self._connect(), step.layer, step.column)
        elif isinstance(step, AddIndex):
            self._index(self._connect(), step.layer, step.columns)
        elif isinstance(step, TrackChanges):
            self._track(self._connect(), step.layer)
        elif isinstance(step, Partition):
            pass  # one file on one disk: nothing to partition
        elif isinstance(step, FillDistrict):
            conn = self._connect()
            if "district" in self._layers() and step.layer in self._layers():
                with conn:
                    conn.execute(f"UPDATE {_quote(step.layer)} SET district_code = (SELECT district_code FROM "
                                 f"district) WHERE district_code IS NULL AND (SELECT count(*) FROM district) = 1")
        elif isinstance(step, Rollup):
            self._rollup(step.layer)
        else:
            raise TypeError(f"unknown migration step {step!r}")

    def _track(self, conn, name):
        """The layer's change numbers: a column GDAL and the schema know nothing of, and its index."""
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})")}
        if CHANGE_SEQ not in have:
            conn.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {CHANGE_SEQ} INTEGER")
        self._index(conn, name, (CHANGE_SEQ,))

    def _rollup(self, name):
        """The rollup's triggers on its source, and its rows counted again from the source's, in one transaction.

        SQLite has no statement-level triggers: each row written moves its count, within the writer's
        transaction. The store writes a batch by ``INSERT ... ON CONFLICT DO UPDATE``, which fires the insert
        trigger for a new row and the update trigger for one already there (no delete, as INSERT OR REPLACE
        would with recursive triggers only); the update trigger does nothing unless the row's key moved.
        """
        layer = LAYERS[name]
        source = layer.counts.source

        days = dict(layer.counts.days)

        def key_of(row):  # the rollup's key of a row of the source (NEW or OLD), column by column
            time = f"{row}.{_quote(layer.counts.day_of)}"
            return [f"substr({row}.{_quote(days[c])}, 1, 10) || 'T00:00:00'" if c in days
                    else f"substr({time}, 1, 10) || 'T00:00:00'" if c == "day"
                    else f"substr({time}, 1, 7) || '-01T00:00:00'" if c == "month"
                    else f"coalesce({row}.{_quote(c)}, '{MISSING}')" for c in layer.key]
        def flags_of(row):  # each flag of a row as 1 or 0
            return [f"(CASE WHEN {row}.{_quote(flag)} THEN 1 ELSE 0 END)" for flag in layer.counts.flags]
        key = ", ".join(map(_quote, layer.key))
        measures = ["n", *(f"n_{flag}" for flag in layer.counts.flags)]
        # A row without a time a key column is the day of is not counted: its old key matches no row (NULL).
        counted_where = " AND ".join(f"{{}}.{_quote(c)} IS NOT NULL" for c in layer.counts.counted_where()) or "1"
        add = (f"INSERT INTO {_quote(name)} ({key}, {', '.join(map(_quote, measures))}) "
               f"SELECT {', '.join(key_of('NEW'))}, 1{''.join(', ' + f for f in flags_of('NEW'))} "
               f"WHERE {counted_where.format('NEW')} "  # a WHERE also tells SQLite's parser ON CONFLICT is the upsert's
               f"ON CONFLICT ({key}) DO UPDATE SET "
               + ", ".join(f"{_quote(m)} = {_quote(m)} + excluded.{_quote(m)}" for m in measures) + ";")
        old = " AND ".join(f"{_quote(c)} = {v}" for c, v in zip(layer.key, key_of("OLD")))
        less = ", ".join(["n = n - 1"] + [f"{_quote('n_' + flag)} = {_quote('n_' + flag)} - {f}"
                                          for flag, f in zip(layer.counts.flags, flags_of("OLD"))])
        take = f"UPDATE {_quote(name)} SET {less} WHERE {old}; DELETE FROM {_quote(name)} WHERE {old} AND n = 0;"
        moved = (f"({', '.join(key_of('OLD') + flags_of('OLD'))}) IS NOT "
                 f"({', '.join(key_of('NEW') + flags_of('NEW'))})")
        triggers = {"insert": ("", add), "delete": ("", take), "update": (f"WHEN {moved}", take + " " + add)}
        with _gate(self.path).writing():
            conn = self._connect()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for event, (when, body) in triggers.items():
                    trigger = _quote(f"{_ROLLUP_TRIGGER}{name}_{event}")
                    conn.execute(f"DROP TRIGGER IF EXISTS {trigger}")
                    conn.execute(f"CREATE TRIGGER {trigger} AFTER {event.upper()} ON {_quote(source)} {when} "
                                 f"BEGIN {body} END")
                conn.execute(f"DELETE FROM {_quote(name)}")
                # Grouped by position: by name, SQLite would take "day" (no column of the source) for a string.
                by_key = ", ".join(str(i) for i in range(1, len(layer.key) + 1))
                conn.execute(f"INSERT INTO {_quote(name)} ({key}, {', '.join(map(_quote, measures))}) "
                             f"SELECT {', '.join(key_of(_quote(source)))}, count(*)"
                             f"{''.join(', sum(' + f + ')' for f in flags_of(_quote(source)))} "
                             f"FROM {_quote(source)} WHERE {counted_where.format(_quote(source))} "
                             f"GROUP BY {by_key}")
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def _natural_key(self, conn, name):
        """The unique index on the layer's natural key, which ``INSERT ... ON CONFLICT`` goes by, and the
        layer's lookup indexes."""
        conn.execute(f"CREATE UNIQUE INDEX IF NOT EXISTS {_quote(name + '_natural_key')} ON {_quote(name)} "
                     f"({', '.join(map(_quote, LAYERS[name].key))})")
        for columns in LAYERS[name].indexes:
            self._index(conn, name, columns)

    def _index(self, conn, name, columns):
        conn.execute(f"CREATE INDEX IF NOT EXISTS {_quote('_'.join((name, *columns)))} ON {_quote(name)} "
                     f"({', '.join(map(_quote, columns))})")

    def _add_column(self, conn, name, column):
        have = {row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})")}
        if column not in have:
            kind = LAYERS[name].columns[column]
            conn.execute(f"ALTER TABLE {_quote(name)} ADD COLUMN {_quote(column)} {_SQL_TYPES[kind]}")

    def _intact(self):
        """Refuse to write into a file that is there but is not a sound GeoPackage.

        GDAL, asked to write a layer into a file it cannot open, makes a new file in its place: a
        damaged store would be replaced by an empty one. The header and schema are read first instead.
        """
        if not self.path.exists() or self.path.stat().st_size == 0:
            return
        with open(self.path, "rb") as f:
            header = f.read(72)
        problem = None
        if not header.startswith(b"SQLite format 3\x00"):
            problem = "not an SQLite database"
        elif header[68:72] not in (b"GPKG", b"GP10", b"GP11"):
            problem = f"not a GeoPackage (application id {header[68:72]!r})"
        else:
            try:
                conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=_lock_timeout())
                try:
                    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
                    conn.execute("SELECT count(*) FROM gpkg_contents").fetchone()
                finally:
                    conn.close()
            except sqlite3.OperationalError as exc:
                if "locked" in str(exc):
                    raise _locked(self.path, exc) from exc
                problem = f"damaged ({exc})"
            except sqlite3.Error as exc:
                problem = f"damaged ({exc})"
        if problem:
            raise StoreDamaged(f"{self.path} is {problem}: refusing to write over it; move it away or restore it",
                               zh=f"{self.path} 不是完好的 GeoPackage 数据库，未写入任何内容：请移走或恢复该文件")

    def _replace(self, name, frame):
        with _gate(self.path).writing():
            self._replace_layer(name, frame)

    def _replace_layer(self, name, frame):
        self._intact()
        layer = LAYERS[name]
        # Point layers may hold only empty geometries (unlocated cases), so say the type.
        kwargs = {"geometry_type": "Point"} if layer.geometry == "Point" else {}
        try:
            pyogrio.write_dataframe(frame, self.path, layer=name, driver="GPKG", **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, pyogrio.errors.FeatureError) as exc:
            raise _failed(self.path, exc, f"cannot write layer {name!r} to") from exc
        conn = self._connect()
        self._natural_key(conn, name)  # GDAL wrote the layer anew, without the key upserts go by
        if LAYERS[name].changes and (self._schema_version() or 0) >= TRACKED_SINCE:
            self._track(conn, name)  # nor its change numbers
        for rollup, since in ROLLED_UP_SINCE.items():
            # Nor the triggers of the rollups counting it: made again, and the rollup counted again (after
            # GDAL's own transaction, as the key and index above: a write killed in between leaves the
            # rollup behind until the layer is written again or the migration is run again).
            if LAYERS[rollup].counts.source == name and (self._schema_version() or 0) >= since:
                self._rollup(rollup)

    def _upsert_many(self, frames, expect=()):
        with _gate(self.path).writing():
            self._upsert_batch(frames, expect)

    def _upsert_batch(self, frames, expect=()):
        self._intact()
        conn = self._connect()
        try:
            # One transaction, taken for writing at once: every layer of the batch, or none. Python's
            # sqlite3 would begin it only at the first INSERT, leaving the trigger list read and the
            # triggers dropped before it outside; two writers at once then dropped each other's.
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Writers are one at a time here (BEGIN IMMEDIATE), so change numbers commit in their order.
                for e in expect:  # this transaction holds the write lock: no one changes them until it ends
                    where = " AND ".join(f"{_quote(k)} = ?" for k in LAYERS[e.layer].key)
                    check_expected(e, conn.execute(f"SELECT {_quote(e.column)} FROM {_quote(e.layer)} WHERE {where}",
                                                   list(e.key)).fetchall())
                seq = _next_seq(conn) if any(LAYERS[name].changes for name in frames) else None
                for name, frame in frames.items():
                    self._upsert_one(conn, name, frame, seq if LAYERS[name].changes else None)
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        except sqlite3.IntegrityError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except sqlite3.OperationalError as exc:
            raise _failed(self.path, exc, "cannot write to") from exc
        except sqlite3.Error as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    @contextlib.contextmanager
    def _layer_lock(self):
        """One process at a time makes a missing layer: GDAL, asked by a second to make the same layer,
        would replace the first one's, rows and all (two server processes' first logins did)."""
        try:
            import fcntl
        except ImportError:  # not POSIX: one process per store is the rule there
            yield
            return
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _thread_conn(self, *, make=True):
        held = getattr(self._local, "conn", None)
        if held is not None and held[:2] == (os.getpid(), self._generation):
            return held[2]
        if not make:
            return None
        conn = self._open_connection()
        self._local.conn = (os.getpid(), self._generation, conn)
        return conn

    def _connect(self):
        """This thread's connection to the file (made at its first use, kept for the next)."""
        return self._thread_conn()

    def _open_connection(self):
        try:
            conn = sqlite3.connect(self.path, timeout=_lock_timeout(), isolation_level=None,
                                   check_same_thread=False)
        except sqlite3.Error as exc:
            raise StoreUnreachable(f"cannot open {self.path}: {exc}") from exc
        # The R-tree triggers GDAL puts on a layer call these GeoPackage SQL functions.
        conn.create_function("ST_IsEmpty", 1, _is_empty, deterministic=True)
        for fn, index in (("ST_MinX", 0), ("ST_MinY", 1), ("ST_MaxX", 2), ("ST_MaxY", 3)):
            conn.create_function(fn, 1, lambda blob, i=index: _bound(blob, i), deterministic=True)
        return conn

    def _upsert_one(self, conn, name, frame, seq=None):
        layer = LAYERS[name]
        columns = list(layer.columns)
        values = [_sqlite_values(frame[c], kind) for c, kind in layer.columns.items()]
        if layer.geometry:
            columns.append(_GEOMETRY)
            values.append(_gpkg_blobs(frame.geometry.values))
        if seq is not None:
            columns.append(CHANGE_SEQ)
            values.append([seq] * len(frame))
        updates = ", ".join(f"{_quote(c)} = excluded.{_quote(c)}" for c in columns if c not in layer.key)

        def statement(present):
            return (f"INSERT INTO {_quote(name)} ({', '.join(_quote(c) for c in present)}) "
                    f"VALUES ({', '.join('?' * len(present))}) "
                    f"ON CONFLICT ({', '.join(map(_quote, layer.key))}) DO UPDATE SET {updates}")
        # GDAL's per-row triggers (R-tree, feature count) cost four times the insert itself:
        # they are set aside for the batch and their work done once, in the same transaction.
        triggers = conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = ? "
                                "AND substr(name, 1, ?) <> ?", (name, len(_ROLLUP_TRIGGER), _ROLLUP_TRIGGER)
                                ).fetchall()
        for trigger, _ in triggers:
            conn.execute(f"DROP TRIGGER {_quote(trigger)}")
        # A new row's fid is past every fid before it (SQLite's rowids; an update keeps its row's).
        top = conn.execute(f"SELECT coalesce(max(fid), 0) FROM {_quote(name)}").fetchone()[0]
        # Rows are sent grouped by which columns they fill: an empty column is left out of the
        # statement (SQLite stores NULL for it, and the update sets it NULL) instead of bound row by row.
        values = [np.array(column, dtype=object) for column in values]
        filled = np.column_stack([column != None for column in values])  # noqa: E711 (elementwise)
        signature = np.packbits(filled, axis=1, bitorder="little")
        groups, which = np.unique(signature, axis=0, return_inverse=True)
        for g in range(len(groups)):
            rows = np.flatnonzero(which.ravel() == g)
            present = [k for k in range(len(columns)) if filled[rows[0], k] or columns[k] in layer.key]
            conn.executemany(statement([columns[k] for k in present]),
                             zip(*(values[k][rows].tolist() for k in present)))
        if layer.geometry:
            self._index_batch(conn, name, frame)
        # The count grows by the rows new past ``top``: counting them all was 8-10 ms a layer at a million rows.
        conn.execute("UPDATE gpkg_ogr_contents SET feature_count = CASE WHEN feature_count IS NULL "
                     f"THEN (SELECT count(*) FROM {_quote(name)}) "
                     f"ELSE feature_count + (SELECT count(*) FROM {_quote(name)} WHERE fid > ?) END "
                     "WHERE lower(table_name) = lower(?)", (top, name))
        for _, create in triggers:
            conn.execute(create)

    def _index_batch(self, conn, name, frame):
        """Put the batch's rows into the layer's R-tree, as GDAL's triggers would have, and its extent."""
        layer = LAYERS[name]
        rtree = _quote(f"rtree_{name}_{_GEOMETRY}")
        key = list(layer.key)
        bounds = shapely.bounds(frame.geometry.values)
        placed = ~np.isnan(bounds[:, 0])
        # Rows without a geometry matter only if they may have had one: not when the index was empty.
        indexed_before = conn.execute(f"SELECT EXISTS (SELECT 1 FROM {rtree})").fetchone()[0]
        rows = frame if indexed_before else frame[placed]
        bounds = bounds if indexed_before else bounds[placed]
        placed = placed if indexed_before else placed[placed]
        conn.execute(f"CREATE TEMP TABLE _batch ({', '.join(map(_quote, key))}, minx, maxx, miny, maxy)")
        keys = [_sqlite_values(rows[c], layer.columns[c]) for c in key]
        conn.executemany(f"INSERT INTO temp._batch VALUES ({', '.join('?' * (len(key) + 4))})",
                         zip(*keys, *(np.where(placed, bounds[:, i], None).tolist() for i in (0, 2, 1, 3))))
        join = " AND ".join(f"t.{_quote(c)} = b.{_quote(c)}" for c in key)
        # A row whose geometry became empty leaves the index; every other row is (re)entered.
        conn.execute(f"DELETE FROM {rtree} WHERE id IN (SELECT t.fid FROM {_quote(name)} t JOIN temp._batch b "
                     f"ON {join} WHERE b.minx IS NULL)")
        if not indexed_before:
            entered = np.array(conn.execute(
                f"SELECT t.fid, b.minx, b.maxx, b.miny, b.maxy FROM {_quote(name)} t JOIN temp._batch b "
                f"ON {join} WHERE b.minx IS NOT NULL").fetchall(), dtype=float).reshape(-1, 5)
            bulk_load(conn, rtree, entered[:, 0].astype(np.int64), entered[:, 1:])
        else:
            conn.execute(f"INSERT OR REPLACE INTO {rtree} SELECT t.fid, b.minx, b.maxx, b.miny, b.maxy "
                         f"FROM {_quote(name)} t JOIN temp._batch b ON {join} WHERE b.minx IS NOT NULL "
                         # An R-tree fills fastest from neighbouring boxes: feed it strip by strip.
                         "ORDER BY round(b.minx, 3), b.miny")
        conn.execute("DROP TABLE temp._batch")
        # The extent grows by the batch's boxes (as GDAL's own writes do, it never shrinks): reading it
        # back from the R-tree would scan the whole index, 0.2 s a layer at a million rows, on every write.
        if placed.any():
            box = bounds[placed]
            conn.execute("UPDATE gpkg_contents SET min_x = min(coalesce(min_x, ?1), ?1), "
                         "min_y = min(coalesce(min_y, ?2), ?2), max_x = max(coalesce(max_x, ?3), ?3), "
                         "max_y = max(coalesce(max_y, ?4), ?4), "
                         "last_change = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE table_name = ?5",
                         (*map(float, (box[:, 0].min(), box[:, 1].min(), box[:, 2].max(), box[:, 3].max())), name))

    def _spatial(self, name):
        return any(str(row[0]) == name and row[1] is not None for row in _patiently(pyogrio.list_layers, self.path))

    def data_versions(self):
        """Layer → a stamp that changes with every write to it, read straight from SQLite."""
        # Asked on every dashboard request: straight to SQLite, without opening the file through GDAL.
        if not self.check_schema():
            return {}
        try:
            rows = self._connect().execute("SELECT name, value FROM settings WHERE name LIKE 'version:%' "
                                           "OR name LIKE 'seq:%' OR name LIKE 'epoch:%'").fetchall()
        except sqlite3.OperationalError as exc:
            raise _failed(self.path, exc, "cannot read") from exc
        return versions_from(rows)

    def _count(self, name):
        return int(self._connect().execute(f"SELECT count(*) FROM {_quote(name)}").fetchone()[0])

    def _aggregate(self, name, where, by, measures):
        clause = " AND ".join(_sql_term(t, name) for t in where)
        # A time is ISO 8601 text here: its day is its first ten characters.
        chosen = [f"substr({_quote(c[4:])}, 1, 10)" if c.startswith("day:") else _quote(c) for c in by] + [
            "count(*)" if m == "rows" else f"sum(CASE WHEN {_quote(m[5:])} THEN 1 ELSE 0 END)" if m.startswith("true:")
            else f"{m.split(':', 1)[0]}({_quote(m.split(':', 1)[1])})" for m in measures]
        query = f"SELECT {', '.join(chosen)} FROM {_quote(name)}" + (f" WHERE {clause}" if clause else "")
        if by:
            query += " GROUP BY " + ", ".join(str(i + 1) for i in range(len(by)))
        try:
            return self._connect().execute(query).fetchall()
        except sqlite3.OperationalError as exc:
            raise _failed(self.path, exc, f"cannot read layer {name!r} from") from exc

    def _page_keys(self, name, where, order, limit, offset):
        clause = " AND ".join(_sql_term(t, name) for t in where)
        key = LAYERS[name].key[0]
        query = (f"SELECT {_quote(key)} FROM {_quote(name)}" + (f" WHERE {clause}" if clause else "")
                 + " ORDER BY " + ", ".join(f"{_quote(c)} {'DESC' if d else 'ASC'} NULLS LAST" for c, d in order)
                 + f" LIMIT {int(limit)} OFFSET {int(offset)}")
        try:
            return [row[0] for row in self._connect().execute(query).fetchall()]
        except sqlite3.OperationalError as exc:
            raise _failed(self.path, exc, f"cannot read layer {name!r} from") from exc

    def _read_batches(self, name, where, size):
        clause = " AND ".join(_sql_term(t, name) for t in where) or None
        try:
            with pyogrio.open_arrow(self.path, layer=name, where=clause, batch_size=size,
                                    columns=list(LAYERS[name].columns), use_pyarrow=True) as (meta, reader):
                for batch in reader:
                    yield self._from_arrow(name, batch, meta)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError) as exc:
            raise StoreError(f"cannot read layer {name!r} from {self.path}: {exc}") from exc

    def _from_arrow(self, name, batch, meta):
        frame = batch.to_pandas(date_as_object=False)
        for column in frame.columns:
            # Times are kept as local wall-clock times; GDAL's Arrow reader labels them UTC.
            if isinstance(frame[column].dtype, pd.DatetimeTZDtype):
                frame[column] = frame[column].dt.tz_localize(None)
        geometry = meta.get("geometry_name") or "wkb_geometry"
        if LAYERS[name].geometry is None:
            return conform(name, frame.drop(columns=[geometry], errors="ignore"))
        shapes = shapely.from_wkb(frame.pop(geometry).to_numpy()) if geometry in frame else None
        return conform(name, gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, index=frame.index,
                                                                             crs=STORAGE_CRS)))

    def _read(self, name, where):
        clause = " AND ".join(_sql_term(t, name) for t in where) or None
        if LAYERS[name].geometry is None:
            return self._rows_frame(name, self._select(name, clause))
        # Most reads keep a few rows (a push's look for its known ids and the cases near it, a server's look
        # for the rows changed since it last looked): through SQLite, as tables are read, without GDAL's open
        # of the file (20-30 ms whatever it reads, five times a push, in every server process every write).
        # Past ``SQLITE_ROWS_MAX`` rows, GDAL's Arrow read is the cheaper, and reads it whole.
        few = self._select(name, clause, geometry=True, limit=SQLITE_ROWS_MAX + 1)
        if len(few) <= SQLITE_ROWS_MAX:
            return self._rows_frame(name, few, geometry=True)
        try:
            meta, table = _patiently(_read_arrow, self.path, name, clause)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:
            # OSError: the Arrow stream meeting a damaged page part way ("database disk image is malformed").
            raise StoreError(f"cannot read layer {name!r} from {self.path}: {exc}") from exc
        return self._from_arrow(name, table, meta)

    def _select(self, name, clause, *, geometry: bool = False, limit: int | None = None) -> list[tuple]:
        """A layer's rows under ``clause`` through this thread's SQLite connection: its columns, then (with
        ``geometry``) its geometry blob; at most ``limit`` of them.

        Asked on every login and page by every server process while others write the same file: SQLite
        waits out a writer (its busy timeout), where GDAL's read-only open fails ("attempt to write a
        readonly database") in the instant another process commits.
        """
        conn = self._connect()
        try:
            # A column the file lacks (a layer from before a schema change, read to migrate it) is read as missing:
            # named in double quotes, SQLite would take it for the text of its name.
            have = {row[1] for row in conn.execute(f"PRAGMA table_info({_quote(name)})")}
            chosen = [_quote(c) if c in have else f"NULL AS {_quote(c)}" for c in LAYERS[name].columns]
            if geometry:
                row = conn.execute("SELECT column_name FROM gpkg_geometry_columns WHERE table_name = ?",
                                   (name,)).fetchone()
                column = row[0] if row else _GEOMETRY
                chosen.append(_quote(column) if column in have else "NULL")  # a plain table, from before geometry
            query = (f"SELECT {', '.join(chosen)} FROM {_quote(name)}" + (f" WHERE {clause}" if clause else "")
                     + (f" LIMIT {int(limit)}" if limit is not None else ""))
            return conn.execute(query).fetchall()
        except sqlite3.DatabaseError as exc:  # OperationalError (locked, ...), or a damaged file
            raise _failed(self.path, exc, f"cannot read layer {name!r} from") from exc

    def _rows_frame(self, name, rows: list[tuple], *, geometry: bool = False):
        """Rows of ``_select`` as the layer's frame: times from their ISO 8601 text, the geometry from its
        GeoPackage blob (the header this store writes, ``_gpkg_blobs``, then WKB)."""
        if not rows:
            return empty_frame(name)  # conforming even no rows costs 17 ms, at every follow of a layer left alone
        columns = list(LAYERS[name].columns)
        if len(rows) <= FEW_ROWS:
            return from_rows(name, rows, _geometries(np.array([row[len(columns)] for row in rows], dtype=object))
                             if geometry else None)
        frame = pd.DataFrame(rows, columns=[*columns, *([_BLOB] if geometry else [])])
        for column, kind in LAYERS[name].columns.items():
            if kind == "datetime":  # stored as ISO 8601 text, with or without milliseconds
                stamps = pd.to_datetime(frame[column], format="ISO8601")
                frame[column] = stamps.dt.tz_localize(None) if stamps.dt.tz is not None else stamps
        if not geometry:
            return conform(name, frame)
        shapes = _geometries(frame.pop(_BLOB).to_numpy())
        return conform(name, gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes, index=frame.index,
                                                                             crs=STORAGE_CRS)))


def _read_arrow(path, name, clause):
    """A layer's rows under ``clause`` as one Arrow table: a third of the time of GDAL's row-by-row read."""
    with pyogrio.open_arrow(path, layer=name, where=clause, columns=list(LAYERS[name].columns),
                            use_pyarrow=True) as (meta, reader):
        return meta, reader.read_all()


def _next_seq(conn) -> int:
    """The next change number, taken inside the writer's transaction."""
    row = conn.execute("SELECT value FROM settings WHERE name = 'seq:changes'").fetchone()
    seq = int(row[0]) + 1 if row else 1
    conn.execute("INSERT INTO settings (name, value) VALUES ('seq:changes', ?) "
                 "ON CONFLICT (name) DO UPDATE SET value = excluded.value", (str(seq),))
    return seq


class _Gate:
    """Within one process: GDAL's reads of a file wait while one of its threads writes to it.

    GDAL opens the file anew for each read, without SQLite's busy wait; one that opens while another
    thread of the server commits fails with whatever GDAL makes of the busy moment ("not registered in
    gpkg_contents", "not recognized as being in a supported file format"...). Between processes,
    :func:`_patiently` tries again instead. A thread that writes may read (a migration does); writers
    waiting go before new readers.
    """

    def __init__(self):
        self._cond = threading.Condition()
        self._readers = 0
        self._writer: int | None = None
        self._depth = 0
        self._waiting = 0

    @contextlib.contextmanager
    def reading(self):
        me = threading.get_ident()
        with self._cond:
            mine = self._writer == me
            if not mine:
                while self._writer is not None or self._waiting:
                    self._cond.wait()
                self._readers += 1
        try:
            yield
        finally:
            if not mine:
                with self._cond:
                    self._readers -= 1
                    self._cond.notify_all()

    @contextlib.contextmanager
    def writing(self):
        me = threading.get_ident()
        with self._cond:
            if self._writer == me:
                self._depth += 1
            else:
                self._waiting += 1
                try:
                    while self._writer is not None or self._readers:
                        self._cond.wait()
                finally:
                    self._waiting -= 1
                self._writer, self._depth = me, 1
        try:
            yield
        finally:
            with self._cond:
                self._depth -= 1
                if self._depth == 0:
                    self._writer = None
                    self._cond.notify_all()


_GATES: dict[str, _Gate] = {}
_GATES_LOCK = threading.Lock()


def _gate(path) -> _Gate:
    key = os.path.abspath(str(path))
    with _GATES_LOCK:
        return _GATES.setdefault(key, _Gate())


def _patiently(read, *args, **kwargs):
    """A GDAL read, tried again while another connection is in the middle of writing.

    GDAL opens the file read-only; one that opens in the instant a writer commits may find
    SQLite wanting to write ("attempt to write a readonly database", "database is locked") and
    fail, though a moment later all is well (two server processes recording logins showed it).
    """
    deadline = time.monotonic() + _lock_timeout()
    while True:
        try:
            with _gate(args[0]).reading():
                return read(*args, **kwargs)
        except (pyogrio.errors.DataSourceError, pyogrio.errors.DataLayerError, OSError) as exc:  # a CRSError too
            transient = any(words in str(exc) for words in _MID_WRITE) and _sqlite_header(args[0] if args else None)
            if not transient or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


# What GDAL says when its read-only open meets a writer's commit (SQLite busy while it reads the schema):
# the file is sound, only busy; two threads of one server pushing cases at once showed the last two.
_MID_WRITE = ("readonly database", "locked", "gpkg_spatial_ref_sys or gpkg_contents, is missing",
              "not recognized as being in a supported")


def _sqlite_header(path) -> bool:
    """Whether the file begins as a GeoPackage does (so a failed open is a busy moment, not a wrong file)."""
    try:
        with open(path, "rb") as f:
            header = f.read(72)
    except (OSError, TypeError):
        return False
    return header.startswith(b"SQLite format 3\x00") and header[68:72] in (b"GPKG", b"GP10", b"GP11")


def _lock_timeout() -> float:
    return Settings.from_environ().gpkg_lock_timeout_s


def _locked(path, exc) -> StoreLocked:
    return StoreLocked(f"{path} is locked by another program (QGIS, another ingest?) for over "
                       f"{_lock_timeout():.0f} s: nothing was written; try again when it has finished ({exc})",
                       zh=f"{path} 正被其他程序（QGIS 或另一次导入？）占用，未写入任何内容：请待其完成后重试")


def _failed(path, exc, doing: str) -> StoreError:
    """An SQLite or GDAL error as the store's: locked by another program, or "cannot read PATH: why"."""
    return _locked(path, exc) if "locked" in str(exc) else StoreError(f"{doing} {path}: {exc}")


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sqlite_values(values: pd.Series, kind: str) -> list:
    """A column as the Python values SQLite stores, None for missing; datetimes as GDAL writes them."""
    missing = values.isna().to_numpy()
    if kind == "datetime":
        stamps = values.to_numpy(dtype="datetime64[ms]")
        seconds = stamps.astype("datetime64[s]")
        # As GDAL writes them: seconds, and milliseconds only where there are some.
        out = np.datetime_as_string(seconds, unit="s").astype(object)
        with_ms = ~missing & (stamps != seconds)
        if with_ms.any():
            out[with_ms] = np.datetime_as_string(stamps[with_ms], unit="ms").astype(object)
    elif kind == "bool":
        out = np.asarray(np.where(missing, None, values.fillna(False).astype(bool).astype(int).to_numpy()), dtype=object)
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


def _geometries(blobs: np.ndarray) -> np.ndarray:
    """Shapes of GeoPackage geometry blobs (None for none): the WKB after each blob's header."""
    wkb = np.array([None if b is None else bytes(memoryview(b)[_header_size(b):]) for b in blobs], dtype=object)
    return shapely.from_wkb(wkb)


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


def _sql_term(term, layer):
    column = '"' + term.column.replace('"', '""') + '"'
    if term.op == "among":
        other, inner = term.value
        clause = " AND ".join(_sql_term(t, other) for t in inner)
        return f"{column} IN (SELECT {column} FROM {_quote(other)}" + (f" WHERE {clause})" if clause else ")")
    if term.op == "bbox":
        # Through the layer's R-tree, as GDAL keeps it (its geometry column is "geom"); its bounds are single
        # floats rounded outward, so each feature found is checked on its own bounds (GeoPackage's functions).
        x0, y0, x1, y1 = (float(v) for v in term.value)
        return (f'"fid" IN (SELECT id FROM {_quote(f"rtree_{layer}_geom")} WHERE maxx >= {x0!r} AND minx <= {x1!r} '
                f"AND maxy >= {y0!r} AND miny <= {y1!r}) AND ST_MaxX(geom) >= {x0!r} AND ST_MinX(geom) <= {x1!r} "
                f"AND ST_MaxY(geom) >= {y0!r} AND ST_MinY(geom) <= {y1!r}")
    if term.op == "in":
        values = ", ".join(_literal(v) for v in term.value) or "NULL"
        return f"{column} IN ({values})"
    if term.op == "within":  # one range per span, each through the column's index (SQLite's OR optimisation)
        spans = [f"({column} >= {_literal(a)} AND {column} < {_literal(b)})" for a, b in term.value]
        return "(" + (" OR ".join(spans) or "0") + ")"
    return f"{column} {term.op} {_literal(term.value)}"
