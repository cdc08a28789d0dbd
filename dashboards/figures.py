"""Plain functions that turn frames into Plotly figures; no Dash, no store."""

from __future__ import annotations

import json

import numpy as np
import plotly.graph_objects as go

# The district's own outlines are the basemap: nothing is fetched, so the map works offline.
MAP_STYLE = "white-bg"


def _outline_xy(frame, tolerance=0.0002):
    """Lon/lat arrays of every ring's boundary, rings separated by None (one line trace)."""
    lons, lats = [], []
    for geom in frame.geometry.simplify(tolerance):
        for line in getattr(geom.boundary, "geoms", [geom.boundary]):
            xs, ys = line.xy
            lons.extend(np.round(xs, 6).tolist() + [None])
            lats.extend(np.round(ys, 6).tolist() + [None])
    return lons, lats


def case_map(cells, streets, communities, *, title="网格案件数 Cases per grid cell") -> go.Figure:
    """Per-cell case choropleth with community and street outlines on a blank basemap."""
    geojson = json.loads(cells[["grid_cell", "geometry"]].assign(
        geometry=cells.geometry.simplify(0.00005)).to_json())
    fig = go.Figure()
    fig.add_trace(go.Choroplethmap(
        geojson=geojson, featureidkey="properties.grid_cell",
        locations=cells["grid_cell"], z=cells["cases"],
        customdata=np.column_stack([cells["name"], cells["cases_per_km2"]]),
        hovertemplate="%{customdata[0]}<br>案件 cases: %{z}<br>每平方公里 per km²: %{customdata[1]}<extra></extra>",
        colorscale="YlOrRd", marker_line_width=0.2, marker_line_color="#999",
        colorbar=dict(title=dict(text="案件<br>cases"), thickness=12),
        name="grid_cells",
    ))
    for frame, width, color, name in ((communities, 1.2, "#4a5568", "communities"), (streets, 2.0, "#1f3b73", "streets")):
        lon, lat = _outline_xy(frame)
        fig.add_trace(go.Scattermap(lon=lon, lat=lat, mode="lines", line=dict(width=width, color=color),
                                    hoverinfo="skip", name=name, showlegend=False))
    minx, miny, maxx, maxy = (cells.total_bounds if len(cells) else (121.35, 29.85, 121.65, 30.06))
    fig.update_layout(
        map=dict(style=MAP_STYLE, center=dict(lon=(minx + maxx) / 2, lat=(miny + maxy) / 2),
                 zoom=_zoom(maxx - minx, maxy - miny, lat=(miny + maxy) / 2)),
        margin=dict(l=0, r=0, t=30, b=0), title=dict(text=title, x=0.01, font=dict(size=14)),
        uirevision="case-map",
    )
    return fig


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
    geojson = json.loads(frame[[key, "geometry"]].to_json())
    fig.add_trace(go.Choroplethmap(
        geojson=geojson, featureidkey=f"properties.{key}", locations=frame[key], z=np.ones(len(frame)),
        colorscale=[[0, colour], [1, colour]], showscale=False, marker_opacity=0.75, marker_line_width=0.5,
        marker_line_color=colour, name=name, showlegend=True, hovertext=hover, hoverinfo="text"))


def add_layers(fig: go.Figure, *, points=None, setback_areas=None, estates=None, components=None) -> go.Figure:
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
        fig.add_trace(go.Scattermap(
            lon=components.geometry.x.round(6), lat=components.geometry.y.round(6), mode="markers",
            marker=dict(size=5, color="#2b6cb0"), name="城市部件 components",
            hovertext=components["class_name"] + " " + components["component_id"], hoverinfo="text"))
    if points is not None and len(points):
        located = points[points.geometry.notna() & ~points.geometry.is_empty]
        for status, (colour, name) in STATUS_COLOURS.items():
            part = located[located["status"] == status]
            if len(part):
                fig.add_trace(go.Scattermap(
                    lon=part.geometry.x.round(6), lat=part.geometry.y.round(6), mode="markers",
                    marker=dict(size=7, color=colour), name=name, customdata=part["case_id"],
                    hovertext=part["category"].astype(str) + " " + part["case_id"], hoverinfo="text"))
    fig.update_layout(showlegend=True, legend=dict(x=0.01, y=0.01, bgcolor="rgba(255,255,255,0.85)"))
    return fig
