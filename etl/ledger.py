"""The office's remediation ledger (靶向治理台账) read from its spreadsheet and written into the register.

The file (.xlsx or .csv) has a header in row 1 naming the columns of
``layers.ledger.LEDGER_COLUMNS`` in Chinese or English (docs/ledger.md), then
one row per remediation. Each row is checked in full and every reason it is
refused is kept with its row as Excel numbers it, so one pass tells the
office everything to correct; if any row is refused, nothing is written
(``layers.ledger.import_register`` writes all the rows, or none).

A date is a date however it arrives: an Excel date cell whatever its display
format (even a number format of text or General, which shows the serial
number), or text such as 2020-05-01, 2020/5/1, 2020.5.1 or 2020年5月1日,
optionally with a time.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
import zipfile
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.utils.datetime import from_excel
from openpyxl.utils.exceptions import InvalidFileException

from etl.read import ReadError, detect_encoding
from layers.ledger import (
    HEADERS,
    LEDGER_COLUMNS,
    SHEET,
    ImportResult,
    LedgerRefused,
    RowProblem,
    check_importer,
    import_register,
    place_kind_code,
    state_code,
)
from layers.remediation_orders import STATES, Actor
from layers.store import Store

KINDS = {f: kind for f, _, _, kind in LEDGER_COLUMNS}
# Every row needs these; and a start (the plan's or the works'), which also makes a row's id: the plan's first,
# as it stays when the works begin.
REQUIRED = ("place_kind", "place", "what", "unit")
STARTS = ("planned_start", "started_at")
# (start, finish) fields a finish may not come before.
SPANS = (("planned_start", "planned_finish"), ("started_at", "finished_at"), ("started_at", "handed_over_at"),
         ("finished_at", "handed_over_at"))
# What a row in a state must say: the works began, ended, went to whom.
STATE_NEEDS = {"in_progress": ("started_at",), "accepted": ("started_at", "finished_at"),
               "handed_over": ("started_at", "finished_at", "handed_over_to")}
_TEXT_DATE = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?"
                        r"(?:[ T]+(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?)?")


def import_ledger(store: Store, path, actor: Actor, *, dry_run: bool = False, now=None) -> ImportResult:
    """Read, check and write the ledger at ``path`` as ``actor`` (a commander or an administrator); what it did.

    A ledger with any bad row raises :class:`layers.ledger.LedgerRefused` naming every one, and writes nothing;
    ``dry_run`` checks and counts, and writes nothing either.
    """
    check_importer(actor)  # before the file is read: a refused user learns nothing of it
    source = Path(path).name
    raw, problems = read_ledger(path)
    if problems:  # the columns are wrong: every row would only say so again
        raise LedgerRefused(source, problems)
    rows, problems = parse_rows(raw)
    return import_register(store, actor, rows, problems=problems, source=source, dry_run=dry_run, now=now)


def read_ledger(path) -> tuple[pd.DataFrame, list[RowProblem]]:
    """The file's rows as cells under their fields, with ``_row`` (Excel's row number); the header's problems.

    Cells stay as the file holds them (text, numbers, dates), but for a number in a date column of a
    workbook: that is an Excel date shown in a number format, made a date here with the workbook's epoch.
    """
    path = Path(path)
    if not path.is_file():
        raise ReadError(f"{path}: no such file", zh=f"文件不存在：{path}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        cells, epoch = _workbook_cells(path)
    elif suffix == ".csv":
        with open(path, encoding=detect_encoding(path), newline="") as f:
            cells, epoch = list(csv.reader(f)), None
    else:
        raise ReadError(f"{path}: the ledger is read from .xlsx or .csv, not {suffix or 'a file without suffix'}",
                        zh=f"台账须为 .xlsx 或 .csv 文件：{path.name}")
    if not cells:
        raise ReadError(f"{path}: empty, not even a header row", zh=f"{path.name} 是空文件，没有表头")
    fields, problems = map_headers(cells[0])
    records = []
    for number, values in enumerate(cells[1:], start=2):
        record = {name: values[i] if i < len(values) else None for i, name in fields.items()}
        if epoch is not None:
            for name, value in record.items():
                if KINDS[name] == "date" and isinstance(value, (int, float)) and not isinstance(value, bool):
                    record[name] = from_excel(value, epoch)
        record["_row"] = number
        records.append(record)
    return pd.DataFrame(records, columns=[*fields.values(), "_row"], dtype=object), problems


def _workbook_cells(path: Path) -> tuple[list[tuple], dt.datetime]:
    try:
        # data_only: a formula's value as Excel last computed it, as the clerk saw it.
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, OSError) as exc:
        raise ReadError(f"{path}: not a readable Excel workbook: {exc}", zh=f"{path.name} 不是可读的 Excel 文件") from exc
    try:
        sheet = book[SHEET] if SHEET in book.sheetnames else book.worksheets[0]
        return [tuple(r) for r in sheet.iter_rows(values_only=True)], book.epoch
    finally:
        book.close()


def _header_key(text) -> str:
    return re.sub(r"[\s_]+", " ", str(text if text is not None else "")).strip().lower()


# Each field under its Chinese header, its English header and its own name.
_BY_HEADER = {key: f for f, zh, en, _ in LEDGER_COLUMNS for key in (_header_key(zh), _header_key(en), _header_key(f))}


def map_headers(header) -> tuple[dict[int, str], list[RowProblem]]:
    """Which field each column of the header row holds (by position); problems: unknown, doubled or missing columns.

    A column with no header is left out (a spreadsheet's stray formatting); one that names no field is refused,
    as its data would otherwise be dropped without a word.
    """
    fields, problems = {}, []
    for i, text in enumerate(header):
        key = _header_key(text)
        if not key:
            continue
        name = _BY_HEADER.get(key)
        if name is None:
            problems.append(RowProblem(1, str(text).strip(), "不认识的列名（列名见 docs/ledger.md）",
                                       "unknown column (the columns are in docs/ledger.md): "
                                       + ", ".join(zh for zh, _ in HEADERS.values())))
        elif name in fields.values():
            problems.append(RowProblem(1, name, "列出现了两次", "the column appears twice"))
        else:
            fields[i] = name
    for name in REQUIRED:
        if name not in fields.values():
            problems.append(RowProblem(1, name, "缺少这一列", "the column is missing"))
    if not any(name in fields.values() for name in STARTS):
        problems.append(RowProblem(1, "started_at", "缺少开始或计划开始列", "needs a Started or a Planned start column"))
    return fields, problems


def parse_rows(raw: pd.DataFrame) -> tuple[pd.DataFrame, list[RowProblem]]:
    """Ledger cells made register fields (codes, Timestamps, None), each row with its id; every row's problems.

    Rows with nothing in them are skipped. A row without an id gets :func:`stable_id`, so the same row
    imported twice is the same record.
    """
    rows, problems, first = [], [], {}
    for cells in raw.to_dict("records"):
        if all(_blank(v) for k, v in cells.items() if k != "_row"):
            continue
        row, found = parse_row(cells)
        problems += found
        if row["remediation_id"] in first:
            problems.append(RowProblem(row["_row"], "remediation_id", f"与第{first[row['remediation_id']]}行是同一条",
                                       f"the same remediation as row {first[row['remediation_id']]}"))
        else:
            first[row["remediation_id"]] = row["_row"]
        rows.append(row)
    columns = ["remediation_id", *[f for f in raw.columns if f not in ("remediation_id", "_row")], "_row"]
    return pd.DataFrame(rows, columns=columns, dtype=object), problems


def parse_row(cells: dict) -> tuple[dict, list[RowProblem]]:
    """One ledger row's cells as register fields, and every reason it cannot be written."""
    number, problems = cells["_row"], []

    def refuse(name, zh, en):
        problems.append(RowProblem(number, name, zh, en))

    row = {"_row": number}
    for name, value in cells.items():
        if name == "_row" or KINDS[name] == "shown":
            continue
        kind, text = KINDS[name], _text(value)
        if kind == "date":
            try:
                row[name] = parse_date(value)
            except ValueError:
                row[name] = None
                refuse(name, f"不是日期: {text!r}（可写 2020-05-01、2020/5/1 或 Excel 日期）",
                       f"not a date: {text!r} (write 2020-05-01, 2020/5/1 or an Excel date)")
        elif kind == "place_kind":
            row[name] = place_kind_code(text) if text else None
            if text and row[name] is None:
                refuse(name, f"不认识的地点类型 {text!r}：应为 网格、老旧小区 或 退红空间",
                       f"unknown place kind {text!r}: grid_cell, estate or setback_area (网格, 老旧小区, 退红空间)")
        elif kind == "state":
            row[name] = state_code(text) if text else None
            if text and row[name] is None:
                refuse(name, f"不认识的状态 {text!r}：应为 {'、'.join(zh for zh, _ in STATES.values())}",
                       f"unknown state {text!r}: {', '.join(STATES)}")
        else:
            row[name] = text
    for name in REQUIRED:
        if name in row and row[name] is None and not any(p.field == name for p in problems):
            refuse(name, "为空：每行都须填写", "empty: every row needs it")
    if all(row.get(name) is None for name in STARTS) and not any(p.field in STARTS for p in problems):
        refuse("started_at", "须填写开始或计划开始日期", "needs a start or a planned start date")
    for start, finish in SPANS:
        if (row.get(start) is not None and row.get(finish) is not None and row[finish] < row[start]
                and not any(p.field == finish for p in problems)):
            refuse(finish, f"{row[finish]:%Y-%m-%d} 早于{HEADERS[start][0]} {row[start]:%Y-%m-%d}",
                   f"{row[finish]:%Y-%m-%d} is before {HEADERS[start][1].lower()} {row[start]:%Y-%m-%d}")
    for name in STATE_NEEDS.get(row.get("state"), ()):
        if name in row and row[name] is None and not any(p.field == name for p in problems):
            refuse(name, f"状态为{STATES[row['state']][0]}时须填写", f"a row {row['state']} needs it")
    if row.get("remediation_id") is None:
        start = next((row[s] for s in STARTS if row.get(s) is not None), None)
        row["remediation_id"] = stable_id(row.get("place_kind"), row.get("place"), row.get("what"), start)
    return row, problems


def stable_id(place_kind, place, what, start) -> str:
    """A ledger row's id when the office gave it none: the same place, works and start give the same id."""
    parts = [str(place_kind or ""), str(place or ""), str(what or ""),
             pd.Timestamp(start).isoformat() if start is not None else ""]
    return "R" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:10]


def parse_date(value) -> pd.Timestamp | None:
    """A ledger cell as a time to the second: an Excel date, or text like 2020-05-01, 2020/5/1 or 2020年5月1日
    with an optional time; None for an empty cell; ValueError for anything else."""
    if _blank(value):
        return None
    if isinstance(value, (dt.datetime, dt.date)):
        return pd.Timestamp(value).round("s")
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    match = _TEXT_DATE.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"not a date: {value!r}")
    year, month, day, hour, minute, second = (int(g) if g else 0 for g in match.groups())
    return pd.Timestamp(dt.datetime(year, month, day, hour, minute, second))  # ValueError for 2020-02-30


def _text(value) -> str | None:
    """A cell as text; a whole number typed into Excel (a place code) as its digits, not 3.30205003002e13."""
    if _blank(value):
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def _blank(value) -> bool:
    return value is None or (isinstance(value, float) and pd.isna(value)) or (isinstance(value, str)
                                                                             and not value.strip())
