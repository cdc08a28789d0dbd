"""Blind spots (盲点): places, assets and matters nobody answers for, or loops that never close.

Each rule is a plain function over frames and returns one row per blind spot
with the same columns, so the rules can be listed together, mapped and counted:
``rule``, ``place_kind`` (case, component, setback_area, grid_cell, community),
``place`` (its id), ``category``, ``cases`` (how many cases stand behind it),
``first`` and ``last`` (their dates), ``lon``/``lat`` where the spot is a point.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

RULES = {
    "outside_grid": ("网格外的案件和部件", "Cases and components outside every grid cell"),
    "unmanaged_setback_area": ("有案件无管理单位的退红空间", "Setback areas with cases and no managing unit"),
    "category_without_unit": ("责任清单未覆盖的事项", "Categories no unit answers for in an area"),
    "recurring_in_cell": ("同一网格同类问题反复发生", "The same problem again and again in one cell"),
    "component_broken_again": ("部件反复损坏", "Components reported broken again and again"),
}
COLUMNS = ["rule", "place_kind", "place", "category", "cases", "first", "last", "lon", "lat"]
# A repeat is a case within this many days of the last one at the same place and category; a
# place is a blind spot after this many repeats.
REPEAT_DAYS = 30
REPEATS = 3


def outside_grid(cases: pd.DataFrame, components: pd.DataFrame) -> pd.DataFrame:
    """Located cases and components that fall in no grid cell: nobody's patch."""
    rows = []
    for kind, frame, key, when in (("case", cases, "case_id", "reported_at"),
                                   ("component", components, "component_id", "surveyed_at")):
        out = frame[frame["outside_grid"].fillna(False).astype(bool).to_numpy()]
        stamp = pd.to_datetime(out[when]) if when in out else pd.Series(pd.NaT, index=out.index)
        # Plain lon/lat columns where the frame has them (the dashboard's copy), else its points.
        lon, lat = (out["lon"], out["lat"]) if "lon" in out else (out.geometry.x, out.geometry.y)
        rows.append(pd.DataFrame({
            "rule": "outside_grid", "place_kind": kind, "place": out[key].astype(str),
            "category": out["category"].astype(object) if "category" in out else out["class_name"].astype(object),
            "cases": 1 if kind == "case" else 0, "first": stamp, "last": stamp, "lon": lon, "lat": lat}))
    return _frame(pd.concat(rows, ignore_index=True))


def unmanaged_setback_areas(setback_areas: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Setback areas that draw cases and have no managing unit (失管)."""
    unmanaged = setback_areas[setback_areas["managing_unit"].fillna("").astype(str).str.strip() == ""]
    inside = cases[cases["setback_area"].isin(set(unmanaged["setback_area"]))]
    per = inside.groupby(inside["setback_area"].astype(object))["reported_at"].agg(["size", "min", "max"])
    return _frame(pd.DataFrame({
        "rule": "unmanaged_setback_area", "place_kind": "setback_area", "place": per.index,
        "category": None, "cases": per["size"].to_numpy(), "first": per["min"].to_numpy(),
        "last": per["max"].to_numpy()}))


def categories_without_unit(cases: pd.DataFrame, units: pd.Series) -> pd.DataFrame:
    """(Community, category) pairs with cases and no unit in the responsibility list.

    ``units`` is each case's unit by the current list (``layers.responsibilities``); cases
    located nowhere (no community) are ``outside_grid``'s, not a gap in the list.
    """
    gap = cases[units.isna().to_numpy() & cases["community_code"].notna().to_numpy()]
    per = gap.groupby([gap["community_code"].astype(object), gap["category"].astype(object)])["reported_at"].agg(
        ["size", "min", "max"])
    return _frame(pd.DataFrame({
        "rule": "category_without_unit", "place_kind": "community",
        "place": per.index.get_level_values(0), "category": per.index.get_level_values(1),
        "cases": per["size"].to_numpy(), "first": per["min"].to_numpy(), "last": per["max"].to_numpy()}))


def recurring_in_cells(cases: pd.DataFrame, *, days: int = REPEAT_DAYS, repeats: int = REPEATS) -> pd.DataFrame:
    """Cells where the same category keeps coming back: at least ``repeats`` cases each within ``days``
    of the one before."""
    return _repeated(cases, "grid_cell", "grid_cell", "recurring_in_cell", days=days, repeats=repeats)


def components_broken_again(cases: pd.DataFrame, *, days: int = 180, repeats: int = REPEATS) -> pd.DataFrame:
    """Components reported broken again and again: ``repeats`` reports each within ``days`` of the last."""
    return _repeated(cases, "component_id", "component", "component_broken_again", days=days, repeats=repeats)


def repeats_within(places, categories, stamps, days: int) -> np.ndarray:
    """Which records follow one of the same place and category within ``days`` (missing places never do).

    Sorted as integer codes: a million records take a second, not a sort of a million strings.
    """
    place, _ = pd.factorize(pd.Series(places).astype(object), use_na_sentinel=True)
    category, _ = pd.factorize(pd.Series(categories).astype(object), use_na_sentinel=True)
    at = pd.to_datetime(pd.Series(stamps)).to_numpy("datetime64[ms]")
    order = np.lexsort((at, category, place))
    p, c, t = place[order], category[order], at[order]
    follows = np.zeros(len(order), dtype=bool)
    follows[1:] = (p[1:] == p[:-1]) & (c[1:] == c[:-1]) & (p[1:] >= 0) & (t[1:] - t[:-1] <= np.timedelta64(days, "D"))
    out = np.zeros(len(order), dtype=bool)
    out[order] = follows
    return out


def _repeated(cases, column, kind, rule, *, days, repeats):
    placed = cases[cases[column].notna().to_numpy()]
    frame = pd.DataFrame({"place": placed[column].astype(object).to_numpy(),
                          "category": placed["category"].astype(object).to_numpy(),
                          "at": pd.to_datetime(placed["reported_at"]).to_numpy(),
                          "repeat": repeats_within(placed[column], placed["category"], placed["reported_at"], days)})
    per = frame.groupby(["place", "category"]).agg(repeats=("repeat", "sum"), cases=("at", "size"),
                                                   first=("at", "min"), last=("at", "max"))
    per = per[per["repeats"] >= repeats].reset_index()
    return _frame(per.assign(rule=rule, place_kind=kind))


def blind_spots(cases: pd.DataFrame, components: pd.DataFrame, setback_areas: pd.DataFrame,
                units: pd.Series) -> pd.DataFrame:
    """Every rule's blind spots, one frame, most cases first within each rule."""
    found = [outside_grid(cases, components), unmanaged_setback_areas(setback_areas, cases),
             categories_without_unit(cases, units), recurring_in_cells(cases), components_broken_again(cases)]
    out = pd.concat([f for f in found if len(f)], ignore_index=True) if any(len(f) for f in found) else _frame(
        pd.DataFrame())
    order = {rule: i for i, rule in enumerate(RULES)}
    return out.sort_values(["rule", "cases"], key=lambda s: s.map(order) if s.name == "rule" else -s,
                           kind="stable", ignore_index=True)


def _frame(frame: pd.DataFrame) -> pd.DataFrame:
    for column in COLUMNS:
        if column not in frame:
            frame[column] = np.nan if column in ("lon", "lat") else None
    return frame[COLUMNS].reset_index(drop=True)
