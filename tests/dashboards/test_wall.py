"""The wall screen's plain functions: what it shows each tick, and what it does when the store is gone."""

from contextlib import contextmanager
from datetime import datetime

import dash

from dashboards.wall import wall_refresh
from layers.store import Condition, StoreError, open_store

QUERY = {"from": "2020-01-01", "to": "2020-12-31", "rotate": "1"}


def test_the_wall_turns_through_the_district_and_each_street(demo_gpkg):
    titles = []
    for tick in range(10):
        out = wall_refresh(lambda: open_store(demo_gpkg[0]), QUERY, tick, None, now=datetime(2021, 3, 1, 9, 0))
        titles.append(out[2].split("  ")[0])
    assert titles[0].startswith("江北区") and titles[9] == titles[0]
    assert titles[1:9] == ["外滩街道", "孔浦街道", "文教街道", "甬江街道", "庄桥街道", "洪塘街道", "前江街道", "慈城镇"]
    assert out[3] == "更新于 Refreshed 2021-03-01 09:00:00" and out[5] == {"display": "none"}


def test_a_view_is_made_once_per_version_and_the_wall_dresses_a_copy_of_it(demo_gpkg, tmp_path, request):
    from dashboards.cache import CACHE
    from dashboards.data import view_data
    from dashboards.wall import WALL_BACKDROP, wall_data
    from layers.filters import CaseFilter
    from tests.conftest import demo_copy

    spec = demo_copy("gpkg", demo_gpkg, tmp_path, request)
    kongpu = CaseFilter.from_query(QUERY).narrowed(street_code="330205003")
    with open_store(spec) as store:
        CACHE.written(store)
        wall = wall_data(store, CaseFilter.from_query(QUERY), 2, rotate=True)  # 孔浦街道's turn
        shown = view_data(store, kongpu, outline_colour="#a0aec0")
        assert view_data(store, kongpu, outline_colour="#a0aec0") is shown  # every wall of the street, one view
        assert WALL_BACKDROP in wall["map"]["layout"]["map"]["layers"]
        assert WALL_BACKDROP not in shown["map"]["layout"]["map"]["layers"]  # the shared view left as made
        assert "screen" not in shown["map"]["layout"]["meta"] and shown["map"]["layout"]["title"]["text"] in \
            wall["map"]["layout"]["title"]["text"]
        before = shown["kpis"]["all"]["received"]
        case = store.read("cases", [Condition("street_code", "=", "330205003")]).iloc[:1]
        store.upsert("cases", case.assign(case_id="NEW-1"))
        CACHE.written(store)
        after = view_data(store, kongpu, outline_colour="#a0aec0")
    assert after is not shown and after["kpis"]["all"]["received"] == before + 1


def test_an_unreachable_store_keeps_the_last_picture_under_a_banner():
    @contextmanager
    def gone():
        raise StoreError("cannot connect to postgresql://db/onemap")
        yield

    out = wall_refresh(gone, QUERY, 3, "2021-03-01 08:59:00")
    assert out[:4] == (dash.no_update,) * 4  # tiles, map, title and time stay as they were
    assert "2021-03-01 08:59:00" in out[4] and out[5] == {"display": "block"} and out[6] == "2021-03-01 08:59:00"


def test_what_just_arrived_is_the_areas_own_newest_cases_without_personal_data(demo_gpkg):
    import pandas as pd

    from dashboards.wall import arrivals
    from layers.areas import Area
    from layers.filters import CaseFilter

    cells = Area.parse("cells:33020500300201,33020500300202")
    with open_store(demo_gpkg[0]) as store:
        cases = store.read("cases")
        mine = arrivals(store, CaseFilter(area=cells), datetime(2020, 12, 31, 12, 0))
        everywhere = arrivals(store, CaseFilter(), datetime(2020, 12, 31, 12, 0))
    theirs = cases[cases["grid_cell"].isin(["33020500300201", "33020500300202"])]
    newest = theirs.sort_values("reported_at", ascending=False).head(8)
    assert [c["reported_at"] for c in mine["latest"]] == list(newest["reported_at"])
    assert {c["grid_cell"] for c in mine["latest"]} <= {"33020500300201", "33020500300202"}
    assert everywhere["latest"][0]["reported_at"] == cases["reported_at"].max()
    assert set(mine["latest"][0]) == {"reported_at", "category", "channel", "community", "grid_cell"}
    # Fell overdue in the day before noon of 2020-12-31: open, due within those 24 hours.
    due = theirs["due_at"]
    expected = int(((due >= pd.Timestamp("2020-12-30 12:00")) & (due < pd.Timestamp("2020-12-31 12:00"))
                    & (theirs["status"] != "closed")).sum())
    assert mine["overdue"] == expected
    assert isinstance(mine["hot"], list)


def test_the_cells_that_became_hot_are_found_again_every_five_minutes_not_at_each_new_case(demo_gpkg, tmp_path,
                                                                                          request):
    import pandas as pd

    from dashboards import arrivals as found
    from dashboards.cache import CACHE
    from layers.brief import hotspot_changes
    from layers.filters import CaseFilter
    from tests.conftest import demo_copy

    now = pd.Timestamp("2021-02-28 00:00")  # the demo has 8 cells that became hot in the week before
    with open_store(demo_copy("gpkg", demo_gpkg, tmp_path, request)) as store:
        cases = store.read("cases")
        first = found.arrivals(store, CaseFilter(), now)
        newest = cases["reported_at"].max() + pd.Timedelta(minutes=1)
        case = cases.iloc[:1].assign(case_id="NEW-1", reported_at=newest)
        store.upsert("cases", case)
        CACHE.written(store)
        later = found.arrivals(store, CaseFilter(), now + pd.Timedelta(minutes=4))
        next_time = found.arrivals(store, CaseFilter(), now + pd.Timedelta(minutes=5))
        cells = store.read("grid_cells")
    assert later["latest"][0]["reported_at"] == case["reported_at"].iat[0]  # the case itself is in the ticker at once
    assert later["hot"] is first["hot"]
    assert next_time["hot"] is not first["hot"]
    expected = hotspot_changes(cases[cases["reported_at"] >= now - pd.Timedelta(days=14)], cells, now)
    assert first["hot"] == list(expected.loc[expected["change"] == "new", "name"]) and len(first["hot"]) == 8


def test_the_wall_shows_its_ticker(demo_gpkg):
    out = wall_refresh(lambda: open_store(demo_gpkg[0]), QUERY, 0, None, now=datetime(2021, 3, 1, 9, 0))
    text = str(out[7])
    assert "刚刚到达" in text and "今日新增超期" in text
