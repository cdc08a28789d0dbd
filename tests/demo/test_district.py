import geopandas as gpd
import shapely

from demo.district import build_district, read_reference_outline


def test_real_names_and_codes_with_a_gapless_nesting():
    d = build_district(2020)
    assert sorted(d.streets["name"]) == sorted(["外滩街道", "孔浦街道", "文教街道", "甬江街道", "庄桥街道",
                                                "洪塘街道", "前江街道", "慈城镇"])
    assert len(d.communities) == 152 and d.communities["community_code"].is_unique
    metric = {k: v.to_crs(4549) for k, v in d.layers().items()}
    outline = metric["district"].geometry.iloc[0]
    for level in ("streets", "communities", "grid_cells"):
        parts = metric[level].geometry
        assert abs(parts.area.sum() - outline.area) < 1.0, level  # no overlaps: areas add up
        assert shapely.union_all(parts.values).symmetric_difference(outline).area < 1.0, level  # no gaps
    assert (metric["grid_cells"].geom_type == "Polygon").mean() > 0.97  # contiguous cells
    assert len(d.estates) == 100 and len(d.setback_areas) == 200


def test_converted_outline_agrees_with_the_cgcs2000_cross_check():
    d = build_district(2020)
    ours = d.district.to_crs(4549).geometry.iloc[0]
    ref = gpd.GeoSeries([read_reference_outline()], crs=4490).to_crs(4549).iloc[0]
    assert ours.intersection(ref).area / ours.union(ref).area > 0.95


def test_same_seed_same_district():
    a, b = build_district(7), build_district(7)
    assert a.grid_cells.geometry.equals(b.grid_cells.geometry)
