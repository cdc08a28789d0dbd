"""What an ingest adds to its quarantine entries so a clerk can work them, and which entries it clears.

An entry keeps the row's id and, where the row's coordinates or community say it, its place: a
street's clerk sees the rows of their street. An entry is cleared when its row is ingested again
successfully: the same file and row (a fixed row sent back, ``etl.retry``), or the same source and
id (a later export in which the row is right).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd

from etl.normalise import plain_digits, text_column
from gis.assign import PolygonIndex
from gis.datums import STORAGE_CRS, DatumError, to_cgcs2000


def placed(quarantine: pd.DataFrame, raw: pd.DataFrame, profile, geography: dict) -> pd.DataFrame:
    """``quarantine`` (one file's entries) with each row's id and, where it can be told, its place."""
    out = quarantine.copy()
    out["source_id"] = out["grid_cell"] = out["community_code"] = out["street_code"] = None
    if not len(out):
        return out
    at = pd.Series(np.arange(len(raw)), index=raw["_row"].to_numpy())
    rows = at.reindex(out["row"].to_numpy()).to_numpy()
    rows = np.where(np.isnan(rows), -1, rows).astype(int)
    raw = raw.reset_index(drop=True)

    def column(name):
        values = text_column(raw, name).to_numpy(dtype=object)
        return pd.Series([values[i] if i >= 0 else "" for i in rows], index=out.index, dtype=object)

    id_column = profile.columns.get("source_id") or profile.columns.get("component_id")
    if id_column in raw:
        # A NUL in a bad row's id is shown as such (U+FFFD), not kept: PostgreSQL's text cannot hold it, and the
        # whole ingest (a push's 400 with the row quarantined) failed with a 503 (found by schemathesis).
        ids = column(id_column).map(lambda v: v.replace("\x00", "\ufffd") if isinstance(v, str) else v)
        out["source_id"] = ids.where(ids != "", None)
    loc = profile.location
    cells = geography["grid_cells"]
    if loc.x in raw and loc.y in raw and loc.datum and not loc.datum_column:
        x = pd.to_numeric(plain_digits(column(loc.x)), errors="coerce").to_numpy(dtype=float)
        y = pd.to_numeric(plain_digits(column(loc.y)), errors="coerce").to_numpy(dtype=float)
        try:
            lon, lat = to_cgcs2000(x, y, loc.datum)
        except DatumError:
            lon = lat = np.full(len(x), np.nan)
        lon, lat = np.asarray(lon, dtype=float), np.asarray(lat, dtype=float)
        points = gpd.GeoSeries(gpd.points_from_xy(lon, lat), index=out.index, crs=STORAGE_CRS)
        points[~(np.isfinite(lon) & np.isfinite(lat))] = None
        cell = PolygonIndex(cells, "grid_cell").assign(points)
        info = cells.set_index("grid_cell")
        out["grid_cell"] = cell.where(cell.notna(), None)
        out["community_code"] = cell.map(info["community_code"]).where(cell.notna(), None)
        out["street_code"] = cell.map(info["street_code"]).where(cell.notna(), None)
    if loc.community in raw:  # a register's community, typed from a list
        communities = geography["communities"]
        code = column(loc.community).map(dict(zip(communities["name"], communities["community_code"])))
        street = code.map(dict(zip(communities["community_code"], communities["street_code"])))
        out["community_code"] = out["community_code"].where(out["community_code"].notna(), code)
        out["street_code"] = out["street_code"].where(out["street_code"].notna(), street)
    return out.astype({c: object for c in ("source_id", "grid_cell", "community_code", "street_code")})


def cleared(entries: pd.DataFrame, stored: pd.DataFrame, kept: pd.DataFrame, now) -> pd.DataFrame:
    """The open ``entries`` the ingested rows ``stored`` (source, file, row, source_id) clear, stamped ``now``.

    An entry a row of this run kept back again (``kept``) stays: it gets that row's new reason.
    A row kept back for a duplicate id is cleared only by its own row: the id is its first row's.
    """
    entries = entries[entries["cleared_at"].isna()]
    if not len(entries) or not len(stored):
        return entries.iloc[0:0]
    key = ["source", "file", "row"]
    same_row = pd.MultiIndex.from_frame(entries[key]).isin(pd.MultiIndex.from_frame(stored[key]))
    by_id = entries["source_id"].notna() & ~entries["reasons"].str.contains("duplicate_id", na=False)
    same_id = by_id.to_numpy() & pd.MultiIndex.from_frame(entries[["source", "source_id"]].astype(str)).isin(
        pd.MultiIndex.from_frame(stored[["source", "source_id"]].astype(str)))
    again = (pd.MultiIndex.from_frame(entries[key]).isin(pd.MultiIndex.from_frame(kept[key])) if len(kept)
             else np.zeros(len(entries), dtype=bool))
    return entries[(same_row | same_id) & ~again].assign(cleared_at=pd.Timestamp(now).floor("ms"))
