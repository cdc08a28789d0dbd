"""City component inventories (城市部件普查台账): read through a profile like any export.

A component row must carry a valid GB/T 30428.2 code and a point; its class
comes from the code, its state word through the profile's vocabulary. Bad
rows go to the same quarantine as bad case rows, with the same messages.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.normalise import (
    Problems,
    Reach,
    coordinates,
    map_values,
    nfkc,
    parse_datetimes,
    plain_digits,
    shape_problems,
    text_column,
)
from etl.profiles import Profile
from gis.assign import PolygonIndex
from gis.datums import STORAGE_CRS
from layers.components import split_code


def normalise_components(raw: pd.DataFrame, profile: Profile, file: str, *, area: Reach | None = None):
    """Return (components, quarantine) for one inventory export."""
    raw = raw.reset_index(drop=True)
    problems = Problems(len(raw))
    shape_problems(raw, problems)
    cols = profile.columns
    text = {f: text_column(raw, c) for f, c in cols.items()}
    out = pd.DataFrame({"source": profile.source, "file": file, "row": raw["_row"].to_numpy()}, index=raw.index)

    codes = nfkc(text["component_id"])
    problems.add(codes == "", "component_id", cols["component_id"], "missing_field", codes.to_numpy())
    parts = codes.map(split_code)
    problems.add((codes != "") & parts.isna(), "component_id", cols["component_id"], "bad_code", codes.to_numpy())
    dup = (codes != "") & codes.duplicated(keep="first")
    problems.add(dup, "component_id", cols["component_id"], "duplicate_id", codes.to_numpy())
    out["component_id"] = codes
    out["major_class"] = parts.map(lambda p: p[1] if p else None)
    out["minor_class"] = parts.map(lambda p: p[2] if p else None)

    for f in ("class_name", "managing_unit", "owning_unit", "maintaining_unit"):
        out[f] = text[f].where(text[f] != "", None) if f in text else None
    if "state" in text:
        out["state"] = map_values(text["state"], "state", profile, problems, "state", cols["state"])
    else:
        out["state"] = profile.fixed.get("state")
    if "surveyed_at" in text:
        parsed = parse_datetimes(plain_digits(text["surveyed_at"]), profile.datetime_formats)
        problems.add(parsed.isna() & (text["surveyed_at"] != ""), "surveyed_at", cols["surveyed_at"], "bad_date",
                     text["surveyed_at"].to_numpy())
        out["surveyed_at"] = parsed
    else:
        out["surveyed_at"] = pd.NaT

    coordinates(raw, profile, out, problems, area)
    loc = profile.location
    no_point = out["lon"].isna() & ~pd.Series(problems.bad(), index=out.index)
    problems.add(no_point, "location", f"{loc.x}/{loc.y}", "missing_field", np.full(len(raw), ""))
    bad = problems.bad()
    district = area.name if area is not None else "本区"
    return out[~bad].reset_index(drop=True), problems.quarantine(raw, profile.source, file, district=district)


def locate_components(components: pd.DataFrame, cells: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """The components as points with their grid cell, community and street; outside every cell is flagged."""
    points = gpd.GeoSeries(gpd.points_from_xy(components["lon"], components["lat"]), index=components.index,
                           crs=STORAGE_CRS)
    cell = PolygonIndex(cells, "grid_cell").assign(points)
    info = cells.set_index("grid_cell")
    out = gpd.GeoDataFrame(components.drop(columns=["lon", "lat", "file", "row"]), geometry=points, crs=STORAGE_CRS)
    out["grid_cell"] = cell
    out["community_code"] = cell.map(info["community_code"])
    out["street_code"] = cell.map(info["street_code"])
    out["outside_grid"] = cell.isna()
    return out
