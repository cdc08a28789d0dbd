"""The remediation register and its effect: a real effect is found, a remediation that changed nothing is not."""

import shutil

import pandas as pd
import pytest

from layers.remediation import (
    add_remediation,
    difference_in_differences,
    overall_effect,
    remediation_effects,
)
from layers.store import open_store


def test_no_change_is_reported_as_none_and_a_drop_as_reduced():
    # 6 months each side; the place and 40 comparison places keep their rate: nothing to see.
    same = difference_in_differences((30, 29), (1200, 1230), months=(6, 6), controls=40)
    assert same.verdict == "none" and same.low < 0 < same.high
    # The place falls from 5 a month to 0.5 while the others hold.
    drop = difference_in_differences((30, 3), (1200, 1210), months=(6, 6), controls=40)
    assert drop.verdict == "reduced" and drop.did == pytest.approx(-4.5, abs=0.1) and drop.high < 0
    rise = difference_in_differences((3, 30), (1200, 1190), months=(6, 6), controls=40)
    assert rise.verdict == "increased"


def test_a_setback_area_goes_unmanaged_to_in_renovation_to_handed_over(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with open_store(str(path)) as store:
        area = store.read("setback_areas").query("status == 'unmanaged'")["setback_area"].iat[0]
        add_remediation(store, place_kind="setback_area", place=area, what="整治", unit="孔浦街道城市管理科",
                        started_at="2021-01-10")
        assert store.read("setback_areas").set_index("setback_area").at[area, "status"] == "in_renovation"
        add_remediation(store, place_kind="setback_area", place=area, what="移交", unit="孔浦街道城市管理科",
                        started_at="2021-01-10", finished_at="2021-02-20", handed_over_to="某物业服务中心")
        after = store.read("setback_areas").set_index("setback_area").loc[area]
        assert (after["status"], after["managing_unit"]) == ("handed_over", "某物业服务中心")
        assert len(store.read("remediations")) == 25 + 2
        with pytest.raises(ValueError, match="no setback_area"):
            add_remediation(store, place_kind="setback_area", place="nowhere", what="x", unit="y",
                            started_at="2021-01-01")


def test_the_demo_handovers_cut_cases_and_a_remediation_that_did_nothing_shows_none(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    with open_store(str(path)) as store:
        # A remediation on an ordinary cell nothing was done to: its cases went on as before.
        cells = store.read("grid_cells").sort_values("population", ascending=False)
        quiet = cells["grid_cell"].iat[10]
        add_remediation(store, place_kind="grid_cell", place=quiet, what="路面整修", unit="某单位",
                        started_at="2020-06-01", finished_at="2020-07-01")
        effects = remediation_effects(store)
    # The 25 estates handed over: each estate's cases are few, so most intervals hold 0, but
    # together the drop is clear (the demo's unmanaged strips draw cases until handed over).
    whole = overall_effect(effects, "estate")
    assert whole["remediations"] == 25 and whole["verdict"] == "reduced" and whole["high"] < 0
    assert whole["before"] > 2 * whole["after"]
    handed = effects[effects["place_kind"] == "estate"]
    assert (handed["verdict"] == "increased").sum() == 0 and (handed["did"] < 0).mean() > 0.8
    effects = effects.set_index("place")
    assert effects.at[quiet, "verdict"] == "none"
    assert overall_effect(effects.reset_index(), "grid_cell")["verdict"] == "none"
    assert isinstance(effects.at[quiet, "started_at"], pd.Timestamp)
