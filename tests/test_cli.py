"""The onemap command as a user runs it."""

import json

from onemap.cli import main


def test_kpis_json_uses_glossary_names_and_fractions(demo_gpkg, capsys):
    assert main(["kpis", "--store", demo_gpkg[0], "--from", "2020-01-01", "--to", "2020-12-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["disputes"]) >= {"received", "closed", "closure_rate", "resolved_in_place_rate", "by_level"}
    assert (out["disputes"]["received"], out["disputes"]["resolved_in_place_rate"]) == (2377, 0.9655)


def test_kpis_for_one_street(demo_gpkg, capsys):
    assert main(["kpis", "--store", demo_gpkg[0], "--street", "慈城镇", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["street"] == "330205103"


def test_bad_arguments_get_a_clear_message(capsys):
    assert main(["kpis", "--store", "x.sqlite"]) == 2
    assert "must end in .gpkg" in capsys.readouterr().err


def test_hotspots_json_gives_what_the_map_shows(demo_gpkg, capsys):
    from datetime import date

    from layers.analysis import hotspot_layer
    from layers.filters import CaseFilter
    from layers.store import open_store

    assert main(["hotspots", "--store", demo_gpkg[0], "--from", "2020-01-01", "--to", "2020-12-31",
                 "--channel", "grid_platform", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    with open_store(demo_gpkg[0]) as store:
        layer = hotspot_layer(store, CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31),
                                                channels=("grid_platform",)), measure="per_1000")
    assert {r["grid_cell"] for r in out["hotspots"]} == set(layer.loc[layer["bin"] != 0, "grid_cell"])
    assert sum(out["by_bin"].values()) == out["cells"] == len(layer)
    assert sum(out["by_pattern"].values()) == out["cells"]
    assert all(r["bin"] in (-3, -2, -1, 1, 2, 3) and 0 <= r["p"] <= 1 for r in out["hotspots"])


def test_blindspots_json_names_each_rule(demo_gpkg, capsys):
    assert main(["blindspots", "--store", demo_gpkg[0], "--from", "2020-01-01", "--to", "2020-12-31", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["rules"]) == {"outside_grid", "unmanaged_setback_area", "category_without_unit",
                                 "recurring_in_cell", "component_broken_again"}
    assert sum(r["found"] for r in out["rules"].values()) == len(out["blind_spots"]) > 0
    assert out["rules"]["category_without_unit"]["title"][0] == "责任清单未覆盖的事项"


def test_remediation_json_gives_the_register_and_its_effect(demo_gpkg, capsys):
    assert main(["remediation", "--store", demo_gpkg[0], "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["register"]) == 25 and out["window_months"] == 6
    estates = next(o for o in out["overall"] if o["place_kind"] == "estate")
    assert estates["verdict"] == "reduced" and estates["low"] < estates["did"] < estates["high"] < 0
    assert all(r["handed_over_to"] for r in out["register"])


def test_remediation_orders_are_opened_advanced_and_listed_under_a_users_name(demo_gpkg, tmp_path, capsys):
    import shutil

    store = str(tmp_path / "copy.gpkg")
    shutil.copy(demo_gpkg[0], store)
    add = ["remediation", "add", "--store", store, "--as", "hongmei", "--place-kind", "grid_cell",
           "--place", "33020500300201", "--category", "物业纠纷", "--measures", "楼道堆物清理", "--unit", "红梅社区",
           "--start", "2020-06-01", "--finish", "2020-06-30", "--request-key", "cli-1", "--json"]
    assert main(add) == 0
    opened = json.loads(capsys.readouterr().out)
    assert main(add) == 0  # the same request key: the same order, nothing written
    assert json.loads(capsys.readouterr().out) == {**opened, "written": False}
    order = opened["remediation_id"]
    # A grid leader does not approve; a commander does.
    assert main(["remediation", "advance", order, "approved", "--as", "hongmei", "--store", store]) == 2
    assert "may not" in capsys.readouterr().err
    assert main(["remediation", "advance", order, "approved", "--as", "commander", "--store", store, "--json"]) == 0
    capsys.readouterr()
    assert main(["remediation", "list", "--as", "hongmei", "--store", store, "--json"]) == 0
    listed = {r["remediation_id"]: r for r in json.loads(capsys.readouterr().out)["orders"]}
    assert listed[order]["state"] == "approved" and listed[order]["overdue"] is True  # its finish is long past
    assert main(["remediation", "add", "--store", store, "--place", "x"]) == 2
    assert "--as" in capsys.readouterr().err


def test_remediation_ledger_goes_out_to_excel_and_back_under_a_users_name(demo_gpkg, tmp_path, capsys):
    import shutil

    import openpyxl

    from layers.store import open_store

    store, ledger = str(tmp_path / "copy.gpkg"), str(tmp_path / "台账.xlsx")
    shutil.copy(demo_gpkg[0], store)
    assert main(["remediation", "export", ledger, "--as", "commander", "--store", store]) == 0
    assert capsys.readouterr().out.startswith(f"ledger: 25 rows of district written to {ledger}")
    assert main(["remediation", "import", ledger, "--as", "commander", "--store", store]) == 0
    assert capsys.readouterr().out == "ledger: 0 new, 0 updated, 25 unchanged, 0 refused\n"
    # The office edits a row's measures and adds a row of its own, without an id.
    book = openpyxl.load_workbook(ledger)
    sheet = book.active
    sheet["F2"] = "退红空间整治，增设非机动车棚"
    sheet.append([None, "网格", "33020500300201", None, "噪音扰民", "夜间巡查", "孔浦派出所", "已立项", "2020-09-01",
                  "2020-10-31"])
    book.save(ledger)
    with open_store(store) as s:
        audited = len(s.read("audit"))
    assert main(["remediation", "import", ledger, "--as", "admin", "--store", store, "--dry-run"]) == 0
    assert capsys.readouterr().out == "ledger: 1 new, 1 updated, 24 unchanged, 0 refused (dry run: nothing written)\n"
    with open_store(store) as s:
        assert len(s.read("audit")) == audited and len(s.read("remediations")) == 25
    assert main(["remediation", "import", ledger, "--as", "admin", "--store", store, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"new": 1, "updated": 1, "unchanged": 24, "refused": 0,
                                                   "dry_run": False}
    assert main(["remediation", "import", ledger, "--as", "admin", "--store", store]) == 0
    assert capsys.readouterr().out == "ledger: 0 new, 0 updated, 26 unchanged, 0 refused\n"
    # A grid leader may not import; a street's staff export their street's rows only.
    assert main(["remediation", "import", ledger, "--as", "hongmei", "--store", store]) == 2
    assert "hongmei (grid_leader) may not import the remediation ledger" in capsys.readouterr().err
    assert main(["remediation", "export", str(tmp_path / "kongpu.xlsx"), "--as", "kongpu", "--store", store,
                 "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["area"] == "street:330205003" and 0 < out["rows"] < 26
    assert main(["remediation", "export", ledger, "--store", store]) == 2
    assert "--as NAME" in capsys.readouterr().err


def test_remediation_import_of_a_bad_ledger_prints_every_reason_and_writes_nothing(demo_gpkg, tmp_path, capsys):
    import shutil

    from layers.store import open_store

    store, ledger = str(tmp_path / "copy.gpkg"), tmp_path / "ledger.csv"
    shutil.copy(demo_gpkg[0], store)
    ledger.write_text("地点类型,地点编码,整治措施,责任单位,状态,开始,完成\n"
                      "网格,33020500300201,夜间巡查,孔浦派出所,整治中,2020-05-01,\n"
                      "老旧小区,E999,清理,孔浦街道,整治中,2020-05-01,\n"
                      "网格,33020500300202,加装路灯,孔浦街道,已验收,2020/6/1,2020/5/1\n", encoding="utf-8")
    with open_store(store) as s:
        before = len(s.read("remediations")), len(s.read("audit"))
    assert main(["remediation", "import", str(ledger), "--as", "commander", "--store", store]) == 2
    captured = capsys.readouterr()
    assert captured.out == "ledger: 0 new, 0 updated, 0 unchanged, 2 refused (nothing written)\n"
    assert "ledger.csv 第3行 地点编码: 本区没有这个老旧小区: 'E999'" in captured.err
    assert "ledger.csv row 3 Place code (place): no estate 'E999' in the store" in captured.err
    assert "ledger.csv 第4行 完成: 2020-05-01 早于开始 2020-06-01" in captured.err
    assert "ledger.csv row 4 Finished (finished_at): 2020-05-01 is before started 2020-06-01" in captured.err
    with open_store(store) as s:
        assert (len(s.read("remediations")), len(s.read("audit"))) == before


def test_blind_spots_are_recorded_listed_with_their_state_and_assigned(demo_gpkg, tmp_path, capsys):
    import shutil

    store = str(tmp_path / "copy.gpkg")
    shutil.copy(demo_gpkg[0], store)
    span = ["--from", "2020-01-01", "--to", "2020-06-30", "--store", store, "--json"]
    assert main(["blindspots", *span]) == 0
    before = json.loads(capsys.readouterr().out)["blind_spots"]
    assert before and {r["state"] for r in before} == {"unrecorded"}
    assert main(["blindspots", "record", *span]) == 0
    assert json.loads(capsys.readouterr().out)["new"] == len(before)
    assert main(["blindspots", "record", *span]) == 0
    assert json.loads(capsys.readouterr().out) == {"new": 0, "reopened": 0, "refreshed": len(before)}
    spot = before[0]
    assert main(["blindspots", "assign", spot["blind_spot_id"], "--as", "commander", "--unit", "区城管局",
                 "--deadline", "2020-07-31", "--store", store]) == 0
    capsys.readouterr()
    assert main(["blindspots", *span]) == 0
    after = {r["blind_spot_id"]: r for r in json.loads(capsys.readouterr().out)["blind_spots"]}
    assert after[spot["blind_spot_id"]]["state"] == "assigned" and after[spot["blind_spot_id"]]["unit"] == "区城管局"
    assert main(["blindspots", "resolve", spot["blind_spot_id"], "--as", "planner", "--how", "other",
                 "--store", store]) == 2
    assert "may not" in capsys.readouterr().err


def test_export_writes_what_ogrinfo_reads(demo_gpkg, tmp_path, capsys):
    import shutil
    import subprocess

    store = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], store)
    out = tmp_path / "孔浦.gpkg"
    assert main(["export", "cases", "hotspots", "--store", str(store), "--street", "孔浦街道", "--from", "2020-01-01",
                 "--to", "2020-12-31", "--crs", "gk", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    info = subprocess.run(["ogrinfo", "-so", str(out), "cases"], capture_output=True, text=True, check=True).stdout
    cases = int(printed.split("cases: ")[1].split(" ")[0])
    assert f"Feature Count: {cases}" in info and "CGCS2000 / 3-degree Gauss-Kruger CM 120E" in info
    assert main(["export", "nothing", "--store", str(store), "--out", str(tmp_path / "x.gpkg")]) == 2


def test_an_error_is_a_message_and_exit_2_and_json_for_json_commands(tmp_path, capsys):
    junk = tmp_path / "store.gpkg"
    junk.write_bytes(b"not a geopackage at all" * 10)
    assert main(["kpis", "--store", str(junk), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out)["error"]["code"] == "StoreDamaged" and "not an SQLite database" in err
    assert main(["kpis", "--store", str(tmp_path / "x.sqlite")]) == 2
    assert "must end in .gpkg" in capsys.readouterr().err


def test_a_bug_is_not_dressed_as_a_user_error(monkeypatch, tmp_path):
    """Only the product's errors become exit 2; anything else keeps its traceback."""
    import pytest

    import layers.kpis

    def broken(*args, **kwargs):
        raise KeyError("a bug")
    monkeypatch.setattr(layers.kpis, "kpis_from_store", broken)
    with pytest.raises(KeyError):
        main(["kpis", "--store", str(tmp_path / "empty.gpkg")])


def test_an_administrator_sets_a_password_and_the_users_sessions_end(demo_gpkg, tmp_path, capsys, monkeypatch):
    import io
    import shutil

    from layers.store import open_store
    from layers.users import authenticate, get_user

    path = str(tmp_path / "demo.gpkg")
    shutil.copy(demo_gpkg[0], path)
    monkeypatch.setattr("sys.stdin", io.StringIO("a-brand-new-password\n"))
    assert main(["user", "password", "planner", "--password-stdin", "--store", path]) == 0
    assert "sessions have ended" in capsys.readouterr().out
    with open_store(path) as store:
        assert authenticate(store, "planner", "a-brand-new-password") is not None
        assert get_user(store, "planner").sessions_after is not None
    monkeypatch.setattr("sys.stdin", io.StringIO("a-brand-new-password\n"))
    assert main(["user", "password", "nobody", "--password-stdin", "--store", path]) == 2
