"""The cases a filter keeps, from the server's held copy of the store, and the walk-in visits behind them."""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.cache import CACHE
from layers.filters import CaseFilter
from layers.store import matches, period_filter


def filtered_cases(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases the filter keeps, from the server's copy of the store, and the walk-in visits behind them."""
    every_case, visits = CACHE.cases(store)
    if as_of is not None:
        return _select(every_case, visits, f, f.mask(every_case, as_of=as_of))
    return CACHE.recent(store, ("cases", f), lambda: _select(every_case, visits, f, kept(store, f)))


def kept(store, f: CaseFilter) -> np.ndarray:
    """Which of the server's copy of the cases the filter keeps, as of now."""
    return CACHE.recent(store, ("mask", f), lambda: f.mask(CACHE.cases(store)[0]))


def _select(every_case, visits, f, chosen):
    cases = every_case if chosen.all() else every_case.iloc[np.flatnonzero(chosen)]
    visits = visits[matches(visits, period_filter(f.start, f.end))]
    # A visit in the period counts where its case is in the filter's area and kinds, whenever the case
    # was opened: a second visit about last month's matter is still today's visit (as `onemap kpis` counts).
    rows = visits["case_row"].to_numpy()
    return cases, visits[f.narrowed(start=None, end=None).mask(every_case.iloc[rows])]
