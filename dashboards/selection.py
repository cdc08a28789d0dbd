"""The cases a filter keeps, and the walk-in visits behind them: from the server's held copy of the store, or,
where the store is too large to hold (``ONEMAP_HOLD_MAX``), read from it when the view keeps few.

A view that keeps more than ``ONEMAP_RAW_MAX`` cases of such a store has no cases in hand
(:func:`view_cases` gives None): it is counted by the store instead (``layers.counted``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from dashboards.cache import CACHE, _held_cases, _plain_cases, moved_rows
from layers import counted, tallies
from layers.filters import CaseFilter
from layers.settings import SETTINGS
from layers.store import matches, period_filter

RAW_MAX = SETTINGS.raw_max


class TooWide(Exception):
    """A view of a store the server does not hold that keeps too many cases to read: count it instead."""


def view_cases(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """The view's cases and visits as :func:`filtered_cases` gives them; None where the server holds no cases
    and the view keeps more than ``RAW_MAX`` (the store counts it)."""
    if CACHE.holds_cases(store):
        return filtered_cases(store, f, as_of=as_of)
    return CACHE.recent(store, ("read", f, as_of), lambda: _read(store, f, as_of))


def filtered_cases(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The cases the filter keeps, from the server's copy of the store, and the walk-in visits behind them.

    A server that holds no cases reads a narrow view's from the store; a wide one raises :class:`TooWide`.
    """
    if not CACHE.holds_cases(store):
        found = view_cases(store, f, as_of=as_of)
        if found is None:
            raise TooWide(f"the view keeps more than {RAW_MAX:,} cases: counted by the store")
        return found
    if as_of is not None:
        return _chosen(*view_mask(store, f, as_of=as_of)), view_visits(store, f)
    return CACHE.recent(store, ("cases", f), lambda: (_chosen(*view_mask(store, f)), view_visits(store, f)))


def view_mask(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, np.ndarray]:
    """The server's copy of the cases, and which of them the filter keeps (as of ``as_of``, or now)."""
    every_case = CACHE.cases(store)[0]
    return every_case, kept(store, f) if as_of is None else f.mask(every_case, as_of=as_of)


def view_rows(store, f: CaseFilter, *, as_of=None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """The server's copy of the cases, and the numbers of the rows the filter keeps (None: every row): a view
    counted without copying its cases out (``layers.tallies``)."""
    if as_of is not None:
        every_case, chosen = view_mask(store, f, as_of=as_of)
        return every_case, _numbers(chosen)
    return CACHE.cases(store)[0], CACHE.recent(store, ("rows", f), lambda: _numbers(kept(store, f)))


def _numbers(chosen: np.ndarray) -> np.ndarray | None:
    return None if chosen.all() else np.flatnonzero(chosen)


def standings(store) -> tallies.Standings:
    """Each held case's standing, made once per copy: what a view's tiles and charts are counted from."""
    return CACHE.derived(store, ("standings",), tallies.standings, followed_standings)


def followed_standings(held: tallies.Standings, before: pd.DataFrame, cases: pd.DataFrame) -> tallies.Standings:
    """``tallies.standings(cases)`` from ``held``, those of ``before``: an earlier copy of the same rows under the
    same numbers (``cases`` has some of them changed and more at the end, as the server's copy after a write).
    Only the rows a write changed or added are made: at a million cases, 21 ms at every write otherwise."""
    n = len(before)
    if len(cases) < n:
        return tallies.standings(cases)
    rows = np.concatenate([moved_rows(before, cases, tallies.STANDING_COLUMNS), np.arange(n, len(cases))])
    made = tallies.standings(cases.iloc[rows])
    parts = []
    for was, now in ((held.code, made.code), (held.reported_day, made.reported_day),
                     (held.closed_day, made.closed_day)):
        out = np.empty(len(cases), dtype=was.dtype)
        out[:n] = was
        out[rows] = now
        parts.append(out)
    return tallies.Standings(parts[0], cases["due_at"].to_numpy("datetime64[ms]"), parts[1], parts[2])


def view_visits(store, f: CaseFilter) -> pd.DataFrame:
    """The walk-in visits of the filter's period whose case is in its area and kinds, whenever the case was
    opened: a second visit about last month's matter is still today's visit (as `onemap kpis` counts)."""
    return CACHE.recent(store, ("visits", f), lambda: _visits_of(*CACHE.cases(store), f))


def kept(store, f: CaseFilter) -> np.ndarray:
    """Which of the server's copy of the cases the filter keeps, as of now."""
    return CACHE.recent(store, ("mask", f), lambda: f.mask(CACHE.cases(store)[0]))


def _chosen(every_case: pd.DataFrame, chosen: np.ndarray) -> pd.DataFrame:
    return every_case if chosen.all() else every_case.iloc[np.flatnonzero(chosen)]


def _visits_of(every_case: pd.DataFrame, visits: pd.DataFrame, f: CaseFilter) -> pd.DataFrame:
    visits = visits[matches(visits, period_filter(f.start, f.end))]
    rows = visits["case_row"].to_numpy()
    return visits[f.narrowed(start=None, end=None).mask(every_case.iloc[rows])]


def _read(store, f: CaseFilter, as_of) -> tuple[pd.DataFrame, pd.DataFrame] | None:
    """A narrow view's cases and visits read from the store, in the form the held copy has them."""
    if counted.count(store, f, as_of=as_of) > RAW_MAX:
        return None
    cases = _held_cases(_plain_cases(store.read("cases", counted.terms(store, f, "cases", as_of=as_of)))
                        .sort_values("case_id", ignore_index=True))
    # The visits of the period whose case is in the view, whenever the case was opened, as with the held copy.
    records = store.read("case_sources", counted.visits_terms(store, f))
    visits = pd.DataFrame(records[["source", "source_id", "case_id", "channel", "reported_at", "people"]])
    return cases, visits.reset_index(drop=True)
