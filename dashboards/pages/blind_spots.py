"""盲点数据库 · the blind-spot register: what the five rules found in the viewer's area, and its work."""

from __future__ import annotations

from datetime import date, timedelta

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from dashboards.auth import client_address
from dashboards.blind_spots import act, actions_for, counts_chart, entry_rows, order_link, resolution_options
from dashboards.forms import TABLE_CELL, TABLE_HEADER, chosen_row, field, message
from dashboards.header import header, language_switch
from dashboards.i18n import language, say
from dashboards.remediation_forms import actor_of, may_propose
from dashboards.request import person, store_from_request

dash.register_page(__name__, path="/blindspots", name="盲点 Blind spots", title="社会治理一张图 · 盲点数据库",
                   label=("盲点数据库", "Blind spots"))

COLUMNS = [("state", "状态", "State"), ("rule", "规则", "Rule"), ("place_name", "地点", "Place"),
           ("category", "类别", "Category"), ("cases", "案件", "Cases"), ("unit", "责任单位", "Unit"),
           ("deadline", "期限", "Deadline"), ("first_found", "首次发现", "First found"),
           ("last_found", "最近发现", "Last found"), ("blind_spot_id", "编号", "No.")]
ACTIONS = {"assigned": ("交办", "Assign"), "resolved": ("标记解决", "Resolve"),
           "name_unit": ("补充责任清单", "Name the unit in the responsibility list")}


def layout(**kwargs):
    who = person()
    lang = language(kwargs.get("lang"))
    store = store_from_request()
    rows = entry_rows(store, who.area, lang)
    return html.Div([
        header("Blind spots" if lang == "en" else "盲点数据库",
               say("规则发现的无人负责之处：交办、解决，再次出现时重新打开",
                   "Where nobody answers, as the rules find it: assigned, resolved, reopened when found again", lang),
               lang, here="/blindspots", who=who.label(lang),
               switch=language_switch("/blindspots", kwargs, lang), switch_id="blindspots-lang-switch"),
        dcc.Store(id="blindspots-lang", data=lang),
        dcc.Graph(id="blindspots-chart", figure=counts_chart(store, who.area, date.today(), lang), className="chart",
                  config={"displayModeBar": False}),
        html.P(say("本区域暂无登记的盲点。", "No blind spots recorded in this area.", lang), id="blindspots-empty",
               className="empty", style={} if not rows else {"display": "none"}),
        html.Div(className="table-wrap", children=[dash_table.DataTable(
            id="blindspots-table", data=rows, sort_action="native", filter_action="native", page_size=15,
            row_selectable="single", selected_rows=[], style_table={} if rows else {"display": "none"},
            columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in COLUMNS],
            style_cell=TABLE_CELL,
            style_data_conditional=[{"if": {"filter_query": "{state_code} = 'reopened'"}, "color": "#c05621",
                                     "fontWeight": "600"}],
            style_header=TABLE_HEADER)]),
        html.Div(id="blindspots-box", className="form-box", children=[
            dcc.Store(id="blindspots-chosen"),
            html.Div(id="blindspots-detail", className="order-detail",
                     children=say("在表中选择一个盲点", "Choose a blind spot in the table", lang)),
            html.Div(className="form-grid", children=[
                field(say("办理", "Action", lang), dcc.RadioItems(id="blindspots-action", options=[], inline=True,
                                                                 className="form-choices")),
                field(say("责任单位", "Unit", lang), dcc.Input(id="blindspots-unit", type="text", maxLength=200)),
                field(say("期限（交办时）", "Deadline (to assign)", lang), dcc.DatePickerSingle(
                    id="blindspots-deadline", date=date.today() + timedelta(days=30), display_format="YYYY-MM-DD")),
                field(say("解决方式（标记解决时）", "How (to resolve)", lang), dcc.RadioItems(
                    id="blindspots-how", options=resolution_options(lang), className="form-choices")),
                field(say("说明", "Note", lang), dcc.Input(id="blindspots-note", type="text", maxLength=2000)),
            ]),
            html.Button(say("提交", "Submit", lang), id="blindspots-submit", className="form-button"),
            html.Div(id="blindspots-message", className="form-message", role="status"),
        ]),
    ])


@callback(Output("blindspots-chosen", "data"), Output("blindspots-detail", "children"),
          Output("blindspots-action", "options"), Output("blindspots-action", "value"),
          Input("blindspots-table", "selected_rows"), State("blindspots-table", "data"),
          State("blindspots-lang", "data"), prevent_initial_call=True)
def choose(selected, rows, lang):
    who, lang = person(), language(lang)
    row = chosen_row(selected, rows)
    # The entry as the store holds it in the person's area: what the browser sent only names it.
    held = {r["blind_spot_id"]: r for r in entry_rows(store_from_request(), who.area, lang)}
    chosen = row.get("blind_spot_id") if row else None
    entry = held.get(chosen) if isinstance(chosen, str) else None
    if entry is None:
        return None, say("在表中选择一个盲点", "Choose a blind spot in the table", lang), [], None
    link = order_link(entry, lang) if may_propose(who.role) else None
    detail = [html.H4(f"{entry['rule']} · {entry['place_name']} · {entry['state']}", id="blindspots-chosen-title"),
              html.Div(f"{entry['category']} · " + say("案件", "cases", lang) + f" {entry['cases']}"),
              html.A(say("立项治理", "Open a remediation", lang), href=link, className="link remediation-link",
                     id="blindspots-remediate") if link else None]
    options = [{"label": say(*ACTIONS[a], lang), "value": a} for a in actions_for(entry, who.role)]
    return entry["blind_spot_id"], detail, options, None


@callback(Output("blindspots-message", "children"), Output("blindspots-table", "data"),
          Output("blindspots-table", "selected_rows"), Output("blindspots-chart", "figure"),
          Input("blindspots-submit", "n_clicks"), State("blindspots-chosen", "data"), State("blindspots-action", "value"),
          State("blindspots-unit", "value"), State("blindspots-deadline", "date"), State("blindspots-how", "value"),
          State("blindspots-note", "value"), State("blindspots-lang", "data"), prevent_initial_call=True)
def submit(_clicks, chosen, action, unit, deadline, how, note, lang):
    who, lang, store = person(), language(lang), store_from_request()
    result = act(store, actor_of(who, client_address()), chosen, action,
                 {"unit": unit, "deadline": deadline, "how": how, "note": note}, lang)
    if not result["ok"]:
        return message(result), dash.no_update, dash.no_update, dash.no_update
    rows = entry_rows(store, who.area, lang)
    return (message(result), rows, [i for i, r in enumerate(rows) if r["blind_spot_id"] == chosen],
            counts_chart(store, who.area, date.today(), lang))

