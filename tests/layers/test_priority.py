"""The priority list: the place with every sign of trouble comes first, and its score is the sum of its parts."""

import pandas as pd
import pytest

from layers.analysis import priority_layer
from layers.filters import CaseFilter
from layers.priority import WEIGHTS, priority_list
from layers.store import open_store


def test_every_part_counts_and_the_score_is_their_weighted_sum():
    places = pd.DataFrame({"place_kind": ["grid_cell"] * 3, "place": ["a", "b", "c"], "name": ["A", "B", "C"],
                           "grid_cell": ["a", "b", "c"], "area_km2": [1.0, 1.0, 1.0]})
    day = pd.Timestamp("2024-03-01")
    rows = [("a", "乱停车", day + pd.Timedelta(days=i), "reported", day) for i in range(6)]  # repeats, overdue
    rows += [("b", "噪声扰民", day + pd.Timedelta(days=60 * i), "closed", day + pd.Timedelta(days=90)) for i in range(3)]
    cases = pd.DataFrame(rows, columns=["grid_cell", "category", "reported_at", "status", "due_at"])
    cases["estate_id"], cases["setback_area"] = None, None
    ranked = priority_list(places, cases, pd.Series({"a": 3, "b": 0, "c": -2}), {("grid_cell", "a")},
                           as_of="2024-06-01")
    assert ranked["place"].tolist() == ["a", "b", "c"]
    a = ranked.iloc[0]
    assert (a["density"], a["hotspot"], a["recurrence"], a["overdue"], a["blind_spot"]) == (1.0, 1.0, 0.833, 1.0, 1.0)
    for _, row in ranked.iterrows():
        assert row["score"] == pytest.approx(sum(row[p] * w for p, w in WEIGHTS.items()), abs=0.1)
    assert ranked.iloc[2]["score"] == 0 and ranked.iloc[2]["hotspot"] == 0  # a cold spot is no priority


def test_the_demo_priority_list_names_the_unmanaged_estates(demo_gpkg):
    from datetime import date

    with open_store(demo_gpkg[0]) as store:
        ranked = priority_layer(store, CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31)))
        unmanaged = set(store.read("setback_areas").query("status == 'unmanaged'")["estate_id"])
    assert set(ranked["place_kind"]) == {"grid_cell", "estate", "setback_area"}
    top_estates = ranked[ranked["place_kind"] == "estate"].head(10)
    assert set(top_estates["place"]) <= unmanaged
    assert ranked["score"].is_monotonic_decreasing
