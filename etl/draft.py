"""A draft source profile for an export never seen before (``onemap profile draft``).

Three steps, I/O only at the edges: :func:`sample_export` reads a bounded
sample of the file (a few chunks of a big CSV, so a million rows take seconds);
:func:`draft_profile` proposes each key of a profile from the sample's header
names and values; :func:`profile_text` writes it as TOML with a comment on
each decision and on what could not be decided, and why.

The draft is written in the profile format that ``etl.profiles`` reads today:
a JSON file's records under a key or a dotted path (data.items), fields named by top-level keys.
"""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from etl.normalise import plain_digits
from etl.read import GEOJSON_X, GEOJSON_Y, bytes_encoding, flat_record
from gis.datums import to_cgcs2000
from layers.errors import BadInput
from layers.glossary import CHANNELS

# A CSV larger than this is sampled: its head, its tail and chunks between (records are often in date
# order, so the states of recent cases are only at the end).
CHUNK_BYTES = 256 * 1024
CHUNKS = 5
XLSX_ROWS = 20_000
JSON_RECORDS = 20_000
# A point this far outside the district's bounds (degrees) still counts as the district's, for the checks here.
MARGIN_DEG = 0.1

# Header names, Chinese and English, of each field; the first rule a header matches wins, so the order matters
# (就地化解 is not a level, 受理层级 is not the final level, 纬度/lat is not a time "…at").
HEADER_RULES = [
    ("resolved_in_place", r"就地|in_?place|resolved"),
    ("level", r"(最终|办结|化解|处置|调解|结案|final|closed?).*(层级|level)|level_?(final|closed)"),
    ("level_received", r"层级|level"),
    ("status", r"状态|status|state"),
    ("people", r"人数|people|persons|headcount"),
    ("component_id", r"部件(编码|编号|代码)|component"),
    ("x", r"经度|^lng|^lon|longitude|^x$|x坐标|东坐标|easting"),
    ("y", r"纬度|^lat|latitude|^y$|y坐标|北坐标|northing"),
    ("dispatched_at", r"(派|分拨|分流|转办|交办|assign|dispatch).*(时间|日期|time|date|at$)"),
    ("closed_at", r"(办结|结案|完成|化解|结束|close|finish|done|end).*(时间|日期|time|date|at$)"),
    ("reported_at", r"时间|日期|time|date|at$"),
    ("reporter_phone", r"电话|手机|号码|phone|mobile|tel"),
    ("community", r"社区|村社|community"),
    ("address", r"地址|地点|位置|address|addr"),
    ("category", r"类别|类型|小类|类名|分类|type|category"),
    ("description", r"描述|内容|情况|事由|详情|summary|content|desc|detail"),
    ("source_id", r"编号|单号|流水号|号$|id$|^id|no$"),
]
DATE_FIELDS = ("reported_at", "dispatched_at", "closed_at")
# The formats tried on a date column, most common first; "iso8601" reads times with an offset.
DATE_FORMATS = (
    "%Y-%m-%d %H:%M:%S", "%Y/%m/%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S", "%Y年%m月%d日 %H:%M:%S", "%Y年%m月%d日 %H:%M",
    "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S", "%Y%m%d%H%M%S", "%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日",
    "%Y.%m.%d", "%Y%m%d", "%d/%m/%Y %H:%M:%S", "%d/%m/%Y",
)
_OFFSET = re.compile(r"\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)$")

# Words channels write for a case's status, level and "resolved in place", in Chinese and English; matched whole
# (English without regard to case). tests/etl/test_draft.py checks they agree with every shipped profile.
STATUS_WORDS = {
    "reported": ("待处理", "待受理", "已受理", "受理", "立案", "已立案", "登记", "已登记", "已提交", "提交", "待办",
                 "新建", "已上报", "上报", "未处理", "submitted", "reported", "new", "open", "pending", "received",
                 "registered"),
    "dispatched": ("已派单", "派单", "已分拨", "分拨", "已转办", "转办", "已分流", "分流", "派遣", "已派遣", "交办",
                   "已交办", "已分派", "分派", "处理中", "assigned", "dispatched", "transferred"),
    "coordinated": ("协调中", "处置中", "办理中", "调解中", "化解中", "处置", "核查", "联动中", "coordinated",
                    "coordinating", "mediating", "in_progress", "in progress", "processing"),
    "closed": ("已办结", "办结", "已完成", "完成", "调解成功", "调解终结", "结案", "已结案", "已化解", "化解", "已关闭",
               "关闭", "销号", "已销号", "done", "closed", "finished", "resolved", "completed"),
}
LEVEL_WORDS = {
    "community": ("村社", "社区", "村", "村居", "网格", "community", "village"),
    "street": ("街镇", "街道", "镇", "乡镇", "乡", "street", "town", "township"),
    "district": ("区", "区级", "县", "县级", "district", "county"),
}
# Levels come in sets of words; a set seen in part is proposed whole (a sample can miss the rare 区).
LEVEL_SETS = (("村社", "街镇", "区"), ("社区", "街道", "区"), ("community", "street", "district"))
RESOLVED_WORDS = {True: ("是", "y", "yes", "true", "1", "已就地化解"), False: ("否", "n", "no", "false", "0")}
KIND_WORDS = {"dispute": ("矛盾纠纷", "纠纷", "dispute"), "petition": ("信访诉求", "信访", "petition"),
              "event": ("事件", "部件事件", "event")}
# Names a file or its headers may carry for a channel (besides its key and names in the glossary).
CHANNEL_ALIASES = {
    "hotline_12345": ("12345",), "e_ningbo": ("e宁波", "eningbo", "e-ningbo"), "minsheng_edian": ("民生e点通",),
    "provincial_mediation": ("矛盾纠纷调解系统",), "grid_platform": ("四平台", "grid_platform"),
    "smart_city": ("智慧城管", "数字城管", "smart_city", "smartcity"), "walk_in": ("来访登记", "来访台账", "walk_in"),
    "video_mediation": ("视频调解", "video_mediation"),
}
# Lon/lat in GCJ-02, BD-09 and WGS84 differ by a few hundred metres: the values cannot tell them apart. These
# words in the file's name or headers say which map the channel's app used.
DATUM_HINTS = {
    "gcj02": ("高德", "amap", "autonavi", "gaode", "腾讯地图", "tencent", "gcj", "火星", "e宁波"),  # E宁波 is Amap-based
    "bd09": ("百度", "baidu", "bd09", "bd-09", "bmap", "民生e点通"),  # 民生E点通 is Baidu-based
    "cgcs2000": ("天地图", "tianditu", "cgcs", "国家2000", "四平台"),  # the grid platform draws on Tianditu
    "wgs84": ("wgs", "gps"),
}
# When nothing names the map: no shift is applied, so a wrong guess leaves points where the export put them.
DEFAULT_DEGREE_DATUM = "wgs84"
# Proposed for a file that names no known channel: the channel whose exports look most like it.
CHANNEL_BY_DATUM = {"gcj02": "e_ningbo", "bd09": "minsheng_edian", "wgs84": "provincial_mediation",
                    "cgcs2000": "grid_platform", "gk": "smart_city", None: "hotline_12345"}


class DraftError(BadInput):
    """A file no draft can be made of (not there, empty, not a table)."""


@dataclass
class Sample:
    """What the draft sees of a file: its rows as text (a sample of them), and how they were read."""

    name: str
    format: str
    rows: pd.DataFrame
    encoding: str | None = None
    delimiter: str = ","
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    records: str | None = None
    notes: list[str] = field(default_factory=list)
    sampled: bool = False


@dataclass
class Draft:
    """A proposed profile (the keys ``etl.profiles`` reads) with why each key is so, and what is undecided."""

    profile: dict
    why: dict = field(default_factory=dict)  # "key" or "section.key" → a comment for that line
    notes: dict = field(default_factory=dict)  # section ("" for the top) → comment lines at its end
    undecided: list = field(default_factory=list)

    def note(self, section: str, text: str, *, undecided: bool = False, short: str = "") -> None:
        """A comment at the end of ``section``; if ``undecided``, ``short`` (or the text) goes in the summary."""
        self.notes.setdefault(section, []).append(("undecided: " if undecided else "") + text)
        if undecided:
            self.undecided.append(short or text)


# --- reading a sample (I/O) ---------------------------------------------------------------------------------

def sample_export(path) -> Sample:
    path = Path(path)
    if not path.is_file():
        raise DraftError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return _sample_xlsx(path)
    head = _read_head(path, 64)
    if suffix in (".json", ".geojson", ".jsonl") or head.lstrip(b"\xef\xbb\xbf \r\n\t")[:1] in (b"{", b"["):
        return _sample_json(path)
    return _sample_csv(path)


def _read_head(path: Path, n: int) -> bytes:
    with open(path, "rb") as handle:
        return handle.read(n)


def _sample_csv(path: Path) -> Sample:
    size = path.stat().st_size
    if size == 0:
        raise DraftError(f"{path}: the file is empty")
    with open(path, "rb") as handle:
        if size <= CHUNK_BYTES * CHUNKS:
            chunks = [handle.read()]
        else:
            chunks = []
            for start in np.linspace(0, size - CHUNK_BYTES, CHUNKS).astype(int):
                handle.seek(start)
                data = handle.read(CHUNK_BYTES)
                # Whole lines only: a cut line's bytes would not decode nor split into its cells.
                first = 0 if start == 0 else data.find(b"\n") + 1
                last = len(data) if start + CHUNK_BYTES >= size else data.rfind(b"\n") + 1
                chunks.append(data[first:last])
    encoding = bytes_encoding(b"".join(chunks))
    if encoding is None:
        raise DraftError(f"{path}: neither UTF-8 nor GB18030 in its first {CHUNK_BYTES // 1024} KB")
    texts = [c.decode(encoding if i == 0 else encoding.replace("-sig", "")) for i, c in enumerate(chunks)]
    first_line = texts[0].splitlines()[0] if texts[0] else ""
    delimiter = max([",", "\t", ";", "|"], key=first_line.count)
    header, rows = None, []
    for i, text in enumerate(texts):
        reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
        try:
            got = list(reader)
        except csv.Error:
            continue
        if i == 0:
            header, got = (got[0] if got else []), got[1:]
        rows += [r for r in got if header is not None and len(r) == len(header) and any(r)]
    header = [h.strip() for h in header or []]
    frame = pd.DataFrame(rows, columns=header, dtype=str).drop_duplicates()
    return Sample(name=path.name, format="csv", rows=frame, encoding=encoding, delimiter=delimiter,
                  sampled=len(chunks) > 1)


def _sample_xlsx(path: Path) -> Sample:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=str, keep_default_na=False, nrows=XLSX_ROWS)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many kinds for a file that is not a workbook
        raise DraftError(f"{path}: not a readable XLSX workbook: {exc}") from exc
    if not sheets:
        raise DraftError(f"{path}: the workbook has no sheets")
    name = max(sheets, key=lambda s: sheets[s].size)
    frame = sheets[name]
    frame.columns = [str(c).strip() for c in frame.columns]
    sample = Sample(name=path.name, format="xlsx", rows=frame, sheet=str(name), sheets=tuple(map(str, sheets)),
                    sampled=len(frame) >= XLSX_ROWS)
    return sample


def _sample_json(path: Path) -> Sample:
    data_bytes = path.read_bytes()
    encoding = bytes_encoding(data_bytes)
    if encoding is None:
        raise DraftError(f"{path}: neither UTF-8 nor GB18030")
    text = data_bytes.decode(encoding)
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        lines = [json.loads(line) for line in text.splitlines()[:JSON_RECORDS] if line.strip().startswith("{")]
        if not lines:
            raise DraftError(f"{path}: neither JSON nor JSON Lines") from None
        return Sample(name=path.name, format="jsonl", rows=_records_frame(lines), encoding=encoding,
                      notes=["the file is JSON Lines (one record a line)"])
    if isinstance(data, dict) and data.get("type") == "FeatureCollection" and isinstance(data.get("features"), list):
        records = []
        for feature in data["features"][:JSON_RECORDS]:
            row = dict(feature.get("properties") or {}) if isinstance(feature, dict) else {}
            geometry = feature.get("geometry") if isinstance(feature, dict) else None
            point = geometry.get("coordinates") if isinstance(geometry, dict) else None
            row[GEOJSON_X], row[GEOJSON_Y] = (point[0], point[1]) if isinstance(point, list) and len(point) >= 2 \
                else ("", "")
            records.append(row)
        return Sample(name=path.name, format="geojson", rows=_records_frame(records), encoding=encoding)
    where, items = _find_records(data)
    if items is None:
        raise DraftError(f"{path}: no list of records (JSON objects) found in the file")
    return Sample(name=path.name, format="json", rows=_records_frame(items[:JSON_RECORDS]), encoding=encoding,
                  records=where, sampled=len(items) > JSON_RECORDS)


def _find_records(data, path: str | None = None, depth: int = 0):
    """The longest list of objects in the document and its dotted path (None: the document itself)."""
    if isinstance(data, list):
        objects = sum(isinstance(r, dict) for r in data)
        return (path, data) if data and objects >= len(data) / 2 else (None, None)
    best = (None, None)
    if isinstance(data, dict) and depth < 4:
        for key, value in data.items():
            where, items = _find_records(value, f"{path}.{key}" if path else str(key), depth + 1)
            if items is not None and (best[1] is None or len(items) > len(best[1])):
                best = (where, items)
    return best


def _records_frame(records) -> pd.DataFrame:
    """The records as text columns, a nested object's fields by their dotted paths (location.lng), as
    profiles name them; the objects themselves are left out (their fields are the columns)."""
    rows = [flat_record(r) for r in records if isinstance(r, dict)]
    frame = pd.DataFrame(rows).astype(object)
    parents = {c.rsplit(".", 1)[0] for c in frame.columns if "." in c}
    frame = frame.drop(columns=[c for c in frame.columns if c in parents])
    return frame.where(frame.notna(), "").astype(str)


def district_bounds(store=None) -> tuple[float, float, float, float]:
    """The district's bounds in CGCS2000 lon/lat: the store's district layer, else the shipped demo district."""
    if store is not None:
        district = store.read("district")
        if len(district):
            west, south, east, north = (float(v) for v in district.total_bounds)
            return west, south, east, north
    import shapely.geometry

    text = resources.files("demo").joinpath("reference", "jiangbei_boundary_cgcs2000.geojson").read_text("utf-8")
    data = json.loads(text)
    shapes = [shapely.geometry.shape(f["geometry"]) for f in data.get("features", [data])]
    west, south, east, north = (float(v) for v in shapely.union_all(shapes).bounds)
    return west, south, east, north


def draft(path, store=None) -> Draft:
    """Read a sample of ``path`` and propose a profile for it (the district's bounds from ``store`` if given)."""
    return draft_profile(sample_export(path), district_bounds(store))


# --- proposing (pure) ----------------------------------------------------------------------------------------

def draft_profile(sample: Sample, bounds) -> Draft:
    """Propose a cases profile for the export ``sample`` was read from; ``bounds`` the district's, lon/lat."""
    rows = sample.rows
    stem = Path(sample.name).stem
    result = Draft(profile={})
    p = result.profile
    n = len(rows)
    sampled = " (a sample of the file)" if sample.sampled else ""
    result.note("", f"read {n} rows{sampled}")
    if n == 0:
        result.note("", "the file has no rows: nothing could be proposed from values", undecided=True)
    hints = " ".join([stem, *(sample.sheets or ()), *rows.columns]).lower()
    channel = _channel(stem)
    p["source"] = channel or _slug(stem)
    result.why["source"] = "the channel's name: a later export of it updates these records" if channel \
        else "from the file's name"
    p["channel"] = channel
    p["description"] = stem
    _format(sample, result)
    columns, location = _columns(rows, result)
    _location(rows, columns, location, hints, bounds, result)
    if channel is None:
        family = location.get("datum")
        family = "gk" if family and family.startswith("EPSG") else family
        p["channel"] = CHANNEL_BY_DATUM.get(family, "hotline_12345")
        result.why["channel"] = "undecided: see below"
        result.note("", f"channel: the file's name names none of {sorted(CHANNELS)}; proposed "
                    f"{p['channel']!r}, whose exports look most like this one; a new channel is its own name "
                    "here with its title beside it: channel_title = [\"中文\", \"English\"] (docs/profiles.md)",
                    undecided=True,
                    short=f"the channel (proposed {p['channel']})")
    else:
        result.why["channel"] = f"the file's name names {CHANNELS[channel][0]}"
    _kind(rows, columns, result)
    _dates(rows, columns, result)
    p["columns"] = columns
    if location:
        p["location"] = location
    _vocab(rows, columns, result)
    for req in ("source_id", "reported_at", "category", "status"):
        if req not in columns:
            result.note("columns", f"no column found for the required field {req!r}", undecided=True)
    return result


def _slug(text: str) -> str:
    return re.sub(r"\W+", "_", unicodedata.normalize("NFKC", text).lower()).strip("_") or "new_source"


def _channel(stem: str) -> str | None:
    name = unicodedata.normalize("NFKC", stem).lower()
    for key, (zh, en) in CHANNELS.items():
        if any(a in name for a in (key, zh.lower(), en.lower(), *CHANNEL_ALIASES.get(key, ()))):
            return key
    return None


def _format(sample: Sample, result: Draft) -> None:
    p, why = result.profile, result.why
    fmt = sample.format
    p["format"] = fmt
    if fmt == "jsonl":
        why["format"] = "one JSON record a line (JSON Lines)"
    if sample.encoding:
        p["encoding"] = {"utf-8-sig": "utf-8-sig", "utf-8": "utf-8", "gb18030": "gb18030"}[sample.encoding]
        why["encoding"] = {"utf-8-sig": "UTF-8 with a byte-order mark", "utf-8": "decodes as UTF-8",
                           "gb18030": "not UTF-8; GB18030 reads GBK and GB2312 too"}[sample.encoding]
        if sample.sampled:
            why["encoding"] += " (in the sampled chunks)"
    if fmt == "csv" and sample.delimiter != ",":
        p["delimiter"] = sample.delimiter
        why["delimiter"] = "the character that splits the header and the rows into the same number of cells"
    if fmt == "xlsx":
        p["sheet"] = sample.sheet
        others = [s for s in sample.sheets if s != sample.sheet]
        why["sheet"] = "the sheet with the most cells" + (f"; also in the workbook: {', '.join(others)}"
                                                          if others else "")
    if fmt == "json":
        if sample.records is None:
            why["format"] = "the file is a list of records"
        else:  # a top-level key, or a dotted path to a list inside objects (data.items)
            p["records"] = sample.records
            why["records"] = "the longest list of objects in the file"
    for text in sample.notes:
        result.note("", text)


def _header_field(name: str) -> str | None:
    last = name.rsplit(".", 1)[-1]  # a nested field by its own name: location.lng is a longitude
    for fieldname, pattern in HEADER_RULES:
        if re.search(pattern, name, flags=re.IGNORECASE) or re.search(pattern, last, flags=re.IGNORECASE):
            return fieldname
    return None


def _filled(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().loc[lambda s: s != ""]


def _numbers(values: pd.Series) -> pd.Series:
    return pd.to_numeric(_plain(_filled(values)), errors="coerce")


def _plain(values: pd.Series) -> pd.Series:
    return plain_digits(values)


def _phone_share(values: pd.Series) -> float:
    filled = _filled(values)
    if filled.empty:
        return 0.0
    return float(_plain(filled).str.fullmatch(r"(\+?86[- ]?)?(1\d{10}|0\d{2,3}-?\d{7,8}|\d{7,8})").mean())


def _date_share(values: pd.Series) -> float:
    shapes = _date_shapes(_plain(_filled(values)))
    total = sum(n for n, _ in shapes.values())
    return sum(n for n, formats in shapes.values() if formats) / total if total else 0.0


def _columns(rows: pd.DataFrame, result: Draft) -> tuple[dict, dict]:
    """Each column's field, from its header and checked against its values; (columns, location)."""
    why = result.why
    proposed: dict[str, list[str]] = {}
    unused = []
    for name in rows.columns:
        if name in (GEOJSON_X, GEOJSON_Y):
            proposed.setdefault("x" if name == GEOJSON_X else "y", []).append(name)
            continue
        fieldname = _header_field(name)
        values = rows[name]
        if fieldname in DATE_FIELDS and _date_share(values) < 0.5 and len(_filled(values)):
            result.note("columns", f"{name}: named like a time but its values are not dates", undecided=True)
            fieldname = None
        if fieldname == "reporter_phone" and len(_filled(values)) and _phone_share(values) < 0.5:
            result.note("columns", f"{name}: named like a phone number but its values are not", undecided=True)
            fieldname = None
        if fieldname is None:
            unused.append(name)
            continue
        proposed.setdefault(fieldname, []).append(name)
    # A header named unlike any known one: its values may still say what it is, for a field still missing.
    for name in list(unused):
        fieldname, reason = _field_from_values(rows[name], set(proposed))
        if fieldname:
            proposed[fieldname] = [name]
            why[f"{'location' if fieldname in ('x', 'y') else 'columns'}.{fieldname}"] = \
                f"its name says nothing known; its values: {reason}"
            unused.remove(name)

    # Category-like columns whose values are all kinds of case (矛盾纠纷/信访诉求) give the kind, row by row.
    for name in list(proposed.get("category", [])):
        if _all_placed(rows[name], KIND_WORDS) and rows[name].nunique() <= 5:
            proposed["category"].remove(name)
            proposed.setdefault("kind", []).append(name)
    columns, location = {}, {}
    for fieldname, names in proposed.items():
        if not names:
            continue
        pick = _pick(rows, fieldname, names)
        rest = [n for n in names if n != pick]
        if rest:
            result.note("columns", f"{', '.join(rest)}: also named like {fieldname}; {pick} was taken")
            unused += rest
        if fieldname in ("x", "y", "community"):
            location[fieldname] = pick
        else:
            columns[fieldname] = pick
            why.setdefault(f"columns.{fieldname}", _column_why(rows[pick], fieldname))
    if "address" in columns:
        location["address"] = columns["address"]
    if "category" not in columns and "description" in columns:
        result.note("columns", "no category column: the description was not taken for it", undecided=True)
    if unused:
        result.note("columns", f"not used: {', '.join(unused)} (no field of a case profile fits them)")
    return columns, location


def _field_from_values(values: pd.Series, taken: set) -> tuple[str | None, str]:
    """A field still missing that a column's values fit, and how they fit; only values that can be little else."""
    filled = _filled(values)
    if len(filled) < 5:
        return None, ""
    distinct = filled.unique()
    numbers = _numbers(filled)
    checks = (
        ("status", lambda: all(word_for(v, STATUS_WORDS) for v in distinct), "all are status words"),
        ("level", lambda: all(word_for(v, LEVEL_WORDS) for v in distinct), "all are level words"),
        ("reported_at", lambda: _date_share(filled) > 0.9, "dates"),
        ("reporter_phone", lambda: _phone_share(filled) > 0.9, "phone numbers"),
        ("x", lambda: numbers.between(73, 136).mean() > 0.9, "longitudes in degrees"),
        ("y", lambda: numbers.between(3, 54).mean() > 0.9, "latitudes in degrees"),
        ("source_id", lambda: len(distinct) == len(filled) and bool(filled.str.fullmatch(r"[\w-]{4,40}").all()),
         "distinct codes"),
        ("address", lambda: filled.str.contains(r"[路街巷弄号村]").mean() > 0.8 and filled.str.len().median() >= 6,
         "addresses (路, 街, 号...)"),
        ("category", lambda: 2 <= len(distinct) <= min(60, len(filled) / 2)
         and filled.str.len().max() <= 12, f"{len(distinct)} short words, repeated"),
    )
    for fieldname, fits, reason in checks:
        if fieldname not in taken and fits():
            return fieldname, reason
    return None, ""


def _pick(rows, fieldname, names):
    if fieldname == "source_id":  # the most distinct values: an id names one record
        return max(names, key=lambda n: (rows[n].nunique(), -names.index(n)))
    if fieldname in DATE_FIELDS:
        return min(names, key=lambda n: _plain(_filled(rows[n])).min() if len(_filled(rows[n])) else "~")
    return names[0]


def _column_why(values: pd.Series, fieldname: str) -> str:
    filled = _filled(values)
    if fieldname == "source_id":
        return f"its name; {filled.nunique()} of {len(filled)} values distinct"
    if fieldname == "reporter_phone":
        return f"its name; {_phone_share(filled):.0%} of values are phone numbers"
    return "its name"


def _all_placed(values: pd.Series, words: dict) -> bool:
    distinct = _filled(values).unique()
    return len(distinct) > 0 and all(word_for(v, words) is not None for v in distinct)


def word_for(value: str, words: dict):
    """The canonical value ``value`` is a word for in ``words``, or None (English words in any case)."""
    key = unicodedata.normalize("NFKC", str(value)).strip().lower()
    for target, said in words.items():
        if key in (w.lower() for w in said):
            return target
    return None


def _kind(rows, columns, result: Draft) -> None:
    if "kind" in columns:
        result.why["columns.kind"] = "its values are kinds of case"
        return
    categories = _filled(rows[columns["category"]]) if "category" in columns else pd.Series(dtype=str)
    if categories.empty:
        result.profile["kind"] = "dispute"
        result.note("", "kind: no categories to judge by; proposed dispute", undecided=True)
        return
    distinct = categories.unique()
    disputes = sum("纠纷" in c or "dispute" in c.lower() for c in distinct)
    petitions = sum("信访" in c for c in distinct)
    kind = "dispute" if disputes >= len(distinct) / 2 else "petition" if petitions >= len(distinct) / 2 else "event"
    result.profile["kind"] = kind
    result.why["kind"] = {"dispute": f"{disputes} of {len(distinct)} categories seen are 纠纷 (disputes)",
                          "petition": f"{petitions} of {len(distinct)} categories seen are 信访 (petitions)",
                          "event": f"{disputes} of {len(distinct)} categories seen are disputes: events"}[kind]


def _dates(rows, columns, result: Draft) -> None:
    """The formats that read the date columns, most used first (one list serves every date field)."""
    values = pd.concat([_plain(_filled(rows[columns[f]])) for f in DATE_FIELDS if f in columns] or
                       [pd.Series(dtype=str)])
    shapes = _date_shapes(values)
    found: list[str] = []
    todo = dict(shapes)
    while todo:
        reads = {f: sum(n for n, formats in todo.values() if f in formats) for f in (*DATE_FORMATS, "iso8601")}
        fmt = max(reads, key=lambda f: reads[f])
        if reads[fmt] == 0:
            break
        found.append(fmt)
        todo = {shape: v for shape, v in todo.items() if fmt not in v[1]}
    result.profile["datetime_formats"] = found or ["%Y-%m-%d %H:%M:%S"]
    if not found:
        result.note("", "datetime_formats: no date format known here reads the date columns", undecided=True)
    if todo:
        result.note("", f"{sum(n for n, _ in todo.values())} date values of a form no format reads (their rows will "
                    f"be quarantined): {', '.join(list(todo)[:3])}", undecided=True, short="a date format")
    if any("%d/%m" in f for f in found):
        result.note("", "a day/month/year format was proposed: check it is not month/day/year", undecided=True)


def _date_shapes(values: pd.Series) -> dict:
    """Each form of the values (digits as 9: 9999-99-99 99:99) → (how many values, the formats that read it).

    Formats are tried on a few examples of each form, not on every value: a format that fails is slow, and
    a sample of a million rows has a handful of forms.
    """
    if values.empty:
        return {}
    forms = values.str.replace(r"\d", "9", regex=True)
    out = {}
    for form, group in values.groupby(forms, sort=False):
        examples = group.drop_duplicates().head(5)
        need = max(1, len(examples) - 1)  # an impossible date (2020-02-30) among the examples is the row's fault
        formats = {f for f in DATE_FORMATS if pd.to_datetime(examples, format=f, errors="coerce").notna().sum() >= need}
        if examples.str.contains(_OFFSET).sum() >= need:
            formats.add("iso8601")
        out[form] = (len(group), formats)
    return out


def _location(rows, columns, location, hints, bounds, result: Draft) -> None:
    x, y = location.get("x"), location.get("y")
    if (x is None) != (y is None):
        result.note("location", f"only one coordinate column found ({x or y}); coordinates left out", undecided=True)
        location.pop("x", None)
        location.pop("y", None)
        x = y = None
    if x is None:
        if not location:
            result.note("location", "no coordinates, address nor community column: cases will have no place",
                        undecided=True)
        return
    xs, ys = _numbers(rows[x]), _numbers(rows[y])
    both = pd.concat([xs, ys], axis=1, keys=["x", "y"]).dropna()
    both = both[(both["x"] != 0) | (both["y"] != 0)]
    if both.empty:
        result.note("location", f"{x}/{y} hold no numbers: coordinates left out", undecided=True)
        location.pop("x")
        location.pop("y")
        return
    mx, my = float(both["x"].median()), float(both["y"].median())
    if 3 <= mx <= 54 and 73 <= my <= 136:  # a latitude in the x column: the columns are the other way round
        location["x"], location["y"] = y, x
        both = both.rename(columns={"x": "y", "y": "x"})
        mx, my = my, mx
        result.note("location", f"{x} holds latitudes and {y} longitudes: x and y swapped")
    if 1e6 <= mx < 1e7 and (1e5 <= my < 1e6 or 1e7 <= my < 1e8):  # surveyors' X is the northing (7 digits)
        location["x"], location["y"] = location["y"], location["x"]
        both = both.rename(columns={"x": "y", "y": "x"})
        mx, my = my, mx
        result.note("location", "the x column holds northings (surveyors' X): x and y swapped")
    west, south, east, north = bounds
    lon = (west + east) / 2
    if 73 <= mx <= 136 and 3 <= my <= 54:
        _degrees(both, hints, bounds, result, location)
    elif 1e7 <= mx < 1e8 and 1e6 <= my < 1e7:
        zone = int(mx // 1e6)
        datum = f"EPSG:{4513 + zone - 25}" if 25 <= zone <= 45 else None
        if datum is None:
            result.note("location", f"eastings of 8 digits but {zone} is no 3-degree zone of China", undecided=True)
            return
        location["datum"] = datum
        result.why["location.datum"] = (f"metres with the zone number in the easting (8 digits): CGCS2000 "
                                        f"3-degree Gauss-Krüger zone {zone} (CM {3 * zone}E)")
        _inside_note(both, datum, bounds, result)
    elif 1e5 <= mx < 1e6 and 1e6 <= my < 1e7:
        zones = sorted({int(np.floor(lon / 3)), int(np.ceil(lon / 3)), round(lon / 3)})
        scores = {z: _inside_share(both, f"EPSG:{4534 + z - 25}", bounds) for z in zones}
        zone = max(scores, key=lambda z: (scores[z], -abs(3 * z - lon)))
        datum = f"EPSG:{4534 + zone - 25}"
        location["datum"] = datum
        tried = ", ".join(f"zone {z}: {s:.0%}" for z, s in scores.items())
        result.why["location.datum"] = (f"metres with a 6-digit easting (no zone prefix): CGCS2000 3-degree "
                                        f"Gauss-Krüger zone {zone} (CM {3 * zone}E), the zone that puts the points "
                                        f"in the district ({tried})")
        if scores[zone] < 0.5:
            result.note("location", f"no zone near the district's longitude {lon:.2f} puts most points in it "
                        f"({tried})", undecided=True)
    else:
        result.note("location", f"{x}/{y} (median {mx:.6g}, {my:.6g}) are neither degrees nor Gauss-Krüger metres "
                    "of China: coordinates left out", undecided=True)
        location.pop("x")
        location.pop("y")
        return
    if location.get("datum", "").startswith("EPSG"):
        result.note("location", "Gauss-Krüger taken as CGCS2000; a survey on Xi'an 80 or Beijing 54 lies up to "
                    "about 100 m off", undecided=False)


def _degrees(both, hints, bounds, result: Draft, location) -> None:
    named = [d for d, words in DATUM_HINTS.items() if any(w in hints for w in words)]
    if len(named) == 1:
        datum = named[0]
        word = next(w for w in DATUM_HINTS[datum] if w in hints)
        result.why["location.datum"] = f"degrees; the file's name or headers say {word!r}"
    else:
        datum = DEFAULT_DEGREE_DATUM
        reason = (f"they name several maps ({', '.join(named)})" if named
                  else "neither the file's name nor its headers name the app's map")
        result.why["location.datum"] = "undecided: see the notes below"
        result.note("location", "degrees, but GCJ-02, WGS84/CGCS2000 and BD-09 differ by a few hundred metres and "
                    f"values alone cannot tell them apart; {reason}. Proposed {datum}, which shifts nothing: if the "
                    "export comes from a Chinese web map write gcj02 (高德/Amap, 腾讯) or bd09 (百度/Baidu)",
                    undecided=True, short=f"the datum of the degrees (GCJ-02, WGS84 or BD-09; proposed {datum})")
    location["datum"] = datum
    _inside_note(both, datum, bounds, result)


def _inside_share(both, datum, bounds) -> float:
    sample = both.head(2000)
    lon, lat = to_cgcs2000(sample["x"].to_numpy(), sample["y"].to_numpy(), datum)
    west, south, east, north = bounds
    inside = (lon >= west - MARGIN_DEG) & (lon <= east + MARGIN_DEG) & (lat >= south - MARGIN_DEG) & \
        (lat <= north + MARGIN_DEG)
    return float(np.mean(inside)) if len(sample) else 0.0


def _inside_note(both, datum, bounds, result: Draft) -> None:
    share = _inside_share(both, datum, bounds)
    if share < 0.5:
        result.note("location", f"only {share:.0%} of the sampled points fall in the district in {datum}: another "
                    "district's export, or another datum", undecided=True)
    else:
        result.note("location", f"{share:.0%} of the sampled points fall in the district in {datum}")


def _vocab(rows, columns, result: Draft) -> None:
    vocab: dict = {}
    seen = set()
    for fieldname, words, key in (("status", STATUS_WORDS, "status"), ("level_received", LEVEL_WORDS, "level"),
                                  ("level", LEVEL_WORDS, "level"), ("resolved_in_place", RESOLVED_WORDS,
                                                                    "resolved_in_place"),
                                  ("kind", KIND_WORDS, "kind")):
        if fieldname not in columns:
            continue
        counts = _filled(rows[columns[fieldname]]).value_counts()
        entries = vocab.setdefault(key, {})
        for value in counts.index:
            target = word_for(value, words)
            if target is None:
                if (key, value) not in seen:
                    seen.add((key, value))
                    result.note(f"vocab.{key}", f"{value!r} ({counts[value]} rows in the sample, column "
                                f"{columns[fieldname]}): not a word known for {key} "
                                f"({'/'.join(map(str, words))}); its rows are quarantined until it is mapped",
                                undecided=True, short=f"{key} value {value!r}")
                continue
            entries[value] = target
    for level_set in LEVEL_SETS:
        levels = vocab.get("level", {})
        if any(w in levels for w in level_set[:2]):  # 区 alone is in two sets
            unseen = [w for w in level_set if w not in levels]
            for word in unseen:
                levels[word] = word_for(word, LEVEL_WORDS)
            if unseen:
                result.note("vocab.level", f"{', '.join(unseen)}: not seen in the sample, added with the others of "
                            "their set")
    result.profile["vocab"] = {k: v for k, v in vocab.items() if v}


# --- writing (pure) ------------------------------------------------------------------------------------------

def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value), ensure_ascii=False)


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


def profile_text(result: Draft, file_name: str = "") -> str:
    """The draft as a TOML profile; each decision's reason in a comment, what is undecided said so."""
    p, why = result.profile, result.why
    lines = [f"# Draft profile for {file_name or p.get('description', '')}, written by `onemap profile draft`.",
             "# Check every line; \"undecided\" marks what the file could not settle. Then try it with",
             "# `onemap ingest FILE --source THIS.toml` on a test store and read the report.",
             f"# {len(result.undecided)} undecided."]

    def line(key, value, comment):
        text = f"{_toml_key(key)} = {_toml_value(value)}"
        return f"{text}  # {comment}" if comment else text

    for key in ("source", "channel", "description", "format", "encoding", "delimiter", "sheet", "records", "kind",
                "datetime_formats"):
        if key in p:
            lines.append(line(key, p[key], why.get(key, "")))
    lines += [f"# {t}" for t in result.notes.get("", [])]
    for section in ("columns", "location"):
        lines += ["", f"[{section}]"]
        for key, value in p.get(section, {}).items():
            lines.append(line(key, value, why.get(f"{section}.{key}", "")))
        lines += [f"# {t}" for t in result.notes.get(section, [])]
    for key, entries in p.get("vocab", {}).items():
        lines += ["", f"[vocab.{key}]"]
        lines += [line(word, value, "") for word, value in entries.items()]
        lines += [f"# {t}" for t in result.notes.get(f"vocab.{key}", [])]
    for section, notes in result.notes.items():
        if section.startswith("vocab.") and section[6:] not in p.get("vocab", {}):
            lines += ["", f"# [{section}]: no value seen is a known word"] + [f"# {t}" for t in notes]
    return "\n".join(lines) + "\n"


def summary(result: Draft) -> str:
    """One line: what the draft could not decide."""
    if not result.undecided:
        return "profile draft: every key decided from the file; check the comments"
    return f"profile draft: {len(result.undecided)} undecided: " + "; ".join(
        t if len(t) <= 80 else t[:77] + "..." for t in result.undecided)
