"""A view counted under its mask gives the figures of its cases copied out.

On the ingested demo's cases, for each filter: the KPIs, the days received and
closed, the channels and the settled levels counted by ``layers.tallies`` over
all the cases and the filter's mask equal those ``layers.kpis`` and the charts
compute over the view's cases; and on a few cases made to hit the edges (no
deadline, no phone, ties in time, a period that ended before now).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from layers import tallies
from layers.filters import CaseFilter, channel_counts, tally
from layers.kpis import compute_kpis, filtered_kpis
from layers.schema import LEVELS
from layers.store import Condition, open_store
from tests.layers.test_counted import AS_OF
from tests.layers.test_counted import FILTERS as COUNTED_FILTERS

# The store's counted views' filters (and one that keeps nothing): the same views, counted in memory.
FILTERS = {**COUNTED_FILTERS, "nothing": CaseFilter(start=date(2031, 1, 1))}


@pytest.fixture(scope="module")
def demo_cases(demo_gpkg):
    with open_store(demo_gpkg[0]) as store:
        return store.read("cases"), store.read("case_sources", [Condition("channel", "=", "walk_in")])


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_view_counted_under_its_mask_has_the_kpis_of_its_cases(demo_cases, name):
    cases, sources = demo_cases
    f = FILTERS[name]
    within = f.mask(cases, as_of=AS_OF)
    view = cases[within]
    visits = sources[sources["case_id"].isin(set(view["case_id"]))]
    expected = compute_kpis(view, visits, start=f.start, end=f.end, as_of=AS_OF)
    expected["all"] = filtered_kpis(view, as_of=AS_OF)
    assert tallies.kpis(cases, tallies.standings(cases), np.flatnonzero(within), visits, start=f.start, end=f.end,
                        as_of=AS_OF) == expected
    if within.all():
        assert tallies.kpis(cases, tallies.standings(cases), None, visits, start=f.start, end=f.end,
                            as_of=AS_OF) == expected


@pytest.mark.parametrize("name", list(FILTERS))
def test_a_view_counted_under_its_mask_has_the_charts_counts_of_its_cases(demo_cases, name):
    cases, _ = demo_cases
    within = FILTERS[name].mask(cases, as_of=AS_OF)
    view, standing, rows = cases[within], tallies.standings(cases), np.flatnonzero(within)
    for column, days in (("reported_at", standing.reported_day), ("closed_at", standing.closed_day)):
        found = tallies.per_day(days, rows)
        expected = view[column].dropna().dt.floor("D").value_counts().sort_index()
        assert found.to_dict() == expected.to_dict(), column
    assert channel_counts(cases, rows) == channel_counts(cases, within) == channel_counts(view)
    closed = (view["status"] == "closed").to_numpy()
    expected = tally(view["level"], closed).reindex(list(LEVELS), fill_value=0)
    assert tallies.closed_per_level(standing, rows).equals(expected)
    assert tally(cases["category"], rows).equals(tally(view["category"]))


def test_the_edges_no_deadline_no_phone_ties_and_a_period_that_ended(demo_cases):
    """A case with no deadline is never due nor overdue unless closed; a petition without a phone is its
    caller's first; of two petitions at one moment the earlier row is the first; a period that ended is
    counted as of its end, the view's own tiles as of now."""
    rows = [  # kind, status, level, in place, due, reported, phone, channel, channels
        ("petition", "closed", "community", True, None, "2026-01-05 09:00", "138", "walk_in", None),
        ("petition", "reported", "street", False, "2026-01-06", "2026-01-05 09:00", "138", "e_ningbo", None),
        ("petition", "closed", "street", False, "2026-01-20", "2026-01-04 10:00", None, "walk_in",
         "walk_in;hotline_12345"),
        ("petition", "dispatched", None, False, "2026-01-02", "2026-01-03 10:00", "", "walk_in", None),
        ("dispute", "reported", None, None, None, "2026-01-07 10:00", "139", "hotline_12345", None),
        ("dispute", "dispatched", "district", False, "2026-02-10", "2026-01-08 10:00", "139", "hotline_12345", None),
        ("event", "closed", "community", True, "2026-01-09", "2026-01-08 11:00", "140", "grid_platform", None),
        ("other", "closed", "community", False, "2026-01-09", "2026-01-08 12:00", "141", "grid_platform", None),
    ]
    cases = pd.DataFrame(rows, columns=["kind", "status", "level", "resolved_in_place", "due_at", "reported_at",
                                        "reporter_phone", "channel", "channels"])
    cases["due_at"] = pd.to_datetime(cases["due_at"])
    cases["reported_at"] = pd.to_datetime(cases["reported_at"])
    cases["closed_at"] = cases["reported_at"].where(cases["status"] == "closed") + pd.Timedelta(days=1)
    cases["resolved_in_place"] = cases["resolved_in_place"].astype("boolean")
    held = cases.astype({c: "category" for c in ("kind", "status", "level", "reporter_phone", "channel", "channels")})
    visits = pd.DataFrame({"channel": ["walk_in", "walk_in"], "people": [2, None]})
    for frame in (cases, held):
        standing = tallies.standings(frame)
        for rows in (None, np.arange(0, len(frame), 2), np.array([1, 2, 5])):
            for as_of in ("2026-01-06", "2026-01-06 00:00:01", "2026-03-01"):
                view = frame if rows is None else frame.iloc[rows]
                expected = compute_kpis(view, visits, start=date(2026, 1, 1), end=date(2026, 1, 31), as_of=as_of)
                expected["all"] = filtered_kpis(view, as_of=as_of)
                found = tallies.kpis(frame, standing, rows, visits, start=date(2026, 1, 1), end=date(2026, 1, 31),
                                     as_of=as_of)
                assert found == expected, (rows, as_of)
    everything = tallies.kpis(cases, tallies.standings(cases), None, visits, as_of="2026-03-01")
    # The two nameless petitions and the earlier of 138's two (same moment: the earlier row) are firsts.
    assert everything["all"]["first_petitions"] == 3
    assert everything["petitions"]["overdue"] == 2 and everything["disputes"]["overdue"] == 1
    assert everything["visits"] == {"batches": 2, "people": 3}
