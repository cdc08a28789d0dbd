"""The centre's KPIs over a period: what the daily brief, the tiles and ``onemap kpis`` show.

Rates are fractions rounded to four places (0.9655), never percentages.
结案率 (closure_rate) = closed / due to close, where a case is due once it is
closed or its deadline has passed; 就地化解率 (resolved_in_place_rate) =
cases settled at the level that received them / cases received. A rate with nothing decided
yet (no case closed: a morning's first cases) is None, shown "—", not 0 %.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from layers.areas import DISTRICT, Area
from layers.errors import InvalidValue
from layers.filters import tally
from layers.schema import LEVELS
from layers.store import Condition, Store, matches, period_filter


def _rate(num, den):
    return round(num / den, 4) if den else None


def _flags(cases: pd.DataFrame, as_of: pd.Timestamp) -> dict:
    """Each case's standing as arrays, worked out once and summed per group (no copies of the frame)."""
    as_of = np.datetime64(as_of.to_datetime64(), "ms")
    due_at = cases["due_at"].to_numpy("datetime64[ms]")
    closed = matches(cases, [Condition("status", "=", "closed")])
    return {"closed": closed, "due": closed | (due_at <= as_of), "overdue": ~closed & (due_at < as_of),
            "in_place": cases["resolved_in_place"].fillna(False).to_numpy(dtype=bool),
            "level": {lvl: matches(cases, [Condition("level", "=", lvl)]) for lvl in LEVELS}}


def _group(flags: dict, within: np.ndarray) -> dict:
    def n(flag):
        return int(np.count_nonzero(flag & within))

    return kpi_group(int(np.count_nonzero(within)), n(flags["closed"]), n(flags["due"]), n(flags["in_place"]),
                     n(flags["overdue"]), {lvl: n(flags["level"][lvl]) for lvl in LEVELS})


def kpi_group(received: int, closed: int, due: int, in_place: int, overdue: int, by_level: dict) -> dict:
    """One group's tiles from its counts, however counted (cases in memory, or the store's counts)."""
    return {
        "received": received,
        "closed": closed,
        "due": due,
        "closure_rate": _rate(closed, due),
        "resolved_in_place": in_place,
        # Nothing decided yet (a morning's first cases) is no rate at all, not 0 %.
        "resolved_in_place_rate": _rate(in_place, received) if closed else None,
        "overdue": overdue,
        "by_level": by_level,
    }


def compute_kpis(cases: pd.DataFrame, sources: pd.DataFrame, *, start=None, end=None, as_of=None) -> dict:
    """KPIs of ``cases`` (already filtered to the period and area).

    ``sources`` are the intake records (``case_sources``) of the same period
    and area: the walk-in register's visit batches and people come from them.
    """
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    if end is not None:
        as_of = min(as_of, pd.Timestamp(end).normalize() + pd.Timedelta(days=1))
    walk = sources[sources["channel"] == "walk_in"]
    flags = _flags(cases, as_of)
    kind = {k: matches(cases, [Condition("kind", "=", k)]) for k in ("dispute", "event", "petition")}
    return {
        "period": {"from": str(start) if start else None, "to": str(end) if end else None},
        "disputes": _group(flags, kind["dispute"]),
        "events": _group(flags, kind["event"]),
        "petitions": _group(flags, kind["petition"]),
        "visits": {"batches": int(len(walk)), "people": int(walk["people"].fillna(1).sum())},
        "by_channel": {str(k): int(v) for k, v in tally(cases["channel"]).sort_index().items() if v},
    }


def setback_summary(setback_areas: pd.DataFrame, *, street_code=None) -> dict:
    """Old estates with setback spaces, and how many were handed over to a manager."""
    if street_code:
        setback_areas = setback_areas[setback_areas["street_code"] == street_code]
    # An estate is handed over once all its setback areas are; otherwise it stands as its first area does.
    status = setback_areas["status"].astype(object)
    by_estate = status.groupby(setback_areas["estate_id"].to_numpy(), sort=False)
    handed_over = (status == "handed_over").groupby(setback_areas["estate_id"].to_numpy(), sort=False).all()
    unmanaged = ~handed_over & (by_estate.first() == "unmanaged")
    return {"estates": int(len(handed_over)), "handed_over": int(handed_over.sum()), "unmanaged": int(unmanaged.sum())}


def street_code_for(store: Store, street: str | None) -> str | None:
    """Accept a street's name (孔浦街道, 孔浦) or code; None means the whole district."""
    if not street:
        return None
    streets = store.read("streets")
    for code, name in zip(streets["street_code"], streets["name"]):
        if street in (code, name) or name.startswith(street):
            return code
    raise InvalidValue(f"unknown street {street!r}; streets: {', '.join(streets['name'])}")


def kpis_from_store(store: Store, *, start: date | None = None, end: date | None = None,
                    street: str | None = None, area: Area = DISTRICT, as_of=None) -> dict:
    """The KPIs of a period in a street (name or code) or an area, read from the store."""
    code = street_code_for(store, street)
    place = ([Condition("street_code", "=", code)] if code else []) + area.conditions("cases")
    cases = store.read("cases", period_filter(start, end) + place)
    sources = visits_in(store, store.read("case_sources", period_filter(start, end)
                                          + [Condition("channel", "=", "walk_in")]), place)
    result = compute_kpis(cases, sources, start=start, end=end, as_of=as_of)
    result["street"] = code
    result["setback_areas"] = setback_summary(store.read("setback_areas", area.conditions("setback_areas")),
                                              street_code=code)
    return result


def visits_in(store: Store, visits: pd.DataFrame, place: list[Condition]) -> pd.DataFrame:
    """The visits whose case lies in the place (``place``: filter terms on cases), whenever it was opened:
    a second visit about last month's matter is still a visit of today."""
    if not place:
        return visits
    theirs = store.read("cases", [Condition("case_id", "in", sorted(set(visits["case_id"])))] + place)
    return visits[visits["case_id"].isin(set(theirs["case_id"])).to_numpy()]


def filtered_kpis(cases: pd.DataFrame, *, as_of=None) -> dict:
    """The tiles of a filtered view, whatever kinds it holds.

    ``first_petition_settled_rate`` (初信初访一次性化解率): of the petitions
    that are a caller's first in the view, the share closed at the level that
    received them. ``level_share``: where the closed cases were settled,
    "小事不出村、大事不出街、难事不出区".
    """
    as_of = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp.now()
    flags = _flags(cases, as_of)
    group = _group(flags, np.ones(len(cases), dtype=bool))
    petitions = cases[matches(cases, [Condition("kind", "=", "petition")])].sort_values("reported_at", kind="stable")
    phone = petitions["reporter_phone"]
    first = petitions[(phone.isna() | (phone == "")).to_numpy(dtype=bool) | ~phone.duplicated(keep="first").to_numpy()]
    settled = first["resolved_in_place"].fillna(False).astype(bool)
    return {
        **group,
        "first_petitions": int(len(first)),
        "first_petition_settled_rate": (_rate(int(settled.sum()), len(first))
                                        if (first["status"] == "closed").any() else None),
        "level_share": {lvl: _rate(int((flags["level"][lvl] & flags["closed"]).sum()), group["closed"])
                        for lvl in LEVELS},
    }
