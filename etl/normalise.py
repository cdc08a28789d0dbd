"""Map one export's raw rows to canonical intake records; bad rows go to quarantine.

Every problem of a row is collected before the row is judged, so the
quarantine says all that is wrong with it at once, naming file, row and field.
"""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import pandas as pd
import shapely

from etl.profiles import CLOSED, ISO8601, Profile
from gis.datums import DatumError, to_cgcs2000
from layers.components import split_code
from layers.features import LOCAL_OFFSET

# Why a row was quarantined (the ingest report counts rows per reason), and how a clerk reads it.
REASONS = {
    "missing_field": "必填项为空",
    "bad_date": "日期无法解析",
    "unknown_value": "取值不在对照表中",
    "bad_number": "不是有效数字",
    "bad_coordinate": "坐标无法识别",
    "outside_district": "坐标超出{district}范围",
    "duplicate_id": "编号在本文件中重复",
    "bad_code": "编码不符合GB/T 30428.2(6位区县+2位大类+2位小类+6位序号)",
    "bad_row": "行格式错误",
}
_DATE_FIELDS = ("reported_at", "dispatched_at", "closed_at")
# Identifiers and short text compared across exports: NFKC makes full-width ＧＤ２０２１ equal GD2021. A free
# description stays as written (its full-width punctuation is Chinese writing, not a different value).
NFKC_FIELDS = ("source_id", "category", "reporter_phone", "address", "component_id")
# A spreadsheet's date cell as etl.read gives it, read whatever the profile's formats say (they are for text).
_CELL_DATE = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}"


class Problems:
    """Every problem of every row of one export: (field, column, reason, value) per row."""

    def __init__(self, n):
        self.items = [[] for _ in range(n)]

    def add(self, mask, field, column, reason, values):
        for i in np.flatnonzero(np.asarray(mask)):
            self.items[i].append((field, column, reason, values[i]))

    def bad(self):
        return np.array([bool(p) for p in self.items], dtype=bool)

    def quarantine(self, raw: pd.DataFrame, source: str, file: str, *, district: str = "本区") -> pd.DataFrame:
        """The quarantine rows for the bad rows of ``raw``: raw values kept, each problem in words."""
        bad = np.flatnonzero(self.bad())
        frame = pd.DataFrame({
            "source": source, "file": file, "row": raw["_row"].to_numpy()[bad],
            "fields": [";".join(dict.fromkeys(p[0] for p in self.items[i])) for i in bad],
            "reasons": [";".join(dict.fromkeys(p[2] for p in self.items[i])) for i in bad],
            "message": [message(file, raw["_row"].iat[i], self.items[i], district) for i in bad],
            "raw": [json.dumps({k: v for k, v in raw.iloc[i].items() if not k.startswith("_")}, ensure_ascii=False)
                    for i in bad],
        })
        # Each problem as (column, reason, words) for an answer to the sender (not stored: the message says it).
        frame["_problems"] = [[(column, reason, REASONS[reason].format(district=district))
                               for _field, column, reason, _value in self.items[i]] for i in bad]
        # Text columns stay text even when no row is bad.
        return frame.astype({c: object for c in ("source", "file", "fields", "reasons", "message", "raw")})


def message(file, row, items, district="本区") -> str:
    """"12345热线工单导出.csv 第7行 来电时间: 日期无法解析: 2020/02/30 10:00:00"; several problems joined by "；"."""
    parts = [f"{column}: {REASONS[reason].format(district=district)}: {value}" if value != ""
             else f"{column}: {REASONS[reason].format(district=district)}"
             for _field, column, reason, value in items]
    return f"{file} 第{row}行 " + "；".join(parts)


def nfkc(values: pd.Series) -> pd.Series:
    """Unicode NFKC: full-width letters, digits and signs as their plain forms (ＧＤ２０２１ → GD2021)."""
    if not values.map(lambda v: isinstance(v, str) and not v.isascii()).any():
        return values
    return values.map(lambda v: unicodedata.normalize("NFKC", v).strip() if isinstance(v, str) else v)


def map_values(text: pd.Series, name: str, profile: Profile, problems: Problems, field: str, column: str):
    """``text`` through the profile's [vocab.NAME] map and its policy for words the map does not list.

    An open field (category) keeps an unlisted word by default; a closed one (status, level, kind,
    resolved_in_place, state) refuses it, naming the word and those the map has, unless a default is given.
    Empty text stays missing (None).
    """
    vocab = profile.vocab.get(name, {})
    mapped = text.map(vocab)
    if name in CLOSED and not isinstance(CLOSED[name][0], bool):  # the canonical word itself is always understood
        mapped = mapped.where(mapped.notna() | ~text.isin(CLOSED[name]), text)
    unlisted = mapped.isna() & (text != "")
    rule = profile.unlisted_rule(name)
    if rule.policy == "keep":
        mapped = mapped.where(~unlisted, text)
    elif rule.policy == "default":
        mapped = mapped.where(~unlisted, rule.default)
    elif unlisted.any():
        words = "、".join(str(w) for w in vocab) or "、".join(str(w) for w in CLOSED.get(name, ()))
        problems.add(unlisted, field, column, "unknown_value", (text + f" (可取: {words})").to_numpy())
    return mapped.where(text != "", None)


def unlisted_seen(raw: pd.DataFrame, profile: Profile) -> dict[str, dict[str, int]]:
    """Per field, the words a map did not list and passed through or replaced by its default, with their counts.

    The ingest report shows them so a clerk can add them to the profile's map.
    """
    seen = {}
    for name, vocab in profile.vocab.items():
        fields = ("level_received", "level") if name == "level" else (name,)
        if profile.unlisted_rule(name).policy == "refuse":
            continue
        for field in fields:
            column = profile.columns.get(field)
            if column is None or column not in raw:
                continue
            text = text_column(raw, column)
            if field in NFKC_FIELDS:
                text = nfkc(text)
            if name in CLOSED:
                text = text[~text.isin(CLOSED[name])]
            words = text[(text != "") & ~text.isin(list(vocab))].value_counts()
            if len(words):
                seen[field] = {str(w): int(n) for w, n in words.items()}
    return seen


def text_column(frame, column):
    if column is None:
        return pd.Series("", index=frame.index, dtype=object)
    return frame[column].astype(str).str.strip()


def shape_problems(raw: pd.DataFrame, problems: Problems) -> None:
    """A row the reader could not shape into the file's columns is quarantined whole."""
    if "_shape" in raw:
        shape = raw["_shape"].astype(str)
        problems.add(shape != "", "row", "(整行)", "bad_row", shape.to_numpy())


def plain_digits(values: pd.Series) -> pd.Series:
    """Full-width digits, signs and points (１２１．５５) as plain ASCII, for numbers and dates."""
    if not values.str.contains(r"[\uff01-\uff5e\u3000]", regex=True).any():
        return values
    return values.map(lambda v: unicodedata.normalize("NFKC", v))


def parse_datetimes(values: pd.Series, formats) -> pd.Series:
    """Parse with each format in turn; what none of them reads stays NaT.

    The format ``iso8601`` reads ISO 8601 / RFC 3339 times (``2020-11-18T09:30:00+08:00``, ``…Z``): a time
    with an offset becomes the district's local time, one without is taken as local already.
    """
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ms]")
    cells = values.str.fullmatch(_CELL_DATE)
    if cells.any():
        out[cells] = pd.to_datetime(values[cells], format="%Y-%m-%dT%H:%M:%S", errors="coerce")
    for fmt in formats:
        todo = out.isna() & (values != "")
        if not todo.any():
            break
        if fmt == ISO8601:
            out[todo] = values[todo].map(_iso_local)
        else:
            out[todo] = pd.to_datetime(values[todo], format=fmt, errors="coerce")
    return out


def _iso_local(text: str):
    try:
        stamp = datetime.fromisoformat(text)
        if stamp.tzinfo is not None:
            stamp = stamp.astimezone(timezone.utc).replace(tzinfo=None) + LOCAL_OFFSET
        return pd.Timestamp(stamp).as_unit("ns").floor("ms")  # as precise as the store keeps times
    except (ValueError, OverflowError):  # not a time, or none pandas can hold (the year 766)
        return pd.NaT


@dataclass(frozen=True)
class Reach:
    """Where a coordinate may lie: the district and a margin around it (CGCS2000 lon/lat), and its name."""

    polygon: object
    name: str


def normalise(raw: pd.DataFrame, profile: Profile, file: str, *, area: Reach | None = None):
    """Return (records, quarantine) for one export read by ``etl.read.read_export``.

    With ``area``, a coordinate outside it quarantines its row: it is
    another district's matter, or a coordinate in the wrong datum.
    """
    n = len(raw)
    raw = raw.reset_index(drop=True)
    problems = Problems(n)
    shape_problems(raw, problems)
    cols, fixed = profile.columns, profile.fixed
    out = pd.DataFrame({"source": profile.source, "channel": profile.channel, "file": file,
                        "row": raw["_row"].to_numpy()}, index=raw.index)
    given = {f: text_column(raw, cols.get(f)) for f in cols}
    text = {f: nfkc(v) if f in NFKC_FIELDS else v for f, v in given.items()}
    out["original"] = originals(given, text)

    for f in ("source_id", "category", "status", "reported_at"):
        if f in text:
            problems.add(text[f] == "", f, cols[f], "missing_field", text[f].to_numpy())
    ids = text["source_id"]
    dup = (ids != "") & ids.duplicated(keep="first")
    if dup.any():
        first_row = pd.Series(raw["_row"].to_numpy(), index=ids.index).groupby(ids).transform("first")
        problems.add(dup, "source_id", cols["source_id"], "duplicate_id",
                     (ids + " (同第" + first_row.astype(str) + "行)").to_numpy())
    out["source_id"] = ids
    if "category" in text:
        out["category"] = map_values(text["category"], "category", profile, problems, "category", cols["category"])
    else:
        out["category"] = fixed["category"]
    for f in ("description", "reporter_phone", "address"):
        out[f] = text[f].where(text[f] != "", None) if f in text else fixed.get(f)

    for f in _DATE_FIELDS:
        if f not in text:
            out[f] = pd.Timestamp(fixed[f]).as_unit("ms") if f in fixed else pd.NaT
            continue
        parsed = parse_datetimes(plain_digits(text[f]), profile.datetime_formats)
        problems.add(parsed.isna() & (text[f] != ""), f, cols[f], "bad_date", text[f].to_numpy())
        out[f] = parsed

    for f, default in (("status", None), ("level_received", "community"), ("level", None), ("kind", profile.kind)):
        if f not in text:
            out[f] = fixed.get(f, default)
            continue
        mapped = map_values(text[f], "level" if f.startswith("level") else f, profile, problems, f, cols[f])
        out[f] = mapped.where(mapped.notna(), default)
    out["level"] = out["level"].where(out["level"].notna(), out["level_received"])

    if "resolved_in_place" in text:
        out["resolved_in_place"] = map_values(text["resolved_in_place"], "resolved_in_place", profile, problems,
                                              "resolved_in_place", cols["resolved_in_place"])
    else:
        out["resolved_in_place"] = fixed.get("resolved_in_place")
    # Settled where it arose: closed at the level that received it.
    derived = (out["status"] == "closed") & (out["level"] == out["level_received"])
    out["resolved_in_place"] = out["resolved_in_place"].where(out["resolved_in_place"].notna(), derived).astype(bool)

    if "people" in text:
        people = pd.to_numeric(plain_digits(text["people"]), errors="coerce")
        problems.add(people.isna() | (people < 1), "people", cols["people"], "bad_number", text["people"].to_numpy())
        out["people"] = people.fillna(1).clip(lower=1).astype(int)
    else:
        out["people"] = fixed.get("people", 1)

    coordinates(raw, profile, out, problems, area)
    out["component_id"] = None
    if "component_id" in text:
        codes = text["component_id"]
        malformed = (codes != "") & codes.map(lambda c: split_code(c) is None)
        problems.add(malformed, "component_id", cols["component_id"], "bad_code", codes.to_numpy())
        out["component_id"] = codes.where(codes != "", None)
    loc = profile.location
    out["community_name"] = (nfkc(text_column(raw, loc.community)).where(lambda s: s != "", None)
                             if loc.community else None)
    if loc.address and "address" not in cols:
        out["address"] = nfkc(text_column(raw, loc.address)).where(lambda s: s != "", None)

    bad = problems.bad()
    district = area.name if area is not None else "本区"
    return out[~bad].reset_index(drop=True), problems.quarantine(raw, profile.source, file, district=district)


def originals(given: dict, text: dict) -> pd.Series:
    """Per row, the fields NFKC changed as the export wrote them (JSON), or None: the intake record keeps them."""
    index = next(iter(given.values())).index if given else pd.RangeIndex(0)
    changed = {f: given[f] != text[f] for f in text if f in NFKC_FIELDS and (given[f] != text[f]).any()}
    if not changed:
        return pd.Series(None, index=index, dtype=object)
    rows = pd.DataFrame({f: given[f].where(mask) for f, mask in changed.items()})
    return pd.Series([json.dumps({f: v for f, v in r.items() if isinstance(v, str)}, ensure_ascii=False)
                      if any(isinstance(v, str) for v in r.values()) else None
                      for r in rows.to_dict("records")], index=index, dtype=object)


def coordinates(raw, profile, out, problems, area=None):
    loc = profile.location
    out["lon"] = np.nan
    out["lat"] = np.nan
    if loc.x is None:
        return
    xs, ys = plain_digits(text_column(raw, loc.x)), plain_digits(text_column(raw, loc.y))
    x = pd.to_numeric(xs, errors="coerce")
    y = pd.to_numeric(ys, errors="coerce")
    given = (xs != "") | (ys != "")
    unreadable = given & (x.isna() | y.isna())
    # Say which half is missing: "abc," alone does not tell a clerk that 纬度 is empty.
    said = (xs + "," + ys).where(xs != "", xs + "," + ys + f" ({loc.x}为空)")
    said = said.where(ys != "", xs + "," + ys + f" ({loc.y}为空)")
    problems.add(unreadable, "location", f"{loc.x}/{loc.y}", "bad_coordinate", said.to_numpy())
    # 0,0 is what an app writes when it had no fix: treat it as missing, not as the Gulf of Guinea.
    usable = given & ~unreadable & ~((x == 0) & (y == 0))
    datums = pd.Series(loc.datum, index=raw.index, dtype=object)
    if loc.datum_column:  # each row says its datum (empty: the profile's)
        said = text_column(raw, loc.datum_column).str.lower()
        datums = said.where(said != "", loc.datum)
        for datum in datums[usable].unique():
            try:
                to_cgcs2000([], [], datum)
            except DatumError:
                unknown = usable & (datums == datum)
                problems.add(unknown, "datum", loc.datum_column, "unknown_value", datums.to_numpy())
                usable &= ~unknown
    if not usable.any():
        return
    lon = pd.Series(np.nan, index=x.index[usable])
    lat = pd.Series(np.nan, index=x.index[usable])
    for datum in datums[usable].unique():
        rows = usable & (datums == datum)
        lon[rows[rows].index], lat[rows[rows].index] = to_cgcs2000(x[rows].to_numpy(), y[rows].to_numpy(), datum)
    invalid = ~(lon.between(-180, 180) & lat.between(-90, 90)) | lon.isna() | lat.isna()
    mask = pd.Series(False, index=x.index)
    mask[invalid.index[invalid]] = True
    problems.add(mask, "location", f"{loc.x}/{loc.y}", "bad_coordinate", (xs + "," + ys).to_numpy())
    if area is not None:
        valid = ~invalid
        away = ~shapely.contains_xy(area.polygon, lon[valid].to_numpy(), lat[valid].to_numpy())
        mask = pd.Series(False, index=x.index)
        mask[valid.index[valid][away]] = True
        problems.add(mask, "location", f"{loc.x}/{loc.y}", "outside_district", (xs + "," + ys).to_numpy())
    out.loc[lon.index, "lon"] = lon
    out.loc[lat.index, "lat"] = lat
