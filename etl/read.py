"""Read one channel export into a frame of raw strings, as its profile says.

Every value stays text here; parsing happens in ``etl.normalise`` so that a
bad value becomes a quarantined row, not a crash. ``_row`` is the row number
a person sees in the file (the header is row 1) or the record's 1-based
position in a JSON list.
"""

from __future__ import annotations

import codecs
import csv
import json
import warnings
import zipfile
from pathlib import Path

import pandas as pd

from etl.profiles import Profile
from layers.errors import BadInput

_FALLBACK_ENCODINGS = ("utf-8", "gb18030")
# The columns a GeoJSON reader makes of each Point's coordinates; a profile names them as x and y.
GEOJSON_X, GEOJSON_Y = "@x", "@y"


class ReadError(BadInput):
    """A file that cannot be read with its profile."""


def detect_encoding(path: Path) -> str:
    """UTF-8 with BOM, UTF-8, or else GB18030 (a superset of GBK): the first the whole file decodes as."""
    encoding = bytes_encoding(path.read_bytes())
    if encoding is None:
        raise ReadError(f"{path}: neither UTF-8 nor GB18030; set encoding in the profile")
    return encoding


def bytes_encoding(data: bytes) -> str | None:
    """The encoding :func:`detect_encoding` gives bytes (a file or a sample of one), or None."""
    if data.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    for encoding in _FALLBACK_ENCODINGS:
        try:
            data.decode(encoding)
            return encoding
        except UnicodeDecodeError:
            continue
    return None


def read_export(path, profile: Profile) -> tuple[pd.DataFrame, str | None]:
    """Return (rows as strings with ``_row`` and ``_shape`` columns, encoding used).

    ``_shape`` is empty for a well-formed row and says what is wrong with a
    malformed one (too many cells, a JSON record that is not an object, a
    GeoJSON feature that is not a point); such rows go to quarantine whole.
    A file that cannot be read at all raises :class:`ReadError`.
    """
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.is_dir():
        raise ReadError(f"{path}: is a folder, not an export file")
    encoding = None
    if profile.format == "csv":
        encoding = profile.encoding or detect_encoding(path)
        frame = _read_csv(path, encoding, profile)
    elif profile.format == "xlsx":
        frame = _read_xlsx(path, profile)
    else:
        encoding = profile.encoding or detect_encoding(path)
        frame = _read_json(path, encoding, profile)
    loc = profile.location
    wanted = set(profile.columns.values()) | {c for c in (loc.x, loc.y, loc.address, loc.community, loc.datum_column)
                                               if c}
    missing = sorted(c for c in wanted if c not in frame.columns)
    if missing:
        hint = ""
        if encoding and profile.encoding and _family(detect_encoding(path)) != _family(profile.encoding):
            hint = f" (the file reads as {detect_encoding(path)}, the profile says {profile.encoding})"
        raise ReadError(f"{path}: columns {missing} named by profile {profile.source} are not in the file; "
                        f"it has {[c for c in frame.columns if not c.startswith('_')]}{hint}")
    return frame, encoding


def _family(encoding: str) -> str:
    key = encoding.lower().replace("_", "-")
    return {"gbk": "gb18030", "gb2312": "gb18030", "utf8": "utf-8", "utf-8-sig": "utf-8"}.get(key, key)


def _read_csv(path, encoding, profile):
    try:
        # Keep blank lines while reading so row numbers stay those a clerk sees, then drop them.
        # A row longer than the header must not become an index nor be cut short: it takes the slow path.
        with warnings.catch_warnings():
            warnings.simplefilter("error", pd.errors.ParserWarning)
            frame = pd.read_csv(path, dtype=str, encoding=encoding, keep_default_na=False, skip_blank_lines=False,
                                index_col=False)
        frame["_shape"] = ""
    except UnicodeDecodeError as exc:
        raise _not_encoded(path, encoding, profile, exc) from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        try:
            frame = _read_ragged_csv(path, encoding)
        except UnicodeDecodeError as exc:  # the slow path reads further than pandas did before it gave up
            raise _not_encoded(path, encoding, profile, exc) from exc
    except pd.errors.EmptyDataError as exc:
        raise ReadError(f"{path}: the file is empty") from exc
    frame["_row"] = frame.index + 2
    cells = frame.drop(columns=["_row", "_shape"])
    blank = (cells.isna() | (cells == "")).all(axis=1) & (frame["_shape"] == "")
    frame = frame.fillna("")
    return frame[~blank].reset_index(drop=True)


def _not_encoded(path, encoding, profile, exc) -> ReadError:
    try:
        found = f"; it reads as {detect_encoding(path)}"
    except ReadError:
        found = ""
    return ReadError(f"{path}: not {encoding} as profile {profile.source} says ({exc.reason} at byte "
                     f"{exc.start}){found}")


def _read_ragged_csv(path, encoding):
    """The slow path, for a file with rows of more cells than its header: each such row is marked."""
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle)
        try:
            header = next(reader, [])
            rows, shapes = [], []
            for row in reader:
                shapes.append("" if len(row) <= len(header) or not any(row[len(header):])
                              else f"该行有{len(row)}列，表头只有{len(header)}列")
                rows.append((row + [""] * len(header))[: len(header)])
        except csv.Error as exc:
            raise ReadError(f"{path}: line {reader.line_num} is not CSV: {exc}") from exc
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame["_shape"] = shapes
    return frame


def _read_xlsx(path, profile):
    try:
        frame = pd.read_excel(path, sheet_name=profile.sheet or 0, dtype=str, keep_default_na=False)
    except ValueError as exc:  # also a sheet that is not there: the message names it
        raise ReadError(f"{path}: {exc}") from exc
    except (zipfile.BadZipFile, KeyError, OSError) as exc:
        raise ReadError(f"{path}: not a readable XLSX workbook: {exc}") from exc
    frame.columns = [str(c) for c in frame.columns]
    frame["_shape"] = ""
    frame["_row"] = frame.index + 2
    return frame


def _read_json(path, encoding, profile):
    try:
        data = json.loads(path.read_text(encoding=encoding))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ReadError(f"{path}: not valid JSON in {encoding}: {exc}") from exc
    if profile.format == "geojson":
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise ReadError(f"{path}: not a GeoJSON FeatureCollection")
        records, shapes = [], []
        for feature in data["features"]:
            properties = feature.get("properties") if isinstance(feature, dict) else None
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            point = geometry.get("coordinates") if isinstance(geometry, dict) and geometry.get("type") == "Point" else None
            ok = isinstance(properties, dict) and isinstance(point, list) and len(point) >= 2
            row = dict(properties) if isinstance(properties, dict) else {}
            row[GEOJSON_X], row[GEOJSON_Y] = (point[0], point[1]) if ok else ("", "")
            records.append(row)
            shapes.append("" if ok else "不是带属性的点要素(Point Feature)")
    else:
        items = data.get(profile.records) if profile.records and isinstance(data, dict) else data
        if not isinstance(items, list):
            raise ReadError(f"{path}: expected a list of records under {profile.records!r}")
        records = [r if isinstance(r, dict) else {} for r in items]
        shapes = ["" if isinstance(r, dict) else "该记录不是JSON对象" for r in items]
    frame = pd.DataFrame([{k: cell_text(v) for k, v in r.items()} for r in records]).astype(object)
    frame = frame.where(frame.notna(), "").astype(str)
    frame["_shape"] = shapes
    frame["_row"] = range(1, len(frame) + 1)
    return frame


def cell_text(value) -> str:
    """A JSON value as the text a CSV would have held."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
