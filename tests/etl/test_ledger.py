"""The office's remediation ledger through Excel, on both stores: the round trip keeps every cell, a bad row is
named by its row and field and nothing is written, the same file twice writes once, and only the command imports."""

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from etl.ledger import import_ledger, parse_rows, read_ledger, stable_id
from layers.areas import Area
from layers.audit import audit_of
from layers.errors import BadInput
from layers.ledger import LEDGER_COLUMNS, LedgerRefused, export_ledger, ledger_frame
from layers.remediation_orders import Actor, NotAllowed, advance_order, open_order, orders, steps_of
from layers.store import Condition, open_store
from tests.conftest import demo_copy

COMMANDER = Actor("commander", "commander", Area())
ADMIN = Actor("admin", "admin", Area())
KONGPU = Actor("kongpu", "street_staff", Area.parse("street:330205003"))
HONGMEI = Actor("hongmei", "grid_leader", Area.parse("cells:33020500300201,33020500300202"))
PLANNER = Actor("planner", "planner", Area())
NOW = pd.Timestamp("2020-06-01 09:00")
ZH = [zh for _, zh, _, _ in LEDGER_COLUMNS]


@pytest.fixture(scope="module", params=["gpkg", "postgis"])
def ledger_store(request, demo_gpkg, tmp_path_factory):
    """One writable copy of the demo per store for this module (each test works its own places); (kind, spec).

    Its register holds the demo's 25 estates handed over and orders of every kind in several states, so every
    column of the ledger holds something somewhere.
    """
    import shutil

    from tests.conftest import _postgis_schema, copy_store

    def with_orders(spec):
        with open_store(spec) as store:
            add_orders(store)

    if request.param == "gpkg":
        spec = str(tmp_path_factory.mktemp("ledger") / "demo.gpkg")
        shutil.copy(demo_gpkg[0], spec)
        with_orders(spec)
        yield "gpkg", spec
        return
    with _postgis_schema("ledger") as url:
        copy_store(demo_gpkg[0], url)
        with_orders(url)
        yield "postgis", url


def unmanaged_areas(store, street="330205003"):
    areas = store.read("setback_areas")
    return areas[(areas["status"] == "unmanaged") & areas["street_code"].eq(street)]["setback_area"].tolist()


def add_orders(store):
    """Orders as the pages make them: a plan, a category, steps at times of day; one handed over, one cancelled,
    one whose measures start with "=" (text, never a formula)."""
    areas = unmanaged_areas(store)
    plan = dict(category="物业纠纷", planned_start="2020-06-10", planned_finish="2020-08-31", now=NOW)
    done, _ = open_order(store, KONGPU, place_kind="setback_area", place=areas[0], measures="清理堆物，划定停车位",
                         unit="孔浦街道城市管理科", **plan)
    for step, at in (("approved", "2020-06-02 10:15"), ("in_progress", "2020-06-10 08:30:05"),
                     ("accepted", "2020-08-20 16:00"), ("handed_over", "2020-08-25 09:45")):
        advance_order(store, COMMANDER, done, step, handed_over_to="红梅物业", now=pd.Timestamp(at))
    going, _ = open_order(store, HONGMEI, place_kind="grid_cell", place="33020500300201", measures="=1+1 夜间巡查",
                          unit="孔浦派出所", **plan)
    advance_order(store, COMMANDER, going, "approved", now=pd.Timestamp("2020-06-03 11:00"))
    advance_order(store, KONGPU, going, "in_progress", now=pd.Timestamp("2020-06-12 07:00"))
    dropped, _ = open_order(store, KONGPU, place_kind="setback_area", place=areas[1], measures="拆除违建",
                            unit="孔浦街道综合执法中队", **plan)
    advance_order(store, KONGPU, dropped, "cancelled", now=pd.Timestamp("2020-06-05 14:20"))
    open_order(store, COMMANDER, place_kind="grid_cell", place="33020500300202", measures="加装路灯",
               unit="孔浦街道城市管理科", category=None, planned_start="2020-07-01", planned_finish="2020-09-30", now=NOW)


def write_sheet(path, header, rows, formats=None):
    """A workbook as a clerk makes one: ``formats`` gives a cell's display format by (row, column), from 0."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for (r, c), number_format in (formats or {}).items():
        sheet.cell(r + 2, c + 1).number_format = number_format
    book.save(path)
    return path


def cells(path):
    """Every cell of the ledger's sheet, as openpyxl reads it, with each date cell's display format."""
    sheet = openpyxl.load_workbook(path).active
    return [[(c.value, c.number_format if c.is_date else None) for c in row] for row in sheet.iter_rows()]


def counts(store):
    return len(store.read("remediations")), len(store.read("audit"))


def test_a_round_trip_through_excel_keeps_every_cell(ledger_store, demo_gpkg, tmp_path, request):
    kind, source = ledger_store
    first, second = tmp_path / "first.xlsx", tmp_path / "second.xlsx"
    with open_store(source) as store:
        written = export_ledger(store, first, area=Area(), user="commander")
    target = demo_copy(kind, demo_gpkg, tmp_path, request)
    with open_store(target) as store:
        store.write_layer("remediations", store.read("remediations").iloc[0:0])  # a register to fill from the file
        result = import_ledger(store, first, COMMANDER, now="2021-01-05 10:00")
        export_ledger(store, second, area=Area(), user="commander")
        imported = store.read("remediations").set_index("remediation_id")
        audit = store.read("audit", [Condition("action", "=", "remediation.import")])
        handed = store.read("setback_areas", [Condition("status", "=", "handed_over")])
    assert (result.new, result.updated, result.unchanged, result.refused) == (written, 0, 0, 0)
    assert written >= 25 + 4 and len(audit) == written
    before, after = cells(first), cells(second)
    assert before[0] == [(zh, None) for zh in ZH]
    assert before == after
    assert pd.read_excel(first).equals(pd.read_excel(second))
    # What the cells hold: real dates (with the time of a step), codes as text, a formula-like text as text.
    frame = pd.read_excel(first, dtype={"地点编码": str})
    assert set(frame["地点类型"]) == {"老旧小区", "退红空间", "网格"}
    assert set(frame["状态"]) >= {"已移交", "整治中", "已撤销", "已立项"}
    assert pd.api.types.is_datetime64_any_dtype(frame["开始"])
    assert pd.Timestamp("2020-06-10 08:30:05") in set(frame["开始"])
    assert "=1+1 夜间巡查" in set(frame["整治措施"]) and "33020500300201" in set(frame["地点编码"])
    sheet = openpyxl.load_workbook(first).active
    assert all(c.data_type == "s" for c in sheet["F"][1:])  # 整治措施: no cell became a formula
    # The register holds what the file says, the places' codes found again, and the areas followed the states.
    grid = imported[imported["place_kind"] == "grid_cell"].iloc[0]
    assert grid["grid_cell"] == grid["place"] and grid["street_code"] == "330205003"
    assert "红梅物业" in set(handed["managing_unit"])


def test_bad_rows_are_each_named_by_row_and_field_and_nothing_is_written(ledger_store, tmp_path):
    _, spec = ledger_store
    with open_store(spec) as store:
        area = unmanaged_areas(store)[5]
        before = counts(store)
        header = ["地点类型", "地点编码", "整治措施", "责任单位", "状态", "开始", "完成", "移交单位"]
        rows = [["退红空间", area, "清理堆物", "孔浦街道城市管理科", "整治中", dt.datetime(2020, 5, 1), None, None],
                ["老旧小区", "E999", "清理堆物", "孔浦街道城市管理科", "整治中", "2020-05-01", None, None],
                ["网格", "33020500300201", "夜间巡查", "孔浦派出所", "已验收", "2020/6/1", "2020/5/1", None],
                ["网格", "33020500300202", "加装路灯", "孔浦街道城市管理科", "整治中", "2020-13-01", None, None],
                ["退红空间", area, "拆除违建", "孔浦街道综合执法中队", "已完成", "2020-05-01", None, None],
                ["公园", "P1", "绿化", "", None, None, None, None]]
        path = write_sheet(tmp_path / "台账.xlsx", header, rows)
        with pytest.raises(LedgerRefused) as refused:
            import_ledger(store, path, COMMANDER)
        after = counts(store)
        status = store.read("setback_areas", [Condition("setback_area", "=", area)])["status"].iat[0]
    assert after == before and status == "unmanaged"  # the good first row was not written either
    found = {(p.row, p.field) for p in refused.value.problems}
    assert found == {(3, "place"), (4, "finished_at"), (5, "started_at"), (6, "state"), (7, "place_kind"),
                     (7, "unit"), (7, "started_at")}
    assert refused.value.refused == 5
    text = str(refused.value)
    assert "台账.xlsx 第3行 地点编码: 本区没有这个老旧小区: 'E999'" in text
    assert "台账.xlsx row 3 Place code (place): no estate 'E999' in the store" in text
    assert "第4行 完成: 2020-05-01 早于开始 2020-06-01" in text and "row 4 Finished (finished_at)" in text
    assert "第5行 开始: 不是日期: '2020-13-01'" in text and "row 5 Started (started_at): not a date" in text
    assert "第6行 状态: 不认识的状态 '已完成'" in text and "unknown state '已完成'" in text


def test_the_same_file_twice_writes_once_and_a_changed_row_is_updated(ledger_store, tmp_path):
    _, spec = ledger_store
    header = ["地点类型", "地点编码", "问题类别", "整治措施", "责任单位", "状态", "计划开始", "计划完成"]
    rows = [["网格", "33020500300201", "噪音扰民", "联合执法巡查", "孔浦派出所", "已批准", "2020-09-01", "2020-10-31"],
            ["grid_cell", "33020500300202", "", "Street lights", "孔浦街道城市管理科", "proposed", "2020/9/1",
             "2020/12/31"]]
    path = write_sheet(tmp_path / "new.xlsx", header, rows)
    with open_store(spec) as store:
        before = counts(store)
        first = import_ledger(store, path, ADMIN, now="2021-01-05 10:00")
        middle = counts(store)
        again = import_ledger(store, path, ADMIN, now="2021-01-06 10:00")
        after_again = counts(store)
        rows[0][5] = "整治中"  # the works began: it needs its start
        header.append("开始")
        rows[0].append("2020-09-03")
        rows[1].append(None)
        changed = import_ledger(store, write_sheet(tmp_path / "changed.xlsx", header, rows), ADMIN,
                                now="2021-01-07 10:00")
        ids = first.written
        register = store.read("remediations", [Condition("remediation_id", "in", ids)]).set_index("remediation_id")
        audit = audit_of(store, "remediations", ids[0])
        steps = steps_of(store, ids[0])
    assert (first.new, first.updated, first.unchanged) == (2, 0, 0)
    assert middle == (before[0] + 2, before[1] + 2)
    assert (again.new, again.updated, again.unchanged) == (0, 0, 2) and after_again == middle
    assert (changed.new, changed.updated, changed.unchanged) == (0, 1, 1) and changed.written == [ids[0]]
    assert ids[0] == stable_id("grid_cell", "33020500300201", "联合执法巡查", pd.Timestamp("2020-09-01"))
    assert register.loc[ids[0], "state"] == "in_progress"
    assert register.loc[ids[0], "started_at"] == pd.Timestamp("2020-09-03")
    assert register.loc[ids[1], "category"] is None and register.loc[ids[1], "entered_by"] == "admin"
    assert audit["action"].tolist() == ["remediation.import", "remediation.import"]
    assert steps["state"].tolist() == ["in_progress"] and steps["actor"].tolist() == ["admin"]


def test_a_setback_areas_status_follows_the_state_the_ledger_gives(ledger_store, tmp_path):
    _, spec = ledger_store
    header = ["编号", "地点类型", "地点编码", "整治措施", "责任单位", "状态", "开始", "完成", "移交单位", "移交日期"]
    with open_store(spec) as store:
        area = unmanaged_areas(store)[6]
        works = ["L-0001", "退红空间", area, "清理堆物", "孔浦街道城市管理科", "整治中", "2020-07-01"]
        import_ledger(store, write_sheet(tmp_path / "a.xlsx", header, [works]), COMMANDER)
        during = store.read("setback_areas", [Condition("setback_area", "=", area)]).iloc[0]
        handed = works[:5] + ["已移交", "2020-07-01", "2020-08-15", "甬江物业", "2020-08-20"]
        result = import_ledger(store, write_sheet(tmp_path / "b.xlsx", header, [handed]), COMMANDER)
        done = store.read("setback_areas", [Condition("setback_area", "=", area)]).iloc[0]
    assert during["status"] == "in_renovation"
    assert result.updated == 1
    assert (done["status"], done["managing_unit"], done["handed_over_to"]) == ("handed_over", "甬江物业", "甬江物业")
    assert done["handed_over_at"] == pd.Timestamp("2020-08-20")


@pytest.mark.parametrize("actor", [HONGMEI, PLANNER, KONGPU], ids=lambda a: a.role)
def test_only_a_commander_or_an_administrator_imports_the_ledger(ledger_store, tmp_path, actor):
    _, spec = ledger_store
    path = write_sheet(tmp_path / "l.xlsx", ["地点类型", "地点编码", "整治措施", "责任单位", "开始"],
                       [["网格", "33020500300201", "巡查", "孔浦派出所", "2020-05-01"]])
    with open_store(spec) as store:
        before = counts(store)
        with pytest.raises(NotAllowed, match=f"{actor.name} \\({actor.role}\\) may not import"):
            import_ledger(store, path, actor)
        assert counts(store) == before


def test_an_export_holds_the_users_area_only(ledger_store, tmp_path):
    _, spec = ledger_store
    with open_store(spec) as store:
        export_ledger(store, tmp_path / "kongpu.xlsx", area=KONGPU.area, user="kongpu")
        theirs = set(orders(store, KONGPU.area)["remediation_id"])
        everything = set(ledger_frame(store, Area())["remediation_id"])
        recorded = store.read("exports", [Condition("user_name", "=", "kongpu")])
    exported = set(pd.read_excel(tmp_path / "kongpu.xlsx", dtype=str)["编号"])
    assert exported == theirs and 0 < len(exported) < len(everything)
    assert recorded["area"].tolist() == ["street:330205003"] and recorded["format"].tolist() == ["xlsx"]


# Without a store: the reading of the file.


def test_an_excel_date_cell_reads_as_a_date_whatever_its_display_format(tmp_path):
    day = dt.datetime(2020, 5, 1)
    header = ["地点类型", "地点编码", "整治措施", "责任单位", "开始"]
    rows = [["网格", 33020500300201, "巡查", "孔浦派出所", day],  # a code typed as a number, too
            ["网格", "33020500300201", "巡查", "孔浦派出所", day],
            ["网格", "33020500300201", "巡查", "孔浦派出所", day],
            ["网格", "33020500300201", "巡查", "孔浦派出所", 43952],  # the serial, in General
            ["网格", "33020500300201", "巡查", "孔浦派出所", "2020/5/1"],
            ["网格", "33020500300201", "巡查", "孔浦派出所", "2020年5月1日"]]
    formats = {(0, 4): "@", (1, 4): 'yyyy"年"m"月"d"日"', (2, 4): "mm/dd/yy", (3, 4): "General"}
    raw, problems = read_ledger(write_sheet(tmp_path / "dates.xlsx", header, rows, formats))
    parsed, row_problems = parse_rows(raw)
    assert problems == []
    assert parsed["started_at"].tolist() == [pd.Timestamp("2020-05-01")] * 6
    assert parsed["place"].tolist() == ["33020500300201"] * 6
    assert {(p.row, p.field) for p in row_problems} == {(r, "remediation_id") for r in range(3, 8)}  # one row, six times


def test_a_csv_with_english_headers_reads_as_the_chinese(tmp_path):
    path = tmp_path / "ledger.csv"
    path.write_text("ID,place_kind,Place code,Measures,unit,State,Started,Finished,Handed over to\n"
                    "R1,estate,E003,Clean-up,Unit A,handed over,2020-05-01 08:30,2020.6.1,Estate office\n",
                    encoding="utf-8-sig")
    parsed, problems = parse_rows(read_ledger(path)[0])
    row = parsed.iloc[0]
    assert problems == []
    assert (row["remediation_id"], row["place_kind"], row["state"]) == ("R1", "estate", "handed_over")
    assert (row["started_at"], row["finished_at"]) == (pd.Timestamp("2020-05-01 08:30"), pd.Timestamp("2020-06-01"))


def test_unknown_or_missing_columns_refuse_the_file_before_its_rows(tmp_path, ledger_store):
    _, spec = ledger_store
    path = write_sheet(tmp_path / "cols.xlsx", ["地点类型", "地点编码", "整治内容", "责任单位"],
                       [["网格", "33020500300201", "巡查", "孔浦派出所"]])
    with open_store(spec) as store, pytest.raises(LedgerRefused) as refused:
        import_ledger(store, path, COMMANDER)
    assert {(p.row, p.field) for p in refused.value.problems} == {(1, "整治内容"), (1, "what"), (1, "started_at")}
    (tmp_path / "cols.xls").write_bytes(b"\xd0\xcf\x11\xe0")  # the old binary format
    with open_store(spec) as store, pytest.raises(BadInput, match=r"\.xlsx or \.csv"):
        import_ledger(store, tmp_path / "cols.xls", COMMANDER)
