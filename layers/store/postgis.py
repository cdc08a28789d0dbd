"""The shared store: PostGIS through psycopg 3.

Tables carry SRID 4490 and GiST indexes; batches go in by COPY into a
temporary table and then INSERT ... ON CONFLICT on the natural key, so a
re-ingest changes nothing. A ``schema`` query parameter on the URL (not a
libpq one, stripped before connecting) keeps separate stores in one database.
"""

from __future__ import annotations

import re
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql

from layers.schema import LAYERS, conform
from layers.store.base import Store, StoreError

_PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision",
             "bool": "boolean", "datetime": "timestamp"}
_SRID = 4490


def hide_password(url: str) -> str:
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def split_schema(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "onemap")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise StoreError(f"schema {schema!r} in the store URL must be a lower-case identifier")
    return urlunsplit(parts._replace(query=rest)), schema


class PostGISStore(Store):
    def __init__(self, url: str):
        self.url = url
        self._dsn, self.schema = split_schema(url)
        self._conn = None
        self._schema_ready = False

    @property
    def conn(self):
        """The connection, made at first use and made again after the server went away.

        Opening the store does not connect: a dashboard whose database is down can still open it and
        answer from what it holds, and a restarted server is found again by the next request.
        """
        if self._conn is None or self._conn.closed:
            try:
                self._conn = psycopg.connect(self._dsn, autocommit=False, connect_timeout=10)
            except psycopg.OperationalError as exc:
                self._conn = None
                raise StoreError(f"cannot connect to {hide_password(self.url)}: {exc}") from exc
            if not self._schema_ready:
                self._schema_ready = True
                try:
                    self._ensure_schema()
                except psycopg.Error:
                    self._schema_ready = False
                    raise
        return self._conn

    def _lost(self, exc):
        """The connection broke (a restart, a network cut): forget it, so the next use connects anew."""
        if self._conn is not None:
            try:
                self._conn.close()
            except psycopg.Error:
                pass
        self._conn = None
        return StoreError(f"store {hide_password(self.url)} failed: {exc}")

    def close(self):
        if self._conn is not None:
            self._conn.close()

    def reset(self):
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema)))
        self._ensure_schema()

    def _ensure_schema(self):
        with self.conn.transaction(), self.conn.cursor() as cur:
            cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
            if cur.fetchone() is None:
                cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
            cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
            for layer in LAYERS.values():
                cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_PG_TYPES[t]))
                        for c, t in layer.columns.items()]
                if layer.geometry:
                    cols.append(sql.SQL("geometry geometry({}, {})").format(
                        sql.SQL(layer.geometry), sql.Literal(_SRID)))
                cols.append(sql.SQL("PRIMARY KEY ({})").format(
                    sql.SQL(", ").join(map(sql.Identifier, layer.key))))
                cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({})").format(
                    self._table(layer.name), sql.SQL(", ").join(cols)))
                # A store made before the schema gained a column (or a geometry) gets it now.
                for c, t in layer.columns.items():
                    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
                        self._table(layer.name), sql.Identifier(c), sql.SQL(_PG_TYPES[t])))
                if layer.geometry:
                    cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS geometry geometry({}, {})").format(
                        self._table(layer.name), sql.SQL(layer.geometry), sql.Literal(_SRID)))
                if layer.geometry:
                    cur.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geometry)").format(
                        sql.Identifier(f"{layer.name}_geometry_gist"), self._table(layer.name)))

    def _table(self, name):
        return sql.Identifier(self.schema, name)

    def _columns(self, name):
        layer = LAYERS[name]
        return list(layer.columns) + (["geometry"] if layer.geometry else [])

    def _copy(self, cur, table, name, frame):
        cols = self._columns(name)
        rows = frame[list(LAYERS[name].columns)].astype(object).where(frame.notna(), None)
        if LAYERS[name].geometry:
            geoms = shapely.set_srid(frame.geometry.values, _SRID)
            wkb = shapely.to_wkb(geoms, hex=True, include_srid=True)
            # An object Series, so pandas keeps None for a missing point instead of NaN.
            rows = rows.assign(geometry=pd.Series(wkb, index=rows.index, dtype=object))
        copy_sql = sql.SQL("COPY {} ({}) FROM STDIN").format(
            table, sql.SQL(", ").join(map(sql.Identifier, cols)))
        with cur.copy(copy_sql) as copy:
            for row in rows.itertuples(index=False, name=None):
                copy.write_row(row)

    def _run(self, work):
        try:
            with self.conn.transaction(), self.conn.cursor() as cur:
                work(cur)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._lost(exc) from exc

    def _replace(self, name, frame):
        def work(cur):
            cur.execute(sql.SQL("DELETE FROM {}").format(self._table(name)))
            self._copy(cur, self._table(name), name, frame)
        self._run(work)

    def _upsert_many(self, frames):
        def work(cur):
            for name, frame in frames.items():
                self._upsert_one(cur, name, frame)
        self._run(work)

    def _upsert_one(self, cur, name, frame):
        layer = LAYERS[name]
        cols = self._columns(name)
        staging = sql.Identifier(f"_staging_{name}")
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            staging, self._table(name)))
        self._copy(cur, staging, name, frame)
        updates = [c for c in cols if c not in layer.key]
        cur.execute(sql.SQL(
            "INSERT INTO {t} ({cols}) SELECT {cols} FROM {s} "
            "ON CONFLICT ({key}) DO UPDATE SET {sets}").format(
            t=self._table(name), s=staging,
            cols=sql.SQL(", ").join(map(sql.Identifier, cols)),
            key=sql.SQL(", ").join(map(sql.Identifier, layer.key)),
            sets=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates)))

    def _count(self, name):
        found = []
        self._run(lambda cur: found.append(
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table(name))).fetchone()[0]))
        return int(found[0])

    def _read(self, name, where):
        query, params = self._select(name, where)
        rows = []

        def work(cur):
            cur.execute(query, params)
            rows.extend(cur.fetchall())
        self._run(work)
        return self._frame(name, rows)

    def _read_batches(self, name, where, size):
        # A server-side cursor: PostgreSQL sends ``size`` rows at a time, as they are asked for.
        query, params = self._select(name, where)
        try:
            with self.conn.transaction(), self.conn.cursor(name=f"batches_{uuid.uuid4().hex[:12]}") as cur:
                cur.execute(query, params)
                while rows := cur.fetchmany(size):
                    yield self._frame(name, rows)
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise self._lost(exc) from exc

    def _select(self, name, where):
        layer = LAYERS[name]
        select = [sql.Identifier(c) for c in layer.columns]
        if layer.geometry:
            select.append(sql.SQL("ST_AsBinary(geometry) AS geometry"))
        terms, params = [], []
        for t in where:
            if t.op == "in":
                terms.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(t.column)))
                params.append(list(t.value))
            else:
                terms.append(sql.SQL("{} {} %s").format(sql.Identifier(t.column), sql.SQL(t.op)))
                params.append(t.value)
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(select), self._table(name))
        if terms:
            query += sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms)
        return query, params

    def _frame(self, name, rows):
        layer = LAYERS[name]
        names = list(layer.columns) + (["geometry"] if layer.geometry else [])
        frame = pd.DataFrame(rows, columns=names)
        if layer.geometry:
            geoms = shapely.from_wkb([bytes(g) if g is not None else None for g in frame["geometry"]])
            frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs="EPSG:4490")
        return conform(name, frame)
