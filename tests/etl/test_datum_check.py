"""A wrong datum, caught: the demo's exports declared under the wrong datum warn and name the right one."""

import re
from pathlib import Path

import pandas as pd
import pytest

from etl.geography import load_geography
from etl.ingest import ingest

PROFILES = Path(__file__).parents[2] / "etl" / "profiles"


def _profile(tmp_path, name, datum=None, swap=False):
    """A copy of a shipped profile with another datum, or with its x and y columns exchanged."""
    text = (PROFILES / f"{name}.toml").read_text(encoding="utf-8")
    if datum:
        text = re.sub(r'^datum = "[^"]*"', f'datum = "{datum}"', text, flags=re.M)
    if swap:
        x, y = re.search(r'^x = "([^"]*)"', text, re.M)[1], re.search(r'^y = "([^"]*)"', text, re.M)[1]
        text = re.sub(r'^x = "[^"]*"\ny = "[^"]*"', f'x = "{y}"\ny = "{x}"', text, flags=re.M)
    path = tmp_path / f"{name}-{datum or 'same'}{'-swapped' if swap else ''}.toml"
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture
def district(store, demo_build):
    load_geography(demo_build["geography"], store)
    return store


def _warnings(report):
    return [(w["check"], w["likely"], w["swapped"]) for w in report.to_dict()["warnings"]]


def test_gcj02_and_bd09_declared_wrongly_are_named_by_their_offset_from_the_addresses(district, demo_build,
                                                                                       tmp_path):
    export = demo_build["exports"]["e_ningbo"]  # GCJ-02, with addresses
    wrong = ingest([export], _profile(tmp_path, "e_ningbo", "wgs84"), district, dry_run=True)
    assert _warnings(wrong) == [("offset", "gcj02", False)]
    message = wrong.warnings[0]["message"]
    assert "likely gcj02, not wgs84" in message and re.search(r"median [3-7]\d\d m", message)
    assert _warnings(ingest([export], _profile(tmp_path, "e_ningbo", "bd09"), district, dry_run=True)) == [
        ("offset", "gcj02", False)]
    # The same file made BD-09 (Baidu) and declared WGS84: BD-09 is named.
    from gis.datums import gcj02_to_bd09

    rows = pd.read_csv(export, encoding="utf-8-sig", dtype=str, keep_default_na=False)
    bd_lon, bd_lat = gcj02_to_bd09(rows["经度"].replace("", "nan").astype(float),
                                   rows["纬度"].replace("", "nan").astype(float))
    rows["经度"], rows["纬度"] = [f"{v:.7f}" for v in bd_lon], [f"{v:.7f}" for v in bd_lat]
    baidu = tmp_path / "baidu.csv"
    rows.replace("nan", "").to_csv(baidu, index=False, encoding="utf-8-sig")
    assert _warnings(ingest([baidu], _profile(tmp_path, "e_ningbo", "wgs84"), district, dry_run=True)) == [
        ("offset", "bd09", False)]
    # Declared right: no warning.
    assert ingest([export], "e_ningbo", district, dry_run=True).warnings == []
    assert ingest([baidu], _profile(tmp_path, "e_ningbo", "bd09"), district, dry_run=True).warnings == []


def test_points_outside_the_district_name_the_zone_prefix_or_the_swap_that_brings_them_in(district, demo_build,
                                                                                          tmp_path, capsys):
    from onemap.cli import main

    export = demo_build["exports"]["smart_city"]  # CGCS2000 3° Gauss-Krüger zone 40, with the zone prefix
    wrong = ingest([export], _profile(tmp_path, "smart_city", "EPSG:4549"), district, dry_run=True)
    assert wrong.quarantined == wrong.rows_in and _warnings(wrong) == [("outside", "EPSG:4528", False)]
    # The same file without the zone prefix, declared with it: every row was "坐标无法识别", with no hint.
    rows = pd.read_csv(export, dtype=str, keep_default_na=False)
    given = rows["X坐标"] != ""
    rows.loc[given, "X坐标"] = (rows.loc[given, "X坐标"].astype(float) - 40_000_000).map("{:.3f}".format)
    bare = tmp_path / "no_prefix.csv"
    rows.to_csv(bare, index=False)
    assert _warnings(ingest([bare], "smart_city", district, dry_run=True)) == [("outside", "EPSG:4549", False)]
    swapped = ingest([demo_build["exports"]["e_ningbo"]], _profile(tmp_path, "e_ningbo", swap=True), district,
                     dry_run=True)
    assert _warnings(swapped) == [("outside", "gcj02", True)]
    assert "x and y swapped" in swapped.warnings[0]["message"]
    assert ingest([export], "smart_city", district, dry_run=True).warnings == []
    # The printed report says it too, and the run fails (exit 1): every row was kept back.
    assert main(["ingest", str(bare), "--source", "smart_city", "--store", district.url, "--dry-run"]) == 1
    assert "warning: no_prefix.csv:" in capsys.readouterr().out
