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
