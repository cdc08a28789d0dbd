from datetime import date

import pandas as pd

from layers.filters import CaseFilter, preset_period
from layers.kpis import filtered_kpis
from layers.store import open_store


def test_a_url_query_round_trips_and_nonsense_is_dropped():
    query = {"from": "2020-01-01", "to": "2020-12-31", "street": "330205003", "category": "邻里纠纷,物业纠纷",
             "channel": "e_ningbo,nowhere", "status": "closed", "level": "street,top", "overdue": "1"}
    f = CaseFilter.from_query(query)
    assert f.channels == ("e_ningbo",) and f.levels == ("street",) and f.overdue_only
    assert CaseFilter.from_query(f.to_query()) == f
    assert CaseFilter.from_query({"from": "2020-13-45"}, today=date(2021, 3, 1)).start == date(2021, 1, 1)


def test_presets_end_today_and_weeks_start_on_monday():
    today = date(2021, 3, 4)  # a Thursday
    assert preset_period("week", today) == (date(2021, 3, 1), today)
    assert preset_period("month", today) == (date(2021, 3, 1), today)
    assert CaseFilter.from_query({"preset": "today"}, today=today).start == today


def test_choosing_another_street_drops_the_community_and_cell_below_it():
    f = CaseFilter(street_code="330205003", community_code="330205003002", grid_cell="33020500300201")
    assert f.narrowed(grid_cell="33020500300203").grid_cell == "33020500300203"
    moved = f.narrowed(street_code="330205001")
    assert (moved.community_code, moved.grid_cell) == (None, None)


def test_a_filter_narrows_the_demo_cases_and_their_tiles(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        year = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))
        everything = year.read_cases(store)
        street = year.narrowed(street_code="330205003").read_cases(store)
        e_ningbo = year.narrowed(channels=("e_ningbo",)).read_cases(store)
        overdue = year.narrowed(overdue_only=True).read_cases(store, as_of="2021-03-01")
    assert 0 < len(street) < len(everything) and (street["street_code"] == "330205003").all()
    # A case that E宁波 reported second counts under E宁波 too.
    assert len(e_ningbo) > (everything["channel"] == "e_ningbo").sum()
    assert (overdue["status"] != "closed").all() and len(overdue) == 5
    tiles = filtered_kpis(everything[everything["kind"] == "dispute"], as_of="2021-01-01")
    assert tiles["received"] == 2377 and tiles["resolved_in_place_rate"] == 0.9655
    petitions = filtered_kpis(everything[everything["kind"] == "petition"], as_of="2021-01-01")
    assert petitions["first_petitions"] > 0 and petitions["first_petition_settled_rate"] > 0.9
    assert abs(sum(tiles["level_share"].values()) - 1) < 1e-3


def test_channel_counts_count_a_merged_case_for_each_of_its_channels():
    from layers.filters import channel_counts

    cases = pd.DataFrame({"channel": ["e_ningbo", "hotline_12345", "walk_in", "walk_in"],
                          "channels": ["e_ningbo;hotline_12345", None, None, "walk_in;e_ningbo"]})
    expected = {"e_ningbo": 2, "hotline_12345": 2, "walk_in": 2}
    assert channel_counts(cases) == expected
    assert channel_counts(cases.astype("category")) == expected  # as the dashboard holds them
    picked = CaseFilter(channels=("hotline_12345",)).apply(cases.astype("category").assign(
        status="closed", due_at=pd.Timestamp("2020-01-01")))
    assert list(picked.index) == [0, 1]
