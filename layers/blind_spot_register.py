"""盲点数据库: each blind spot the rules find, kept as a piece of work with a state.

A finding's identity is its rule, place and category (``blind_spot_id``), so the
same blind spot found again on another day is the same entry. Its state:
new → assigned (a unit and a deadline) → resolved (how) → reopened when the
rule finds it again after it was resolved. Each change keeps who, when and a
note (``blind_spot_steps``), and lands with its audit rows.

Findings are recorded by whoever runs the rules over the whole district
(``onemap blindspots --record``; the server's morning run): recording is
idempotent, and never narrows the register to one person's area or filter.
Street staff assign and resolve in their street, a commander anywhere; others read.
"""

from __future__ import annotations

import hashlib

import pandas as pd

from layers.areas import Area
from layers.audit import audit_rows, recorded
from layers.errors import Conflict, InvalidValue
from layers.remediation_orders import Actor, NotAllowed, as_day
from layers.store import Condition, Store
from layers.store.base import Expect

STATES = {
    "new": ("新发现", "New"),
    "assigned": ("已交办", "Assigned"),
    "resolved": ("已解决", "Resolved"),
    "reopened": ("再次出现", "Reopened"),
}
OPEN_STATES = ("new", "assigned", "reopened")
# Who may assign and resolve; everyone with a login reads.
MAY = {"assigned": ("street_staff", "commander"), "resolved": ("street_staff", "commander")}
# How a blind spot was resolved (the reason is also free text in the note).
RESOLUTIONS = {
    "responsibility_amended": ("责任清单已补充", "responsibility list amended"),
    "component_repaired": ("部件已修复", "component repaired"),
    "boundary_corrected": ("网格边界已调整", "cell boundary corrected"),
    "handed_over": ("已移交管理", "handed over to a manager"),
    "other": ("其他", "other"),
}


def blind_spot_id(rule: str, place_kind: str, place: str, category) -> str:
    """The stable identity of a finding: the same rule, place and category give the same id every day."""
    text = "\x00".join([rule, place_kind, str(place), category if isinstance(category, str) else ""])
    return "B" + hashlib.sha256(text.encode()).hexdigest()[:12]


def _codes(store: Store, findings: pd.DataFrame) -> pd.DataFrame:
    """Each finding's grid cell, community and street, from its place (for scoping who sees and works it)."""
    out = pd.DataFrame({"grid_cell": None, "community_code": None, "street_code": None}, index=findings.index,
                       dtype=object)
    sources = {"grid_cell": ("grid_cells", "grid_cell"), "community": ("communities", "community_code"),
               "setback_area": ("setback_areas", "setback_area"), "component": ("components", "component_id"),
               "case": ("cases", "case_id")}
    for kind, (layer, key) in sources.items():
        rows = (findings["place_kind"] == kind).to_numpy()
        if not rows.any():
            continue
        places = store.read(layer, [Condition(key, "in", sorted(set(findings.loc[rows, "place"].astype(str))))])
        places = places.drop_duplicates(key).set_index(key)
        for column in out.columns:
            if column in places:
                out.loc[rows, column] = findings.loc[rows, "place"].astype(str).map(places[column]).to_numpy()
        if kind == "grid_cell":
            out.loc[rows, "grid_cell"] = findings.loc[rows, "place"].astype(str).to_numpy()
        if kind == "community":
            out.loc[rows, "community_code"] = findings.loc[rows, "place"].astype(str).to_numpy()
    return out.astype(object).where(out.notna(), None)


def record_findings(store: Store, findings: pd.DataFrame, *, actor: str = "rules", now=None) -> dict:
    """Bring the register up to date with today's findings of every rule over the whole district.

    A finding not in the register is added as new; one resolved before is reopened; one still open
    has its cases and dates refreshed. Returns how many were added, reopened and refreshed.
    """
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    if findings.empty:
        return {"new": 0, "reopened": 0, "refreshed": 0}
    findings = findings.assign(blind_spot_id=[
        blind_spot_id(r, k, p, c) for r, k, p, c in zip(findings["rule"], findings["place_kind"],
                                                        findings["place"], findings["category"])])
    findings = findings.drop_duplicates("blind_spot_id").reset_index(drop=True)
    held = store.read("blind_spot_entries", [Condition("blind_spot_id", "in", findings["blind_spot_id"].tolist())])
    held = held.set_index("blind_spot_id")
    codes = _codes(store, findings)
    resolved = held.index[held["state"] == "resolved"].tolist()
    steps_held = store.read("blind_spot_steps", [Condition("blind_spot_id", "in", resolved)])
    steps_of = steps_held["blind_spot_id"].value_counts()
    rows, steps, changes, counts = [], [], [], {"new": 0, "reopened": 0, "refreshed": 0}
    for i, f in findings.iterrows():
        before = held.loc[f["blind_spot_id"]].to_dict() if f["blind_spot_id"] in held.index else None
        row = dict(before or {}, blind_spot_id=f["blind_spot_id"], rule=f["rule"], place_kind=f["place_kind"],
                   place=str(f["place"]), category=f["category"] if isinstance(f["category"], str) else None,
                   cases=int(f["cases"]) if pd.notna(f["cases"]) else None, last_found=now, **codes.loc[i].to_dict())
        if before is None:
            row.update(state="new", first_found=now, updated_at=now)
            counts["new"] += 1
            steps.append(_step(row["blind_spot_id"], 1, "new", actor, now, None))
        elif before["state"] == "resolved":
            row.update(state="reopened", updated_at=now)
            counts["reopened"] += 1
            n = int(steps_of.get(row["blind_spot_id"], 0))
            steps.append(_step(row["blind_spot_id"], n + 1, "reopened", actor, now, "规则再次发现 found again"))
        else:
            counts["refreshed"] += 1
        if before is None or before["state"] == "resolved":
            changes.append((row["blind_spot_id"], recorded(before), recorded(row)))
        rows.append(row)
    frames = {"blind_spot_entries": pd.DataFrame(rows)}
    if steps:
        frames["blind_spot_steps"] = pd.DataFrame(steps)
        frames["audit"] = audit_rows(actor, "blind_spot.found", "blind_spot_entries", changes, now=now)
    store.upsert_many(frames)
    return counts


def _check(actor: Actor, step: str, entry: pd.Series) -> None:
    if actor.role not in MAY[step]:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not mark a blind spot {step}")
    code = entry.get("grid_cell") or entry.get("community_code") or entry.get("street_code")
    if not actor.area.is_district and not (isinstance(code, str) and actor.area.contains(code)):
        raise NotAllowed(f"blind spot {entry['blind_spot_id']} is outside {actor.name}'s area ({actor.area.spec()})")


def _entry(store: Store, blind_spot_id: str) -> pd.Series:
    found = store.read("blind_spot_entries", [Condition("blind_spot_id", "=", str(blind_spot_id))])
    if found.empty:
        raise InvalidValue(f"no blind spot {blind_spot_id!r} (onemap blindspots --record lists them)")
    return found.iloc[0]


def assign(store: Store, actor: Actor, blind_spot_id: str, *, unit: str, deadline, note: str = "", now=None) -> bool:
    """Give an open blind spot to ``unit`` with a deadline; whether this call wrote (False: already so)."""
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    entry = _entry(store, blind_spot_id)
    _check(actor, "assigned", entry)
    if not str(unit or "").strip():
        raise InvalidValue("an assignment names the unit (责任单位)")
    due = as_day(deadline, "deadline")
    if pd.isna(due):
        raise InvalidValue(f"deadline {deadline!r} is not a date")
    if entry["state"] not in OPEN_STATES:
        raise InvalidValue(f"blind spot {blind_spot_id} is {entry['state']}: only an open one is assigned")
    if entry["state"] == "assigned" and entry["unit"] == unit.strip() and entry["deadline"] == due:
        return False
    after = dict(entry.to_dict(), state="assigned", unit=unit.strip(), deadline=due, updated_at=now)
    return _write(store, actor, entry, after, "assigned", note, now)


def resolve(store: Store, actor: Actor, blind_spot_id: str, *, how: str, note: str = "", now=None) -> bool:
    """Mark a blind spot resolved and how (``RESOLUTIONS``); whether this call wrote (False: already so)."""
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    if how not in RESOLUTIONS:
        raise InvalidValue(f"unknown resolution {how!r}: {', '.join(RESOLUTIONS)}")
    entry = _entry(store, blind_spot_id)
    _check(actor, "resolved", entry)
    if entry["state"] == "resolved":
        return False
    after = dict(entry.to_dict(), state="resolved", resolution=how, resolved_at=now, updated_at=now)
    return _write(store, actor, entry, after, "resolved", note, now)


def name_unit(store: Store, actor: Actor, blind_spot_id: str, *, unit: str, note: str = "", now=None) -> bool:
    """Resolve a ``category_without_unit`` blind spot by naming the unit that answers for its category in its
    community: the entry goes into the responsibility list, and the cases of that category there that arrive
    from then on are given to ``unit`` at intake. Whether this call wrote (False: already so)."""
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    entry = _entry(store, blind_spot_id)
    if entry["rule"] != "category_without_unit" or not isinstance(entry["category"], str):
        raise InvalidValue(f"blind spot {blind_spot_id} is not a category no unit answers for: "
                           "it is resolved another way")
    _check(actor, "resolved", entry)
    unit = str(unit or "").strip()
    if not unit:
        raise InvalidValue("name the unit (责任单位) that answers for the category here")
    key = [Condition("category", "=", entry["category"]), Condition("area_code", "=", entry["place"])]
    held = store.read("responsibilities", key)
    before = held.iloc[0].to_dict() if len(held) else None
    if entry["state"] == "resolved" and before is not None and before["unit"] == unit:
        return False
    communities = store.read("communities", [Condition("community_code", "=", entry["place"])])
    duty = {"category": entry["category"], "area_code": entry["place"], "unit": unit,
            "area_name": communities["name"].iat[0] if len(communities) else None}
    after = dict(entry.to_dict(), state="resolved", resolution="responsibility_amended", unit=unit,
                 resolved_at=now, updated_at=now)
    amended = audit_rows(actor.name, "responsibilities.amend", "responsibilities",
                         [(f"{duty['category']}|{duty['area_code']}", recorded(before), recorded(duty))],
                         address=actor.address, now=now)
    return _write(store, actor, entry, after, "resolved", note, now,
                  also={"responsibilities": pd.DataFrame([duty])}, audit=amended)


def _write(store, actor: Actor, entry: pd.Series, after: dict, state: str, note: str, now, *, also=None,
           audit=None) -> bool:
    n = len(store.read("blind_spot_steps", [Condition("blind_spot_id", "=", entry["blind_spot_id"])]))
    entry_audit = audit_rows(actor.name, f"blind_spot.{state}", "blind_spot_entries",
                             [(entry["blind_spot_id"], recorded(entry), recorded(after))],
                             address=actor.address, now=now)
    try:  # decided on the entry as read: a change meanwhile (another person's) is not overwritten
        store.upsert_many({
            **(also or {}),
            "blind_spot_entries": pd.DataFrame([after]),
            "blind_spot_steps": pd.DataFrame([_step(entry["blind_spot_id"], n + 1, state, actor.name, now, note)]),
            "audit": entry_audit if audit is None else pd.concat([audit, entry_audit], ignore_index=True)},
            expect=(Expect("blind_spot_entries", (entry["blind_spot_id"],), "state", entry["state"]),))
    except Conflict:
        raise InvalidValue(f"blind spot {entry['blind_spot_id']} changed meanwhile: nothing was written",
                           zh=f"盲点 {entry['blind_spot_id']} 已被他人办理，本次未保存") from None
    return True


def with_states(store: Store, findings: pd.DataFrame) -> pd.DataFrame:
    """The findings with their register ``blind_spot_id``, ``state`` (None: not recorded yet), unit and deadline."""
    ids = [blind_spot_id(r, k, p, c) for r, k, p, c in zip(findings["rule"], findings["place_kind"],
                                                           findings["place"], findings["category"])]
    held = store.read("blind_spot_entries", [Condition("blind_spot_id", "in", ids)]).set_index("blind_spot_id")
    return findings.assign(blind_spot_id=ids, state=[held["state"].get(i) for i in ids],
                           unit=[held["unit"].get(i) for i in ids], deadline=[held["deadline"].get(i) for i in ids])


def register(store: Store, area: Area) -> pd.DataFrame:
    """The register's entries in ``area``."""
    entries = store.read("blind_spot_entries", area.conditions("blind_spot_entries"))
    if area.kind == "cells" and len(entries):
        keep = [area.contains(c) if isinstance(c, str) else area.overlaps(m)
                for c, m in zip(entries["grid_cell"], entries["community_code"])]
        entries = entries[keep].reset_index(drop=True)
    return entries


def state_counts(store: Store, area: Area, days: pd.DatetimeIndex) -> pd.DataFrame:
    """Per day, how many of the area's blind spots were open, resolved and reopened at its end (from the steps)."""
    entries = register(store, area)
    steps = store.read("blind_spot_steps", [Condition("blind_spot_id", "in", entries["blind_spot_id"].tolist())])
    steps = steps.sort_values(["blind_spot_id", "step"])
    rows = []
    for day in days:
        end = pd.Timestamp(day) + pd.Timedelta(days=1)
        last = steps[steps["at"] < end].drop_duplicates("blind_spot_id", keep="last")["state"]
        rows.append({"day": pd.Timestamp(day), "open": int(last.isin(("new", "assigned")).sum()),
                     "resolved": int((last == "resolved").sum()), "reopened": int((last == "reopened").sum())})
    return pd.DataFrame(rows, columns=["day", "open", "resolved", "reopened"])


def _step(blind_spot_id, n, state, actor: str, now, note) -> dict:
    return {"blind_spot_id": blind_spot_id, "step": n, "state": state, "at": now, "actor": actor,
            "note": str(note or "").strip() or None}
