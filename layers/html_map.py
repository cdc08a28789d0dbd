"""A standalone HTML map of catalogue layers (folium), one file that draws with no network.

folium's page loads Leaflet, jQuery and Bootstrap from CDNs; a command hall's
machine often cannot reach them, and then the map draws nothing. Here the
page carries Leaflet itself (``layers/vendor/leaflet``) and nothing else is
loaded: the layers are GeoJSON with tooltips and a layer switch, which is all
Leaflet's core needs. No basemap tiles either, for the same reason: the
district's own shapes are the map.
"""

from __future__ import annotations

import base64
from pathlib import Path

import geopandas as gpd
import pandas as pd

from layers.areas import CHINA_EXTENT
from layers.catalogue import CATALOGUE
from layers.styles import look, style_field, value_colours

LEAFLET = Path(__file__).parent / "vendor" / "leaflet"
TOOLTIP_FIELDS = 6


def html_map(frames: dict[str, gpd.GeoDataFrame]) -> str:
    """The page: each frame a layer (catalogue title and style), fitted to what is drawn."""
    import folium

    shown = {name: frame.to_crs(4326) if frame.crs is not None and not frame.crs.equals("EPSG:4326") else frame
             for name, frame in frames.items()}
    drawn = [f.geometry[~f.geometry.is_empty & f.geometry.notna()] for f in shown.values()]
    drawn = [g for g in drawn if len(g)]
    bounds = pd.concat(drawn).total_bounds if drawn else CHINA_EXTENT
    page = folium.Map(tiles=None, control_scale=True)
    _standalone(page)
    for name, frame in shown.items():
        layer = CATALOGUE.get(name)
        title = " · ".join(layer.title) if layer else name
        fields = [c for c in frame.columns if c != frame.geometry.name][:TOOLTIP_FIELDS]
        aliases = [_alias(layer, c) for c in fields]
        style = layer.style if layer else {}
        coloured_by = [c for c in [style_field(style)] if c in frame and c not in fields]
        data = _json_ready(frame[fields + coloured_by + [frame.geometry.name]])
        colours = value_colours(frame, style)
        points = (frame.geom_type.dropna() == "Point").all() and len(frame)
        folium.GeoJson(
            data.to_json(drop_id=True), name=title,
            style_function=lambda feature, style=style, colours=colours: look(
                style, colours.get((feature.get("properties") or {}).get(style_field(style)))),
            marker=folium.CircleMarker(radius=4, fill=True, fill_opacity=0.8, weight=1) if points else None,
            tooltip=folium.GeoJsonTooltip(fields=fields, aliases=aliases) if fields else None,
        ).add_to(page)
    folium.LayerControl(collapsed=False).add_to(page)
    page.fit_bounds([[bounds[1], bounds[0]], [bounds[3], bounds[2]]])
    return page.get_root().render()


def write_html_map(frames: dict[str, gpd.GeoDataFrame], path) -> None:
    """The layers as one standalone HTML map (Leaflet inside the page) at ``path``."""
    Path(path).write_text(html_map(frames), encoding="utf-8")


def _standalone(page) -> None:
    """Leaflet's script and stylesheet inside the page, and nothing fetched from elsewhere."""
    import folium

    page.default_js, page.default_css = [], []
    css = (LEAFLET / "leaflet.css").read_text(encoding="utf-8")
    for image in ("layers.png", "layers-2x.png"):
        data = base64.b64encode((LEAFLET / "images" / image).read_bytes()).decode("ascii")
        css = css.replace(f"url(images/{image})", f"url(data:image/png;base64,{data})")
    script = (LEAFLET / "leaflet.js").read_text(encoding="utf-8")
    header = page.get_root().header
    header.add_child(folium.Element(f"<style>{css}</style>"), name="leaflet_css")
    header.add_child(folium.Element(f"<script>{script}</script>"), name="leaflet_js")


def _alias(layer, column: str) -> str:
    fields = {f.name: f for f in layer.fields} if layer else {}
    return f"{fields[column].zh} {fields[column].en}" if column in fields else column


def _json_ready(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # Times as text and categoricals as plain values: what json and Leaflet's tooltip show as they are.
    out = frame.copy()
    for column in out.columns:
        if column == out.geometry.name:
            continue
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M").astype(object).where(out[column].notna(), None)
        elif not pd.api.types.is_numeric_dtype(out[column]) or isinstance(out[column].dtype, pd.CategoricalDtype):
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
