"""The analysis layers over the ingested demo: hotspots where the generator planted them, and the
blind spots it left on purpose."""

from datetime import date

import pytest

from layers.analysis import (
    blind_spot_layer,
    change_layer,
    emerging_layer,
    hotspot_layer,
)
from layers.filters import CaseFilter
from layers.store import open_store

YEAR = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))


def test_hotspots_where_the_demo_planted_them_and_not_elsewhere(demo_gpkg, demo_build):
    # The grid leaders' own reports (located where they stand), per 1 000 residents: the
    # planted areas draw six times their people's share.
    with open_store(demo_gpkg[0]) as store:
        found = hotspot_layer(store, YEAR.narrowed(channels=("grid_platform",)), measure="per_1000")
        cells = store.read("grid_cells")
    areas = [set(area) for area in demo_build["hot_areas"]]
    hot = set().union(*areas)
    near = set(cells.loc[cells.geometry.intersects(cells[cells["grid_cell"].isin(hot)].union_all().buffer(1e-6)),
                         "grid_cell"])
    called = set(found.loc[found["bin"] >= 2, "grid_cell"])
    assert called and called <= near  # nothing called hot away from a planted area
    assert all(area & called for area in areas)
    assert (found["bin"] <= -2).sum() == 0


def test_emerging_patterns_and_change_cover_every_cell(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        emerging = emerging_layer(store, YEAR, measure="per_1000")
        change = change_layer(store, CaseFilter(start=date(2020, 12, 1), end=date(2020, 12, 31)),
                              baseline="previous_3")
        cells = store.read("grid_cells")
    assert len(emerging) == len(change) == len(cells)
    assert set(emerging["pattern"]) <= {f"{p}_{s}" for p in ("new", "consecutive", "intensifying", "persistent",
                                                               "diminishing", "sporadic", "oscillating", "historical")
                                        for s in ("hot", "cold")} | {"no_pattern"}
    assert change["before"].sum() > 0 and set(change["direction"]) <= {-1, 0, 1}


def test_the_blind_spots_the_demo_left_on_purpose(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        found = blind_spot_layer(store, YEAR)
        communities = store.read("communities")
    rules = found.groupby("rule").size()
    assert rules["outside_grid"] > 0 and rules["unmanaged_setback_area"] > 0
    # The list's three gaps: 违章搭建 in 慈城镇 and 洪塘街道, 物业纠纷 in 庄桥街道.
    gaps = found[found["rule"] == "category_without_unit"]
    street_of = dict(zip(communities["community_code"], communities["street_code"]))
    assert {(c, street_of[p][:9]) for p, c in zip(gaps["place"], gaps["category"])} <= {
        ("违章搭建", "330205103"), ("违章搭建", "330205007"), ("物业纠纷", "330205006")}
    assert rules.get("component_broken_again", 0) > 0


def test_a_change_layer_needs_a_period():
    with pytest.raises(ValueError):
        change_layer(None, CaseFilter(start=None, end=None))
