"""A catalogue layer's map style as colours, and as the QGIS style a GeoPackage carries.

A style is a small dict (``{"line": "#999999", "width": 0.5}``, ``{"fill": "bin"}``,
``{"marker": "status"}``): a colour, or the name of a field whose values get colours.
The HTML map and the GeoPackage export both colour by it. QGIS reads a
GeoPackage's ``layer_styles`` table and applies the default style of each layer
when the layer is added, so a planner's map looks like ours without restyling.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

import pandas as pd

# Colours of a field's values, in their sorted order (values beyond the palette take its last colour).
PALETTE = ("#2b6cb0", "#d53e4f", "#f6ad55", "#38a169", "#805ad5", "#dd6b20", "#319795", "#718096")
# Diverging colours of a -3…3 or -1…1 field: cold to hot.
DIVERGING = {-3: "#2166ac", -2: "#67a9cf", -1: "#d1e5f0", 0: "#f7f7f7", 1: "#fddbc7", 2: "#ef8a62", 3: "#b2182b"}
FALLBACK = "#555555"
FILL_OPACITY, MARKER_OPACITY = 0.45, 0.8


def style_field(style: dict) -> str | None:
    """The field a style colours by (``{"fill": "bin"}``), or None when it gives colours."""
    return next((v for v in style.values() if isinstance(v, str) and not v.startswith("#")), None)


def value_colours(frame: pd.DataFrame, style: dict) -> dict:
    """Value → colour of the style's field over the frame's values; empty when the style gives colours."""
    field = style_field(style)
    if field is None or field not in frame:
        return {}
    values = sorted(frame[field].dropna().unique().tolist(), key=str)
    if values and field != "score" and all(isinstance(v, (int, float)) and v in DIVERGING for v in values):
        return {v: DIVERGING[int(v)] for v in values}
    return {v: PALETTE[min(i, len(PALETTE) - 1)] for i, v in enumerate(values)}


def look(style: dict, colour: str | None = None) -> dict:
    """Leaflet's path options for one feature; ``colour`` is its value's colour where the style has a field."""
    if "line" in style:  # outlines: the shapes under everything else
        return {"color": style["line"], "weight": style.get("width", 1), "fillOpacity": 0.0}
    key = "fill" if "fill" in style else "marker"
    given = style.get(key, "")
    shade = given if str(given).startswith("#") else colour or FALLBACK
    return {"color": shade, "weight": 1, "fillColor": shade,
            "fillOpacity": FILL_OPACITY if key == "fill" else MARKER_OPACITY}


def qgis_style(style: dict, geometry: str, colours: dict) -> str:
    """The style as a QGIS style document (QML): one symbol, or one per value of the style's field."""
    kind = "marker" if "Point" in geometry else "line" if "Line" in geometry else "fill"
    field = style_field(style)
    if field and colours:
        symbols = "".join(_symbol(str(i), kind, look(style, colour)) for i, colour in enumerate(colours.values()))
        categories = "".join(f"<category render=\"true\" symbol=\"{i}\" value={quoteattr(str(value))} "
                             f"label={quoteattr(str(value))}/>" for i, value in enumerate(colours))
        renderer = (f"<renderer-v2 type=\"categorizedSymbol\" attr={quoteattr(field)} symbollevels=\"0\" "
                    f"forceraster=\"0\" enableorderby=\"0\"><categories>{categories}</categories>"
                    f"<symbols>{symbols}</symbols></renderer-v2>")
    else:
        renderer = (f"<renderer-v2 type=\"singleSymbol\" symbollevels=\"0\" forceraster=\"0\" enableorderby=\"0\">"
                    f"<symbols>{_symbol('0', kind, look(style))}</symbols></renderer-v2>")
    return ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>"
            f"<qgis version=\"3.28.0\" styleCategories=\"Symbology\">{renderer}</qgis>")


def _symbol(name: str, kind: str, path: dict) -> str:
    fill = _rgba(path.get("fillColor", path["color"]), path.get("fillOpacity", 0.0))
    line = _rgba(path["color"], 1.0)
    width = f"{float(path.get('weight', 1)) * 0.26:.2f}"  # Leaflet pixels to QGIS millimetres
    if kind == "marker":
        layer = ("SimpleMarker", {"name": "circle", "color": fill, "outline_color": line, "size": "2",
                                  "outline_width": "0.2"})
    elif kind == "line":
        layer = ("SimpleLine", {"line_color": line, "line_width": width})
    else:
        layer = ("SimpleFill", {"color": fill, "outline_color": line, "outline_width": width,
                                "style": "solid" if path.get("fillOpacity", 0.0) > 0 else "no"})
    options = "".join(f"<Option name=\"{k}\" type=\"QString\" value=\"{v}\"/>" for k, v in layer[1].items())
    return (f"<symbol type=\"{kind}\" name=\"{name}\" alpha=\"1\" clip_to_extent=\"1\" force_rhr=\"0\">"
            f"<layer class=\"{layer[0]}\" enabled=\"1\" locked=\"0\" pass=\"0\">"
            f"<Option type=\"Map\">{options}</Option></layer></symbol>")


def _rgba(hex_colour: str, opacity: float) -> str:
    red, green, blue = (int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))
    return f"{red},{green},{blue},{round(opacity * 255)}"
