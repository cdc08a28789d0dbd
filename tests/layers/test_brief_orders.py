"""The daily brief's overdue remediation orders: the brief's area, as of the brief's time; on both stores,
with the orders of ``orders_demo``."""

from datetime import date

import pandas as pd
import pytest

from layers.areas import Area
from layers.brief import brief_from_store
from layers.store import open_store
from tests.layers.orders_demo import HONGMEI, KONGPU, WAITAN, writable_demo


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def worked(request, demo_gpkg, tmp_path_factory):
    """The demo with the five orders of ``orders_demo`` in 孔浦街道; its spec and the orders' ids."""
    yield from writable_demo(request, demo_gpkg, tmp_path_factory, "brieforders")


def test_the_brief_lists_its_areas_overdue_orders_as_of_its_time(worked):
    spec, ids = worked
    with open_store(spec) as store:
        day_end = brief_from_store(store, date(2021, 2, 28), KONGPU.area)
        morning = brief_from_store(store, date(2021, 2, 19), KONGPU.area, as_of="2021-02-19 08:00")
        before = brief_from_store(store, date(2020, 12, 30), KONGPU.area)
        district = brief_from_store(store, date(2021, 2, 28), Area())
    late = day_end["remediation_overdue"]
    # At the end of 2021-02-28: due 2020-12-31 (59th day over) and 2021-02-19 (9th).
    assert late["remediation_id"].tolist() == [ids["carried"], ids["works"]]
    assert late["days_over"].tolist() == [59, 9]
    assert late["state"].tolist() == ["approved", "in_progress"]
    assert late["planned_finish"].tolist() == [pd.Timestamp("2020-12-31"), pd.Timestamp("2021-02-19")]
    assert late["unit"].tolist() == ["孔浦街道综合执法队", "孔浦街道城市管理科"]
    assert late["category"].tolist() == ["占道经营", "物业纠纷"] and late["place_name"].str.len().gt(0).all()
    # An order is overdue once its planned finish day is over: on the morning of 2021-02-19 the works were
    # still on time, and the carried order 49 days and 8 hours over (its 50th day).
    assert morning["remediation_overdue"]["remediation_id"].tolist() == [ids["carried"]]
    assert morning["remediation_overdue"]["days_over"].tolist() == [50]
    # The day before the carried order's planned finish nothing was overdue yet.
    assert before["remediation_overdue"].empty
    assert district["remediation_overdue"]["remediation_id"].tolist() == late["remediation_id"].tolist()


def test_another_streets_brief_and_a_grid_leaders_have_none(worked):
    spec, _ = worked
    with open_store(spec) as store:
        for area in (WAITAN.area, HONGMEI.area):
            assert brief_from_store(store, date(2021, 2, 28), area)["remediation_overdue"].empty, area
