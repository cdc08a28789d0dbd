"""Coordinates in the wrong datum, caught: what a profile declares against what a file's rows say.

A wrong datum does not make a coordinate unreadable: a GCJ-02 file declared WGS84 lands every row
about 500 m off, in the wrong grid cell, and nothing complains. Two checks on a sample of each file:

- offset: rows with both coordinates and an address. Where the address finds a building, the
  coordinates should lie on it; when they lie a steady few hundred metres away and reading the
  same numbers in another datum brings them onto it, that datum is likely the file's.
- outside: most points fall outside the district, and the same numbers swapped (lat, lon), or
  read as another Gauss-Krüger zone, with or without the zone prefix, would bring them in.

All datum arithmetic is ``gis.datums``'.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import shapely
from pyproj import CRS

from etl.locate import geocode
from etl.normalise import Reach, plain_digits, text_column
from gis.datums import DatumError, from_cgcs2000, to_cgcs2000, to_metric

# Rows of a file each check looks at: enough for a steady median, cheap on a million-row export.
SAMPLE = 400
# Fewer rows than this say nothing either way (a push of three cases).
MIN_ROWS = 10
# Coordinates this far (median) from their addresses' buildings are worth another look;
# a case is reported near its building, not on it (the demo's correct files: about 100 m); a GCJ-02 shift
# here is about 500 m, so a datum is named only when it brings the points much closer.
OFFSET_LOOK_M = 100.0
# Another datum is named only when it brings the points this much closer.
OFFSET_BETTER = 3.0
# Most points outside the district: fewer than this share inside...
INSIDE_FEW = 0.5
# ...and another reading puts at least this share inside.
INSIDE_MOST = 0.8
# Datums given in degrees; WGS84 and CGCS2000 differ by centimetres here, so they are one reading.
DEGREES = ("wgs84", "gcj02", "bd09")
# CGCS2000 3° Gauss-Krüger zones: with the zone prefix in x (EPSG:4513-4533), without (4534-4554).
GAUSS_KRUGER = tuple(f"EPSG:{code}" for code in range(4513, 4555))


@dataclass(frozen=True)
class DatumWarning:
    file: str
    check: str  # offset | outside
    declared: str
    likely: str  # the datum the rows fit, as a profile's location.datum; with "swapped" when x and y are
    swapped: bool
    message: str

    def to_dict(self) -> dict:
        return asdict(self)


def datum_warnings(raw: pd.DataFrame, records: pd.DataFrame, profile, file: str, *, area: Reach | None,
                   matcher_for=None) -> list[DatumWarning]:
    """What one file's coordinates say about its declared datum (nothing when they fit it).

    ``raw`` is the file as read, ``records`` its normalised rows; ``matcher_for()`` gives the
    district's address matcher, asked for only when rows have both coordinates and addresses.
    """
    loc = profile.location
    if loc.x is None or loc.datum is None or loc.datum_column:
        return []
    x, y = _numbers(raw, loc.x), _numbers(raw, loc.y)
    warning = outside(x, y, loc.datum, file, area) if area is not None else None
    if warning is None and matcher_for is not None:
        warning = offset(records, loc.datum, file, matcher_for)
    return [warning] if warning else []


def _numbers(raw, column) -> np.ndarray:
    return pd.to_numeric(plain_digits(text_column(raw, column)), errors="coerce").to_numpy(dtype=float)


def _sample(mask: np.ndarray) -> np.ndarray:
    rows = np.flatnonzero(mask)
    if len(rows) > SAMPLE:  # spread over the file, the same rows each run
        rows = rows[np.linspace(0, len(rows) - 1, SAMPLE).astype(int)]
    return rows


def _inside_share(x, y, datum, area: Reach) -> float:
    try:
        lon, lat = to_cgcs2000(x, y, datum)
    except DatumError:
        return 0.0
    lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
    ok = np.isfinite(lon) & np.isfinite(lat)
    inside = np.zeros(len(lon), dtype=bool)
    inside[ok] = shapely.contains_xy(area.polygon, lon[ok], lat[ok])
    return float(inside.mean()) if len(inside) else 0.0


def describe(datum: str) -> str:
    """A datum as a person knows it: "EPSG:4528 (CGCS2000 / 3-degree Gauss-Kruger zone 40)"."""
    if datum.upper().startswith("EPSG:"):
        return f"{datum} ({CRS.from_user_input(datum).name})"
    return {"wgs84": "wgs84 (or cgcs2000)", "gcj02": "gcj02 (高德/腾讯)", "bd09": "bd09 (百度)"}.get(datum, datum)


def outside(x, y, declared: str, file: str, area: Reach) -> DatumWarning | None:
    """Most points outside the district, and another reading of the same numbers brings them in."""
    rows = _sample(np.isfinite(x) & np.isfinite(y) & ~((x == 0) & (y == 0)))
    if len(rows) < MIN_ROWS:
        return None
    x, y = x[rows], y[rows]
    share = _inside_share(x, y, declared, area)
    if share >= INSIDE_FEW:
        return None
    # Degrees are smaller than 1000; metres of a Gauss-Krüger grid are not.
    readings = DEGREES if np.nanmedian(np.abs(x)) < 1000 else GAUSS_KRUGER
    tried = [(declared, True)] + [(d, s) for d in readings for s in (False, True) if (d, s) != (declared, False)]
    shares = [_inside_share(y, x, d, area) if swapped else _inside_share(x, y, d, area) for d, swapped in tried]
    pick = int(np.argmax(shares))  # the first of the best: the declared datum swapped before any other
    best_share = shares[pick]
    if best_share < INSIDE_MOST:
        return None
    datum, swapped = tried[pick]
    how = "with x and y swapped (exchange the profile's location.x and location.y)" if swapped else ""
    if datum in DEGREES and not swapped:
        how = "(degrees: the offset from addresses, where there are any, tells wgs84 from gcj02 or bd09)"
    return DatumWarning(
        file, "outside", declared, datum, swapped,
        f"{file}: {1 - share:.0%} of the coordinates fall outside {area.name} read as {describe(declared)}; "
        f"read as {describe(datum)} {how}".rstrip() + f", {best_share:.0%} fall inside: "
        f"the file's datum is likely {datum}, not {declared} (the profile's location.datum) · "
        f"坐标系可能是{datum}{'(经纬度列颠倒)' if swapped else ''}而非{declared}")


def offset(records: pd.DataFrame, declared: str, file: str, matcher_for) -> DatumWarning | None:
    """Coordinates a steady distance from their addresses' buildings, which another datum takes away."""
    key = declared.strip().lower()
    if key not in (*DEGREES, "cgcs2000") or "address" not in records or not len(records):
        return None
    has_both = records["lon"].notna().to_numpy() & records["address"].notna().to_numpy()
    rows = _sample(has_both)
    if len(rows) < MIN_ROWS:
        return None
    sample = records.iloc[rows]
    found = geocode(sample.drop(columns="community_name", errors="ignore"), matcher_for())
    at_building = (found["precision"] == "building").to_numpy()
    if at_building.sum() < MIN_ROWS:
        return None
    lon, lat = sample["lon"].to_numpy(float)[at_building], sample["lat"].to_numpy(float)[at_building]
    east_b, north_b = to_metric(found["lon"].to_numpy(float)[at_building], found["lat"].to_numpy(float)[at_building])
    x, y = from_cgcs2000(lon, lat, key)  # the file's own numbers again

    def distances(datum):
        east, north = to_metric(*to_cgcs2000(x, y, datum))
        return east - east_b, north - north_b

    shifts = {d: distances(d) for d in DEGREES}
    median = {d: float(np.median(np.hypot(*shifts[d]))) for d in DEGREES}
    said = "wgs84" if key == "cgcs2000" else key
    best = min(DEGREES, key=lambda d: median[d])
    if best == said or median[said] < OFFSET_LOOK_M or median[best] * OFFSET_BETTER > median[said]:
        return None
    east, north = (float(np.median(v)) for v in shifts[said])
    return DatumWarning(
        file, "offset", declared, best, False,
        f"{file}: read as {describe(declared)}, the coordinates of {int(at_building.sum())} rows lie a median "
        f"{median[said]:.0f} m from their addresses' buildings ({east:+.0f} m east, {north:+.0f} m north), "
        f"read as {describe(best)} {median[best]:.0f} m: the file's datum is likely {best}, not {declared} "
        f"(the profile's location.datum) · 坐标与地址相差约{median[said]:.0f}米，坐标系可能是{best}而非{declared}")
