"""Gi* hotspots: esda's own published example, and grids whose right answer is known."""

import geopandas as gpd
import numpy as np
import pytest
from libpysal.weights import DistanceBand
from shapely.geometry import box

from gis.hotspots import confidence_bins, getis_ord, hotspots


def grid(n: int) -> gpd.GeoDataFrame:
    """An n × n grid of 100 m squares, named r{row}c{col}."""
    cells = [(r, c) for r in range(n) for c in range(n)]
    return gpd.GeoDataFrame({"cell": [f"r{r}c{c}" for r, c in cells], "row": [r for r, _ in cells],
                             "col": [c for _, c in cells]},
                            geometry=[box(c * 100, r * 100, (c + 1) * 100, (r + 1) * 100) for r, c in cells],
                            crs="EPSG:4549")


def test_gi_star_matches_the_figures_published_in_esdas_g_local_example():
    # esda.getisord.G_Local's docstring: six points, distance band 15, binary weights, star=True.
    points = [(10, 10), (20, 10), (40, 10), (15, 20), (30, 20), (30, 30)]
    w = DistanceBand(points, threshold=15, silence_warnings=True)
    z, p = getis_ord(np.array([2, 3, 3.2, 5, 8, 7]), w)
    assert z == pytest.approx([-1.39727626, -0.28917762, 0.65064964, -0.28917762, 1.23452088, 2.02424331], abs=1e-8)
    assert p[5] == pytest.approx(0.04295, abs=1e-4)  # two-sided: 2 × (1 − Φ(2.024))


def test_a_planted_cluster_is_hot_and_nothing_else_is():
    cells = grid(15)
    rng = np.random.default_rng(7)
    planted = cells["row"].between(5, 7) & cells["col"].between(9, 11)
    counts = rng.poisson(np.where(planted, 30, 5))
    found = hotspots(cells, counts, key="cell")
    assert (found.loc[planted.to_numpy(), "bin"] >= 2).all()
    # Away from the cluster and its ring of neighbours, nothing is called hot or cold.
    near = cells["row"].between(4, 8) & cells["col"].between(8, 12)
    assert (found.loc[~near.to_numpy(), "bin"] == 0).all()
    assert list(found.columns) == ["cell", "value", "z", "p", "bin"]


def test_the_false_discovery_rate_correction_keeps_noise_from_lighting_up():
    cells = grid(15)
    counts = np.random.default_rng(3).poisson(5, len(cells))
    raw = hotspots(cells, counts, key="cell", fdr_correction=False)
    corrected = hotspots(cells, counts, key="cell")
    assert (raw["bin"] != 0).sum() >= 5  # about one in ten by chance at 90 %
    assert (corrected["bin"] == 0).all()


def test_bins_follow_the_confidence_levels_and_the_sign():
    z = np.array([3.0, -2.2, 1.7, 0.5])
    p = np.array([0.002, 0.03, 0.09, 0.6])
    assert confidence_bins(z, p, fdr_correction=False).tolist() == [3, -2, 1, 0]


def test_a_flat_surface_has_no_hotspots():
    cells = grid(4)
    found = hotspots(cells, np.full(len(cells), 3), key="cell")
    assert (found["bin"] == 0).all() and (found["z"] == 0).all()


def test_no_places_no_hotspots():
    found = hotspots(grid(1).iloc[:0], np.array([]), key="cell")
    assert found.empty and list(found.columns) == ["cell", "value", "z", "p", "bin"]
