import geopandas as gpd
import pytest
from shapely.geometry import Point, box

import gis.assign
from gis.assign import assign_to_polygons

CELLS = gpd.GeoDataFrame({"grid_cell": ["B", "A"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)], crs=4490)


@pytest.fixture(autouse=True, params=["exact", "raster"])
def lookup(request, monkeypatch):
    """Each rule holds both ways a point is looked up: a few points exactly, a batch through the raster."""
    if request.param == "raster":
        monkeypatch.setattr(gis.assign, "EXACT_MAX", -1)
    return request.param


def test_point_on_a_shared_edge_goes_to_the_smallest_id_every_time():
    pts = gpd.GeoSeries([Point(1, 0.5)], crs=4490)
    assert assign_to_polygons(pts, CELLS, "grid_cell").tolist() == ["A"]
    assert assign_to_polygons(pts, CELLS.iloc[::-1], "grid_cell").tolist() == ["A"]


def test_points_outside_every_cell_and_missing_points_get_none():
    pts = gpd.GeoSeries([Point(1.5, 0.5), Point(5, 5), None], crs=4490)
    assert assign_to_polygons(pts, CELLS, "grid_cell").tolist() == ["B", None, None]


def test_overlapping_polygons_give_the_smallest_id_inside_the_overlap():
    polys = gpd.GeoDataFrame({"estate_id": ["Z", "M"]}, geometry=[box(0, 0, 2, 2), box(1, 1, 3, 3)], crs=4490)
    pts = gpd.GeoSeries([Point(1.5, 1.5), Point(0.5, 0.5), Point(2.5, 2.5)], crs=4490)
    assert assign_to_polygons(pts, polys, "estate_id").tolist() == ["M", "Z", "M"]


def test_the_raster_lookup_agrees_with_an_exact_join_on_the_demo_cells(demo_build):
    import numpy as np
    import shapely

    from gis.assign import PolygonIndex

    cells = demo_build["district"].grid_cells
    rng = np.random.default_rng(7)
    minx, miny, maxx, maxy = cells.total_bounds
    x, y = rng.uniform(minx, maxx, 50_000), rng.uniform(miny, maxy, 50_000)
    # The hard points: every vertex of every cell, and the midpoint of every edge.
    rings = shapely.get_coordinates(cells.boundary.values)
    mids = (rings[:-1] + rings[1:]) / 2
    x = np.concatenate([x, rings[:, 0], mids[:, 0]])
    y = np.concatenate([y, rings[:, 1], mids[:, 1]])
    points = gpd.GeoSeries(gpd.points_from_xy(x, y), crs=cells.crs)

    joined = gpd.sjoin(gpd.GeoDataFrame(geometry=points), cells[["grid_cell", "geometry"]], predicate="intersects")
    expected = joined["grid_cell"].groupby(level=0).min().reindex(points.index)
    got = PolygonIndex(cells, "grid_cell").assign(points)
    assert got.notna().sum() > 20_000
    assert got.tolist() == [v if isinstance(v, str) else None for v in expected]
    few = points.iloc[-gis.assign.EXACT_MAX:] if gis.assign.EXACT_MAX > 0 else points.iloc[-2000:]
    assert PolygonIndex(cells, "grid_cell").assign(few).tolist() == got.iloc[-len(few):].tolist()
