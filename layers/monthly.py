"""The monthly analysis of hard problems (难题月研判): what the centre looks at once a month.

The month's figures against the previous month and the same month a year
before; the recurring problems (高发、积存、同质化: the same category at the same
grid cell or estate again and again), each with its trend and whether the
remediation register already holds its place; the hard cases; remediation
progress and effect; and the blind spots, with what changed since last month.
Functions below take frames and return frames; :func:`monthly_from_store`
reads what they need.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.emerging import TREND_ALPHA, mann_kendall
from layers.analysis import blind_spot_layer
from layers.areas import DISTRICT, Area
from layers.brief import area_name
from layers.filters import CaseFilter
from layers.kpis import kpis_from_store
from layers.remediation import PLACE_LAYERS, overall_effect, remediation_effects
from layers.schema import CASE_STATUSES, LEVELS
from layers.store import Condition, Store

# A place and category with this many cases in the month is a recurring problem.
RECURRING_CASES = 3
# The months a recurring problem's trend is read over, the month itself the last.
TREND_MONTHS = 6
TOP = 10
TREND_WORDS = {"rising": "上升", "falling": "下降", "steady": "平稳"}
# The case column that says which place of a kind a case happened at.
PLACE_CASE_COLUMNS = {"grid_cell": "grid_cell", "estate": "estate_id"}


def month_bounds(month) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first day of ``month`` (``2020-11`` or a Period) and the first day of the next."""
    period = pd.Period(month, freq="M")
    return period.start_time, (period + 1).start_time


def monthly_from_store(store: Store, month, area: Area = DISTRICT) -> dict:
    """The monthly analysis of ``month`` for ``area``, read from the store."""
    start, after = month_bounds(month)
    end = after - pd.Timedelta(days=1)

    def kpis(first, last):
        return kpis_from_store(store, start=first.date(), end=last.date(), area=area, as_of=last + pd.Timedelta(days=1))

    year_before = (pd.Period(month, freq="M") - 12)
    month_before = (pd.Period(month, freq="M") - 1)
    recent = CaseFilter(start=(start - pd.DateOffset(months=TREND_MONTHS - 1)).date(), end=end.date(),
                        area=area).read_cases(store)
    in_month = recent[(recent["reported_at"] >= start).to_numpy()]
    open_at_end = _open_at(store, after, area)
    register = _register_in(store, area, after)
    names = _place_names(store, area)
    spots_now = blind_spot_layer(store, CaseFilter(start=start.date(), end=end.date(), area=area))
    spots_before = blind_spot_layer(store, CaseFilter(start=month_before.start_time.date(),
                                                      end=month_before.end_time.date(), area=area))
    return {
        "month": pd.Period(month, freq="M"), "area": area_name(store, area), "as_of": after,
        "figures": {"month": kpis(start, end),
                    "previous_month": kpis(month_before.start_time, month_before.end_time.normalize()),
                    "last_year": kpis(year_before.start_time, year_before.end_time.normalize())},
        "categories": category_change(in_month, recent[((recent["reported_at"] >= month_before.start_time)
                                                        & (recent["reported_at"] < start)).to_numpy()]),
        "recurring": recurring_problems(recent, start, register, names),
        "recurring_count": len(recurring_pairs(in_month, start)),
        "hard_cases": hard_cases(in_month, open_at_end, after),
        "remediation": remediation_progress(register, start, after),
        "blind_spots": blind_spot_changes(spots_now, spots_before),
        "names": names,
    }


def category_change(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """Cases per category this month and last, most now first."""
    table = pd.DataFrame({"cases": now["category"].astype(str).value_counts(),
                          "previous_month": before["category"].astype(str).value_counts()}).fillna(0).astype(int)
    table["change"] = table["cases"] - table["previous_month"]
    return table.sort_values(["cases", "change"], ascending=False).rename_axis("category").reset_index()


def recurring_pairs(cases: pd.DataFrame, month_start, *, least: int = RECURRING_CASES) -> pd.DataFrame:
    """Every place (grid cell or estate) and category with ``least`` or more cases in the month starting
    ``month_start``: ``place_kind``, ``place``, ``category``, ``cases``; most cases first."""
    in_month = cases[(cases["reported_at"] >= pd.Timestamp(month_start)).to_numpy()]
    found = []
    for kind, column in PLACE_CASE_COLUMNS.items():
        placed = in_month[in_month[column].notna().to_numpy()]
        counts = placed.groupby([placed[column].astype(str), placed["category"].astype(str)]).size()
        counts = counts[counts >= least]
        found.append(pd.DataFrame({"place_kind": kind, "place": counts.index.get_level_values(0),
                                   "category": counts.index.get_level_values(1), "cases": counts.to_numpy()}))
    return pd.concat(found, ignore_index=True).sort_values(
        ["cases", "place_kind", "place", "category"], ascending=[False, True, True, True], ignore_index=True)


def recurring_problems(cases: pd.DataFrame, month_start, register: pd.DataFrame, names: dict,
                       *, least: int = RECURRING_CASES, top: int = TOP, months: int = TREND_MONTHS) -> pd.DataFrame:
    """同质化 problems: the ``top`` of :func:`recurring_pairs`, each with its cases in each of the ``months``
    months to the month (``per_month``, the month last), their Mann–Kendall ``trend``, its case ids and
    whether the register holds a remediation of the place (for an estate, of any of its setback areas too)."""
    month_start = pd.Timestamp(month_start)
    months = pd.period_range(end=month_start.to_period("M"), periods=months, freq="M")
    on_register = set(zip(register["place_kind"], register["place"]))
    on_register |= {("estate", e) for e in register.get("estate_id", pd.Series(dtype=object)).dropna()}
    found = []
    for r in recurring_pairs(cases, month_start, least=least).head(top).itertuples():
        rows = cases[((cases[PLACE_CASE_COLUMNS[r.place_kind]].astype(str) == r.place)
                      & (cases["category"].astype(str) == r.category)).to_numpy()]
        in_month = rows[(rows["reported_at"] >= month_start).to_numpy()]
        per_month = rows["reported_at"].dt.to_period("M").value_counts().reindex(months, fill_value=0)
        tau, p = mann_kendall(per_month.to_numpy())
        found.append({"place_kind": r.place_kind, "place": r.place, "name": names.get((r.place_kind, r.place), r.place),
                      "category": r.category, "cases": len(in_month), "per_month": per_month.astype(int).tolist(),
                      "trend": "steady" if p >= TREND_ALPHA else "rising" if tau > 0 else "falling",
                      "on_register": (r.place_kind, r.place) in on_register,
                      "case_ids": in_month.sort_values("reported_at")["case_id"].astype(str).tolist()})
    return pd.DataFrame(found, columns=["place_kind", "place", "name", "category", "cases", "per_month", "trend",
                                        "on_register", "case_ids"])


def hard_cases(in_month: pd.DataFrame, open_at_end: pd.DataFrame, as_of, *, top: int = TOP) -> dict:
    """The hard cases: open longest at ``as_of``; the month's cases escalated most levels above where they
    were received; the month's cases the most channels reported."""
    as_of = pd.Timestamp(as_of)
    oldest = open_at_end.assign(days_open=((as_of - open_at_end["reported_at"]).dt.total_seconds() / 86400)
                                .round(1).to_numpy())
    rank = {level: i for i, level in enumerate(LEVELS)}
    # As numbers: mapping an empty column (a month without cases) keeps its text type, and text does not subtract.
    level, received = (in_month[c].astype(str).map(rank).astype("float64") for c in ("level", "level_received"))
    steps = (level - received).fillna(0)
    channels = in_month["channels"].astype(object).where(in_month["channels"].notna(), in_month["channel"])
    count = channels.astype(str).str.split(";").map(len)
    columns = ["case_id", "reported_at", "category", "street_code", "level", "status"]
    return {
        "open_longest": oldest.sort_values("days_open", ascending=False)[columns + ["days_open"]].head(top)
        .reset_index(drop=True),
        "escalated": in_month.assign(escalations=steps.astype(int).to_numpy())
        .loc[(steps > 0).to_numpy()].sort_values(["escalations", "reported_at"], ascending=[False, True])
        [columns + ["level_received", "escalations"]].head(top).reset_index(drop=True),
        "many_channels": in_month.assign(channel_count=count.to_numpy(), channel_list=channels.astype(str).to_numpy())
        .loc[(count > 1).to_numpy()].sort_values(["channel_count", "reported_at"], ascending=[False, True])
        [columns + ["channel_count", "channel_list"]].head(top).reset_index(drop=True),
    }


def remediation_progress(register: pd.DataFrame, month_start, month_after) -> dict:
    """Where the register stands at the month's end: started and finished in the month, under way, finished,
    and the effect of the finished ones (cases per month before and after, against comparison places)."""
    start, after = pd.Timestamp(month_start), pd.Timestamp(month_after)
    finished = register["finished_at"].notna() & (register["finished_at"] < after)
    counts = {"registered": int(len(register)),
              "started_in_month": int(((register["started_at"] >= start) & (register["started_at"] < after)).sum()),
              "finished_in_month": int((finished & (register["finished_at"] >= start)).sum()),
              "under_way": int((~finished).sum()), "finished": int(finished.sum())}
    if "verdict" in register:
        counts.update({f"verdict_{v}": int((register["verdict"] == v).sum()) for v in ("reduced", "increased", "none")})
    overall = [o for o in (overall_effect(register, kind) for kind in PLACE_LAYERS) if o] if "did" in register else []
    return {"counts": counts, "rows": register.reset_index(drop=True), "overall": overall}


def blind_spot_changes(now: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """This month's blind spots, each ``new`` or ``continuing`` against last month's, then last month's
    that are gone (``cleared``); with this month's and last month's cases behind each."""
    key = ["rule", "place_kind", "place", "category"]
    both = now[key + ["cases"]].merge(before[key + ["cases"]], on=key, how="outer", suffixes=("", "_before"),
                                      indicator=True)
    both["change"] = both["_merge"].astype(str).map({"left_only": "new", "both": "continuing", "right_only": "cleared"})
    both[["cases", "cases_before"]] = both[["cases", "cases_before"]].fillna(0).astype(int)
    both["order"] = both["change"].map({"new": 0, "continuing": 1, "cleared": 2})
    return both.sort_values(["order", "cases", "cases_before"], ascending=[True, False, False], ignore_index=True,
                            kind="stable").drop(columns=["_merge", "order"])


def _open_at(store: Store, moment, area: Area) -> pd.DataFrame:
    """Cases reported before ``moment`` and not closed by then."""
    before = Condition("reported_at", "<", pd.Timestamp(moment).to_pydatetime())
    still_open = store.read("cases", [before, Condition("status", "in", [s for s in CASE_STATUSES if s != "closed"])]
                            + area.conditions("cases"))
    closed_later = store.read("cases", [before, Condition("closed_at", ">=", pd.Timestamp(moment).to_pydatetime())]
                              + area.conditions("cases"))
    return pd.concat([still_open, closed_later[~closed_later["case_id"].isin(set(still_open["case_id"]))]],
                     ignore_index=True)


def _register_in(store: Store, area: Area, after) -> pd.DataFrame:
    """The register's remediations in the area started before ``after``, with their measured effect and,
    for a setback area, its estate."""
    effects = remediation_effects(store, as_of=after)
    if effects.empty:
        return effects.assign(estate_id=pd.Series(dtype=object))
    inside = set()
    for kind, (layer, key) in PLACE_LAYERS.items():
        inside |= {(kind, code) for code in store.read(layer, area.conditions(layer))[key]}
    setback_areas = store.read("setback_areas", area.conditions("setback_areas"))
    estate_of = dict(zip(setback_areas["setback_area"], setback_areas["estate_id"]))
    keep = np.array([(k, p) in inside for k, p in zip(effects["place_kind"], effects["place"])], dtype=bool)
    keep &= (effects["started_at"] < pd.Timestamp(after)).to_numpy()
    effects = effects[keep].reset_index(drop=True)
    return effects.assign(estate_id=[estate_of.get(p) if k == "setback_area" else None
                                     for k, p in zip(effects["place_kind"], effects["place"])])


def _place_names(store: Store, area: Area) -> dict:
    names = {}
    for kind, layer, key in (("grid_cell", "grid_cells", "grid_cell"), ("estate", "estates", "estate_id"),
                             ("setback_area", "setback_areas", "setback_area"),
                             ("community", "communities", "community_code")):
        places = store.read(layer, area.conditions(layer))
        names.update({(kind, k): n for k, n in zip(places[key], places["name"])})
    return names
