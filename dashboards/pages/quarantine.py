"""隔离区 · the quarantine: the rows ingests kept back in the viewer's area, by file and reason, and the
spreadsheet of them to fix and send back (``onemap quarantine retry``). Admins and commanders only."""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dash_table, dcc, html

from dashboards.header import header, language_switch
from dashboards.i18n import language, say
from dashboards.request import person, store_from_request
from layers.quarantine import QUARANTINE_ROLES, by_file_and_reason, check_role, export_xlsx, open_entries

dash.register_page(__name__, path="/quarantine", name="隔离 Quarantine", title="社会治理一张图 · 隔离区",
                   label=("隔离区", "Quarantine"))

COUNT_COLUMNS = [("file", "文件", "File"), ("source", "来源", "Source"), ("reason", "原因", "Reason"),
                 ("rows", "行数", "Rows")]
ENTRY_COLUMNS = [("file", "文件", "File"), ("row", "行", "Row"), ("source_id", "编号", "Id"),
                 ("message", "原因", "Why")]
TABLE_STYLE = {"style_cell": {"textAlign": "left", "maxWidth": "480px", "overflow": "hidden",
                              "textOverflow": "ellipsis", "fontFamily": "inherit"},
               "style_header": {"fontWeight": "600", "background": "#edf2f7"}}


def layout(**kwargs):
    who = person()
    lang = language(kwargs.get("lang"))
    top = header("Quarantine" if lang == "en" else "隔离区",
                 say("导入时退回的行：按文件和原因，导出表格修正后重新导入",
                     "Rows the ingests kept back, by file and reason: export them, fix them, send them back", lang),
                 lang, here="/quarantine", who=who.label(lang),
                 switch=language_switch("/quarantine", kwargs, lang), switch_id="quarantine-lang-switch")
    if who.role not in QUARANTINE_ROLES:
        return html.Div([top, html.P(say("隔离区仅限管理员和指挥中心查看。",
                                         "The quarantine is for admins and commanders only.", lang),
                                     id="quarantine-refused", className="empty")])
    entries = open_entries(store_from_request(), who.area)
    counts = by_file_and_reason(entries)
    rows = entries[[c for c, _, _ in ENTRY_COLUMNS]].astype(object).where(entries.notna(), None)
    return html.Div([
        top,
        dcc.Store(id="quarantine-lang", data=lang),
        html.P(say(f"本区域待处理 {len(entries)} 行。", f"{len(entries)} rows to work in this area.", lang),
               id="quarantine-total"),
        html.Button(say("导出表格（.xlsx）", "Export the spreadsheet (.xlsx)", lang), id="quarantine-export",
                    className="form-button", disabled=not len(entries)),
        dcc.Download(id="quarantine-file"),
        html.H3(say("按文件和原因", "By file and reason", lang)),
        html.Div(className="table-wrap", children=[dash_table.DataTable(
            id="quarantine-counts", data=counts.to_dict("records"), sort_action="native",
            columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in COUNT_COLUMNS], **TABLE_STYLE)]),
        html.H3(say("各行", "The rows", lang)),
        html.Div(className="table-wrap", children=[dash_table.DataTable(
            id="quarantine-rows", data=rows.to_dict("records"), sort_action="native", filter_action="native",
            page_size=20, columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in ENTRY_COLUMNS],
            **TABLE_STYLE)]),
    ])


@callback(Output("quarantine-file", "data"), Input("quarantine-export", "n_clicks"),
          State("quarantine-lang", "data"), prevent_initial_call=True)
def export(_clicks, lang):
    who = person()
    check_role(who.role)  # the button is not on a refused page; a posted callback is checked all the same
    entries = open_entries(store_from_request(), who.area)
    return dcc.send_bytes(export_xlsx(entries), "quarantine.xlsx" if language(lang) == "en" else "隔离区.xlsx")
