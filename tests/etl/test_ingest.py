"""The real ingest over the demo's raw exports."""

import pandas as pd
import pytest

from etl.ingest import IngestError, ingest
from layers.store import open_store


def test_every_row_is_accounted_for(demo_gpkg):
    _, report = demo_gpkg
    r = report.to_dict()
    assert r["rows_in"] == r["stored"] + r["merged"] + r["quarantined"]
    for f in r["files"]:
        assert f["rows_in"] == f["stored"] + f["merged"] + f["quarantined"], f["file"]
    # The demo's honest defects: 5 impossible dates, 4 swapped coordinates, 3 empty categories;
    # in the component survey a short code, an unknown state word and a lost position.
    assert r["by_reason"] == {"bad_date": 5, "bad_coordinate": 5, "missing_field": 3, "bad_code": 1,
                              "unknown_value": 1}
    encodings = {f["source"]: f["encoding"] for f in r["files"]}
    assert encodings["hotline_12345"] == "gbk"


def test_the_store_holds_the_true_matters(demo_gpkg, demo_build):
    path, report = demo_gpkg
    with open_store(path) as store:
        cases = store.read("cases")
        quarantine = store.read("quarantine")
    truth = demo_build["matters"]
    assert len(cases) == len(truth) == sum(f.stored for f in report.files if f.target == "cases")
    assert len(quarantine) == report.quarantined
    assert quarantine["message"].str.contains(r"^\S+ 第\d+行 \S+: ", regex=True).all()
    assert quarantine["message"].str.contains("日期无法解析: 2020/02/30 10:00:00").sum() == 5
    # Duplicates across channels were merged into one case listing both channels.
    assert (cases["channels"].str.contains(";")).sum() == truth["duplicate_channel"].notna().sum()


def test_cases_land_in_their_true_grid_cell(demo_gpkg, demo_build):
    path, _ = demo_gpkg
    with open_store(path) as store:
        cases = store.read("cases")
    located = cases[cases["location_precision"] == "building"]
    assert len(located) > 0.6 * len(cases)
    # Address-only cases sit at their community, with no invented grid cell.
    by_address = cases[cases["location_precision"] == "community"]
    assert len(by_address) > 0 and by_address["grid_cell"].isna().all() and by_address["community_code"].notna().all()
    outside = cases[cases["outside_grid"]]
    assert len(outside) > 0 and outside["grid_cell"].isna().all()


def test_reingest_changes_nothing(demo_build, tmp_path):
    from tests.conftest import ingest_demo

    with open_store(str(tmp_path / "s.gpkg")) as store:
        first = ingest_demo(demo_build, store)
        before = store.read("cases").sort_values("case_id").reset_index(drop=True)
        again = ingest(
            [demo_build["exports"]["walk_in"], ], "walk_in", store)
        after = store.read("cases").sort_values("case_id").reset_index(drop=True)
    assert again.rows_in == again.stored + again.merged + again.quarantined
    walk = next(f for f in first.files if f.source == "walk_in")
    assert (again.stored, again.merged) == (walk.stored, walk.merged)
    pd.testing.assert_frame_equal(before.drop(columns="geometry"), after.drop(columns="geometry"))


def test_ingest_without_geography_says_what_to_do(tmp_path):
    with open_store(str(tmp_path / "empty.gpkg")) as store, pytest.raises(IngestError, match="load the district"):
        ingest([tmp_path / "x.csv"], "walk_in", store)


def test_address_only_cases_are_geocoded_against_the_standard_address_table(demo_gpkg):
    path, _ = demo_gpkg
    with open_store(path) as store:
        cases = store.read("cases")
    hotline = cases[cases["channel"] == "hotline_12345"]
    mix = hotline["location_precision"].value_counts(normalize=True)
    assert mix["building"] > 0.8 and mix["road"] > 0.02 and mix.get("none", 0) < 0.02
    at_building = hotline[hotline["location_precision"] == "building"]
    assert at_building["address_id"].notna().all() and at_building["grid_cell"].notna().all()
    # Road-level cases sit on their road, so they have a cell too; community-level ones do not.
    assert cases.loc[cases["location_precision"] == "road", "grid_cell"].notna().all()


def test_each_case_gets_the_unit_the_responsibility_list_names(demo_gpkg):
    path, _ = demo_gpkg
    with open_store(path) as store:
        cases = store.read("cases")
    located = cases[cases["street_code"].notna()]
    assert located["responsible_unit"].notna().mean() > 0.97
    gap = located[(located["category"] == "违章搭建") & (located["street_code"] == "330205103")]
    assert len(gap) > 0 and gap["responsible_unit"].isna().all()  # 慈城镇 lists nobody for 违章搭建
    neighbours = located[(located["category"] == "邻里纠纷") & located["community_code"].notna()]
    assert (neighbours["responsible_unit"].str.endswith("人民调解委员会")).all()


def test_a_newer_export_updates_changed_records_without_duplicating_them(demo_build, tmp_path):
    from tests.conftest import ingest_demo

    path = demo_build["exports"]["hotline_12345"]
    newer = pd.read_csv(path, dtype=str, encoding="gbk", keep_default_na=False)
    still_open = newer.index[newer["办理状态"].isin(["已派单", "协调中"])][:3]
    assert len(still_open) == 3
    newer.loc[still_open, "办理状态"] = "已办结"
    newer.loc[still_open, "办结时间"] = "2021/03/05 10:00:00"
    fresh = newer.iloc[[0]].assign(工单编号="2021030599999", 来电时间="2021/03/05 09:00:00", 来电号码="13900000000")
    newer = pd.concat([newer, fresh], ignore_index=True)
    newer_path = tmp_path / "12345热线工单导出_0305.csv"
    newer.to_csv(newer_path, index=False, encoding="gbk")

    with open_store(str(tmp_path / "s.gpkg")) as store:
        ingest_demo(demo_build, store)
        before = store.read("cases")
        report = ingest([newer_path], "hotline_12345", store)
        after = store.read("cases")
    assert len(after) == len(before) + 1
    assert report.rows_in == report.stored + report.merged + report.quarantined
    ids = "hotline_12345:" + newer.loc[still_open, "工单编号"]
    changed = after.set_index("case_id").loc[ids]
    assert (changed["status"] == "closed").all()
    assert (changed["closed_at"] == pd.Timestamp("2021-03-05 10:00:00")).all()


@pytest.mark.parametrize("problem", ["unreadable", "wrong encoding", "missing column", "wrong profile"])
def test_a_file_that_cannot_be_read_stops_the_run_with_nothing_written(problem, demo_build, tmp_path):
    from etl.geography import load_geography
    from etl.ingest import ingest_many
    from etl.profiles import read_profile
    from etl.read import ReadError

    good = (demo_build["exports"]["provincial_mediation"], read_profile("provincial_mediation"))
    bad_path = tmp_path / "bad.csv"
    hotline = demo_build["exports"]["hotline_12345"]
    if problem == "unreadable":
        bad = (tmp_path / "missing.csv", read_profile("walk_in"))
    elif problem == "wrong encoding":  # a GBK file under a profile that says UTF-8
        bad = (hotline, read_profile(str(_profile_with(tmp_path, "hotline_12345", 'encoding = "gbk"',
                                                       'encoding = "utf-8"'))))
    elif problem == "missing column":
        frame = pd.read_csv(hotline, dtype=str, encoding="gbk").drop(columns="诉求类别")
        frame.to_csv(bad_path, index=False, encoding="gbk")
        bad = (bad_path, read_profile("hotline_12345"))
    else:
        bad = (hotline, read_profile("e_ningbo"))
    with open_store(str(tmp_path / "s.gpkg")) as store:
        load_geography(demo_build["geography"], store)
        with pytest.raises(ReadError) as err:
            ingest_many([good, bad], store)
        assert store.count("cases") == store.count("case_sources") == store.count("quarantine") == 0
    assert str(bad[0]) in str(err.value)


def _profile_with(tmp_path, name, old, new):
    from importlib import resources

    text = resources.files("etl").joinpath("profiles", f"{name}.toml").read_text(encoding="utf-8")
    path = tmp_path / f"{name}_edited.toml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    return path


def test_an_ingest_after_the_geography_changed_locates_by_the_new_geography(demo_build, tmp_path):
    """The geography is held between the writes of a process (a server taking pushes) only until it changes."""
    from etl.geography import load_geography, load_responsibilities

    export = demo_build["exports"]["grid_platform"]
    with open_store(str(tmp_path / "s.gpkg")) as store:
        load_geography(demo_build["geography"], store)
        load_responsibilities(demo_build["responsibilities"], store)
        ingest([export], "grid_platform", store)
        cells = store.read("grid_cells")
        first = store.read("cases")["grid_cell"].dropna()
        assert len(first) and not first.str.startswith("X").any()
        # The cells are renumbered (a boundary survey, say): the same export again lands in the new ones.
        store.write_layer("grid_cells", cells.assign(grid_cell="X" + cells["grid_cell"]))
        ingest([export], "grid_platform", store)
        again = store.read("cases")["grid_cell"].dropna()
    assert len(again) == len(first) and again.str.startswith("X").all()
