"""Change between two periods, per place: is this month hotter than the same month last year?

A place's cases in the period (``now``) against its cases in a baseline of
``periods`` periods of the same length (``before``: one for the same month
last year, three for the previous three months). Under no change, each of the
``now + before`` cases fell in the period with probability 1 / (1 + periods),
so ``now`` is binomial given the total; the p-value is scipy's exact
two-sided binomial test (the conditional test for two Poisson rates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

CHANGE_ALPHA = 0.05


def period_change(now: pd.Series, before: pd.Series, *, periods: int = 1, alpha: float = CHANGE_ALPHA) -> pd.DataFrame:
    """Per place (the union of both indexes): ``now``, ``before`` (per period), ``change`` (now − before),
    ``ratio`` (now / before, empty where before is 0), ``p`` and ``direction`` (+1 up, −1 down, 0 no
    significant change)."""
    places = now.index.union(before.index)
    now = now.reindex(places, fill_value=0).astype(int)
    before_total = before.reindex(places, fill_value=0).astype(int)
    share = 1.0 / (1 + periods)
    p = np.array([stats.binomtest(int(a), int(a + b), share).pvalue if a + b else 1.0
                  for a, b in zip(now, before_total)])
    per_period = before_total / periods
    change = now - per_period
    return pd.DataFrame({
        "now": now, "before": per_period.round(2), "change": change.round(2),
        "ratio": (now / per_period.where(per_period > 0)).round(2), "p": p,
        "direction": np.where(p < alpha, np.sign(change), 0).astype(int),
    }, index=places)
