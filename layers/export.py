"""The one way data leaves the product: catalogue layers, in a datum, to a file a GIS reads.

Formats: ``gpkg`` (several layers in one file), ``geojson``, ``csv`` (points as
lon/lat columns, other shapes as WKT; UTF-8 with a byte-order mark so Excel reads
the Chinese), ``shp`` (a zip per layer with its ``.cpg``; field names cut to the
format's 10 characters by :data:`SHAPEFILE_NAMES`, written into the zip as
``fields.csv``), ``kml`` (WGS84 or GCJ-02 only, as KML is lon/lat on WGS84) and
``html`` (a folium map that draws with no network, :mod:`layers.html_map`). Datums: ``cgcs2000`` (EPSG:4490, the default), ``wgs84`` (EPSG:4326),
``gcj02`` (Amap's shifted coordinates, labelled WGS84 as Amap-based tools expect)
and ``gk`` (CGCS2000 3-degree Gauss-Krüger CM 120E, EPSG:4549) or any EPSG code.
Every export is recorded in the ``exports`` layer: who, when, what, which filter.
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from gis.datums import from_cgcs2000
from layers.catalogue import CATALOGUE, mask_personal
from layers.filters import CaseFilter
from layers.html_map import write_html_map
from layers.schema import LAYERS
from layers.styles import qgis_style, style_field, value_colours
from layers.store import Store

FORMATS = {"gpkg": ".gpkg", "geojson": ".geojson", "csv": ".csv", "shp": ".zip", "kml": ".kml", "html": ".html"}
# Shapefile field names are at most 10 characters: these long names get these short ones (the rest are
# cut, and numbered if two cuts meet).
SHAPEFILE_NAMES = {"reported_at": "reported", "dispatched_at": "dispatchd", "closed_at": "closed",
                   "level_received": "lvl_recv", "resolved_in_place": "in_place", "description": "descript",
                   "reporter_phone": "phone", "location_precision": "precision", "community_code": "community",
                   "street_code": "street", "outside_grid": "outside", "responsible_unit": "resp_unit",
                   "component_id": "component", "setback_area": "setback", "managing_unit": "manager",
                   "handed_over_at": "handed_at", "handed_over_to": "handed_to", "place_kind": "place_kind",
                   "recurrence": "recurrenc", "blind_spot": "blindspot", "trend_tau": "trend_tau",
                   "cases_per_km2": "per_km2", "cases_per_1000": "per_1000", "class_name": "class",
                   "maintaining_unit": "maintainer", "owning_unit": "owner", "major_class": "major",
                   "minor_class": "minor", "surveyed_at": "surveyed", "official_name": "off_name"}
DRIVERS = {"gpkg": "GPKG", "geojson": "GeoJSON", "kml": "KML"}
# Formats a large layer is written to a batch at a time, and the rows in a batch.
STREAMED = ("gpkg", "geojson", "csv")
BATCH_ROWS = 25_000
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
    """Write the layers to ``out`` (a file; a folder for several GeoJSON or CSV layers); returns rows per layer.

    A large layer (cases) goes to GeoPackage, GeoJSON and CSV a batch at a time: memory holds one
    batch, whatever the count.
    """
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        raise ValueError(f"unknown layer {unknown[0]!r}; layers: {', '.join(CATALOGUE)}")
    if fmt == "kml" and datum.strip().lower() not in ("wgs84", "gcj02"):
        raise ValueError(f"KML is lon/lat on WGS84: export it with --crs wgs84 (or gcj02), not {datum}")
    f = f or CaseFilter()
    out = Path(out)
    several = len(names) > 1 and fmt not in ("gpkg", "html")
    if several:
        out.mkdir(parents=True, exist_ok=True)
    elif fmt == "gpkg" and out.exists():
        out.unlink()
    counts = {}
    if fmt == "html":
        frames = {name: in_datum(layer_frame(store, name, f, personal_allowed=personal_allowed), datum)
                  for name in names}
        write_html_map(frames, out)
        counts = {name: len(frame) for name, frame in frames.items()}
    styles = {}
    for name in names if fmt != "html" else ():
        layer = CATALOGUE[name]
        path = out / f"{name}{FORMATS[fmt]}" if several else out
        if layer.batches is not None and fmt in STREAMED:
            seen = _Values(style_field(layer.style))
            batches = (seen.add(in_datum(mask_personal(batch, layer, allowed=personal_allowed), datum))
                       for batch in layer.batches(store, f, BATCH_ROWS))
            counts[name] = write_csv_batches(batches, path) if fmt == "csv" else write_batches(
                batches, path, name, fmt, layer.geometry)
            styles[name] = qgis_style(layer.style, layer.geometry, value_colours(seen.frame(), layer.style))
            continue
        frame = in_datum(layer_frame(store, name, f, personal_allowed=personal_allowed), datum)
        counts[name] = len(frame)
        styles[name] = qgis_style(layer.style, layer.geometry, value_colours(frame, layer.style))
        if fmt == "csv":
            write_csv_batches(iter([frame]), path)
        elif fmt == "shp":
            write_shapefile(frame, name, path)
        else:
            pyogrio.write_dataframe(_plain(frame), path, layer=name, driver=DRIVERS[fmt])
    if fmt == "gpkg":
        write_gpkg_styles(out, styles)
    store.upsert("exports", pd.DataFrame([{
        "export_id": f"X{uuid.uuid4().hex[:10]}", "user_name": user, "at": pd.Timestamp.now().floor("s"),
        "layers": ",".join(names), "format": fmt, "datum": datum, "filter": json.dumps(f.to_query(), ensure_ascii=False),
        "area": f.area.spec(), "rows": sum(counts.values()), "path": str(out), "personal": personal_allowed}]))
    return counts


def write_batches(batches: Iterator[gpd.GeoDataFrame], path, name: str, fmt: str, geometry_type: str) -> int:
    """One layer to a GeoPackage or GeoJSON file through GDAL's Arrow writer, batch by batch; returns rows."""
    first = next(batches)
    schema = _arrow_schema(first, name)
    written = 0

    def arrow():
        nonlocal written
        for frame in itertools.chain([first], batches):
            written += len(frame)
            yield _arrow_batch(frame, schema)

    crs = first.crs.to_wkt() if first.crs is not None else None
    pyogrio.write_arrow(pa.RecordBatchReader.from_batches(schema, arrow()), path, layer=name, driver=DRIVERS[fmt],
                        geometry_name="geometry", geometry_type=geometry_type, crs=crs)
    return written


def write_gpkg_styles(path, styles: dict[str, str]) -> None:
    """Each layer's QGIS style as its default, in the ``layer_styles`` table QGIS reads from a GeoPackage."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(
                "CREATE TABLE IF NOT EXISTS layer_styles (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                "f_table_catalog TEXT(256), f_table_schema TEXT(256), f_table_name TEXT(256), "
                "f_geometry_column TEXT(256), styleName TEXT(30), styleQML TEXT, styleSLD TEXT, "
                "useAsDefault BOOLEAN, description TEXT, owner TEXT(30), ui TEXT(30), "
                "update_time DATETIME DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now')))")
            # Registered as QGIS registers it, so the file lists it as what it is: a table of attributes.
            conn.execute("INSERT INTO gpkg_contents (table_name, data_type, identifier, description, last_change) "
                         "SELECT 'layer_styles', 'attributes', 'layer_styles', 'QGIS styles', "
                         "strftime('%Y-%m-%dT%H:%M:%fZ','now') WHERE NOT EXISTS "
                         "(SELECT 1 FROM gpkg_contents WHERE table_name = 'layer_styles')")
            columns = dict(conn.execute("SELECT table_name, column_name FROM gpkg_geometry_columns").fetchall())
            conn.executemany(
                "INSERT INTO layer_styles (f_table_catalog, f_table_schema, f_table_name, f_geometry_column, "
                "styleName, styleQML, styleSLD, useAsDefault, description, owner, ui) "
                "VALUES ('', '', ?, ?, ?, ?, '', 1, ?, '', '')",
                [(name, columns.get(name, "geom"), name, qml, "社会治理一张图 · One map") for name, qml in styles.items()])
    finally:
        conn.close()


class _Values:
    """The distinct values of one field over the batches that pass (to colour by them once all have)."""

    def __init__(self, field):
        self.field, self.values = field, set()

    def add(self, frame):
        if self.field in frame:
            self.values.update(frame[self.field].dropna().unique().tolist())
        return frame

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame({self.field: sorted(self.values, key=str)}) if self.field else pd.DataFrame()


def csv_table(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """The frame as CSV rows: points as lon/lat (x/y in a projected datum), other shapes as WKT, formulas as text."""
    table = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    geometry = frame.geometry
    kinds = geometry.geom_type.dropna()
    if len(kinds) == 0 or (kinds == "Point").all():
        x_name, y_name = ("lon", "lat") if frame.crs is None or frame.crs.is_geographic else ("x", "y")
        located = (geometry.notna() & ~geometry.is_empty).to_numpy()
        table[x_name], table[y_name] = np.nan, np.nan
        table.loc[located, x_name] = geometry[located].x.round(9).to_numpy()
        table.loc[located, y_name] = geometry[located].y.round(9).to_numpy()
    else:
        table["wkt"] = geometry.to_wkt()
    for column in table.columns:
        if table[column].dtype == object or pd.api.types.is_string_dtype(table[column]):
            text = table[column]
            risky = text.astype("string").str.startswith(_FORMULA_START).fillna(False).to_numpy(dtype=bool)
            table.loc[risky, column] = "'" + text[risky].astype(str)
    return table


def write_csv_batches(batches: Iterator[gpd.GeoDataFrame], path) -> int:
    """CSV in UTF-8 with a byte-order mark (so Excel reads the Chinese), batch by batch; returns rows."""
    written = 0
    with open(path, "w", encoding="utf-8-sig", newline="") as out:
        for i, frame in enumerate(batches):
            csv_table(frame).to_csv(out, index=False, header=i == 0)
            written += len(frame)
    return written


def shapefile_names(columns) -> dict[str, str]:
    """Each column's Shapefile name (10 characters at most, unique)."""
    names, taken = {}, set()
    for column in columns:
        short = SHAPEFILE_NAMES.get(column, column)[:10]
        stem, n = short, 1
        while short in taken:
            n += 1
            short = f"{stem[:10 - len(str(n))]}{n}"
        names[column] = short
        taken.add(short)
    return names


def write_shapefile(frame: gpd.GeoDataFrame, name: str, path) -> None:
    """A zip of one layer's Shapefile (.shp .shx .dbf .prj .cpg) and ``fields.csv`` (full name → short name)."""
    import tempfile
    import zipfile

    table = _plain(frame)
    for column in table.columns:
        if pd.api.types.is_datetime64_any_dtype(table[column]):  # a .dbf holds dates, not times
            table[column] = table[column].dt.strftime("%Y-%m-%d %H:%M:%S").astype(object).where(
                table[column].notna(), None)
    names = shapefile_names([c for c in table.columns if c != table.geometry.name])
    table = table.rename(columns=names)
    with tempfile.TemporaryDirectory() as folder:
        pyogrio.write_dataframe(table, Path(folder) / f"{name}.shp", encoding="UTF-8")
        pd.DataFrame({"field": list(names), "shapefile": list(names.values())}).to_csv(
            Path(folder) / "fields.csv", index=False, encoding="utf-8-sig")
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zipped:
            for part in sorted(Path(folder).iterdir()):
                zipped.write(part, part.name)


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


_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64(), "bool": pa.bool_(),
                "datetime": pa.timestamp("ms")}


def _arrow_schema(frame: gpd.GeoDataFrame, name: str) -> pa.Schema:
    """Every batch's columns and types: the stored layer's where it has them (a first batch may hold
    only empty values of a column), else the frame's; the geometry as WKB."""
    stored = LAYERS[name].columns if name in LAYERS else {}
    fields = []
    for column in frame.columns:
        if column == frame.geometry.name:
            continue
        if column in stored:
            kind = _ARROW_TYPES[stored[column]]
        elif pd.api.types.is_bool_dtype(frame[column]):
            kind = pa.bool_()
        elif pd.api.types.is_integer_dtype(frame[column]):
            kind = pa.int64()
        elif pd.api.types.is_float_dtype(frame[column]):
            kind = pa.float64()
        elif pd.api.types.is_datetime64_any_dtype(frame[column]):
            kind = pa.timestamp("ms")
        else:
            kind = pa.string()
        fields.append(pa.field(column, kind))
    return pa.schema(fields + [pa.field("geometry", pa.binary())])


def _arrow_batch(frame: gpd.GeoDataFrame, schema: pa.Schema) -> pa.RecordBatch:
    plain = _plain(frame)
    geometry = np.asarray(frame.geometry.values, dtype=object)
    present = ~(shapely.is_missing(geometry) | shapely.is_empty(geometry))
    wkb = np.full(len(frame), None, dtype=object)
    wkb[present] = shapely.to_wkb(geometry[present])
    arrays = [pa.array(plain[field.name].to_numpy() if field.name in plain else [None] * len(frame),
                       type=field.type, from_pandas=True) for field in schema if field.name != "geometry"]
    return pa.RecordBatch.from_arrays(arrays + [pa.array(wkb, type=pa.binary())], schema=schema)
