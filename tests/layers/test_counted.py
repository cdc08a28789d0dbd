"""A view counted by the store gives the figures the cases themselves give.

On the ingested demo, in each store: for each filter, the KPIs, the cells,
the charts' series, the hotspots and the emerging hotspots counted by the
store (``layers.counted``, from ``case_counts`` and grouped queries) equal
those computed over the same cases read whole.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from layers import counted
from layers.analysis import counted_emerging, counted_hotspots, emerging_cells, hotspot_cells
from layers.areas import Area
from layers.filters import CaseFilter, channel_counts, tally
from layers.kpis import compute_kpis, filtered_kpis
from layers.store import Condition, open_store, period_filter

AS_OF = pd.Timestamp("2020-12-15 12:00")
YEAR = dict(start=date(2020, 1, 1), end=date(2020, 12, 31))
FILTERS = {
    "the whole year": CaseFilter(**YEAR),
    "a street": CaseFilter(**YEAR, street_code="330205003"),
    "a community": CaseFilter(**YEAR, community_code="330205003002"),
    "a grid leader's cells": CaseFilter(**YEAR, area=Area.parse("cells:33020500300201,33020500300202")),
    "the district as an area": CaseFilter(**YEAR, area=Area.parse("district:330205")),
    "categories": CaseFilter(**YEAR, categories=("邻里纠纷", "物业纠纷")),
    "a channel": CaseFilter(**YEAR, channels=("hotline_12345",)),
    "statuses and levels": CaseFilter(**YEAR, statuses=("closed",), levels=("community", "street")),
    "overdue only": CaseFilter(**YEAR, overdue_only=True),
    "a month": CaseFilter(start=date(2020, 6, 1), end=date(2020, 6, 30)),
    "all time": CaseFilter(),
    # Periods that cut months: the store counts their whole months by month and the days at the ends by day.
    "mid-month to mid-month": CaseFilter(start=date(2020, 2, 15), end=date(2020, 11, 14)),
    "a street, mid-month on": CaseFilter(start=date(2020, 3, 31), end=date(2020, 12, 31), street_code="330205003"),
    "days inside a month": CaseFilter(start=date(2020, 6, 10), end=date(2020, 6, 20)),
    "up to mid-July": CaseFilter(end=date(2020, 7, 14)),
    "from mid-July": CaseFilter(start=date(2020, 7, 15)),
}


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def demo(request, demo_gpkg):
    if request.param == "postgis":
        return request.getfixturevalue("demo_postgis")
    return demo_gpkg[0]


@pytest.mark.parametrize("name", list(FILTERS))
def test_the_kpis_counted_by_the_store_are_those_of_the_cases(demo, name):
    f = FILTERS[name]
    with open_store(demo) as store:
        cases = f.read_cases(store, as_of=AS_OF)
        # The visits of the period whose case the view keeps, whenever it was opened (as the dashboard counts).
        theirs = set(f.narrowed(start=None, end=None).read_cases(store, as_of=AS_OF)["case_id"])
        sources = store.read("case_sources", period_filter(f.start, f.end) + [Condition("channel", "=", "walk_in")])
        sources = sources[sources["case_id"].isin(theirs)]
        expected = compute_kpis(cases, sources, start=f.start, end=f.end, as_of=AS_OF)
        expected["all"] = filtered_kpis(cases, as_of=AS_OF)
        found = counted.kpis(store, f, as_of=AS_OF)
    assert found["all"] == expected["all"]
    for group in ("disputes", "events", "petitions", "by_channel", "period"):
        assert found[group] == expected[group], group
    assert found["visits"] == expected["visits"]
    assert counted.count(store, f, as_of=AS_OF) == len(cases)


@pytest.mark.parametrize("name", ["the whole year", "a street", "a channel", "a grid leader's cells", "all time",
                                  "mid-month to mid-month", "a street, mid-month on", "days inside a month",
                                  "up to mid-July", "from mid-July"])
def test_the_cells_and_charts_counted_by_the_store_are_those_of_the_cases(demo, name):
    f = FILTERS[name]
    with open_store(demo) as store:
        cases = f.read_cases(store)
        cells = store.read("grid_cells", f.place_conditions("grid_cells"))
        assert counted.per_cell(store, f).sort_index().to_dict() == tally(cases["grid_cell"]).sort_index().to_dict()
        received = cases["reported_at"].dt.normalize().value_counts().sort_index()
        assert counted.received_per_day(store, f).to_dict() == received.to_dict()
        closed = cases["closed_at"].dropna().dt.normalize().value_counts().sort_index()
        assert counted.closed_per_day(store, f).to_dict() == closed.to_dict()
        assert counted.per_category(store, f).to_dict() == tally(cases["category"]).to_dict()
        assert counted.per_channel(store, f) == channel_counts(cases)
        closed_rows = (cases["status"] == "closed").to_numpy()
        assert counted.closed_per_level(store, f).to_dict() == tally(cases["level"], closed_rows).reindex(
            ["community", "street", "district"], fill_value=0).to_dict()
        hot = counted_hotspots(counted.per_cell(store, f), cells)
        pd.testing.assert_frame_equal(hot.drop(columns="geometry"), hotspot_cells(cases, cells).drop(columns="geometry"))
        days = counted.per_cell_day(store, f)
        emerging = counted_emerging(days["grid_cell"], days["day"], days["n"], cells, start=f.start, end=f.period_end())
        pd.testing.assert_frame_equal(emerging.drop(columns="geometry"),
                                      emerging_cells(cases, cells, start=f.start, end=f.period_end())
                                      .drop(columns="geometry"))


def test_the_latest_and_what_fell_overdue_are_those_of_the_cases(demo):
    from layers.arrivals import fell_overdue, latest

    f = CaseFilter(area=Area.parse("street:330205003"))
    with open_store(demo) as store:
        cases = f.read_cases(store)
        communities = store.read("communities")
        assert latest(counted.latest(store, f, 8), communities) == latest(cases, communities)
        assert counted.fell_overdue(store, f, AS_OF) == fell_overdue(cases, AS_OF)
        since = pd.Timestamp("2020-12-01 08:00")
        assert counted.arrived_since(store, f, since) == int((cases["reported_at"] > since).sum())


def test_a_view_is_counted_from_the_narrowest_rollup_that_holds_what_it_asks():
    # The map's cells over whole months: the month × cell counts; by day: the day × street counts cannot say
    # cells, so the widest; a category filter on the tiles: only the widest holds category with status.
    assert counted._narrowest({"grid_cell", "n"}, "month") == "counts_month_cell"
    assert counted._narrowest({"street_code", "n"}, "day") == "counts_day_street"
    assert counted._narrowest({"grid_cell", "n"}, "day") == "case_counts"
    assert counted._narrowest({"kind", "status", "level", "channel", "category", "n"}, "month") is None
    assert counted._narrowest({"kind", "status", "level", "channel", "n"}, "month") == "counts_month_street"
    # The closed cases' counts hold only the closed: never the answer to how many cases there are.
    assert counted._narrowest({"district_code", "n"}, "month") != "counts_month_closed"
    assert counted._narrowest({"street_code", "closed_day", "n"}, "month") == "counts_month_closed"
