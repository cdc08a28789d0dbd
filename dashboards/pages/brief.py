"""今日要情 · the daily brief of the viewer's area, as archived or made now, with its PDF; and the
monthly analysis (难题月研判) of any month, as a PDF."""

from __future__ import annotations

import re
import tempfile
from datetime import date
from pathlib import Path

import dash
import pandas as pd
from dash import Input, Output, State, callback, dcc, html

from dashboards.brief import brief_for_page
from dashboards.header import header
from dashboards.i18n import language, say
from dashboards.monthly import monthly_html
from dashboards.printed import print_pdf
from dashboards.request import person, store_from_request
from layers.errors import InvalidValue
from layers.filters import FIRST_DAY, LAST_DAY
from layers.monthly import monthly_from_store

dash.register_page(__name__, path="/brief", name="今日要情 Daily brief", title="社会治理一张图 · 今日要情",
                   label=("今日要情", "Daily brief"))

MONTHS_OFFERED = 36


def _day(text) -> date:
    """The day a control or a link names; anything else is refused, naming it."""
    try:
        day = date.fromisoformat(text[:10]) if isinstance(text, str) else None
    except ValueError:
        day = None
    if day is None or not FIRST_DAY <= day <= LAST_DAY:
        raise InvalidValue(f"day {str(text)[:40]!r}: a day from {FIRST_DAY} to {LAST_DAY} (YYYY-MM-DD)",
                           zh=f"参数无效：日期 {str(text)[:40]!r} 应为 {FIRST_DAY} 至 {LAST_DAY} 之间的日期")
    return day


def _month(text) -> str:
    if not isinstance(text, str) or not re.fullmatch(r"\d{4}-\d{2}", text) or not (
            1 <= int(text[5:]) <= 12 and FIRST_DAY.year <= int(text[:4]) <= LAST_DAY.year):
        raise InvalidValue(f"month {str(text)[:40]!r}: YYYY-MM", zh=f"参数无效：月份 {str(text)[:40]!r} 应为 YYYY-MM")
    return text


def _fresh(value) -> bool:
    if value in (None, ""):
        return False
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidValue("fresh must be a list of text", zh="参数无效：重新生成选项")
    return "fresh" in value


def _page_day(text, today: date) -> date:
    """The day a link opens: today when it names none, or none that can be read (the callback then says so)."""
    try:
        return _day(text) if text else today
    except InvalidValue:
        return today


def layout(day=None, lang=None, **_):
    who = person()
    lang = language(lang)
    today = date.today()
    months = [p.strftime("%Y-%m") for p in pd.period_range(end=pd.Period(today, "M") - 1, periods=MONTHS_OFFERED,
                                                              freq="M")[::-1]]
    return html.Div([
        header("Daily brief" if lang == "en" else "今日要情",
               say("每日简报与月度研判", "The daily brief and the monthly analysis", lang), lang, here="/brief",
               who=who.label(lang), who_id="brief-who"),
        dcc.Store(id="brief-lang", data=lang),
        html.Div(className="filters", children=[
            html.Span(say("日期", "Day", lang), className="label"),
            html.Div(dcc.DatePickerSingle(id="brief-day", date=_page_day(day, today).isoformat(),
                                          display_format="YYYY-MM-DD", first_day_of_week=1), style={"width": "160px"}),
            dcc.Checklist(id="brief-fresh", options=[{"label": say("按当前数据重新生成", "Make it from the current data",
                                                                   lang), "value": "fresh"}], value=[],
                          className="check"),
            html.Button(say("下载 PDF", "Download PDF", lang), id="brief-pdf", className="button"),
            dcc.Download(id="brief-pdf-file"),
            html.Span(say("月度研判", "Monthly analysis", lang), className="label"),
            dcc.Dropdown(id="brief-month", options=months, value=months[0], clearable=False,
                         style={"width": "120px"}),
            html.Button(say("下载月度研判 PDF", "Download the monthly PDF", lang), id="brief-monthly",
                        className="button"),
            dcc.Download(id="brief-monthly-file"),
        ]),
        html.Div(id="brief-note", className="brief-note"),
        dcc.Loading(html.Iframe(id="brief-frame", title="今日要情",
                                style={"width": "min(210mm, calc(100% - 16px))", "height": "1400px", "boxSizing": "border-box", "border": "1px solid #cbd5e0",
                                       "background": "#fff", "display": "block", "margin": "8px auto"})),
    ])


@callback(Output("brief-frame", "srcDoc"), Output("brief-note", "children"), Input("brief-day", "date"),
          Input("brief-fresh", "value"), State("brief-lang", "data"))
def show(day, fresh, lang):
    who = person()
    store = store_from_request()
    return brief_for_page(store, _day(day), who.area, fresh=_fresh(fresh), lang=language(lang))


@callback(Output("brief-pdf-file", "data"), Input("brief-pdf", "n_clicks"), State("brief-day", "date"),
          State("brief-fresh", "value"), prevent_initial_call=True)
def brief_pdf(_clicks, day, fresh):
    who = person()
    store = store_from_request()
    page, _ = brief_for_page(store, _day(day), who.area, fresh=_fresh(fresh))
    return _pdf(page, f"今日要情_{_day(day)}.pdf")


@callback(Output("brief-monthly-file", "data"), Input("brief-monthly", "n_clicks"), State("brief-month", "value"),
          prevent_initial_call=True)
def monthly_pdf(_clicks, month):
    who = person()
    month = _month(month)
    store = store_from_request()
    page = monthly_html(monthly_from_store(store, month, who.area))
    return _pdf(page, f"难题月研判_{month}.pdf")


def _pdf(page: str, name: str) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "out.pdf"
        print_pdf(page, path)
        return dcc.send_bytes(path.read_bytes(), name)
