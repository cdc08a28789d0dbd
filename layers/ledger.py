"""The remediation ledger (靶向治理台账) as the office keeps it in Excel: its columns, its export, its import's write.

The office's register is a spreadsheet, one row per remediation, with the
columns of :data:`LEDGER_COLUMNS` (docs/ledger.md describes them for people).
An export writes the register of a user's area in those columns; an import
(``etl.ledger`` reads and checks the file) writes it back: a round trip keeps
every field, so export → import → export gives the same cells.

The import is the commander's (or an administrator's): it may set any row's
state, as the ledger is the office's record of the works, and it lands whole or
not at all — the rows, their audit, the steps of orders whose state it changed
and the setback areas that follow, in one transaction. A row whose fields are
those the store holds is left alone, so the same file imported twice writes once.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl
import pandas as pd
from openpyxl.styles import Font

from layers.areas import Area
from layers.audit import audit_rows, recorded
from layers.errors import BadInput, InvalidValue
from layers.glossary import PLACE_KIND_LABELS
from layers.remediation import PLACE_LAYERS
from layers.remediation_orders import EVIDENCE, STATES, Actor, NotAllowed, _follow, find_place, in_area, orders
from layers.store import Condition, Store

# The ledger's columns, in their order in the file: (field, Chinese header, English header, kind). Kinds:
# text, place_kind (网格/老旧小区/退红空间), state (STATES' names), date (a real date in Excel, kept to the
# second), and shown (written by an export for people to read, ignored by an import: the store's own).
LEDGER_COLUMNS = (
    ("remediation_id", "编号", "ID", "text"),
    ("place_kind", "地点类型", "Place kind", "place_kind"),
    ("place", "地点编码", "Place code", "text"),
    ("place_name", "地点名称", "Place name", "shown"),
    ("category", "问题类别", "Category", "text"),
    ("what", "整治措施", "Measures", "text"),
    ("unit", "责任单位", "Responsible unit", "text"),
    ("state", "状态", "State", "state"),
    ("planned_start", "计划开始", "Planned start", "date"),
    ("planned_finish", "计划完成", "Planned finish", "date"),
    ("started_at", "开始", "Started", "date"),
    ("finished_at", "完成", "Finished", "date"),
    ("handed_over_to", "移交单位", "Handed over to", "text"),
    ("handed_over_at", "移交日期", "Handed over on", "date"),
    ("entered_by", "录入人", "Entered by", "text"),
    ("entered_at", "录入时间", "Entered at", "date"),
)
# The register's fields the ledger keeps (all but the shown ones).
LEDGER_FIELDS = tuple(f for f, _, _, kind in LEDGER_COLUMNS if kind != "shown")
HEADERS = {f: (zh, en) for f, zh, en, _ in LEDGER_COLUMNS}
_DATE_FIELDS = {f for f, _, _, kind in LEDGER_COLUMNS if kind == "date"}
# Who may import the whole ledger: it sets any row's state, which only these roles may.
IMPORT_ROLES = ("commander", "admin")
# Left as the store holds them when a row leaves them empty: the import fills them for a new row.
FILLED_ON_IMPORT = ("entered_by", "entered_at")
SHEET = "靶向治理台账"
# Characters a spreadsheet cannot hold (control characters): an export drops them.
_UNWRITABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")


@dataclass(frozen=True)
class RowProblem:
    """One reason a ledger row is refused: its row as the spreadsheet numbers it (header = 1), field, why."""

    row: int
    field: str
    zh: str
    en: str

    def text(self, source: str) -> str:
        """The reason in both languages, naming the file, the row and the column."""
        zh_header, en_header = HEADERS.get(self.field, (self.field, self.field))
        return (f"{source} 第{self.row}行 {zh_header}: {self.zh} / "
                f"{source} row {self.row} {en_header} ({self.field}): {self.en}")


class LedgerRefused(BadInput):
    """A ledger with bad rows: each reason is listed, and nothing was written."""

    code = "LedgerRefused"

    def __init__(self, source: str, problems: list[RowProblem]):
        problems = sorted(problems, key=lambda p: (p.row, list(HEADERS).index(p.field) if p.field in HEADERS else -1))
        self.source, self.problems = source, problems
        self.refused = len({p.row for p in problems})
        lines = "\n".join(f"  {p.text(source)}" for p in problems)
        super().__init__(f"{source}: {self.refused} rows refused, nothing written ({self.refused} 行有误，未写入任何数据):"
                         f"\n{lines}",
                         zh=f"{source}：{self.refused} 行有误，未写入任何数据：\n{lines}")


def place_kind_code(text: str) -> str | None:
    """The place kind a ledger cell names: its code or its Chinese or English label; None if unknown."""
    text = str(text).strip()
    for kind, (zh, en) in PLACE_KIND_LABELS.items():
        if text.lower() in (kind, zh, en.lower()):
            return kind
    return None


def state_code(text: str) -> str | None:
    """The state a ledger cell names: its code or its Chinese or English name (:data:`STATES`); None if unknown."""
    text = str(text).strip()
    for state, (zh, en) in STATES.items():
        if text.lower() in (state, zh, en.lower()):
            return state
    return None


def ledger_table(register: pd.DataFrame, names: dict) -> pd.DataFrame:
    """The register's rows as ledger rows: the fields of :data:`LEDGER_COLUMNS`, each place's name from ``names``
    ((kind, code) → name), in the ledger's order (by kind of place, place, start, id)."""
    rows = register.assign(place_name=[names.get((k, p), "") for k, p in zip(register["place_kind"], register["place"])])
    rows = rows.assign(_start=rows["started_at"].fillna(rows["planned_start"]))
    rows = rows.sort_values(["place_kind", "place", "_start", "remediation_id"], na_position="last")
    return rows[[f for f, *_ in LEDGER_COLUMNS]].reset_index(drop=True)


def ledger_frame(store: Store, area: Area) -> pd.DataFrame:
    """The register of ``area`` as ledger rows (state filled as :func:`orders` fills it), the places' names read
    with one read per kind of place."""
    register = orders(store, area)
    names = {}
    for kind, (layer, key) in PLACE_LAYERS.items():
        codes = sorted(set(register.loc[register["place_kind"] == kind, "place"]))
        if codes:
            places = store.read(layer, [Condition(key, "in", codes)])
            names.update({(kind, k): n for k, n in zip(places[key], places["name"])})
    return ledger_table(register, names)


def write_ledger_xlsx(ledger: pd.DataFrame, path) -> None:
    """Ledger rows to an Excel workbook: Chinese headers in row 1, codes and names as text, dates as real dates
    (shown as days, with the time where there is one)."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET
    sheet.append([zh for _, zh, _, _ in LEDGER_COLUMNS])
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    sheet.freeze_panes = "A2"
    for i, row in enumerate(ledger.itertuples(index=False), start=2):
        for j, (name, _, _, kind) in enumerate(LEDGER_COLUMNS, start=1):
            value = getattr(row, name)
            if value is None or (pd.api.types.is_scalar(value) and pd.isna(value)):
                continue
            if kind == "date":
                at = pd.Timestamp(value).round("s")
                cell = sheet.cell(i, j, at.to_pydatetime())
                cell.number_format = "yyyy-mm-dd" if at == at.normalize() else "yyyy-mm-dd hh:mm:ss"
                continue
            if kind == "place_kind":
                value = PLACE_KIND_LABELS[value][0] if value in PLACE_KIND_LABELS else value
            elif kind == "state":
                value = STATES[value][0] if value in STATES else value
            cell = sheet.cell(i, j, _UNWRITABLE.sub("", str(value)))
            cell.data_type = "s"  # text that starts with "=" stays text, not a formula Excel would run
    for j, (name, zh, _, kind) in enumerate(LEDGER_COLUMNS, start=1):
        sheet.column_dimensions[openpyxl.utils.get_column_letter(j)].width = 20 if kind == "date" else (
            32 if name in ("what", "place_name", "unit", "handed_over_to") else 14)
    book.save(path)


def export_ledger(store: Store, path, *, area: Area, user: str = "") -> int:
    """Write the ledger of ``area`` (the user's) to an .xlsx file and record the export; returns the rows written."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise InvalidValue(f"the ledger is written as an Excel workbook: name the file *.xlsx, not {path.name!r}",
                           zh=f"台账导出为 Excel 文件：文件名应以 .xlsx 结尾，而不是 {path.name!r}")
    ledger = ledger_frame(store, area)
    write_ledger_xlsx(ledger, path)
    store.upsert("exports", pd.DataFrame([{
        "export_id": f"X{uuid.uuid4().hex[:10]}", "user_name": user, "at": pd.Timestamp.now().floor("s"),
        "layers": "remediations", "format": "xlsx", "datum": "", "filter": json.dumps({}), "area": area.spec(),
        "rows": len(ledger), "path": str(path), "personal": False}]))
    return len(ledger)


@dataclass
class ImportResult:
    """What an import did (or, in a dry run, would do): rows per outcome, and the ids of the rows it wrote."""

    new: int = 0
    updated: int = 0
    unchanged: int = 0
    refused: int = 0
    written: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """The line the command prints."""
        return f"ledger: {self.new} new, {self.updated} updated, {self.unchanged} unchanged, {self.refused} refused"


def check_importer(actor: Actor) -> None:
    """Refuse an import by anyone whose role may not set the whole ledger."""
    if actor.role not in IMPORT_ROLES:
        raise NotAllowed(f"{actor.name} ({actor.role}) may not import the remediation ledger: only "
                         f"{' or '.join(IMPORT_ROLES)} may",
                         zh=f"{actor.name} 无权导入靶向治理台账：仅指挥长或系统管理员可以导入")


def import_register(store: Store, actor: Actor, rows: pd.DataFrame, *, problems=(), source: str = "ledger",
                    dry_run: bool = False, now=None) -> ImportResult:
    """Write checked ledger rows into the register, all or nothing; what it did.

    ``rows``: one per ledger row, the fields of :data:`LEDGER_FIELDS` the file has (a column the file lacks is
    left as the store holds it), parsed (codes, Timestamps, None for an empty cell), each with its id and
    ``_row`` (its row in the file). ``problems``: what the reader found already. Each place must exist and lie
    in the actor's area; if any row has a problem, :class:`LedgerRefused` lists them all and nothing is written.
    """
    check_importer(actor)
    now = pd.Timestamp(now or pd.Timestamp.now()).floor("s")
    problems = list(problems)
    places, place_problems = _places(store, actor, rows)
    problems += place_problems
    if problems:
        raise LedgerRefused(source, problems)
    result = ImportResult()
    if rows.empty:
        return result
    stored = store.read("remediations", [Condition("remediation_id", "in", rows["remediation_id"].tolist())])
    stored = {r["remediation_id"]: r for r in stored.to_dict("records")}
    registers, changes, moved = [], [], []
    areas: dict[str, pd.DataFrame] = {}  # setback areas (one row each) as the rows so far left them, by code
    for row in rows.to_dict("records"):
        before = stored.get(row["remediation_id"])
        after = _after(before, row, places[(row["place_kind"], row["place"])], actor, now)
        if before is not None and _kept(before) == _kept(after):
            result.unchanged += 1
            continue
        after["updated_at"] = now
        if before is None:
            result.new += 1
        else:
            result.updated += 1
        registers.append(after)
        changes.append((after["remediation_id"], recorded(before, EVIDENCE), recorded(after, EVIDENCE)))
        if before is not None and _state(before) != after["state"]:
            moved.append(after)
        _follow_place(store, areas, places[(row["place_kind"], row["place"])], before, after, now)
    result.written = [r["remediation_id"] for r in registers]
    if dry_run or not registers:
        return result
    frames = {"remediations": pd.DataFrame(registers),
              "audit": audit_rows(actor.name, "remediation.import", "remediations", changes, address=actor.address,
                                  now=now)}
    if moved:
        frames["remediation_steps"] = _steps(store, moved, actor, now)
    if areas:
        frames["setback_areas"] = pd.concat(list(areas.values()), ignore_index=True)
    store.upsert_many(frames)
    return result


def _places(store: Store, actor: Actor, rows: pd.DataFrame) -> tuple[dict, list[RowProblem]]:
    """Each row's place (one look-up per place), and the rows whose place is not there or not the actor's."""
    places, problems, missing = {}, [], {}
    for row in rows.to_dict("records"):
        key = (row["place_kind"], row["place"])
        if None in key:  # the reader has said what is wrong with it
            continue
        if key not in places and key not in missing:
            try:
                place = find_place(store, *key)
            except InvalidValue:
                place = None
            if place is None:
                missing[key] = "absent"
            elif in_area(store, actor.area, place):
                places[key] = place
            else:
                missing[key] = "outside"
        if key in missing:
            kind, code = key
            zh = PLACE_KIND_LABELS[kind][0]
            problems.append(RowProblem(row["_row"], "place", f"本区没有这个{zh}: {code!r}",
                                       f"no {kind} {code!r} in the store")
                            if missing[key] == "absent" else
                            RowProblem(row["_row"], "place", f"{zh} {code} 不在 {actor.name} 的辖区",
                                       f"{kind} {code} is outside {actor.name}'s area ({actor.area.spec()})"))
    return places, problems


def _after(before: dict | None, row: dict, place, actor: Actor, now) -> dict:
    """The register row as the ledger row leaves it: the store's row (or an empty one) with the file's fields."""
    after = dict(before) if before is not None else {"evidence": None, "updated_at": None}
    for name in LEDGER_FIELDS:
        if name in row:
            after[name] = None if _empty(row[name]) else row[name]
    for name, value in zip(FILLED_ON_IMPORT, (actor.name, now)):
        if _empty(after.get(name)):
            after[name] = before.get(name) if before is not None else value
    if after.get("state") is None:
        after["state"] = _state(before) if before is not None else _inferred_state(after)
    after.update(place_kind=place.kind, place=place.code, grid_cell=place.grid_cell,
                 community_code=place.community_code, street_code=place.street_code)
    return after


def _inferred_state(row: dict) -> str:
    # As add_remediation says it of work registered whole: the furthest step its dates show.
    if row.get("handed_over_to"):
        return "handed_over"
    if not _empty(row.get("finished_at")):
        return "accepted"
    if not _empty(row.get("started_at")):
        return "in_progress"
    return "proposed"


def _state(row: dict) -> str:
    # A row registered before orders had states is done work, as orders() reads it.
    state = row.get("state")
    return state if isinstance(state, str) and state else "handed_over"


def _empty(value) -> bool:
    return value is None or (pd.api.types.is_scalar(value) and pd.isna(value)) or (isinstance(value, str)
                                                                                   and not value.strip())


def _kept(row: dict, fields=LEDGER_FIELDS) -> tuple:
    """The row's ledger fields as the ledger compares them: empty as None, times to the second."""
    values: list = []
    for name in fields:
        value = _state(row) if name == "state" else row.get(name)
        if _empty(value):
            values.append(None)
        elif name in _DATE_FIELDS:
            values.append(pd.Timestamp(value).round("s"))
        else:
            values.append(str(value).strip())
    return tuple(values)


def _follow_place(store: Store, areas: dict, place, before: dict | None, after: dict, now) -> None:
    """Move the place's setback areas along as the row's state says (layers.remediation_orders._follow): in
    renovation from the works' start, handed over (to whom, when) at the handover, unmanaged again if cancelled."""
    if place.kind not in ("setback_area", "estate"):
        return
    state, was = after["state"], _state(before) if before is not None else None
    handover = ("handed_over_to", "handed_over_at")
    if state == "handed_over":
        if was == state and before is not None and _kept(before, handover) == _kept(after, handover):
            return  # handed over as it was: another field of the row changed
        step = "handed_over"
    elif state in ("in_progress", "accepted") and was not in ("in_progress", "accepted"):
        step = "in_progress"
    elif state == "cancelled" and was in ("in_progress", "accepted"):
        step, was = "cancelled", "in_progress"
    else:
        return
    key = "setback_area" if place.kind == "setback_area" else "estate_id"
    held = store.read("setback_areas", [Condition(key, "=", place.code)])
    if held.empty:
        return
    # A row before this one may have moved the same areas: it is their state as it left them that moves on.
    current = pd.concat([areas.get(code, held.iloc[[i]]) for i, code in enumerate(held["setback_area"])],
                        ignore_index=True)
    handed_at = next((after[t] for t in ("handed_over_at", "finished_at", "started_at") if not _empty(after.get(t))),
                     now)
    followed = _follow(current, was or "", step, after.get("handed_over_to"), pd.Timestamp(handed_at))
    if followed is not None:
        areas.update({code: followed.iloc[[i]] for i, code in enumerate(followed["setback_area"])})


def _steps(store: Store, moved: list[dict], actor: Actor, now) -> pd.DataFrame:
    """A step for each order whose state the import changed, after the steps it has, so its history says so."""
    ids = [r["remediation_id"] for r in moved]
    taken = store.read("remediation_steps", [Condition("remediation_id", "in", ids)]).groupby("remediation_id")["step"]
    last = taken.max().to_dict()
    return pd.DataFrame([{
        "remediation_id": r["remediation_id"], "step": int(last.get(r["remediation_id"], 0)) + 1, "state": r["state"],
        "at": now, "actor": actor.name, "role": actor.role, "note": "台账导入 ledger import",
        "handed_over_to": r.get("handed_over_to") if r["state"] == "handed_over" else None} for r in moved])
