"""靶向治理 · the remediation register: what was done where, and whether the cases fell."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from dashboards.auth import client_address
from dashboards.forms import TABLE_CELL, TABLE_HEADER, chosen_row, field, message
from dashboards.header import header, language_switch
from dashboards.i18n import language, say
from dashboards.remediation import VERDICT_WORDS, order_rows, remediation_data
from dashboards.remediation_forms import (
    actor_of,
    category_options,
    may_propose,
    may_take_steps,
    order_detail,
    place_options,
    propose,
    step_options,
    suggested_unit,
    take_step,
)
from dashboards.request import person, store_from_request
from layers.glossary import PLACE_KIND_LABELS

dash.register_page(__name__, path="/remediation", name="靶向治理 Remediation", title="社会治理一张图 · 靶向治理",
                   label=("靶向治理", "Remediation"))

ORDER_COLUMNS = [("state", "状态", "State"), ("overdue", "逾期", "Overdue"), ("place", "地点", "Place"),
                 ("category", "问题", "Problem"), ("what", "整治措施", "Measures"), ("unit", "责任单位", "Unit"),
                 ("plan", "计划", "Plan"), ("last_step", "最近一步", "Last step"), ("remediation_id", "编号", "No.")]
COLUMNS = [("place", "地点", "Place"), ("what", "治理内容", "Work"), ("unit", "责任单位", "Unit"),
           ("started_at", "开始", "Started"), ("finished_at", "完成", "Finished"),
           ("handed_over_to", "移交", "Handed over to"), ("before", "前 件/月", "Before /month"),
           ("after", "后 件/月", "After /month"), ("did", "双重差分", "DiD"), ("interval", "95%区间", "95% interval"),
           ("verdict", "效果", "Effect")]
KIND_WORDS = {"setback_area": ("退红空间", "setback areas"), "estate": ("老旧小区", "estates"),
              "grid_cell": ("网格", "grid cells")}


def layout(**kwargs):
    who = person()
    lang = language(kwargs.get("lang"))
    store = store_from_request()
    data = remediation_data(store, who.area, lang)
    summary = [html.Div(className="kpi-tile", style={"gridColumn": "span 3"}, children=[
        html.Div(say("已完成治理的", "Finished: ", lang) + say(*KIND_WORDS[o["place_kind"]], lang)
                 + f" {o['remediations']}", className="kpi-zh"),
        html.Div(f"{o['before']:.2f} → {o['after']:.2f} " + say("件/月", "cases/month", lang), className="kpi-value"),
        html.Div(say("对照", "comparison", lang) + f" {o['control_before']:.2f} → {o['control_after']:.2f} · "
                 + say("双重差分", "DiD", lang) + f" {o['did']:+.2f} [{o['low']:+.2f}, {o['high']:+.2f}] · "
                 + say(*VERDICT_WORDS[o["verdict"]], lang), className="kpi-en",
                 id=f"remediation-overall-{o['place_kind']}")])
        for o in data["overall"]]
    return html.Div([
        header("Targeted remediation" if lang == "en" else "靶向治理台账",
               say("治理前后对比：每处地点治理开始前与完成后的月均案件，对照未治理的同类地点",
                   "Cases per month before the start and after the finish, against places not remediated", lang),
               lang, here="/remediation", who=who.label(lang),
               switch=language_switch("/remediation", kwargs, lang), switch_id="remediation-lang-switch"),
        html.Div(summary, className="kpis", id="remediation-overall"),
        dcc.Store(id="remediation-lang", data=lang),
        _new_order_form(store, who, kwargs, lang),
        html.H3(say("治理工单", "Remediation orders", lang)),
        _orders_table(order_rows(store, who.area, lang), lang),
        _step_panel(lang, may_take_steps(who.role)),
        html.Div(className="table-wrap", children=[dash_table.DataTable(
            id="remediation-table", data=data["rows"], sort_action="native", page_size=25,
            columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in COLUMNS],
            style_cell=TABLE_CELL, style_header=TABLE_HEADER)]),
        html.H3(say("各地点每月案件（绿色为治理期）", "Cases per month at each place (works shaded green)", lang)),
        html.Div(className="charts", id="remediation-charts", children=[
            dcc.Graph(figure=fig, className="chart", config={"displayModeBar": False})
            for fig in data["charts"].values()]),
    ])


def _new_order_form(store, who, query, lang):
    """立项治理: opened from a link (the map's, the blind spots') with its place and problem filled in."""
    if not may_propose(who.role):
        return html.Div()
    kind = query.get("place_kind") if query.get("place_kind") in PLACE_KIND_LABELS else "grid_cell"
    places = place_options(store, who.area, kind)
    place = query.get("place") if query.get("place") in {o["value"] for o in places} else None
    category = query.get("category") if isinstance(query.get("category"), str) else None
    today = date.today()
    return html.Details(id="remediation-new", open=bool(place), className="form-box", children=[
        html.Summary(say("立项治理", "Open a remediation order", lang)),
        html.Div(className="form-grid", children=[
            field(say("地点类型", "Kind of place", lang), dcc.RadioItems(
                id="remediation-place-kind", value=kind, inline=True, className="form-choices",
                options=[{"label": say(*w, lang), "value": k} for k, w in PLACE_KIND_LABELS.items()])),
            field(say("地点", "Place", lang), dcc.Dropdown(id="remediation-place", options=places, value=place)),
            field(say("问题类别", "Problem (category)", lang), dcc.Dropdown(
                id="remediation-category", options=category_options(store, category), value=category)),
            field(say("责任单位", "Responsible unit", lang), dcc.Input(
                id="remediation-unit", type="text", maxLength=200,
                value=suggested_unit(store, kind, place, category) or "")),
            field(say("计划起止", "Planned start and finish", lang), dcc.DatePickerRange(
                id="remediation-plan", start_date=today, end_date=today + timedelta(days=90),
                display_format="YYYY-MM-DD")),
            field(say("整治措施", "Measures", lang), dcc.Textarea(id="remediation-measures", maxLength=2000)),
            field(say("备注", "Note", lang), dcc.Input(id="remediation-note", type="text", maxLength=2000)),
        ]),
        # One key per form shown: a second click, or the request sent again, opens no second order.
        dcc.Store(id="remediation-request-key", data=uuid.uuid4().hex),
        html.Button(say("提交立项", "Propose", lang), id="remediation-open", className="form-button"),
        html.Div(id="remediation-open-message", className="form-message", role="status"),
    ])


def _step_panel(lang, may_step: bool):
    """The chosen order: its steps and evidence, and (for a role that takes any) the steps this person may take next."""
    hidden = {} if may_step else {"display": "none"}
    return html.Div(id="remediation-step-box", className="form-box", children=[
        dcc.Store(id="remediation-chosen"),
        html.Div(id="remediation-order-detail", className="order-detail",
                 children=say("在表中选择一个工单，查看其进展并办理下一步", "Choose an order in the table to see and take its steps",
                              lang)),
        html.Div(className="form-grid", style=hidden, children=[
            field(say("下一步", "Next step", lang),
                  dcc.RadioItems(id="remediation-step", options=[], inline=True, className="form-choices")),
            field(say("移交单位（移交时）", "Handed over to (at handover)", lang),
                  dcc.Input(id="remediation-handover", type="text", maxLength=200)),
            field(say("说明", "Note", lang), dcc.Input(id="remediation-step-note", type="text", maxLength=2000)),
        ]),
        html.Button(say("办理", "Take the step", lang), id="remediation-advance", className="form-button", style=hidden),
        html.Div(id="remediation-advance-message", className="form-message", role="status"),
    ])


def _orders_table(rows, lang):
    return html.Div(className="table-wrap", children=[
        html.P(say("本区域暂无治理工单。", "No remediation orders in this area yet.", lang),
               id="remediation-orders-empty", className="empty", style={} if not rows else {"display": "none"}),
        dash_table.DataTable(
        id="remediation-orders", data=rows, sort_action="native", page_size=15, row_selectable="single",
        selected_rows=[], style_table={} if rows else {"display": "none"},
        columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in ORDER_COLUMNS],
        style_cell=TABLE_CELL,
        style_data_conditional=[{"if": {"filter_query": "{overdue} != ''"}, "color": "#c53030", "fontWeight": "600"}],
        style_header=TABLE_HEADER)])


def _refreshed(store, who, lang, chosen=None):
    rows = order_rows(store, who.area, lang)
    selected = [i for i, r in enumerate(rows) if r["remediation_id"] == chosen]
    return rows, selected, {} if rows else {"display": "none"}, {"display": "none"} if rows else {}


@callback(Output("remediation-place", "options"), Output("remediation-place", "value"),
          Input("remediation-place-kind", "value"), State("remediation-place", "value"), prevent_initial_call=True)
def choose_kind(kind, place):
    # What the browser sends back is checked like any input: a place that is not one of the options is dropped.
    options = place_options(store_from_request(), person().area, kind if isinstance(kind, str) else "")
    return options, place if isinstance(place, str) and place in {o["value"] for o in options} else None


@callback(Output("remediation-unit", "value"), Input("remediation-place", "value"),
          Input("remediation-category", "value"), State("remediation-place-kind", "value"),
          State("remediation-unit", "value"), prevent_initial_call=True)
def suggest_unit(place, category, kind, unit):
    person()
    return suggested_unit(store_from_request(), kind, place, category) or (unit if isinstance(unit, str) else "")


@callback(Output("remediation-open-message", "children"), Output("remediation-request-key", "data"),
          Output("remediation-orders", "data"), Output("remediation-orders", "selected_rows"),
          Output("remediation-orders", "style_table"), Output("remediation-orders-empty", "style"),
          Input("remediation-open", "n_clicks"),
          State("remediation-place-kind", "value"), State("remediation-place", "value"),
          State("remediation-category", "value"), State("remediation-measures", "value"),
          State("remediation-unit", "value"), State("remediation-plan", "start_date"),
          State("remediation-plan", "end_date"), State("remediation-note", "value"),
          State("remediation-request-key", "data"), State("remediation-lang", "data"), prevent_initial_call=True)
def open_order_form(_clicks, kind, place, category, measures, unit, start, finish, note, key, lang):
    who, lang, store = person(), language(lang), store_from_request()
    result = propose(store, actor_of(who, client_address()), {
        "place_kind": kind, "place": place, "category": category, "measures": measures, "unit": unit,
        "planned_start": start, "planned_finish": finish, "note": note, "request_key": key}, lang)
    if not result["ok"]:
        return (message(result),) + (dash.no_update,) * 5
    # A new key: the next order opened from this form is another order.
    return (message(result), uuid.uuid4().hex, *_refreshed(store, who, lang, result["remediation_id"]))


@callback(Output("remediation-chosen", "data"), Output("remediation-order-detail", "children"),
          Output("remediation-step", "options"), Output("remediation-step", "value"),
          Input("remediation-orders", "selected_rows"), State("remediation-orders", "data"),
          State("remediation-lang", "data"), prevent_initial_call=True)
def choose_order(selected, rows, lang):
    who, lang = person(), language(lang)
    row = chosen_row(selected, rows)
    chosen = row.get("remediation_id") if row else None
    d = order_detail(store_from_request(), who.area, chosen, lang)
    if d is None:
        return None, say("在表中选择一个工单", "Choose an order in the table", lang), [], None
    options = step_options(d["state"], who.role, lang)
    if not options and may_take_steps(who.role):
        d["none_left"] = True
    return chosen, _detail(d, lang), options, None


def _detail(d, lang):
    evidence = d["evidence"]
    basis = (say(f"立项依据（{evidence['as_of'][:10]}）：近{evidence['days']}天 {evidence['cases']} 件，"
                 f"每月 {evidence['per_month']} 件，未办结 {evidence['open']} 件",
                 f"Evidence ({evidence['as_of'][:10]}): {evidence['cases']} cases in {evidence['days']} days, "
                 f"{evidence['per_month']} a month, {evidence['open']} open", lang, sep=" · ")
             if evidence else say("登记录入，无立项依据", "Entered in the register, no evidence kept", lang))
    return [html.H4(f"{d['remediation_id']} · {d['place']}"
                    + (" · " + say("逾期", "overdue", lang) if d["overdue"] else ""), id="remediation-chosen-title"),
            html.Div(basis, className="hint"),
            html.Ol([html.Li(" ".join(x for x in (s["at"], s["state"], s["actor"], s["handed_over_to"], s["note"]) if x))
                     for s in d["steps"]], id="remediation-chosen-steps"),
            html.Div(say("您在此工单上没有可办理的下一步", "No further step on this order is yours to take", lang),
                     className="hint") if d.get("none_left") else None]


@callback(Output("remediation-advance-message", "children"), Output("remediation-orders", "data", allow_duplicate=True),
          Output("remediation-orders", "selected_rows", allow_duplicate=True),
          Output("remediation-orders", "style_table", allow_duplicate=True),
          Output("remediation-orders-empty", "style", allow_duplicate=True),
          Input("remediation-advance", "n_clicks"), State("remediation-chosen", "data"),
          State("remediation-step", "value"), State("remediation-step-note", "value"),
          State("remediation-handover", "value"), State("remediation-lang", "data"), prevent_initial_call=True)
def advance_order_form(_clicks, chosen, step, note, handed_over_to, lang):
    who, lang, store = person(), language(lang), store_from_request()
    result = take_step(store, actor_of(who, client_address()), chosen, step, note=note,
                       handed_over_to=handed_over_to, lang=lang)
    if not result["ok"]:
        return (message(result),) + (dash.no_update,) * 4
    return (message(result), *_refreshed(store, who, lang, chosen))

