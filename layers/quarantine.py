"""The quarantine as a clerk works it: the rows still kept back, by file and reason, in a person's area,
and a spreadsheet of them with their original columns and the reason, to fix and send back
(``onemap quarantine retry``, ``etl.quarantine``).
"""

from __future__ import annotations

import io
import json

import pandas as pd

from layers.areas import Area
from layers.errors import InvalidValue, OnemapError
from layers.store import Store

# Who works the quarantine: it holds rows as sent, personal fields and all.
QUARANTINE_ROLES = ("admin", "commander")
# The spreadsheet's columns besides the row's own: which entry a row is (kept when it comes back), and why.
SOURCE, FILE, ROW, REASON = "来源 source", "文件 file", "行 row", "原因 reason"
KEY_COLUMNS = (SOURCE, FILE, ROW)


class NotForRole(OnemapError):
    """The quarantine asked for by a role that does not work it."""

    status = 403
    code = "Forbidden"
    zh_kind = "无权访问"


def check_role(role: str) -> None:
    """Refuse a role that does not work the quarantine."""
    if role not in QUARANTINE_ROLES:
        raise NotForRole(f"the quarantine is for admins and commanders, not for a {role}",
                         zh="隔离区仅限管理员和指挥中心查看")


def open_entries(store: Store, area: Area) -> pd.DataFrame:
    """The entries not cleared yet; in an area smaller than the district, those whose row has a place in it."""
    entries = store.read("quarantine")
    entries = entries[entries["cleared_at"].isna()]
    if not area.is_district:
        inside = [area.contains(cell) or area.contains(community) for cell, community in
                  zip(entries["grid_cell"], entries["community_code"])]
        entries = entries[pd.Series(inside, index=entries.index, dtype=bool)]
    return entries.sort_values(["file", "row"]).reset_index(drop=True)


def by_file_and_reason(entries: pd.DataFrame) -> pd.DataFrame:
    """Counts of entries per source, file and reason (a row with two reasons counts under each)."""
    reasons = entries.assign(reason=entries["reasons"].str.split(";")).explode("reason")
    if not len(reasons):
        return pd.DataFrame(columns=["source", "file", "reason", "rows"])
    return (reasons.groupby(["source", "file", "reason"]).size().rename("rows").reset_index()
            .sort_values(["file", "reason"]).reset_index(drop=True))


def spreadsheet(entries: pd.DataFrame) -> pd.DataFrame:
    """One line per entry: its source, file and row, the row's original columns as sent, and the reason."""
    raws = [json.loads(r) if isinstance(r, str) and r else {} for r in entries["raw"]]
    columns = list(dict.fromkeys(c for raw in raws for c in raw))
    sheet = pd.DataFrame([{c: raw.get(c, "") for c in columns} for raw in raws], columns=columns)
    sheet.insert(0, SOURCE, entries["source"].to_numpy())
    sheet.insert(1, FILE, entries["file"].to_numpy())
    sheet.insert(2, ROW, entries["row"].to_numpy())
    sheet[REASON] = entries["message"].to_numpy()
    return sheet


def export_xlsx(entries: pd.DataFrame) -> bytes:
    """The spreadsheet as .xlsx bytes; every cell text, so an id like 0012 stays 0012."""
    out = io.BytesIO()
    sheet = spreadsheet(entries).astype(str)
    with pd.ExcelWriter(out, engine="openpyxl") as writer:
        sheet.to_excel(writer, index=False, sheet_name="quarantine")
        cells = writer.sheets["quarantine"]
        for row in cells.iter_rows(min_row=2):
            for cell in row:
                cell.number_format = "@"
    return out.getvalue()


def read_spreadsheet(path) -> pd.DataFrame:
    """A fixed spreadsheet as text, checked to carry the entries' key columns."""
    try:
        sheet = pd.read_excel(path, dtype=str, keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise InvalidValue(f"cannot read the quarantine spreadsheet {path}: {exc}") from exc
    missing = [c for c in KEY_COLUMNS if c not in sheet.columns]
    if missing:
        raise InvalidValue(f"{path}: no column {', '.join(missing)}: give back the spreadsheet "
                           "`onemap quarantine export` wrote, with its first three columns as they were")
    return sheet
