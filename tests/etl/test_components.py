"""City components come in through a profile like any channel: survey rows to the inventory, events to cases."""

import pandas as pd

from etl.components import normalise_components
from etl.profiles import read_profile
from layers.store import open_store


def test_the_survey_lands_every_component_in_its_true_cell(demo_gpkg, demo_build):
    path, report = demo_gpkg
    with open_store(path) as store:
        stored = store.read("components")
        cases = store.read("cases")
    truth = demo_build["district"].components
    survey = next(f for f in report.files if f.source == "component_inventory")
    assert (survey.rows_in, survey.stored, survey.quarantined) == (len(truth) + 3, len(truth), 3)
    # Surveyed in GK zone 41 without its prefix (EPSG:4550), stored in CGCS2000 lon/lat, each in its own cell.
    cells = stored.set_index("component_id")["grid_cell"]
    assert (cells.reindex(truth["component_id"]).to_numpy() == truth["grid_cell"].to_numpy()).all()
    assert set(stored["state"]) == {"intact", "damaged", "missing", "occupied"}
    assert stored["major_class"].str.fullmatch(r"0[1-7]").all()
    # Smart-city events about a component name it, and it is in the inventory.
    about = cases[cases["component_id"].notna()]
    assert len(about) > 100 and about["component_id"].isin(stored["component_id"]).all()


def test_a_bad_survey_row_says_what_is_wrong():
    raw = pd.DataFrame({"部件编码": ["3302050101000001", "33020501010001", "3302059901000002", "3302050101000001"],
                        "部件名称": "上水井盖", "部件状态": ["完好", "完好", "完好", "破损"],
                        "主管部门": "", "权属单位": "", "养护单位": "", "普查日期": "2019-11-20",
                        "X": "359905.313", "Y": "3306585.710", "_row": [2, 3, 4, 5]})
    components, quarantine = normalise_components(raw, read_profile("component_inventory"), "部件.csv")
    assert components["component_id"].tolist() == ["3302050101000001"]
    # EPSG:4550 E 359905.313 N 3306585.710 is 121.55 E 29.87 N (the design's own vector).
    assert abs(components["lon"].iat[0] - 121.55) < 1e-7 and abs(components["lat"].iat[0] - 29.87) < 1e-7
    assert quarantine["reasons"].tolist() == ["bad_code", "bad_code", "duplicate_id"]
    assert quarantine["message"].iat[0].startswith("部件.csv 第3行 部件编码: 编码不符合GB/T 30428.2")
