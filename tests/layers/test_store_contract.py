"""One contract, both stores: the `store` fixture runs each test on GeoPackage and on PostGIS."""

import time

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from layers.errors import InvalidValue
from layers.schema import SchemaError
from layers.store import Condition, StoreError, open_store, period_filter
from layers.store.base import matches


def three_cells():
    return gpd.GeoDataFrame({
        "grid_cell": ["c1", "c2", "c3"], "name": ["一网格", "二网格", "三网格"],
        "community_code": ["k1", "k1", "k2"], "street_code": ["s1", "s1", "s2"],
        "kind": "ordinary", "population": [100, 200, 300],
    }, geometry=[box(121.5, 29.9, 121.51, 29.91), box(121.51, 29.9, 121.52, 29.91), box(121.52, 29.9, 121.53, 29.91)],
        crs=4490)


def cases(ids, status="reported", day="2020-03-01"):
    n = len(ids)
    return gpd.GeoDataFrame({
        "case_id": ids, "kind": "dispute", "category": "邻里纠纷", "channel": "walk_in", "channels": "walk_in",
        "reported_at": pd.Timestamp(day), "status": status, "level_received": "community", "level": "community",
        "resolved_in_place": status == "closed", "people": 1, "street_code": "s1",
        "location_precision": "building", "outside_grid": False,
    }, geometry=[Point(121.505, 29.905)] * (n - 1) + [None] if n else [], crs=4490)


def test_geography_round_trips_with_chinese_text_and_crs(store):
    assert store.write_layer("grid_cells", three_cells()) == 3
    back = store.read("grid_cells")
    assert sorted(back["name"]) == ["一网格", "三网格", "二网格"]
    assert back.crs.to_epsg() == 4490
    assert back.to_crs(4549).area.sum() == pytest.approx(three_cells().to_crs(4549).area.sum())


def test_write_layer_replaces_the_layer_whole(store):
    store.write_layer("grid_cells", three_cells())
    store.write_layer("grid_cells", three_cells().iloc[:1])
    assert store.count("grid_cells") == 1


def test_upsert_by_natural_key_is_idempotent(store):
    store.upsert("cases", cases(["a", "b"]))
    store.upsert("cases", cases(["a", "b"]))
    assert store.count("cases") == 2
    store.upsert("cases", cases(["b"], status="closed"))
    back = store.read("cases").set_index("case_id")
    assert back.loc["b", "status"] == "closed" and back.loc["a", "status"] == "reported"
    assert back.loc["b", "geometry"] is None or back.loc["b", "geometry"].is_empty


def test_filters_by_period_street_and_membership(store):
    store.upsert("cases", pd.concat([cases(["jan"], day="2020-01-31 23:00"), cases(["feb"], day="2020-02-01 08:00")]))
    got = store.read("cases", period_filter("2020-01-01", "2020-01-31", street_code="s1"))
    assert got["case_id"].tolist() == ["jan"]
    assert store.read("cases", [Condition("case_id", "in", ["feb", "zzz"])])["case_id"].tolist() == ["feb"]
    assert store.read("cases", period_filter(street_code="nowhere")).empty


def test_a_read_over_several_periods_keeps_the_rows_of_any_of_them(store):
    days = ["2020-01-01 00:00", "2020-01-03 12:00", "2020-01-05 00:00", "2020-03-10 09:30", "2021-06-01 00:00"]
    store.upsert("cases", pd.concat([cases([f"c{i}"], day=d) for i, d in enumerate(days)]))
    spans = [(pd.Timestamp("2020-01-01").to_pydatetime(), pd.Timestamp("2020-01-05").to_pydatetime()),
             (pd.Timestamp("2020-03-10 09:30").to_pydatetime(), pd.Timestamp("2020-03-10 09:30:01").to_pydatetime())]
    within = [Condition("reported_at", "within", spans)]
    # Each span holds its start and not its end, as >= and < do.
    assert sorted(store.read("cases", within)["case_id"]) == ["c0", "c1", "c3"]
    assert sorted(store.read("cases", within + [Condition("case_id", "in", ["c1", "c4"])])["case_id"]) == ["c1"]
    assert store.read("cases", [Condition("reported_at", "within", [])]).empty
    # A held copy filtered in memory keeps the same rows as the store.
    held = store.read("cases")
    assert sorted(held.loc[matches(held, within), "case_id"]) == ["c0", "c1", "c3"]
    with pytest.raises(InvalidValue, match="within"):
        store.read("cases", [Condition("reported_at", "within", ["2020-01-01"])])


def test_batches_read_what_read_reads_a_batch_at_a_time(store):
    store.upsert("cases", pd.concat([cases([f"c{i:02d}" for i in range(25)], day="2020-03-01 09:30:15"),
                                     cases(["feb"], day="2020-02-01 08:00")]))
    where = period_filter("2020-03-01", "2020-03-31")
    batches = list(store.read_batches("cases", where, size=10))
    assert [len(b) for b in batches] == [10, 10, 5]
    streamed = pd.concat(batches).sort_values("case_id", ignore_index=True)
    whole = store.read("cases", where).sort_values("case_id", ignore_index=True)
    pd.testing.assert_frame_equal(pd.DataFrame(streamed.drop(columns="geometry")),
                                  pd.DataFrame(whole.drop(columns="geometry")))
    assert streamed.geometry.equals(whole.geometry) and streamed.crs.to_epsg() == 4490
    assert streamed["reported_at"].iat[0] == pd.Timestamp("2020-03-01 09:30:15")  # local time, as written
    # Nothing matches: one empty frame that still has the layer's columns.
    (empty,) = list(store.read_batches("cases", period_filter(street_code="nowhere")))
    assert empty.empty and "case_id" in empty.columns


def test_tables_without_geometry(store):
    q = pd.DataFrame({"source": ["x"], "file": ["f.csv"], "row": [2], "fields": ["reported_at"],
                      "reasons": ["bad_date"], "message": ["f.csv row 2: ..."], "raw": ["{}"]})
    store.upsert("quarantine", q)
    store.upsert("quarantine", q)
    assert store.read("quarantine")["message"].tolist() == ["f.csv row 2: ..."]


def test_bad_input_is_refused_with_its_reason(store):
    with pytest.raises(SchemaError, match="required column 'case_id'"):
        store.upsert("cases", cases(["a"]).drop(columns="case_id"))
    with pytest.raises(StoreError, match="duplicate keys"):
        store.upsert("cases", cases(["a", "a"]))
    with pytest.raises(InvalidValue, match="unknown layer 'roads'"):
        store.read("roads")


def test_reset_empties_the_store(store):
    store.upsert("cases", cases(["a"]))
    store.reset()
    assert store.count("cases") == 0


def test_open_store_names_what_it_accepts():
    with pytest.raises(StoreError, match="must end in .gpkg"):
        open_store("data/onemap.sqlite")
    with pytest.raises(StoreError, match="expected a .gpkg path or a URL of postgresql://"):
        open_store("mysql://x")


def test_a_store_from_before_a_schema_change_is_brought_up_to_date(tmp_path):
    """Issue 2's stores kept case_sources as a plain table with fewer columns: onemap migrate brings it up."""
    import pyogrio

    from layers.errors import StoreBehindSchema
    from layers.store import open_store
    from onemap.cli import main

    path = tmp_path / "old.gpkg"
    old = pd.DataFrame({"source": ["walk_in"], "source_id": ["1"], "case_id": ["walk_in:1"], "channel": ["walk_in"],
                        "reported_at": [pd.Timestamp("2020-01-01")], "people": [2], "file": ["f.csv"], "row": [2],
                        "merged": [False]})
    pyogrio.write_dataframe(old, path, layer="case_sources", driver="GPKG")
    with open_store(str(path)) as store, pytest.raises(StoreBehindSchema, match="onemap migrate --store"):
        store.read("case_sources")  # said, not silently altered
    assert main(["migrate", "--store", str(path)]) == 0
    with open_store(str(path)) as store:
        assert store.read("case_sources")["people"].tolist() == [2]
        new = store.read("case_sources").assign(source_id="2", case_id="walk_in:2", merge_reason="测试")
        store.upsert("case_sources", new)
        both = store.read("case_sources")
    assert sorted(both["source_id"]) == ["1", "2"] and both["merge_reason"].tolist().count("测试") == 1


def test_every_write_changes_the_layers_data_version(store):
    assert store.data_versions().get("streets") is None
    streets = gpd.GeoDataFrame({"street_code": ["330205003"], "name": ["孔浦街道"]}, geometry=[box(0, 0, 1, 1)],
                               crs=4490)
    store.write_layer("streets", streets)
    first = store.data_versions()["streets"]
    store.upsert("streets", streets.assign(name="孔浦"))
    second = store.data_versions()["streets"]
    assert first and second and first != second
    store.upsert("settings", pd.DataFrame([{"name": "anything", "value": "1"}]))
    assert store.data_versions()["streets"] == second and "cases" not in store.data_versions()


def test_a_reader_asks_only_for_the_rows_written_since_the_change_it_saw(store):
    store.upsert("cases", cases(["a", "b"]))
    seen = int(store.data_versions()["seq:changes"])
    store.upsert("cases", cases(["b"], status="closed"))  # a change
    store.upsert("cases", cases(["c"]))  # a new row
    store.upsert("logins", pd.DataFrame([{"login_id": "x", "user_name": "u", "at": pd.Timestamp.now(), "ok": True}]))
    versions = store.data_versions()
    assert int(versions["seq:changes"]) == seen + 2  # logins keep no change numbers
    changed = store.read_changes("cases", seen)
    assert sorted(changed["case_id"]) == ["b", "c"] and list(changed.columns) == list(store.read("cases").columns)
    assert changed.set_index("case_id").loc["b", "status"] == "closed"
    assert store.read_changes("cases", int(versions["seq:changes"])).empty
    assert list(store.read_changes("cases", seen, [Condition("status", "=", "closed")])["case_id"]) == ["b"]
    epoch = versions.get("epoch:cases")
    store.write_layer("cases", store.read("cases"))  # replaced whole: a reader must read it whole again
    assert store.data_versions()["epoch:cases"] != epoch
    with pytest.raises(InvalidValue, match="change numbers"):
        store.read_changes("streets", 0)


def test_the_rows_changed_read_as_a_whole_read_reads_them(store, monkeypatch):
    # Every kind of value: a point, an empty point and none; text missing and Chinese; a time with milliseconds
    # and none; whole numbers missing; booleans of both kinds and missing.
    rows = cases(["p", "e", "n"]).assign(
        geometry=[Point(121.505, 29.905), Point(), None], address=["孔浦街道1号", None, "x"], people=[3, None, 0],
        reported_at=pd.to_datetime(["2020-03-01 08:00:00.125", "2020-03-02", "2020-03-03 23:59:59"], format="ISO8601"),
        closed_at=[pd.Timestamp("2020-03-04 10:00"), None, None], resolved_in_place=[True, False, None],
        outside_grid=[False, True, None])
    store.upsert("cases", cases(["before"]))
    seen = int(store.data_versions()["seq:changes"])
    store.upsert("cases", rows)
    whole = store.read("cases", [Condition("case_id", "in", ["p", "e", "n"])]).sort_values("case_id")
    changed = store.read_changes("cases", seen).sort_values("case_id")
    pd.testing.assert_frame_equal(changed.reset_index(drop=True), whole.reset_index(drop=True))
    assert changed.set_index("case_id").geometry["e"].is_empty and changed.set_index("case_id").geometry["n"] is None
    # A few rows are made column by column as they are held (``layers.schema.from_rows``): the frame pandas makes
    # of them, each column's type guessed and then conformed, is the same.
    from layers.store import gpkg, postgis

    monkeypatch.setattr(gpkg, "FEW_ROWS", 0)
    monkeypatch.setattr(postgis, "FEW_ROWS", 0)
    guessed = store.read_changes("cases", seen).sort_values("case_id")
    pd.testing.assert_frame_equal(guessed.reset_index(drop=True), whole.reset_index(drop=True))
    if store.url.endswith(".gpkg"):  # past a few rows, through GDAL as a whole read: the same again
        from layers.store import gpkg

        monkeypatch.setattr(gpkg, "SQLITE_ROWS_MAX", 2)
        many = store.read_changes("cases", seen).sort_values("case_id")
        pd.testing.assert_frame_equal(many.reset_index(drop=True), whole.reset_index(drop=True))


def test_a_remediation_and_its_setback_area_land_together(store):
    from layers.remediation import add_remediation

    estate = gpd.GeoDataFrame({"estate_id": ["E1"], "community_code": ["k1"], "name": ["红梅小区"]},
                              geometry=[box(121.5, 29.9, 121.505, 29.905)], crs=4490)
    areas = gpd.GeoDataFrame({"setback_area": ["E1-N", "E1-S"], "estate_id": ["E1", "E1"], "community_code": ["k1"] * 2,
                              "status": ["unmanaged", "unmanaged"], "name": ["北侧", "南侧"]},
                             geometry=[box(121.5, 29.905, 121.505, 29.906), box(121.5, 29.899, 121.505, 29.9)],
                             crs=4490)
    store.write_layer("estates", estate)
    store.write_layer("setback_areas", areas)
    add_remediation(store, place_kind="estate", place="E1", what="退红空间整治", unit="孔浦街道城市管理科",
                    started_at="2024-03-01", finished_at="2024-05-01", handed_over_to="红梅物业")
    register = store.read("remediations")
    assert register[["place_kind", "place", "handed_over_to"]].values.tolist() == [["estate", "E1", "红梅物业"]]
    assert register["handed_over_at"].iat[0] == pd.Timestamp("2024-05-01")
    after = store.read("setback_areas")
    assert set(after["status"]) == {"handed_over"} and set(after["managing_unit"]) == {"红梅物业"}


def test_a_write_that_expects_a_record_as_it_was_read_lands_only_if_it_still_is(store):
    """Compare-and-set, checked inside the write's transaction with the record locked."""
    from layers.errors import Conflict
    from layers.store.base import Expect

    def order(state, what):
        return pd.DataFrame([{"remediation_id": "R1", "place_kind": "grid_cell", "place": "c1", "what": what,
                              "state": state}])

    store.upsert("remediations", order("proposed", "疏导"))
    store.upsert_many({"remediations": order("approved", "疏导")},
                      expect=(Expect("remediations", ("R1",), "state", "proposed"),))
    with pytest.raises(Conflict, match="changed meanwhile"):  # decided on "proposed", but it is "approved" now
        store.upsert_many({"remediations": order("cancelled", "撤销"), "audit": pd.DataFrame([{
            "audit_id": "a1", "at": pd.Timestamp("2024-01-01"), "actor": "x", "action": "y", "layer": "remediations",
            "record": "R1"}])}, expect=(Expect("remediations", ("R1",), "state", "proposed"),))
    held = store.read("remediations")
    assert held[["state", "what"]].values.tolist() == [["approved", "疏导"]] and store.read("audit").empty
    with pytest.raises(Conflict):  # expected absent, but there
        store.upsert_many({"remediations": order("proposed", "x")}, expect=(Expect("remediations", ("R1",), "state", None),))
    store.upsert_many({"remediations": order("approved", "y").assign(remediation_id="R2")},
                      expect=(Expect("remediations", ("R2",), "state", None),))
    assert sorted(store.read("remediations")["remediation_id"]) == ["R1", "R2"]
    with pytest.raises(InvalidValue):
        store.upsert_many({"remediations": order("x", "y")}, expect=(Expect("remediations", ("R1", 2), "state", "x"),))


def test_values_built_to_break_sql_match_nothing_and_change_nothing(store):
    store.write_layer("grid_cells", three_cells())
    for value in ("' OR '1'='1", "s1' OR 1=1 --", "'; DROP TABLE grid_cells; --", '" OR ""="', "s1\x00",
                  "\\'", "%", "' UNION SELECT * FROM users --", "'" * 300):
        assert store.read("grid_cells", [Condition("street_code", "=", value)]).empty, value
        assert store.read("grid_cells", [Condition("street_code", "in", [value, "nowhere"])]).empty, value
        assert list(store.read_batches("grid_cells", [Condition("name", "=", value)]))[0].empty, value
    assert store.count("grid_cells") == 3
    assert len(store.read("grid_cells", [Condition("street_code", "in", ["s1", "s1\x00"])])) == 2


def test_a_damaged_geopackage_is_refused_and_never_written_over(tmp_path):
    import contextlib
    import hashlib
    import os
    import shutil
    import sqlite3

    good = tmp_path / "good.gpkg"
    with open_store(str(good)) as store:
        store.write_layer("grid_cells", three_cells())
    # The pages of the layer being written, damaged (the file's middle may hold another layer's index).
    with contextlib.closing(sqlite3.connect(good)) as conn:
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'grid_cells'")]
    damaged = bytearray(good.read_bytes())
    for page in pages:
        damaged[(page - 1) * size:page * size] = os.urandom(size)
    for name, content in (("random.gpkg", b"SQLite format 3\x00" + os.urandom(4096)), ("text.gpkg", "不是数据库".encode()),
                          ("damaged.gpkg", bytes(damaged))):
        path = tmp_path / name
        path.write_bytes(content)
        before = hashlib.sha256(path.read_bytes()).hexdigest()
        with open_store(str(path)) as store:
            with pytest.raises(StoreError, match=str(path)):
                store.write_layer("grid_cells", three_cells())
            with pytest.raises(StoreError, match=str(path)):
                store.upsert("grid_cells", three_cells())
            with pytest.raises(StoreError, match=str(path)):
                store.read("grid_cells")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == before, name
    shutil.copy(good, tmp_path / "still_good.gpkg")
    with open_store(str(tmp_path / "still_good.gpkg")) as store:
        assert store.upsert("grid_cells", three_cells()) == 3


def test_a_locked_geopackage_waits_then_says_so_and_writes_nothing(tmp_path, monkeypatch):
    import sqlite3
    import threading


    path = tmp_path / "s.gpkg"
    with open_store(str(path)) as store:
        store.write_layer("grid_cells", three_cells())

    def hold(seconds, ready):
        conn = sqlite3.connect(path)
        conn.execute("BEGIN EXCLUSIVE")  # as another program writing would
        ready.set()
        time.sleep(seconds)
        conn.rollback()
        conn.close()

    monkeypatch.setenv("ONEMAP_GPKG_LOCK_TIMEOUT", "1")
    # Held longer than the wait: a clear error, nothing written.
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(3, ready))
    holder.start()
    ready.wait()
    with open_store(str(path)) as store, pytest.raises(StoreError, match="locked by another program"):
        store.upsert("grid_cells", three_cells().assign(population=0))
    holder.join()
    with open_store(str(path)) as store:
        assert store.read("grid_cells")["population"].tolist() == [100, 200, 300]
    # Let go within the wait: the write waits for it and lands.
    monkeypatch.setenv("ONEMAP_GPKG_LOCK_TIMEOUT", "10")
    ready = threading.Event()
    holder = threading.Thread(target=hold, args=(1, ready))
    holder.start()
    ready.wait()
    with open_store(str(path)) as store:
        store.upsert("grid_cells", three_cells().assign(population=0))
    holder.join()
    with open_store(str(path)) as store:
        assert store.read("grid_cells")["population"].tolist() == [0, 0, 0]


def test_processes_writing_a_new_layer_at_once_lose_nothing(tmp_path):
    import subprocess
    import sys

    path = tmp_path / "s.gpkg"
    with open_store(str(path)) as store:
        store.write_layer("grid_cells", three_cells())  # a store, without a logins layer yet
    write = ("import sys, uuid, pandas as pd\nfrom layers.store import open_store\n"
             "with open_store(sys.argv[1]) as store:\n"
             "    for i in range(5):\n"
             "        store.upsert('logins', pd.DataFrame([{'login_id': uuid.uuid4().hex, 'user_name': sys.argv[2],"
             " 'at': pd.Timestamp.now(), 'ok': True}]))\n")
    writers = [subprocess.Popen([sys.executable, "-c", write, str(path), f"p{i}"]) for i in range(4)]
    assert [w.wait(120) for w in writers] == [0, 0, 0, 0]
    with open_store(str(path)) as store:
        assert store.count("logins") == 20


def test_a_geopackage_layer_extent_covers_every_row_written(tmp_path):
    """Readers (QGIS, ogrinfo) take a layer's extent from gpkg_contents: each upsert grows it by its rows."""
    import contextlib
    import sqlite3

    import pyogrio

    path = tmp_path / "s.gpkg"
    with open_store(str(path)) as store:
        store.upsert("cases", cases(["a", "b"]))  # at (121.505, 29.905), and one without a place
        far = cases(["c", "d"]).set_geometry([Point(121.7, 30.1), Point(121.4, 29.8)], crs=4490)
        store.upsert("cases", far)
    with contextlib.closing(sqlite3.connect(path)) as conn:
        extent = conn.execute("SELECT min_x, min_y, max_x, max_y FROM gpkg_contents WHERE table_name = 'cases'").fetchone()
    assert extent == pytest.approx((121.4, 29.8, 121.7, 30.1))
    assert pyogrio.read_info(path, layer="cases")["total_bounds"] == pytest.approx((121.4, 29.8, 121.7, 30.1))


def test_a_geopackage_layer_feature_count_is_the_rows_it_holds_after_upserts(tmp_path):
    """Readers (ogrinfo, QGIS) take a layer's size from gpkg_ogr_contents: each upsert adds its new rows only."""
    import pyogrio

    path = tmp_path / "s.gpkg"
    with open_store(str(path)) as store:
        store.upsert("cases", cases(["a", "b", "c"]))
        store.upsert("cases", cases(["b", "d"], status="closed"))  # one written again, one new
        store.upsert("cases", cases(["a"], status="closed"))  # none new
        store.upsert_many({"cases": cases(["e", "f"])})
    assert pyogrio.read_info(path, layer="cases")["features"] == 6
    assert len(pyogrio.read_dataframe(path, layer="cases")) == 6


def test_the_store_groups_and_sums_what_a_city_asks_of_millions_of_rows(store):
    store.upsert("cases", cases(["A1", "A2", "A3"], status="closed", day="2020-03-01"))
    store.upsert("cases", cases(["B1"], day="2020-04-02"))
    by_status = store.aggregate("cases", [Condition("reported_at", ">=", "2020-01-01")], by=("status",),
                                measures=("rows", "sum:people", "count:grid_cell"))
    assert by_status.sort_values("status").values.tolist() == [["closed", 3, 3, 0], ["reported", 1, 1, 0]]
    whole = store.aggregate("cases", [Condition("status", "in", ["closed"])])
    assert whole["rows"].tolist() == [3]
    by_day = store.aggregate("case_counts", [], by=("day",), measures=("sum:n",)).sort_values("day")
    assert by_day["day"].tolist() == [pd.Timestamp("2020-03-01"), pd.Timestamp("2020-04-02")]
    assert by_day["sum_n"].tolist() == [3, 1]
    with pytest.raises(InvalidValue, match="cannot group or measure"):
        store.aggregate("cases", [], by=("no_such_column",))
    with pytest.raises(InvalidValue, match="cannot group or measure"):
        store.aggregate("cases", [], measures=("median:people",))


def test_a_page_is_read_in_its_order_without_reading_the_rest(store):
    store.upsert("cases", cases(["C1", "C2", "C3"], day="2020-03-01"))
    store.upsert("cases", cases(["D1", "D2"], day="2020-03-05"))
    newest = store.read_page("cases", [], order=(("reported_at", True),), limit=3)
    assert newest["case_id"].tolist() == ["D1", "D2", "C1"]  # ties in the key's order
    rest = store.read_page("cases", [], order=(("reported_at", True),), limit=3, offset=3)
    assert rest["case_id"].tolist() == ["C2", "C3"]
    assert store.read_page("cases", [Condition("case_id", "=", "none")], limit=3).empty
    assert store.estimated_count("cases") >= 0


def test_times_are_grouped_by_their_day(store):
    store.upsert("cases", cases(["E1", "E2"], day="2020-03-01 08:00"))
    store.upsert("cases", cases(["E3"], day="2020-03-01 23:59:59"))
    store.upsert("cases", cases(["E4"], day="2020-03-03 00:00"))
    by_day = store.aggregate("cases", [], by=("day:reported_at", "status")).sort_values("reported_at")
    assert by_day.values.tolist() == [[pd.Timestamp("2020-03-01"), "reported", 3],
                                      [pd.Timestamp("2020-03-03"), "reported", 1]]


def test_the_store_gives_a_columns_least_and_greatest(store):
    store.upsert("cases", cases(["F1"], day="2020-03-01 08:00"))
    store.upsert("cases", cases(["F2"], day="2021-07-04 10:30"))
    span = store.aggregate("cases", [], measures=("min:reported_at", "max:reported_at", "max:case_id"))
    assert span.values.tolist() == [[pd.Timestamp("2020-03-01 08:00"), pd.Timestamp("2021-07-04 10:30"), "F2"]]


def test_a_box_keeps_the_points_in_it_through_the_stores_index(store):
    inside = cases(["G1", "G2"], day="2020-03-01")  # at 121.505, 29.905, and one without a point
    store.upsert("cases", inside)
    away = cases(["H1", "H2"], day="2020-03-01")
    away["geometry"] = [Point(121.7, 30.1)] * 2
    store.upsert("cases", away)
    box = Condition("geometry", "bbox", (121.5, 29.9, 121.51, 29.91))
    assert sorted(store.read("cases", [box])["case_id"]) == ["G1"]
    assert store.aggregate("cases", [box])["rows"].tolist() == [1]
    assert store.read_page("cases", [box, Condition("status", "=", "reported")])["case_id"].tolist() == ["G1"]
    assert matches(store.read("cases"), [box]).sum() == 1
    with pytest.raises(InvalidValue, match="'bbox' takes"):
        store.read("cases", [Condition("status", "bbox", (0, 0, 1, 1))])


def test_rows_among_another_layers_rows_are_joined_by_the_store(store):
    store.upsert("cases", cases(["J1", "J2"], day="2020-03-01"))
    store.upsert("cases", cases(["K1"], status="closed", day="2020-03-01"))
    visits = gpd.GeoDataFrame({"source": "walk_in", "source_id": ["v1", "v2", "v3"], "case_id": ["J1", "K1", "K1"],
                               "channel": "walk_in", "reported_at": pd.Timestamp("2020-03-02"), "people": [2, 1, 3]},
                              geometry=[None] * 3, crs=4490)
    store.upsert("case_sources", visits)
    closed = Condition("case_id", "among", ("cases", [Condition("status", "=", "closed")]))
    assert sorted(store.read("case_sources", [closed])["source_id"]) == ["v2", "v3"]
    assert store.aggregate("case_sources", [closed], measures=("rows", "sum:people")).values.tolist() == [[2, 4]]
    with pytest.raises(InvalidValue, match="'among' takes"):
        store.read("case_sources", [Condition("source_id", "among", ("cases", []))])
