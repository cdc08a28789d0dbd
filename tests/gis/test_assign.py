import geopandas as gpd
from shapely.geometry import Point, box

from gis.assign import assign_to_polygons

CELLS = gpd.GeoDataFrame({"grid_cell": ["B", "A"]}, geometry=[box(1, 0, 2, 1), box(0, 0, 1, 1)], crs=4490)


def test_point_on_a_shared_edge_goes_to_the_smallest_id_every_time():
    pts = gpd.GeoSeries([Point(1, 0.5)], crs=4490)
    assert assign_to_polygons(pts, CELLS, "grid_cell").tolist() == ["A"]
    assert assign_to_polygons(pts, CELLS.iloc[::-1], "grid_cell").tolist() == ["A"]


def test_points_outside_every_cell_and_missing_points_get_none():
    pts = gpd.GeoSeries([Point(1.5, 0.5), Point(5, 5), None], crs=4490)
    assert assign_to_polygons(pts, CELLS, "grid_cell").tolist() == ["B", None, None]
