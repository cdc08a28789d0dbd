"""``onemap quarantine retry``: the rows a clerk fixed in the quarantine spreadsheet, ingested again.

Each row goes through its source's profile as the row it was (its file's name and row number), so a
row that is right now is stored and clears its entry, and a row still wrong replaces its entry with
its new reason: the quarantine holds one entry per row sent, never one per attempt.
"""

from __future__ import annotations

import pandas as pd

from etl.ingest import IngestReport, Pushed, ingest_many
from layers.areas import Area
from layers.errors import InvalidValue
from layers.quarantine import FILE, KEY_COLUMNS, REASON, ROW, SOURCE, open_entries, read_spreadsheet
from layers.store import Store


def retry(store: Store, path, profile_for, area: Area | None = None) -> IngestReport:
    """Ingest the fixed spreadsheet at ``path``; ``profile_for(source)`` gives each source's profile.

    With ``area``, every row must be an open entry of that area (a clerk sends back their own rows).
    """
    sheet = read_spreadsheet(path)
    rows = pd.to_numeric(sheet[ROW], errors="coerce")
    if rows.isna().any() or (rows % 1 != 0).any():
        bad = sheet.index[rows.isna() | (rows % 1 != 0)][:5] + 2
        raise InvalidValue(f"{path}: the column {ROW} must keep each entry's row number (lines {list(bad)})")
    sheet[ROW] = rows.astype(int)
    if area is not None:
        mine = set(map(tuple, open_entries(store, area)[["source", "file", "row"]].to_numpy().tolist()))
        foreign = [k for k in map(tuple, sheet[list(KEY_COLUMNS)].to_numpy().tolist()) if k not in mine]
        if foreign:
            raise InvalidValue(f"{path}: {len(foreign)} rows are not open quarantine entries of {area.spec()}, "
                               f"e.g. {foreign[:3]}: nothing was ingested")
    items = []
    for (source, file), part in sheet.groupby([SOURCE, FILE], sort=False):
        profile = profile_for(source)
        if profile.source != source:
            raise InvalidValue(f"{path}: rows of {source!r} need the profile of {source!r}, not {profile.source!r}")
        raw = part.drop(columns=[*KEY_COLUMNS, REASON], errors="ignore").reset_index(drop=True)
        raw["_row"] = part[ROW].to_numpy()
        items.append((Pushed(str(file), raw), profile))
    if not items:
        raise InvalidValue(f"{path}: no rows to ingest")
    return ingest_many(items, store)
