"""Remediation orders (靶向治理立项): a piece of work on a place, taken step by step.

proposed → approved → in_progress → accepted (验收) → handed_over, or cancelled
before it is accepted. Each step keeps who took it, when, and a note
(``remediation_steps``); the order's row in the register (``remediations``)
holds where it stands. A setback area's management status follows its
remediation: in renovation from the start of the works, handed over (to
whom) at the handover, back to unmanaged if the works are cancelled.

Who may take which step, and where, is decided here for every caller (the
pages, the command line): a grid leader proposes in their cells, street
staff propose and advance in their street, a commander approves and accepts;
a planner reads. Every write lands with its audit rows in one transaction,
and is idempotent: an order opened twice with the same request key, or a
step taken twice, writes once.

The evidence that justified an order (its place's cases of the category and
their figures, as the store held them) is computed here when it is opened
and kept as it was.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.datums import STORAGE_CRS
from layers.areas import Area
from layers.audit import audit_rows, recorded
from layers.errors import Conflict, InvalidValue
from layers.glossary import PLACE_COLUMNS
from layers.places import Read, touch_cells
from layers.remediation import PLACE_LAYERS
from layers.store import Condition, Store
from layers.store.base import Expect

STATES = {
    "proposed": ("已立项", "Proposed"),
    "approved": ("已批准", "Approved"),
    "in_progress": ("整治中", "In progress"),
    "accepted": ("已验收", "Accepted"),
    "handed_over": ("已移交", "Handed over"),
    "cancelled": ("已撤销", "Cancelled"),
}
# The steps an order may take from each state.
NEXT = {
    "proposed": ("approved", "cancelled"),
    "approved": ("in_progress", "cancelled"),
    "in_progress": ("accepted", "cancelled"),
    "accepted": ("handed_over",),
    "handed_over": (),
    "cancelled": (),
}
# Who may take each step (to the state named): the rule of DESIGN.md's "Who".
MAY = {
    "proposed": ("grid_leader", "street_staff", "commander"),
    "approved": ("commander",),
    "in_progress": ("street_staff", "commander"),
    "accepted": ("commander",),
    "handed_over": ("street_staff", "commander"),
    "cancelled": ("street_staff", "commander"),
}
OPEN_STATES = ("proposed", "approved", "in_progress")
# The audit keeps an order's fields but its evidence, which the register keeps whole.
EVIDENCE = ("evidence",)
# How far back the evidence looks, and how many of its case ids it keeps.
EVIDENCE_DAYS = 90
EVIDENCE_IDS = 200


class NotAllowed(InvalidValue):
    """A step the actor's role may not take, or a place outside the actor's area."""


@dataclass(frozen=True)
class Actor:
    """Who writes: a user's name, role and area (a page's logged-in user, or ``onemap … --as NAME``)."""

    name: str
    role: str
    area: Area
    address: str = ""


@dataclass(frozen=True)
class Place:
    """A place an order is about, with the codes that say whose area it lies in."""

    kind: str
    code: str
    name: str
    grid_cell: str | None
    community_code: str | None
    street_code: str | None
    geometry: object = None


def find_place(store: Store, kind: str, code: str) -> Place:
    """The stored place of ``kind`` (grid_cell, estate, setback_area) with ``code``; InvalidValue if none."""
    if kind not in PLACE_LAYERS:
        raise InvalidValue(f"unknown place kind {kind!r}: {', '.join(PLACE_LAYERS)}")
    layer, key = PLACE_LAYERS[kind]
    found = store.read(layer, [Condition(key, "=", str(code))])
    if found.empty:
        raise InvalidValue(f"no {kind} {code!r} in the store")
    row = found.iloc[0]
    community = row.get("community_code")
    street = row.get("street_code")
    if not isinstance(street, str) and isinstance(community, str):
        communities = store.read("communities", [Condition("community_code", "=", community)])
        street = communities["street_code"].iat[0] if len(communities) else None
    name = row.get("name")
    return Place(kind, str(code), name if isinstance(name, str) and name else str(code),
                 str(code) if kind == "grid_cell" else None,
                 community if isinstance(community, str) else None, street if isinstance(street, str) else None,
                 row.geometry if "geometry" in found else None)


def in_area(store: Store, area: Area, place: Place) -> bool:
    """Whether ``place`` lies in ``area``: a cell by its code; an estate or setback area of a grid leader's
    cells when it touches one of them (it straddles cells), otherwise by its community."""
    if area.is_district:
        return True
    if place.grid_cell:
        return area.contains(place.grid_cell)
    if area.kind == "cells":
        return place.geometry is not None and bool(touch_cells(store.read, area, gpd.GeoSeries([place.geometry]))[0])
    return area.contains(place.community_code)


def _check(store: Store, actor: Actor, step: str, place: Place) -> None:
    if actor.role not in MAY[step]:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not take the step to {step!r}")
    if not in_area(store, actor.area, place):
        raise NotAllowed(f"{place.kind} {place.code} is outside {actor.name}'s area ({actor.area.spec()})")


def evidence_for(store: Store, place: Place, category: str | None, now) -> dict:
    """The place's cases of ``category`` (every category if none) in the last ``EVIDENCE_DAYS`` days, as the store
    holds them now: how many, how many a month before that, and their ids (the first ``EVIDENCE_IDS``)."""
    now = pd.Timestamp(now)
    since = now - pd.Timedelta(days=EVIDENCE_DAYS)
    terms = [Condition(PLACE_COLUMNS[place.kind], "=", place.code), Condition("reported_at", ">=", since.to_pydatetime()),
             Condition("reported_at", "<", now.to_pydatetime())]
    if category:
        terms.append(Condition("category", "=", category))
    cases = store.read("cases", terms).sort_values("reported_at")
    return {"as_of": now.isoformat(timespec="seconds"), "days": EVIDENCE_DAYS, "category": category,
            "cases": int(len(cases)), "per_month": round(len(cases) / (EVIDENCE_DAYS / 30.4375), 2),
            "open": int((cases["status"] != "closed").sum()) if len(cases) else 0,
            "case_ids": cases["case_id"].head(EVIDENCE_IDS).tolist()}


def open_order(store: Store, actor: Actor, *, place_kind: str, place: str, category: str | None, measures: str,
               unit: str, planned_start, planned_finish, note: str = "", request_key: str | None = None,
               now=None) -> tuple[str, bool]:
    """Propose a remediation of ``place``: (its id, whether this call wrote it).

    ``request_key``: the form's own id (a page sends one per opened form): the same key again returns the
    order it opened and writes nothing.
    """
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    found = find_place(store, place_kind, place)
    _check(store, actor, "proposed", found)
    if not str(measures or "").strip():
        raise InvalidValue("an order needs its measures (整治措施)")
    if not str(unit or "").strip():
        raise InvalidValue("an order needs its responsible unit (责任单位)")
    start, finish = as_day(planned_start, "planned start"), as_day(planned_finish, "planned finish")
    if pd.isna(start) or pd.isna(finish) or finish < start:
        raise InvalidValue(f"planned finish ({planned_finish}) must be a date on or after the planned start "
                           f"({planned_start})")
    remediation_id = _order_id(actor.name, request_key)
    existing = store.read("remediations", [Condition("remediation_id", "=", remediation_id)])
    if len(existing):
        return remediation_id, False
    row = {"remediation_id": remediation_id, "place_kind": found.kind, "place": found.code, "what": measures.strip(),
           "unit": unit.strip(), "state": "proposed", "category": category or None,
           "evidence": json.dumps(evidence_for(store, found, category, now), ensure_ascii=False),
           "planned_start": start, "planned_finish": finish, "grid_cell": found.grid_cell,
           "community_code": found.community_code, "street_code": found.street_code,
           "entered_by": actor.name, "entered_at": now, "updated_at": now}
    store.upsert_many({
        "remediations": pd.DataFrame([row]),
        "remediation_steps": pd.DataFrame([_step(remediation_id, 1, "proposed", actor, now, note)]),
        "audit": audit_rows(actor.name, "remediation.open", "remediations",
                            [(remediation_id, None, recorded(row, EVIDENCE))], address=actor.address, now=now)})
    return remediation_id, True


def advance_order(store: Store, actor: Actor, remediation_id: str, step: str, *, note: str = "",
                  handed_over_to: str | None = None, now=None) -> bool:
    """Take ``step`` (the state the order goes to); whether this call wrote it (False: it was already there).

    A step the order cannot take from where it stands, or one the actor may not take, is refused with
    nothing written.
    """
    if step not in STATES or step == "proposed":
        raise InvalidValue(f"unknown step {step!r}: {', '.join(s for s in STATES if s != 'proposed')}")
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    found = store.read("remediations", [Condition("remediation_id", "=", str(remediation_id))])
    if found.empty:
        raise InvalidValue(f"no remediation {remediation_id!r}")
    order = found.iloc[0]
    place = find_place(store, order["place_kind"], order["place"])
    _check(store, actor, step, place)
    if order["state"] == step:
        return False  # taken already (a second click, a request sent again)
    if step not in NEXT.get(order["state"], ()):
        raise InvalidValue(f"remediation {remediation_id} is {order['state']}: it can go to "
                           f"{', '.join(NEXT.get(order['state'], ())) or 'no further step'}, not {step}")
    if step == "handed_over" and not str(handed_over_to or "").strip():
        raise InvalidValue("a handover names the unit it hands over to (移交单位)")
    after = order.to_dict()
    after.update(state=step, updated_at=now)
    if step == "in_progress":
        after["started_at"] = now
    elif step == "accepted":
        after["finished_at"] = now
    elif step == "handed_over":
        after["handed_over_to"], after["handed_over_at"] = str(handed_over_to).strip(), now
    steps = store.read("remediation_steps", [Condition("remediation_id", "=", str(remediation_id))])
    frames = {
        "remediations": pd.DataFrame([after]),
        "remediation_steps": pd.DataFrame([_step(remediation_id, len(steps) + 1, step, actor, now, note,
                                                 after.get("handed_over_to") if step == "handed_over" else None)]),
        "audit": audit_rows(actor.name, f"remediation.{step}", "remediations",
                            [(str(remediation_id), recorded(order, EVIDENCE), recorded(after, EVIDENCE))],
                            address=actor.address, now=now)}
    areas = _setback_areas(store, place)
    if len(areas):
        followed = _follow(areas, order["state"], step, after.get("handed_over_to"), now)
        if followed is not None:
            frames["setback_areas"] = followed
    try:  # decided on the order as read: if someone took a step meanwhile, this one is not written
        store.upsert_many(frames, expect=(Expect("remediations", (str(remediation_id),), "state", order["state"]),))
    except Conflict:
        now_state = steps_of(store, remediation_id)["state"].iat[-1]
        if now_state == step:
            return False  # the same step, taken at the same moment (two clicks, two people)
        raise InvalidValue(f"remediation {remediation_id} went to {now_state} meanwhile: nothing was written",
                           zh=f"工单 {remediation_id} 已被他人办理为 {STATES[now_state][0]}，本次未保存") from None
    return True


def _follow(areas: pd.DataFrame, was: str, step: str, handed_over_to, now):
    """The setback areas' management status after the step, or None where it does not change."""
    areas = areas.copy()
    if step == "in_progress":
        areas.loc[areas["status"] != "handed_over", "status"] = "in_renovation"
    elif step == "handed_over":
        areas["status"], areas["managing_unit"] = "handed_over", handed_over_to
        areas["handed_over_to"], areas["handed_over_at"] = handed_over_to, now
    elif step == "cancelled" and was == "in_progress":
        areas.loc[areas["status"] == "in_renovation", "status"] = "unmanaged"
    else:
        return None
    return areas


def _setback_areas(store: Store, place: Place) -> pd.DataFrame:
    if place.kind == "setback_area":
        return store.read("setback_areas", [Condition("setback_area", "=", place.code)])
    if place.kind == "estate":
        return store.read("setback_areas", [Condition("estate_id", "=", place.code)])
    return store.read("setback_areas", [Condition("setback_area", "in", [])])


def orders(store: Store, area: Area, *, now=None, read: Read | None = None) -> pd.DataFrame:
    """The register's orders in ``area`` with ``overdue`` (the planned finish day over, and not yet accepted).

    ``read``: how layers are read, ``store.read`` unless given (a server's read of what it holds, say).
    """
    read = read or store.read
    register = read("remediations", area.conditions("remediations"))
    if area.kind == "cells" and len(register):
        register = register[_in_cells(read, area, register)].reset_index(drop=True)
    now = pd.Timestamp(now or pd.Timestamp.now())
    state = register["state"].fillna("handed_over")  # rows registered before orders had steps: done works
    # The planned finish is a day: the order is overdue once that day has ended.
    return register.assign(state=state, overdue=state.isin(OPEN_STATES).to_numpy()
                           & (finish_day_end(register["planned_finish"]) <= now).fillna(False).to_numpy())


def finish_day_end(planned_finish: pd.Series) -> pd.Series:
    """When each planned finish day ends: from then on an open order is overdue."""
    return planned_finish.dt.normalize() + pd.Timedelta(days=1)


def order_layer(store: Store, f) -> gpd.GeoDataFrame:
    """The orders in the filter's area and place, drawn on their places: ``stage`` is the state, or ``overdue``
    for an open order past its planned finish (what the map colours by)."""
    found = orders(store, f.area)
    for column in ("street_code", "community_code"):
        value = getattr(f, column, None)
        if value and len(found):
            found = found[found[column] == value]
    shapes = pd.Series(None, index=found.index, dtype=object)
    for kind, (layer, key) in PLACE_LAYERS.items():
        rows = (found["place_kind"] == kind).to_numpy()
        if rows.any():
            places = store.read(layer, [Condition(key, "in", sorted(set(found.loc[rows, "place"])))])
            shapes[rows] = found.loc[rows, "place"].map(places.drop_duplicates(key).set_index(key).geometry).to_numpy()
    stage = found["state"].where(~found["overdue"].astype(bool), "overdue")
    columns = ["stage", "place", "remediation_id", "state", "place_kind", "category", "what", "unit", "planned_finish"]
    frame = found.assign(stage=stage)[columns].reset_index(drop=True)
    layer = gpd.GeoDataFrame(frame, geometry=gpd.GeoSeries(shapes.to_numpy(), crs=STORAGE_CRS), crs=STORAGE_CRS)
    if getattr(f, "grid_cell", None) and len(layer):  # an estate or setback area on the cell in view is in view
        cell = store.read("grid_cells", [Condition("grid_cell", "=", f.grid_cell)])
        layer = layer[layer.intersects(cell.geometry.union_all()).to_numpy()].reset_index(drop=True)
    return layer


def _in_cells(read: Read, area: Area, register: pd.DataFrame) -> np.ndarray:
    """Which orders lie in a grid leader's cells, as :func:`in_area` decides, with one read per kind of place."""
    keep = np.zeros(len(register), dtype=bool)
    for kind, (layer, key) in PLACE_LAYERS.items():
        rows = (register["place_kind"] == kind).to_numpy()
        if not rows.any():
            continue
        if kind == "grid_cell":
            keep[rows] = [area.contains(p) for p in register.loc[rows, "place"]]
            continue
        places = read(layer, [Condition(key, "in", sorted(set(register.loc[rows, "place"])))])
        touching = set(places.loc[touch_cells(read, area, places), key])
        keep[rows] = register.loc[rows, "place"].isin(touching).to_numpy()
    return keep


def steps_of(store: Store, remediation_id: str) -> pd.DataFrame:
    """An order's steps, first to last."""
    steps = store.read("remediation_steps", [Condition("remediation_id", "=", str(remediation_id))])
    return steps.sort_values("step", ignore_index=True)


def as_day(value, name: str):
    """A date a person gave (a form's, a command's), or NaT if none; InvalidValue naming it if it is none."""
    try:
        return pd.Timestamp(value) if value is not None else pd.NaT
    except (ValueError, TypeError, OverflowError):
        raise InvalidValue(f"{name} {value!r} is not a date (YYYY-MM-DD)") from None


def _order_id(actor: str, request_key: str | None) -> str:
    if request_key:
        return "R" + hashlib.sha256(f"{actor}\x00{request_key}".encode()).hexdigest()[:10]
    return f"R{uuid.uuid4().hex[:10]}"


def _step(remediation_id, n, state, actor: Actor, now, note, handed_over_to=None) -> dict:
    return {"remediation_id": remediation_id, "step": n, "state": state, "at": now, "actor": actor.name,
            "role": actor.role, "note": str(note or "").strip() or None, "handed_over_to": handed_over_to}
