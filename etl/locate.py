"""Place intake records on the map: coordinates first, else the address, else the community named.

Each record gets a point in CGCS2000 (or none), a precision, and its grid
cell, community, street, estate and setback area.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.assign import assign_to_polygons
from gis.datums import STORAGE_CRS
from gis.geocode import AddressMatcher


def locate(records: pd.DataFrame, geography: dict) -> gpd.GeoDataFrame:
    """Return ``records`` as a GeoDataFrame with location fields filled in.

    ``geography`` holds the stored layers ``streets``, ``communities``,
    ``grid_cells``, ``estates`` and ``setback_areas``.
    """
    communities = geography["communities"]
    streets = geography["streets"]
    cells = geography["grid_cells"]
    matcher = AddressMatcher(communities, streets)
    has_xy = records["lon"].notna().to_numpy()
    points = gpd.GeoSeries(gpd.points_from_xy(records["lon"], records["lat"]), index=records.index, crs=STORAGE_CRS)
    points[~has_xy] = None

    precision = np.where(has_xy, "building", "none").astype(object)
    community = pd.Series(None, index=records.index, dtype=object)
    street = pd.Series(None, index=records.index, dtype=object)
    names = records["community_name"] if "community_name" in records else pd.Series(None, index=records.index)
    by_name = {}  # a register names the same few communities thousands of times
    for i in np.flatnonzero(~has_xy):
        name, address = names.iat[i], records["address"].iat[i]
        match = None
        if isinstance(name, str) and name:
            if name not in by_name:
                by_name[name] = matcher.community_named(name)
            match = by_name[name]
        if match is None or match.precision == "none":
            match = matcher.match(address) if isinstance(address, str) else None
        if match is not None and match.precision != "none":
            precision[i] = match.precision
            community.iat[i] = match.community_code
            street.iat[i] = match.street_code

    # A case known only to its community sits at the community's own point, never a random one.
    anchors = {**_anchor_points(streets, "street_code"), **_anchor_points(communities, "community_code")}
    placed = np.flatnonzero(~has_xy & (precision != "none"))
    if len(placed):
        keys = [community.iat[i] or street.iat[i] for i in placed]
        points.iloc[placed] = gpd.GeoSeries([anchors[k] for k in keys], crs=STORAGE_CRS).values

    cell = assign_to_polygons(points.where(pd.Series(has_xy, index=records.index)), cells, "grid_cell")
    cell_info = cells.set_index("grid_cell")
    in_cell = cell.notna()
    community[in_cell] = cell[in_cell].map(cell_info["community_code"])
    street[in_cell] = cell[in_cell].map(cell_info["street_code"])
    street = street.where(street.notna(), community.map(dict(zip(communities["community_code"],
                                                                 communities["street_code"]))))
    setback = assign_to_polygons(points.where(pd.Series(has_xy, index=records.index)),
                                 geography["setback_areas"], "setback_area")
    estate = assign_to_polygons(points.where(pd.Series(has_xy, index=records.index)),
                                geography["estates"], "estate_id")
    setback_estate = setback.map(dict(zip(geography["setback_areas"]["setback_area"],
                                          geography["setback_areas"]["estate_id"])))
    out = gpd.GeoDataFrame(records.copy(), geometry=points, crs=STORAGE_CRS)
    out["location_precision"] = precision
    out["grid_cell"] = cell
    out["community_code"] = community
    out["street_code"] = street
    out["setback_area"] = setback
    out["estate_id"] = estate.where(estate.notna(), setback_estate)
    # Located by coordinates but in no grid cell: a blind spot to show, not an error.
    out["outside_grid"] = has_xy & cell.isna().to_numpy()
    return out


def _anchor_points(frame, key):
    return dict(zip(frame[key], frame.geometry.representative_point()))
