"""The store's schema is versioned: opening changes nothing, a store behind says so, ``onemap migrate`` brings it up."""

from __future__ import annotations

import threading

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import box

from layers.errors import StoreBehindSchema
from layers.store import SCHEMA_VERSION, Store, open_store
from layers.store.migrations import MIGRATIONS, pending
from onemap.cli import main


def streets():
    return gpd.GeoDataFrame({"street_code": ["330205003"], "name": ["孔浦街道"]}, geometry=[box(0, 0, 1, 1)], crs=4490)


def test_a_new_store_reads_empty_and_its_first_write_builds_it(store):
    assert store.schema_version() is None
    assert store.read("cases").empty and store.count("cases") == 0 and store.data_versions() == {}
    store.write_layer("streets", streets())
    assert store.schema_version() == SCHEMA_VERSION
    assert store.read("schema_version")["version"].tolist() == [m.version for m in MIGRATIONS]


def test_migrate_is_idempotent_and_says_what_it_did(store, capsys):
    assert main(["migrate", "--store", store.url, "--json"]) == 0
    first = capsys.readouterr().out
    assert main(["migrate", "--store", store.url]) == 0
    assert f"at schema version {SCHEMA_VERSION}, nothing to do" in capsys.readouterr().out
    assert f'"applied": {[m.version for m in MIGRATIONS]}' in first.replace(", ", ", ")
    assert pending(SCHEMA_VERSION) == []


def test_a_store_ahead_of_this_program_is_refused(store):
    store.write_layer("streets", streets())
    store.upsert("schema_version", pd.DataFrame([{"version": SCHEMA_VERSION + 1, "applied_at": pd.Timestamp.now()}]))
    with open_store(store.url) as again, pytest.raises(StoreBehindSchema, match="newer than this onemap"):
        again.read("streets")


@pytest.mark.postgis
def test_a_postgis_store_from_before_versioning_is_refused_then_migrated(postgis_url):
    import psycopg

    from layers.store.postgis import split_schema

    dsn, schema = split_schema(postgis_url)
    with psycopg.connect(dsn, autocommit=True) as conn:  # as _ensure_schema made them, less a later column
        conn.execute(f'CREATE SCHEMA "{schema}"')
        conn.execute(f'CREATE TABLE "{schema}".streets (street_code text PRIMARY KEY, name text, '
                     f'geometry geometry(Geometry, 4490))')
        conn.execute(f"INSERT INTO \"{schema}\".streets VALUES ('330205003', '孔浦街道', NULL)")
    with open_store(postgis_url) as store:
        assert store.schema_version() == 0
        with pytest.raises(StoreBehindSchema, match="onemap migrate --store"):
            store.read("streets")
    assert main(["migrate", "--store", postgis_url]) == 0
    with open_store(postgis_url) as store:
        got = store.read("streets")
        assert got["name"].tolist() == ["孔浦街道"] and "kind" in got.columns
        assert store.schema_version() == SCHEMA_VERSION


@pytest.mark.postgis
def test_opening_and_reading_a_store_takes_no_lock_that_waits_behind_a_reader(postgis_url):
    """The old open ran ALTER TABLE on every layer: it queued behind any open read and stalled the server."""
    import psycopg

    from layers.store.postgis import split_schema

    with open_store(postgis_url) as store:
        store.write_layer("streets", streets())
    dsn, schema = split_schema(postgis_url)
    with psycopg.connect(dsn) as reader:
        reader.execute(f'SELECT * FROM "{schema}".streets')  # a transaction left open, holding its table
        done = {}

        def open_and_read():
            with open_store(postgis_url) as store:
                done["names"] = store.read("streets")["name"].tolist()
                done["versions"] = store.data_versions()

        worker = threading.Thread(target=open_and_read, daemon=True)
        worker.start()
        worker.join(20)
        reader.rollback()
    assert done.get("names") == ["孔浦街道"] and "streets" in done["versions"]


def test_a_backend_lacking_a_method_fails_when_it_is_defined():
    with pytest.raises(TypeError, match="lacks _aggregate, _page_keys, _read"):
        class Partial(Store):  # noqa: F841 — defining it is the test
            def reset(self): ...
            def _schema_version(self): ...
            def _migration_lock(self): ...
            def _apply(self, step): ...
            def _replace(self, name, frame): ...
            def _upsert_many(self, frames): ...
            def _count(self, name): ...


def test_cases_stored_before_they_carried_a_district_get_the_stores_one(store):
    from layers.store import Condition
    from tests.layers.test_store_contract import cases

    district = gpd.GeoDataFrame({"district_code": ["330205"], "name": ["江北区"]}, geometry=[box(0, 0, 1, 1)],
                                crs=4490)
    store.write_layer("district", district)
    store.upsert("cases", cases(["OLD1", "OLD2"]))  # as a store before version 12 wrote them: no district
    assert store.read("cases")["district_code"].isna().all()
    _forget(store, 12)
    with open_store(store.url) as again:
        assert again.migrate()[0] == 12
        assert again.read("cases")["district_code"].tolist() == ["330205", "330205"]
        assert len(again.read("cases", [Condition("district_code", "=", "330205")])) == 2


def _forget(store, version):
    """The store as it was before migration ``version``: its row in schema_version gone."""
    kept = store.read("schema_version")
    store.write_layer("schema_version", kept[kept["version"] < version])
