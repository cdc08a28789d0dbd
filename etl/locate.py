"""Place intake records on the map: coordinates first, else the address, else the community named.

Each record gets a point in CGCS2000 (or none), a precision (building,
road, community, street, none), the standard address it matched, and its
grid cell, community, street, estate and setback area.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from gis.assign import PolygonIndex
from gis.datums import METRIC_CRS, STORAGE_CRS
from gis.geocode import NO_MATCH, AddressMatcher
from layers.areas import DISTRICT_DIGITS


def address_names(geography: dict) -> dict:
    """The district's address prefix and the names of other places, from its stored row (words split by spaces);
    of every district a city's store holds, an address may begin with any of theirs."""
    district = geography.get("district")
    if district is None or not len(district):
        return {}

    def words(column):
        found = (str(value).split() for value in district[column] if isinstance(value, str)) \
            if column in district else ()
        return tuple(dict.fromkeys(word for split in found for word in split))
    named = set(district["name"]) if "name" in district else set()
    # One district's name is not "another place" to its neighbour in the same store.
    return {"prefix": words("address_prefix"), "elsewhere": tuple(w for w in words("elsewhere") if w not in named)}


def geocode(records: pd.DataFrame, matcher: AddressMatcher) -> pd.DataFrame:
    """Match each record without coordinates by its address and its community column.

    The address wins when it reaches a road or a building, unless it names
    another community than the record's own community column: a register's
    community is typed from a list, the address by hand.
    """
    n = len(records)
    names = records["community_name"] if "community_name" in records else pd.Series(None, index=records.index)
    addresses = records["address"] if "address" in records else pd.Series(None, index=records.index)
    by_name, by_address = {}, {}  # registers repeat the same few communities and addresses
    rows = []
    for i in range(n):
        name, address = names.iat[i], addresses.iat[i]
        named = NO_MATCH
        if isinstance(name, str) and name:
            named = by_name.setdefault(name, matcher.community_named(name))
        written = NO_MATCH
        if isinstance(address, str) and address:
            written = by_address.setdefault(address, matcher.match(address))
        agrees = named.precision == "none" or written.community_code in (None, named.community_code)
        if written.precision in ("building", "road") and agrees:
            match = written
        elif named.precision != "none":
            match = named
        else:
            match = written
        rows.append((match.precision, match.community_code, match.street_code, match.address_id,
                     match.lon, match.lat))
    columns = ["precision", "community_code", "street_code", "address_id", "lon", "lat"]
    out = pd.DataFrame(rows, columns=columns, index=records.index, dtype=object)
    out[["lon", "lat"]] = out[["lon", "lat"]].astype(float)
    return out


def locate(records: pd.DataFrame, geography: dict) -> gpd.GeoDataFrame:
    """Return ``records`` as a GeoDataFrame with location fields filled in.

    ``geography`` holds the stored layers ``streets``, ``communities``,
    ``grid_cells``, ``estates``, ``setback_areas`` and ``addresses``.
    """
    communities = geography["communities"]
    streets = geography["streets"]
    cells = geography["grid_cells"]
    has_xy = records["lon"].notna().to_numpy()
    lon = records["lon"].to_numpy(dtype=float).copy()
    lat = records["lat"].to_numpy(dtype=float).copy()
    precision = np.where(has_xy, "building", "none").astype(object)
    community = pd.Series(None, index=records.index, dtype=object)
    street = pd.Series(None, index=records.index, dtype=object)
    address_id = pd.Series(None, index=records.index, dtype=object)

    todo = ~has_xy
    if todo.any():
        matcher = AddressMatcher(communities, streets, geography.get("addresses"), **address_names(geography))
        found = geocode(records[todo], matcher)
        precision[todo] = found["precision"].to_numpy()
        community[todo] = found["community_code"].to_numpy()
        street[todo] = found["street_code"].to_numpy()
        address_id[todo] = found["address_id"].to_numpy()
        lon[todo] = found["lon"].to_numpy(dtype=float)
        lat[todo] = found["lat"].to_numpy(dtype=float)
    # A case known only to its community (or street) sits at that place's own point, never a random one.
    anchors = {**_anchor_points(streets, "street_code"), **_anchor_points(communities, "community_code")}
    for i in np.flatnonzero(np.isin(precision, ("community", "street"))):
        point = anchors[community.iat[i] if isinstance(community.iat[i], str) else street.iat[i]]
        lon[i], lat[i] = point.x, point.y

    points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=records.index, crs=STORAGE_CRS)
    points[np.isnan(lon)] = None
    # Only a point that stands for a place (building, road, coordinates) belongs in a cell or an estate.
    placed = points.where(pd.Series(np.isin(precision, ("building", "road")), index=records.index))
    cell = PolygonIndex(cells, "grid_cell").assign(placed)
    cell_info = cells.set_index("grid_cell")
    in_cell = cell.notna()
    community[in_cell] = cell[in_cell].map(cell_info["community_code"])
    street[in_cell] = cell[in_cell].map(cell_info["street_code"])
    street = street.where(street.notna(), community.map(dict(zip(communities["community_code"],
                                                                 communities["street_code"]))))
    setbacks = geography["setback_areas"]
    setback = PolygonIndex(setbacks, "setback_area").assign(placed)
    estate = PolygonIndex(geography["estates"], "estate_id").assign(placed)
    setback_estate = setback.map(dict(zip(setbacks["setback_area"], setbacks["estate_id"])))
    out = gpd.GeoDataFrame(records.copy(), geometry=points, crs=STORAGE_CRS)
    out["location_precision"] = precision
    out["address_id"] = address_id
    out["grid_cell"] = cell
    out["community_code"] = community
    out["street_code"] = street
    out["setback_area"] = setback
    out["estate_id"] = estate.where(estate.notna(), setback_estate)
    # Located by coordinates but in no grid cell: a blind spot to show, not an error.
    out["outside_grid"] = has_xy & cell.isna().to_numpy()
    out["district_code"] = district_of(street, points, geography.get("district"))
    return out


def district_of(street: pd.Series, points: gpd.GeoSeries, district) -> pd.Series:
    """Each record's district: the store's one district; where it holds several, the district its street's code
    begins with, else the one whose outline holds (or lies nearest) its point; None with neither."""
    found = pd.Series(None, index=street.index, dtype=object)
    if district is None or not len(district):
        return found
    codes = district["district_code"].astype(str)
    if len(codes) == 1:
        return found.fillna(codes.iat[0])
    by_street = street.str[:DISTRICT_DIGITS]
    found = by_street.where(by_street.isin(set(codes)))
    todo = found.isna() & points.notna()
    if todo.any():
        outlines = district.to_crs(METRIC_CRS)
        near = gpd.sjoin_nearest(gpd.GeoDataFrame(geometry=points[todo].to_crs(METRIC_CRS)),
                                 outlines[["district_code", "geometry"]], how="left")
        found[todo] = near[~near.index.duplicated()]["district_code"].reindex(points[todo].index).to_numpy()
    return found


def _anchor_points(frame, key):
    return dict(zip(frame[key], frame.geometry.representative_point()))
