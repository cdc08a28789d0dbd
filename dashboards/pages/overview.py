"""The first page: outlines, per-cell case choropleth, KPI tiles for the chosen period."""

from __future__ import annotations

from datetime import date

import dash
from dash import Input, Output, callback, dcc, html

from dashboards.app import store_from_request
from dashboards.data import overview_data
from dashboards.tiles import kpi_tiles

dash.register_page(__name__, path="/", name="一张图 Overview", title="社会治理一张图 · Overview")


def _parse_date(text, default):
    try:
        return date.fromisoformat(text) if text else default
    except ValueError:
        return default


def layout(**kwargs):
    today = date.today()
    start = _parse_date(kwargs.get("from"), date(today.year, 1, 1))
    end = _parse_date(kwargs.get("to"), today)
    with store_from_request() as store:
        streets = store.read("streets")
    options = [{"label": "全区 Whole district", "value": ""}] + [
        {"label": name, "value": code} for code, name in zip(streets["street_code"], streets["name"])]
    return html.Div([
        html.Div(className="header", children=[
            html.H1("江北区社会治理一张图"), html.Span("Jiangbei one map · 矛调中心", className="sub")]),
        html.Div(className="filters", children=[
            html.Span("时段 Period", className="label"),
            dcc.DatePickerRange(id="overview-period", start_date=start, end_date=end,
                                display_format="YYYY-MM-DD", first_day_of_week=1),
            html.Span("街道 Street", className="label"),
            dcc.Dropdown(id="overview-street", options=options, value=kwargs.get("street", ""),
                         clearable=False, style={"width": "220px"}),
        ]),
        html.Div(id="overview-kpis", className="kpis"),
        html.Div(className="map-wrap", children=[
            dcc.Loading(dcc.Graph(id="overview-map", style={"height": "72vh"},
                                  config={"displaylogo": False, "scrollZoom": True})),
        ]),
    ])


@callback(
    Output("overview-kpis", "children"),
    Output("overview-map", "figure"),
    Input("overview-period", "start_date"),
    Input("overview-period", "end_date"),
    Input("overview-street", "value"),
)
def update(start_date, end_date, street):
    start = _parse_date(start_date, None)
    end = _parse_date(end_date, None)
    with store_from_request() as store:
        kpis, figure = overview_data(store, start=start, end=end, street=street or None)
    return kpi_tiles(kpis), figure
