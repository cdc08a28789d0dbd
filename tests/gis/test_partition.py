import shapely
from shapely.geometry import Polygon, box

from gis.partition import partition


def test_parts_tile_the_parent_with_the_asked_areas():
    l_shape = Polygon([(0, 0), (1000, 0), (1000, 400), (400, 400), (400, 1000), (0, 1000)])
    weights = [1, 2, 3, 1, 1]
    parts = partition(l_shape, weights)
    assert abs(shapely.union_all(parts).symmetric_difference(l_shape).area) < 1e-6
    assert sum(p.area for p in parts) == pytest_approx(l_shape.area)
    for a, b in ((a, b) for i, a in enumerate(parts) for b in parts[i + 1:]):
        assert a.intersection(b).area < 1e-6
    for part, w in zip(parts, weights):
        assert abs(part.area / l_shape.area - w / sum(weights)) < 0.03


def test_parts_follow_their_anchors():
    west, east = partition(box(0, 0, 100, 10), [1, 1], anchors=[(90, 5), (10, 5)])
    assert west.centroid.x > east.centroid.x


def pytest_approx(value):
    import pytest

    return pytest.approx(value, rel=1e-9)
