"""case_counts, kept by the store in each write's transaction, always equals the cases counted afresh.

Both stores (the `store` fixture): every way cases are written — new cases, the same cases changed, a
re-ingest that changes nothing, a status step, an unmerge, a layer replaced whole (the only way a case
leaves the store) — and a store from before the rollup, migrated.
"""

from __future__ import annotations

import sqlite3
import threading

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Point

import layers.store.base
from etl.status import update_status
from etl.unmerge import unmerge
from layers.errors import InvalidValue
from layers.rollups import counts_from_cases, counts_of
from layers.schema import CASE_KINDS, CASE_STATUSES, LAYERS, LEVELS
from layers.store import open_store
from layers.store.base import empty_frame
from layers.store.migrations import ROLLED_UP_SINCE, pending

KEY = list(LAYERS["case_counts"].key)
ROLLUPS = [name for name, layer in LAYERS.items() if layer.counts and name != "case_counts"]
CASE_IDS = [f"c{i}" for i in range(6)]
# Times at the edges of a day (the last millisecond, midnight) and a day of another year.
TIMES = ["2020-03-01 00:00:00", "2020-03-01 23:59:59.999", "2020-03-02 00:00:00", "2020-03-02 08:30:00",
         "2021-01-01 12:00:00", "2020-02-29 23:59:59.999", "2020-03-31 23:59:59"]

# A case is one plain case with up to three of its fields moved: cases then often share a key (n > 1) or
# differ in one field only (the day alone, say), where a wrong grouping would show.
PLAIN = {"district_code": "330205", "street_code": "330205003", "grid_cell": "kp-01", "reported_at": TIMES[0],
         "kind": "dispute", "category": "邻里纠纷", "channel": "walk_in", "channels": None, "status": "reported",
         "level": "community", "resolved_in_place": False, "closed_at": None}
MOVES = {
    "district_code": ["330206", None],
    "street_code": ["330205005", None],
    "grid_cell": ["kp-02", None],  # None: outside every cell
    "reported_at": TIMES[1:],
    "kind": CASE_KINDS[1:],
    "category": ["物业管理"],
    "channel": ["hotline_12345"],
    "channels": ["hotline_12345;walk_in"],  # a merged case: every channel that reported it
    "status": CASE_STATUSES[1:],
    "resolved_in_place": [True, None],
    "level": LEVELS[1:],
    "closed_at": ["2020-03-05 10:00:00", "2020-03-31 23:59:59.999"],  # closed (counts_month_closed counts it)
}
fields = st.lists(st.sampled_from([(f, v) for f, values in MOVES.items() for v in values]), max_size=3).map(
    lambda moves: {**PLAIN, **dict(moves)})
writes = st.lists(st.one_of(
    st.tuples(st.just("write"), st.dictionaries(st.sampled_from(CASE_IDS), fields, min_size=1, max_size=4)),
    st.tuples(st.just("again")),
    st.tuples(st.just("status"), st.integers(0, 20), st.sampled_from(CASE_STATUSES)),
    st.tuples(st.just("merge"), st.integers(0, 20), fields),
    st.tuples(st.just("unmerge"), st.integers(0, 20)),
    st.tuples(st.just("replace"), st.lists(st.booleans(), min_size=1, max_size=6), st.sampled_from(CASE_STATUSES)),
), min_size=1, max_size=8)


def case_rows(cases: dict) -> gpd.GeoDataFrame:
    """Cases (case_id → the fields drawn) as an ingest writes them."""
    rows = [{"case_id": case_id, **f, "reported_at": pd.Timestamp(f["reported_at"]),
             "closed_at": pd.Timestamp(f["closed_at"]) if f.get("closed_at") else pd.NaT,
             "level_received": "community", "people": 1, "location_precision": "building",
             "outside_grid": f["grid_cell"] is None} for case_id, f in cases.items()]
    return gpd.GeoDataFrame(rows, geometry=[Point(121.55, 29.9)] * len(rows), crs=4490)


def merged_record(case_id: str, source_id: str, f: dict) -> gpd.GeoDataFrame:
    """An intake record of another channel merged into ``case_id``, saying ``f`` of its matter."""
    said = {k: v for k, v in f.items() if k != "channels"}  # a record is of one channel
    return gpd.GeoDataFrame([{"source": "hotline_12345", "source_id": source_id, "case_id": case_id, **said,
                              "reported_at": pd.Timestamp(said["reported_at"]),
                              "closed_at": pd.Timestamp(said["closed_at"]) if said.get("closed_at") else pd.NaT, "level_received": "community",
                              "people": 1, "merged": True, "merge_reason": "同一地点同一事项"}],
                            geometry=[Point(121.55, 29.9)], crs=4490)


def assert_counted(store):
    cases = store.read("cases")
    held = store.read("case_counts")
    assert (held["n"] > 0).all()
    pd.testing.assert_frame_equal(held.sort_values(KEY).reset_index(drop=True), counts_from_cases(cases))
    for name in ROLLUPS:  # the narrower counts of the same cases, kept alike
        held = store.read(name)
        assert (held["n"] > 0).all(), name
        pd.testing.assert_frame_equal(held.sort_values(list(LAYERS[name].key)).reset_index(drop=True),
                                      counts_of(name, cases), obj=name)


def apply(store, write, merged: list):
    """One write of the kind drawn, through the path the product takes for it."""
    stored = store.read("cases")
    kind = write[0]
    if kind == "write":  # new cases, or the same cases changed (an ingest's upsert)
        store.upsert("cases", case_rows(write[1]))
    elif kind == "again":  # a re-ingest of what is stored: nothing changes
        store.upsert("cases", stored)
    elif kind == "status" and len(stored):  # a channel system's status step (Open311)
        case = stored.iloc[write[1] % len(stored)]
        update_status(store, case["case_id"], case["channel"], write[2], pd.Timestamp("2021-02-01 09:00"))
    elif kind == "merge" and len(stored):  # a record merged into a case, to be split out by an unmerge
        source_id = str(len(merged) + 1)
        store.upsert("case_sources", merged_record(stored["case_id"].iat[write[1] % len(stored)], source_id, write[2]))
        merged.append(source_id)
    elif kind == "unmerge":
        # A record whose case is still stored (a replace may have taken it out; the unmerge needs it).
        records = store.read("case_sources")
        records = records[records["merged"].fillna(False).astype(bool) & records["case_id"].isin(stored["case_id"])]
        if len(records):
            unmerge(store, "hotline_12345", records["source_id"].iat[write[1] % len(records)])
    elif kind == "replace":  # the layer written whole: cases left out are deleted, the rest rewritten
        keep = [write[1][i % len(write[1])] for i in range(len(stored))]
        kept = stored[np.array(keep, dtype=bool)].copy()
        kept.loc[kept.index[:1], "status"] = write[2]
        store.write_layer("cases", kept)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(first=st.dictionaries(st.sampled_from(CASE_IDS), fields, min_size=2, max_size=6), writes=writes)
def test_case_counts_equal_the_cases_counted_after_every_write(store, first, writes):
    store.write_layer("cases", empty_frame("cases"))  # each example from no cases (the store is built once)
    store.write_layer("case_sources", empty_frame("case_sources"))
    assert_counted(store)
    merged = []
    for write in [("write", first), *writes]:
        apply(store, write, merged)
        assert_counted(store)


def test_cases_outside_any_cell_or_street_are_counted_under_an_empty_key(store):
    store.upsert("cases", case_rows({
        "a": {"street_code": None, "grid_cell": None, "reported_at": "2020-03-01 23:59:59.999", "kind": "dispute",
              "category": "邻里纠纷", "channel": "walk_in", "status": "reported", "level": "community"},
        "b": {"street_code": "330205003", "grid_cell": None, "reported_at": "2020-03-02 00:00:00", "kind": "dispute",
              "category": "邻里纠纷", "channel": "walk_in", "status": "reported", "level": "community"}}))
    held = store.read("case_counts").sort_values("day")
    assert held[["day", "street_code", "grid_cell", "n"]].values.tolist() == [
        [pd.Timestamp("2020-03-01"), "", "", 1], [pd.Timestamp("2020-03-02"), "330205003", "", 1]]


def test_the_rollup_is_kept_by_the_store_and_never_written_directly(store):
    counts = counts_from_cases(case_rows({"a": {
        "street_code": "330205003", "grid_cell": "kp-01", "reported_at": "2020-03-01 08:00:00", "kind": "dispute",
        "category": "邻里纠纷", "channel": "walk_in", "status": "reported", "level": "community"}}))
    with pytest.raises(InvalidValue, match="kept by the store from 'cases'"):
        store.upsert("case_counts", counts)
    with pytest.raises(InvalidValue, match="kept by the store"):
        store.write_layer("case_counts", counts)
    assert store.read("case_counts").empty


def test_writers_at_once_on_the_same_counts_lose_nothing(store):
    """Two writers moving cases between the same keys at the same moment: each waits for the other, none is lost."""
    store.upsert("cases", case_rows({"seed": PLAIN}))  # the store built before the writers start
    failed = []

    def writer(name):
        try:
            for step in range(6):
                status = CASE_STATUSES[step % 2]
                store.upsert("cases", case_rows({f"{name}{i}": {**PLAIN, "status": status} for i in range(20)}))
        except Exception as exc:  # said after the join, where the test fails
            failed.append(exc)
    threads = [threading.Thread(target=writer, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failed
    assert_counted(store)
    assert store.read("case_counts")["n"].sum() == 41


def test_an_ingested_district_is_counted_on_both_stores(demo_store):
    """The demo's cases came through the real ingest (the GeoPackage) and a copy of the layer (PostGIS)."""
    with open_store(demo_store) as store:
        assert store.count("case_counts") > 0
        assert_counted(store)


def test_a_store_with_cases_from_before_the_rollup_is_counted_when_migrated(store, monkeypatch):
    rolled_up = ROLLED_UP_SINCE["case_counts"]
    # This program as it was one version before: its migrations, and the store written at it.
    monkeypatch.setattr(layers.store.base, "SCHEMA_VERSION", rolled_up - 1)
    monkeypatch.setattr(layers.store.base, "pending", lambda version: [
        m for m in pending(version) if m.version < rolled_up])
    drawn = {f"c{i}": {"street_code": "330205003", "grid_cell": ["kp-01", None][i % 2],
                       "reported_at": TIMES[i % len(TIMES)], "kind": "dispute", "category": "邻里纠纷",
                       "channel": "walk_in", "status": CASE_STATUSES[i % 4], "level": "community"}
             for i in range(12)}
    store.upsert("cases", case_rows(drawn))
    store.upsert("cases", case_rows({"c0": {**drawn["c0"], "status": "closed"}}))
    _without_case_counts(store)  # the version before had no such layer (its first migration made today's)
    monkeypatch.undo()
    store.close()
    with open_store(store.url) as again:
        assert again.schema_version() == rolled_up - 1
        assert again.migrate()[0] == rolled_up
        assert again.count("case_counts") > 0
        assert_counted(again)
        again.upsert("cases", case_rows({"c1": {**drawn["c1"], "grid_cell": "kp-02"}}))  # and kept from then on
        assert_counted(again)


def _without_case_counts(store):
    if store.url.endswith(".gpkg"):
        with sqlite3.connect(store.url) as conn:
            conn.execute("DROP TABLE case_counts")
            for table in ("gpkg_contents", "gpkg_ogr_contents"):
                conn.execute(f"DELETE FROM {table} WHERE table_name = 'case_counts'")
        return
    import psycopg

    from layers.store.postgis import split_schema

    dsn, schema = split_schema(store.url)
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(f'DROP TABLE "{schema}".case_counts')
