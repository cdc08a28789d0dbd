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
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyogrio
import shapely

from gis.datums import STORAGE_CRS, DatumError, from_cgcs2000
from layers.catalogue import CATALOGUE, mask_personal
from layers.errors import InvalidValue
from layers.filters import CaseFilter
from layers.html_map import write_html_map
from layers.schema import LAYERS
from layers.settings import SETTINGS
from layers.store import Store
from layers.styles import qgis_style, style_field, value_colours

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
# The rows in a batch of a large layer written a batch at a time.
BATCH_ROWS = SETTINGS.export_batch_rows


@dataclass(frozen=True)
class Datum:
    """A datum an export may be in: its CRS as the file declares it, and its name for people."""

    crs: str
    label: tuple[str, str]


DATUMS = {
    "cgcs2000": Datum(STORAGE_CRS, ("CGCS2000", "CGCS2000")),
    "wgs84": Datum("EPSG:4326", ("WGS84", "WGS84")),
    "gcj02": Datum("EPSG:4326", ("GCJ-02 高德", "GCJ-02 (Amap)")),  # declared as WGS84: no CRS names it
    "gk": Datum("EPSG:4549", ("高斯-克吕格 CM120E", "Gauss-Krüger CM120E")),
}
# A spreadsheet runs a cell that starts with one of these as a formula (=HYPERLINK(...)): such text is
# written with a leading apostrophe, so it stays text.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def datum_crs(datum: str) -> str:
    """The CRS a datum's export declares: one of :data:`DATUMS`, or any EPSG code pyproj knows."""
    key = datum.strip().lower()
    if key in DATUMS:
        return DATUMS[key].crs
    try:
        from_cgcs2000(120.0, 30.0, datum)  # an unknown datum stops here, not half way through a file
    except DatumError as exc:
        raise InvalidValue(str(exc), zh=f"无法识别的坐标系 {datum!r}") from exc
    return datum.strip().upper()


def in_datum(frame: gpd.GeoDataFrame, datum: str) -> gpd.GeoDataFrame:
    """The frame's geometry (stored CGCS2000 lon/lat) in ``datum``."""
    key = datum.strip().lower()
    if key == "cgcs2000":
        return frame
    target = datum_crs(datum)
    name = key if key in ("gcj02", "wgs84") else target
    moved = shapely.transform(frame.geometry.to_numpy(),
                              lambda xy: np.column_stack(from_cgcs2000(xy[:, 0], xy[:, 1], name)))
    return gpd.GeoDataFrame(frame.drop(columns=frame.geometry.name), geometry=moved, crs=target)


def layer_frame(store: Store, name: str, f: CaseFilter, *, personal_allowed: bool = False) -> gpd.GeoDataFrame:
    """One catalogue layer under the filter, personal fields masked unless allowed."""
    if name not in CATALOGUE:
        raise InvalidValue(f"unknown layer {name!r}; layers: {', '.join(CATALOGUE)}")
    layer = CATALOGUE[name]
    return mask_personal(layer.query(store, f), layer, allowed=personal_allowed)


def export_layers(store: Store, names: list[str], out, *, fmt: str = "gpkg", datum: str = "cgcs2000",
                  f: CaseFilter | None = None, personal_allowed: bool = False, user: str = "") -> dict[str, int]:
    """Write the layers to ``out`` (a file; a folder for several layers of a one-layer format); returns rows per layer.

    What each format does is its entry in :data:`FORMATS`. A large layer (cases) goes to a format that
    can take batches a batch at a time: memory holds one batch, whatever the count.
    """
    form = export_format(fmt)
    unknown = [name for name in names if name not in CATALOGUE]
    if unknown:
        raise InvalidValue(f"unknown layer {unknown[0]!r}; layers: {', '.join(CATALOGUE)}",
                           zh=f"参数无效：没有图层 {unknown[0]!r}")
    datum_crs(datum)
    if form.datums is not None and datum.strip().lower() not in form.datums:
        raise InvalidValue(f"{fmt.upper()} takes only the datums {', '.join(form.datums)}: export it with --crs "
                           f"{form.datums[0]}, not {datum}",
                           zh=f"{fmt.upper()} 只能用 {'、'.join(DATUMS[d].label[0] for d in form.datums)} 坐标系")
    f = f or CaseFilter()
    out = Path(out)
    several = len(names) > 1 and form.write_all is None and not form.many_layers
    if several:
        out.mkdir(parents=True, exist_ok=True)
    elif out.exists() and out.is_file():
        out.unlink()  # a file of several layers is made anew, not added to
    counts, styles = {}, {}
    if form.write_all is not None:
        frames = {name: in_datum(layer_frame(store, name, f, personal_allowed=personal_allowed), datum)
                  for name in names}
        form.write_all(frames, out)
        counts = {name: len(frame) for name, frame in frames.items()}
    for name in names if form.write_all is None else ():
        layer = CATALOGUE[name]
        path = out / f"{name}{form.suffix}" if several else out
        if layer.batches is not None and form.write_batches is not None:
            seen = _Values(style_field(layer.style))
            batches = (seen.add(in_datum(mask_personal(batch, layer, allowed=personal_allowed), datum))
                       for batch in layer.batches(store, f, BATCH_ROWS))
            counts[name] = form.write_batches(batches, path, name, layer.geometry)
            styles[name] = qgis_style(layer.style, layer.geometry, value_colours(seen.frame(), layer.style))
            continue
        frame = in_datum(layer_frame(store, name, f, personal_allowed=personal_allowed), datum)
        counts[name] = len(frame)
        styles[name] = qgis_style(layer.style, layer.geometry, value_colours(frame, layer.style))
        if form.write is None:  # a format of one file for all layers has no writer of one layer
            raise InvalidValue(f"{fmt} writes all layers at once")
        form.write(frame, path, name)
    if form.styles is not None:
        form.styles(out, styles)
    store.upsert("exports", pd.DataFrame([{
        "export_id": f"X{uuid.uuid4().hex[:10]}", "user_name": user, "at": pd.Timestamp.now().floor("s"),
        "layers": ",".join(names), "format": fmt, "datum": datum, "filter": json.dumps(f.to_query(), ensure_ascii=False),
        "area": f.area.spec(), "rows": sum(counts.values()), "path": str(out), "personal": personal_allowed}]))
    return counts


def export_format(fmt) -> ExportFormat:
    """The entry of :data:`FORMATS` a format's name gives; an unknown one is refused, naming those there are."""
    if not isinstance(fmt, str) or fmt not in FORMATS:
        raise InvalidValue(f"unknown format {str(fmt)[:40]!r}; formats: {', '.join(FORMATS)}",
                           zh=f"参数无效：没有导出格式 {str(fmt)[:40]!r}")
    return FORMATS[fmt]


def write_batches(batches: Iterator[gpd.GeoDataFrame], path, name: str, driver: str, geometry_type: str) -> int:
    """One layer to a file of a GDAL driver (GPKG, GeoJSON) through GDAL's Arrow writer, batch by batch; returns rows."""
    first = next(batches)
    schema = _arrow_schema(first, name)
    written = 0

    def arrow():
        nonlocal written
        for frame in itertools.chain([first], batches):
            written += len(frame)
            yield _arrow_batch(frame, schema)

    crs = first.crs.to_wkt() if first.crs is not None else None
    pyogrio.write_arrow(pa.RecordBatchReader.from_batches(schema, arrow()), path, layer=name, driver=driver,
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


def _by_gdal(driver: str):
    def write(frame, path, name):
        pyogrio.write_dataframe(_plain(frame), path, layer=name, driver=driver)
    return write


def _batches_by_gdal(driver: str):
    def write(batches, path, name, geometry_type):
        return write_batches(batches, path, name, driver, geometry_type)
    return write


@dataclass(frozen=True)
class ExportFormat:
    """What a format is: its file's suffix and how a layer is written to it.

    ``write`` takes one layer whole; ``write_batches`` (if the format can) a large layer a batch at a
    time; ``write_all`` instead writes every layer into one file at once (the HTML map); ``many_layers``:
    several layers go into one file; ``styles`` writes each layer's QGIS style into the file;
    ``datums``: the only datums the format allows (None: any).
    """

    label: tuple[str, str]
    suffix: str
    write: Callable | None = None
    write_batches: Callable | None = None
    write_all: Callable | None = None
    many_layers: bool = False
    styles: Callable | None = None
    datums: tuple[str, ...] | None = None


# A new format is one entry here: the CLI's --format choices and the dashboard's dropdown read this table.
FORMATS = {
    "gpkg": ExportFormat(("GeoPackage", "GeoPackage"), ".gpkg", _by_gdal("GPKG"), _batches_by_gdal("GPKG"),
                         many_layers=True, styles=write_gpkg_styles),
    "geojson": ExportFormat(("GeoJSON", "GeoJSON"), ".geojson", _by_gdal("GeoJSON"), _batches_by_gdal("GeoJSON")),
    "csv": ExportFormat(("CSV 表格", "CSV"), ".csv", lambda frame, path, name: write_csv_batches(iter([frame]), path),
                        lambda batches, path, name, geometry_type: write_csv_batches(batches, path)),
    "shp": ExportFormat(("Shapefile (zip)", "Shapefile (zip)"), ".zip",
                        lambda frame, path, name: write_shapefile(frame, name, path)),
    "kml": ExportFormat(("KML 谷歌地球", "KML"), ".kml", _by_gdal("KML"), datums=("wgs84", "gcj02")),
    "html": ExportFormat(("HTML 离线地图", "HTML map"), ".html", write_all=write_html_map),
}
