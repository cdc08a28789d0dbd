"""Plain functions that turn frames into Plotly figures (plain dicts); no Dash, no store."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go
from plotly import colors
import plotly.io as pio

# A small template of our own: plotly's default one is 6 KB of JSON in every figure of every response.
TEMPLATE = go.layout.Template(layout=dict(
    font=dict(family="Noto Sans CJK SC, Microsoft YaHei, sans-serif", color="#1b2433"),
    xaxis=dict(gridcolor="#edf2f7", zeroline=False), yaxis=dict(gridcolor="#edf2f7", zeroline=False)))
TEMPLATE_NAME = "onemap"
pio.templates[TEMPLATE_NAME] = TEMPLATE

# The district's own outlines are the basemap: nothing is fetched, so the map works offline.
MAP_STYLE = "white-bg"


# Few cases pale yellow, many dark red (plotly.js reads the name "YlOrRd" the other way round).
CASE_COLOURS = [[i / (len(colors.sequential.YlOrRd) - 1), c] for i, c in enumerate(colors.sequential.YlOrRd)]
OUTLINE_STYLES = {"communities": (1.2, "#4a5568"), "streets": (2.0, "#1f3b73")}


def case_map(cells, *, cells_geojson, outlines: dict, title="网格案件数 Cases per grid cell",
             outline_colour=None, place: str = "") -> dict:
    """Per-cell case choropleth with community and street outlines on a blank basemap, as a plain figure dict.

    Plain dicts, not plotly objects: checking a figure with 600 polygons in it costs more than
    everything else in a filter change. ``outlines`` (layer → GeoJSON) may be URLs the browser
    fetches once (the dashboard's ``/geo/…``); they do not change with the filter.
    The map fits the cells shown when ``place`` changes, and keeps the user's pan and zoom otherwise.
    """
    choropleth = dict(
        type="choroplethmap", geojson=cells_geojson, featureidkey="properties.grid_cell",
        locations=cells["grid_cell"].tolist(), z=cells["cases"].tolist(),
        customdata=np.column_stack([cells["name"], cells["cases_per_km2"]]).tolist(),
        hovertemplate="%{customdata[0]}<br>案件 cases: %{z}<br>每平方公里 per km²: %{customdata[1]}<extra></extra>",
        colorscale=CASE_COLOURS, marker=dict(line=dict(width=0.2, color="#999")),
        colorbar=dict(title=dict(text="案件<br>cases"), thickness=12), name="grid_cells")
    layers = [dict(sourcetype="geojson", source=source, type="line", color=outline_colour or OUTLINE_STYLES[name][1],
                   line=dict(width=OUTLINE_STYLES[name][0]), name=name) for name, source in outlines.items()]
    minx, miny, maxx, maxy = (cells.total_bounds if len(cells) else (121.35, 29.85, 121.65, 30.06))
    return {"data": [choropleth], "layout": dict(
        map=dict(style=MAP_STYLE, center=dict(lon=(minx + maxx) / 2, lat=(miny + maxy) / 2),
                 zoom=_zoom(maxx - minx, maxy - miny, lat=(miny + maxy) / 2), layers=layers),
        margin=dict(l=0, r=0, t=30, b=0), title=dict(text=title, x=0.01, font=dict(size=14)),
        uirevision=f"case-map {place}")}


def cells_geojson(cells) -> dict:
    """The cells' outlines, simplified to about 5 m, as a GeoJSON dict keyed by ``grid_cell``."""
    return json.loads(cells[["grid_cell", "geometry"]].assign(geometry=cells.geometry.simplify(0.00005)).to_json(
        drop_id=True))


def _zoom(width_deg, height_deg, *, width_px=1200, height_px=460, lat=29.95):
    """The web-map zoom that fits the extent into a map of about that many pixels."""
    # At zoom z a 512-px tile spans 360/2^z degrees of longitude; latitude stretches by 1/cos(lat).
    fit_w = np.log2(width_px * 360.0 / (512 * max(width_deg, 1e-4)))
    fit_h = np.log2(height_px * 360.0 * np.cos(np.radians(lat)) / (512 * max(height_deg, 1e-4)))
    return float(np.clip(min(fit_w, fit_h) - 0.15, 8, 17))


STATUS_COLOURS = {"reported": ("#e53e3e", "已受理 reported"), "dispatched": ("#dd6b20", "已派单 dispatched"),
                  "coordinated": ("#d69e2e", "协调中 coordinated"), "closed": ("#38a169", "已办结 closed")}
SETBACK_COLOURS = {"unmanaged": ("#c53030", "失管退红空间 unmanaged setback"),
                   "handed_over": ("#2f855a", "已移交退红空间 handed-over setback")}


def _polygons(fig, frame, key, colour, name, hover):
    fig["data"].append(dict(
        type="choroplethmap", geojson=json.loads(frame[[key, "geometry"]].to_json(drop_id=True)),
        featureidkey=f"properties.{key}", locations=frame[key].tolist(), z=[1] * len(frame),
        colorscale=[[0, colour], [1, colour]], showscale=False, marker=dict(opacity=0.75, line=dict(width=0.5, color=colour)),
        name=name, showlegend=True, hovertext=hover.tolist(), hoverinfo="text"))


def _points(fig, frame, *, name, colour, size, hover, ids=None):
    trace = dict(type="scattermap", lon=frame.geometry.x.round(6).tolist(), lat=frame.geometry.y.round(6).tolist(),
                 mode="markers", marker=dict(size=size, color=colour), name=name, hovertext=hover.tolist(),
                 hoverinfo="text")
    if ids is not None:
        trace["customdata"] = ids.tolist()
    fig["data"].append(trace)


def add_layers(fig: dict, *, points=None, setback_areas=None, estates=None, components=None) -> dict:
    """Optional layers over the case map, each with its own legend entry."""
    if estates is not None and len(estates):
        _polygons(fig, estates, "estate_id", "#805ad5", "老旧小区 old estates", estates["name"])
    if setback_areas is not None and len(setback_areas):
        for status, (colour, name) in SETBACK_COLOURS.items():
            part = setback_areas[setback_areas["status"] == status]
            if len(part):
                _polygons(fig, part, "setback_area", colour, name,
                          part["name"] + "<br>" + part["managing_unit"].fillna("无管理单位 no managing unit"))
    if components is not None and len(components):
        _points(fig, components, name="城市部件 components", colour="#2b6cb0", size=5,
                hover=components["class_name"] + " " + components["component_id"])
    if points is not None and len(points):
        located = points[points.geometry.notna() & ~points.geometry.is_empty]
        for status, (colour, name) in STATUS_COLOURS.items():
            part = located[located["status"] == status]
            if len(part):
                _points(fig, part, name=name, colour=colour, size=7, ids=part["case_id"],
                        hover=part["category"].astype(str) + " " + part["case_id"])
    fig["layout"].update(showlegend=True, legend=dict(x=0.01, y=0.01, bgcolor="rgba(255,255,255,0.85)"))
    return fig
