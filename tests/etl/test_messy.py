"""Hand-made messy exports, three per datum, in tests/etl/messy/: every row accounted for, each as expected.

Each datum has the same three files with the coordinates written in that datum:
``_a`` (UTF-8): two good rows, a second date format, full-width digits, a 0,0 "no fix",
an impossible date, a point in another district;
``_b`` (UTF-8 with BOM): padded values, a blank line, an unknown status word, an empty
category, a repeated id, latitude and longitude swapped;
``_c`` (GBK): a quoted comma and line break, a row with one cell too many, no coordinates,
a spreadsheet formula as text, a 2 000-character description, a coordinate that is not a number.
"""

from collections import Counter
from pathlib import Path

import pytest

from etl.ingest import ingest
from layers.store import open_store

MESSY = Path(__file__).parent / "messy"
DATUMS = ["wgs84", "cgcs2000", "gcj02", "bd09", "gk_cm120", "gk_zone40"]
# Swapped lon/lat is an impossible latitude in a geographic datum, a place far away in GK without
# the zone prefix, and an easting with no zone at all (not a coordinate) in GK with it.
SWAPPED = {"gk_cm120": "outside_district"}
EXPECTED = {
    "a": (6, 4, {"bad_date": 1, "outside_district": 1}),
    "b": (6, 2, {"unknown_value": 1, "missing_field": 1, "duplicate_id": 1, "bad_coordinate": 1}),
    "c": (6, 4, {"bad_row": 1, "bad_coordinate": 1}),
}


@pytest.fixture(scope="module")
def store_with_geography(demo_build, tmp_path_factory):
    from etl.geography import load_geography

    path = tmp_path_factory.mktemp("messy") / "geography.gpkg"
    with open_store(str(path)) as store:
        load_geography(demo_build["geography"], store)
    return path


@pytest.mark.parametrize("datum", DATUMS)
def test_three_messy_files_per_datum(datum, store_with_geography, tmp_path):
    import shutil

    spec = str(tmp_path / "s.gpkg")
    shutil.copy(store_with_geography, spec)
    files = [MESSY / f"{datum}_{k}.csv" for k in "abc"]
    with open_store(spec) as store:
        report = ingest(files, str(MESSY / f"{datum}.toml"), store)
        cases = store.read("cases").set_index("case_id")
        quarantine = store.read("quarantine")

    for f, key in zip(report.files, "abc"):
        rows, stored, reasons = EXPECTED[key]
        if key == "b" and datum in SWAPPED:
            reasons = {**reasons, "bad_coordinate": 0, SWAPPED[datum]: 1}
        got = Counter(r for rs in quarantine.loc[quarantine["file"] == f.file, "reasons"] for r in rs.split(";"))
        assert (f.rows_in, f.stored, f.merged, f.quarantined) == (rows, stored, 0, rows - stored), f.file
        assert got == Counter({k: v for k, v in reasons.items() if v}), f.file
    assert report.rows_in == report.stored + report.merged + report.quarantined == 18
    assert {"gbk", "gb18030"} & {f.encoding for f in report.files}  # detected, not given

    source = f"messy_{datum}"
    # Row numbers are the ones a clerk sees: the blank line in _b is counted.
    messages = quarantine.set_index(["file", "row"])["message"]
    assert messages[(f"{datum}_b.csv", 4)] == f"{datum}_b.csv 第4行 状态: 取值不在对照表中: 待定 (可取: 待处理、处理中、已办结)"
    assert "坐标超出江北区范围" in messages[(f"{datum}_a.csv", 7)]
    # Good rows land in a grid cell, the full-width and padded ones too; 0,0 and blanks are unplaced.
    for case in ("A2", "A3", "B1", "B5", "C4"):
        assert isinstance(cases.at[f"{source}:{case}", "grid_cell"], str), case
    for case in ("A4", "C3"):
        assert cases.at[f"{source}:{case}", "location_precision"] == "none"
    assert cases.at[f"{source}:C1", "description"] == "楼上漏水, 多次协商未果\n要求调解"
    assert cases.at[f"{source}:C4", "description"] == '=HYPERLINK("http://example.com","点我")'
    assert len(cases.at[f"{source}:C5", "description"]) == 2000
    a1 = cases.loc[f"{source}:A1"]
    if datum.startswith("gk"):
        # The design's vector: E 649757.548 N 3306711.728 (CM 120E) is 121.55 E 29.87 N, 753 m outside
        # the district: kept, flagged outside the grid.
        assert abs(a1.geometry.x - 121.55) < 1e-8 and abs(a1.geometry.y - 29.87) < 1e-8
        assert bool(a1["outside_grid"]) and a1["grid_cell"] is None
    else:
        assert isinstance(a1["grid_cell"], str)
