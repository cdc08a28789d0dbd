"""Hostile input: malformed spreadsheets and GeoJSON, absurd coordinates, huge fields, formulas,
wrong encodings. Nothing crashes, every row is accounted for, no formula leaves as a live formula,
and no phone number or complaint text reaches a log."""

from __future__ import annotations

import csv
import json
import subprocess
import sys

import openpyxl
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from etl.normalise import normalise
from etl.profiles import read_profile
from etl.read import ReadError, read_export
from layers.store import open_store

ABSURD = ["1e308", "-1e308", "inf", "-inf", "nan", "NaN", "999", "-999", "0", "121.55e100", "１２１．５５",
          "121°33′", "29.87,121.55", "0x7f", "", " ", "null", "None", "[]", "{}"]
HOSTILE_TEXT = ["=HYPERLINK(\"http://evil\",\"点我\")", "=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
                "' OR '1'='1", "'; DROP TABLE cases; --", "<script>alert(1)</script>", "\u202eevil.exe",
                "a\x00b", "\x1b[31m红\x1b[0m", "😀" * 50, "邻里纠纷" * 2000]
cell = st.one_of(st.sampled_from(ABSURD + HOSTILE_TEXT), st.text(max_size=40), st.integers(-10**20, 10**20),
                 st.floats(allow_nan=True, allow_infinity=True), st.none())


def accounted(path, profile):
    """Read and check a file as the ingest does: refused whole with one clear error, or every row accounted."""
    try:
        raw, _ = read_export(path, profile)
    except ReadError as exc:
        assert str(path) in str(exc)
        return None
    records, quarantine = normalise(raw, profile, path.name)
    assert len(records) + len(quarantine) == len(raw)
    assert quarantine["message"].str.contains(r"第\d+行").all()  # names the row
    return raw


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(st.lists(cell, min_size=8, max_size=16), max_size=15), as_formula=st.booleans())
def test_any_spreadsheet_is_read_or_refused_and_every_row_is_accounted_for(rows, as_formula, tmp_path):
    profile = read_profile("minsheng_edian")
    header = list(profile.columns.values()) + [c for c in (profile.location.x, profile.location.y,
                                                            profile.location.address) if c]
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        # openpyxl writes text starting with "=" as a formula; a clerk's sheet may hold both. Control
        # characters a spreadsheet cannot hold are left out, as Excel would.
        values = [ILLEGAL_CHARACTERS_RE.sub("", v) if isinstance(v, str) else v if v == v else None for v in row]
        sheet.append([v if as_formula or not isinstance(v, str) or not v.startswith("=") else "'" + v
                      for v in values])
    path = tmp_path / "fuzz.xlsx"
    book.save(path)
    raw = accounted(path, profile)
    if raw is not None:
        assert len(raw) <= len(rows)  # rows with nothing in them are blank lines


@pytest.mark.parametrize("junk", [b"PK\x03\x04" + b"\x00" * 100, b"not a spreadsheet", b""])
def test_a_broken_spreadsheet_is_refused_with_its_name(junk, tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(junk)
    with pytest.raises(ReadError, match="broken.xlsx"):
        read_export(path, read_profile("minsheng_edian"))


GEOJSON_PROFILE = """
source = "grid_platform"
channel = "grid_platform"
format = "geojson"
kind = "event"
datetime_formats = ["%Y-%m-%d %H:%M:%S"]
[columns]
source_id = "id"
reported_at = "time"
category = "type"
status = "state"
[location]
x = "@x"
y = "@y"
datum = "cgcs2000"
"""
geometry = st.one_of(
    st.none(), st.integers(), st.text(max_size=10),
    st.fixed_dictionaries({"type": st.sampled_from(["Point", "LineString", "Polygon", "point", ""]),
                           "coordinates": st.one_of(st.lists(st.one_of(st.floats(), st.text(max_size=5), st.none()),
                                                             max_size=4), st.none(), st.text(max_size=5))}))
feature = st.one_of(
    st.fixed_dictionaries({"type": st.just("Feature"), "geometry": geometry,
                           "properties": st.one_of(st.none(), st.dictionaries(
                               st.sampled_from(["id", "time", "type", "state", "extra"]), cell, max_size=4))}),
    st.integers(), st.none(), st.text(max_size=10), st.lists(st.integers(), max_size=3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(features=st.lists(feature, max_size=20))
def test_any_geojson_is_read_or_refused_and_every_feature_is_accounted_for(features, tmp_path):
    (tmp_path / "p.toml").write_text(GEOJSON_PROFILE, encoding="utf-8")
    profile = read_profile(str(tmp_path / "p.toml"))
    path = tmp_path / "fuzz.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False,
                               allow_nan=True), encoding="utf-8")
    raw = accounted(path, profile)
    assert raw is None or len(raw) == len(features)


def hostile_export(tmp_path, phones):
    """A grid-platform export whose rows are built to break things, and the columns it has."""
    columns = ["事件编号", "上报时间", "事件类型", "事件描述", "网格编码", "经度", "纬度", "上报人电话", "事件状态",
               "分拨时间", "办结时间", "受理层级", "处置层级"]
    rows = []
    for i, (x, text) in enumerate(zip(ABSURD * 2, HOSTILE_TEXT * 3)):
        rows.append([f"HOSTILE{i:04d}", "2020-06-01 09:00:00", text if i % 3 == 0 else "邻里纠纷",
                     text, "", x, "29.87" if i % 2 else x, phones[i % len(phones)], "已办结",
                     "2020-06-01 10:00:00", "2020-06-02 10:00:00", "村社", "村社"])
    rows.append(["HOSTILE_OK", "2020-06-01 09:00:00", "=HYPERLINK(\"http://evil\",\"点我\")", "正常", "",
                 "121.55", "29.87", phones[0], "已办结", "2020-06-01 10:00:00", "2020-06-02 10:00:00", "村社", "村社"])
    path = tmp_path / "四平台事件导出_hostile.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(columns)
        writer.writerows(rows)
    return path, len(rows)


@pytest.mark.parametrize("backend", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_a_hostile_export_through_the_real_ingest_loses_no_row_and_logs_no_phone(backend, demo_build, tmp_path,
                                                                                 request):
    from etl.geography import load_geography

    spec = str(tmp_path / "s.gpkg") if backend == "gpkg" else request.getfixturevalue("postgis_url")
    with open_store(spec) as store:
        load_geography(demo_build["geography"], store)
    phones = ["13912345678", "13800001111", "15057471234"]
    path, rows_in = hostile_export(tmp_path, phones)
    done = subprocess.run([sys.executable, "-m", "onemap.cli", "ingest", str(path), "--source", "grid_platform",
                           "--store", spec, "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout)
    assert report["rows_in"] == rows_in == report["stored"] + report["merged"] + report["quarantined"]
    with open_store(spec) as store:
        cases = store.read("cases")
        quarantine = store.read("quarantine")
    assert len(quarantine) == report["quarantined"] and quarantine["message"].str.contains(path.name).all()
    # The formula stays text in the store, and leaves as text.
    formula = cases.loc[cases["category"].astype(str).str.startswith("=HYPERLINK"), "case_id"]
    assert len(formula) == 1
    out = tmp_path / "out.csv"
    exported = subprocess.run([sys.executable, "-m", "onemap.cli", "export", "cases", "--format", "csv", "--out",
                               str(out), "--store", spec, "--with-personal", "--from", "2020-01-01", "--to",
                               "2020-12-31"], capture_output=True, text=True,
                              timeout=300)
    assert exported.returncode == 0, exported.stderr[-2000:]
    table = pd.read_csv(out, encoding="utf-8-sig", dtype=str)
    assert not table.apply(lambda column: column.str.match(r"^[=+\-@]", na=False)).any().any()
    assert (table["category"] == "'=HYPERLINK(\"http://evil\",\"点我\")").sum() == 1
    # Nothing personal in what the commands said.
    said = done.stdout + done.stderr + exported.stdout + exported.stderr
    for phone in phones:
        assert phone not in said
    assert "邻里纠纷邻里纠纷" not in said and "<script>" not in said


def test_a_csv_that_breaks_its_encoding_past_the_first_rows_is_refused_with_its_name(tmp_path):
    # Found by bench/fuzz_readers.py (atheris): a row longer than the header sends the reader down its
    # slow path, which then met a byte that is not UTF-8 and raised it bare.
    profile = read_profile("grid_platform")
    header = ",".join(list(profile.columns.values()) + ["经度", "纬度"]).encode("utf-8")
    path = tmp_path / "broken.csv"
    path.write_bytes(header + b"\n" + b"a," * 40 + b"\n" + b'"\xa3\x18\x18\n')
    with pytest.raises(ReadError, match="broken.csv: not utf-8"):
        read_export(path, profile)
    path.write_bytes(header + b"\n" + b"a," * 40 + b"\n" + b'"x\x00y"\n')
    accounted(path, profile)  # a NUL in a quoted cell: read, or refused naming the file
