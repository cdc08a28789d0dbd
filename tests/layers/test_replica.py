"""The PostGIS store with a read URL: reads from a streaming replica, writes to the primary, this process's
own writes read back at once. Each test has a primary and a hot standby of its own (the ``replica`` fixture)."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from layers.errors import StoreUnreachable
from layers.schema import CHANGE_SEQ
from layers.store.postgis import PostGISStore
from tests.layers.test_store_contract import cases, three_cells

pytestmark = pytest.mark.postgis


def stores(replica, schema="t"):
    """(the store reading from the standby, the same store without a read URL)."""
    url = f"{replica.primary.url}?schema={schema}"
    return PostGISStore(url, read_url=replica.standby.url), PostGISStore(url, read_url="")


def pushed_behind_the_store(replica, case_id):
    """A copy of a stored case written straight into the primary, not through the store: the store does not
    wait for the standby to have it."""
    import psycopg

    with psycopg.connect(replica.primary.url, autocommit=True) as conn:
        conn.execute("CREATE TEMP TABLE pushed AS SELECT * FROM t.cases LIMIT 1")
        conn.execute(f"UPDATE pushed SET case_id = %s, {CHANGE_SEQ} = NULL", (case_id,))
        conn.execute("INSERT INTO t.cases SELECT * FROM pushed")


def test_a_write_is_read_back_at_once_even_while_the_standby_lags(replica):
    store, _ = stores(replica)
    with store:
        store.upsert("cases", cases(["a"]))
        replica.caught_up()
        replica.standby.execute("SELECT pg_wal_replay_pause()")  # the standby stops where it is
        try:
            store.upsert("cases", cases(["b"], status="closed"))
            # The standby does not have it, yet this process reads what it wrote: from the primary.
            assert replica.standby.execute("SELECT count(*) FROM t.cases")[0] == 1
            assert sorted(store.read("cases")["case_id"]) == ["a", "b"]
            assert store.count("cases") == 2
            assert [len(f) for f in store.read_batches("cases", size=1)] == [1, 1]
        finally:
            replica.standby.execute("SELECT pg_wal_replay_resume()")
        replica.caught_up()
        store.read("cases")  # the standby has replayed the write: reads go back to it

        # Shown by a write the store did not make, held back on the standby: the store no longer sees the primary.
        replica.standby.execute("SELECT pg_wal_replay_pause()")
        try:
            pushed_behind_the_store(replica, "c")
            assert sorted(store.read("cases")["case_id"]) == ["a", "b"]
            assert store.count("cases") == 2
        finally:
            replica.standby.execute("SELECT pg_wal_replay_resume()")
        replica.caught_up()
        assert sorted(store.read("cases")["case_id"]) == ["a", "b", "c"]
        with store.pool("read").connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]


def test_the_contracts_reads_give_the_same_frames_on_the_standby_and_the_primary(replica):
    on_standby, on_primary = stores(replica)
    with on_standby, on_primary:
        on_primary.write_layer("grid_cells", three_cells())
        on_primary.upsert("cases", pd.concat([cases(["jan"], day="2020-01-31 23:00"),
                                              cases(["feb", "mar"], day="2020-02-01 08:00")]))
        seen = int(on_primary.data_versions()["seq:changes"])
        on_primary.upsert("cases", cases(["mar"], status="closed", day="2020-03-02"))
        replica.caught_up()
        replica.standby.execute("SELECT pg_wal_replay_pause()")  # what the standby answers is what it held then
        try:
            pushed_behind_the_store(replica, "only-on-primary")
            for name in ("grid_cells", "cases"):
                a, b = on_standby.read(name), on_primary.read(name)
                b = b[b["case_id"] != "only-on-primary"].reset_index(drop=True) if name == "cases" else b
                pd.testing.assert_frame_equal(a.sort_values(a.columns[0], ignore_index=True),
                                              b.sort_values(b.columns[0], ignore_index=True))
            assert on_standby.count("cases") == 3 and on_primary.count("cases") == 4
            assert on_standby.data_versions() == on_primary.data_versions()
            assert list(on_standby.read_changes("cases", seen)["case_id"]) == ["mar"]
            assert sum(len(f) for f in on_standby.read_batches("cases", size=2)) == 3
            assert on_standby.schema_version() == on_primary.schema_version()
        finally:
            replica.standby.execute("SELECT pg_wal_replay_resume()")


def test_with_the_primary_down_reads_go_on_and_writes_are_refused(replica, monkeypatch):
    monkeypatch.setenv("ONEMAP_PG_POOL_TIMEOUT", "1")
    store, _ = stores(replica)
    with store:
        store.write_layer("grid_cells", three_cells())
        store.upsert("cases", cases(["a", "b"]))
        replica.caught_up()
        assert store.separate_reads and store.accepts_writes()
        with replica.primary_stopped():
            assert store.count("cases") == 2
            assert len(store.read("grid_cells")) == 3
            with PostGISStore(store.url, read_url=replica.standby.url) as fresh:  # a server started meanwhile
                assert len(fresh.read("cases")) == 2
            started = time.monotonic()
            assert not store.accepts_writes(timeout=1)
            assert time.monotonic() - started < 3
            with pytest.raises(StoreUnreachable, match="does not answer|failed"):
                store.upsert("cases", cases(["c"]))
        for _ in range(40):  # the pool finds the primary again by itself
            if store.accepts_writes(timeout=1):
                break
            time.sleep(0.25)
        store.upsert("cases", cases(["c"]))
        assert store.count("cases") == 3


def test_a_multi_host_read_url_falls_back_to_the_primary_when_the_standby_is_down(replica):
    hosts = f"127.0.0.1:{replica.standby.port},127.0.0.1:{replica.primary.port}"
    url = f"{replica.primary.url}?schema=t"
    store = PostGISStore(url, read_url=f"postgresql://postgres@{hosts}/test?target_session_attrs=prefer-standby")
    with store:
        store.upsert("cases", cases(["a"]))
        replica.caught_up()
        with store.pool("read").connection() as conn:
            assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]  # the standby, while it is up
        replica.standby.stop()
        try:
            store.upsert("cases", cases(["b"]))
            # The reads land on the primary (libpq's next host): it has every write, nothing waits for a replay.
            pushed_behind_the_store(replica, "c")
            assert sorted(store.read("cases")["case_id"]) == ["a", "b", "c"]
            with store.pool("read").connection() as conn:
                assert not conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
        finally:
            replica.standby.start()
