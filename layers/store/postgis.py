"""The shared store: PostGIS through psycopg 3.

Tables carry SRID 4490 and GiST indexes; batches go in by COPY into a
temporary table and then INSERT ... ON CONFLICT on the natural key, so a
re-ingest changes nothing. A ``schema`` query parameter on the URL (not a
libpq one, stripped before connecting) keeps separate stores in one database.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import threading
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import geopandas as gpd
import pandas as pd
import psycopg
import shapely
from psycopg import sql
from psycopg_pool import ConnectionPool, PoolTimeout

from gis.datums import STORAGE_CRS
from layers.errors import (
    DuplicateKey,
    InvalidValue,
    StoreError,
    StoreLocked,
    StoreUnreachable,
)
from layers.schema import CHANGE_SEQ, FEW_ROWS, LAYERS, MISSING, conform, from_rows
from layers.settings import Settings
from layers.store.base import Store, check_expected
from layers.store.migrations import (
    AddColumn,
    AddIndex,
    CreateLayer,
    FillDistrict,
    Partition,
    Rollup,
    TrackChanges,
)

_PG_TYPES = {"str": "text", "int": "bigint", "float": "double precision",
             "bool": "boolean", "datetime": "timestamp"}
_SRID = int(STORAGE_CRS.split(":")[1])


def hide_password(url: str) -> str:
    """The URL with its password replaced by ***, for messages and logs."""
    return re.sub(r"://([^:/@]+):[^@]*@", r"://\1:***@", url)


def _lsn(text: str) -> int:
    """A WAL position (``pg_lsn``'s text, ``16/B374D848``) as a number, to compare."""
    high, low = text.split("/")
    return int(high, 16) << 32 | int(low, 16)


def split_schema(url: str) -> tuple[str, str]:
    """The libpq URL without our ``schema`` parameter, and the schema it names (default ``onemap``)."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query)
    schema = next((v for k, v in query if k == "schema"), "onemap")
    rest = urlencode([(k, v) for k, v in query if k != "schema"])
    if not re.fullmatch(r"[a-z_][a-z0-9_]*", schema):
        raise InvalidValue(f"schema {schema!r} in the store URL must be a lower-case identifier",
                           zh=f"数据库地址中的 schema {schema!r} 须为小写标识符")
    return urlunsplit(parts._replace(query=rest)), schema


class PostGISStore(Store):
    """One pool of connections per process (psycopg_pool), made at first use and again after a fork.

    Opening the store does not connect: a dashboard whose database is down can still open it and
    answer from what it holds; the pool finds a restarted server again by itself.

    With a read URL (``read_url``, else ``ONEMAP_READ_STORE``: a streaming replica, or libpq's several
    hosts with ``target_session_attrs=prefer-standby``) a second pool serves the reads, and the primary
    (``url``) keeps the writes, the reads inside them and the migrations. A replica replays the primary's
    writes a moment later; so that this process reads what it has written, reads go to the primary
    after its write until the replica has replayed past it (its WAL position), and after that to the
    replica with no more asking. The read URL's own ``?schema=`` is not used: a replica holds the
    primary's schemas, and the store's is ``url``'s.
    """

    def __init__(self, url: str, read_url: str | None = None):
        self.url = url
        self._dsn, self.schema = split_schema(url)
        self.read_url = (Settings.from_environ().read_store if read_url is None else read_url) or None
        self._read_dsn = split_schema(self.read_url)[0] if self.read_url else None
        self._pools: dict[str, ConnectionPool] = {}  # "write" (the primary), "read"
        self._pool_pid: int | None = None
        self._pool_lock = threading.Lock()
        # The primary's WAL position the replica must have replayed before it answers this process's reads
        # (None: it has; reads go to it without asking).
        self._replay_before: int | None = None
        self._replay_lock = threading.Lock()

    @property
    def separate_reads(self) -> bool:
        """Whether a read URL is set (reads go on while the primary is down)."""
        return self._read_dsn is not None

    def pool(self, kind: str = "write") -> ConnectionPool:
        """This process's pool to the primary, or with ``kind="read"`` to the read URL (a child of a fork
        makes its own: connections cannot cross one)."""
        if self._pool_pid != os.getpid() or kind not in self._pools:
            with self._pool_lock:
                if self._pool_pid != os.getpid():
                    self._pools, self._pool_pid = {}, os.getpid()
                if kind not in self._pools:
                    settings = Settings.from_environ()
                    dsn = self._read_dsn if kind == "read" and self._read_dsn else self._dsn
                    self._pools[kind] = ConnectionPool(
                        dsn, min_size=settings.pg_pool_min, max_size=max(settings.pg_pool_max, 2),
                        timeout=settings.pg_pool_timeout_s, open=True, check=ConnectionPool.check_connection,
                        kwargs={"autocommit": False, "connect_timeout": settings.pg_connect_timeout_s},
                        name=f"onemap-{self.schema}" + ("-read" if kind == "read" else ""))
        return self._pools[kind]

    @contextlib.contextmanager
    def _connection(self, kind: str = "write"):
        url = hide_password(self.read_url if kind == "read" and self.read_url else self.url)
        try:
            with self.pool(kind).connection() as conn:
                yield conn
        except PoolTimeout as exc:
            raise StoreUnreachable(f"store {url} does not answer: {exc}",
                                   zh=f"数据库 {url} 暂时无法连接") from exc
        except (psycopg.errors.LockNotAvailable, psycopg.errors.DeadlockDetected) as exc:
            raise StoreLocked(f"store {url}: {exc}") from exc
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            raise StoreUnreachable(f"store {url} failed: {exc}",
                                   zh=f"数据库 {url} 连接中断") from exc
        except psycopg.errors.UniqueViolation as exc:
            raise DuplicateKey(f"store {url}: {exc}") from exc
        except psycopg.Error as exc:  # no psycopg error leaves the store unwrapped
            raise StoreError(f"store {url}: {type(exc).__name__}: {exc}") from exc

    @contextlib.contextmanager
    def _reading(self):
        """A connection for reads: the read URL's, unless the replica has not yet replayed what this process
        wrote (or read on the primary), then the primary's."""
        if self._read_dsn is None:
            with self._connection() as conn:
                yield conn
            return
        wait = self._replay_before
        if wait is None:  # caught up: no question asked
            with self._connection("read") as conn:
                yield conn
            return
        with self._connection("read") as conn:
            replayed = self._replayed(conn, wait)
            if replayed:
                yield conn
        if not replayed:
            with self._connection() as conn:
                yield conn
                # What this read saw, the replica must have too before it answers this process again: a
                # cache that read the versions here must not then ask a replica behind them for the rows.
                self._note_position(conn)

    def _replayed(self, conn, wait: int) -> bool:
        """Whether the server behind ``conn`` has replayed the primary's WAL up to ``wait`` (ending the wait if so)."""
        # Reported by the server at connecting (PostgreSQL 14 on), so no query: a multi-host read URL that
        # fell back to the primary reads there, which has every write.
        if conn.info.parameter_status("in_hot_standby") == "on":
            at = conn.execute("SELECT pg_last_wal_replay_lsn()::text").fetchone()[0]
            conn.commit()
            if at is None or _lsn(at) < wait:
                return False
        with self._replay_lock:
            if self._replay_before is not None and self._replay_before <= wait:
                self._replay_before = None
        return True

    def _note_position(self, conn) -> None:
        """Remember the primary's WAL position now (``conn`` is the primary's): until the replica has replayed
        past it, this process reads from the primary."""
        if self._read_dsn is None:
            return
        at = _lsn(conn.execute("SELECT pg_current_wal_lsn()::text").fetchone()[0])
        conn.commit()
        with self._replay_lock:
            self._replay_before = max(at, self._replay_before or 0)

    def written_elsewhere(self) -> None:
        """Read from the primary until the replica has replayed past its WAL position now, which is after
        the other process's write."""
        if self._read_dsn is None:
            return
        with self._connection() as conn:
            self._note_position(conn)

    def accepts_writes(self, timeout: float = 2.0) -> bool:
        """Whether the primary takes writes now: a connection within ``timeout`` seconds, not to a standby."""
        try:
            with self.pool().connection(timeout=timeout) as conn:
                row = conn.execute("SELECT pg_is_in_recovery()").fetchone()
                return row is not None and not row[0]
        except psycopg.Error:  # the pool's timeout too
            return False

    def close(self):
        """Close this process's pools (the next use makes others)."""
        if self._pool_pid == os.getpid():
            for pool in self._pools.values():
                pool.close()
        self._pools = {}

    def reset(self):
        """Drop the store's schema: it holds nothing; the next write builds it."""
        self._schema_checked = False
        self._write(lambda cur: cur.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(
            sql.Identifier(self.schema))))

    def _schema_version_for(self, writing):
        return self._schema_version(self._run if writing else self._read_run)

    def _schema_version(self, run=None):
        """The schema's version on the primary (``run``: where to ask instead; see ``_schema_version_for``)."""
        found = []

        def work(cur):
            cur.execute("SELECT to_regclass(%s)", (f'"{self.schema}".schema_version',))
            if cur.fetchone()[0] is not None:
                cur.execute(sql.SQL("SELECT coalesce(max(version), 0) FROM {}").format(self._table("schema_version")))
                found.append(int(cur.fetchone()[0]))
                return
            cur.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = %s AND table_name = ANY(%s)",
                        (self.schema, list(LAYERS)))
            found.append(0 if cur.fetchone()[0] else None)
        (run or self._run)(work)
        return found[0]

    @contextlib.contextmanager
    def _migration_lock(self):
        # A session-level advisory lock on a connection of its own: one process migrates, others wait.
        key = int(hashlib.sha1(f"onemap-migrate:{self.schema}".encode()).hexdigest()[:15], 16)
        with self._connection() as conn:
            conn.autocommit = True
            try:
                conn.execute("SELECT pg_advisory_lock(%s)", (key,))
                try:
                    yield
                finally:
                    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            finally:
                conn.autocommit = False

    def _apply(self, step):
        if isinstance(step, CreateLayer):
            self._write(lambda cur: self._create_layer(cur, step.layer))
        elif isinstance(step, AddColumn):
            self._write(lambda cur: self._add_column(cur, step.layer, step.column))
        elif isinstance(step, AddIndex):
            self._write(lambda cur: self._index(cur, step.layer, step.columns))
        elif isinstance(step, TrackChanges):
            self._write(lambda cur: self._track(cur, step.layer))
        elif isinstance(step, Partition):
            self._write(lambda cur: self._partition(cur, step.layer))
        elif isinstance(step, FillDistrict):
            self._write(lambda cur: cur.execute(sql.SQL(
                "UPDATE {t} SET district_code = (SELECT district_code FROM {d}) WHERE district_code IS NULL "
                "AND (SELECT count(*) FROM {d}) = 1").format(t=self._table(step.layer), d=self._table("district"))))
        elif isinstance(step, Rollup):
            self._write(lambda cur: self._rollup(cur, step.layer))
        else:
            raise TypeError(f"unknown migration step {step!r}")

    def _create_layer(self, cur, name):
        cur.execute("SELECT 1 FROM pg_extension WHERE extname = 'postgis'")
        if cur.fetchone() is None:
            cur.execute("CREATE EXTENSION IF NOT EXISTS postgis")
        cur.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema)))
        layer = LAYERS[name]
        cols = [sql.SQL("{} {}").format(sql.Identifier(c), sql.SQL(_PG_TYPES[t])) for c, t in layer.columns.items()]
        if layer.geometry:
            cols.append(sql.SQL("geometry geometry({}, {})").format(sql.SQL(layer.geometry), sql.Literal(_SRID)))
        # A partitioned table's key must hold its partition column: the natural key is then kept by the writes.
        key = layer.key + ((layer.partitioned_by,) if layer.partitioned_by not in (None, *layer.key) else ())
        cols.append(sql.SQL("PRIMARY KEY ({})").format(sql.SQL(", ").join(map(sql.Identifier, key))))
        partitioned = sql.SQL(" PARTITION BY RANGE ({})").format(sql.Identifier(layer.partitioned_by)) \
            if layer.partitioned_by else sql.SQL("")
        cur.execute(sql.SQL("CREATE TABLE IF NOT EXISTS {} ({}){}").format(
            self._table(name), sql.SQL(", ").join(cols), partitioned))
        # A store made before the schema gained a column (or a geometry) gets it now.
        for column in layer.columns:
            self._add_column(cur, name, column)
        if layer.geometry:
            cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS geometry geometry({}, {})").format(
                self._table(name), sql.SQL(layer.geometry), sql.Literal(_SRID)))
            cur.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} USING gist (geometry)").format(
                sql.Identifier(f"{name}_geometry_gist"), self._table(name)))
        for columns in layer.indexes:
            self._index(cur, name, columns)

    def _index(self, cur, name, columns):
        cur.execute(sql.SQL("CREATE INDEX IF NOT EXISTS {} ON {} ({})").format(
            sql.Identifier("_".join((name, *columns))), self._table(name),
            sql.SQL(", ").join(map(sql.Identifier, columns))))

    def _track(self, cur, name):
        """The layer's change numbers: a column the schema does not list, and its index."""
        cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} bigint").format(
            self._table(name), sql.Identifier(CHANGE_SEQ)))
        self._index(cur, name, (CHANGE_SEQ,))

    def _partition(self, cur, name):
        """Move a layer stored whole into monthly partitions, in the migration's one transaction."""
        cur.execute("SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = %s AND c.relname = %s", (self.schema, name))
        found = cur.fetchone()
        if found is None or found[0] == "p":  # not there (made partitioned when it is), or partitioned already
            if found is None:
                self._create_layer(cur, name)
            return
        before = f"{name}_unpartitioned"
        # Its indexes' names are the new table's: they go first (the table goes at the end).
        cur.execute("SELECT i.indexname FROM pg_indexes i WHERE i.schemaname = %s AND i.tablename = %s AND NOT "
                    "EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conname = i.indexname)", (self.schema, name))
        for (index,) in cur.fetchall():
            cur.execute(sql.SQL("DROP INDEX {}").format(sql.Identifier(self.schema, index)))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME TO {}").format(self._table(name), sql.Identifier(before)))
        cur.execute(sql.SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
            sql.Identifier(self.schema, before), sql.Identifier(f"{name}_pkey"), sql.Identifier(f"{before}_pkey")))
        self._create_layer(cur, name)
        if LAYERS[name].changes:
            self._track(cur, name)
        column = sql.Identifier(LAYERS[name].partitioned_by)
        cur.execute(sql.SQL("SELECT DISTINCT date_trunc('month', {}) FROM {}").format(
            column, sql.Identifier(self.schema, before)))
        self._add_partitions(cur, name, [row[0] for row in cur.fetchall()])
        cur.execute("SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
                    (self.schema, before))
        moved = sql.SQL(", ").join(sql.Identifier(row[0]) for row in cur.fetchall())
        cur.execute(sql.SQL("INSERT INTO {} ({cols}) SELECT {cols} FROM {}").format(
            self._table(name), sql.Identifier(self.schema, before), cols=moved))
        cur.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(self.schema, before)))

    def _months(self, name, frame) -> list:
        """The months a frame's rows fall in, by the layer's partition column (none for a layer stored whole)."""
        column = LAYERS[name].partitioned_by
        if column is None or frame.empty:
            return []
        return sorted(pd.to_datetime(frame[column]).dropna().dt.to_period("M").dt.start_time.unique())

    def _known_partitions(self, cur, name) -> set[str]:
        cur.execute("SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
                    "WHERE i.inhparent = to_regclass(%s)", (f'"{self.schema}"."{name}"',))
        return {row[0] for row in cur.fetchall()}

    def _add_partitions(self, cur, name, months) -> None:
        """Make the monthly partitions of ``name`` that ``months`` need and the layer lacks.

        Made as a table and then attached: attaching takes a lock that readers and writers of the other months
        pass (creating one ``PARTITION OF`` the layer would hold every reader of it until the write commits).
        """
        wanted = {f"{name}_{pd.Timestamp(m):%Y_%m}": pd.Timestamp(m) for m in months}
        if not set(wanted) - self._known_partitions(cur, name):
            return  # the usual case: one look at the catalogue
        key = int(hashlib.sha1(f"onemap-partitions:{self.schema}.{name}".encode()).hexdigest()[:15], 16)
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # one process makes a month; others see it made
        known = self._known_partitions(cur, name)
        for part, start in sorted(wanted.items()):
            if part in known:
                continue
            cur.execute(sql.SQL("CREATE TABLE {} (LIKE {} INCLUDING DEFAULTS)").format(
                sql.Identifier(self.schema, part), self._table(name)))
            cur.execute(sql.SQL("ALTER TABLE {} ATTACH PARTITION {} FOR VALUES FROM ({}) TO ({})").format(
                self._table(name), sql.Identifier(self.schema, part), sql.Literal(start.to_pydatetime()),
                sql.Literal((start + pd.DateOffset(months=1)).to_pydatetime())))

    def _with_partitions(self, frames: dict) -> None:
        """Make, in a short transaction of their own, the partitions a write's rows need, before the write."""
        needed = {name: months for name, frame in frames.items() if (months := self._months(name, frame))}
        def add(cur):
            for name, months in needed.items():
                self._add_partitions(cur, name, months)
        if needed:
            self._write(add)

    def _rollup(self, cur, name):
        """The rollup's triggers on its source, and its rows counted again from the source's, in one transaction.

        One trigger per event (PostgreSQL allows transition tables only on a single-event trigger), each run
        once per statement: one grouped upsert of the statement's rows' counts, whatever the number of rows.
        A re-ingest that changes no key adds nothing (its +1 and -1 cancel). The upsert goes in key order, so
        two writers take the rows they share in the same order and wait for each other rather than deadlock.
        """
        layer = LAYERS[name]
        source = layer.counts.source
        key = sql.SQL(", ").join(map(sql.Identifier, layer.key))
        by_key = sql.SQL(", ").join(sql.SQL(str(i)) for i in range(1, len(layer.key) + 1))
        counted = self._table(name)
        measures = ["n", *(f"n_{flag}" for flag in layer.counts.flags)]
        measured = sql.SQL(", ").join(map(sql.Identifier, measures))
        # The rollup's key of a row of the source (or of a transition table of it), column by column.
        days = dict(layer.counts.days)
        key_of = sql.SQL(", ").join(
            sql.SQL("date_trunc('day', {}) AS {}").format(sql.Identifier(days[c]), sql.Identifier(c)) if c in days
            else sql.SQL("date_trunc({}, {}) AS {}").format(sql.Literal(c), sql.Identifier(layer.counts.day_of),
                                                           sql.Identifier(c))
            if c in ("day", "month") else sql.SQL("coalesce({0}, {1}) AS {0}").format(sql.Identifier(c), sql.Literal(MISSING))
            for c in layer.key)

        # The rows counted (those with every time a key column is the day of), of a table or transition table.
        counted_where = sql.SQL("").join(
            sql.SQL("{}{} IS NOT NULL").format(sql.SQL(" WHERE " if i == 0 else " AND "), sql.Identifier(column))
            for i, column in enumerate(layer.counts.counted_where()))

        def counts(sign):  # each measure of a group of rows, with its sign: count(*), then each flag's count
            return sql.SQL(", ").join([sql.SQL(f"{sign}count(*)")] + [
                sql.SQL(sign + "count(*) FILTER (WHERE {})").format(sql.Identifier(flag))
                for flag in layer.counts.flags])

        def add(delta):
            return sql.SQL("INSERT INTO {t} AS counted ({key}, {measured}) {delta} ORDER BY {by_key} "
                           "ON CONFLICT ({key}) DO UPDATE SET {sets}").format(
                t=counted, key=key, measured=measured, delta=delta, by_key=by_key,
                sets=sql.SQL(", ").join(sql.SQL("{0} = counted.{0} + EXCLUDED.{0}").format(sql.Identifier(m))
                                        for m in measures))
        # Only rows this statement took down can have reached 0 (a committed row never holds 0): those of
        # the keys its old rows had, already locked by the upsert before it.
        emptied = sql.SQL("DELETE FROM {t} WHERE n = 0 AND ({key}) IN (SELECT {key_of} FROM old_rows{w})").format(
            t=counted, key=key, key_of=key_of, w=counted_where)
        def each(sign):  # a moved row: +1 under its new key, -1 under its old (each flag likewise)
            return sql.SQL(", ").join([sql.SQL(f"{sign} AS n")] + [
                sql.SQL(f"CASE WHEN {{}} THEN {sign} ELSE 0 END AS {{}}").format(
                    sql.Identifier(flag), sql.Identifier(f"n_{flag}")) for flag in layer.counts.flags])
        sums = sql.SQL(", ").join(sql.SQL("sum({})").format(sql.Identifier(m)) for m in measures)
        moved = sql.SQL(" OR ").join(sql.SQL("sum({}) <> 0").format(sql.Identifier(m)) for m in measures)
        bodies = {
            "insert": (sql.SQL("NEW TABLE AS new_rows"),
                       [add(sql.SQL("SELECT {}, {} FROM new_rows{} GROUP BY {}").format(
                           key_of, counts(""), counted_where, by_key))]),
            "delete": (sql.SQL("OLD TABLE AS old_rows"),
                       [add(sql.SQL("SELECT {}, {} FROM old_rows{} GROUP BY {}").format(
                           key_of, counts("-"), counted_where, by_key)),
                        emptied]),
            # A row whose key and flags did not change counts +1 and -1 under one key: nothing is written for it.
            "update": (sql.SQL("OLD TABLE AS old_rows NEW TABLE AS new_rows"),
                       [add(sql.SQL("SELECT {key}, {sums} FROM (SELECT {key_of}, {plus} FROM new_rows{w} UNION ALL "
                                    "SELECT {key_of}, {minus} FROM old_rows{w}) AS moved GROUP BY {by_key} "
                                    "HAVING {moved}").format(
                           key=key, sums=sums, key_of=key_of, by_key=by_key, moved=moved, plus=each("1"),
                           minus=each("-1"), w=counted_where)),
                        emptied]),
        }
        cur.execute(sql.SQL("LOCK TABLE {} IN SHARE ROW EXCLUSIVE MODE").format(self._table(source)))
        for event, (referencing, statements) in bodies.items():
            function = sql.Identifier(self.schema, f"{name}_on_{event}")
            body = sql.SQL("BEGIN {}; RETURN NULL; END").format(sql.SQL("; ").join(statements)).as_string(cur)
            cur.execute(sql.SQL("CREATE OR REPLACE FUNCTION {}() RETURNS trigger LANGUAGE plpgsql AS {}").format(
                function, sql.Literal(body)))
            cur.execute(sql.SQL("CREATE OR REPLACE TRIGGER {} AFTER {} ON {} REFERENCING {} FOR EACH STATEMENT "
                                "EXECUTE FUNCTION {}()").format(
                sql.Identifier(f"{name}_on_{event}"), sql.SQL(event.upper()), self._table(source), referencing,
                function))
        cur.execute(sql.SQL("DELETE FROM {}").format(counted))
        cur.execute(sql.SQL("INSERT INTO {t} ({key}, {measured}) SELECT {key_of}, {counts} FROM {source}{w} "
                            "GROUP BY {by_key} ORDER BY {by_key}").format(
            t=counted, key=key, measured=measured, key_of=key_of, counts=counts(""), source=self._table(source),
            by_key=by_key, w=counted_where))

    def _next_seq(self, cur) -> int:
        """The next change number. Its row stays locked until the writer commits, so writers of changes
        go one at a time and their numbers commit in order: a reader that saw N has seen all below it."""
        cur.execute(sql.SQL("INSERT INTO {} (name, value) VALUES ('seq:changes', '1') ON CONFLICT (name) DO UPDATE "
                            "SET value = (CAST({}.value AS bigint) + 1)::text RETURNING value").format(
            self._table("settings"), sql.Identifier("settings")))
        return int(cur.fetchone()[0])

    def _add_column(self, cur, name, column):
        cur.execute(sql.SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS {} {}").format(
            self._table(name), sql.Identifier(column), sql.SQL(_PG_TYPES[LAYERS[name].columns[column]])))

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
        """``work(cursor)`` in one transaction on the primary."""
        with self._connection() as conn, conn.transaction(), conn.cursor() as cur:
            work(cur)

    def _write(self, work):
        """``work(cursor)`` in one transaction on the primary, which this process then reads until the
        replica has it."""
        with self._connection() as conn:
            with conn.transaction(), conn.cursor() as cur:
                work(cur)
            self._note_position(conn)

    def _read_run(self, work):
        """``work(cursor)`` in one transaction where reads go (``_reading``)."""
        with self._reading() as conn, conn.transaction(), conn.cursor() as cur:
            work(cur)

    def _replace(self, name, frame):
        self._with_partitions({name: frame})

        def work(cur):
            cur.execute(sql.SQL("DELETE FROM {}").format(self._table(name)))
            self._copy(cur, self._table(name), name, frame)
        self._write(work)

    def _upsert_many(self, frames, expect=()):
        self._with_partitions(frames)

        def work(cur):
            # First, so the change number's lock is held for the whole write (see _next_seq).
            seq = self._next_seq(cur) if any(LAYERS[name].changes for name in frames) else None
            for e in expect:  # locked until the write commits: a second writer waits, then reads what it wrote
                cur.execute(sql.SQL("SELECT {c} FROM {t} WHERE {w} FOR UPDATE").format(
                    c=sql.Identifier(e.column), t=self._table(e.layer), w=sql.SQL(" AND ").join(
                        sql.SQL("{} = %s").format(sql.Identifier(k)) for k in LAYERS[e.layer].key)),
                    list(e.key))
                check_expected(e, cur.fetchall())
            for name, frame in frames.items():
                self._upsert_one(cur, name, frame, seq if LAYERS[name].changes else None)
        self._write(work)

    def _upsert_one(self, cur, name, frame, seq=None):
        layer = LAYERS[name]
        cols = self._columns(name)
        staging = sql.Identifier(f"_staging_{name}")
        cur.execute(sql.SQL("CREATE TEMP TABLE {} (LIKE {} INCLUDING DEFAULTS) ON COMMIT DROP").format(
            staging, self._table(name)))
        self._copy(cur, staging, name, frame)
        written = cols + ([CHANGE_SEQ] if seq is not None else [])
        chosen = [sql.Identifier(c) for c in cols] + ([sql.Literal(seq)] if seq is not None else [])
        updates = [c for c in written if c not in layer.key]
        if layer.partitioned_by:
            # No key across partitions for ON CONFLICT to find: the rows the batch replaces go, then the batch
            # comes in (a case whose month changed moves to its new partition). Writers of a layer with change
            # numbers go one at a time (_next_seq), so no other writer adds a key between the two. The staging
            # table is counted first: with no statistics the planner joined it to every partition's rows (one
            # case into a million: 671 ms), where with them it probes each partition's key index (2.7 ms).
            cur.execute(sql.SQL("ANALYZE {}").format(staging))
            cur.execute(sql.SQL("DELETE FROM {t} USING {s} WHERE {match}").format(
                t=self._table(name), s=staging, match=sql.SQL(" AND ").join(
                    sql.SQL("{t}.{c} = {s}.{c}").format(t=self._table(name), s=staging, c=sql.Identifier(c))
                    for c in layer.key)))
            cur.execute(sql.SQL("INSERT INTO {t} ({cols}) SELECT {chosen} FROM {s}").format(
                t=self._table(name), s=staging, cols=sql.SQL(", ").join(map(sql.Identifier, written)),
                chosen=sql.SQL(", ").join(chosen)))
            return
        cur.execute(sql.SQL(
            "INSERT INTO {t} ({cols}) SELECT {chosen} FROM {s} "
            "ON CONFLICT ({key}) DO UPDATE SET {sets}").format(
            t=self._table(name), s=staging,
            cols=sql.SQL(", ").join(map(sql.Identifier, written)),
            chosen=sql.SQL(", ").join(chosen),
            key=sql.SQL(", ").join(map(sql.Identifier, layer.key)),
            sets=sql.SQL(", ").join(
                sql.SQL("{c} = EXCLUDED.{c}").format(c=sql.Identifier(c)) for c in updates)))

    def _count(self, name):
        found = []
        self._read_run(lambda cur: found.append(
            cur.execute(sql.SQL("SELECT count(*) FROM {}").format(self._table(name))).fetchone()[0]))
        return int(found[0])

    def _read(self, name, where):
        query, params = self._select(name, where)
        rows = []

        def work(cur):
            cur.execute(query, params)
            rows.extend(cur.fetchall())
        self._read_run(work)
        return self._frame(name, rows)

    def _read_batches(self, name, where, size):
        # A server-side cursor: PostgreSQL sends ``size`` rows at a time, as they are asked for.
        query, params = self._select(name, where)
        with self._reading() as conn, conn.transaction(), \
                conn.cursor(name=f"batches_{uuid.uuid4().hex[:12]}") as cur:
            cur.execute(query, params)
            while rows := cur.fetchmany(size):
                yield self._frame(name, rows)

    def _select(self, name, where):
        layer = LAYERS[name]
        select = [sql.Identifier(c) for c in layer.columns]
        if layer.geometry:
            select.append(sql.SQL("ST_AsBinary(geometry) AS geometry"))
        terms, params = self._where(where)
        return sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(select), self._table(name), terms), params

    def _where(self, where):
        """`` WHERE …`` of the filter terms (empty without any), and its parameters."""
        terms, params = [], []
        for t in where:
            if t.op == "among":
                other, inner = t.value
                clause, inner_params = self._where(inner)
                terms.append(sql.SQL("{c} IN (SELECT {c} FROM {t}{w})").format(
                    c=sql.Identifier(t.column), t=self._table(other), w=clause))
                params.extend(inner_params)
            elif t.op == "in":
                terms.append(sql.SQL("{} = ANY(%s)").format(sql.Identifier(t.column)))
                params.append(list(t.value))
            elif t.op == "bbox":
                # The index's boxes are single floats rounded outward: each feature is checked on its own bounds.
                terms.append(sql.SQL("(geometry && ST_MakeEnvelope(%s, %s, %s, %s, {0}) AND ST_XMax(geometry) >= %s "
                                     "AND ST_XMin(geometry) <= %s AND ST_YMax(geometry) >= %s "
                                     "AND ST_YMin(geometry) <= %s)").format(sql.Literal(_SRID)))
                x0, y0, x1, y1 = (float(v) for v in t.value)
                params.extend((x0, y0, x1, y1, x0, x1, y0, y1))
            elif t.op == "within":
                spans = [sql.SQL("({0} >= %s AND {0} < %s)").format(sql.Identifier(t.column)) for _ in t.value]
                terms.append(sql.SQL("({})").format(sql.SQL(" OR ").join(spans) if spans else sql.SQL("false")))
                params.extend(v for span in t.value for v in span)
            else:
                terms.append(sql.SQL("{} {} %s").format(sql.Identifier(t.column), sql.SQL(t.op)))
                params.append(t.value)
        return (sql.SQL(" WHERE ") + sql.SQL(" AND ").join(terms) if terms else sql.SQL("")), params

    def _aggregate(self, name, where, by, measures):
        terms, params = self._where(where)
        chosen = [sql.SQL("date_trunc('day', {})").format(sql.Identifier(c[4:])) if c.startswith("day:")
                  else sql.Identifier(c) for c in by] + [
            sql.SQL("count(*)") if m == "rows" else
            sql.SQL("count(*) FILTER (WHERE {})").format(sql.Identifier(m[5:])) if m.startswith("true:") else
            sql.SQL("{}({})").format(sql.SQL(m.split(":", 1)[0]), sql.Identifier(m.split(":", 1)[1]))
            for m in measures]
        query = sql.SQL("SELECT {} FROM {}{}").format(sql.SQL(", ").join(chosen), self._table(name), terms)
        if by:
            query += sql.SQL(" GROUP BY {}").format(sql.SQL(", ").join(sql.SQL(str(i + 1)) for i in range(len(by))))
        rows = []
        self._read_run(lambda cur: rows.extend(cur.execute(query, params).fetchall()))
        return rows

    def _page_keys(self, name, where, order, limit, offset):
        terms, params = self._where(where)
        key = LAYERS[name].key[0]
        query = sql.SQL("SELECT {} FROM {}{} ORDER BY {} LIMIT {} OFFSET {}").format(
            sql.Identifier(key), self._table(name), terms,
            sql.SQL(", ").join(sql.SQL("{} {} NULLS LAST").format(sql.Identifier(c), sql.SQL("DESC" if d else "ASC"))
                               for c, d in order), sql.Literal(limit), sql.Literal(offset))
        keys = []
        self._read_run(lambda cur: keys.extend(row[0] for row in cur.execute(query, params).fetchall()))
        return keys

    def estimated_count(self, name):
        """PostgreSQL's own estimate (``reltuples``, kept by ANALYZE and autovacuum) over the layer's partitions
        (a partitioned layer's own is their sum again); counted where it has none yet (a table never analysed)."""
        found = []
        self._read_run(lambda cur: found.append(cur.execute(
            "SELECT sum(c.reltuples) FILTER (WHERE c.reltuples >= 0), bool_or(c.reltuples < 0) FROM pg_class c "
            "WHERE c.relkind = 'r' AND (c.oid = to_regclass(%s) OR c.oid IN (SELECT inhrelid FROM pg_inherits "
            "WHERE inhparent = to_regclass(%s)))", (f'"{self.schema}"."{name}"',) * 2).fetchone()))
        total, unknown = found[0]
        if total is None or unknown:
            return self.count(name)
        return int(total)

    def _frame(self, name, rows):
        layer = LAYERS[name]
        if 0 < len(rows) <= FEW_ROWS:
            at = len(layer.columns)
            return from_rows(name, rows, shapely.from_wkb([None if row[at] is None else bytes(row[at]) for row in rows])
                             if layer.geometry else None)
        names = list(layer.columns) + (["geometry"] if layer.geometry else [])
        frame = pd.DataFrame(rows, columns=names)
        if layer.geometry:
            geoms = shapely.from_wkb([bytes(g) if g is not None else None for g in frame["geometry"]])
            frame = gpd.GeoDataFrame(frame.drop(columns="geometry"), geometry=geoms, crs=STORAGE_CRS)
        return conform(name, frame)
