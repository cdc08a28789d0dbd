"""The wall's remediation panel (靶向治理): this year's orders by state, the setback areas' progress, the
overdue orders and the latest measured effects, inside the area the wall shows.

:func:`remediation_panel` gives the figures as plain data; :func:`panel_children`
draws them for the dark wall, in type meant to be read across the command hall.
"""

from __future__ import annotations

import pandas as pd
from dash import html

from dashboards.cache import CACHE
from dashboards.geo import held
from dashboards.i18n import say
from dashboards.remediation import VERDICT_WORDS, measured_effects
from layers.areas import Area
from layers.glossary import SETBACK_STATUS_LABELS
from layers.remediation_orders import OPEN_STATES, STATES, orders
from layers.remediation_summary import latest_effects, overdue_orders, setback_progress, year_by_state

OVERDUE_SHOWN = 3
EFFECTS_SHOWN = 3
# The bar's colours: unmanaged red, in renovation amber, handed over green (the wall's palette).
SETBACK_COLOURS = {"unmanaged": "#e53e3e", "in_renovation": "#ecc94b", "handed_over": "#48bb78"}
VERDICT_CLASSES = {"reduced": "good", "increased": "bad", "none": "plain"}


# What the panel is made of: the register, the places it names and the effects measured (once a day and again
# when a layer they are measured from is replaced: ``dashboards.remediation.MEASURED_FROM``). Not the cases.
PANEL_FROM = ("remediations", "setback_areas", "grid_cells", "communities", "estates", "streets", "epoch:cases")


def remediation_panel(store, area: Area, now) -> dict:
    """:func:`panel_figures`, made once per minute, area and version of what it is made of: every wall of one
    area at once, and each refresh under a stream of new cases (16 ms at a million). Made at the first ``now``
    of its minute that asks: a step written later in the minute is a new version, so it shows at once; only
    what the clock alone changes (an order falling overdue) waits for the next minute."""
    now = pd.Timestamp(now)
    return CACHE.lasting(store, PANEL_FROM, ("remediation-panel", area, now.floor("min")),
                         lambda: panel_figures(store, area, now))


def panel_figures(store, area: Area, now) -> dict:
    """The panel's figures for ``area`` at ``now``.

    Returns
    -------
    dict
        ``orders``: how many orders of the area the register holds (any year); ``by_state``: this
        year's by state (an order counts for the year of ``now`` if it was entered this year or was
        still open at some time this year: :func:`layers.remediation_summary.counted_in_year`);
        ``setback``: the area's setback areas by status; ``overdue``: how many orders are overdue,
        ``overdue_first`` the longest overdue (place, unit, days over); ``effects``: the latest
        finished remediations with a verdict (place, cases per month before and after, verdict).
    """
    now = pd.Timestamp(now)
    read = held(store)  # the layers as this server holds them: each refresh read them from the store (36 ms at 1M)
    register = orders(store, area, now=now, read=read)
    late = overdue_orders(store, register, now, read=read)
    effects = measured_effects(store, now) if len(register) else pd.DataFrame()
    latest = latest_effects(store, register, effects, EFFECTS_SHOWN, read=read)
    return {"year": now.year, "orders": int(len(register)), "by_state": year_by_state(register, now),
            "setback": setback_progress(store, area, read), "overdue": int(len(late)),
            "overdue_first": [{"place": r.place_name, "unit": r.unit, "days_over": int(r.days_over)}
                              for r in late.head(OVERDUE_SHOWN).itertuples()],
            "effects": [{"place": r.place_name, "before": float(r.before), "after": float(r.after),
                         "verdict": r.verdict} for r in latest.itertuples()]}


def panel_children(panel: dict, lang: str = "zh") -> list:
    """The panel drawn for the wall: one block per figure, or one line saying the area has no remediation."""
    year = f"{panel['year']}" if lang == "en" else f"{panel['year']}年"
    head = html.Div(className="wall-rem-head", children=[*_label("靶向治理", "Remediation", lang),
                                                         html.Span(year, className="wall-rem-year")])
    if not panel["orders"] and not any(panel["setback"].values()):
        return [head, html.Div(_label("暂无治理工单", "No remediation orders", lang), id="wall-rem-empty",
                               className="wall-rem-empty")]
    return [head, _states(panel, lang), _setback(panel["setback"], lang), _overdue(panel, lang),
            _effects(panel["effects"], lang)]


def _label(zh: str, en: str, lang: str, *, small: bool = False) -> list:
    """A heading in the wall's two languages: the Chinese with the English smaller after it, or the English."""
    if lang == "en":
        return [html.Span(en, className="wall-rem-zh small" if small else "wall-rem-zh")]
    return [html.Span(zh, className="wall-rem-zh small" if small else "wall-rem-zh"),
            html.Span(en, className="wall-rem-en")]


def _states(panel: dict, lang: str):
    counts = panel["by_state"]
    if not sum(counts.values()):
        words = (say("今年暂无治理工单", "No remediation orders this year", lang, sep=" · ") if panel["orders"]
                 else say("暂无治理工单", "No remediation orders", lang, sep=" · "))
        return html.Div(words, id="wall-rem-states", className="wall-rem-none")
    return html.Div(id="wall-rem-states", className="wall-rem-states", children=[
        html.Div(className="wall-rem-state" + (" open" if state in OPEN_STATES else "")
                 + ("" if counts[state] else " zero"), children=[
            html.Div(f"{counts[state]:,}", id=f"wall-rem-state-{state}", className="wall-rem-number"),
            *_label(*STATES[state], lang, small=True)])
        for state in STATES])


def _setback(counts: dict, lang: str):
    title = html.Div(className="wall-rem-title", children=_label("退红空间", "Setback areas", lang))
    total = sum(counts.values())
    if not total:
        return html.Div(className="wall-rem-block", children=[
            title, html.Div(say("本区域无退红空间", "No setback areas here", lang, sep=" · "), className="wall-rem-none")])
    bar = html.Div(className="wall-rem-bar", children=[
        html.Div(style={"width": f"{100 * counts[s] / total:.2f}%", "background": SETBACK_COLOURS[s]})
        for s in counts if counts[s]])
    key = html.Div(className="wall-rem-key", children=[
        html.Span(className="wall-rem-key-item", children=[
            html.I(style={"background": SETBACK_COLOURS[s]}),
            html.Span(SETBACK_STATUS_LABELS[s][1] if lang == "en" else SETBACK_STATUS_LABELS[s][0]),
            html.B(f"{counts[s]:,}", id=f"wall-rem-setback-{s}")])
        for s in counts])
    return html.Div(className="wall-rem-block", children=[title, bar, key])


def _overdue(panel: dict, lang: str):
    title = html.Div(className="wall-rem-title", children=[
        *_label("逾期工单", "Overdue", lang),
        html.B(f"{panel['overdue']:,}", id="wall-rem-overdue",
               className="wall-rem-count bad" if panel["overdue"] else "wall-rem-count good")])
    if not panel["overdue"]:
        return html.Div(className="wall-rem-block", children=[
            title, html.Div(say("无逾期工单", "None overdue", lang, sep=" · "), className="wall-rem-none")])
    rows = [html.Li(className="wall-rem-row", children=[
        html.Div(className="wall-rem-line", children=[
            html.Span(o["place"], className="wall-rem-place"),
            html.Span(f"{o['days_over']} days over" if lang == "en" else f"逾期 {o['days_over']} 天",
                      className="wall-rem-days")]),
        html.Div(o["unit"], className="wall-rem-unit")]) for o in panel["overdue_first"]]
    return html.Div(className="wall-rem-block", children=[title, html.Ul(rows, id="wall-rem-overdue-list")])


def _effects(found: list[dict], lang: str):
    title = html.Div(className="wall-rem-title", children=_label("最新治理效果", "Latest effects", lang))
    if not found:
        return html.Div(className="wall-rem-block", children=[
            title, html.Div(say("暂无已测效果", "No effect measured yet", lang, sep=" · "), className="wall-rem-none")])
    # One line each: the place, its cases per month before → after, the verdict.
    rows = [html.Li(className="wall-rem-line", children=[
        html.Span(e["place"], className="wall-rem-place"),
        html.Span(className="wall-rem-change", children=[
            html.B(f"{e['before']:.2f} → {e['after']:.2f}"), " " + ("/month" if lang == "en" else "件/月")]),
        html.Span(VERDICT_WORDS[e["verdict"]][1] if lang == "en" else VERDICT_WORDS[e["verdict"]][0],
                  className=f"wall-rem-verdict {VERDICT_CLASSES.get(e['verdict'], 'plain')}")])
        for e in found]
    return html.Div(className="wall-rem-block", children=[title, html.Ul(rows, id="wall-rem-effects",
                                                                         className="wall-rem-effects")])
