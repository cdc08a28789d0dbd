"""Kernel density on the metric grid, checked against the Gaussian's own figures and scipy's exact KDE."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from gis.heat import kernel_density, to_metric


def test_one_case_gives_the_gaussian_peak_and_integrates_to_one():
    heat = kernel_density([1000.0], [1000.0], (0, 0, 2000, 2000), bandwidth_m=300, cell_m=10)
    # A 2-D Gaussian of σ = 300 m peaks at 1 / (2π σ²) per m²: 1.768 cases per km².
    assert heat.density.max() == pytest.approx(1e6 / (2 * np.pi * 300**2), rel=0.01)
    cell_km2 = (heat.cell_m / 1000) ** 2
    assert heat.density.sum() * cell_km2 == pytest.approx(1.0, abs=1e-3)


def test_the_binned_estimate_matches_the_exact_sum_of_kernels():
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.normal(2000, 400, 3000), rng.normal(5000, 200, 1000)])
    y = np.concatenate([rng.normal(3000, 400, 3000), rng.normal(1500, 200, 1000)])
    heat = kernel_density(x, y, (0, 0, 7000, 5000), bandwidth_m=250, cell_m=25)
    minx, _, _, maxy = heat.bounds
    rows, cols = np.array([40, 100, 160, 200]), np.array([60, 120, 200, 250])
    centres = np.column_stack([minx + (cols + 0.5) * heat.cell_m, maxy - (rows + 0.5) * heat.cell_m])
    # The exact estimate: the sum over the cases of each one's Gaussian (scipy's pdf), per km².
    exact = sum(multivariate_normal.pdf(centres, mean=p, cov=250**2) for p in zip(x, y)) * 1e6
    # Binning moves each case by at most half a cell: within 3 %, or 0.05 per km² in the thin tails.
    assert heat.density[rows, cols] == pytest.approx(exact, rel=0.03, abs=0.05)


def test_lon_lat_go_to_the_gauss_krueger_metres_of_design():
    # DESIGN: at 29.87 N 121.55 E, EPSG:4549 gives E 649757.548, N 3306711.728.
    x, y = to_metric([121.55], [29.87])
    assert x[0] == pytest.approx(649757.548, abs=0.01) and y[0] == pytest.approx(3306711.728, abs=0.01)
