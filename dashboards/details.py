"""What a click on the map opens: a grid cell's figures and latest cases, or one case and every record behind it."""

from __future__ import annotations

import pandas as pd

from dashboards.cache import CACHE
from dashboards.i18n import only, say
from dashboards.remediation import measured_effects
from dashboards.selection import filtered_cases
from dashboards.table import case_table
from layers.areas import DISTRICT, Area
from layers.filters import CaseFilter
from layers.glossary import LEVEL_LABELS, channel_names, step_label
from layers.kpis import filtered_kpis
from layers.remediation_orders import orders
from layers.store import Condition


def cell_details(store, f: CaseFilter, grid_cell: str, *, latest: int = 5, as_of=None, lang: str = "zh") -> dict | None:
    """A grid cell's figures under the filter, and its latest cases: what a click on the map opens."""
    cells = store.read("grid_cells", [Condition("grid_cell", "=", grid_cell)] + f.area.conditions("grid_cells"))
    if cells.empty:
        return None
    cell = cells.iloc[0]
    cases, _ = filtered_cases(store, f.narrowed(grid_cell=grid_cell, community_code=cell["community_code"],
                                                street_code=cell["street_code"]), as_of=as_of)
    tiles = filtered_kpis(cases, as_of=as_of)
    communities = store.read("communities", [Condition("community_code", "=", cell["community_code"])])
    rows, _ = case_table(cases, page_size=latest, lang=lang)
    categories = cases["category"].astype(object).value_counts()
    return {"grid_cell": grid_cell, "name": cell["name"], "kind": cell["kind"],
            "top_category": categories.index[0] if len(categories) else None,
            "places": places_in_cell(store, cell.geometry),
            "remediations": remediations_at(store, f.area, grid_cell, places_in_cell(store, cell.geometry)),
            "community": communities["name"].iat[0] if len(communities) else None,
            "population": None if pd.isna(cell["population"]) else int(cell["population"]),
            "received": tiles["received"], "closed": tiles["closed"], "overdue": tiles["overdue"],
            "closure_rate": tiles["closure_rate"], "latest": rows}


def places_in_cell(store, cell) -> list[dict]:
    """The estates and setback areas a cell touches: places a remediation may be opened on from its click."""
    found = []
    for kind, layer, key in (("estate", "estates", "estate_id"), ("setback_area", "setback_areas", "setback_area")):
        places = CACHE.layer(store, layer)
        places = places[places.intersects(cell).to_numpy()] if cell is not None and len(places) else places.iloc[:0]
        found += [{"place_kind": kind, "place": str(c), "name": n if isinstance(n, str) and n else str(c)}
                  for c, n in zip(places[key], places["name"])]
    return found


PLACE_KINDS = {"estate": ("estates", "estate_id"), "setback_area": ("setback_areas", "setback_area")}


def place_details(store, area: Area, code: str) -> dict | None:
    """An estate or setback area in ``area`` as a click on it opens it: what it is and the orders on it."""
    kind, _, given = code.partition(":") if ":" in code else ("", "", code)
    for place_kind, (layer, key) in PLACE_KINDS.items():
        if kind and kind != place_kind:
            continue
        found = store.read(layer, [Condition(key, "=", given)] + area.conditions(layer))
        if len(found):
            row = found.iloc[0]
            status = row.get("status")
            return {"place_kind": place_kind, "place": given, "name": row["name"] if isinstance(row["name"], str)
                    else given, "status": status if isinstance(status, str) else None,
                    "managing_unit": row.get("managing_unit") if isinstance(row.get("managing_unit"), str) else None,
                    "remediations": remediations_at(store, area, None, [{"place_kind": place_kind, "place": given}])}
    return None


def remediations_at(store, area: Area, grid_cell: str | None, places: list[dict]) -> list[dict]:
    """The orders on the cell and on the places it touches, each with its state and, once the months after its
    finish have passed, its measured effect (cases per month before → after, difference in differences)."""
    here = {("grid_cell", grid_cell)} | {(p["place_kind"], p["place"]) for p in places}
    here.discard(("grid_cell", None))
    found = orders(store, area)
    found = found[[(k, p) in here for k, p in zip(found["place_kind"], found["place"])]]
    if found.empty:
        return []
    effects = measured_effects(store).set_index("remediation_id")
    rows = []
    for r in found.itertuples():
        effect = effects.loc[r.remediation_id] if r.remediation_id in effects.index else None
        measured = effect is not None and isinstance(effect.get("verdict"), str)
        rows.append({"remediation_id": r.remediation_id, "state": r.state, "overdue": bool(r.overdue),
                     "what": r.what, "before": float(effect["before"]) if measured else None,
                     "after": float(effect["after"]) if measured else None,
                     "did": float(effect["did"]) if measured else None,
                     "verdict": effect["verdict"] if measured else None})
    return rows


def case_details(store, case_id: str, area: Area = DISTRICT, lang: str = "zh") -> dict | None:
    """One case as a click on its point opens it: lifecycle, level, unit, and every intake record behind it.

    None for a case outside ``area``, as for one that does not exist.
    """
    found = store.read("cases", [Condition("case_id", "=", case_id)] + area.conditions("cases"))
    if found.empty:
        return None
    case = found.iloc[0]
    records = store.read("case_sources", [Condition("case_id", "=", case_id)]).sort_values("reported_at")

    def when(value):
        return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d %H:%M")

    return {
        "case_id": case_id, "category": case["category"],
        "status": only(step_label(case["status"]), lang),
        "level": " → ".join(only(LEVEL_LABELS.get(case[c], ("", "")), lang) for c in ("level_received", "level")),
        "responsible_unit": case["responsible_unit"], "address": case["address"],
        "precision": case["location_precision"],
        "lifecycle": [(say(zh, en, lang), when(case[column])) for column, zh, en in (
            ("reported_at", "呼 受理", "reported"), ("dispatched_at", "分 派单", "dispatched"),
            ("closed_at", "销 办结", "closed"), ("due_at", "期限", "due"))],
        "sources": [{"channel": only(channel_names(r.channel), lang), "source_id": r.source_id,
                     "reported_at": when(r.reported_at), "merge_reason": r.merge_reason if r.merged else None}
                    for r in records.itertuples()],
    }
