"""The remediation register (靶向治理台账) and whether a remediation worked.

A remediation is work on one place: a setback area, an estate or a grid cell.
Registering one on a setback area (or an estate: all its setback areas) moves
the area along its path, unmanaged → in_renovation (started) → handed_over
(handed over to a managing unit), in the same transaction as the register row.

Effect, for each finished remediation: the place's cases per month in a window
before it started and in one after it finished, against the same windows at
comparable places of the same kind that nobody remediated (difference in
differences). Counts are Poisson, so the uncertainty of each rate is its count's;
the 95 % interval is the normal one on the difference. An interval that holds 0
is reported as no measurable effect.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import numpy as np
import pandas as pd

from layers.errors import InvalidValue
from layers.glossary import PLACE_COLUMNS
from layers.store import Condition, Store

# The case column that says where a case happened, per kind of place.
PLACE_LAYERS = {"setback_area": ("setback_areas", "setback_area"), "estate": ("estates", "estate_id"),
                "grid_cell": ("grid_cells", "grid_cell")}
SETBACK_STATUSES = ("unmanaged", "in_renovation", "handed_over")
WINDOW_MONTHS = 6
Z95 = 1.959964


def add_remediation(store: Store, *, place_kind: str, place: str, what: str, unit: str, started_at,
                    finished_at=None, handed_over_to: str | None = None, handed_over_at=None,
                    entered_by: str = "") -> str:
    """Register work already done or under way (the office's ledger, the demo); a setback area's status and
    manager follow. Returns its id. Work opened in the product goes step by step: layers.remediation_orders."""
    if place_kind not in PLACE_LAYERS:
        raise InvalidValue(f"unknown place kind {place_kind!r}: {', '.join(PLACE_LAYERS)}")
    layer, key = PLACE_LAYERS[place_kind]
    found = store.read(layer, [Condition(key, "=", place)])
    if found.empty:
        raise InvalidValue(f"no {place_kind} {place!r} in the store")
    started, finished = pd.Timestamp(started_at), pd.Timestamp(finished_at) if finished_at is not None else None
    if finished is not None and finished < started:
        raise InvalidValue(f"remediation of {place} finished ({finished:%Y-%m-%d}) before it started "
                         f"({started:%Y-%m-%d})")
    if handed_over_to and handed_over_at is None:
        handed_over_at = finished if finished is not None else started
    remediation_id = f"R{uuid.uuid4().hex[:10]}"
    state = "handed_over" if handed_over_to else "accepted" if finished is not None else "in_progress"
    codes = found.iloc[0]
    row = pd.DataFrame([{"remediation_id": remediation_id, "place_kind": place_kind, "place": place, "what": what,
                         "unit": unit, "started_at": started, "finished_at": finished,
                         "handed_over_to": handed_over_to, "handed_over_at": handed_over_at,
                         "entered_by": entered_by, "entered_at": pd.Timestamp.now().floor("s"), "state": state,
                         "grid_cell": place if place_kind == "grid_cell" else None,
                         "community_code": codes.get("community_code"), "street_code": codes.get("street_code")}])
    frames = {"remediations": row}
    if place_kind in ("setback_area", "estate"):
        area = found.copy() if place_kind == "setback_area" else store.read(
            "setback_areas", [Condition("estate_id", "=", place)])
        if handed_over_to:
            area["status"], area["managing_unit"] = "handed_over", handed_over_to
            area["handed_over_to"], area["handed_over_at"] = handed_over_to, pd.Timestamp(handed_over_at)
        else:
            area.loc[area["status"] != "handed_over", "status"] = "in_renovation"
        if len(area):
            frames["setback_areas"] = area
    store.upsert_many(frames)
    return remediation_id


@dataclass(frozen=True)
class Effect:
    """Cases per month before and after, at the place and at the comparison places (mean per place)."""

    before: float
    after: float
    control_before: float
    control_after: float
    did: float  # (after − before) − (control_after − control_before), cases per month
    low: float
    high: float

    @property
    def verdict(self) -> str:
        """What the difference in differences says: reduced, increased, or no clear change (its 95 % interval spans 0)."""
        if self.high < 0:
            return "reduced"
        if self.low > 0:
            return "increased"
        return "none"


def difference_in_differences(treated: tuple[int, int], control: tuple[int, int], *, months: tuple[float, float],
                              controls: int) -> Effect:
    """The effect from counts: the place's (before, after) cases, the comparison places' summed (before,
    after) cases over ``controls`` places, and the windows' lengths in months (before, after)."""
    (tb, ta), (cb, ca), (mb, ma) = treated, control, months
    controls = max(controls, 1)
    rates = (tb / mb, ta / ma, cb / (mb * controls), ca / (ma * controls))
    did = (rates[1] - rates[0]) - (rates[3] - rates[2])
    # Poisson: var(count) = count; at least one case's worth, so an empty window is not certain.
    variance = (max(ta, 1) / ma**2 + max(tb, 1) / mb**2 + max(ca, 1) / (ma * controls) ** 2
                + max(cb, 1) / (mb * controls) ** 2)
    half = Z95 * np.sqrt(variance)
    before, after, control_before, control_after = (round(r, 3) for r in rates)
    return Effect(before, after, control_before, control_after, did=round(did, 3), low=round(did - half, 3),
                  high=round(did + half, 3))


def remediation_effects(store: Store, *, months: int = WINDOW_MONTHS, as_of=None) -> pd.DataFrame:
    """The register with each finished remediation's effect (cases per month, DiD with its 95 % interval)."""
    register = store.read("remediations").sort_values("started_at", ignore_index=True)
    if register.empty:  # nothing to measure: the cases (a million, perhaps) are not read
        return register[["remediation_id", "place_kind", "place", "what", "unit", "started_at", "finished_at",
                         "handed_over_to"]].assign(verdict=pd.Series(dtype=object))
    # Counted by the store, place by place and window by window: no case is read, whatever the store's size.
    span = store.aggregate("cases", [], measures=("min:reported_at", "max:reported_at"))
    first = span["min_reported_at"].iat[0]
    as_of = pd.Timestamp(as_of) if as_of is not None else span["max_reported_at"].iat[0]
    # The places never remediated, per kind, read once; each remediation leaves out its own place.
    unremediated = {kind: _comparison_places(store, register, kind) for kind in set(register["place_kind"])}
    rows = []
    for r in register.itertuples():
        column = PLACE_COLUMNS[r.place_kind]
        row = {"remediation_id": r.remediation_id, "place_kind": r.place_kind, "place": r.place, "what": r.what,
               "unit": r.unit, "started_at": r.started_at, "finished_at": r.finished_at,
               "handed_over_to": r.handed_over_to, "verdict": None}
        if pd.notna(r.finished_at):
            before = (max(r.started_at - pd.DateOffset(months=months), first), r.started_at)
            after = (r.finished_at, min(r.finished_at + pd.DateOffset(months=months), as_of))
            if before[1] > before[0] and after[1] > after[0]:
                others = unremediated[r.place_kind] - {r.place}
                effect = difference_in_differences(
                    (_count(store, column, {r.place}, before), _count(store, column, {r.place}, after)),
                    (_count(store, column, others, before), _count(store, column, others, after)),
                    months=(_months(before), _months(after)), controls=len(others))
                row.update(before=effect.before, after=effect.after, control_before=effect.control_before,
                           control_after=effect.control_after, did=effect.did, low=effect.low, high=effect.high,
                           verdict=effect.verdict, comparison_places=len(others),
                           window_months=round(_months(after), 1))
        rows.append(row)
    return pd.DataFrame(rows)


def overall_effect(effects: pd.DataFrame, place_kind: str) -> dict | None:
    """The mean effect of the finished remediations of one kind, with its 95 % interval.

    One estate's cases are few and its interval wide; the register's figure for the work as a
    whole is the mean of the places' differences. The places share comparison places, so the
    interval (from the places' own, as if independent) is a little narrow.
    """
    done = effects[(effects["place_kind"] == place_kind) & effects.get("did", pd.Series(dtype=float)).notna()]
    if done.empty:
        return None
    sd = (done["high"] - done["low"]) / (2 * Z95)
    did, half = done["did"].mean(), Z95 * np.sqrt((sd**2).sum()) / len(done)
    before, after, control_before, control_after = (
        round(done[c].mean(), 3) for c in ("before", "after", "control_before", "control_after"))
    effect = Effect(before, after, control_before, control_after, did=round(did, 3), low=round(did - half, 3),
                    high=round(did + half, 3))
    return {"place_kind": place_kind, "remediations": int(len(done)), "before": effect.before, "after": effect.after,
            "control_before": effect.control_before, "control_after": effect.control_after, "did": effect.did,
            "low": effect.low, "high": effect.high, "verdict": effect.verdict}


def monthly_cases(store: Store, place_kind: str, place: str) -> pd.Series:
    """Cases per month at one place: the small chart beside each remediation."""
    cases = store.read("cases", [Condition(PLACE_COLUMNS[place_kind], "=", place)])
    return cases.set_index("reported_at").resample("MS").size()


def _comparison_places(store, register, place_kind) -> set:
    """Places of the same kind never remediated; for setback areas (and estates), the ones still unmanaged."""
    layer, key = PLACE_LAYERS[place_kind]
    places = store.read(layer)
    if place_kind in ("setback_area", "estate"):
        unmanaged = store.read("setback_areas", [Condition("status", "=", "unmanaged")])
        places = places[places[key].isin(set(unmanaged[key]))]
    done = set(register.loc[register["place_kind"] == place_kind, "place"])
    return set(places[key]) - done


def _count(store: Store, column, places, window) -> int:
    """Cases reported in ``window`` (start inclusive, end not) at any of ``places`` (values of ``column``)."""
    if not places:
        return 0
    found = store.aggregate("cases", [Condition(column, "in", sorted(places)),
                                      Condition("reported_at", ">=", pd.Timestamp(window[0]).to_pydatetime()),
                                      Condition("reported_at", "<", pd.Timestamp(window[1]).to_pydatetime())])
    return int(found["rows"].sum())


def _months(window) -> float:
    return (window[1] - window[0]) / pd.Timedelta(days=30.4375)
