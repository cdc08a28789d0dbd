"""The figures of the daily brief (《今日要情》): what the clerks now count by hand each morning.

:func:`daily_brief` takes the cases (and the walk-in visits) and a day and
returns plain data that a page or a printed brief lays out;
:func:`brief_from_store` reads what an area's brief needs and adds its
hotspots and its map. "Yesterday" is the day before ``day``; the 7-day average
is of the seven days before yesterday. Made briefs are archived in the store.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from layers.analysis import hotspot_cells
from layers.areas import DISTRICT, Area, area_places, district_names
from layers.filters import CaseFilter, channel_counts, overdue
from layers.kpis import compute_kpis, visits_in
from layers.remediation_orders import orders
from layers.remediation_summary import overdue_orders
from layers.schema import CASE_STATUSES
from layers.store import Condition, Store, period_filter

# A dispute that brings this many people at once is a mass dispute (群体性纠纷).
MASS_DISPUTE_PEOPLE = 5
# A phone that reported this many cases in the last 30 days is a repeat caller (重复来电).
REPEAT_CALLS, REPEAT_DAYS = 3, 30
# A cell is hot at this Gi* confidence bin or above (95 %).
HOT_BIN = 2
# How far back a brief reads: the repeat-caller window and a day to spare.
DAYS_READ = REPEAT_DAYS + 1


def daily_brief(cases: pd.DataFrame, sources: pd.DataFrame, day: date, *, as_of=None) -> dict:
    """The brief for ``day``: intake against the 7-day average, the KPIs and their change, the
    day-clearing list, overdue cases and notable cases, all as of ``as_of`` (default: the end of ``day``)."""
    start = pd.Timestamp(day).normalize()  # the day's first instant
    as_of = pd.Timestamp(as_of) if as_of is not None else start + pd.Timedelta(days=1) - pd.Timedelta(seconds=1)
    yesterday = start - pd.Timedelta(days=1)
    reported = cases["reported_at"]

    def on(first, days=1):
        return ((reported >= first) & (reported < first + pd.Timedelta(days=days))).to_numpy()

    week_before = on(yesterday - pd.Timedelta(days=7), 7)
    intake = {}
    for column in ("channel", "category"):
        # Per channel as the dashboard's channel mix counts: a case two channels reported counts for both.
        count = (lambda frame: pd.Series(channel_counts(frame), dtype=int)) if column == "channel" else (
            lambda frame: frame[column].value_counts())
        counts = pd.DataFrame({
            "yesterday": count(cases[on(yesterday)]),
            "today": count(cases[on(start) & (reported <= as_of).to_numpy()]),
            "week_average": count(cases[week_before]) / 7,
        }).fillna(0)
        counts["yesterday"] = counts["yesterday"].astype(int)
        counts["today"] = counts["today"].astype(int)
        counts["week_average"] = counts["week_average"].round(1)
        intake[column] = counts.sort_values(["yesterday", "today"], ascending=False).rename_axis(column).reset_index()

    def kpis_of(first):
        visits = sources[((sources["reported_at"] >= first)
                          & (sources["reported_at"] < first + pd.Timedelta(days=1))).to_numpy()]
        return compute_kpis(cases[on(first)], visits, start=first.date(), end=first.date(), as_of=as_of)

    kpis_today, kpis_yesterday = kpis_of(start), kpis_of(yesterday)
    return {
        "day": start.date(), "yesterday": yesterday.date(), "as_of": as_of,
        "received": {"yesterday": int(on(yesterday).sum()), "today": int((on(start) & (reported <= as_of)).sum()),
                     "week_average": round(int(week_before.sum()) / 7, 1)},
        "intake": intake,
        "kpis": {"today": kpis_today, "yesterday": kpis_yesterday},
        "to_clear": day_clearing(cases, yesterday.date()),
        "overdue": overdue_list(cases, as_of),
        "notable": notable(cases, start.date(), as_of),
    }


def brief_from_store(store: Store, day: date, area: Area = DISTRICT, *, as_of=None) -> dict:
    """The brief of ``day`` for ``area``, read from the store: :func:`daily_brief` with the area's
    name, its new and intensifying hotspots, its overdue remediation orders at the brief's time
    (``remediation_overdue``, :func:`layers.remediation_summary.overdue_orders`) and what its map
    draws (``map``)."""
    day_start = pd.Timestamp(day).normalize()
    recent = CaseFilter(start=(day_start - pd.Timedelta(days=DAYS_READ)).date(), end=day_start.date(),
                        area=area).read_cases(store)
    # Overdue cases may be of any age: the open ones past their deadline by the end of the day.
    late = store.read("cases", [Condition("status", "in", [s for s in CASE_STATUSES if s != "closed"]),
                                Condition("due_at", "<", (day_start + pd.Timedelta(days=1)).to_pydatetime())]
                      + area.conditions("cases"))
    cases = pd.concat([recent, late[~late["case_id"].isin(set(recent["case_id"]))]], ignore_index=True)
    visits = store.read("case_sources", period_filter(day_start - pd.Timedelta(days=1), day_start)
                        + [Condition("channel", "=", "walk_in")])
    visits = visits_in(store, visits, area.conditions("cases"))
    brief = daily_brief(cases, visits, day_start.date(), as_of=as_of)
    cells = store.read("grid_cells", area.conditions("grid_cells")).sort_values("grid_cell", ignore_index=True)
    outline_layer = {"community": "communities", "cells": "grid_cells"}.get(area.kind, "streets")
    shown = cases[(cases["reported_at"] >= day_start - pd.Timedelta(days=1)).to_numpy()
                  & (cases["reported_at"] <= brief["as_of"]).to_numpy() & cases.geometry.notna().to_numpy()]
    streets = store.read("streets")
    brief["to_clear"]["street"] = brief["to_clear"]["street_code"].map(
        dict(zip(streets["street_code"], streets["name"]))).fillna(brief["to_clear"]["street_code"])
    brief["area"] = area_name(store, area)
    brief["hotspots"] = hotspot_changes(cases, cells, day_start)
    brief["remediation_overdue"] = overdue_orders(store, orders(store, area, now=brief["as_of"]), brief["as_of"])
    brief["map"] = {"cells": cells, "outlines": store.read(outline_layer, area.conditions(outline_layer)),
                    "cases": shown.assign(today=(shown["reported_at"] >= day_start).to_numpy()),
                    "hot": cells[cells["grid_cell"].isin(set(brief["hotspots"]["grid_cell"]))]}
    return brief


def area_name(store: Store, area: Area) -> str:
    """The area as a brief's title names it: 江北区, a street, a community, or a community's cells."""
    if area.kind == "district":
        district = store.read("district")
        return district_names(district, area.codes[0] if area.codes else None)[0] if len(district) else "全区"
    names = "、".join(area_places(area, store.read))
    return f"{names} {len(area.codes)}个网格" if area.kind == "cells" else names


def hotspot_changes(cases: pd.DataFrame, cells: pd.DataFrame, until) -> pd.DataFrame:
    """Grid cells hot (Gi*, 95 % or surer) in the 7 days before ``until`` that were not hot in the 7 days
    before those (``new``), or were but less surely (``intensifying``), and whose own cases rose; surest first.

    Gi* also marks a quiet cell amid busy neighbours; a brief names only cells that got busier themselves.
    """
    until = pd.Timestamp(until)
    reported = cases["reported_at"]

    def week(end):
        within = ((reported >= end - pd.Timedelta(days=7)) & (reported < end)).to_numpy()
        found = hotspot_cells(cases[within], cells)
        counts = cases.loc[within, "grid_cell"].value_counts()
        return found.assign(cases=found["grid_cell"].map(counts).fillna(0).astype(int).to_numpy())

    now, before = week(until), week(until - pd.Timedelta(days=7)).set_index("grid_cell")
    now = now.assign(bin_before=now["grid_cell"].map(before["bin"]).fillna(0).astype(int).to_numpy(),
                     cases_before=now["grid_cell"].map(before["cases"]).fillna(0).astype(int).to_numpy())
    now["change"] = np.where(now["bin_before"] <= 0, "new",
                             np.where(now["bin"] > now["bin_before"], "intensifying", ""))
    hot = now[(now["bin"] >= HOT_BIN).to_numpy() & (now["change"] != "").to_numpy()
              & (now["cases"] > now["cases_before"]).to_numpy()]
    return pd.DataFrame(hot[["grid_cell", "name", "community_code", "street_code", "change", "z", "bin", "bin_before",
                             "cases", "cases_before"]]).sort_values(["bin", "z"], ascending=False, ignore_index=True)


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
    found = archived(store, day, area)
    return None if found is None else found[0]


def archived(store, day: date, area: str) -> tuple[str, pd.Timestamp] | None:
    """The brief of ``day`` and ``area`` as it was made and when it was made, or None if none was."""
    rows = store.read("briefs", [Condition("brief_date", "=", pd.Timestamp(day).date().isoformat()),
                                 Condition("area", "=", area)])
    return None if rows.empty else (str(rows["html"].iat[0]), pd.Timestamp(rows["made_at"].iat[0]))
