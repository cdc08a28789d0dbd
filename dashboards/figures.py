"""Plain functions that turn frames into Plotly figures (plain dicts); no Dash, no store."""

from __future__ import annotations

import base64
import json
import warnings

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import shapely
from plotly import colors

from dashboards.basemap import NO_BASEMAP, Basemap
from dashboards.i18n import pick, say
from layers.features import feature_id
from layers.glossary import STATUS_LABELS
from layers.styles import look, style_field, value_colours

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


# What the cells are coloured by: column, legend title, map title.
MEASURES = {"cases": ("cases", ("案件", "cases"), ("网格案件数", "Cases per grid cell")),
            "per_km2": ("cases_per_km2", ("件/km²", "per km²"), ("每平方公里案件数", "Cases per km²")),
            "per_1000": ("cases_per_1000", ("件/千人", "per 1,000"), ("每千名居民案件数", "Cases per 1,000 residents"))}


def case_map(cells, *, cells_geojson, outlines: dict, measure: str = "cases", outline_colour=None,
             place: str = "", basemap: Basemap = NO_BASEMAP, lang: str = "zh",
             extent=(121.35, 29.85, 121.65, 30.06)) -> dict:
    """Per-cell case choropleth with community and street outlines on a blank basemap, as a plain figure dict.

    Plain dicts, not plotly objects: checking a figure with 600 polygons in it costs more than
    everything else in a filter change. ``outlines`` (layer → GeoJSON) may be URLs the browser
    fetches once (the dashboard's ``/geo/…``); they do not change with the filter.
    The map fits the cells shown (``extent``, the district's bounds, when there are none) when ``place`` changes, and keeps the user's pan and zoom otherwise.
    ``cells_geojson`` and ``outlines`` are already in the basemap's datum; the centre is shifted here.
    """
    column, legend, title = MEASURES[measure]
    choropleth = dict(
        type="choroplethmap", geojson=cells_geojson, featureidkey="properties.grid_cell",
        locations=cells["grid_cell"].tolist(), z=cells[column].astype(float).fillna(0).tolist(),
        customdata=np.column_stack([cells["name"], cells["cases"], cells["cases_per_km2"],
                                    cells["cases_per_1000"].astype(object).where(cells["cases_per_1000"].notna(), "—")
                                    ]).tolist(),
        hovertemplate=(f"%{{customdata[0]}}<br>{say('案件', 'cases', lang)}: %{{customdata[1]}}"
                       f"<br>{say('每平方公里', 'per km²', lang)}: %{{customdata[2]}}"
                       f"<br>{say('每千人', 'per 1,000 residents', lang)}: %{{customdata[3]}}<extra></extra>"),
        colorscale=CASE_COLOURS, marker=dict(line=dict(width=0.2, color="#999")),
        name="grid_cells", **colour_range(cells[column], counts=measure == "cases",
                                          colorbar=dict(title=dict(text=pick(legend, lang, sep="<br>")), thickness=12)))
    layers = [dict(sourcetype="geojson", source=source, type="line", color=outline_colour or OUTLINE_STYLES[name][1],
                   line=dict(width=OUTLINE_STYLES[name][0]), name=name) for name, source in outlines.items()]
    if basemap.layer():
        layers.insert(0, basemap.layer())
    minx, miny, maxx, maxy = cells.total_bounds if len(cells) else extent  # no cell in view: the district
    (minx, maxx), (miny, maxy) = basemap.xy([minx, maxx], [miny, maxy])
    return {"data": [choropleth], "layout": dict(
        map=dict(style=MAP_STYLE, center=dict(lon=(minx + maxx) / 2, lat=(miny + maxy) / 2),
                 zoom=_zoom(maxx - minx, maxy - miny, lat=(miny + maxy) / 2), layers=layers),
        margin=dict(l=0, r=0, t=30, b=0), title=dict(text=pick(title, lang), x=0.01, font=dict(size=14)),
        # What the browser fits to the map's own size (assets/fit.js): the zoom above assumes a laptop's.
        meta=dict(fit=[float(minx), float(miny), float(maxx), float(maxy)]),
        uirevision=f"case-map {place}")}


def colour_range(values, *, counts: bool, colorbar: dict) -> dict:
    """A colour scale from 0 (``zmin``, ``zmax`` and the ``colorbar``): 47 and 48 cases are two shades of
    the same red, not the scale's two ends. Counts get whole-number ticks only (0.5 cases means nothing).
    """
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    top = max(float(finite.max()) if len(finite) else 0.0, 1.0)
    if counts:
        colorbar = dict(colorbar, tickvals=list(range(0, int(top) + 1, nice_step(top))), tickformat=",d")
    return dict(zmin=0, zmax=top, colorbar=colorbar)


def nice_step(top: float, ticks: int = 5) -> int:
    """A whole step of 1, 2 or 5 times a power of ten giving about ``ticks`` ticks from 0 to ``top``."""
    rough = max(top / ticks, 1.0)
    power = 10 ** int(np.floor(np.log10(rough)))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= rough))


def cells_geojson(cells) -> dict:
    """The cells' outlines, simplified to about 5 m, as a GeoJSON dict keyed by ``grid_cell``.

    Coordinates keep 6 decimals (0.1 m): every filter change sends these, a quarter fewer bytes.
    """
    outlines = shapely.transform(cells.geometry.simplify(0.00005).values, lambda xy: np.round(xy, 6))
    return json.loads(cells[["grid_cell", "geometry"]].assign(geometry=outlines).to_json(drop_id=True))


def _zoom(width_deg, height_deg, *, width_px=1200, height_px=460, lat=29.95):
    """The web-map zoom that fits the extent into a map of about that many pixels."""
    # At zoom z a 512-px tile spans 360/2^z degrees of longitude; latitude stretches by 1/cos(lat).
    fit_w = np.log2(width_px * 360.0 / (512 * max(width_deg, 1e-4)))
    fit_h = np.log2(height_px * 360.0 * np.cos(np.radians(lat)) / (512 * max(height_deg, 1e-4)))
    return float(np.clip(min(fit_w, fit_h) - 0.15, 8, 17))


STATUS_COLOURS = {status: (colour, STATUS_LABELS[status]) for status, colour in (
    ("reported", "#e53e3e"), ("dispatched", "#dd6b20"), ("coordinated", "#d69e2e"), ("closed", "#38a169"))}
SETBACK_COLOURS = {"unmanaged": ("#c53030", ("失管退红空间", "unmanaged setback")),
                   "in_renovation": ("#d69e2e", ("整治中退红空间", "setback in renovation")),
                   "handed_over": ("#2f855a", ("已移交退红空间", "handed-over setback"))}


def _polygons(fig, frame, key, colour, name, hover):
    fig["data"].append(dict(
        type="choroplethmap", geojson=json.loads(frame[[key, "geometry"]].to_json(drop_id=True)),
        featureidkey=f"properties.{key}", locations=frame[key].tolist(), z=[1] * len(frame),
        colorscale=[[0, colour], [1, colour]], showscale=False,
        marker=dict(opacity=0.75, line=dict(width=0.5, color=colour)),
        name=name, showlegend=True, hovertext=hover.tolist(), hoverinfo="text"))


def _points(fig, frame, *, name, colour, size, hover, ids=None):
    trace = dict(type="scattermap", lon=frame.geometry.x.round(6).tolist(), lat=frame.geometry.y.round(6).tolist(),
                 mode="markers", marker=dict(size=size, color=colour), name=name, hovertext=hover.tolist(),
                 hoverinfo="text")
    if ids is not None:
        trace["customdata"] = ids.tolist()
    fig["data"].append(trace)


def add_layers(fig: dict, *, points=None, setback_areas=None, estates=None, components=None,
               basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """Optional layers over the case map, each with its own legend entry, drawn in the basemap's datum."""
    points, setback_areas, estates, components = (basemap.shift(f) for f in (points, setback_areas, estates,
                                                                             components))
    if estates is not None and len(estates):
        _polygons(fig, estates, "estate_id", "#805ad5", say("老旧小区", "old estates", lang), estates["name"])
    if setback_areas is not None and len(setback_areas):
        for status, (colour, name) in SETBACK_COLOURS.items():
            part = setback_areas[setback_areas["status"] == status]
            if len(part):
                _polygons(fig, part, "setback_area", colour, pick(name, lang),
                          part["name"] + "<br>" + part["managing_unit"].fillna(say("无管理单位", "no managing unit", lang)))
    if components is not None and len(components):
        _points(fig, components, name=say("城市部件", "components", lang), colour="#2b6cb0", size=5,
                hover=components["class_name"] + " " + components["component_id"])
    if points is not None and len(points):
        located = points[points.geometry.notna() & ~points.geometry.is_empty]
        for status, (colour, name) in STATUS_COLOURS.items():
            part = located[located["status"] == status]
            if len(part):
                _points(fig, part, name=pick(name, lang), colour=colour, size=7, ids=part["case_id"],
                        hover=part["category"].astype(str) + " " + part["case_id"].astype(str))
    fig["layout"].update(showlegend=True, legend=dict(x=0.01, y=0.01, bgcolor="rgba(255,255,255,0.85)"))
    return fig


def add_catalogue_layer(fig: dict, layer, frame, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """A catalogue layer the map has no view of its own for, in the catalogue's style: one legend entry
    per value of the field it is coloured by (or one, in its colour)."""
    frame = basemap.shift(frame)
    frame = frame[frame.geometry.notna() & ~frame.geometry.is_empty]
    if not len(frame):
        return fig
    frame = frame.assign(_key=feature_id(frame, layer.key) if layer.key else frame.index.astype(str))
    field = style_field(layer.style)
    colours = value_colours(frame, layer.style)
    groups = [(frame[frame[field] == value], colour, f"{pick(layer.title, lang)} · {value}")
              for value, colour in colours.items()] if colours else [
        (frame, look(layer.style)["color"], pick(layer.title, lang))]
    shown = [c for c in frame.columns if c not in ("geometry", "_key")][:2]
    for part, colour, name in groups:
        hover = part[shown].astype(str).agg(" ".join, axis=1) if shown else part["_key"]
        if "Point" in layer.geometry:
            _points(fig, part, name=name, colour=colour, size=6, hover=hover)
        else:
            _polygons(fig, part, "_key", colour, name, hover)
    fig["layout"].update(showlegend=True, legend=dict(x=0.01, y=0.01, bgcolor="rgba(255,255,255,0.85)"))
    return fig


HEAT_COLOURS = colors.sample_colorscale(colors.sequential.YlOrRd, np.linspace(0, 1, 256), colortype="tuple")
_HEAT_LUT = np.array([[round(c * 255) for c in rgb] for rgb in HEAT_COLOURS], dtype=np.uint8)


def add_heat(fig: dict, heat, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """The kernel density as a picture on the map, under the traces, with a legend entry that states it."""
    peak = float(heat.density.max())
    level = np.clip(heat.density / peak, 0, 1) if peak > 0 else np.zeros_like(heat.density)
    index = (level * 255).astype(np.uint8)
    rgba = np.concatenate([_HEAT_LUT[index].transpose(2, 0, 1),
                           (np.sqrt(level) * 210).astype(np.uint8)[None]], axis=0)  # faint where thin
    _cells_step_back(fig)
    corners = np.array(heat.corners_lonlat())
    layers = fig["layout"]["map"]["layers"]
    above_basemap = 1 if layers and layers[0].get("name") == "basemap" else 0
    layers.insert(above_basemap, dict(
        sourcetype="image", source="data:image/png;base64," + base64.b64encode(_png(rgba)).decode(),
        coordinates=np.column_stack(basemap.xy(corners[:, 0], corners[:, 1])).tolist(),
        below="traces", opacity=0.85, name="heat"))
    fig["data"].append(dict(type="scattermap", lon=[None], lat=[None], mode="markers", showlegend=True,
                            marker=dict(size=12, color="rgb(189,0,38)"),
                            name=f"{say('案件热力', 'Case heat', lang)} · {'KDE' if lang == 'en' else '核密度'} "
                                 f"{heat.bandwidth_m:.0f} m · {say('峰值', 'peak', lang)} {peak:,.0f}/km²"))
    return fig


def _cells_step_back(fig: dict):
    # The cells fade to outlines (still there to click), so a layer over them reads on its own.
    for trace in fig["data"]:
        if trace.get("name") == "grid_cells":
            trace.update(showscale=False, marker=dict(trace.get("marker", {}), opacity=0.08))


def _png(rgba: np.ndarray) -> bytes:
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a picture, placed by its corners
        with MemoryFile() as memory:
            with memory.open(driver="PNG", width=rgba.shape[2], height=rgba.shape[1], count=4, dtype="uint8") as png:
                png.write(rgba)
            return memory.read()


# Gi* confidence bins and emerging patterns: reds for hot, blues for cold, darker for surer.
BIN_COLOURS = {3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", -1: "#d1e5f0", -2: "#67a9cf", -3: "#2166ac"}
PATTERN_COLOURS = {"new": ("#fdae61", "#abd9e9"), "consecutive": ("#f46d43", "#74add1"),
                   "intensifying": ("#a50026", "#313695"), "persistent": ("#d73027", "#4575b4"),
                   "diminishing": ("#f4a582", "#92c5de"), "sporadic": ("#fee090", "#e0f3f8"),
                   "oscillating": ("#c51b7d", "#4d9221"), "historical": ("#8c510a", "#01665e")}
BLIND_SPOT_COLOURS = {"outside_grid": "#000000", "unmanaged_setback_area": "#d53e4f",
                      "category_without_unit": "#5e4fa2", "recurring_in_cell": "#f46d43",
                      "component_broken_again": "#3288bd"}


def add_hotspots(fig: dict, spots, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """The significant Gi* cells, one legend entry per confidence bin (hot 99 % … cold 99 %)."""
    from gis.hotspots import BIN_WORDS

    _cells_step_back(fig)
    spots = basemap.shift(spots)
    for level in (3, 2, 1, -1, -2, -3):
        part = spots[spots["bin"] == level]
        if len(part):
            _polygons(fig, part, "grid_cell", BIN_COLOURS[level], "Gi* " + pick(BIN_WORDS[level], lang),
                      part["name"] + "<br>Gi* z " + part["z"].round(2).astype(str))
    return fig


def add_emerging(fig: dict, cells, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """Each cell's emerging-hotspot pattern, one legend entry per pattern found."""
    from gis.emerging import PATTERN_WORDS

    _cells_step_back(fig)
    cells = basemap.shift(cells)
    for pattern in sorted(set(cells["pattern"]) - {"no_pattern"}):
        name, side = pattern.rsplit("_", 1)
        part = cells[cells["pattern"] == pattern]
        side_words = ("热点", "hot spot") if side == "hot" else ("冷点", "cold spot")
        label = say(PATTERN_WORDS[name][0] + side_words[0], f"{PATTERN_WORDS[name][1]} {side_words[1]}", lang)
        _polygons(fig, part, "grid_cell", PATTERN_COLOURS[name][0 if side == "hot" else 1], label,
                  part["name"] + "<br>" + label)
    return fig


def add_blind_spots(fig: dict, spots, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """Blind spots as markers, one legend entry per rule."""
    import geopandas as gpd

    from gis.blind_spots import RULES
    from gis.datums import STORAGE_CRS
    from layers.blind_spot_register import STATES as REGISTER_STATES

    located = spots[spots["lon"].notna()]
    for rule, colour in BLIND_SPOT_COLOURS.items():
        part = located[located["rule"] == rule]
        if len(part):
            points = basemap.shift(gpd.GeoDataFrame(part, geometry=gpd.points_from_xy(part["lon"], part["lat"]),
                                                    crs=STORAGE_CRS))
            hover = (part["place"].astype(str) + " " + part["category"].fillna("").astype(str) + " · "
                     + say("案件", "cases", lang) + " " + part["cases"].astype(str))
            if "state" in part:  # where the register is: its state, and its unit once assigned
                states = part["state"].map(lambda v: pick(REGISTER_STATES.get(v, ("未登记", "not recorded")), lang))
                units = part["unit"].map(lambda v: f" · {v}" if isinstance(v, str) and v else "")
                hover = hover + "<br>" + states + units
            # A click on one opens its entry in the register (dashboards.pages.overview.details).
            ids = ("blind_spot:" + part["blind_spot_id"]) if "blind_spot_id" in part else None
            _points(fig, points, name=say("盲点", "blind spot", lang) + " · " + pick(RULES[rule], lang),
                    colour=colour, size=9, hover=hover, ids=ids)
    return fig


PRIORITY_TOP = 20


def add_priority(fig: dict, ranked, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """The top places of the priority list, outlined in one colour, each with its score and parts on hover."""
    top = basemap.shift(ranked.head(PRIORITY_TOP).reset_index(drop=True))
    if len(top):
        top = top.assign(key=top["place_kind"] + ":" + top["place"].astype(str))
        hover = (top.index.to_series().add(1).astype(str) + ". " + top["name"].astype(str) + "<br>"
                 + say("得分", "score", lang) + " " + top["score"].astype(str) + "<br>"
                 + say("密度", "density", lang) + " " + top["density"].astype(str) + " · Gi* "
                 + top["hotspot"].astype(str) + " · " + say("反复", "recurrence", lang) + " "
                 + top["recurrence"].astype(str) + "<br>" + say("超期", "overdue", lang) + " "
                 + top["overdue"].astype(str) + " · " + say("盲点", "blind spot", lang) + " "
                 + top["blind_spot"].astype(str))
        _polygons(fig, top, "key", "#6b46c1", say(f"优先治理前{PRIORITY_TOP}", f"Top {PRIORITY_TOP} priorities", lang),
                  hover)
    return fig


def add_change(fig: dict, cells, *, basemap: Basemap = NO_BASEMAP, lang: str = "zh") -> dict:
    """Cells whose cases rose or fell significantly against the same days a year before."""
    _cells_step_back(fig)
    cells = basemap.shift(cells)
    for direction, colour, words in ((1, "#c53030", ("同比显著上升", "up on last year")),
                                     (-1, "#2b6cb0", ("同比显著下降", "down on last year"))):
        part = cells[cells["direction"] == direction]
        if len(part):
            hover = (part["name"] + "<br>" + part["now"].astype(str) + " ← " + part["before"].astype(str)
                     + " (p " + part["p"].round(3).astype(str) + ")")
            _polygons(fig, part, "grid_cell", colour, say(*words, lang), hover)
    return fig
