"""The daily brief's figures, on cases whose answers are plain, and against `onemap kpis` on the demo."""

from datetime import date

import pandas as pd

from layers.brief import daily_brief, day_clearing, notable, overdue_list
from layers.kpis import kpis_from_store
from layers.store import open_store

DAY = date(2020, 6, 10)


def cases(rows):
    frame = pd.DataFrame(rows, columns=["case_id", "reported_at", "channel", "category", "status", "level",
                                        "due_at", "people", "reporter_phone", "street_code", "responsible_unit"])
    for column in ("reported_at", "due_at"):
        frame[column] = pd.to_datetime(frame[column], format="mixed")
    frame["closed_at"] = pd.NaT
    frame["resolved_in_place"] = False
    frame["level_received"] = frame["level"]
    frame["kind"] = "dispute"
    frame["channels"] = None  # each case came by one channel
    return frame


ROWS = [
    # Seven days before yesterday: 14 hotline cases, 2 a day.
    *[(f"W{i}", f"2020-06-0{2 + i // 2} 10:00", "hotline_12345", "噪声扰民", "closed", "community", "2020-06-30",
       1, None, "330205003", "孔浦街道城管中队") for i in range(14)],
    # Yesterday: two still only reported (to clear), one dispatched, one escalated mass dispute.
    ("Y1", "2020-06-09 08:00", "hotline_12345", "噪声扰民", "reported", "community", "2020-06-20", 1, "13900000001",
     "330205003", "孔浦街道城管中队"),
    ("Y2", "2020-06-09 07:00", "e_ningbo", "占道经营", "reported", "street", "2020-06-20", 1, "13900000001",
     "330205001", "外滩街道城管中队"),
    ("Y3", "2020-06-09 09:00", "e_ningbo", "占道经营", "dispatched", "street", "2020-06-20", 1, None,
     "330205003", "孔浦街道城管中队"),
    ("Y4", "2020-06-09 11:00", "walk_in", "劳资纠纷", "coordinated", "district", "2020-06-20", 12, "13900000001",
     "330205003", "区人力社保局"),
    # Today, and an old case now overdue.
    ("T1", "2020-06-10 09:00", "hotline_12345", "噪声扰民", "reported", "community", "2020-06-20", 1, None,
     "330205003", "孔浦街道城管中队"),
    ("O1", "2020-05-01 09:00", "hotline_12345", "物业纠纷", "dispatched", "street", "2020-06-05 09:00", 1, None,
     "330205003", "孔浦街道物业办"),
]


def test_intake_is_counted_against_the_seven_days_before():
    visits = pd.DataFrame({"case_id": ["Y4"], "channel": ["walk_in"], "reported_at": [pd.Timestamp("2020-06-09 11:00")],
                           "people": [12]})
    brief = daily_brief(cases(ROWS), visits, DAY)
    assert brief["received"] == {"yesterday": 4, "today": 1, "week_average": 2.0}
    channels = brief["intake"]["channel"].set_index("channel")
    assert channels.loc["hotline_12345"].tolist() == [1, 1, 2.0]
    assert channels.loc["e_ningbo"].tolist() == [2, 0, 0.0]
    assert brief["kpis"]["yesterday"]["disputes"]["received"] == 4


def test_the_day_clearing_list_holds_yesterdays_undispatched_by_street_and_unit_oldest_first():
    left = day_clearing(cases(ROWS), date(2020, 6, 9))
    assert left["case_id"].tolist() == ["Y2", "Y1"]  # 外滩 (330205001) before 孔浦 (330205003)


def test_overdue_and_notable_cases():
    frame = cases(ROWS)
    late = overdue_list(frame, pd.Timestamp("2020-06-10 23:59:59"))
    assert late["case_id"].tolist() == ["O1"] and late["days_over"].iat[0] == 5.6
    named = notable(frame, DAY, pd.Timestamp("2020-06-10 23:59:59"))
    assert named["escalated"]["case_id"].tolist() == ["Y4"] and named["mass"]["case_id"].tolist() == ["Y4"]
    assert sorted(named["repeat_callers"]["case_id"]) == ["Y1", "Y2", "Y4"]
    assert set(named["repeat_callers"]["calls_in_30_days"]) == {3}


def test_the_briefs_figures_equal_onemap_kpis_for_the_same_day(demo_gpkg):
    day = date(2020, 11, 18)
    with open_store(demo_gpkg[0]) as store:
        every = store.read("cases")
        visits = store.read("case_sources")
        visits = visits[visits["channel"] == "walk_in"]
        brief = daily_brief(every, visits, day, as_of=pd.Timestamp("2020-11-18 23:59:59"))
        kpis = kpis_from_store(store, start=day, end=day, as_of=pd.Timestamp("2020-11-18 23:59:59"))
    for group in ("disputes", "events", "petitions", "visits"):
        assert brief["kpis"]["today"][group] == kpis[group], group
    assert brief["received"]["today"] == sum(kpis[g]["received"] for g in ("disputes", "events", "petitions"))


def test_a_made_brief_is_kept_as_it_was(store):
    from layers.brief import archive_brief, archived_brief

    archive_brief(store, DAY, "district", "<p>今日受理 37 件</p>", made_at=pd.Timestamp("2020-06-10 08:00"))
    archive_brief(store, DAY, "street:330205003", "<p>孔浦 5 件</p>")
    assert archived_brief(store, DAY, "district") == "<p>今日受理 37 件</p>"
    assert archived_brief(store, DAY, "street:330205003") == "<p>孔浦 5 件</p>"
    assert archived_brief(store, date(2020, 6, 11), "district") is None
    archive_brief(store, DAY, "district", "<p>今日受理 38 件</p>")  # made again: the newer stands
    assert archived_brief(store, DAY, "district") == "<p>今日受理 38 件</p>" and store.count("briefs") == 2


def lattice(n=8):
    """An n × n block of square grid cells (about 100 m) with their codes."""
    import geopandas as gpd
    from shapely.geometry import box

    size = 0.001
    codes = [f"C{r}{c}" for r in range(n) for c in range(n)]
    return gpd.GeoDataFrame({"grid_cell": codes, "name": codes, "community_code": "K", "street_code": "S",
                             "population": 100},
                            geometry=[box(121.5 + c * size, 29.9 + r * size, 121.5 + (c + 1) * size,
                                          29.9 + (r + 1) * size) for r in range(n) for c in range(n)], crs=4490)


def test_a_cluster_that_appears_this_week_is_a_new_hotspot_and_last_weeks_is_not_named():
    from layers.brief import hotspot_changes

    cells = lattice()
    until = pd.Timestamp("2020-06-10")
    rows = []
    # Last week: a cluster in the south-west corner; this week: one in the north-east corner.
    for cell in ("C00", "C01", "C10", "C11"):
        rows += [(cell, until - pd.Timedelta(days=10))] * 6
    for cell in ("C66", "C67", "C76", "C77"):
        rows += [(cell, until - pd.Timedelta(days=3))] * 6
    # A scatter of single cases everywhere, both weeks.
    rows += [(code, until - pd.Timedelta(days=1 + 7 * (i % 2))) for i, code in enumerate(cells["grid_cell"])]
    found = hotspot_changes(pd.DataFrame(rows, columns=["grid_cell", "reported_at"]), cells, until)
    assert set(found["grid_cell"]) <= {"C66", "C67", "C76", "C77"} and len(found) >= 3
    assert set(found["change"]) == {"new"} and (found["cases"] > found["cases_before"]).all()


def test_the_brief_from_the_store_agrees_with_the_dashboard_for_the_same_area_and_days(demo_store):
    from dashboards.selection import filtered_cases
    from layers.areas import Area
    from layers.brief import brief_from_store
    from layers.filters import CaseFilter, channel_counts
    from layers.kpis import compute_kpis

    day, as_of = date(2020, 11, 18), pd.Timestamp("2020-11-18 23:59:59")
    with open_store(demo_store) as store:
        for area in (Area.parse("street:330205003"), Area.parse("cells:33020500300101,33020500300102"), Area()):
            brief = brief_from_store(store, day, area, as_of=as_of)
            for column, first in (("today", day), ("yesterday", date(2020, 11, 17))):
                f = CaseFilter(start=first, end=first, area=area)
                cases, visits = filtered_cases(store, f, as_of=as_of)  # what the overview's tiles count
                shown = compute_kpis(cases, visits, start=first, end=first, as_of=as_of)
                for group in ("disputes", "events", "petitions", "visits"):
                    assert brief["kpis"][column][group] == shown[group], (area, column, group)
                channels = brief["intake"]["channel"].set_index("channel")[column]
                assert channels[channels > 0].to_dict() == dict(channel_counts(cases)), (area, column)
                categories = brief["intake"]["category"].set_index("category")[column]
                assert categories[categories > 0].to_dict() == cases["category"].astype(str).value_counts().to_dict()
            assert brief["received"]["today"] == len(filtered_cases(store, CaseFilter(start=day, end=day, area=area),
                                                                    as_of=as_of)[0])
        assert brief["area"] == "江北区" and len(brief["map"]["cases"]) == brief["received"]["today"] + \
            brief["received"]["yesterday"] - int(brief["map"]["cases"].geometry.isna().sum())


def test_the_day_clearing_list_names_each_street(demo_gpkg):
    from layers.brief import brief_from_store

    with open_store(demo_gpkg[0]) as store:
        streets = store.read("streets")
        waiting = store.read("cases")
        brief = brief_from_store(store, date(2021, 3, 2))
    waiting = waiting[(waiting["status"] == "reported") & (waiting["reported_at"].dt.date == date(2021, 3, 1))]
    names = dict(zip(streets["street_code"], streets["name"]))
    assert len(brief["to_clear"]) == len(waiting) > 0
    assert brief["to_clear"]["street"].tolist() == brief["to_clear"]["street_code"].map(names).tolist()
