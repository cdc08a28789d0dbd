"""The map's basemap: none (the district's own outlines, offline), or raster tiles in a stated datum.

Tile services in China draw in their own datum: Tianditu in CGCS2000, Amap
(and Tencent) in GCJ-02. Stored geometry stays CGCS2000; what the map is sent
is shifted into the basemap's datum, for display only, so a case sits on its
street in the picture. ``onemap serve --basemap amap`` or ``--basemap URL
--basemap-datum gcj02`` (or ``ONEMAP_BASEMAP`` / ``ONEMAP_BASEMAP_DATUM``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely

from gis.datums import STORAGE_CRS, from_cgcs2000
from layers.errors import InvalidValue
from layers.settings import Settings

# Datums whose lon/lat a CGCS2000 point keeps to within centimetres: nothing to shift.
_SAME = ("cgcs2000", "wgs84", STORAGE_CRS, "EPSG:4326")
PRESETS = {
    # 天地图 vector tiles in web Mercator; a key (tk) from lbs.tianditu.gov.cn is required.
    "tianditu": ("https://t{s}.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec"
                 "&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk={key}",
                 "cgcs2000", "天地图 Tianditu"),
    "amap": ("https://webrd0{s}.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}",
             "gcj02", "高德地图 Amap"),
}


@dataclass(frozen=True)
class Basemap:
    tiles: tuple[str, ...] = ()  # URL templates with {z}, {x}, {y}; empty: no basemap
    datum: str = "cgcs2000"
    attribution: str = ""

    def layer(self) -> dict | None:
        """The map layer that draws the tiles, under everything else."""
        if not self.tiles:
            return None
        return dict(sourcetype="raster", source=list(self.tiles), below="traces", sourceattribution=self.attribution,
                    name="basemap")

    @property
    def shifts(self) -> bool:
        return bool(self.tiles) and self.datum not in _SAME

    def xy(self, lon, lat):
        """CGCS2000 lon/lat as drawn on this basemap."""
        if not self.shifts:
            return np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        return from_cgcs2000(np.asarray(lon, dtype=float), np.asarray(lat, dtype=float), self.datum)

    def shift(self, frame):
        """A copy of a GeoDataFrame drawn in the basemap's datum (the frame itself when nothing moves)."""
        if not self.shifts or frame is None or not len(frame):
            return frame
        moved = shapely.transform(frame.geometry.to_numpy(), lambda xy: np.column_stack(self.xy(xy[:, 0], xy[:, 1])))
        return frame.set_geometry(moved, crs=frame.crs)


NO_BASEMAP = Basemap()


def basemap_from(name_or_url: str | None, datum: str | None = None, *, key: str | None = None) -> Basemap:
    """A preset (``tianditu``, ``amap``), or a tile URL template with its datum; nothing means no basemap."""
    if not name_or_url:
        return NO_BASEMAP
    if name_or_url in PRESETS:
        url, preset_datum, attribution = PRESETS[name_or_url]
        if "{key}" in url:
            key = key or Settings.from_environ().tianditu_key or None
            if not key:
                raise InvalidValue(f"basemap {name_or_url}: set ONEMAP_TIANDITU_KEY to the service key (tk)")
            url = url.replace("{key}", key)
        return Basemap(tuple(url.replace("{s}", str(s)) for s in range(1, 5)), datum or preset_datum, attribution)
    if not all(part in name_or_url for part in ("{z}", "{x}", "{y}")):
        raise InvalidValue(f"basemap {name_or_url!r}: a preset ({', '.join(PRESETS)}) or a URL with {{z}}, {{x}}, {{y}}")
    if not datum:
        raise InvalidValue(f"basemap {name_or_url!r}: say its datum (cgcs2000, wgs84, gcj02)")
    from_cgcs2000(np.array([121.5]), np.array([29.9]), datum)  # an unknown datum fails here, at start-up
    return Basemap((name_or_url,), datum)
