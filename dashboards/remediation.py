"""What the remediation page shows: the register inside the viewer's area, each finished remediation's
effect, and a small chart of each place's cases per month."""

from __future__ import annotations

import threading
from datetime import datetime

import pandas as pd

from dashboards.cache import CACHE
from dashboards.charts import _figure, _trace
from dashboards.geo import held, read_places
from dashboards.i18n import say
from layers.areas import DISTRICT, Area
from layers.filters import CaseFilter
from layers.places import place_names
from layers.remediation import (
    PLACE_LAYERS,
    monthly_cases,
    overall_effect,
    remediation_effects,
)
from layers.remediation_orders import OPEN_STATES, STATES, orders
from layers.store import Condition

VERDICT_WORDS = {"reduced": ("案件减少", "fewer cases"), "increased": ("案件增加", "more cases"),
                 "none": ("无可测效果", "no measurable effect"), None: ("未完成", "not finished")}
# What measuring reads besides the cases: a write to any of these is measured again at the next request.
# The cases are not: an effect is a matter of months, so the cases arriving during the day do not ask for
# it again (cases replaced whole do: their epoch).
MEASURED_FROM = ("remediations", "setback_areas", "estates", "grid_cells", "epoch:cases")
_MEASURED: dict[str, tuple[tuple, pd.DataFrame]] = {}
_MEASURING = threading.Lock()


def measured_effects(store, now=None) -> pd.DataFrame:
    """The store's measured effects (:func:`layers.remediation.remediation_effects`), measured once per day and
    again when the register or the places it compares change: for the map's clicks, this page and the wall.

    Measuring reads every case, too much for every request. The frame is shared by every request: not to be
    changed in place.
    """
    day = pd.Timestamp(now if now is not None else datetime.now()).date()
    key = (*(CACHE.version(store, name) for name in MEASURED_FROM), day)
    held = _MEASURED.get(store.url)
    if held is None or held[0] != key:
        with _MEASURING:  # requests arriving at once wait for one measurement
            held = _MEASURED.get(store.url)
            if held is None or held[0] != key:
                held = (key, remediation_effects(store))
                _MEASURED[store.url] = held
    return held[1]


def remediation_data(store, area: Area = DISTRICT, lang: str = "zh", now=None) -> dict:
    """The register rows in ``area`` with their effects, the overall effect per kind, a chart per place."""
    effects = measured_effects(store, now)
    if effects.empty:
        return {"rows": [], "overall": [], "charts": {}}
    inside = {(kind, k) for kind, (layer, key) in PLACE_LAYERS.items()
              for k in read_places(store, CaseFilter(area=area), layer)[key]}
    effects = effects[[(k, p) in inside for k, p in zip(effects["place_kind"], effects["place"])]]
    overall = [o for o in (overall_effect(effects, kind) for kind in PLACE_LAYERS) if o]
    rows, charts = [], {}
    for r, name in zip(effects.itertuples(), place_names(held(store), effects["place_kind"], effects["place"])):
        verdict = getattr(r, "verdict", None)
        rows.append({"remediation_id": r.remediation_id, "place": f"{name} ({r.place})", "what": r.what,
                     "unit": r.unit, "started_at": _day(r.started_at), "finished_at": _day(r.finished_at),
                     "handed_over_to": r.handed_over_to or "",
                     "before": _num(getattr(r, "before", None)), "after": _num(getattr(r, "after", None)),
                     "did": _num(getattr(r, "did", None)),
                     "interval": f"[{r.low:+.2f}, {r.high:+.2f}]" if pd.notna(getattr(r, "low", None)) else "",
                     "verdict": say(*VERDICT_WORDS[verdict if isinstance(verdict, str) else None], lang)})
        if pd.isna(r.started_at):
            continue  # an order not yet under way has no works to shade
        charts[r.remediation_id] = place_chart(monthly_cases(store, r.place_kind, r.place), r.started_at,
                                               r.finished_at, f"{name}", lang)
    return {"rows": rows, "overall": overall, "charts": charts}


def order_rows(store, area: Area = DISTRICT, lang: str = "zh", now=None) -> list[dict]:
    """The orders in ``area``, open ones first (overdue first among them), each with its latest step."""
    found = orders(store, area, now=now)
    if found.empty:
        return []
    steps = store.read("remediation_steps", [Condition("remediation_id", "in", found["remediation_id"].tolist())])
    last = steps.sort_values("step").drop_duplicates("remediation_id", keep="last").set_index("remediation_id")
    found = found.assign(_open=found["state"].isin(OPEN_STATES)).sort_values(
        ["_open", "overdue", "planned_finish"], ascending=[False, False, True], na_position="last")
    rows = []
    for r, name in zip(found.itertuples(), place_names(held(store), found["place_kind"], found["place"])):
        step = last.loc[r.remediation_id] if r.remediation_id in last.index else None
        rows.append({"remediation_id": r.remediation_id, "state": say(*STATES[r.state], lang),
                     "overdue": say("逾期", "overdue", lang) if r.overdue else "",
                     "place": f"{name} ({r.place})",
                     "category": r.category if isinstance(r.category, str) else "", "what": r.what, "unit": r.unit,
                     "plan": _span(r.planned_start, r.planned_finish),
                     "last_step": f"{_day(step['at'])} {step['actor']}" if step is not None else _registered(r)})
    return rows


def _span(start, finish) -> str:
    return "" if pd.isna(start) and pd.isna(finish) else f"{_day(start)} → {_day(finish)}"


def _registered(r) -> str:
    """A register row entered whole (the office's ledger, the demo) has no steps: its last date and who entered it."""
    last = next((t for t in (r.handed_over_at, r.finished_at, r.started_at) if pd.notna(t)), None)
    who = r.entered_by if isinstance(r.entered_by, str) else ""
    return f"{_day(last)} {who}".strip() if last is not None else who


def place_chart(per_month: pd.Series, started, finished, title: str, lang: str = "zh") -> dict:
    """A place's cases per month, the works shaded."""
    fig = _figure([_trace("bar", x=per_month.index.strftime("%Y-%m").tolist(), y=per_month.to_numpy().tolist(),
                          marker=dict(color="#4a5568"), name=say("案件", "cases", lang))], title, lang)
    end = finished if pd.notna(finished) else per_month.index.max() if len(per_month) else started
    fig["layout"].update(height=170, margin=dict(l=30, r=8, t=30, b=24), shapes=[dict(
        type="rect", xref="x", yref="paper", x0=pd.Timestamp(started).strftime("%Y-%m"),
        x1=pd.Timestamp(end).strftime("%Y-%m"), y0=0, y1=1, fillcolor="#38a169", opacity=0.25, line=dict(width=0))])
    return fig


def _day(value):
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")


def _num(value):
    return "" if value is None or pd.isna(value) else f"{value:.2f}"
