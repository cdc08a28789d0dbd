"""Emerging hotspots: how each place's Gi* standing moves over time.

A space-time series per cell (cases per month, say) gets Gi* in every time bin
(spatial neighbours within the bin, FDR-corrected at 90 %, see
:mod:`gis.hotspots`), and a Mann–Kendall trend of the cell's Gi* z-scores over
the bins (Kendall's tau of z against time, ``scipy.stats.kendalltau``; the same
test and tie correction). Each cell then falls into one of the categories of
ArcGIS's Emerging Hot Spot Analysis, for hot spots and, mirrored, cold spots:

new             hot in the last bin only
consecutive     one unbroken run of at least two hot bins ending in the last, never hot before, < 90 % of bins hot
intensifying    hot in ≥ 90 % of bins including the last, z rising (trend significant)
persistent      hot in ≥ 90 % of bins including the last, no significant trend
diminishing     hot in ≥ 90 % of bins including the last, z falling
sporadic        hot in the last bin, on and off before, < 90 % of bins hot, never cold
oscillating     hot in the last bin, < 90 % of bins hot, cold in some earlier bin
historical      not hot in the last bin, hot in ≥ 90 % of the others
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from libpysal.weights import W
from scipy import stats

from gis.hotspots import confidence_bins, getis_ord

TREND_ALPHA = 0.05
PATTERNS = ("new", "consecutive", "intensifying", "persistent", "diminishing", "sporadic", "oscillating",
            "historical")
PATTERN_WORDS = {"new": ("新增", "new"), "consecutive": ("连续", "consecutive"),
                 "intensifying": ("加剧", "intensifying"), "persistent": ("持续", "persistent"),
                 "diminishing": ("减弱", "diminishing"), "sporadic": ("零星", "sporadic"),
                 "oscillating": ("震荡", "oscillating"), "historical": ("历史", "historical")}


def space_time_counts(places: pd.Series, stamps: pd.Series, keys, *, freq: str = "MS", start=None,
                      end=None, weights=None) -> pd.DataFrame:
    """Events per place (rows: ``keys``, in order) per time bin (columns: each bin's start); ``weights``:
    how many events each (place, stamp) stands for (counts already made per day, say), else one each.

    ``freq`` is ``MS`` (calendar months) or ``W`` (weeks from Monday). Bins run from ``start``'s
    (default: the first stamp's) to ``end`` (default: the last stamp); events at places not in
    ``keys`` are left out.
    """
    stamps = pd.to_datetime(pd.Series(stamps).reset_index(drop=True))
    places = pd.Series(places).reset_index(drop=True).astype(object)
    start = pd.Timestamp(start) if start is not None else stamps.min()
    end = pd.Timestamp(end) if end is not None else stamps.max()
    if freq == "MS":
        edges = pd.date_range(start.to_period("M").start_time, end, freq="MS")
    elif freq == "W":
        edges = pd.date_range(start.normalize() - pd.Timedelta(days=start.weekday()), end, freq="7D")
    else:
        raise ValueError(f"unknown time bin {freq!r}: MS (months) or W (weeks)")
    keys = pd.Index(list(keys))
    row = keys.get_indexer(places)
    col = np.searchsorted(edges.values, stamps.values, side="right") - 1
    ok = (row >= 0) & (col >= 0) & (stamps <= end).to_numpy() & stamps.notna().to_numpy()
    counts = np.zeros((len(keys), len(edges)), dtype=int)
    each = np.ones(len(row), dtype=int) if weights is None else np.asarray(weights, dtype=int)
    np.add.at(counts, (row[ok], col[ok]), each[ok])
    return pd.DataFrame(counts, index=keys, columns=edges)


def mann_kendall(series) -> tuple[float, float]:
    """Kendall's tau of the series against time and its two-sided p-value (the Mann–Kendall trend test)."""
    series = np.asarray(series, dtype=float)
    if len(series) < 3 or np.allclose(series, series[0]):
        return 0.0, 1.0
    tau, p = stats.kendalltau(np.arange(len(series)), series)
    return float(np.nan_to_num(tau)), float(1.0 if np.isnan(p) else p)


def classify(bins, tau: float, p: float, *, alpha: float = TREND_ALPHA) -> str:
    """The pattern of one place from its per-bin confidence bins (-3…3) and its z trend: ``new_hot``,
    ``persistent_cold``, …, or ``no_pattern``."""
    bins = np.asarray(bins)
    for side, sign in (("hot", 1), ("cold", -1)):
        pattern = _pattern(bins * sign > 0, bins * sign < 0, tau * sign, p, alpha)
        if pattern:
            return f"{pattern}_{side}"
    return "no_pattern"


def _pattern(hot: np.ndarray, opposite: np.ndarray, rising: float, p: float, alpha: float) -> str | None:
    if not len(hot):
        return None
    share = hot.mean()
    if not hot[-1]:
        return "historical" if len(hot) > 1 and hot[:-1].mean() >= 0.9 else None
    if share >= 0.9:
        if p < alpha:
            return "intensifying" if rising > 0 else "diminishing"
        return "persistent"
    if not hot[:-1].any():
        return "new"
    run = len(hot) - np.flatnonzero(~hot)[-1] - 1  # hot bins at the end, unbroken
    if run >= 2 and not hot[:len(hot) - run].any():
        return "consecutive"
    return "oscillating" if opposite[:-1].any() else "sporadic"


def emerging_hotspots(counts: pd.DataFrame, w: W, *, key: str) -> pd.DataFrame:
    """Each place's pattern over the bins of ``counts`` (places × bins, in ``w``'s order).

    Columns: ``key``, ``pattern``, ``hot_bins``, ``cold_bins``, ``trend_tau``, ``trend_p``, ``z_last``.
    """
    z = np.zeros(counts.shape)
    bins = np.zeros(counts.shape, dtype=int)
    for t in range(counts.shape[1]):
        z[:, t], p = getis_ord(counts.iloc[:, t].to_numpy(), w)
        bins[:, t] = confidence_bins(z[:, t], p)
    trends = [mann_kendall(row) for row in z]
    return pd.DataFrame({
        key: counts.index.to_numpy(),
        "pattern": [classify(b, tau, p) for b, (tau, p) in zip(bins, trends)],
        "hot_bins": (bins > 0).sum(axis=1), "cold_bins": (bins < 0).sum(axis=1),
        "trend_tau": [t for t, _ in trends], "trend_p": [p for _, p in trends],
        "z_last": z[:, -1] if counts.shape[1] else np.zeros(len(counts)),
    })
