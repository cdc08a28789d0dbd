"""The ingest report: new, updated, unchanged, merged and quarantined; rows in = all of them."""

import json

import pandas as pd

from etl.geography import load_geography, load_responsibilities
from etl.ingest import ingest


def _accounted(report):
    r = report.to_dict()
    assert r["stored"] == r["new"] + r["updated"] + r["unchanged"]
    assert r["rows_in"] == r["stored"] + r["merged"] + r["quarantined"]
    for f in r["files"]:
        assert f["stored"] == f["new"] + f["updated"] + f["unchanged"], f["file"]
        assert f["rows_in"] == f["stored"] + f["merged"] + f["quarantined"], f["file"]
    return r


def test_a_rerun_is_unchanged_and_an_edited_row_updated(store, demo_build, tmp_path):
    load_geography(demo_build["geography"], store)
    load_responsibilities(demo_build["responsibilities"], store)
    export = demo_build["exports"]["e_ningbo"]
    first = _accounted(ingest([export], "e_ningbo", store))
    assert first["new"] == first["stored"] > 0 and first["updated"] == first["unchanged"] == 0

    again = _accounted(ingest([export], "e_ningbo", store))
    assert (again["new"], again["updated"], again["unchanged"]) == (0, 0, first["stored"])
    assert (again["merged"], again["quarantined"]) == (first["merged"], first["quarantined"])

    # A newer export: one record's status moved on, one record more.
    rows = pd.read_csv(export, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    kept = set(store.read("case_sources")["source_id"])
    merged = set(store.read("case_sources").query("merged")["source_id"])
    editable = rows.index[rows["事件ID"].isin(kept - merged) & (rows["处理状态"] != "已完成")][0]
    rows.loc[editable, "处理状态"] = "已完成"
    extra = rows.loc[[editable]].assign(事件ID="EXTRA-1", 处理状态="待处理", 手机号="")  # no phone: not merged
    newer = tmp_path / "newer.csv"
    pd.concat([rows, extra]).to_csv(newer, index=False, encoding="utf-8-sig")
    third = _accounted(ingest([newer], "e_ningbo", store))
    assert (third["new"], third["updated"], third["unchanged"]) == (1, 1, first["stored"] - 1)


def test_a_dry_run_reports_and_shows_and_writes_nothing(store, demo_build, capsys):
    from layers.schema import LAYERS
    from onemap.cli import main

    load_geography(demo_build["geography"], store)
    load_responsibilities(demo_build["responsibilities"], store)
    ingest([demo_build["exports"]["walk_in"]], "walk_in", store)
    counts = {name: store.count(name) for name in LAYERS}
    versions = store.data_versions()

    report = ingest([demo_build["exports"]["e_ningbo"]], "e_ningbo", store, dry_run=True)
    r = _accounted(report)
    assert r["dry_run"] and r["new"] > 0 and r["quarantined"] > 0
    assert len(report.preview["cases"]) == 5 and report.preview["cases"]["channel"].eq("e_ningbo").all()
    assert main(["ingest", str(demo_build["exports"]["walk_in"]), "--source", "walk_in", "--store", store.url,
                 "--dry-run", "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["dry_run"] and printed["unchanged"] == printed["stored"] > 0 and printed["new"] == 0
    assert len(printed["preview"]["cases"]) == 5 and printed["preview"]["cases"][0]["lon"] is not None

    assert {name: store.count(name) for name in LAYERS} == counts
    assert store.data_versions() == versions


def test_a_run_whose_every_row_is_quarantined_exits_1(demo_build, tmp_path, capsys):
    """A profile that does not describe the file (its date format is not the file's) is a failure for a script
    that runs the ingest, not exit 0 with a long report (issue 21)."""
    from etl.profiles import read_profile
    from onemap.cli import main

    profile = read_profile("e_ningbo")
    text = (profile.path and open(profile.path, encoding="utf-8").read()) or ""
    wrong = tmp_path / "wrong_dates.toml"  # the shipped profile's ISO times, for a file written day first
    wrong.write_text(text, encoding="utf-8")
    export = tmp_path / "e.csv"
    export.write_text("事件ID,上报时间,事件类别,事件描述,经度,纬度,详细地址,手机号,处理状态,分派时间,完成时间,受理层级,办结层级,就地化解\n"
                      "E1,05.01.2021 09:00,噪声扰民,吵,121.54,29.90,,,待处理,,,村社,村社,否\n", encoding="utf-8-sig")
    store = tmp_path / "s.gpkg"
    assert main(["load-geography", str(demo_build["geography"]), "--store", str(store)]) == 0
    assert main(["ingest", str(export), "--source", str(wrong), "--store", str(store)]) == 1
    assert "every one of the 1 rows was quarantined" in capsys.readouterr().err
    good = tmp_path / "good.toml"
    good.write_text(text.replace('datetime_formats = ["%Y-%m-%dT%H:%M:%S"]', 'datetime_formats = ["%d.%m.%Y %H:%M"]'),
                    encoding="utf-8")
    assert main(["ingest", str(export), "--source", str(good), "--store", str(store)]) == 0
