"""A view's figures counted over a copy of the cases under the view's mask, without copying its cases out.

The dashboard server holds a million cases; a wide view keeps most of them. Copying the view's rows out to
count them was most of what its tiles and charts cost. Here each case's standing (kind, closed, settled in
place, level; its days of report and closing) is worked out once per copy (:func:`standings`) and a view is
counted from it by the numbers of its rows in the copy: a few bincounts. The answers are those
of ``layers.kpis`` and of the charts over the view's cases (``tests/layers/test_tallies.py`` holds them to it).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd

from layers.filters import tally
from layers.kpis import _rate, kpi_group
from layers.schema import LEVELS
from layers.store import Condition, matches

_KINDS = ("dispute", "event", "petition")  # codes 1, 2, 3 (0: any other)
_KIND_GROUPS = {"dispute": "disputes", "event": "events", "petition": "petitions"}
# A case's standing in one byte: kind (bits 0-1), closed (2), settled in place (3), level (4-5); and, made per
# count because they move with the clock, past its deadline (6: due_at < as of) and due (7: due_at <= as of).
_CLOSED, _IN_PLACE, _LATE, _DUE_BY = 1 << 2, 1 << 3, 1 << 6, 1 << 7
_BINS = np.arange(256)
# What a case's standing is made of.
STANDING_COLUMNS = ("kind", "status", "resolved_in_place", "level", "due_at", "reported_at", "closed_at")
NO_DAY = np.iinfo(np.int32).min
_DAY_MS = 86_400_000.0


class Standings(NamedTuple):
    """Each case's standing, row for row with the copy it was made of."""

    code: np.ndarray  # uint8, see above
    due_at: np.ndarray  # datetime64[ms]
    reported_day: np.ndarray  # int32 days since 1970 (NO_DAY: none)
    closed_day: np.ndarray


def day_numbers(stamps: pd.Series) -> np.ndarray:
    """Each stamp's day since 1970 as int32, ``NO_DAY`` where there is none."""
    stamps = stamps.to_numpy("datetime64[ms]")
    missing = np.isnat(stamps)
    # By float division (exact for whole days, and vectorised, unlike int64 division): several times cheaper
    # than casting a million stamps to days.
    days = np.floor(stamps.view(np.int64) / _DAY_MS)
    days[missing] = NO_DAY
    return days.astype(np.int32)


def standings(cases: pd.DataFrame) -> Standings:
    """Each case's standing, to count views of ``cases`` with."""
    code = np.zeros(len(cases), dtype=np.uint8)
    for n, kind in enumerate(_KINDS, start=1):
        code[matches(cases, [Condition("kind", "=", kind)])] = n
    code[matches(cases, [Condition("status", "=", "closed")])] |= _CLOSED
    code[cases["resolved_in_place"].fillna(False).to_numpy(dtype=bool)] |= _IN_PLACE
    for n, level in enumerate(LEVELS, start=1):
        code[matches(cases, [Condition("level", "=", level)])] |= n << 4
    return Standings(code, cases["due_at"].to_numpy("datetime64[ms]"), day_numbers(cases["reported_at"]),
                     day_numbers(cases["closed_at"]))


def _take(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
    return values if rows is None else values[rows]


def _counts(standing: Standings, rows: np.ndarray | None, *moments: pd.Timestamp) -> list[np.ndarray]:
    """For each moment, how many cases of ``rows`` are of each standing (the 256 codes) as of then: one count
    of the cases for all of them (each moment's two bits above the six that stand)."""
    due = _take(standing.due_at, rows)
    code = _take(standing.code, rows).astype(np.uint16)
    for i, moment in enumerate(moments):
        at = np.datetime64(moment.to_datetime64(), "ms")
        code |= (due < at).view(np.uint8).astype(np.uint16) << (6 + 2 * i)
        code |= (due <= at).view(np.uint8).astype(np.uint16) << (7 + 2 * i)
    counts = np.bincount(code, minlength=1 << (6 + 2 * len(moments)))
    bins = np.arange(len(counts))
    return [np.bincount((bins & 63) | (((bins >> (6 + 2 * i)) & 3) << 6), weights=counts, minlength=256
                        ).astype(np.int64) for i in range(len(moments))]


def closed_per_level(standing: Standings, rows: np.ndarray | None) -> pd.Series:
    """The closed cases of ``rows`` (None: all) per level where they were settled."""
    counts = np.bincount(_take(standing.code, rows), minlength=256)
    closed = (_BINS & _CLOSED) > 0
    return pd.Series([int(counts[closed & _level(i)].sum()) for i in range(1, len(LEVELS) + 1)], index=list(LEVELS))


def _level(n: int) -> np.ndarray:
    return ((_BINS >> 4) & 3) == n


def _group(counts: np.ndarray, kind: int | None = None) -> dict:
    """``layers.kpis``'s tiles of one kind (None: every case) from the standings' counts."""
    of = _BINS >= 0 if kind is None else (_BINS & 3) == kind
    closed, in_place = (_BINS & _CLOSED) > 0, (_BINS & _IN_PLACE) > 0

    def n(where):
        return int(counts[of & where].sum())

    return kpi_group(n(of), n(closed), n(closed | ((_BINS & _DUE_BY) > 0)), n(in_place),
                     n(~closed & ((_BINS & _LATE) > 0)),
                     {level: n(_level(i)) for i, level in enumerate(LEVELS, start=1)})


def kpis(cases: pd.DataFrame, standing: Standings, rows: np.ndarray | None, visits: pd.DataFrame, *, start=None,
         end=None, as_of=None) -> dict:
    """``layers.kpis.compute_kpis`` of the cases of ``rows`` (their numbers in ``cases``, ascending; None: all)
    with ``visits`` (the view's walk-in visits), and their ``filtered_kpis`` under ``"all"``."""
    now = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    # The period's tiles are as of its end at the latest, the view's (``all``) as of now: compute_kpis' and
    # filtered_kpis' own.
    period_as_of = min(now, pd.Timestamp(end).normalize() + pd.Timedelta(days=1)) if end is not None else now
    counts, now_counts = _counts(standing, rows, period_as_of, now)
    walk = visits[visits["channel"] == "walk_in"]
    found = {
        "period": {"from": str(start) if start else None, "to": str(end) if end else None},
        **{group: _group(counts, n) for n, group in enumerate(_KIND_GROUPS.values(), start=1)},
        "visits": {"batches": int(len(walk)), "people": int(walk["people"].fillna(1).sum())},
        "by_channel": {str(k): int(v) for k, v in tally(cases["channel"], rows).sort_index().items() if v},
    }
    counts = now_counts
    every = _group(counts)
    closed = (_BINS & _CLOSED) > 0
    found["all"] = {**every, **first_petitions(cases, standing, rows), "level_share": {
        level: _rate(int(counts[closed & _level(i)].sum()), every["closed"])
        for i, level in enumerate(LEVELS, start=1)}}
    return found


def first_petitions(cases: pd.DataFrame, standing: Standings, rows: np.ndarray | None) -> dict:
    """初信初访: of the petitions of ``rows`` that are a caller's first among them (the earliest reported; a
    petition without a phone number is its caller's first), how many, and the share settled in place."""
    rows = np.arange(len(cases)) if rows is None else rows
    rows = rows[(standing.code[rows] & 3) == _KINDS.index("petition") + 1]
    rows = rows[np.argsort(cases["reported_at"].to_numpy("datetime64[ms]")[rows], kind="stable")]
    phone = cases["reporter_phone"]
    if isinstance(phone.dtype, pd.CategoricalDtype):
        callers, names = phone.array.codes[rows], phone.cat.categories
    else:
        callers, found = pd.factorize(phone.to_numpy(dtype=object)[rows])
        names = pd.Index(found)
    nameless = callers < 0
    if "" in names:
        nameless |= callers == names.get_loc("")
    first = nameless.copy()
    first[np.unique(callers, return_index=True)[1]] = True
    code = standing.code[rows[first]]
    settled = int(np.count_nonzero(code & _IN_PLACE))
    return {"first_petitions": int(first.sum()),
            "first_petition_settled_rate": _rate(settled, int(first.sum())) if (code & _CLOSED).any() else None}


def per_day(days: np.ndarray, rows: np.ndarray | None = None) -> pd.Series:
    """How many of ``days`` (day numbers; of ``rows``, or all) fall on each day, days without any left out."""
    days = _take(days, rows)
    days = days[days != NO_DAY]
    if not len(days):
        return pd.Series(dtype=int)
    first = int(days.min())
    counts = np.bincount(days - first)
    present = np.flatnonzero(counts)
    return pd.Series(counts[present], index=pd.to_datetime(present + first, unit="D"))
