"""Map one export's raw rows to canonical intake records; bad rows go to quarantine.

Every problem of a row is collected before the row is judged, so the
quarantine says all that is wrong with it at once, naming file, row and field.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from etl.profiles import Profile
from gis.datums import to_cgcs2000

# Why a row was quarantined; the ingest report counts rows per reason.
REASONS = ("missing_field", "bad_date", "unknown_value", "bad_number", "bad_coordinate", "duplicate_id")
_DATE_FIELDS = ("reported_at", "dispatched_at", "closed_at")


class _Problems:
    def __init__(self, n):
        self.items = [[] for _ in range(n)]

    def add(self, mask, field, column, reason, values):
        for i in np.flatnonzero(np.asarray(mask)):
            self.items[i].append((field, column, reason, values[i]))

    def bad(self):
        return np.array([bool(p) for p in self.items], dtype=bool)


def _text(frame, column):
    if column is None:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(str).str.strip()


def parse_datetimes(values: pd.Series, formats) -> pd.Series:
    """Parse with each format in turn; what none of them reads stays NaT."""
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ms]")
    for fmt in formats:
        todo = out.isna() & (values != "")
        if not todo.any():
            break
        out[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return out


def normalise(raw: pd.DataFrame, profile: Profile, file: str):
    """Return (records, quarantine) for one export read by ``etl.read.read_export``."""
    n = len(raw)
    raw = raw.reset_index(drop=True)
    problems = _Problems(n)
    cols = profile.columns
    out = pd.DataFrame({"source": profile.source, "channel": profile.channel, "file": file,
                        "row": raw["_row"].to_numpy()}, index=raw.index)
    text = {f: _text(raw, cols.get(f)) for f in cols}

    for f in ("source_id", "category", "status", "reported_at"):
        problems.add(text[f] == "", f, cols[f], "missing_field", text[f].to_numpy())
    dup = (text["source_id"] != "") & text["source_id"].duplicated(keep="first")
    problems.add(dup, "source_id", cols["source_id"], "duplicate_id", text["source_id"].to_numpy())
    out["source_id"] = text["source_id"]
    out["category"] = text["category"]
    for f in ("description", "reporter_phone", "address"):
        out[f] = text[f].where(text[f] != "", None) if f in text else None

    for f in _DATE_FIELDS:
        if f not in text:
            out[f] = pd.NaT
            continue
        parsed = parse_datetimes(text[f], profile.datetime_formats)
        problems.add(parsed.isna() & (text[f] != ""), f, cols[f], "bad_date", text[f].to_numpy())
        out[f] = parsed

    for f, default in (("status", None), ("level_received", "community"), ("level", None), ("kind", profile.kind)):
        if f not in text:
            out[f] = default
            continue
        vocab = profile.vocab.get("level" if f.startswith("level") else f, {})
        mapped = text[f].map(vocab)
        problems.add(mapped.isna() & (text[f] != ""), f, cols[f], "unknown_value", text[f].to_numpy())
        out[f] = mapped.where(mapped.notna(), default)
    out["level"] = out["level"].where(out["level"].notna(), out["level_received"])

    if "resolved_in_place" in text:
        mapped = text["resolved_in_place"].map(profile.vocab.get("resolved_in_place", {}))
        problems.add(mapped.isna() & (text["resolved_in_place"] != ""), "resolved_in_place",
                     cols["resolved_in_place"], "unknown_value", text["resolved_in_place"].to_numpy())
        out["resolved_in_place"] = mapped
    else:
        out["resolved_in_place"] = None
    # Settled where it arose: closed at the level that received it.
    derived = (out["status"] == "closed") & (out["level"] == out["level_received"])
    out["resolved_in_place"] = out["resolved_in_place"].where(out["resolved_in_place"].notna(), derived).astype(bool)

    if "people" in text:
        people = pd.to_numeric(text["people"], errors="coerce")
        problems.add(people.isna() | (people < 1), "people", cols["people"], "bad_number", text["people"].to_numpy())
        out["people"] = people.fillna(1).clip(lower=1).astype(int)
    else:
        out["people"] = 1

    _coordinates(raw, profile, out, problems)
    loc = profile.location
    out["community_name"] = _text(raw, loc.community).where(lambda s: s != "", None) if loc.community else None
    if loc.address and "address" not in cols:
        out["address"] = _text(raw, loc.address).where(lambda s: s != "", None)

    bad = problems.bad()
    quarantine = pd.DataFrame({
        "source": profile.source, "file": file, "row": raw["_row"].to_numpy()[bad],
        "fields": [";".join(dict.fromkeys(p[0] for p in problems.items[i])) for i in np.flatnonzero(bad)],
        "reasons": [";".join(dict.fromkeys(p[2] for p in problems.items[i])) for i in np.flatnonzero(bad)],
        "message": [_message(file, raw.at[i, "_row"], problems.items[i]) for i in np.flatnonzero(bad)],
        "raw": [json.dumps({k: v for k, v in raw.loc[i].items() if k != "_row"}, ensure_ascii=False)
                for i in np.flatnonzero(bad)],
    })
    return out[~bad].reset_index(drop=True), quarantine


def _message(file, row, items):
    parts = [f"field {field} (column {column!r}): {reason} {value!r}" for field, column, reason, value in items]
    return f"{file} row {row}: " + "; ".join(parts)


def _coordinates(raw, profile, out, problems):
    loc = profile.location
    out["lon"] = np.nan
    out["lat"] = np.nan
    if loc.x is None:
        return
    xs, ys = _text(raw, loc.x), _text(raw, loc.y)
    x = pd.to_numeric(xs, errors="coerce")
    y = pd.to_numeric(ys, errors="coerce")
    given = (xs != "") | (ys != "")
    unreadable = given & (x.isna() | y.isna())
    problems.add(unreadable, "location", f"{loc.x}/{loc.y}", "bad_coordinate", (xs + "," + ys).to_numpy())
    # 0,0 is what an app writes when it had no fix: treat it as missing, not as the Gulf of Guinea.
    usable = given & ~unreadable & ~((x == 0) & (y == 0))
    if not usable.any():
        return
    lon, lat = to_cgcs2000(x[usable].to_numpy(), y[usable].to_numpy(), loc.datum)
    lon = pd.Series(lon, index=x.index[usable])
    lat = pd.Series(lat, index=x.index[usable])
    invalid = ~(lon.between(-180, 180) & lat.between(-90, 90)) | lon.isna() | lat.isna()
    mask = pd.Series(False, index=x.index)
    mask[invalid.index[invalid]] = True
    problems.add(mask, "location", f"{loc.x}/{loc.y}", "bad_coordinate", (xs + "," + ys).to_numpy())
    out.loc[lon.index, "lon"] = lon
    out.loc[lat.index, "lat"] = lat
