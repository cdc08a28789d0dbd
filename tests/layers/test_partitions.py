"""Cases in PostGIS are kept one partition per month of when they were reported (PostgreSQL's own partitioning)."""

from __future__ import annotations

import threading

import psycopg
import pytest

from layers.store import SCHEMA_VERSION, Condition, open_store
from layers.store.migrations import MIGRATIONS, Partition
from layers.store.postgis import split_schema
from tests.layers.test_store_contract import cases

pytestmark = pytest.mark.postgis
# The migration that moved cases into partitions.
PARTITIONED = next(m.version for m in MIGRATIONS if any(isinstance(step, Partition) for step in m.steps))


def partitions(url: str) -> dict[str, int]:
    """Each partition of the store's cases and how many rows it holds."""
    dsn, schema = split_schema(url)
    with psycopg.connect(dsn) as conn:
        names = [r[0] for r in conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = to_regclass(%s) ORDER BY 1", (f'"{schema}".cases',))]
        return {n: conn.execute(f'SELECT count(*) FROM "{schema}"."{n}"').fetchone()[0] for n in names}


def plan(url: str, query: str) -> str:
    dsn, schema = split_schema(url)
    with psycopg.connect(dsn) as conn:
        return "\n".join(r[0] for r in conn.execute(f"EXPLAIN {query.format(s=schema)}"))


def test_cases_land_in_the_partition_of_their_month_and_move_when_it_changes(postgis_url):
    with open_store(postgis_url) as store:
        store.upsert("cases", cases(["A1", "A2"], day="2020-03-31 23:59"))
        store.upsert("cases", cases(["B1"], day="2020-04-01"))
        store.upsert("cases", cases(["C1"], day="2021-12-15"))
        assert partitions(postgis_url) == {"cases_2020_03": 2, "cases_2020_04": 1, "cases_2021_12": 1}
        # Corrected: A2 was reported in April. It moves; it is not kept twice.
        store.upsert("cases", cases(["A2"], status="closed", day="2020-04-02"))
        assert partitions(postgis_url) == {"cases_2020_03": 1, "cases_2020_04": 2, "cases_2021_12": 1}
        back = store.read("cases")
        assert sorted(back["case_id"]) == ["A1", "A2", "B1", "C1"]
        assert back.set_index("case_id").loc["A2", "status"] == "closed"
        # The same batch again changes nothing.
        store.upsert("cases", cases(["A2"], status="closed", day="2020-04-02"))
        assert store.count("cases") == 4


def test_a_read_of_a_period_touches_its_months_only(postgis_url):
    with open_store(postgis_url) as store:
        for month in range(1, 13):
            store.upsert("cases", cases([f"M{month}"], day=f"2020-{month:02d}-10"))
        april = store.read("cases", [Condition("reported_at", ">=", "2020-04-01"),
                                     Condition("reported_at", "<", "2020-05-01")])
        assert april["case_id"].tolist() == ["M4"]
    shown = plan(postgis_url, "SELECT case_id FROM \"{s}\".cases WHERE reported_at >= '2020-04-01' "
                              "AND reported_at < '2020-05-01'")
    assert "cases_2020_04" in shown and "cases_2020_05" not in shown and "cases_2020_03" not in shown


def test_two_writers_of_a_new_month_at_once_both_land(postgis_url):
    with open_store(postgis_url) as store:
        store.upsert("cases", cases(["X0"], day="2020-01-01"))  # the store is built
    failures = []

    def write(ids):
        try:
            with open_store(postgis_url) as own:
                own.upsert("cases", cases(ids, day="2022-07-07"))
        except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
            failures.append(exc)
    writers = [threading.Thread(target=write, args=([f"W{n}a", f"W{n}b"],)) for n in range(4)]
    for w in writers:
        w.start()
    for w in writers:
        w.join()
    assert failures == []
    assert partitions(postgis_url)["cases_2022_07"] == 8


def test_a_store_with_its_cases_stored_whole_is_moved_into_partitions(postgis_url):
    with open_store(postgis_url) as store:
        store.upsert("cases", cases(["P1", "P2"], day="2020-05-05"))
        store.upsert("cases", cases(["P3"], day="2020-06-06"))
        before = store.read_changes("cases", 0).sort_values("case_id").reset_index(drop=True)
    dsn, schema = split_schema(postgis_url)
    with psycopg.connect(dsn, autocommit=True) as conn:  # as a store before it had them: one plain table
        conn.execute(f'CREATE TABLE "{schema}".plain AS SELECT * FROM "{schema}".cases')
        conn.execute(f'DROP TABLE "{schema}".cases')
        conn.execute(f'ALTER TABLE "{schema}".plain RENAME TO cases')
        conn.execute(f'ALTER TABLE "{schema}".cases ADD PRIMARY KEY (case_id)')
        conn.execute(f'CREATE INDEX cases_reported_at ON "{schema}".cases (reported_at)')
        conn.execute(f'CREATE INDEX cases_change_seq ON "{schema}".cases (change_seq)')
        conn.execute(f'DELETE FROM "{schema}".schema_version WHERE version >= {PARTITIONED}')
    assert partitions(postgis_url) == {}
    with open_store(postgis_url) as store:
        assert store.migrate() == list(range(PARTITIONED, SCHEMA_VERSION + 1))
        assert partitions(postgis_url) == {"cases_2020_05": 2, "cases_2020_06": 1}
        after = store.read_changes("cases", 0).sort_values("case_id").reset_index(drop=True)
        assert after.equals(before)  # every row, its change number and geometry with it
    with psycopg.connect(dsn) as conn:
        indexes = {r[0] for r in conn.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = %s AND tablename = 'cases'", (schema,))}
    assert {"cases_reported_at", "cases_change_seq", "cases_geometry_gist"} <= indexes
