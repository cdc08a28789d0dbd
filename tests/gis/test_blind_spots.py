"""Each blind-spot rule on a handful of records whose answer is plain."""

import geopandas as gpd
import pandas as pd
from shapely.geometry import Point

from gis.blind_spots import (
    COLUMNS,
    blind_spots,
    categories_without_unit,
    components_broken_again,
    outside_grid,
    recurring_in_cells,
    unmanaged_setback_areas,
)


def cases_frame(rows):
    """rows: (case_id, category, reported_at, grid_cell, community_code, setback_area, component_id, outside)."""
    frame = pd.DataFrame(rows, columns=["case_id", "category", "reported_at", "grid_cell", "community_code",
                                        "setback_area", "component_id", "outside_grid"])
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    return gpd.GeoDataFrame(frame, geometry=[Point(121.5 + i / 1000, 29.9) for i in range(len(frame))],
                            crs="EPSG:4490")


CASES = cases_frame([
    ("C1", "乱停车", "2024-01-01", "g1", "c1", None, None, False),
    ("C2", "乱停车", "2024-01-20", "g1", "c1", None, None, False),
    ("C3", "乱停车", "2024-02-10", "g1", "c1", None, None, False),
    ("C4", "乱停车", "2024-03-01", "g1", "c1", None, None, False),   # three repeats within 30 days in g1
    ("C5", "乱停车", "2024-01-01", "g2", "c1", None, None, False),
    ("C6", "乱停车", "2024-06-01", "g2", "c1", None, None, False),   # far apart: not a repeat
    ("C7", "违章搭建", "2024-04-01", "g3", "c2", "S1", None, False),
    ("C8", "违章搭建", "2024-05-01", None, None, None, None, True),   # outside every cell
    ("C9", "井盖破损", "2024-01-05", "g1", "c1", None, "K1", False),
    ("C10", "井盖破损", "2024-03-05", "g1", "c1", None, "K1", False),
    ("C11", "井盖破损", "2024-05-05", "g1", "c1", None, "K1", False),
    ("C12", "井盖破损", "2024-07-05", "g1", "c1", None, "K1", False),  # K1 broken four times, 60 days apart
    ("C13", "井盖破损", "2024-01-05", "g2", "c1", None, "K2", False),
])
COMPONENTS = gpd.GeoDataFrame({"component_id": ["K1", "K2", "K3"], "class_name": ["上水井盖"] * 3,
                               "surveyed_at": pd.to_datetime(["2023-01-01"] * 3), "outside_grid": [False, False, True]},
                              geometry=[Point(121.5, 29.9), Point(121.51, 29.9), Point(121.7, 29.9)], crs="EPSG:4490")
SETBACKS = pd.DataFrame({"setback_area": ["S1", "S2", "S3"], "managing_unit": [None, None, "某物业"]})


def test_cases_and_components_outside_every_cell():
    found = outside_grid(CASES, COMPONENTS)
    assert sorted(zip(found["place_kind"], found["place"])) == [("case", "C8"), ("component", "K3")]
    assert found.loc[found["place"] == "K3", "lon"].item() == 121.7


def test_setback_areas_with_cases_and_no_manager():
    found = unmanaged_setback_areas(SETBACKS, CASES)
    assert found["place"].tolist() == ["S1"] and found["cases"].tolist() == [1]  # S2 has no cases, S3 a manager


def test_categories_nobody_answers_for_where_they_happen():
    units = pd.Series(["执法中队"] * 6 + [None, None] + ["养护所"] * 5)
    found = categories_without_unit(CASES, units)
    assert list(zip(found["place"], found["category"], found["cases"])) == [("c2", "违章搭建", 1)]


def test_the_same_problem_again_and_again_in_a_cell():
    found = recurring_in_cells(CASES)
    assert list(zip(found["place"], found["category"], found["cases"])) == [("g1", "乱停车", 4)]
    assert recurring_in_cells(CASES, repeats=4).empty


def test_a_component_broken_again_and_again():
    found = components_broken_again(CASES)
    assert list(zip(found["place"], found["cases"])) == [("K1", 4)]
    assert components_broken_again(CASES, days=30).empty


def test_all_rules_in_one_list():
    units = pd.Series(["执法中队"] * 6 + [None, None] + ["养护所"] * 5)
    found = blind_spots(CASES, COMPONENTS, SETBACKS, units)
    assert list(found.columns) == COLUMNS
    assert found["rule"].tolist() == ["outside_grid", "outside_grid", "unmanaged_setback_area",
                                      "category_without_unit", "recurring_in_cell", "component_broken_again"]
