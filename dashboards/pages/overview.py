"""The overview: filters, KPI tiles, the per-cell case map, four charts and the case table.

Every filter can come from the URL query (``layers.filters.CaseFilter``), so a
view is a link: the page shows the link of the view on screen. Callbacks are
thin: they build a ``CaseFilter`` and call ``dashboards.data``.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

import dash
from dash import (
    Input,
    Output,
    State,
    callback,
    clientside_callback,
    dash_table,
    dcc,
    html,
)

from dashboards.arrivals import arrivals, ticker
from dashboards.blind_spots import entry_rows, order_link
from dashboards.cache import CACHE
from dashboards.data import area_title, district_title, since_last_look, store_banner, view_charts, view_data
from dashboards.details import case_details, cell_details, place_details
from dashboards.download import exported_view
from dashboards.figures import MEASURES
from dashboards.geo import read_places
from dashboards.header import drawer_button, drawer_id, header
from dashboards.i18n import language, only, other, pick, say
from dashboards.map_views import POINT_LIMIT, map_layers
from dashboards.remediation import VERDICT_WORDS
from dashboards.remediation_forms import may_propose
from dashboards.request import basemap_from_request, person, store_from_request
from dashboards.table import TABLE_COLUMNS, table_page
from dashboards.tiles import count, kpi_tiles, percent
from layers.errors import InvalidValue, OutsideArea
from layers.export import DATUMS, FORMATS, export_format
from layers.filters import PRESETS, CaseFilter, check_query, preset_period
from layers.glossary import LEVEL_LABELS, PLACE_KIND_LABELS, SETBACK_STATUS_LABELS, STATUS_LABELS, known_channels
from layers.kpis import street_code_for
from layers.remediation_orders import STATES
from layers.schema import CASE_STATUSES, LEVELS

dash.register_page(__name__, path="/", name="一张图 Overview", title="社会治理一张图 · Overview", label=("一张图", "One map"))

DEFAULT_LAYERS = "cases"
# Seconds between two looks of the overview's ticker at what just arrived.
TICKER_S = 20
MEASURE_LABELS = {"cases": ("案件数", "count"), "per_km2": ("每平方公里", "per km²"),
                  "per_1000": ("每千人", "per 1,000 residents")}
LANG = State("overview-lang", "data")
CHARTS = ("trend", "categories", "channels", "levels")
FILTER_INPUTS = [Input("overview-period", "start_date"), Input("overview-period", "end_date"),
                 Input("overview-district", "value"), Input("overview-street", "value"), Input("overview-community", "value"),
                 Input("overview-cell", "value"), Input("overview-category", "value"),
                 Input("overview-channel", "value"), Input("overview-status", "value"),
                 Input("overview-level", "value"), Input("overview-overdue", "value")]


def _filter(start, end, district, street, community, cell, categories, channels, statuses, levels,
            overdue) -> CaseFilter:
    query = {"from": _text("from", start, 10), "to": _text("to", end, 10), "district": _text("district", district),
             "street": street, "community": community,
             "cell": cell, "category": _joined("category", categories), "channel": _joined("channel", channels),
             "status": _joined("status", statuses), "level": _joined("level", levels),
             "overdue": "1" if overdue else ""}
    check_query(query)
    return CaseFilter.from_query(query).narrowed(area=_area())


def _text(name, value, length=None):
    """A control's text value (None when empty); a value of another type is refused, naming the control."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidValue(f"{name} must be text, not {type(value).__name__}", zh=f"参数无效：{name} 应为文字")
    return value[:length] if length else value


def _joined(name, values) -> str:
    """A multi-choice control's values, comma-joined; anything but a list of text is refused."""
    if values in (None, ""):
        return ""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidValue(f"{name} must be a list of text", zh=f"参数无效：{name} 应为文字列表")
    return ",".join(values)


def _area():
    return person().area


def _options(labels: dict, lang: str) -> list[dict]:
    return [{"label": pick(pair, lang), "value": key} for key, pair in labels.items()]


def _dropdown(id_, options, value, placeholder, multi=False):
    return dcc.Dropdown(id=id_, options=options, value=value, placeholder=placeholder, multi=multi,
                        className="dd", clearable=True)


def _since_last_look(store, who, area, lang):
    """How many cases arrived in the person's area since they last opened the overview (a grid leader's
    first question of the morning); the look is noted for next time."""
    since, n = since_last_look(store, who.name, area)
    if since is None:
        return html.Div(id="overview-since", style={"display": "none"})
    return html.Div(id="overview-since", className="since", children=say(
        f"自您上次查看（{since:%m-%d %H:%M}）以来，辖区新增 {n:,} 件",
        f"{n:,} new in your area since you last looked ({since:%m-%d %H:%M})", lang, sep=" · "))


def layout(**kwargs):
    area = _area()
    store = store_from_request()
    mine = CaseFilter(area=area)
    streets, communities, cells = (read_places(store, mine, layer)
                                   for layer in ("streets", "communities", "grid_cells"))
    categories = sorted(set(CACHE.layer(store, "responsibilities")["category"])) or []
    lang = language(kwargs.get("lang"))
    # A value of the link that means nothing is named on the page, and the rest of the view shown without it.
    problem = None
    try:
        check_query(kwargs)
    except InvalidValue as exc:
        problem = exc
    if kwargs.get("street") and isinstance(kwargs["street"], str):
        try:
            kwargs["street"] = street_code_for(store, kwargs["street"])
        except InvalidValue as exc:
            problem, kwargs["street"] = problem or exc, None
    whole = area_title(store, area, lang)
    # A link to a place outside the user's area opens the user's whole area instead, and says so.
    kwargs.update({k: None for k in ("district", "street", "community", "cell")
                   if not isinstance(kwargs.get(k), (str, type(None)))})
    outside = [k for k in ("district", "street", "community", "cell")
               if kwargs.get(k) and not area.overlaps(kwargs.get(k))]
    if outside and problem is None:
        problem = OutsideArea(f"{outside[0]} {str(kwargs[outside[0]])[:20]} is outside your area: your whole area "
                              "is shown", zh=f"{str(kwargs[outside[0]])[:20]} 不在您的辖区内，显示您的整个辖区")
    kwargs.update({k: None for k in outside})
    f = CaseFilter.from_query(kwargs).narrowed()
    layers = [k for k in str(kwargs.get("layers") or DEFAULT_LAYERS).split(",") if k in map_layers()]
    measure = kwargs.get("measure") if kwargs.get("measure") in MEASURES else "cases"
    # The page comes with its first view filled in, as the callbacks would answer it: the browser
    # draws at once instead of asking again (the callbacks answer only changes).
    tiles, figure, link, note, switch, banner, banner_style = _view(store, f.narrowed(area=area), layers,
                                                                   measure, lang)
    chart_figures = _charts(store, f.narrowed(area=area), lang)
    rows, pages = table_page(store, f.narrowed(area=area), page=0, page_size=15, lang=lang)
    districts = read_places(store, mine, "district")
    districts = districts[[area.overlaps(code) for code in districts["district_code"]]]
    street_options = _street_options(streets, f.district_code, whole)
    who = person()
    return html.Div(className="overview", children=[
        header(district_title(store, lang),
               "Conflict mediation centre" if lang == "en" else f"{district_title(store, 'en')} · 矛调中心", lang,
               here="/", who=f"{who.label(lang)} · {whole}", who_id="overview-who", switch=switch,
               switch_id="overview-lang-switch"),
        _since_last_look(store, who, area, lang),
        html.Div(ticker(arrivals(store, CaseFilter(area=area, street_code=f.street_code), datetime.now()), lang,
                        prefix="overview"), id="overview-ticker", className="ticker", role="status",
                 **{"aria-live": "polite"}),
        dcc.Interval(id="overview-ticker-tick", interval=TICKER_S * 1000),
        html.Div(banner, id="overview-banner", className="banner", style=banner_style),
        html.Div(f"{problem.message('zh')} · {problem.message('en')}" if problem else "", id="overview-problem",
                 className="app-error",
                 role="alert", style={"display": "block" if problem else "none"}),
        dcc.Store(id="overview-lang", data=lang),
        # On a phone the filters wait in a drawer above the map; on a wider screen they are always shown.
        drawer_button("overview-filters", say("筛选", "Filters", lang), say("筛选", "Filters", lang)),
        html.Div(className="filter-drawer drawer", id=drawer_id("overview-filters"), children=[
            html.Div(className="filters", children=[
                html.Span(say("时段", "Period", lang), className="label"),
                dcc.RadioItems(id="overview-preset", value=kwargs.get("preset", ""), inline=True,
                               options=[{"label": f" {only(pair, lang)} ", "value": key} for key, pair in PRESETS.items()]),
                dcc.DatePickerRange(id="overview-period", start_date=f.start, end_date=f.end,
                                    display_format="YYYY-MM-DD", first_day_of_week=1),
                html.Span(say("区域", "Area", lang), className="label"),
                # A city's or a province's store: its districts first (a store of one district hides this).
                dcc.Dropdown(id="overview-district", options=_district_options(districts, whole),
                             value=f.district_code or "", clearable=False,
                             style={"width": "160px"} if len(districts) > 1 else {"display": "none"}),
                dcc.Dropdown(id="overview-street", options=street_options, value=f.street_code or "",
                             clearable=False, style={"width": "200px"}),
                _dropdown("overview-community", _community_options(communities, f.street_code), f.community_code,
                          say("社区", "Community", lang)),
                _dropdown("overview-cell", _cell_options(cells, f.community_code), f.grid_cell,
                          say("网格", "Grid cell", lang)),
            ]),
            html.Div(className="filters", children=[
                _dropdown("overview-category", [{"label": c, "value": c} for c in categories], list(f.categories),
                          say("类别", "Category", lang), multi=True),
                _dropdown("overview-channel", [{"label": only(pair, lang), "value": k} for k, pair in known_channels().items()],
                          list(f.channels), say("渠道", "Channel", lang), multi=True),
                _dropdown("overview-status", _options({s: STATUS_LABELS[s] for s in CASE_STATUSES}, lang),
                          list(f.statuses), say("状态", "Status", lang), multi=True),
                _dropdown("overview-level", _options({lv: LEVEL_LABELS[lv] for lv in LEVELS}, lang),
                          list(f.levels), say("层级", "Level", lang), multi=True),
                dcc.Checklist(id="overview-overdue", options=[{"label": " " + say("仅超期", "Overdue only", lang),
                                                               "value": "1"}],
                              value=["1"] if f.overdue_only else []),
                html.A(say("本视图链接", "Link to this view", lang), id="overview-link", className="link", href=link),
                dcc.Dropdown(id="overview-export-format", value="gpkg", clearable=False, style={"width": "170px"},
                             options=[{"label": only(form.label, lang), "value": k} for k, form in FORMATS.items()]),
                dcc.Dropdown(id="overview-export-datum", value="cgcs2000", clearable=False, style={"width": "150px"},
                             options=[{"label": only(d.label, lang), "value": k} for k, d in DATUMS.items()]),
                html.Button(say("导出", "Export", lang), id="overview-export", className="link"),
                dcc.Download(id="overview-download"),
                html.Span(id="overview-export-note", className="label"),
                html.Span(id="overview-url-written", style={"display": "none"}),
            ]),
            html.Div(className="filters", children=[
                html.Span(say("图层", "Layers", lang), className="label"),
                dcc.Checklist(id="overview-layers", inline=True, value=layers,
                              options=[{"label": f" {pick(pair, lang)} ", "value": key}
                                       for key, pair in map_layers().items()]),
                html.Span(say("网格着色", "Cells by", lang), className="label"),
                dcc.RadioItems(id="overview-measure", inline=True, value=measure,
                               options=[{"label": f" {pick(pair, lang)} ", "value": key}
                                        for key, pair in MEASURE_LABELS.items()]),
                html.Span(note, id="overview-points-note", className="label"),
            ]),
        ]),
        html.Div(tiles, id="overview-kpis", className="kpis"),
        html.Div(className="map-wrap", children=[
            dcc.Loading(dcc.Graph(id="overview-map", figure=figure, style={"height": "62vh"},
                                  config={"displaylogo": False, "scrollZoom": True})),
            html.Div(id="overview-details", className="details",
                     children=html.Div(say("点击地图上的网格查看详情", "Click a cell for its details", lang, sep=" · "),
                                       className="hint")),
        ]),
        html.Div(className="charts", children=[
            dcc.Graph(id=f"overview-chart-{name}", figure=chart, className="chart", config={"displayModeBar": False})
            for name, chart in zip(CHARTS, chart_figures)]),
        html.Div(className="table-wrap", children=[
            html.P(_no_cases(lang), id="overview-table-empty", className="empty", style=_shown(not rows)),
            dash_table.DataTable(
                id="overview-table", columns=[{"id": c, "name": say(zh, en, lang)} for c, zh, en in TABLE_COLUMNS],
                data=rows, page_count=pages,
                page_current=0, page_size=15, page_action="custom", sort_action="custom", sort_mode="single",
                sort_by=[{"column_id": "reported_at", "direction": "desc"}],
                style_cell={"textAlign": "left", "maxWidth": "260px", "overflow": "hidden",
                            "textOverflow": "ellipsis", "fontFamily": "inherit"},
                style_header={"fontWeight": "600", "background": "#edf2f7"}),
        ]),
    ])


def _district_options(districts, whole):
    return [{"label": whole, "value": ""}] + [
        {"label": name, "value": code} for code, name in zip(districts["district_code"], districts["name"])]


def _street_options(streets, district_code, whole):
    if district_code:
        streets = streets[streets["street_code"].astype(str).str.startswith(district_code)]
    return [{"label": whole, "value": ""}] + [
        {"label": name, "value": code} for code, name in zip(streets["street_code"], streets["name"])]


def _community_options(communities, street_code):
    if street_code:
        communities = communities[communities["street_code"] == street_code]
    return [{"label": n, "value": c} for c, n in zip(communities["community_code"], communities["name"])]


def _cell_options(cells, community_code):
    if not community_code:
        return []
    cells = cells[cells["community_code"] == community_code]
    return [{"label": n, "value": c} for c, n in zip(cells["grid_cell"], cells["name"])]


@callback(Output("overview-period", "start_date"), Output("overview-period", "end_date"),
          Input("overview-preset", "value"), prevent_initial_call=True)
def apply_preset(preset):
    if not preset:
        return dash.no_update, dash.no_update
    if not isinstance(preset, str) or preset not in PRESETS:
        raise InvalidValue(f"preset {str(preset)[:40]!r}: one of {', '.join(PRESETS)}", zh="参数无效：时段")
    from datetime import date

    return preset_period(preset, date.today())


@callback(Output("overview-ticker", "children"), Input("overview-ticker-tick", "n_intervals"),
          Input("overview-street", "value"), LANG, prevent_initial_call=True)
def refresh_ticker(_tick, street, lang):
    """What just arrived in the person's area (the street chosen, if any), every ``TICKER_S`` seconds."""
    street = street if isinstance(street, str) and street else None
    return ticker(arrivals(store_from_request(), CaseFilter(area=_area(), street_code=street), datetime.now()),
                  language(lang), prefix="overview")


@callback(Output("overview-street", "options"), Output("overview-street", "value"),
          Input("overview-district", "value"), State("overview-street", "value"), LANG, prevent_initial_call=True)
def cascade_district(district, street, lang):
    area = _area()
    store = store_from_request()
    district, street = _text("district", district), _text("street", street)
    options = _street_options(read_places(store, CaseFilter(area=area), "streets"), district,
                              area_title(store, area, language(lang)))
    return options, street if street in {o["value"] for o in options} else ""


@callback(Output("overview-community", "options"), Output("overview-community", "value"),
          Input("overview-street", "value"), State("overview-community", "value"), prevent_initial_call=True)
def cascade_street(street, community):
    area = _area()
    store = store_from_request()
    street, community = _text("street", street), _text("community", community)
    options = _community_options(read_places(store, CaseFilter(area=area), "communities"), street)
    keep = community if community in {o["value"] for o in options} else None
    return options, keep


@callback(Output("overview-cell", "options"), Output("overview-cell", "value"),
          Input("overview-community", "value"), State("overview-cell", "value"), prevent_initial_call=True)
def cascade_community(community, cell):
    area = _area()
    store = store_from_request()
    community, cell = _text("community", community), _text("cell", cell)
    options = _cell_options(read_places(store, CaseFilter(area=area), "grid_cells"), community)
    keep = cell if cell in {o["value"] for o in options} else None
    return options, keep


@callback(Output("overview-kpis", "children"), Output("overview-map", "figure"), Output("overview-link", "href"),
          Output("overview-points-note", "children"), Output("overview-lang-switch", "href"),
          Output("overview-banner", "children"), Output("overview-banner", "style"),
          *FILTER_INPUTS, Input("overview-layers", "value"), Input("overview-measure", "value"), LANG,
          prevent_initial_call=True)
def update(*values):
    layers = tuple(v for v in _joined("layers", values[-3]).split(",") if v)
    measure = values[-2] if isinstance(values[-2], str) and values[-2] in MEASURES else "cases"
    store = store_from_request()
    return _view(store, _filter(*values[:-3]), layers, measure, language(values[-1]))


def _view(store, f, layers, measure, lang):
    """The tiles, the map, the view's link, the points note, the language switch's link and the banner."""
    data = view_data(store, f, layers=layers, measure=measure, basemap=basemap_from_request(), lang=lang)
    note = "" if data["points_shown"] or "cases" not in layers else say(
        f"案件多于{POINT_LIMIT:,}件，地图只显示网格汇总；缩小范围可见案件点",
        f"Over {POINT_LIMIT:,} cases: cells only, narrow the view to see points", lang, sep=" · ")
    waiting = [key for key in data["not_drawn"] if key != "cases"]
    if waiting:  # a store too large to hold, a wide view: the layers that need each case wait for a narrower one
        names = ("、" if lang != "en" else ", ").join(only(map_layers()[key], lang) for key in waiting)
        note = " ".join(filter(None, [note, say(f"{names}：范围内案件过多，请缩小范围后显示",
                                               f"{names}: too many cases in view, narrow it to show", lang,
                                               sep=" · ")]))
    query = {**f.to_query(), "layers": ",".join(layers), "measure": measure}
    link = "/?" + urlencode({**query, "lang": lang} if lang != "zh" else query)
    banner = store_banner(store, lang)
    return (kpi_tiles(data["kpis"], lang=lang), data["map"], link, note, "/?" + urlencode({**query, "lang": other(lang)}),
            banner, {"display": "block" if banner else "none"})


# The charts sit below the map and answer on their own: the map does not wait for them.
@callback(*[Output(f"overview-chart-{name}", "figure") for name in CHARTS], *FILTER_INPUTS, LANG,
          prevent_initial_call=True)
def charts(*values):
    store = store_from_request()
    return _charts(store, _filter(*values[:-1]), language(values[-1]))


def _charts(store, f, lang):
    made = view_charts(store, f, lang)
    return tuple(made[name] for name in CHARTS)


# The table answers on its own, not after the map: a filter change starts both at once.
def _no_cases(lang):
    return say("此视图内没有案件：换一个时段或放宽筛选条件", "No cases in this view: try another period or fewer filters",
               lang, sep=" · ")


def _shown(shown: bool) -> dict:
    return {} if shown else {"display": "none"}


@callback(Output("overview-table", "data"), Output("overview-table", "page_count"),
          Output("overview-table", "page_current"), Output("overview-table-empty", "style"),
          Input("overview-table", "page_current"), Input("overview-table", "sort_by"), *FILTER_INPUTS, LANG,
          prevent_initial_call=True)
def table(page, sort_by, *values):
    if set(dash.ctx.triggered_prop_ids) - {"overview-table.page_current"}:
        page = 0  # a new filter or order starts at the first page
    f = _filter(*values[:-1])
    store = store_from_request()
    rows, pages = table_page(store, f, sort_by=sort_by, page=page or 0, page_size=15, lang=language(values[-1]))
    return rows, pages, page or 0, _shown(not rows)


@callback(Output("overview-download", "data"), Output("overview-export-note", "children"),
          Input("overview-export", "n_clicks"), State("overview-export-format", "value"),
          State("overview-export-datum", "value"), State("overview-layers", "value"),
          *[State(i.component_id, i.component_property) for i in FILTER_INPUTS], LANG, prevent_initial_call=True)
def download(_clicks, fmt, datum, layers, *values):
    who = person()
    f = _filter(*values[:-1])  # the user's area is ANDed in here, as in every callback
    form = export_format(fmt)
    layers = [v for v in _joined("layers", layers).split(",") if v]
    if not isinstance(datum, str) or datum not in DATUMS:
        raise InvalidValue(f"datum {str(datum)[:40]!r}: one of {', '.join(DATUMS)}", zh="参数无效：坐标系")
    if form.datums is not None and datum not in form.datums:
        names = [only(DATUMS[d].label, language(values[-1])) for d in form.datums]
        return dash.no_update, say(f"{fmt.upper()} 只能用 {'、'.join(names)}", f"{fmt.upper()} needs {' or '.join(names)}",
                                   language(values[-1]))
    store = store_from_request()
    with exported_view(store, f, layers, fmt=fmt, datum=datum, user=who.name, role=who.role) as path:
        return dcc.send_file(str(path)), ""  # read into the answer here; the file goes as the block ends


@callback(Output("overview-details", "children"), Input("overview-map", "clickData"), *FILTER_INPUTS, LANG,
          prevent_initial_call=True)
def details(click, *values):
    lang = language(values[-1])
    points = click.get("points") if isinstance(click, dict) else None
    points = [p for p in points if isinstance(p, dict)] if isinstance(points, list) else []
    case_id = next((p.get("customdata") for p in points if isinstance(p.get("customdata"), str)), None)
    if case_id and case_id.startswith("blind_spot:"):
        return _blind_spot_panel(case_id.partition(":")[2], lang)
    if case_id:
        return _case_panel(case_id, _area(), lang)
    cell = next((p.get("location") for p in points if isinstance(p.get("location"), str) and p["location"]), None)
    if not cell:
        return dash.no_update
    store = store_from_request()
    # A priority place is "kind:code"; an estate or a setback area is its code.
    kind, _, code = cell.partition(":") if ":" in cell else ("grid_cell", "", cell)
    d = cell_details(store, _filter(*values[:-1]), code, lang=lang) if kind == "grid_cell" else None
    if d is None:
        place = place_details(store, _area(), cell)
        if place is not None:
            return _place_panel(place, lang)
        return html.Div(say("没有这个网格", "No such cell", lang, sep=" · "), className="hint")
    dedicated = " · " + say("专属网格", "dedicated", lang) if d["kind"] == "dedicated" else ""
    return [
        html.H3(d["name"], id="overview-details-name"),
        html.Div(f"{d['community']} · {d['grid_cell']}{dedicated}"),
        html.Div(className="details-figures", children=[
            html.Span(f"{say(zh, en, lang)} {value}") for zh, en, value in (
                ("受理", "received", count(d["received"])), ("办结", "closed", count(d["closed"])),
                ("办结率", "closure", percent(d["closure_rate"])), ("超期", "overdue", count(d["overdue"])))]),
        html.H4(say("最新案件", "Latest cases", lang)),
        html.Ul([html.Li(f"{r['reported_at']} {r['category']} · {r['status']} · {r['responsible_unit']}")
                 for r in d["latest"]], id="overview-details-latest"),
        *_remediations_here(d["remediations"], lang),
        *_remediation_links(d, lang),
    ]


def _place_panel(d, lang):
    """An estate or a setback area clicked: what it is, who manages it, the orders on it, 立项治理."""

    kind = PLACE_KIND_LABELS[d["place_kind"]]
    status = SETBACK_STATUS_LABELS.get(d["status"])
    about = f"{say(*kind, lang)} · {d['place']}" + (f" · {say(*status, lang)}" if status else "") + (
        f" · {d['managing_unit']}" if d["managing_unit"] else "")
    link = []
    if may_propose(person().role):
        here = {"lang": "en"} if lang == "en" else {}
        link = [html.Div(className="details-actions", children=html.A(
            say("立项治理", "Open a remediation", lang), className="link remediation-link", id="overview-details-remediate",
            href="/remediation?" + urlencode({"place_kind": d["place_kind"], "place": d["place"], **here})))]
    return [html.H3(d["name"], id="overview-details-name"), html.Div(about),
            *_remediations_here(d["remediations"], lang), *link]


def _blind_spot_panel(blind_spot, lang):
    """A blind spot clicked: its entry in the register of the viewer's area, and what can be done with it."""
    entry = next((r for r in entry_rows(store_from_request(), _area(), lang) if r["blind_spot_id"] == blind_spot), None)
    if entry is None:
        return html.Div(say("这个盲点尚未登记", "This blind spot is not recorded yet", lang, sep=" · "), className="hint")
    link = order_link(entry, lang) if may_propose(person().role) else None
    return [html.H3(f"{entry['rule']}", id="overview-details-name"),
            html.Div(f"{entry['place_name']} · {entry['category']}"),
            html.Div(f"{say('状态', 'state', lang)} {entry['state']}"
                     + (f" · {entry['unit']} · {say('期限', 'deadline', lang)} {entry['deadline']}" if entry["unit"] else "")),
            html.Div(className="details-actions", children=[
                html.A(say("到盲点数据库办理", "Work it in the register", lang), className="link",
                       href="/blindspots" + ("?lang=en" if lang == "en" else "")),
                html.Br(),
                html.A(say("立项治理", "Open a remediation", lang), href=link, className="link remediation-link",
                       id="overview-details-remediate") if link else None])]


def _remediations_here(found, lang):
    """The orders at the clicked place: where each stands and, once measured, its effect."""
    if not found:
        return []
    items = []
    for r in found:
        text = f"{say(*STATES[r['state']], lang)}{' · ' + say('逾期', 'overdue', lang) if r['overdue'] else ''} · {r['what']}"
        if r["verdict"]:
            text += (f" · {r['before']:.2f} → {r['after']:.2f} {say('件/月', 'cases/month', lang)}, "
                     f"{say('双重差分', 'DiD', lang)} {r['did']:+.2f} ({say(*VERDICT_WORDS[r['verdict']], lang)})")
        items.append(html.Li(text, className="overdue" if r["overdue"] else None))
    return [html.H4(say("治理工单", "Remediation orders", lang)), html.Ul(items, id="overview-details-remediations")]


def _remediation_links(d, lang):
    """立项治理 from a click: the cell (its most frequent problem filled in), or an estate or setback area on it."""
    if not may_propose(person().role):
        return []
    query = {"category": d["top_category"]} if d["top_category"] else {}
    here = {"lang": "en"} if lang == "en" else {}

    def link(kind, code, text, id_=None):
        href = "/remediation?" + urlencode({"place_kind": kind, "place": code, **query, **here})
        return html.A(text, href=href, className="link remediation-link", **({"id": id_} if id_ else {}))

    places = [html.Li(link(p["place_kind"], p["place"], f"{p['name']}")) for p in d["places"][:8]]
    return [html.Div(className="details-actions", children=[
        link("grid_cell", d["grid_cell"], say("立项治理", "Open a remediation", lang), "overview-details-remediate"),
        html.Ul(places, className="details-places") if places else None])]


# The filter lives in the address bar: each change replaces the query in place (no reload, no
# history entry per click), so the view can be bookmarked or put on a screen as it is.
clientside_callback(
    """function(href) {
        if (href && window.location.pathname + window.location.search !== href) {
            window.history.replaceState(window.history.state, "", href);
        }
        return href;
    }""",
    Output("overview-url-written", "children"),
    Input("overview-link", "href"),
)


def _case_panel(case_id, area, lang):
    store = store_from_request()
    d = case_details(store, case_id, area, lang)
    if d is None:
        return html.Div(say("没有这个案件", "No such case", lang, sep=" · "), className="hint")
    unit = d["responsible_unit"] or say("未列明", "none listed", lang)
    return [
        html.H3(f"{d['category']} · {d['status']}", id="overview-details-name"),
        html.Div(d["case_id"]),
        html.Div(f"{say('层级', 'level', lang)} {d['level']} · {only(('责任单位', 'responsible unit'), lang)} {unit}"),
        html.Div(className="details-figures", children=[html.Span(f"{k} {v}") for k, v in d["lifecycle"]]),
        html.H4(say("来源", "Intake records", lang)),
        html.Ul([html.Li(f"{s['channel']} {s['source_id']} {s['reported_at']}"
                         + (f" · {say('合并理由', 'merged because', lang)} {s['merge_reason']}"
                            if s["merge_reason"] else ""))
                 for s in d["sources"]], id="overview-details-latest"),
    ]
