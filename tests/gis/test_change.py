"""Period change per place: a real rise is found, noise and equal periods are not."""

import numpy as np
import pandas as pd
import pytest

from gis.change import period_change


def test_a_doubling_is_significant_and_an_equal_count_is_not():
    out = period_change(pd.Series({"a": 40, "b": 20, "c": 3}), pd.Series({"a": 20, "b": 20, "d": 5}))
    assert out.loc["a", "direction"] == 1 and out.loc["a", "ratio"] == 2.0 and out.loc["a", "p"] < 0.02
    assert out.loc["b", "direction"] == 0 and out.loc["b", "p"] == pytest.approx(1.0)
    assert out.loc["c", "before"] == 0 and np.isnan(out.loc["c", "ratio"])
    assert out.loc["d", "now"] == 0 and out.loc["d", "change"] == -5


def test_a_baseline_of_three_periods_is_taken_per_period():
    out = period_change(pd.Series({"a": 10}), pd.Series({"a": 30}), periods=3)
    assert out.loc["a", "before"] == 10 and out.loc["a", "direction"] == 0
    # p equals the exact conditional test: 10 of 40 with probability 1/4 is the expected count.
    assert out.loc["a", "p"] == pytest.approx(1.0)


def test_noise_rarely_crosses_the_line():
    rng = np.random.default_rng(5)
    places = [f"p{i}" for i in range(400)]
    out = period_change(pd.Series(rng.poisson(10, 400), index=places), pd.Series(rng.poisson(10, 400), index=places))
    assert (out["direction"] != 0).mean() < 0.08  # about 5 % by construction of the test
