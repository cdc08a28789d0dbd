"""The quarantine as a clerk works it: list by file and reason in their area, export, fix, retry, cleared."""

import json

import pandas as pd

from etl.geography import load_geography, load_responsibilities
from etl.ingest import ingest
from layers.areas import Area
from layers.quarantine import FILE, REASON, ROW, SOURCE
from layers.users import add_user
from onemap.cli import main


def _run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr().out
    return code, json.loads(out.splitlines()[-1]) if out.strip() else None


def test_a_clerk_lists_exports_fixes_and_retries_the_quarantine(store, demo_build, tmp_path, capsys):
    load_geography(demo_build["geography"], store)
    load_responsibilities(demo_build["responsibilities"], store)
    ingest([demo_build["exports"]["minsheng_edian"]], "minsheng_edian", store)  # 3 kept back, 2 with a place
    ingest([demo_build["exports"]["e_ningbo"]], "e_ningbo", store)  # 4 unreadable coordinates: no place
    password = "a long enough password 1"
    add_user(store, "clerk", role="admin", area=Area.parse("district"), password=password)
    add_user(store, "chief", role="commander", area=Area.parse("street:330205103"), password=password)
    add_user(store, "planner", role="planner", area=Area.parse("district"), password=password)
    url = store.url

    code, listed = _run(capsys, "quarantine", "list", "--as", "clerk", "--store", url, "--json")
    assert code == 0 and listed["rows"] == 7
    assert {(r["source"], r["reason"], r["rows"]) for r in listed["by_file_and_reason"]} == {
        ("minsheng_edian", "missing_field", 3), ("e_ningbo", "bad_coordinate", 4)}
    code, street = _run(capsys, "quarantine", "list", "--as", "chief", "--store", url, "--json")
    assert code == 0 and street["rows"] == 1 and street["area"] == "street:330205103"
    assert main(["quarantine", "list", "--as", "planner", "--store", url]) == 2
    assert "planner" in capsys.readouterr().err

    sheet_path = tmp_path / "quarantine.xlsx"
    code, exported = _run(capsys, "quarantine", "export", str(sheet_path), "--as", "clerk", "--store", url, "--json")
    assert code == 0 and exported["rows"] == 7
    sheet = pd.read_excel(sheet_path, dtype=str, keep_default_na=False)
    assert list(sheet.columns[:3]) == [SOURCE, FILE, ROW] and sheet.columns[-1] == REASON
    assert {"事件ID", "经度", "纬度", "lng", "lat"} <= set(sheet.columns)
    assert sheet[REASON].str.contains("第\\d+行").all()

    # The clerk fixes two rows, fixes another's coordinates but mistypes its date, and sends back those three.
    ningbo = sheet[sheet[SOURCE] == "e_ningbo"].head(4).copy()
    good = pd.read_csv(demo_build["exports"]["e_ningbo"], encoding="utf-8-sig", dtype=str, keep_default_na=False)
    ningbo["经度"], ningbo["纬度"] = good.at[0, "经度"], good.at[0, "纬度"]
    ningbo.iloc[2, ningbo.columns.get_loc("上报时间")] = "2020-02-30T09:00:00"
    fixed_path = tmp_path / "fixed.xlsx"
    ningbo.head(3).to_excel(fixed_path, index=False)
    code, report = _run(capsys, "quarantine", "retry", str(fixed_path), "--as", "clerk", "--store", url, "--json")
    assert code == 0 and report["quarantined"] == 1 and report["cleared_from_quarantine"] == 2
    assert report["new"] + report["merged"] == 2
    stored = set(store.read("case_sources")["source_id"])
    assert set(ningbo["事件ID"].head(2)) <= stored and ningbo["事件ID"].iat[2] not in stored

    code, listed = _run(capsys, "quarantine", "list", "--as", "clerk", "--store", url, "--json")
    assert listed["rows"] == 5
    assert ("e_ningbo", "bad_date", 1) in {(r["source"], r["reason"], r["rows"]) for r in listed["by_file_and_reason"]}

    # A later export in which the last bad row is right clears its entry by its id.
    later = good[good["事件ID"] == ningbo["事件ID"].iat[3]].copy()
    later["经度"], later["纬度"] = good.at[0, "经度"], good.at[0, "纬度"]
    later_path = tmp_path / "later.csv"
    later.to_csv(later_path, index=False, encoding="utf-8-sig")
    assert ingest([later_path], "e_ningbo", store).cleared == 1
    code, listed = _run(capsys, "quarantine", "list", "--as", "clerk", "--store", url, "--json")
    assert listed["rows"] == 4


def test_a_bad_row_whose_id_holds_a_nul_is_kept_back_on_both_stores(store, demo_build, tmp_path):
    """PostgreSQL's text cannot hold NUL: the id is kept with it shown (U+FFFD), and the ingest goes through
    (a push carrying one was answered 503 instead of 400)."""
    load_geography(demo_build["geography"], store)
    export = tmp_path / "nul.json"
    rows = [{"事件ID": "E\x00N1", "上报时间": "2021-01-05T09:00:00", "事件类别": "噪声扰民", "处理状态": "不存在的状态",
             "经度": "121.54", "纬度": "29.90", **dict.fromkeys(["事件描述", "分派时间", "办结层级", "受理层级", "完成时间",
                                                                "就地化解", "手机号", "详细地址"], "")}]
    export.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")
    from dataclasses import replace

    from etl.profiles import read_profile

    profile = replace(read_profile("e_ningbo"), format="json", encoding="utf-8")
    report = ingest([export], profile, store)
    assert report.quarantined == 1
    kept = store.read("quarantine")
    assert list(kept["source_id"]) == ["E\ufffdN1"]
