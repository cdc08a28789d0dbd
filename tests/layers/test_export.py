"""Exports read back by real readers (pyogrio and GDAL's ogrinfo): counts, datums, Chinese text, masking."""

import json
import subprocess
from datetime import date

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pytest
from shapely.geometry import Point

from gis.datums import to_cgcs2000, wgs84_to_gcj02
from layers.export import FORMATS, export_layers
from layers.filters import CaseFilter

STREET = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31), street_code="330205003")


def known_point(store):
    # 29.87 N 121.55 E, CGCS2000: EPSG:4549 gives E 649757.548, N 3306711.728 (../shared/DESIGN.md).
    store.upsert("components", gpd.GeoDataFrame(
        {"component_id": ["3302050101000999"], "major_class": ["01"], "minor_class": ["01"], "class_name": ["上水井盖"],
         "state": ["damaged"], "managing_unit": ["江北区市政设施养护所"]}, geometry=[Point(121.55, 29.87)], crs=4490))


KNOWN_IN = {"cgcs2000": (121.55, 29.87), "wgs84": (121.55, 29.87), "gk": (649757.548, 3306711.728),
            "gcj02": tuple(float(v) for v in wgs84_to_gcj02(121.55, 29.87))}


def point_back(path, fmt, datum) -> tuple[float, float]:
    """The known component's coordinates as a GIS reads them back from the file."""
    if fmt == "csv":
        table = pd.read_csv(path, encoding="utf-8-sig", dtype={"component_id": str})
        row = table.loc[table["component_id"] == "3302050101000999"].iloc[0]
        return (row["x"], row["y"]) if datum == "gk" else (row["lon"], row["lat"])
    back = pyogrio.read_dataframe(f"/vsizip/{path}/components.shp" if fmt == "shp" else path,
                                  layer="components" if fmt == "gpkg" else None)
    key = "component" if fmt == "shp" else "component_id"  # the Shapefile's 10-character name
    point = back.loc[back[key] == "3302050101000999"].geometry.iat[0]
    if fmt != "kml":  # KML is WGS84 by definition; the others say their CRS
        assert back.crs.to_epsg() == {"cgcs2000": 4490, "wgs84": 4326, "gk": 4549, "gcj02": 4326}[datum]
    return point.x, point.y


@pytest.mark.parametrize("datum", list(KNOWN_IN))
def test_a_known_point_lands_where_it_should_in_each_format_and_datum(store_copy, tmp_path, datum):
    known_point(store_copy)
    for fmt in ("gpkg", "geojson", "csv", "shp") + (("kml",) if datum in ("wgs84", "gcj02") else ()):
        out = tmp_path / f"k_{datum}{FORMATS[fmt].suffix}"
        export_layers(store_copy, ["components"], out, fmt=fmt, datum=datum)
        x, y = point_back(out, fmt, datum)
        # 1 cm through PROJ, 0.5 m through GCJ-02 (1e-7 and 5e-6 degrees at this latitude).
        tolerance = 0.01 if datum == "gk" else 5e-6 if datum == "gcj02" else 1e-7
        assert (x, y) == pytest.approx(KNOWN_IN[datum], abs=tolerance), fmt
        # And back to what is stored.
        lon, lat = to_cgcs2000(np.array([x]), np.array([y]), {"gk": "EPSG:4549"}.get(datum, datum))
        assert (lon[0], lat[0]) == pytest.approx((121.55, 29.87), abs=5e-6 if datum == "gcj02" else 1e-7), fmt


def test_every_format_holds_the_filters_features_and_the_chinese_text(store_copy, tmp_path):
    expected = len(STREET.read_cases(store_copy))
    export_layers(store_copy, ["cases", "grid_cells"], tmp_path / "s.gpkg", f=STREET)
    export_layers(store_copy, ["cases"], tmp_path / "c.geojson", fmt="geojson", f=STREET)
    export_layers(store_copy, ["cases"], tmp_path / "c.csv", fmt="csv", f=STREET)
    assert [n for n, _ in pyogrio.list_layers(tmp_path / "s.gpkg")] == ["cases", "grid_cells", "layer_styles"]
    for path, layer in ((tmp_path / "s.gpkg", "cases"), (tmp_path / "c.geojson", None)):
        back = pyogrio.read_dataframe(path, layer=layer)
        assert len(back) == expected and back.geometry.dropna().is_valid.all()
        assert "孔浦" in "".join(back["address"].dropna())
    table = pd.read_csv(tmp_path / "c.csv", encoding="utf-8-sig")
    assert len(table) == expected and {"lon", "lat"} <= set(table.columns)
    # GDAL's own reader agrees.
    info = subprocess.run(["ogrinfo", "-so", "-al", str(tmp_path / "s.gpkg")], capture_output=True, text=True,
                          check=True).stdout
    assert f"Feature Count: {expected}" in info and "CGCS2000" in info
    grid = pyogrio.read_dataframe(tmp_path / "s.gpkg", layer="grid_cells")
    assert grid["street_code"].eq("330205003").all() and grid.geometry.is_valid.all()


def test_personal_data_is_masked_unless_allowed_and_every_export_is_recorded(store_copy, tmp_path):
    earlier = set(store_copy.read("exports")["export_id"])  # the shared demo store may hold other tests' exports
    export_layers(store_copy, ["cases"], tmp_path / "m.geojson", fmt="geojson", f=STREET, user="planner")
    export_layers(store_copy, ["cases"], tmp_path / "p.geojson", fmt="geojson", f=STREET, user="admin",
                  personal_allowed=True)
    masked = pyogrio.read_dataframe(tmp_path / "m.geojson")
    plain = pyogrio.read_dataframe(tmp_path / "p.geojson")
    phones = masked["reporter_phone"].dropna()
    assert len(phones) and phones.str.fullmatch(r"\d{3}\*{4}\d{4}").all() and masked["description"].isna().all()
    assert plain["reporter_phone"].dropna().str.fullmatch(r"\d{11}").all()
    log = store_copy.read("exports").sort_values("at")
    log = log[~log["export_id"].isin(earlier)]
    assert dict(zip(log["user_name"], log["personal"])) == {"planner": False, "admin": True}
    planner = log[log["user_name"] == "planner"].iloc[0]
    assert json.loads(planner["filter"])["street"] == "330205003" and planner["rows"] == len(masked)


def test_a_spreadsheet_formula_stays_text_in_csv(store_copy, tmp_path):
    cases = STREET.read_cases(store_copy).head(1).copy()
    cases["address"] = '=HYPERLINK("http://evil.example","点我")'
    store_copy.upsert("cases", cases)
    export_layers(store_copy, ["cases"], tmp_path / "f.csv", fmt="csv", f=STREET)
    text = open(tmp_path / "f.csv", encoding="utf-8-sig").read()
    assert "'=HYPERLINK" in text and ',=HYPERLINK' not in text and ',"=HYPERLINK' not in text


def test_shapefile_kml_and_html_keep_the_features_and_the_chinese(store_copy, tmp_path):
    import zipfile

    expected = len(STREET.read_cases(store_copy))
    export_layers(store_copy, ["cases"], tmp_path / "c.zip", fmt="shp", f=STREET)
    with zipfile.ZipFile(tmp_path / "c.zip") as zipped:
        assert {"cases.shp", "cases.dbf", "cases.cpg", "cases.prj", "fields.csv"} <= set(zipped.namelist())
        assert zipped.read("cases.cpg").decode().strip().upper() in ("UTF-8", "UTF8")
    back = pyogrio.read_dataframe(f"/vsizip/{tmp_path / 'c.zip'}/cases.shp")
    assert len(back) == expected and max(map(len, back.columns)) <= 10
    assert {"reported", "resp_unit", "community"} <= set(back.columns) and "孔浦" in "".join(back["address"].dropna())
    info = subprocess.run(["ogrinfo", "-so", f"/vsizip/{tmp_path / 'c.zip'}/cases.shp", "cases"],
                          capture_output=True, text=True, check=True).stdout
    assert f"Feature Count: {expected}" in info

    with pytest.raises(ValueError, match="KML"):
        export_layers(store_copy, ["cases"], tmp_path / "c.kml", fmt="kml", f=STREET)
    export_layers(store_copy, ["grid_cells"], tmp_path / "g.kml", fmt="kml", datum="wgs84", f=STREET)
    kml = pyogrio.read_dataframe(tmp_path / "g.kml")
    assert len(kml) == len(store_copy.read("grid_cells").query("street_code == '330205003'"))

    export_layers(store_copy, ["grid_cells", "hotspots"], tmp_path / "m.html", fmt="html", f=STREET)
    page = (tmp_path / "m.html").read_text(encoding="utf-8")
    # folium writes the titles as JSON (网格 as \u7f51\u683c); the browser reads them back.
    assert "L.map(" in page and json.dumps("网格 · Grid cells")[1:-1] in page and "33020500300201" in page


def test_a_geopackage_carries_each_layers_style_for_qgis(store_copy, tmp_path):
    import xml.etree.ElementTree as ET

    out = tmp_path / "styled.gpkg"
    export_layers(store_copy, ["cases", "grid_cells", "hotspots"], out, f=STREET)
    # Read as QGIS reads it: SQL on the GeoPackage through GDAL.
    styles = pyogrio.read_dataframe(out, sql="SELECT f_table_name, f_geometry_column, styleQML, useAsDefault "
                                             "FROM layer_styles", read_geometry=False)
    assert sorted(styles["f_table_name"]) == ["cases", "grid_cells", "hotspots"]
    assert styles["useAsDefault"].astype(bool).all()
    qml = {row.f_table_name: ET.fromstring(row.styleQML.split("'SYSTEM'>", 1)[1]) for row in styles.itertuples()}
    cells = qml["grid_cells"].find("renderer-v2")
    assert cells.get("type") == "singleSymbol"
    options = {o.get("name"): o.get("value") for o in cells.iter("Option") if o.get("name")}
    assert options["outline_color"] == "153,153,153,255" and options["style"] == "no"
    by_status = qml["cases"].find("renderer-v2")
    assert by_status.get("type") == "categorizedSymbol" and by_status.get("attr") == "status"
    statuses = {c.get("value") for c in by_status.iter("category")}
    assert statuses == set(STREET.read_cases(store_copy)["status"].dropna())
    # To GDAL the styles are one more table, of attributes, beside the layers.
    assert dict(pyogrio.list_layers(out)) == {"cases": "Point", "grid_cells": "Polygon",
                                              "hotspots": "Polygon", "layer_styles": None}


def test_exports_stream_from_either_store_batch_by_batch(store, tmp_path, monkeypatch):
    import layers.export

    ids = [f"C{i:03d}" for i in range(7)]
    store.upsert("cases", gpd.GeoDataFrame(
        {"case_id": ids, "kind": "dispute", "category": "邻里纠纷", "channel": "walk_in", "channels": "walk_in",
         "reported_at": pd.Timestamp("2020-03-01 09:00"), "status": "reported", "level_received": "community",
         "level": "community", "resolved_in_place": False, "people": 1, "street_code": "330205003",
         "location_precision": "building", "outside_grid": False, "reporter_phone": "13812341234"},
        geometry=[Point(121.55 + i / 1000, 29.87) for i in range(6)] + [None], crs=4490))
    monkeypatch.setattr(layers.export, "BATCH_ROWS", 3)  # 7 cases: batches of 3, 3 and 1
    for fmt in ("gpkg", "geojson", "csv"):
        out = tmp_path / f"s{FORMATS[fmt].suffix}"
        assert export_layers(store, ["cases"], out, fmt=fmt) == {"cases": 7}
        back = (pd.read_csv(out, encoding="utf-8-sig") if fmt == "csv"
                else pyogrio.read_dataframe(out, layer="cases"))
        assert sorted(back["case_id"]) == ids and set(back["reporter_phone"]) == {"138****1234"}, fmt
        assert back["category"].eq("邻里纠纷").all(), fmt


def test_a_new_format_is_one_entry_in_the_table(store_copy, tmp_path, monkeypatch):
    """FlatGeobuf, added as one entry: the export writes it, a real reader opens it, the CLI offers it."""
    from layers import export
    from onemap.cli import build_parser

    monkeypatch.setitem(export.FORMATS, "fgb", export.ExportFormat(
        ("FlatGeobuf", "FlatGeobuf"), ".fgb", export._by_gdal("FlatGeoBuf"), export._batches_by_gdal("FlatGeoBuf")))
    out = tmp_path / "cells.fgb"
    counts = export_layers(store_copy, ["grid_cells"], out, fmt="fgb", datum="wgs84", f=STREET)
    read = pyogrio.read_dataframe(out)
    assert len(read) == counts["grid_cells"] > 0 and read.crs.to_epsg() == 4326
    args = build_parser().parse_args(["export", "cases", "--format", "fgb", "--out", "x.fgb"])
    assert args.format == "fgb"
    with pytest.raises(ValueError, match="unknown format 'xls'"):
        export_layers(store_copy, ["cases"], tmp_path / "c.xls", fmt="xls")
