"""Datums: every input coordinate is brought to CGCS2000 lon/lat (EPSG:4490).

GCJ-02 and BD-09 are not in PROJ, so their one public formula lives here,
forward and inverse. Everything PROJ does (geographic datums, Gauss-Krüger
zones) is left to pyproj. WGS84 and CGCS2000 differ by centimetres in this
work, so WGS84 input is taken as CGCS2000 without a shift.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from pyproj import CRS, Transformer

STORAGE_CRS = "EPSG:4490"
METRIC_CRS = "EPSG:4549"  # CGCS2000 / 3-degree GK CM 120E

_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = np.pi * 3000.0 / 180.0

# Datums named in source profiles; each maps to an EPSG code PROJ knows, or
# to one of the two Chinese obfuscations handled here.
GEOGRAPHIC = {"wgs84": "EPSG:4326", "cgcs2000": "EPSG:4490"}
OBFUSCATED = ("gcj02", "bd09")


class DatumError(ValueError):
    """A datum name that no source profile may use."""


def out_of_china(lon, lat):
    """True where GCJ-02 leaves a point unshifted (outside the published box)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return (lon < 72.004) | (lon > 137.8347) | (lat < 0.8293) | (lat > 55.8271)


def _delta(lon, lat):
    x = lon - 105.0
    y = lat - 35.0
    dlat = (-100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y
            + 0.2 * np.sqrt(np.abs(x)))
    dlat += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlat += (20.0 * np.sin(y * np.pi) + 40.0 * np.sin(y / 3.0 * np.pi)) * 2.0 / 3.0
    dlat += (160.0 * np.sin(y / 12.0 * np.pi) + 320 * np.sin(y * np.pi / 30.0)) * 2.0 / 3.0
    dlon = (300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y
            + 0.1 * np.sqrt(np.abs(x)))
    dlon += (20.0 * np.sin(6.0 * x * np.pi) + 20.0 * np.sin(2.0 * x * np.pi)) * 2.0 / 3.0
    dlon += (20.0 * np.sin(x * np.pi) + 40.0 * np.sin(x / 3.0 * np.pi)) * 2.0 / 3.0
    dlon += (150.0 * np.sin(x / 12.0 * np.pi) + 300.0 * np.sin(x / 30.0 * np.pi)) * 2.0 / 3.0
    radlat = lat / 180.0 * np.pi
    magic = 1 - _EE * np.sin(radlat) ** 2
    sqrtmagic = np.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1 - _EE)) / (magic * sqrtmagic) * np.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * np.cos(radlat) * np.pi)
    return dlon, dlat


def wgs84_to_gcj02(lon, lat):
    """Shift WGS84 lon/lat to GCJ-02; points outside China are returned unchanged."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    dlon, dlat = _delta(lon, lat)
    outside = out_of_china(lon, lat)
    return np.where(outside, lon, lon + dlon), np.where(outside, lat, lat + dlat)


def _invert(forward, x, y, guess, tolerance_deg, max_iter=30):
    """Solve forward(p) = (x, y) by fixed-point iteration from ``guess``.

    Both shifts vary slowly (their gradient is below 1e-3), so each step
    shrinks the error about a thousandfold.
    """
    px, py = guess
    for _ in range(max_iter):
        fx, fy = forward(px, py)
        ex, ey = fx - x, fy - y
        px, py = px - ex, py - ey
        if np.all(np.abs(ex) < tolerance_deg) and np.all(np.abs(ey) < tolerance_deg):
            break
    return px, py


def gcj02_to_wgs84(lon, lat, *, tolerance_deg=1e-9):
    """Invert GCJ-02; 1e-9 degrees is about 0.1 mm, well under the 1 cm the round trip must keep."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return _invert(wgs84_to_gcj02, lon, lat, (lon.copy(), lat.copy()), tolerance_deg)


def gcj02_to_bd09(lon, lat):
    """Shift GCJ-02 to BD-09 (Baidu)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    z = np.sqrt(lon * lon + lat * lat) + 0.00002 * np.sin(lat * _X_PI)
    theta = np.arctan2(lat, lon) + 0.000003 * np.cos(lon * _X_PI)
    return z * np.cos(theta) + 0.0065, z * np.sin(theta) + 0.006


def bd09_to_gcj02(lon, lat, *, tolerance_deg=1e-10):
    """Invert BD-09 by iterating the forward formula (the usual closed form is off by ~1e-6 deg)."""
    lon = np.asarray(lon, dtype=float)
    lat = np.asarray(lat, dtype=float)
    return _invert(gcj02_to_bd09, lon, lat, (lon - 0.0065, lat - 0.006), tolerance_deg)


def wgs84_to_bd09(lon, lat):
    """WGS84 lon/lat to Baidu's BD-09, through GCJ-02."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lon, lat))


def bd09_to_wgs84(lon, lat):
    """Baidu's BD-09 lon/lat to WGS84, through GCJ-02 (both inverted by iteration)."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lon, lat))


def _proj_crs(datum: str) -> str:
    key = datum.strip().lower()
    if key in GEOGRAPHIC:
        return GEOGRAPHIC[key]
    if key.startswith("epsg:"):
        try:
            CRS.from_user_input(key)
        except Exception as exc:  # pyproj raises CRSError, a plain Exception subclass
            raise DatumError(f"unknown datum {datum!r}: {exc}") from exc
        return key.upper()
    raise DatumError(
        f"unknown datum {datum!r}; expected one of wgs84, cgcs2000, gcj02, bd09 "
        "or an EPSG code such as EPSG:4549 (CGCS2000 GK CM 120E)"
    )


def to_cgcs2000(x, y, datum: str):
    """Convert coordinates in ``datum`` to CGCS2000 lon/lat (EPSG:4490).

    Parameters
    ----------
    x, y : array-like
        Easting/longitude and northing/latitude, in the source's order.
    datum : str
        ``wgs84``, ``cgcs2000``, ``gcj02``, ``bd09`` or an ``EPSG:`` code
        (projected Gauss-Krüger zones included).
    """
    key = datum.strip().lower()
    # Absurd input (1e308, inf) comes out as NaN or inf, which the caller rejects; no warning needed.
    with np.errstate(over="ignore", invalid="ignore"):
        if key == "gcj02":
            return gcj02_to_wgs84(x, y)
        if key == "bd09":
            return bd09_to_wgs84(x, y)
        return _transform(_proj_crs(datum), STORAGE_CRS, x, y)


def from_cgcs2000(lon, lat, datum: str):
    """Convert CGCS2000 lon/lat to ``datum``: the inverse of :func:`to_cgcs2000`."""
    key = datum.strip().lower()
    if key == "gcj02":
        return wgs84_to_gcj02(lon, lat)
    if key == "bd09":
        return wgs84_to_bd09(lon, lat)
    return _transform(STORAGE_CRS, _proj_crs(datum), lon, lat)


def to_metric(lon, lat):
    """CGCS2000 lon/lat to metres in METRIC_CRS, as arrays: for distances between many points, with no geometry made."""
    return _transform(STORAGE_CRS, METRIC_CRS, lon, lat)


def _transform(source: str, target: str, x, y):
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    if source == target:
        return x, y
    return _transformer(source, target).transform(x, y)


@lru_cache(maxsize=64)
def _transformer(source: str, target: str) -> Transformer:
    """Made once per pair: making one costs 60 ms, more than converting a few cases (a push of one case
    did it three times). Transformers are thread-safe since pyproj 3.1."""
    return Transformer.from_crs(source, target, always_xy=True)
