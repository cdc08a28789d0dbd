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
from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pandas as pd

from etl.profiles import GEOJSON_X, GEOJSON_Y, Profile
from layers.errors import BadInput

_FALLBACK_ENCODINGS = ("utf-8", "gb18030")
__all__ = ["GEOJSON_X", "GEOJSON_Y", "ReadError", "cell_text", "detect_encoding", "read_export", "wanted_columns"]


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
    wanted = wanted_columns(profile)
    missing = [(key, column) for key, column in wanted if column not in frame.columns]
    if missing:
        hint = ""
        if encoding and profile.encoding and _family(detect_encoding(path)) != _family(profile.encoding):
            hint = f" (the file reads as {detect_encoding(path)}, the profile says {profile.encoding})"
        named = ", ".join(f"{key} = {column!r}" for key, column in missing)
        raise ReadError(f"{path}: columns {sorted({c for _k, c in missing})} named by profile {profile.source} are "
                        f"not in the file ({named}); it has "
                        f"{[c for c in frame.columns if not c.startswith('_')]}{hint}")
    return frame, encoding


def wanted_columns(profile: Profile) -> list[tuple[str, str]]:
    """(profile key, column) for every column the profile names, in the profile's order."""
    loc = profile.location
    named = [(f"columns.{f}", c) for f, c in profile.columns.items()]
    named += [(f"location.{k}", getattr(loc, k)) for k in ("x", "y", "address", "community", "datum_column")
              if getattr(loc, k)]
    return named


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
                                index_col=False, sep=profile.delimiter)
        frame["_shape"] = ""
    except UnicodeDecodeError as exc:
        raise _not_encoded(path, encoding, profile, exc) from exc
    except (pd.errors.ParserError, pd.errors.ParserWarning):
        try:
            frame = _read_ragged_csv(path, encoding, profile.delimiter)
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


def _read_ragged_csv(path, encoding, delimiter=","):
    """The slow path, for a file with rows of more cells than its header: each such row is marked."""
    with open(path, encoding=encoding, newline="") as handle:
        reader = csv.reader(handle, delimiter=delimiter)
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
    """The sheet's rows as text; a date cell as ISO 8601 whatever the sheet displays (etl.normalise reads it)."""
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError, TypeError) as exc:
        raise ReadError(f"{path}: not a readable XLSX workbook: {exc}") from exc
    try:
        if profile.sheet is not None and profile.sheet not in book.sheetnames:
            raise ReadError(f"{path}: no sheet {profile.sheet!r} (profile {profile.source}, key sheet); "
                            f"the workbook's sheets: {book.sheetnames}")
        sheet = book[profile.sheet] if profile.sheet is not None else book.worksheets[0]
        rows = sheet.iter_rows(values_only=True)
        header = _header([_excel_text(v) for v in next(rows, ())])
        cells, numbers = [], []
        for number, row in enumerate(rows, start=2):
            values = [_excel_text(v) for v in row[: len(header)]]
            if any(values):  # a blank line keeps its number for the rows after it
                cells.append(values + [""] * (len(header) - len(values)))
                numbers.append(number)
    finally:
        book.close()
    frame = pd.DataFrame(cells, columns=header, dtype=object)
    frame["_shape"] = ""
    frame["_row"] = numbers
    return frame


def _header(names):
    """Column names as pandas gives them: an empty one "Unnamed: N", a repeated one "name.1"."""
    out, seen = [], {}
    for i, name in enumerate(names):
        name = name or f"Unnamed: {i}"
        if name in seen:
            seen[name] += 1
            name = f"{name}.{seen[name]}"
        else:
            seen[name] = 0
        out.append(name)
    return out


def _excel_text(value) -> str:
    """A cell as text: a date cell in ISO 8601 (what a sheet displays is no concern), 3.0 as 3."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day).isoformat(timespec="seconds")
    if isinstance(value, time):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _read_json(path, encoding, profile):
    try:
        text = path.read_text(encoding=encoding)
    except UnicodeDecodeError as exc:
        raise ReadError(f"{path}: not valid JSON in {encoding}: {exc}") from exc
    lines = None
    if profile.format == "jsonl":
        lines = _json_lines(path, text, strict=False)
    else:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            lines = _json_lines(path, text, strict=True) if profile.format == "json" else None
            if lines is None:
                raise ReadError(f"{path}: not valid JSON in {encoding}: {exc}") from exc
    if lines is not None:  # JSON Lines: one record a line, numbered as a person sees the lines
        items = [item for _n, item, _bad in lines]
        records = [r if isinstance(r, dict) else {} for r in items]
        shapes = [bad or ("" if isinstance(r, dict) else "该记录不是JSON对象") for _n, r, bad in lines]
        numbers = [n for n, _item, _bad in lines]
    elif profile.format == "geojson":
        if not isinstance(data, dict) or not isinstance(data.get("features"), list):
            raise ReadError(f"{path}: not a GeoJSON FeatureCollection")
        records, shapes = [], []
        for feature in data["features"]:
            properties = feature.get("properties") if isinstance(feature, dict) else None
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            point = geometry.get("coordinates") if isinstance(geometry, dict) and geometry.get("type") == "Point" else None
            ok = isinstance(properties, dict) and isinstance(point, list) and len(point) >= 2
            row = flat_record(properties) if isinstance(properties, dict) else {}
            row[GEOJSON_X], row[GEOJSON_Y] = (cell_text(point[0]), cell_text(point[1])) if ok else ("", "")
            records.append(row)
            shapes.append("" if ok else "不是带属性的点要素(Point Feature)")
        numbers = list(range(1, len(records) + 1))
    else:
        items = _records_at(path, data, profile)
        records = [r if isinstance(r, dict) else {} for r in items]
        shapes = ["" if isinstance(r, dict) else "该记录不是JSON对象" for r in items]
        numbers = list(range(1, len(records) + 1))
    if profile.format != "geojson":
        records = [flat_record(r) for r in records]
    frame = pd.DataFrame(records).astype(object)
    frame = frame.where(frame.notna(), "").astype(str)
    frame["_shape"] = shapes
    frame["_row"] = numbers
    return frame


def _json_lines(path, text, *, strict):
    """(line number, record, what is wrong) per non-blank line; with ``strict``, None unless every line parses."""
    out = []
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            out.append((n, json.loads(line), ""))
        except json.JSONDecodeError as exc:
            if strict:
                return None
            out.append((n, {}, f"该行不是有效JSON: {exc.msg}"))
    return out if out or not strict else None


def _records_at(path, data, profile) -> list:
    """The list of records at ``profile.records`` (a key or a dotted path, data.items), or the file's own list."""
    if profile.records is None:
        if isinstance(data, list):
            return data
        raise ReadError(f"{path}: the file is a JSON object, not a list of records; set records in profile "
                        f"{profile.source} to where its list is: {_lists_in(data) or 'it holds none'}")
    here, walked = data, []
    for key in profile.records.split("."):
        if not isinstance(here, dict) or key not in here:
            where = ".".join(walked) or "the top level"
            keys = sorted(here) if isinstance(here, dict) else f"not an object but {type(here).__name__}"
            raise ReadError(f"{path}: no records at {profile.records!r} (profile {profile.source}, key records): "
                            f"{key!r} is not at {where}, which has keys {keys}; lists of records are at "
                            f"{_lists_in(data) or 'no key'}")
        here = here[key]
        walked.append(key)
    if not isinstance(here, list):
        raise ReadError(f"{path}: {profile.records!r} (profile {profile.source}, key records) holds "
                        f"{type(here).__name__}, not a list of records; lists are at {_lists_in(data) or 'no key'}")
    return here


def _lists_in(data, prefix="") -> list[str]:
    """The dotted paths of the lists of objects in a JSON document (where records may be)."""
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            path = f"{prefix}{key}"
            if isinstance(value, list) and any(isinstance(v, dict) for v in value):
                found.append(path)
            elif isinstance(value, dict):
                found += _lists_in(value, path + ".")
    return found


def flat_record(record: dict, prefix: str = "") -> dict:
    """A record's values by dotted path (location.lng); a nested object also stays whole under its own key."""
    out = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        out[name] = cell_text(value)
        if isinstance(value, dict):
            out.update({k: v for k, v in flat_record(value, name + ".").items() if k not in out})
    return out


def cell_text(value) -> str:
    """A JSON value as the text a CSV would have held."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)
