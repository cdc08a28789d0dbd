"""Read one channel export into a frame of raw strings, as its profile says.

Every value stays text here; parsing happens in ``etl.normalise`` so that a
bad value becomes a quarantined row, not a crash. ``_row`` is the row number
a person sees in the file (the header is row 1) or the record's 1-based
position in a JSON list.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from etl.profiles import Profile

_FALLBACK_ENCODINGS = ("utf-8-sig", "gb18030")


class ReadError(ValueError):
    """A file that cannot be read with its profile."""


def detect_encoding(path: Path) -> str:
    """UTF-8 (with or without BOM) if it decodes as such, else GB18030 (a superset of GBK)."""
    data = path.read_bytes()
    for encoding in _FALLBACK_ENCODINGS:
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    raise ReadError(f"{path}: neither UTF-8 nor GB18030; set encoding in the profile")


def read_export(path, profile: Profile) -> tuple[pd.DataFrame, str | None]:
    """Return (rows as strings with a ``_row`` column, encoding used)."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    encoding = None
    if profile.format == "csv":
        encoding = profile.encoding or detect_encoding(path)
        try:
            frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False)
        except UnicodeDecodeError as exc:
            raise ReadError(f"{path}: not {encoding} as profile {profile.source} says: {exc}") from exc
        frame["_row"] = range(2, len(frame) + 2)
    elif profile.format == "xlsx":
        try:
            frame = pd.read_excel(path, sheet_name=profile.sheet or 0, dtype=str, keep_default_na=False)
        except ValueError as exc:
            raise ReadError(f"{path}: {exc}") from exc
        frame["_row"] = range(2, len(frame) + 2)
    else:
        data = json.loads(path.read_text(encoding=profile.encoding or "utf-8"))
        records = data.get(profile.records) if profile.records else data
        if not isinstance(records, list):
            raise ReadError(f"{path}: expected a list of records under {profile.records!r}")
        frame = pd.DataFrame(records).astype(object)
        frame = frame.where(frame.notna(), "").astype(str)
        frame["_row"] = range(1, len(frame) + 1)
    loc = profile.location
    wanted = set(profile.columns.values()) | {c for c in (loc.x, loc.y, loc.address, loc.community) if c}
    missing = sorted(c for c in wanted if c not in frame.columns)
    if missing:
        raise ReadError(f"{path}: columns {missing} named by profile {profile.source} are not in the file; "
                        f"it has {list(frame.columns[:-1])}")
    return frame, encoding
