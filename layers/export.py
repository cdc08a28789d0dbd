"""The one way data leaves the product: catalogue layers, in a datum, to a file a GIS reads.

Formats: ``gpkg`` (several layers in one file), ``geojson`` and ``csv`` (points as
lon/lat columns, other shapes as WKT; UTF-8 with a byte-order mark so Excel reads
the Chinese). Datums: ``cgcs2000`` (EPSG:4490, the default), ``wgs84`` (EPSG:4326),
``gcj02`` (Amap's shifted coordinates, labelled WGS84 as Amap-based tools expect)
and ``gk`` (CGCS2000 3-degree Gauss-Krüger CM 120E, EPSG:4549) or any EPSG code.
Every export is recorded in the ``exports`` layer: who, when, what, which filter.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

from gis.datums import from_cgcs2000
from layers.catalogue import CATALOGUE, mask_personal
from layers.filters import CaseFilter
from layers.store import Store

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv"}
DATUMS = {"cgcs2000": "EPSG:4490", "wgs84": "EPSG:4326", "gcj02": "EPSG:4326", "gk": "EPSG:4549"}
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...)): such text is
# written with a leading apostrophe, so it stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def in_datum(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """The frame's geometry (stored CGCS2000 lon/lat) in ``datum``."""
    key = datum.strip().lower()
    if key == "cgcs2000":
        return frame
    target = DATUMS.get(key, datum.upper())
    name = "gcj02" if key == "gcj02" else "wgs84" if key == "wgs84" else target
    moved = shapely.transform(frame.geometry.to_numpy(),
                              lambda xy: np.column_stack(from_cgcs2000(xy[:, 0], xy[:, 1], name)))
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=moved, crs=target)


def layer_frame(store: Store, name: str, f: CaseFilter, *, personal_allowed: bool = False) -> gpd.GeoDataFrame:
    """One catalogue layer under the filter, personal fields masked unless allowed."""
    if name not in CATALOGUE:
        raise ValueError(f"unknown layer {name!r}; layers: {', '.join(CATALOGUE)}")
    layer = CATALOGUE[name]
    return mask_personal(layer.query(store, f), layer, allowed=personal_allowed)


def export_layers(store: Store, names: list[str], out, *, fmt: str = "gpkg", datum: str = "cgcs2000",
                  f: CaseFilter | None = None, personal_allowed: bool = False, user: str = "") -> dict[str, int]:
    """Write the layers to ``out`` (a file; a folder for several GeoJSON or CSV layers); returns rows per layer."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    f = f or CaseFilter()
    out = Path(out)
    frames = {name: in_datum(layer_frame(store, name, f, personal_allowed=personal_allowed), datum)
              for name in names}
    several = len(frames) > 1 and fmt != "gpkg"
    if several:
        out.mkdir(parents=True, exist_ok=True)
    elif fmt == "gpkg" and out.exists():
        out.unlink()
    for name, frame in frames.items():
        path = out / f"{name}{FORMATS[fmt]}" if several else out
        if fmt == "csv":
            write_csv(frame, path)
        else:
            pyogrio.write_dataframe(_plain(frame), path, layer=name, driver="GPKG" if fmt == "gpkg" else "GeoJSON")
    counts = {name: len(frame) for name, frame in frames.items()}
    store.upsert("exports", pd.DataFrame([{
        "export_id": f"X{uuid.uuid4().hex[:10]}", "user_name": user, "at": pd.Timestamp.now().floor("s"),
        "layers": ",".join(names), "format": fmt, "datum": datum, "filter": json.dumps(f.to_query(), ensure_ascii=False),
        "area": f.area.spec(), "rows": sum(counts.values()), "path": str(out), "personal": personal_allowed}]))
    return counts


def write_csv(frame: gpd.GeoDataFrame, path) -> None:
    """Points as lon/lat (or x/y in a projected datum), other shapes as WKT; formulas kept as text."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geometry = frame.geometry
    if len(geometry) and (geometry.geom_type.dropna() == "Point").all():
        x_name, y_name = ("lon", "lat") if frame.crs is None or frame.crs.is_geographic else ("x", "y")
        table[x_name], table[y_name] = geometry.x.round(9), geometry.y.round(9)
    else:
        table["wkt"] = geometry.to_wkt()
    for column in table.columns:
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
            text = table[column]
            risky = text.astype("string").str.startswith(_FORMULA_START).fillna(False).to_numpy(dtype=bool)
            table.loc[risky, column] = "'" + text[risky].astype(str)
    table.to_csv(path, index=False, encoding="utf-8-sig")


def _plain(frame: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    # Categoricals and pandas' string/boolean extension types as plain columns GDAL's drivers take.
    out = frame.copy()
    for column in out.columns:
        if column == out.geometry.name:
            continue
        if (isinstance(out[column].dtype, pd.CategoricalDtype) or pd.api.types.is_string_dtype(out[column])
                or (pd.api.types.is_bool_dtype(out[column]) and out[column].dtype != bool)):
            # Missing as None: a driver would write pandas' NA as the text "<NA>".
            out[column] = out[column].astype(object).where(out[column].notna(), None)
    return out
