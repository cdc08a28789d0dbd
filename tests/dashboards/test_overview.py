"""The overview page's plain functions, without a browser."""

from datetime import date

import pytest
from dash import html

from dashboards.data import overview_data
from dashboards.tiles import kpi_tiles, percent
from layers.store import open_store


def test_overview_data_gives_tiles_and_a_choropleth_of_the_period(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        kpis, fig = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31))
    assert kpis["disputes"]["received"] == 2377
    choropleth = fig["data"][0]
    assert choropleth["type"] == "choroplethmap" and len(choropleth["locations"]) == 596
    assert len(choropleth["geojson"]["features"]) == 596
    assert sum(choropleth["z"]) > 0.9 * (kpis["disputes"]["received"] + kpis["events"]["received"]) * 0.7
    assert fig["layout"]["map"]["style"] == "white-bg"
    assert [layer["source"].split("?")[0] for layer in fig["layout"]["map"]["layers"]] == [
        "/geo/communities.geojson", "/geo/streets.geojson"]


def test_a_street_filter_narrows_map_and_numbers(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        whole, _ = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31))
        kongpu, fig = overview_data(store, start=date(2020, 1, 1), end=date(2020, 12, 31), street="孔浦街道")
    assert 0 < kongpu["disputes"]["received"] < whole["disputes"]["received"]
    assert all(code.startswith("330205003") for code in fig["data"][0]["locations"])


def test_tiles_use_chinese_number_conventions():
    assert percent(0.9655) == "96.55%" and percent(None) == "—"
    kpis = {"disputes": {"received": 2377, "resolved_in_place_rate": 0.9655, "closure_rate": 1.0, "overdue": 0,
                         "by_level": {"community": 1, "street": 2, "district": 3}},
            "events": {"received": 5000, "closure_rate": 0.999, "overdue": 5},
            "petitions": {"overdue": 0}, "visits": {"batches": 2605, "people": 4257}}
    tiles = kpi_tiles(kpis)
    values = {t.children[2].id: t.children[2].children for t in tiles if isinstance(t, html.Div)}
    assert values["overview-kpi-disputes-received"] == "2,377"
    assert values["overview-kpi-visits"] == "2,605 / 4,257"


def test_view_data_follows_every_filter_and_the_table_pages_on_the_server(demo_gpkg):
    from dashboards.data import chart_data, view_data
    from dashboards.selection import view_cases
    from dashboards.table import case_table
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    with open_store(demo_gpkg[0]) as store:
        community = year.narrowed(street_code="330205003", community_code="330205003002")
        data = view_data(store, community)
        cases, _ = view_cases(store, community)
        overdue = view_data(store, year.narrowed(overdue_only=True), as_of="2021-03-01")
    assert all(code.startswith("330205003002") for code in data["map"]["data"][0]["locations"])
    assert (cases["community_code"] == "330205003002").all()
    assert overdue["kpis"]["all"]["received"] == 5 and overdue["kpis"]["all"]["overdue"] == 5
    assert {fig["layout"]["title"]["text"].split(" ")[0] for fig in chart_data(cases).values()} == {
        "每日受理与办结", "高发类别", "渠道构成", "化解层级"}
    rows, pages = case_table(cases, sort_by=[{"column_id": "reported_at", "direction": "asc"}],
                             page=1, page_size=10)
    assert len(rows) == 10 and pages == -(-len(cases) // 10)
    first, _ = case_table(cases, sort_by=[{"column_id": "reported_at", "direction": "asc"}], page=0,
                          page_size=10)
    assert first[-1]["reported_at"] <= rows[0]["reported_at"]


def test_a_click_on_a_cell_gives_its_figures_and_latest_cases(demo_gpkg):
    from dashboards.details import cell_details
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    with open_store(demo_gpkg[0]) as store:
        cases = year.read_cases(store)
        busiest = cases["grid_cell"].value_counts().index[0]
        d = cell_details(store, year, busiest)
        assert cell_details(store, year, "no-such-cell") is None
    assert d["received"] == (cases["grid_cell"] == busiest).sum() and d["name"].endswith("网格")
    assert len(d["latest"]) == 5
    assert d["latest"][0]["reported_at"] >= d["latest"][-1]["reported_at"]
    in_cell = cases.loc[cases["grid_cell"] == busiest, "category"].astype(object)
    assert d["top_category"] == in_cell.value_counts().index[0]  # what 立项治理 from this click is about


def test_a_click_offers_the_estates_and_setback_areas_the_cell_touches(demo_gpkg):
    from dashboards.details import places_in_cell

    with open_store(demo_gpkg[0]) as store:
        areas = store.read("setback_areas")
        cells = store.read("grid_cells")
    area = areas.iloc[0]
    cell = cells[cells.intersects(area.geometry)].iloc[0]
    with open_store(demo_gpkg[0]) as store:
        offered = places_in_cell(store, cell.geometry)
    assert {"place_kind": "setback_area", "place": area["setback_area"], "name": area["name"]} in offered
    assert all(cell.geometry.intersects(areas.set_index("setback_area").geometry[p["place"]])
               for p in offered if p["place_kind"] == "setback_area")


def test_a_click_shows_the_orders_there_with_their_measured_effect(demo_gpkg):
    from dashboards.details import cell_details
    from layers.filters import CaseFilter
    from layers.remediation import remediation_effects

    with open_store(demo_gpkg[0]) as store:
        effects = remediation_effects(store)
        done = effects[effects["verdict"].notna()].iloc[0]
        estate = store.read("estates").set_index("estate_id").geometry[done["place"]]
        cells = store.read("grid_cells")
        cell = cells[cells.intersects(estate)].iloc[0]["grid_cell"]
        d = cell_details(store, CaseFilter(), cell)
    shown = next(r for r in d["remediations"] if r["remediation_id"] == done["remediation_id"])
    assert shown["state"] == "handed_over" and shown["verdict"] == done["verdict"]
    assert (shown["before"], shown["after"], shown["did"]) == (done["before"], done["after"], done["did"])


def test_points_only_when_few_enough_and_layers_have_legends(demo_gpkg):
    from dashboards.data import view_data
    from dashboards.map_views import POINT_LIMIT
    from dashboards.selection import view_cases
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    everything = ("cases", "setback_areas", "estates", "components")
    with open_store(demo_gpkg[0]) as store:
        district = view_data(store, year, layers=everything)
        street = view_data(store, year.narrowed(street_code="330205001"), layers=everything)
        in_district, _ = view_cases(store, year)
        in_street, _ = view_cases(store, year.narrowed(street_code="330205001"))
    assert len(in_district) > POINT_LIMIT and not district["points_shown"]
    assert street["points_shown"]
    names = {t["name"] for t in street["map"]["data"]}
    assert {"已办结 closed", "失管退红空间 unmanaged setback", "已移交退红空间 handed-over setback",
            "老旧小区 old estates", "城市部件 components"} <= names
    from dashboards.figures import STATUS_COLOURS

    statuses = {f"{zh} {en}" for _, (zh, en) in STATUS_COLOURS.values()}
    shown = sum(len(t["lon"]) for t in street["map"]["data"] if t["name"] in statuses)
    assert shown == in_street["lon"].notna().sum()  # every located case, none twice


def test_the_tiles_cells_and_charts_counted_over_the_held_copy_are_those_of_the_views_cases(demo_gpkg):
    """A view of the held copy is counted under its mask (``layers.tallies``), never copied out: the same
    tiles, cells and charts as the view's cases copied out and computed on."""
    from dashboards.data import chart_data, view_charts, view_data
    from dashboards.geo import read_places
    from dashboards.map_views import POINT_LIMIT
    from dashboards.selection import filtered_cases
    from layers.filters import CaseFilter
    from layers.kpis import compute_kpis, filtered_kpis
    from layers.views import count_per_cell

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    views = [year, year.narrowed(street_code="330205001"), year.narrowed(categories=("邻里纠纷",)),
             year.narrowed(channels=("hotline_12345", "walk_in")), year.narrowed(overdue_only=True),
             CaseFilter(start=date(2020, 3, 1), end=date(2020, 3, 31), street_code="330205003",
                        community_code="330205003002"), CaseFilter(), CaseFilter(start=date(2031, 1, 1))]
    with open_store(demo_gpkg[0]) as store:
        for f in views:
            as_of = "2021-01-15"
            cases, visits = filtered_cases(store, f, as_of=as_of)
            shown = view_data(store, f, as_of=as_of)
            expected = compute_kpis(cases, visits, start=f.start, end=f.end, as_of=as_of)
            expected["all"] = filtered_kpis(cases, as_of=as_of)
            assert {k: v for k, v in shown["kpis"].items() if k != "setback_areas"} == expected, f
            cells = count_per_cell(cases, read_places(store, f, "grid_cells"))
            drawn = next(t for t in shown["map"]["data"] if t.get("type") == "choroplethmap")
            assert list(drawn["z"]) == cells["cases"].tolist()
            # The charts are of now: the view's cases as of now.
            assert view_charts(store, f) == chart_data(filtered_cases(store, f)[0]), f
        # A view few enough to show its cases as points draws them, from the cases copied out.
        street = year.narrowed(street_code="330205001", community_code="330205001001")
        shown = view_data(store, street, layers=("cases",))
        assert len(filtered_cases(store, street)[0]) <= POINT_LIMIT and shown["points_shown"]
        assert any(t.get("type") == "scattermap" for t in shown["map"]["data"])


def test_a_click_on_a_case_shows_its_lifecycle_and_every_channel_that_reported_it(demo_gpkg):
    from dashboards.details import case_details

    with open_store(demo_gpkg[0]) as store:
        cases = store.read("cases")
        merged = cases[cases["channels"].str.contains(";")].iloc[0]
        d = case_details(store, merged["case_id"])
        assert case_details(store, "nothing:0") is None
    assert len(d["sources"]) == len(merged["channels"].split(";"))
    assert sum(1 for s in d["sources"] if s["merge_reason"]) == len(d["sources"]) - 1
    assert d["lifecycle"][0][1] == merged["reported_at"].strftime("%Y-%m-%d %H:%M")


def test_cells_by_rate_and_the_heat_layer(demo_gpkg):
    from dashboards.data import view_data
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    with open_store(demo_gpkg[0]) as store:
        counts = view_data(store, year)["map"]["data"][0]
        rates = view_data(store, year, layers=("heat",), measure="per_1000")["map"]
        cells = store.read("grid_cells").set_index("grid_cell")
    cell = rates["data"][0]
    assert rates["layout"]["title"]["text"] == "每千名居民案件数 Cases per 1,000 residents"
    by_cell = dict(zip(counts["locations"], counts["z"]))
    for code, rate in list(zip(cell["locations"], cell["z"]))[:50]:
        assert rate == pytest.approx(round(by_cell[code] / cells.loc[code, "population"] * 1000, 2))
    heat = rates["layout"]["map"]["layers"][0]
    assert heat["sourcetype"] == "image" and heat["source"].startswith("data:image/png;base64,")
    assert any(t["name"].startswith("案件热力 Case heat · 核密度 300 m") for t in rates["data"])


def test_the_table_page_from_the_servers_sort_order_is_the_stores_order(demo_gpkg):
    from dashboards.table import table_page
    from layers.filters import CaseFilter

    f = CaseFilter(start=date(2020, 3, 1), end=date(2020, 6, 30), street_code="330205003")
    with open_store(demo_gpkg[0]) as store:
        stored = f.read_cases(store)
        for direction in ("asc", "desc"):
            rows, pages = table_page(store, f, sort_by=[{"column_id": "reported_at", "direction": direction}], page=2)
            by_time = stored.sort_values(["reported_at", "case_id"], ascending=[direction == "asc", True])
            assert [r["case_id"] for r in rows] == by_time["case_id"].iloc[30:45].tolist()
            assert pages == -(-len(stored) // 15)


def test_english_on_request_with_the_same_numbers(demo_gpkg):
    from dashboards.data import chart_data, view_data
    from dashboards.selection import view_cases
    from dashboards.table import case_table
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31), street_code="330205001")
    with open_store(demo_gpkg[0]) as store:
        zh = view_data(store, year, layers=("cases", "heat"))
        en = view_data(store, year, layers=("cases", "heat"), lang="en")
        cases, _ = view_cases(store, year)
    assert en["kpis"] == zh["kpis"]
    assert [fig["layout"]["title"]["text"] for fig in chart_data(cases, "en").values()] == [
        "Daily received / closed", "Top categories", "Channel mix", "Settled at level"]
    assert en["map"]["layout"]["title"]["text"] == "Cases per grid cell"
    assert {t["name"] for t in en["map"]["data"]} >= {"closed", "grid_cells"}
    labels = [t.children[0].children for t in kpi_tiles(en["kpis"], lang="en")]
    assert labels[0] == "Disputes received" and "受理" not in "".join(labels)
    rows, _ = case_table(cases, page_size=3, lang="en")
    assert {r["status"] for r in rows} <= {"reported", "dispatched", "coordinated", "closed"}
    assert "12345热线" not in "".join(r["channels"] for r in case_table(cases, page_size=50, lang="en")[0])


def test_the_analysis_layers_on_the_map(demo_gpkg):
    from dashboards.data import view_data
    from layers.analysis import hotspot_layer
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31), channels=("grid_platform",))
    with open_store(demo_gpkg[0]) as store:
        data = view_data(store, year, layers=("hotspots", "emerging", "blind_spots", "priority"), measure="per_1000")
        hot = hotspot_layer(store, year, measure="per_1000")
    by_name = {t["name"]: t for t in data["map"]["data"]}
    drawn = [c for name, t in by_name.items() if name.startswith("Gi* ") for c in t["locations"]]
    assert sorted(drawn) == sorted(hot.loc[hot["bin"] != 0, "grid_cell"])
    assert any("热点" in name and not name.startswith("Gi*") for name in by_name)  # an emerging pattern
    spots = [t for name, t in by_name.items() if name.startswith("盲点")]
    assert spots and all(len(t["lon"]) == len(t["lat"]) > 0 for t in spots)
    assert len(by_name["优先治理前20 Top 20 priorities"]["locations"]) == 20


def test_blind_spots_and_priorities_from_the_servers_copy_equal_the_stores(demo_gpkg):
    from dashboards.selection import filtered_cases
    from layers.analysis import blind_spot_layer, priority_layer
    from layers.filters import CaseFilter

    year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
    with open_store(demo_gpkg[0]) as store:
        held, _ = filtered_cases(store, year)
        stored, copied = blind_spot_layer(store, year), blind_spot_layer(store, year, cases=held)
        ranked, ranked_copy = priority_layer(store, year), priority_layer(store, year, cases=held)

    def rows(frame):
        return sorted(map(tuple, frame[["rule", "place", "category", "cases", "lon"]].astype(str).values))

    assert rows(stored) == rows(copied) and len(stored) > 100
    assert ranked[["place", "score"]].values.tolist() == ranked_copy[["place", "score"]].values.tolist()


def test_the_change_layer_marks_cells_up_or_down_on_last_year(demo_gpkg):
    from dashboards.data import view_data
    from layers.analysis import change_layer
    from layers.filters import CaseFilter

    # January–February 2021 against the same months of 2020.
    months = CaseFilter(start=date(2021, 1, 1), end=date(2021, 2, 28))
    with open_store(demo_gpkg[0]) as store:
        drawn = view_data(store, months, layers=("change",))["map"]["data"]
        change = change_layer(store, months)
    up = [c for t in drawn if t["name"] == "同比显著上升 up on last year" for c in t["locations"]]
    down = [c for t in drawn if t["name"] == "同比显著下降 down on last year" for c in t["locations"]]
    assert sorted(up) == sorted(change.loc[change["direction"] == 1, "grid_cell"])
    assert sorted(down) == sorted(change.loc[change["direction"] == -1, "grid_cell"])
    assert up or down


def test_a_layer_added_to_the_catalogue_is_on_the_map_and_in_the_export(demo_gpkg, monkeypatch, tmp_path):
    import shutil

    import pyogrio

    from dashboards.data import view_data
    from dashboards.download import export_view
    from dashboards.map_views import map_layers
    from layers.catalogue import CATALOGUE, CatalogueLayer, Field, places
    from layers.filters import CaseFilter

    monkeypatch.setitem(CATALOGUE, "addresses", CatalogueLayer(
        "addresses", ("标准地址", "Addresses"), "Point", (Field("address_id", "地址编码", "address id"),
                                                        Field("name", "名称", "name")),
        places("addresses"), {"marker": "#dd6b20"}, key=("address_id",)))
    assert map_layers()["addresses"] == ("标准地址", "Addresses")
    street = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31), street_code="330205003")
    shutil.copy(demo_gpkg[0], tmp_path / "copy.gpkg")  # the export is logged in its store: not the shared demo's
    with open_store(str(tmp_path / "copy.gpkg")) as store:
        expected = store.read("addresses")
        expected = expected[expected["street_code"] == "330205003"]
        data = view_data(store, street, layers=("addresses",))
        path = export_view(store, street, ["addresses"], tmp_path, fmt="gpkg", datum="cgcs2000", user="t",
                           role="planner")
    (drawn,) = [t for t in data["map"]["data"] if t["name"] == "标准地址 Addresses"]
    assert len(drawn["lon"]) == len(expected) > 0 and drawn["marker"]["color"] == "#dd6b20"
    assert len(pyogrio.read_dataframe(path, layer="addresses")) == len(expected)


def test_a_grid_leader_sees_what_arrived_in_their_cells_since_they_last_looked(demo_gpkg, tmp_path):
    import shutil
    import time

    import pandas as pd

    from dashboards.cache import CACHE
    from dashboards.data import since_last_look
    from layers.areas import Area
    from layers.store import Condition

    path = tmp_path / "demo.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cells = Area.parse("cells:33020500300201,33020500300202")
    with open_store(str(path)) as store:
        since_last_look(store, "hongmei", cells)  # a look (other tests' page views may have made one before)
        assert since_last_look(store, "a-new-leader", cells) == (None, 0)  # never looked: nothing to count from
        pattern = store.read("cases", [Condition("grid_cell", "in", ["33020500300201", "33020500100101"])])
        new = pattern.drop_duplicates("grid_cell").copy()
        new["case_id"] = ["grid_platform:SINCE-1", "grid_platform:SINCE-2"]
        time.sleep(0.01)
        new["reported_at"] = pd.Timestamp.now()
        store.upsert("cases", new)  # one in the leader's cells, one elsewhere
        time.sleep(0.01)
        CACHE.written(store)
        since, arrived = since_last_look(store, "hongmei", cells)
        assert since is not None and arrived == 1
        assert since_last_look(store, "hongmei", cells)[1] == 0  # counted from this last look
        assert since_last_look(store, "a-new-leader", cells)[0] is not None  # each person's own looks


def test_the_tables_sort_order_after_a_write_is_the_order_sorted_again(demo_gpkg):
    import numpy as np
    import pandas as pd

    from dashboards.cache import _Follow, _held_cases, _plain_cases, _with_rows
    from dashboards.table import TABLE_COLUMNS, ordered, resorted

    with open_store(demo_gpkg[0]) as store:
        plain = _plain_cases(store.read("cases")).sort_values("case_id", ignore_index=True)
    follow = _Follow()
    before = _held_cases(plain.iloc[:-5].copy())
    # A write: cases changed (closed, a new status, a later time, a category new to the copy) and five new ones.
    changed = plain.iloc[[3, 40, 41, 700]].copy()
    changed["status"] = ["closed", "待核实", "closed", "dispatched"]
    changed["reported_at"] = changed["reported_at"] + pd.Timedelta(days=30)
    changed["category"] = ["全新类别", "邻里纠纷", "全新类别", None]
    cases = _with_rows(before, pd.concat([changed, plain.iloc[-5:]], ignore_index=True), follow)
    # And a write that only adds cases (the usual one, which keeps the order's keys as they are).
    added = _with_rows(before, plain.iloc[-5:], _Follow())
    for after in (cases, added):
        for column in [c for c, _, _ in TABLE_COLUMNS if c not in ("case_id", "address")]:
            for direction in ("asc", "desc"):
                sort_by = [{"column_id": column, "direction": direction}]
                order, keys = resorted(ordered(before, sort_by), before, after, sort_by)
                expected = ordered(after, sort_by)
                assert np.array_equal(order, expected[0]) and np.array_equal(keys, expected[1]), (column, direction)


def test_the_standings_after_a_write_are_those_made_again(demo_gpkg):
    import numpy as np
    import pandas as pd

    from dashboards.cache import _Follow, _held_cases, _plain_cases, _with_rows, moved_rows
    from dashboards.selection import followed_standings
    from layers import tallies

    with open_store(demo_gpkg[0]) as store:
        plain = _plain_cases(store.read("cases")).sort_values("case_id", ignore_index=True)
    follow = _Follow()
    before = _with_rows(_held_cases(plain.iloc[:-10].copy()), plain.iloc[:0], follow)  # a copy as a follow leaves it
    # A write of cases changed in every column a standing is made of, and five new ones; then one that only adds.
    changed = plain.iloc[[3, 40, 41, 700, 900]].copy()
    changed["status"] = ["closed", "dispatched", "closed", "dispatched", "reported"]
    changed["kind"] = ["petition", "event", "dispute", "petition", "event"]
    changed["level"] = ["district", None, "community", "street", "street"]
    changed["resolved_in_place"] = pd.array([True, None, False, True, False], dtype="boolean")
    changed["due_at"] = changed["due_at"] + pd.Timedelta(days=3)
    changed["reported_at"] = changed["reported_at"] - pd.Timedelta(days=30)
    changed["closed_at"] = [pd.Timestamp("2020-12-01"), pd.NaT, pd.Timestamp("2021-01-01"), pd.NaT, pd.NaT]
    written = _with_rows(before, pd.concat([changed, plain.iloc[-10:-5]], ignore_index=True), follow)
    added = _with_rows(written, plain.iloc[-5:], follow)
    assert set(moved_rows(before, written, tallies.STANDING_COLUMNS)) <= {3, 40, 41, 700, 900}
    assert len(moved_rows(written, added, tallies.STANDING_COLUMNS)) == 0  # the columns share the rows held
    for was, now in ((before, written), (written, added)):
        found, expected = followed_standings(tallies.standings(was), was, now), tallies.standings(now)
        for part, made in zip(found, expected):
            assert np.array_equal(part, made, equal_nan=part.dtype.kind == "M")


def test_a_value_made_per_copy_is_brought_up_to_date_from_the_copy_before_when_the_copy_followed(demo_gpkg, tmp_path):
    import shutil

    from dashboards.cache import StoreCache

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache, made, followed = StoreCache(check_s=0), [], []

    def make(cases):
        made.append(len(cases))
        return len(cases)

    def follow(value, before, cases):
        followed.append((value, len(before), len(cases)))
        return len(cases)

    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        n = cache.derived(store, ("n",), make, follow)
        new = store.read("cases").iloc[[0]].assign(case_id="walk_in:ZZ-NEW-1")
        store.upsert("cases", new)
        assert cache.derived(store, ("n",), make, follow) == n + 1 and followed == [(n, n, n + 1)]
        store.write_layer("cases", store.read("cases"))  # replaced whole: the copy is read again, rows renumbered
        cache.cases(store)
        assert cache._derived == {}  # nor does what was made for the copies before keep the last of them alive
        assert cache.derived(store, ("n",), make, follow) == n + 1
    assert made == [n, n + 1] and len(followed) == 1


def test_a_request_that_began_on_the_copy_before_a_write_gets_the_value_made_for_that_copy(demo_gpkg, tmp_path):
    # Under a stream of writes a table request may hold the copy a write behind while another has already
    # brought the sort order up to date: it gets the order of its own copy, not a sort of every case made again.
    import shutil

    import flask

    from dashboards.cache import StoreCache

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache, made = StoreCache(check_s=0), []

    def make(cases):
        made.append(len(cases))
        return len(cases)

    def follow(value, before, cases):
        return len(cases)

    app = flask.Flask(__name__)
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])
        n = cache.derived(store, ("n",), make, follow)
        with app.test_request_context("/"):
            assert cache.derived(store, ("n",), make, follow) == n  # this request holds the copy of n cases
            store.upsert("cases", store.read("cases").iloc[[0]].assign(case_id="walk_in:ZZ-NEW-1"))
            with flask.Flask("other").test_request_context("/"):  # another request (its own flask.g), after the write
                assert cache.derived(store, ("n",), make, follow) == n + 1
            assert cache.derived(store, ("n",), make, follow) == n  # still its own copy's value
    assert made == [n]  # made once; the rest followed or kept
