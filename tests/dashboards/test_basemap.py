"""A configured basemap: tiles under the map, and every feature shifted into the tiles' datum for display."""

from __future__ import annotations

from datetime import date

import numpy as np
import pytest

from dashboards.basemap import NO_BASEMAP, Basemap, basemap_from
from dashboards.data import view_data
from gis.datums import wgs84_to_gcj02
from layers.filters import CaseFilter
from layers.store import open_store

TILES = "http://tiles.example/{z}/{x}/{y}.png"
STREET = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31), street_code="330205001")


def test_presets_and_urls_name_their_datum():
    assert basemap_from(None) == NO_BASEMAP and NO_BASEMAP.layer() is None
    amap = basemap_from("amap")
    assert amap.datum == "gcj02" and len(amap.tiles) == 4 and "{s}" not in amap.tiles[0]
    assert basemap_from("tianditu", key="abc").datum == "cgcs2000"
    assert basemap_from(TILES, "wgs84") == Basemap((TILES,), "wgs84")
    with pytest.raises(ValueError, match="datum"):
        basemap_from(TILES)
    with pytest.raises(ValueError, match=r"\{z\}"):
        basemap_from("http://tiles.example/tile.png", "gcj02")
    with pytest.raises(ValueError):
        basemap_from(TILES, "mars")


def test_features_move_into_the_basemaps_datum_for_display_only(demo_gpkg, monkeypatch):
    with open_store(demo_gpkg[0]) as store:
        plain = view_data(store, STREET, layers=("cases", "heat"))["map"]
        on_amap = view_data(store, STREET, layers=("cases", "heat"), basemap=Basemap((TILES,), "gcj02"))["map"]
        on_tianditu = view_data(store, STREET, basemap=Basemap((TILES,), "cgcs2000"))["map"]
        stored = store.read("cases", STREET.conditions())
    layers = on_amap["layout"]["map"]["layers"]
    assert layers[0] == dict(sourcetype="raster", source=[TILES], below="traces", sourceattribution="",
                             name="basemap")
    assert layers[1]["name"] == "heat"
    # Cells: each vertex is the stored one shifted by GCJ-02 (both drawn to 6 decimals, 0.1 m).
    ring = np.array(plain["data"][0]["geojson"]["features"][0]["geometry"]["coordinates"][0])
    moved = np.array(on_amap["data"][0]["geojson"]["features"][0]["geometry"]["coordinates"][0])
    expected = np.column_stack(wgs84_to_gcj02(ring[:, 0], ring[:, 1]))
    assert np.abs(moved - expected).max() < 1.1e-6 and np.abs(moved - ring).max() > 0.001  # ~500 m in Ningbo
    # Case points too, while the store keeps CGCS2000.
    points = next(t for t in on_amap["data"] if t["type"] == "scattermap" and t.get("customdata"))
    first = stored.set_index("case_id").loc[points["customdata"][0]].geometry
    assert points["lon"][0] == pytest.approx(float(wgs84_to_gcj02(first.x, first.y)[0]), abs=2e-6)
    # CGCS2000 tiles take the stored coordinates as they are.
    assert on_tianditu["data"][0]["geojson"] == plain["data"][0]["geojson"]
