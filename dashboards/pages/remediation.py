"""靶向治理 · the remediation register: what was done where, and whether the cases fell."""

from __future__ import annotations

import dash
from dash import dash_table, dcc, html

from dashboards.header import header
from dashboards.i18n import language, say
from dashboards.remediation import VERDICT_WORDS, order_rows, remediation_data
from dashboards.request import person, store_from_request

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
               lang, here="/remediation", who=who.label(lang)),
        html.Div(summary, className="kpis", id="remediation-overall"),
        html.H3(say("治理工单", "Remediation orders", lang)),
        _orders_table(order_rows(store, who.area, lang), lang),
        html.Div(className="table-wrap", children=[dash_table.DataTable(
            id="remediation-table", data=data["rows"], sort_action="native", page_size=25,
            columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in COLUMNS],
            style_cell={"textAlign": "left", "maxWidth": "240px", "overflow": "hidden", "textOverflow": "ellipsis",
                        "fontFamily": "inherit"},
            style_header={"fontWeight": "600", "background": "#edf2f7"})]),
        html.H3(say("各地点每月案件（绿色为治理期）", "Cases per month at each place (works shaded green)", lang)),
        html.Div(className="charts", id="remediation-charts", children=[
            dcc.Graph(figure=fig, className="chart", config={"displayModeBar": False})
            for fig in data["charts"].values()]),
    ])


def _orders_table(rows, lang):
    if not rows:
        return html.P(say("本区域暂无治理工单。", "No remediation orders in this area yet.", lang), id="remediation-orders",
                      className="empty")
    return html.Div(className="table-wrap", children=[dash_table.DataTable(
        id="remediation-orders", data=rows, sort_action="native", page_size=15,
        columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in ORDER_COLUMNS],
        style_cell={"textAlign": "left", "maxWidth": "240px", "overflow": "hidden", "textOverflow": "ellipsis",
                    "fontFamily": "inherit"},
        style_data_conditional=[{"if": {"filter_query": "{overdue} != ''"}, "color": "#c53030", "fontWeight": "600"}],
        style_header={"fontWeight": "600", "background": "#edf2f7"})])
