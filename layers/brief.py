"""The figures of the daily brief (《今日要情》): what the clerks now count by hand each morning.

Takes the cases (and the walk-in visits) and a day; returns plain data that a
page or a printed brief lays out. "Yesterday" is the day before ``day``; the
7-day average is of the seven days before yesterday.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from layers.filters import overdue
from layers.kpis import compute_kpis

# A dispute that brings this many people at once is a mass dispute (群体性纠纷).
MASS_DISPUTE_PEOPLE = 5
# A phone that reported this many cases in the last 30 days is a repeat caller (重复来电).
REPEAT_CALLS, REPEAT_DAYS = 3, 30


def daily_brief(cases: pd.DataFrame, sources: pd.DataFrame, day: date, *, as_of=None) -> dict:
    """The brief for ``day``: intake against the 7-day average, the KPIs and their change, the
    day-clearing list, overdue cases and notable cases, all as of ``as_of`` (default: the end of ``day``)."""
    day = pd.Timestamp(day).normalize()
    as_of = pd.Timestamp(as_of) if as_of is not None else day + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    yesterday = day - pd.Timedelta(days=1)
    reported = cases["reported_at"]

    def on(first, days=1):
        return ((reported >= first) & (reported < first + pd.Timedelta(days=days))).to_numpy()

    week_before = on(yesterday - pd.Timedelta(days=7), 7)
    intake = {}
    for column in ("channel", "category"):
        counts = pd.DataFrame({
            "yesterday": cases.loc[on(yesterday), column].value_counts(),
            "today": cases.loc[on(day) & (reported <= as_of).to_numpy(), column].value_counts(),
            "week_average": cases.loc[week_before, column].value_counts() / 7,
        }).fillna(0)
        counts["yesterday"] = counts["yesterday"].astype(int)
        counts["today"] = counts["today"].astype(int)
        counts["week_average"] = counts["week_average"].round(1)
        intake[column] = counts.sort_values(["yesterday", "today"], ascending=False).rename_axis(column).reset_index()
    def kpis_of(first):
        visits = sources[((sources["reported_at"] >= first)
                          & (sources["reported_at"] < first + pd.Timedelta(days=1))).to_numpy()]
        return compute_kpis(cases[on(first)], visits, start=first.date(), end=first.date(), as_of=as_of)

    kpis_today, kpis_yesterday = kpis_of(day), kpis_of(yesterday)
    return {
        "day": day.date(), "yesterday": yesterday.date(), "as_of": as_of,
        "received": {"yesterday": int(on(yesterday).sum()), "today": int((on(day) & (reported <= as_of)).sum()),
                     "week_average": round(int(week_before.sum()) / 7, 1)},
        "intake": intake,
        "kpis": {"today": kpis_today, "yesterday": kpis_yesterday},
        "to_clear": day_clearing(cases, yesterday.date()),
        "overdue": overdue_list(cases, as_of),
        "notable": notable(cases, day.date(), as_of),
    }


def day_clearing(cases: pd.DataFrame, received_on: date) -> pd.DataFrame:
    """问题日清零: matters received on ``received_on`` not yet dispatched or closed, per street and
    responsible unit, oldest first."""
    first = pd.Timestamp(received_on)
    mask = ((cases["reported_at"] >= first) & (cases["reported_at"] < first + pd.Timedelta(days=1))
            & (cases["status"].astype(str) == "reported")).to_numpy()
    left = cases.loc[mask, ["case_id", "reported_at", "category", "street_code", "responsible_unit", "channel"]]
    return left.sort_values(["street_code", "responsible_unit", "reported_at"], na_position="last",
                            ignore_index=True)


def overdue_list(cases: pd.DataFrame, as_of) -> pd.DataFrame:
    """Open cases past their deadline at ``as_of``, longest overdue first."""
    late = cases.loc[overdue(cases, as_of), ["case_id", "reported_at", "due_at", "category", "street_code",
                                              "responsible_unit", "level"]]
    late = late.assign(days_over=((pd.Timestamp(as_of) - late["due_at"]).dt.total_seconds() / 86400).round(1))
    return late.sort_values("days_over", ascending=False, ignore_index=True)


def notable(cases: pd.DataFrame, day: date, as_of) -> dict:
    """Cases the brief names: escalated to the district, repeat callers, mass disputes, of yesterday and today."""
    start = pd.Timestamp(day) - pd.Timedelta(days=1)
    recent = cases[(cases["reported_at"] >= start) & (cases["reported_at"] <= pd.Timestamp(as_of))]
    escalated = recent[(recent["level"].astype(str) == "district")]
    mass = recent[recent["people"].fillna(0).to_numpy(dtype=float) >= MASS_DISPUTE_PEOPLE]
    window = cases[(cases["reported_at"] > pd.Timestamp(as_of) - pd.Timedelta(days=REPEAT_DAYS))
                   & (cases["reported_at"] <= pd.Timestamp(as_of))]
    calls = window["reporter_phone"].dropna().astype(str)
    repeat_phones = calls.value_counts()
    repeat_phones = set(repeat_phones[repeat_phones >= REPEAT_CALLS].index)
    repeats = recent[recent["reporter_phone"].astype(str).isin(repeat_phones).to_numpy()]
    columns = ["case_id", "reported_at", "category", "street_code", "level", "people"]
    return {"escalated": escalated[columns].reset_index(drop=True), "mass": mass[columns].reset_index(drop=True),
            "repeat_callers": repeats[columns].assign(
                calls_in_30_days=repeats["reporter_phone"].astype(str).map(calls.value_counts()).to_numpy(
                    dtype=np.int64)).reset_index(drop=True)}



def archive_brief(store, day: date, area: str, html: str, *, made_at=None) -> None:
    """Keep a made brief in the store (one per day and area; a brief made again replaces it)."""
    store.upsert("briefs", pd.DataFrame([{"brief_date": pd.Timestamp(day).date().isoformat(), "area": area,
                                          "made_at": pd.Timestamp(made_at or pd.Timestamp.now()).floor("s"),
                                          "html": html}]))


def archived_brief(store, day: date, area: str) -> str | None:
    """The brief of ``day`` and ``area`` as it was made, or None if none was."""
    from layers.store import Condition

    rows = store.read("briefs", [Condition("brief_date", "=", pd.Timestamp(day).date().isoformat()),
                                 Condition("area", "=", area)])
    return None if rows.empty else str(rows["html"].iat[0])
