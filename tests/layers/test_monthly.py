"""The monthly analysis: recurring problems, hard cases, remediation progress and blind-spot changes on
frames with plain answers, and the month's figures against the dashboard's on the demo in both stores."""

from datetime import date

import pandas as pd

from layers.monthly import (
    blind_spot_changes,
    hard_cases,
    month_bounds,
    recurring_pairs,
    recurring_problems,
    remediation_progress,
)
from layers.store import open_store

MONTH_START = pd.Timestamp("2020-11-01")


def cases(rows):
    """Cases from (case_id, reported_at, grid_cell, estate_id, category) rows."""
    frame = pd.DataFrame(rows, columns=["case_id", "reported_at", "grid_cell", "estate_id", "category"])
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    return frame


def test_the_same_problem_at_the_same_place_three_times_in_the_month_is_a_recurring_problem():
    rows = [(f"A{i}", f"2020-{m:02d}-10", "C1", None, "噪声扰民") for i, m in enumerate([6, 7, 7, 8, 8, 8, 9, 9, 9, 9])]
    rows += [(f"B{i}", f"2020-11-{d:02d}", "C1", None, "噪声扰民") for i, d in enumerate([3, 9, 20, 21, 28])]
    rows += [(f"E{i}", f"2020-11-{d:02d}", "C2", "E9", "物业纠纷") for i, d in enumerate([2, 12, 22])]
    rows += [(f"D{i}", f"2020-11-{d:02d}", "C3", None, "乱停车") for i, d in enumerate([4, 5])]  # twice: not yet
    register = pd.DataFrame({"place_kind": ["setback_area"], "place": ["E9-S"], "estate_id": ["E9"]})
    assert len(recurring_pairs(cases(rows), MONTH_START)) == 3
    found = recurring_problems(cases(rows), MONTH_START, register, {("grid_cell", "C1"): "白杨社区第1网格"})
    assert recurring_problems(cases(rows), MONTH_START, register, {}, top=1)["place"].tolist() == ["C1"]
    assert found[["place_kind", "place", "category", "cases"]].values.tolist() == [
        ["grid_cell", "C1", "噪声扰民", 5], ["estate", "E9", "物业纠纷", 3], ["grid_cell", "C2", "物业纠纷", 3]]
    noise = found.iloc[0]
    assert noise["name"] == "白杨社区第1网格" and noise["per_month"] == [1, 2, 3, 4, 0, 5]
    assert noise["case_ids"] == ["B0", "B1", "B2", "B3", "B4"] and not noise["on_register"]
    # The estate's setback area is on the register, so the estate is; its grid cell is not.
    assert found.set_index(["place_kind", "place"])["on_register"].to_dict() == {
        ("grid_cell", "C1"): False, ("estate", "E9"): True, ("grid_cell", "C2"): False}


def test_a_rising_count_month_after_month_is_a_rising_trend():
    rows = [(f"R{m}{i}", f"2020-{m:02d}-{1 + i:02d}", "C1", None, "乱停车") for m in range(6, 12)
            for i in range(m - 5)]
    found = recurring_problems(cases(rows), MONTH_START, pd.DataFrame(columns=["place_kind", "place"]), {})
    assert found["per_month"].iat[0] == [1, 2, 3, 4, 5, 6] and found["trend"].iat[0] == "rising"


def test_hard_cases_open_longest_escalated_most_reported_by_most_channels():
    in_month = pd.DataFrame({
        "case_id": ["M1", "M2", "M3"], "reported_at": pd.to_datetime(["2020-11-02", "2020-11-03", "2020-11-04"]),
        "category": "劳资纠纷", "street_code": "330205003", "status": "closed",
        "level_received": ["community", "community", "street"], "level": ["district", "street", "street"],
        "channel": ["walk_in", "e_ningbo", "hotline_12345"],
        "channels": ["e_ningbo;hotline_12345;walk_in", None, "e_ningbo;hotline_12345"]})
    open_at_end = pd.DataFrame({"case_id": ["O1", "O2"], "reported_at": pd.to_datetime(["2020-10-01", "2020-03-01"]),
                                "category": "物业纠纷", "street_code": "330205003", "level": "street",
                                "status": "dispatched"})
    hard = hard_cases(in_month, open_at_end, pd.Timestamp("2020-12-01"))
    assert hard["open_longest"]["case_id"].tolist() == ["O2", "O1"] and hard["open_longest"]["days_open"].iat[0] == 275
    assert hard["escalated"][["case_id", "escalations"]].values.tolist() == [["M1", 2], ["M2", 1]]
    assert hard["many_channels"][["case_id", "channel_count"]].values.tolist() == [["M1", 3], ["M3", 2]]


def test_remediation_progress_at_the_months_end():
    start, after = month_bounds("2020-11")
    register = pd.DataFrame({"place_kind": "estate", "place": ["E1", "E2", "E3"],
                             "started_at": pd.to_datetime(["2020-06-01", "2020-11-05", "2020-10-01"]),
                             "finished_at": pd.to_datetime(["2020-08-01", None, "2020-11-20"]),
                             "verdict": ["reduced", None, None]})
    counts = remediation_progress(register, start, after)["counts"]
    assert counts == {"registered": 3, "started_in_month": 1, "finished_in_month": 1, "under_way": 1, "finished": 2,
                      "verdict_reduced": 1, "verdict_increased": 0, "verdict_none": 0}


def test_blind_spots_new_continuing_and_cleared_since_last_month():
    def spots(rows):
        return pd.DataFrame(rows, columns=["rule", "place_kind", "place", "category", "cases"])

    now = spots([("recurring_in_cell", "grid_cell", "C1", "噪声扰民", 5), ("outside_grid", "case", "X1", None, 1)])
    before = spots([("recurring_in_cell", "grid_cell", "C1", "噪声扰民", 3),
                    ("unmanaged_setback_area", "setback_area", "E1-S", None, 4)])
    changed = blind_spot_changes(now, before)
    assert changed[["place", "change", "cases", "cases_before"]].values.tolist() == [
        ["X1", "new", 1, 0], ["C1", "continuing", 5, 3], ["E1-S", "cleared", 0, 4]]


def test_the_months_figures_agree_with_the_dashboard_for_the_same_area_and_months(demo_store):
    from dashboards.selection import filtered_cases
    from layers.areas import Area
    from layers.filters import CaseFilter
    from layers.kpis import compute_kpis
    from layers.monthly import monthly_from_store

    with open_store(demo_store) as store:
        for area in (Area(), Area.parse("street:330205003")):
            analysis = monthly_from_store(store, "2021-02", area)
            for key, (first, last) in {"month": (date(2021, 2, 1), date(2021, 2, 28)),
                                       "previous_month": (date(2021, 1, 1), date(2021, 1, 31)),
                                       "last_year": (date(2020, 2, 1), date(2020, 2, 29))}.items():
                as_of = pd.Timestamp(last) + pd.Timedelta(days=1)
                shown, visits = filtered_cases(store, CaseFilter(start=first, end=last, area=area), as_of=as_of)
                kpis = compute_kpis(shown, visits, start=first, end=last, as_of=as_of)
                for group in ("disputes", "events", "petitions", "visits"):
                    assert analysis["figures"][key][group] == kpis[group], (area, key, group)
            month = filtered_cases(store, CaseFilter(start=date(2021, 2, 1), end=date(2021, 2, 28), area=area))[0]
            categories = analysis["categories"].set_index("category")["cases"]
            assert categories[categories > 0].to_dict() == month["category"].astype(str).value_counts().to_dict()
            assert (analysis["recurring"]["cases"] >= 3).all()
            assert set(analysis["blind_spots"]["change"]) <= {"new", "continuing", "cleared"}
