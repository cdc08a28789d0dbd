"""The command hall's wall screen: full screen, dark, large type, no controls.

``/wall?preset=today&rotate=1&interval=60`` (or a kiosk link, ``/wall?kiosk=TOKEN``,
which carries its own view and area) refreshes from the store every
``interval`` seconds, in place (no reload), turning through the district and
then each street when ``rotate`` is set. If the store cannot be reached the
last good picture stays up under a banner that says since when; if it reads
from a replica whose primary is down, the picture goes on refreshing under a
banner that says intake is paused.
"""

from __future__ import annotations

import dash
from dash import Input, Output, State, callback, dcc, html

from dashboards.data import district_title
from dashboards.i18n import language
from dashboards.request import basemap_from_request, principal, store_from_request
from dashboards.wall import wall_refresh

dash.register_page(__name__, path="/wall", name="大屏 Wall", title="社会治理一张图 · 大屏", header=False)

DEFAULT_INTERVAL_S = 60


def _interval(text) -> int:
    try:
        return min(3600, max(2, int(text)))
    except (TypeError, ValueError):
        return DEFAULT_INTERVAL_S


def layout(**kwargs):
    who = principal()
    # A kiosk shows the view it was made for; a person may pass the view in the link.
    kwargs = dict(who.view) if who.kind == "kiosk" else {k: v for k, v in kwargs.items() if k != "kiosk"}
    # Today's figures unless the link names a period.
    query = dict(kwargs) if kwargs.get("from") or kwargs.get("to") or kwargs.get("preset") else {"preset": "today",
                                                                                                **kwargs}
    return html.Div(className="wall", children=[
        dcc.Store(id="wall-query", data=query),
        dcc.Store(id="wall-last-good"),
        dcc.Interval(id="wall-tick", interval=_interval(kwargs.get("interval")) * 1000, n_intervals=0),
        html.Div(className="wall-head", children=[
            html.H1(district_title(store_from_request(), language(kwargs.get("lang")))),
            html.Span(id="wall-title", className="wall-title"),
            html.Span(id="wall-refreshed", className="wall-refreshed"),
        ]),
        html.Div(id="wall-banner", className="wall-banner", style={"display": "none"}),
        html.Div(id="wall-kpis", className="kpis wall-kpis"),
        html.Div(id="wall-ticker", className="ticker wall-ticker", role="status", **{"aria-live": "polite"}),
        html.Div(className="wall-body", children=[
            # The map and the panel share what the head, the tiles and the ticker leave of the screen
            # (assets/wall_panel.css): the panel beside the map, not under it, so the map keeps its height.
            dcc.Graph(id="wall-map", className="wall-map", config={"displayModeBar": False, "staticPlot": False},
                      style={"height": "100%"}),
            html.Div(id="wall-remediation", className="wall-remediation", role="region",
                     **{"aria-label": "靶向治理 Remediation"}),
        ]),
    ])


@callback(Output("wall-kpis", "children"), Output("wall-map", "figure"), Output("wall-title", "children"),
          Output("wall-refreshed", "children"), Output("wall-banner", "children"), Output("wall-banner", "style"),
          Output("wall-last-good", "data"), Output("wall-ticker", "children"), Output("wall-remediation", "children"),
          Input("wall-tick", "n_intervals"), State("wall-query", "data"), State("wall-last-good", "data"))
def refresh(tick, query, last_good):
    who = principal()
    if who is None:
        raise PermissionError("no user or kiosk for this request")
    # What the browser sends back of the wall's own stores; anything else is taken as a fresh start.
    tick = tick if isinstance(tick, int) and not isinstance(tick, bool) and tick >= 0 else 0
    query = query if isinstance(query, dict) else {}
    last_good = last_good if isinstance(last_good, str) else None
    return wall_refresh(store_from_request, query, tick, last_good, area=who.area,
                        basemap=basemap_from_request())

