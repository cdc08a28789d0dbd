"""What the wall and the brief say of remediation in an area: the year's orders by state, the setback areas'
progress, the overdue orders, the latest effects; on both stores, with the orders of ``orders_demo``."""

import pandas as pd
import pytest

from layers.remediation import remediation_effects
from layers.remediation_orders import orders
from layers.remediation_summary import latest_effects, overdue_orders, setback_progress, year_by_state
from layers.store import Condition, open_store
from tests.layers.orders_demo import COMMANDER, HONGMEI, KONGPU, NOW, WAITAN, writable_demo


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def worked(request, demo_gpkg, tmp_path_factory):
    """The demo with the five orders of ``orders_demo`` in 孔浦街道; its spec and the orders' ids."""
    yield from writable_demo(request, demo_gpkg, tmp_path_factory, "summary")


def test_this_years_orders_are_the_open_ones_and_those_entered_or_closed_this_year(worked):
    spec, _ = worked
    with open_store(spec) as store:
        this_year = year_by_state(orders(store, KONGPU.area, now=NOW), NOW)
        last_year = year_by_state(orders(store, KONGPU.area, now="2020-12-31 12:00"), "2020-12-31 12:00")
    # 2021: planned (proposed), carried over from 2020 (approved), works (in progress), dropped (cancelled in
    # January); the one accepted in December 2020 and the demo's handovers of 2020 are last year's.
    assert this_year == {"proposed": 1, "approved": 1, "in_progress": 1, "accepted": 0, "handed_over": 0,
                         "cancelled": 1}
    # At the end of 2020: the carried order, the one accepted in December and 孔浦's four demo handovers;
    # the orders entered in 2021 are not there yet.
    assert last_year == {"proposed": 0, "approved": 1, "in_progress": 0, "accepted": 1, "handed_over": 4,
                         "cancelled": 0}


def test_the_setback_areas_progress_follows_the_works(worked):
    spec, _ = worked
    with open_store(spec) as store:
        kongpu, district = setback_progress(store, KONGPU.area), setback_progress(store, COMMANDER.area)
        stored = store.read("setback_areas")
    # The demo's 孔浦: 32 unmanaged, 8 handed over; the works put one in renovation.
    assert kongpu == {"unmanaged": 31, "in_renovation": 1, "handed_over": 8}
    assert district == stored["status"].value_counts().to_dict() | {"in_renovation": 1}
    assert sum(district.values()) == len(stored) == 200


def test_the_overdue_orders_longest_first_with_their_places_names_and_days(worked):
    spec, ids = worked
    with open_store(spec) as store:
        late = overdue_orders(store, orders(store, KONGPU.area, now=NOW), NOW)
        register = store.read("remediations", [Condition("remediation_id", "in", [ids["works"], ids["carried"]])])
        setback = register.loc[register["remediation_id"] == ids["works"], "place"].iat[0]
        name = store.read("setback_areas", [Condition("setback_area", "=", setback)])["name"].iat[0]
    assert late["remediation_id"].tolist() == [ids["carried"], ids["works"]]
    # Due 2020-12-31 and 2021-02-19 (those days ended at midnight after them); at 2021-03-01 09:00 they are in
    # their 60th and 10th day over.
    assert late["days_over"].tolist() == [60, 10]
    assert late["state"].tolist() == ["approved", "in_progress"]
    assert late["unit"].tolist() == ["孔浦街道综合执法队", "孔浦街道城市管理科"]
    assert late["category"].tolist() == ["占道经营", "物业纠纷"]
    assert late["place_name"].iat[0].endswith("网格") and late["place_name"].iat[1] == name
    assert late["planned_finish"].tolist() == [pd.Timestamp("2020-12-31"), pd.Timestamp("2021-02-19")]


def test_another_street_and_a_grid_leader_see_only_their_own(worked):
    spec, ids = worked
    with open_store(spec) as store:
        waitan = orders(store, WAITAN.area, now=NOW)
        hongmei = orders(store, HONGMEI.area, now=NOW)
        assert overdue_orders(store, waitan, NOW).empty
        assert overdue_orders(store, hongmei, NOW).empty
    assert not set(ids.values()) & set(waitan["remediation_id"])
    assert set(waitan["street_code"]) == {"330205001"}  # the demo's handovers in 外滩
    assert year_by_state(waitan, NOW) == dict.fromkeys(year_by_state(waitan, NOW), 0)
    assert hongmei["remediation_id"].tolist() == [ids["planned"]]  # the one in her cell
    assert year_by_state(hongmei, NOW)["proposed"] == 1 and sum(year_by_state(hongmei, NOW).values()) == 1


def test_the_latest_effects_are_the_areas_last_finished_remediations_with_a_verdict(worked):
    spec, ids = worked
    with open_store(spec) as store:
        effects = remediation_effects(store)
        in_waitan = orders(store, WAITAN.area, now=NOW)
        waitan = latest_effects(store, in_waitan, effects)
        district = latest_effects(store, orders(store, COMMANDER.area, now=NOW), effects)
        estates = store.read("estates")
    measured = effects[effects["verdict"].notna()]
    # The order accepted in December 2020 is the district's latest finished, measured on the months since.
    assert district["remediation_id"].iat[0] == ids["done_last_year"]
    assert district["remediation_id"].tolist() == measured.nlargest(3, "finished_at")["remediation_id"].tolist()
    theirs = measured[measured["remediation_id"].isin(set(in_waitan["remediation_id"]))]
    assert waitan["remediation_id"].tolist() == theirs.nlargest(3, "finished_at")["remediation_id"].tolist()
    assert len(waitan) == 3 and waitan["finished_at"].is_monotonic_decreasing
    assert set(waitan["place_name"]) <= set(estates["name"])  # the demo's works are on estates, named
    assert waitan[["before", "after"]].notna().all().all()
