"""A view's figures counted by the store: for a store too large for a server to hold its cases.

A city's or a province's store holds tens of millions of cases; a server holds
none of them (``ONEMAP_HOLD_MAX``). What a wide view shows is asked of the store
instead, grouped and summed there (``Store.aggregate``): counts from the
rollups the store keeps in every write's transaction (the narrowest that holds
what a view asks for: ``summed``), and from
the cases themselves only what counts by day cannot say (what is overdue now,
when cases closed, who petitioned before), each a grouped query through the
partitions of the view's months. The answers are those of ``layers.kpis``,
the charts and the map's cells over the same cases.

One thing is counted at a coarser grain than over cases in memory: the cells
that became hot this week, by the day of report (not the hour). One is not
counted over more than ``FIRST_PETITIONS_MAX`` petitions: each caller's first
petition (初信初访), which is a question of each caller; its tile then shows "—".
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from layers.filters import CaseFilter
from layers.kpis import _rate, kpi_group
from layers.schema import CASE_KINDS, CASE_STATUSES, LAYERS, LEVELS, MISSING
from layers.store import Condition, Store, period_filter

OPEN = [s for s in CASE_STATUSES if s != "closed"]
# Petitions in a view up to which each caller's first is found (grouped by caller); above, the tile shows "—".
FIRST_PETITIONS_MAX = 20_000
_KIND_GROUPS = {"dispute": "disputes", "event": "events", "petition": "petitions"}


def terms(store: Store, f: CaseFilter, layer: str, *, as_of=None) -> list[Condition]:
    """The filter's terms on ``cases`` or on ``case_counts`` (its period on the day of report), the channels
    that reported a case included; overdue only on ``cases`` (it moves with the clock, no count holds it)."""
    found = []
    for term in f.conditions():
        if layer == "case_counts" and term.column == "reported_at":
            term = Condition("day", term.op, term.value)
        found.append(term)
    if f.channels:
        found.append(Condition("channels", "in", channel_keys(store, f.channels)))
    if f.overdue_only:
        if layer != "cases":
            raise ValueError("overdue is counted over cases, not over case_counts")
        found += overdue_terms(as_of)
    return found


def overdue_terms(as_of=None) -> list[Condition]:
    """Open past its deadline at ``as_of`` (now)."""
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    return [Condition("status", "in", OPEN), Condition("due_at", "<", as_of.to_pydatetime())]


def channel_keys(store: Store, wanted) -> list[str]:
    """The stored lists of channels (``hotline_12345;walk_in``) that hold any of ``wanted``: a case any of
    them reported. A few dozen lists, read from the counts."""
    keys = summed(store, [], ("channels",), ("n",))["channels"]
    wanted = set(wanted)
    return sorted(k for k in keys.astype(str) if wanted & set(k.split(";")))


def count(store: Store, f: CaseFilter, *, as_of=None) -> int:
    """How many cases the view keeps."""
    return int(read_counts(store, f, (), as_of=as_of)["n"].sum())


def read_counts(store: Store, f: CaseFilter, by: tuple[str, ...], *, as_of=None) -> pd.DataFrame:
    """The view's cases counted by ``by`` (columns of ``case_counts``): ``n`` and ``in_place`` (of them,
    resolved where received). A view of what is overdue is counted over the cases (no count holds it)."""
    measures = ("n", "n_resolved_in_place")
    if f.overdue_only:
        found = _counted_over_cases(store, terms(store, f, "cases", as_of=as_of), by, measures)
    else:
        found = summed(store, terms(store, f, "case_counts"), by, measures)
    return found.rename(columns={"n_resolved_in_place": "in_place"})


def summed(store: Store, where: list[Condition], by: tuple[str, ...], measures: tuple[str, ...]) -> pd.DataFrame:
    """The counts ``measures`` (``n``, ``n_resolved_in_place``) of the cases under ``where`` (terms on the columns
    of ``case_counts``, the period on ``day``), summed by ``by``: from the narrowest rollup that holds every
    column asked for, by month over the period's whole months and by day over the days at its ends; from the cases
    themselves where no rollup by day holds the columns (the cases closed per day: the days at a view's ends)."""
    period = [t for t in where if t.column == "day"]
    rest = [t for t in where if t.column != "day"]
    needed = {t.column for t in rest} | set(by) | set(measures)
    daily = _narrowest(needed, "day")
    monthly = _narrowest(needed, "month") if "day" not in by else None
    bounds = _bounds(period) if monthly else None
    if bounds is None:
        return _summed_from(store, daily, where, by, measures)
    lo, hi = bounds
    first = None if lo is None else _month_of(lo, up=True)
    after = None if hi is None else _month_of(hi, up=False)
    if first is not None and after is not None and first >= after:  # not one whole month: days only
        return _summed_from(store, daily, where, by, measures)
    parts = [(monthly, rest + [Condition("month", op, m.to_pydatetime()) for op, m in ((">=", first), ("<", after))
                               if m is not None])]
    if lo is not None and first is not None and lo < first:
        parts.append((daily, rest + [Condition("day", ">=", lo.to_pydatetime()),
                                     Condition("day", "<", first.to_pydatetime())]))
    if hi is not None and after is not None and after < hi:
        parts.append((daily, rest + [Condition("day", ">=", after.to_pydatetime()),
                                     Condition("day", "<", hi.to_pydatetime())]))
    found = [_summed_from(store, name, terms_, by, measures) for name, terms_ in parts]
    if len(found) == 1:
        return found[0]
    together = pd.concat(found, ignore_index=True)
    if not by:
        return pd.DataFrame({m: [int(together[m].sum())] for m in measures})
    return together.groupby(list(by), sort=False, dropna=False)[list(measures)].sum().reset_index()


def _narrowest(needed: set[str], grain: str) -> str | None:
    """The rollup of cases by ``grain`` (day or month) with the fewest key columns that holds ``needed``; one that
    counts only some cases (those closed, by their day of closing) only where that day is asked for."""
    fits = [name for name, layer in LAYERS.items() if layer.counts and layer.counts.source == "cases"
            and grain in layer.key and needed <= set(layer.columns)
            and all(column in needed for column, _ in layer.counts.days)]
    return min(fits, key=lambda name: len(LAYERS[name].key)) if fits else None


def _bounds(period: list[Condition]):
    """The period's first midnight and the midnight after it (either None: open), or None where its terms are
    not of that form (a count by month cannot be cut inside a day)."""
    lo = hi = None
    for term in period:
        value = pd.Timestamp(term.value)
        if value != value.normalize():
            return None
        if term.op == ">=" and lo is None:
            lo = value
        elif term.op == "<" and hi is None:
            hi = value
        else:
            return None
    return lo, hi


def _month_of(day: pd.Timestamp, *, up: bool) -> pd.Timestamp:
    """The midnight that begins ``day``'s month, or the next month's where ``up`` and ``day`` is inside it."""
    start = day.replace(day=1)
    return start + pd.offsets.MonthBegin(1) if up and start < day else start


def _summed_from(store: Store, name: str | None, where: list[Condition], by: tuple[str, ...], measures
                 ) -> pd.DataFrame:
    if name is None:
        return _counted_over_cases(store, where, by, measures)
    found = store.aggregate(name, where, by=by, measures=tuple(f"sum:{m}" for m in measures))
    return found.rename(columns={f"sum_{m}": m for m in measures})


def _counted_over_cases(store: Store, where: list[Condition], by: tuple[str, ...], measures) -> pd.DataFrame:
    """What a rollup by day would say, counted over the cases: its columns as the cases hold them (``day``, and a
    key column that is the day of another time, grouped by that time's day; missing values as :data:`MISSING`)."""
    days = {"day": "reported_at", **{c: column for layer in LAYERS.values() if layer.counts
                                    for c, column in layer.counts.days}}
    found = store.aggregate(
        "cases", [Condition(days.get(t.column, t.column), t.op, t.value) for t in where],
        by=tuple(f"day:{days[c]}" if c in days else c for c in by),
        measures=tuple("rows" if m == "n" else f"true:{m[2:]}" for m in measures))
    found = found.rename(columns={**{days[c]: c for c in by if c in days}, "rows": "n",
                                  **{f"true_{m[2:]}": m for m in measures if m != "n"}})
    for column in by:
        if column in days:
            found = found[found[column].notna()]  # not counted by a day it does not have (not closed yet)
        else:
            found[column] = found[column].astype(object).where(found[column].notna(), MISSING)
    return found.reset_index(drop=True)


def per_cell(store: Store, f: CaseFilter) -> pd.Series:
    """Cases per grid cell in the view (cells without cases absent)."""
    counted = read_counts(store, f, ("grid_cell",))
    counted = counted[counted["grid_cell"] != MISSING]
    return pd.Series(counted["n"].to_numpy(), index=counted["grid_cell"].astype(object).to_numpy(), dtype=int)


def per_cell_day(store: Store, f: CaseFilter) -> pd.DataFrame:
    """Cases per grid cell per day of report: what the emerging hotspots and the week's hot cells bin."""
    counted = read_counts(store, f, ("grid_cell", "day"))
    return counted[counted["grid_cell"] != MISSING].reset_index(drop=True)


def kpis(store: Store, f: CaseFilter, *, as_of=None) -> dict:
    """``layers.kpis.compute_kpis`` of the view, with ``all`` (``filtered_kpis``), from counts."""
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    period_as_of = min(as_of, pd.Timestamp(f.end) + pd.Timedelta(days=1)) if f.end else as_of
    counted = read_counts(store, f, ("kind", "status", "level", "channel"), as_of=as_of)
    late = _overdue_by_kind(store, f, period_as_of)
    result: dict = {"period": {"from": str(f.start) if f.start else None, "to": str(f.end) if f.end else None}}
    for kind in CASE_KINDS:
        result[_KIND_GROUPS[kind]] = _group(counted[counted["kind"] == kind], late.get(kind, 0))
    result["visits"] = visits(store, f)
    channel = counted.groupby(counted["channel"].astype(object))["n"].sum()
    result["by_channel"] = {str(k): int(v) for k, v in channel.sort_index().items() if v and k != MISSING}
    now_late = _overdue_by_kind(store, f, as_of) if as_of != period_as_of else late
    result["all"] = {**_group(counted, sum(now_late.values())), **first_petitions(store, f),
                     "level_share": _level_share(counted)}
    return result


def _group(counted: pd.DataFrame, overdue: int) -> dict:
    closed_rows = counted[counted["status"] == "closed"]
    received, closed = int(counted["n"].sum()), int(closed_rows["n"].sum())
    in_place = int(counted["in_place"].sum())
    # Due: closed, or open past its deadline (the store counts the second; a deadline at the very instant
    # asked is counted due and overdue alike, where the cases in memory count it due only).
    level = counted.groupby(counted["level"].astype(object))["n"].sum()
    return kpi_group(received, closed, closed + int(overdue), in_place, int(overdue),
                     {lvl: int(level.get(lvl, 0)) for lvl in LEVELS})


def _level_share(counted: pd.DataFrame) -> dict:
    closed_rows = counted[counted["status"] == "closed"]
    closed = int(closed_rows["n"].sum())
    level = closed_rows.groupby(closed_rows["level"].astype(object))["n"].sum()
    return {lvl: _rate(int(level.get(lvl, 0)), closed) for lvl in LEVELS}


def _overdue_by_kind(store: Store, f: CaseFilter, as_of) -> dict[str, int]:
    late = store.aggregate("cases", terms(store, f, "cases", as_of=as_of) + overdue_terms(as_of), by=("kind",))
    return dict(zip(late["kind"].astype(str), late["rows"].astype(int)))


def visits(store: Store, f: CaseFilter) -> dict:
    """Walk-in visits of the view's period whose case is in the view (whenever the case was opened: a second visit
    about last month's matter is still today's visit), and their people. A visit is placed by its case (the
    register names the matter, not a place): the store joins them."""
    found = store.aggregate("case_sources", visits_terms(store, f), measures=("rows", "sum:people", "count:people"))
    batches, given, counted_ = (int(found[c].sum()) for c in ("rows", "sum_people", "count_people"))
    return {"batches": batches, "people": given + (batches - counted_)}  # a visit with no head count: one person


def visits_terms(store: Store, f: CaseFilter) -> list[Condition]:
    """The terms on ``case_sources`` that keep the visits of the view (see :func:`visits`)."""
    where = [t for t in terms(store, f.narrowed(start=None, end=None), "cases") if t.column != "reported_at"]
    return period_filter(f.start, f.end) + [Condition("channel", "=", "walk_in")] + (
        [Condition("case_id", "among", ("cases", where))] if where else [])


def first_petitions(store: Store, f: CaseFilter) -> dict:
    """初信初访: the view's petitions that are a caller's first in it, and the share of them settled where received.

    A caller with one petition in the view is counted from the store's groups; only the petitions of callers
    with several are read, to find each one's first.
    """
    where = terms(store, f, "cases") + [Condition("kind", "=", "petition")]
    petitions = int(store.aggregate("cases", where)["rows"].sum() if f.overdue_only else  # no count holds overdue
                    summed(store, terms(store, f, "case_counts") + [Condition("kind", "=", "petition")], (), ("n",))
                    ["n"].sum())
    if petitions > FIRST_PETITIONS_MAX:  # each caller's first is a question of each caller: too many to ask
        return {"first_petitions": None, "first_petition_settled_rate": None}
    groups = store.aggregate("cases", where, by=("reporter_phone", "status"),
                             measures=("rows", "true:resolved_in_place")).rename(
        columns={"true_resolved_in_place": "settled"})
    phone = groups["reporter_phone"].astype(object)
    nameless = phone.isna() | (phone == "")
    per_phone = groups[~nameless].groupby(phone[~nameless])["rows"].sum()
    alone = groups[nameless | phone.map(per_phone).eq(1)]
    firsts, settled = int(alone["rows"].sum()), int(alone["settled"].sum())
    any_closed = bool((alone["status"] == "closed").any())
    repeat = per_phone[per_phone > 1].index.tolist()
    if repeat:
        theirs = store.read("cases", where + [Condition("reporter_phone", "in", repeat)])
        first = theirs.sort_values(["reported_at", "case_id"], kind="stable").drop_duplicates("reporter_phone")
        firsts += len(first)
        settled += int(first["resolved_in_place"].fillna(False).astype(bool).sum())
        any_closed |= bool((first["status"] == "closed").any())
    return {"first_petitions": firsts, "first_petition_settled_rate": _rate(settled, firsts) if any_closed else None}


def received_per_day(store: Store, f: CaseFilter) -> pd.Series:
    """Cases received per day of the view (days without any left out)."""
    counted = read_counts(store, f, ("day",))
    return pd.Series(counted["n"].to_numpy(), index=pd.DatetimeIndex(counted["day"])).sort_index()


def closed_per_day(store: Store, f: CaseFilter) -> pd.Series:
    """The view's cases closed per day of closing."""
    if f.overdue_only:  # none: what is overdue is open
        return pd.Series([], index=pd.DatetimeIndex([]), dtype="int64")
    found = summed(store, terms(store, f, "case_counts"), ("closed_day",), ("n",))
    return pd.Series(found["n"].to_numpy(dtype="int64"), index=pd.DatetimeIndex(found["closed_day"])).sort_index()


def per_category(store: Store, f: CaseFilter) -> pd.Series:
    """Cases per category, largest first."""
    counted = read_counts(store, f, ("category",))
    return pd.Series(counted["n"].to_numpy(), index=counted["category"].astype(object).to_numpy()).sort_values(
        ascending=False, kind="stable")


def per_channel(store: Store, f: CaseFilter) -> Counter:
    """Cases per channel that reported them: a case two channels reported counts for both."""
    counted = read_counts(store, f, ("channel", "channels"))
    found: Counter[str] = Counter()
    for channel, channels, n in zip(counted["channel"], counted["channels"], counted["n"]):
        for name in (str(channels).split(";") if channels not in (None, MISSING) else [str(channel)]):
            found[name] += int(n)
    return Counter({name: n for name, n in found.items() if n})


def closed_per_level(store: Store, f: CaseFilter) -> pd.Series:
    """Closed cases per level where they were settled."""
    counted = read_counts(store, f.narrowed(statuses=("closed",)) if not f.statuses or "closed" in f.statuses
                          else f.narrowed(statuses=("none",)), ("level",))
    return pd.Series(counted["n"].to_numpy(), index=counted["level"].astype(object).to_numpy()).reindex(
        list(LEVELS), fill_value=0)


def arrived_since(store: Store, f: CaseFilter, since) -> int:
    """Cases of the view reported after ``since``."""
    if since is None or pd.isna(since):
        return 0
    where = [t for t in terms(store, f, "cases") if t.column != "reported_at"]
    return int(store.aggregate("cases", where + [Condition("reported_at", ">=", pd.Timestamp(since).to_pydatetime()
                                                           + pd.Timedelta(microseconds=1))])["rows"].sum())


def fell_overdue(store: Store, f: CaseFilter, now, *, hours: float = 24) -> int:
    """Open cases of the view whose deadline passed within the last ``hours``."""
    now = pd.Timestamp(now)
    where = [t for t in terms(store, f, "cases") if t.column != "reported_at"] + overdue_terms(now) + [
        Condition("due_at", ">=", (now - pd.Timedelta(hours=hours)).to_pydatetime())]
    return int(store.aggregate("cases", where)["rows"].sum())


def latest(store: Store, f: CaseFilter, n: int) -> pd.DataFrame:
    """The view's ``n`` most recently reported cases, newest first (ties: the earlier case id first)."""
    where = [t for t in terms(store, f, "cases") if t.column != "reported_at"]
    return store.read_page("cases", where, order=(("reported_at", True),), limit=n)


def as_reports(counted: pd.DataFrame) -> pd.DataFrame:
    """Counts per cell and day as one row per case (``grid_cell``, ``reported_at`` at the day's midnight): for
    what takes cases but only counts them per cell and time (a week's hot cells), over a few days' counts."""
    rows = np.repeat(np.arange(len(counted)), counted["n"].to_numpy(dtype=int))
    return pd.DataFrame({"grid_cell": counted["grid_cell"].astype(object).to_numpy()[rows],
                         "reported_at": pd.DatetimeIndex(counted["day"]).to_numpy()[rows]})
