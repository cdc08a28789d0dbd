"""What the remediation page's forms do, as plain functions its callbacks call: the choices a person is
offered, and the write a submitted form makes under that person's name.

The choices only help; the rules are the layer's (``layers.remediation_orders``): whatever a request
carries (a forged place, a step the role may not take, another area's order), the write is decided there,
and refused with nothing written.
"""

from __future__ import annotations

import json

import pandas as pd

from dashboards.cache import CACHE
from dashboards.geo import held, read_places
from dashboards.i18n import say
from layers.areas import Area
from layers.errors import InvalidValue
from layers.filters import CaseFilter
from layers.places import touch_cells
from layers.remediation import PLACE_LAYERS
from layers.remediation_orders import (
    MAY,
    NEXT,
    STATES,
    Actor,
    advance_order,
    find_place,
    open_order,
    orders,
    steps_of,
)
from layers.responsibilities import responsible_units


def may_propose(role: str) -> bool:
    return role in MAY["proposed"]


def may_take_steps(role: str) -> bool:
    """Whether ``role`` takes any step after the proposal (a planner reads; a grid leader only proposes)."""
    return any(role in roles for step, roles in MAY.items() if step != "proposed")


def place_options(store, area: Area, kind: str) -> list[dict]:
    """The places of ``kind`` a person of ``area`` may open an order on, as a dropdown's options."""
    if kind not in PLACE_LAYERS:
        return []
    layer, key = PLACE_LAYERS[kind]
    places = read_places(store, CaseFilter(area=area), layer)
    if area.kind == "cells" and kind != "grid_cell" and len(places):
        places = places[touch_cells(held(store), area, places)]  # a grid leader's: as the orders' rule decides
    places = places.sort_values(key)
    return [{"label": f"{n} ({c})" if isinstance(n, str) and n else str(c), "value": str(c)}
            for c, n in zip(places[key], places["name"])]


def category_options(store, extra: str | None = None) -> list[dict]:
    """The categories of the responsibility list (and ``extra``, a category a link brought)."""
    names = set(CACHE.layer(store, "responsibilities")["category"].dropna())
    if isinstance(extra, str) and extra.strip():
        names.add(extra.strip())
    return [{"label": n, "value": n} for n in sorted(names)]


def suggested_unit(store, kind, code, category) -> str | None:
    """The unit the responsibility list names for ``category`` at the place, the most specific entry first."""
    if not (isinstance(kind, str) and isinstance(code, str) and isinstance(category, str) and code and category):
        return None
    try:
        place = find_place(store, kind, code)
    except InvalidValue:
        return None
    probe = pd.DataFrame([{"category": category, "street_code": place.street_code or "",
                           "community_code": place.community_code or ""}])
    unit = responsible_units(probe, CACHE.layer(store, "responsibilities")).iat[0]
    return unit if isinstance(unit, str) else None


def _text(value, limit: int = 2000) -> str:
    return value[:limit] if isinstance(value, str) else ""


def _refused(exc: InvalidValue, lang: str) -> dict:
    return {"ok": False, "text": say("未保存：", "Not saved: ", lang) + exc.message(lang)}


def propose(store, actor: Actor, form: dict, lang: str = "zh") -> dict:
    """Open the order a submitted form describes: ``{"ok", "text", "remediation_id"}``."""
    try:
        remediation_id, wrote = open_order(
            store, actor, place_kind=_text(form.get("place_kind")), place=_text(form.get("place")),
            category=_text(form.get("category")) or None, measures=_text(form.get("measures")),
            unit=_text(form.get("unit"), 200), planned_start=_text(form.get("planned_start"), 40) or None,
            planned_finish=_text(form.get("planned_finish"), 40) or None, note=_text(form.get("note")),
            request_key=_text(form.get("request_key"), 100) or None)
    except InvalidValue as exc:  # NotAllowed too: the person is told why and nothing is written
        return _refused(exc, lang)
    _seen(store, wrote)
    text = say("已立项", "Proposed", lang) if wrote else say("此前已提交", "Already submitted", lang)
    return {"ok": True, "text": f"{text}: {remediation_id}", "remediation_id": remediation_id}


def _seen(store, wrote: bool) -> None:
    """This process wrote to the register: its next request measures the effects again, not up to a second later."""
    if wrote:
        CACHE.written(store)


def step_options(state: str, role: str, lang: str = "zh") -> list[dict]:
    """The steps an order at ``state`` can take that ``role`` may take."""
    return [{"label": say(*STATES[s], lang), "value": s} for s in NEXT.get(state, ()) if role in MAY[s]]


def take_step(store, actor: Actor, remediation_id, step, *, note="", handed_over_to="", lang: str = "zh") -> dict:
    """Take a step on an order: ``{"ok", "text"}``."""
    if not isinstance(remediation_id, str) or not remediation_id:
        return {"ok": False, "text": say("请先在表中选择一个工单", "Choose an order in the table first", lang)}
    try:
        wrote = advance_order(store, actor, remediation_id, _text(step, 40), note=_text(note),
                              handed_over_to=_text(handed_over_to, 200) or None)
    except InvalidValue as exc:
        return _refused(exc, lang)
    _seen(store, wrote)
    done = say(*STATES[step], lang)
    return {"ok": True, "text": f"{remediation_id}: {done}" if wrote else
            f"{remediation_id}: {say('已是此状态', 'already so', lang)} ({done})"}


def order_detail(store, area: Area, remediation_id, lang: str = "zh") -> dict | None:
    """An order in ``area`` as its panel shows it: where it stands, its steps, the evidence it was opened on."""
    if not isinstance(remediation_id, str) or not remediation_id:
        return None
    found = orders(store, area)  # an order outside the area is not shown, whatever id was sent
    found = found[found["remediation_id"] == remediation_id]
    if found.empty:
        return None
    order = found.iloc[0]
    evidence = json.loads(order["evidence"]) if isinstance(order.get("evidence"), str) else None
    steps = steps_of(store, remediation_id)
    return {"remediation_id": remediation_id, "state": order["state"], "overdue": bool(order["overdue"]),
            "place_kind": order["place_kind"], "place": order["place"], "category": order.get("category"),
            "evidence": evidence,
            "steps": [{"at": pd.Timestamp(s.at).strftime("%Y-%m-%d %H:%M"), "state": say(*STATES[s.state], lang),
                       "actor": s.actor, "note": s.note if isinstance(s.note, str) else "",
                       "handed_over_to": s.handed_over_to if isinstance(s.handed_over_to, str) else ""}
                      for s in steps.itertuples()]}


def actor_of(who, address: str = "") -> Actor:
    """The person a page's request comes from, as the layer's writes take them."""
    return Actor(who.name, who.role, who.area, address)
