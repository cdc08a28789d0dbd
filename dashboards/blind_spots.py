"""What the blind-spot page shows and does: the register in the viewer's area, its counts over time, and the
writes its forms make (assign, resolve, name the unit), decided by ``layers.blind_spot_register``."""

from __future__ import annotations

from urllib.parse import urlencode

import pandas as pd

from dashboards.charts import _figure, _trace
from dashboards.geo import held
from dashboards.i18n import only, pick, say
from gis.blind_spots import RULES
from layers.areas import Area
from layers.blind_spot_register import (
    MAY,
    OPEN_STATES,
    RESOLUTIONS,
    STATES,
    assign,
    name_unit,
    register,
    resolve,
    state_counts,
)
from layers.errors import InvalidValue
from layers.glossary import BLIND_SPOT_PLACE_LABELS
from layers.places import place_names
from layers.remediation_orders import Actor

# Where a blind spot's place can be the place of a remediation order (立项治理).
ORDER_PLACES = {"grid_cell": "grid_cell", "setback_area": "setback_area"}
STATE_COLOURS = {"open": "#c53030", "reopened": "#dd6b20", "resolved": "#38a169"}


def entry_rows(store, area: Area, lang: str = "zh") -> list[dict]:
    """The register in ``area``, open ones first, for the page's table."""
    entries = register(store, area)
    if entries.empty:
        return []
    entries = entries.assign(_open=entries["state"].isin(OPEN_STATES)).sort_values(
        ["_open", "cases", "last_found"], ascending=[False, False, False])
    names = place_names(held(store), entries["place_kind"], entries["place"])
    return [{"blind_spot_id": r.blind_spot_id, "state": only(STATES[r.state], lang), "state_code": r.state,
             "rule": only(RULES[r.rule], lang), "rule_code": r.rule, "place": f"{r.place_kind} {r.place}",
             "place_name": f"{only(BLIND_SPOT_PLACE_LABELS.get(r.place_kind, (r.place_kind,) * 2), lang)} {name}",
             "category": r.category if isinstance(r.category, str) else "",
             "cases": "" if pd.isna(r.cases) else int(r.cases), "unit": r.unit if isinstance(r.unit, str) else "",
             "deadline": _day(r.deadline), "first_found": _day(r.first_found), "last_found": _day(r.last_found)}
            for r, name in zip(entries.itertuples(), names)]


def counts_chart(store, area: Area, today, lang: str = "zh", days: int = 90) -> dict:
    """Open, reopened and resolved blind spots at the end of each of the last ``days`` days."""
    end = pd.Timestamp(today).normalize()
    counts = state_counts(store, area, pd.date_range(end - pd.Timedelta(days=days - 1), end))
    x = counts["day"].dt.strftime("%Y-%m-%d").tolist()
    names = {"open": ("未解决", "open"), "reopened": ("再次出现", "reopened"), "resolved": ("已解决", "resolved")}
    fig = _figure([_trace("scatter", x=x, y=counts[key].tolist(), mode="lines", name=pick(names[key], lang),
                          line=dict(color=STATE_COLOURS[key], width=2), stackgroup="one")
                   for key in ("open", "reopened", "resolved")],
                  say(f"近{days}天盲点状态", f"Blind spots by state, last {days} days", lang), lang)
    fig["layout"].update(height=260, margin=dict(l=48, r=12, t=36, b=36), legend=dict(orientation="h", y=-0.2),
                         yaxis=dict(rangemode="tozero", tickformat="d", automargin=True), xaxis=dict(automargin=True))
    return fig


def actions_for(entry: dict | None, role: str) -> list[str]:
    """What ``role`` may do with the entry: assign, resolve, name the unit (for a category nobody answers for)."""
    if not entry or entry.get("state_code") not in OPEN_STATES:
        return []
    done = [a for a in ("assigned", "resolved") if role in MAY[a]]
    if "resolved" in done and entry.get("rule_code") == "category_without_unit":
        done.append("name_unit")
    return done


def order_link(entry: dict, lang: str = "zh") -> str | None:
    """立项治理 on the blind spot's place, where it is a place an order can be opened on."""
    kind, _, place = entry.get("place", "").partition(" ")
    if kind not in ORDER_PLACES:
        return None
    query = {"place_kind": ORDER_PLACES[kind], "place": place}
    if entry.get("category"):
        query["category"] = entry["category"]
    if lang == "en":
        query["lang"] = "en"
    return "/remediation?" + urlencode(query)


def act(store, actor: Actor, blind_spot_id, action, form: dict, lang: str = "zh") -> dict:
    """Do ``action`` on the entry under ``actor``'s name: ``{"ok", "text"}``; refused with nothing written
    where the role, the area or the entry's state does not allow it."""
    text = {k: v[:2000] if isinstance(v, str) else "" for k, v in form.items()}
    if not isinstance(blind_spot_id, str) or not blind_spot_id:
        return {"ok": False, "text": say("请先在表中选择一个盲点", "Choose a blind spot in the table first", lang)}
    try:
        if action == "assigned":
            wrote = assign(store, actor, blind_spot_id, unit=text.get("unit", ""), deadline=text.get("deadline") or None,
                           note=text.get("note", ""))
        elif action == "resolved":
            wrote = resolve(store, actor, blind_spot_id, how=text.get("how", ""), note=text.get("note", ""))
        elif action == "name_unit":
            wrote = name_unit(store, actor, blind_spot_id, unit=text.get("unit", ""), note=text.get("note", ""))
        else:
            raise InvalidValue(f"unknown action {action!r}")
    except InvalidValue as exc:
        return {"ok": False, "text": say("未保存：", "Not saved: ", lang) + exc.message(lang)}
    label = {"assigned": ("已交办", "assigned"), "resolved": ("已解决", "resolved"),
             "name_unit": ("已补充责任清单并解决", "responsibility list amended, resolved")}[action]
    return {"ok": True, "text": f"{blind_spot_id}: " + (pick(label, lang) if wrote else say("已是此状态", "already so", lang))}


def resolution_options(lang: str = "zh") -> list[dict]:
    return [{"label": pick(words, lang), "value": key} for key, words in RESOLUTIONS.items()]


def _day(value) -> str:
    return "" if value is None or pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
