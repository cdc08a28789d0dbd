"""Hotspots: Getis-Ord Gi* over grid cells (or hexagons), with a false-discovery-rate correction.

Gi* compares the sum of a place's value and its neighbours' with what the whole
area's mean would give; a large positive z is a hot spot, a large negative one a
cold spot. The statistic is esda's ``G_Local`` (``star=True``, binary weights);
p-values are two-sided from the normal approximation, as ArcGIS reports them,
and a place is called hot or cold at 90 %, 95 % or 99 % confidence only if it
passes the Benjamini–Hochberg cut-off at that level (``esda.fdr``), so that
testing six hundred cells at once does not light up chance.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from esda import G_Local, fdr
from libpysal.weights import Queen, W
from scipy import stats

# Confidence bin → (the two-sided level it stands for, 中文, English), as ArcGIS's Gi_Bin.
LEVELS = {3: 0.01, 2: 0.05, 1: 0.10}
BIN_WORDS = {3: ("热点 99%", "hot spot 99%"), 2: ("热点 95%", "hot spot 95%"), 1: ("热点 90%", "hot spot 90%"),
             0: ("不显著", "not significant"), -1: ("冷点 90%", "cold spot 90%"), -2: ("冷点 95%", "cold spot 95%"),
             -3: ("冷点 99%", "cold spot 99%")}


def contiguity(places) -> W:
    """Queen contiguity of polygons (sharing an edge or a corner), in the frame's row order.

    A place with no neighbour keeps only itself (Gi* counts the place in its own sum).
    """
    if len(places) == 0:
        return W({})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # libpysal warns about islands; Gi* handles them through the self term
        return Queen.from_dataframe(places, use_index=False)


def getis_ord(values, w: W) -> tuple[np.ndarray, np.ndarray]:
    """Gi* z-scores and their two-sided p-values (normal approximation) for ``values`` in ``w``'s order."""
    values = np.asarray(values, dtype=float)
    if len(values) < 2 or np.allclose(values, values[0]):
        return np.zeros(len(values)), np.ones(len(values))  # nothing stands out of a flat surface
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = G_Local(values, w, transform="B", star=True, permutations=0)
    z = np.nan_to_num(np.asarray(g.Zs, dtype=float))
    return z, 2 * stats.norm.sf(np.abs(z))


def confidence_bins(z, p, *, fdr_correction: bool = True) -> np.ndarray:
    """-3…3: hot (positive) or cold (negative) at 99/95/90 % confidence, 0 where not significant."""
    z, p = np.asarray(z, dtype=float), np.asarray(p, dtype=float)
    bins = np.zeros(len(z), dtype=int)
    for level, alpha in sorted(LEVELS.items()):  # 90 % first, so the stricter levels overwrite
        cut = fdr(p, alpha) if fdr_correction and len(p) else alpha
        bins[p <= cut] = level
    return np.where(z < 0, -bins, bins)


def hotspots(places, values, *, key: str, w: W | None = None, fdr_correction: bool = True) -> pd.DataFrame:
    """Gi* for each place: ``key``, ``value``, ``z``, ``p`` and the confidence ``bin`` (-3…3)."""
    w = contiguity(places) if w is None else w
    z, p = getis_ord(values, w)
    return pd.DataFrame({key: np.asarray(places[key]), "value": np.asarray(values, dtype=float), "z": z, "p": p,
                         "bin": confidence_bins(z, p, fdr_correction=fdr_correction)})
