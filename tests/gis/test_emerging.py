"""Emerging hotspots: each pattern from a series whose answer is known, and one planted in a grid."""

import numpy as np
import pandas as pd
import pytest

from gis.emerging import classify, emerging_hotspots, mann_kendall, space_time_counts
from gis.hotspots import contiguity
from tests.gis.test_hotspots import grid

RISING, FLAT, FALLING = (0.8, 0.001), (0.05, 0.8), (-0.8, 0.001)


@pytest.mark.parametrize("bins, trend, pattern", [
    ([0] * 11 + [2], FLAT, "new_hot"),
    ([0] * 8 + [1, 2, 2, 3], RISING, "consecutive_hot"),
    ([2] * 12, RISING, "intensifying_hot"),
    ([2] * 12, FLAT, "persistent_hot"),
    ([0] + [3] * 11, FLAT, "persistent_hot"),  # 11 of 12 is over 90 %
    ([3] * 12, FALLING, "diminishing_hot"),
    ([0, 2, 0, 0, 1, 0, 2, 0, 0, 0, 0, 2], FLAT, "sporadic_hot"),
    ([0, -2, 0, 0, 1, 0, 2, 0, -1, 0, 0, 2], FLAT, "oscillating_hot"),
    ([2] * 11 + [0], FLAT, "historical_hot"),
    ([0] * 11 + [-3], FLAT, "new_cold"),
    ([-2] * 12, FLAT, "persistent_cold"),
    ([0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], FLAT, "no_pattern"),
    ([0] * 12, FLAT, "no_pattern"),
])
def test_each_pattern_from_its_definition(bins, trend, pattern):
    assert classify(bins, *trend) == pattern


def test_mann_kendall_sees_a_trend_and_not_noise():
    tau, p = mann_kendall(np.arange(24) + np.random.default_rng(1).normal(0, 2, 24))
    assert tau > 0.5 and p < 0.001
    tau, p = mann_kendall(np.random.default_rng(2).normal(0, 1, 24))
    assert p > 0.05
    assert mann_kendall([3, 3, 3, 3]) == (0.0, 1.0)


def test_counts_per_place_and_month():
    stamps = pd.to_datetime(["2024-01-03 00:00", "2024-01-30 00:00", "2024-03-01 00:00", "2024-03-31 23:59",
                             "2024-02-10 00:00"])
    counts = space_time_counts(["a", "a", "b", "a", "nowhere"], stamps, ["a", "b"], start="2024-01-01",
                               end="2024-03-31 23:59:59")
    assert list(counts.columns.strftime("%Y-%m")) == ["2024-01", "2024-02", "2024-03"]
    assert counts.loc["a"].tolist() == [2, 0, 1] and counts.loc["b"].tolist() == [0, 0, 1]
    weeks = space_time_counts(["a", "a"], pd.to_datetime(["2024-01-03", "2024-01-08"]), ["a"], freq="W")
    assert weeks.columns[0] == pd.Timestamp("2024-01-01") and weeks.loc["a"].tolist() == [1, 1]


def test_a_cluster_that_appears_and_one_that_grows_are_told_apart():
    cells = grid(12)
    rng = np.random.default_rng(11)
    months = 12
    rate = np.full((len(cells), months), 4.0)
    appears = (cells["row"].between(1, 3) & cells["col"].between(1, 3)).to_numpy()
    grows = (cells["row"].between(7, 9) & cells["col"].between(7, 9)).to_numpy()
    rate[appears, -1] = 30  # nothing, then suddenly a hot spot in the last month
    rate[grows] = np.linspace(14, 40, months)  # hot all year, hotter each month
    counts = pd.DataFrame(rng.poisson(rate), index=cells["cell"])
    found = emerging_hotspots(counts, contiguity(cells), key="cell").set_index("cell")
    centre = {"appears": "r2c2", "grows": "r8c8"}
    assert found.at[centre["appears"], "pattern"] == "new_hot"
    assert found.at[centre["grows"], "pattern"] == "intensifying_hot"
    far = ~(cells["row"].between(0, 4) & cells["col"].between(0, 4)).to_numpy() & \
        ~(cells["row"].between(6, 10) & cells["col"].between(6, 10)).to_numpy()
    assert set(found.loc[cells["cell"][far], "pattern"]) <= {"no_pattern", "sporadic_hot", "new_cold",
                                                              "sporadic_cold"}
