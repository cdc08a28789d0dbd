"""What just arrived, as the wall's and the overview's ticker show it."""

import numpy as np
import pandas as pd

from layers.arrivals import arrived_since, fell_overdue, latest
from layers.schema import stored_time

COMMUNITIES = pd.DataFrame({"community_code": ["330205003001"], "official_name": ["孔浦社区"]})


def cases_at(stamps) -> pd.DataFrame:
    n = len(stamps)
    return pd.DataFrame({"reported_at": pd.Series(pd.to_datetime(stamps), dtype="datetime64[ms]"),
                         "category": [f"c{i}" for i in range(n)], "channel": "hotline_12345",
                         "community_code": "330205003001", "grid_cell": [f"g{i}" for i in range(n)]})


def test_the_latest_are_newest_first_with_ties_in_row_order_and_no_time_left_out():
    cases = cases_at(["2024-05-01 09:00", None, "2024-05-01 10:00", "2024-05-01 10:00", "2024-04-30 08:00", None])
    shown = latest(cases, COMMUNITIES, n=3)
    assert [c["category"] for c in shown] == ["c2", "c3", "c0"]
    assert shown[0]["community"] == "孔浦社区" and shown[0]["reported_at"] == pd.Timestamp("2024-05-01 10:00")
    assert [c["category"] for c in latest(cases, COMMUNITIES, n=10)] == ["c2", "c3", "c0", "c4"]


def test_the_latest_of_many_are_those_pandas_finds():
    rng = np.random.default_rng(7)
    stamps = pd.to_datetime(rng.integers(1_700_000_000, 1_700_000_000 + 3600, 50_000), unit="s")  # many ties
    cases = cases_at(stamps)
    expected = cases.nlargest(8, "reported_at", keep="first")["category"].tolist()
    assert [c["category"] for c in latest(cases, COMMUNITIES)] == expected


def test_the_latest_are_found_when_fewer_than_asked_for_came_in_the_last_week():
    rng = np.random.default_rng(8)
    years = rng.integers(1_500_000_000, 1_700_000_000, 20_000)  # six years, a few cases a week
    stamps = pd.to_datetime(np.concatenate([years, [1_700_000_000 + 86_400 * 30, 1_700_000_000 + 86_400 * 31]]),
                            unit="s")  # the newest two, a month after the rest
    cases = cases_at(stamps)
    expected = cases.nlargest(8, "reported_at", keep="first")["category"].tolist()
    assert [c["category"] for c in latest(cases, COMMUNITIES)] == expected
    assert latest(cases_at([None] * 20), COMMUNITIES) == []  # no time at all


def test_a_time_finer_than_stored_ones_is_cut_to_the_millisecond():
    now = pd.Timestamp("2024-05-01 12:00:00.000700")  # microseconds, as Timestamp.now() has
    cases = pd.DataFrame({
        "due_at": pd.Series(pd.to_datetime(["2024-05-01 11:00:00.000", "2024-04-30 11:59:59.999", "2024-05-01 12:00:00.000",
                                            "2024-04-30 12:00:00.001", None], format="ISO8601"), dtype="datetime64[ms]"),
        "status": pd.Categorical(["dispatched", "reported", "reported", "closed", "reported"]),
        "reported_at": pd.Series(pd.to_datetime(["2024-05-01 11:00", "2024-05-01 12:00", "2024-04-01", None,
                                                 "2024-05-01 12:00:00.001"], format="ISO8601"), dtype="datetime64[ms]")})
    assert stored_time(now) == pd.Timestamp("2024-05-01 12:00") and stored_time(now).unit == "ms"
    # Open, and due within the day before now: the first only (the second is a moment too early, the third is
    # due at now cut to the millisecond, the fourth closed, the fifth has no deadline).
    assert fell_overdue(cases, now) == 1
    assert arrived_since(cases, pd.Timestamp("2024-05-01 11:59:59.9999")) == 2
