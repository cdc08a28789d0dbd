"""What a profile can say (docs/profiles.md), each with a made-up export of a channel the product never saw.

Points in CGCS2000 inside the demo district, written in each export's own datum: the cases must land in
the grid cell the CGCS2000 point is in, whatever the file's shape.
"""

import json
import shutil
from datetime import datetime

import openpyxl
import pandas as pd
import pytest

from etl.ingest import ingest
from etl.normalise import normalise, unlisted_seen
from etl.profiles import ProfileError, read_profile
from etl.read import ReadError, read_export
from gis.datums import from_cgcs2000
from layers.store import open_store

# Three places in the demo district (CGCS2000 lon/lat), as in tests/etl/messy/cgcs2000_a.csv.
PLACES = [(121.55, 29.90), (121.50, 29.95), (121.45, 29.99)]


def profile_file(tmp_path, text, name="p.toml"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


@pytest.fixture(scope="module")
def geography(demo_build, tmp_path_factory):
    from etl.geography import load_geography

    path = tmp_path_factory.mktemp("format") / "geography.gpkg"
    with open_store(str(path)) as store:
        load_geography(demo_build["geography"], store)
    return path


@pytest.fixture
def store_spec(geography, tmp_path):
    spec = str(tmp_path / "s.gpkg")
    shutil.copy(geography, spec)
    return spec


def cell_of(spec, lon, lat):
    """The grid cell a CGCS2000 point is in, by the store's own cells."""
    import shapely

    with open_store(spec) as store:
        cells = store.read("grid_cells")
    inside = cells[cells.contains(shapely.Point(lon, lat))]
    return inside["grid_cell"].iat[0] if len(inside) else None


# --- nested records and fields, JSON Lines, GeoJSON --------------------------------------------------------

APP_PROFILE = """
source = "xin_app"
channel = "xin_app"
channel_title = ["新App", "New app"]
format = "json"
records = "data.items"
kind = "dispute"
datetime_formats = ["%Y-%m-%d %H:%M:%S"]
[columns]
source_id = "id"
reported_at = "time"
category = "type.name"
description = "detail"
[fixed]
status = "reported"
[location]
x = "location.lng"
y = "location.lat"
datum = "bd09"
"""


def app_export(tmp_path, ids=("XA1", "XA2", "XA3")):
    lng, lat = from_cgcs2000([p[0] for p in PLACES], [p[1] for p in PLACES], "bd09")
    items = [{"id": i, "time": f"2021-03-0{n + 1} 09:00:00", "type": {"name": "邻里纠纷"}, "detail": "楼上漏水",
              "location": {"lng": float(x), "lat": float(y)}}
             for n, (i, x, y) in enumerate(zip(ids, lng, lat))]
    path = tmp_path / "新App导出.json"
    path.write_text(json.dumps({"code": 0, "data": {"total": 3, "items": items}}, ensure_ascii=False),
                    encoding="utf-8")
    return path


def test_an_app_json_with_nested_records_and_bd09_coordinates_lands_every_case_in_its_cell(store_spec, tmp_path):
    profile = read_profile(profile_file(tmp_path, APP_PROFILE))
    with open_store(store_spec) as store:
        report = ingest([app_export(tmp_path)], profile, store)
        cases = store.read("cases").set_index("case_id")
        channels = store.read("channels")
    assert (report.rows_in, report.stored, report.quarantined) == (3, 3, 0)
    for n, (lon, lat) in enumerate(PLACES):
        case = cases.loc[f"xin_app:XA{n + 1}"]
        assert case["grid_cell"] == cell_of(store_spec, lon, lat) is not None
        assert (case["status"], case["category"], case["channel"]) == ("reported", "邻里纠纷", "xin_app")
    # The new channel's title is in the store, where every page reads it.
    assert channels.to_dict("records") == [{"channel": "xin_app", "title_zh": "新App", "title_en": "New app"}]


def test_a_coordinate_column_that_names_nothing_is_an_error_naming_the_profile_key(tmp_path):
    profile = read_profile(profile_file(tmp_path, APP_PROFILE.replace('"location.lng"', '"location.lon"')))
    with pytest.raises(ReadError, match=r"location\.x = 'location\.lon'.*'location\.lng'"):
        read_export(app_export(tmp_path), profile)


def test_records_that_are_not_where_the_profile_says_are_named_with_where_they_are(tmp_path):
    for records, said in (('"data.rows"', r"'rows' is not at data, which has keys \['items', 'total'\]; "
                                          r"lists of records are at \['data.items'\]"),
                          (None, r"set records .* to where its list is: \['data.items'\]")):
        text = APP_PROFILE.replace('records = "data.items"', f"records = {records}" if records else "")
        with pytest.raises(ReadError, match=said):
            read_export(app_export(tmp_path), read_profile(profile_file(tmp_path, text)))


LINES_PROFILE = APP_PROFILE.replace('format = "json"\nrecords = "data.items"', 'format = "jsonl"')


def test_json_lines_are_read_one_record_a_line_numbered_as_the_lines(tmp_path):
    lng, lat = from_cgcs2000([121.55], [29.90], "bd09")
    good = {"id": "L1", "time": "2021-03-01 09:00:00", "type": {"name": "物业纠纷"}, "detail": "电梯停运",
            "location": {"lng": float(lng[0]), "lat": float(lat[0])}}
    path = tmp_path / "app.jsonl"
    path.write_text("\n".join([json.dumps(good, ensure_ascii=False), "",
                               json.dumps({**good, "id": "L2"}, ensure_ascii=False), "{not json"]) + "\n",
                    encoding="utf-8")
    raw, _ = read_export(path, read_profile(profile_file(tmp_path, LINES_PROFILE)))
    assert raw["_row"].tolist() == [1, 3, 4] and raw["id"].tolist()[:2] == ["L1", "L2"]
    records, quarantine = normalise(raw, read_profile(profile_file(tmp_path, LINES_PROFILE)), path.name)
    assert records["source_id"].tolist() == ["L1", "L2"] and records["lon"].notna().all()
    assert quarantine["row"].tolist() == [4] and "该行不是有效JSON" in quarantine["message"].iat[0]
    # A profile that says json reads JSON Lines too (detected), when every line is JSON.
    path.write_text(json.dumps(good, ensure_ascii=False) + "\n" + json.dumps({**good, "id": "L2"}) + "\n",
                    encoding="utf-8")
    json_profile = LINES_PROFILE.replace('format = "jsonl"', 'format = "json"')
    raw, _ = read_export(path, read_profile(profile_file(tmp_path, json_profile)))
    assert raw["id"].tolist() == ["L1", "L2"]


GEOJSON_PROFILE = """
source = "geo_app"
channel = "geo_app"
channel_title = "地图上报"
format = "geojson"
kind = "event"
datetime_formats = ["%Y-%m-%d %H:%M:%S"]
[columns]
source_id = "id"
reported_at = "time"
category = "info.type"
[fixed]
status = "reported"
[location]
datum = "gcj02"
"""


def test_a_geojson_feature_collection_is_read_with_its_point_geometry(store_spec, tmp_path):
    lng, lat = from_cgcs2000([p[0] for p in PLACES], [p[1] for p in PLACES], "gcj02")
    features = [{"type": "Feature", "geometry": {"type": "Point", "coordinates": [float(x), float(y)]},
                 "properties": {"id": f"G{n}", "time": "2021-03-01 09:00:00", "info": {"type": "乱停车"}}}
                for n, (x, y) in enumerate(zip(lng, lat))]
    path = tmp_path / "上报.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}, ensure_ascii=False),
                    encoding="utf-8")
    profile = read_profile(profile_file(tmp_path, GEOJSON_PROFILE))
    assert profile.channel_title == ("地图上报", "地图上报")
    with open_store(store_spec) as store:
        report = ingest([path], profile, store)
        cases = store.read("cases").set_index("case_id")
    assert (report.stored, report.quarantined) == (3, 0)
    for n, (lon, lat_) in enumerate(PLACES):
        assert cases.at[f"geo_app:G{n}", "grid_cell"] == cell_of(store_spec, lon, lat_) is not None
        assert cases.at[f"geo_app:G{n}", "category"] == "乱停车"


def test_a_geojson_profile_without_a_datum_is_refused(tmp_path):
    with pytest.raises(ProfileError, match="geojson profile reads each feature's point"):
        read_profile(profile_file(tmp_path, GEOJSON_PROFILE.replace('datum = "gcj02"', "")))


# --- a GBK CSV: fixed values, value maps that keep what they do not list -----------------------------------

GBK_PROFILE = """
source = "street_ledger"
channel = "street_ledger"
channel_title = ["街道台账", "Street ledger"]
format = "csv"
kind = "dispute"
datetime_formats = ["%Y/%m/%d %H:%M"]
[columns]
source_id = "编号"
reported_at = "登记时间"
category = "类别"
level_received = "层级"
[fixed]
status = "reported"
resolved_in_place = false
[location]
x = "经度"
y = "纬度"
datum = "gcj02"
[vocab.category]
"邻里" = "邻里纠纷"
[vocab.level]
"社区" = "community"
"街道" = "street"
"""


def gbk_export(tmp_path, rows):
    lng, lat = from_cgcs2000([121.55], [29.90], "gcj02")
    lines = ["编号,登记时间,类别,层级,经度,纬度"]
    lines += [f"{i},2021/03/05 09:00,{category},{level},{lng[0]:.6f},{lat[0]:.6f}" for i, category, level in rows]
    path = tmp_path / "街道台账.csv"
    path.write_bytes(("\n".join(lines) + "\n").encode("gbk"))
    return path


def test_a_gbk_csv_with_fixed_values_and_an_open_map_keeps_every_row_and_lists_what_the_map_lacks(store_spec,
                                                                                                   tmp_path):
    path = gbk_export(tmp_path, [("S1", "邻里", "社区"), ("S2", "噪声扰民", "社区"), ("S3", "噪声扰民", "街道"),
                                 ("S4", "油烟", "社区")])
    profile = read_profile(profile_file(tmp_path, GBK_PROFILE))
    with open_store(store_spec) as store:
        report = ingest([path], profile, store)
        cases = store.read("cases").set_index("case_id")
    assert (report.stored, report.quarantined) == (4, 0)
    assert report.files[0].encoding == "gb18030"
    assert report.files[0].unlisted == {"category": {"噪声扰民": 2, "油烟": 1}}
    assert cases["category"].sort_index().tolist() == ["邻里纠纷", "噪声扰民", "噪声扰民", "油烟"]
    assert set(cases["status"]) == {"reported"} and not cases["resolved_in_place"].any()
    assert set(cases["grid_cell"]) == {cell_of(store_spec, 121.55, 29.90)} != {None}


def test_a_map_sends_unlisted_values_to_its_default_or_refuses_them(tmp_path):
    path = gbk_export(tmp_path, [("S1", "邻里", "社区"), ("S2", "油烟", "区里")])
    default = GBK_PROFILE.replace('"邻里" = "邻里纠纷"', '"邻里" = "邻里纠纷"\nunlisted = "default"\ndefault = "其他"')
    profile = read_profile(profile_file(tmp_path, default))
    raw, _ = read_export(path, profile)
    records, quarantine = normalise(raw, profile, path.name)
    # 区里 is no level the map knows, and a level must be one of three: refused, naming the value and the words.
    assert records["category"].tolist() == ["邻里纠纷"]
    assert quarantine["message"].tolist() == ["街道台账.csv 第3行 层级: 取值不在对照表中: 区里 (可取: 社区、街道)"]
    assert unlisted_seen(raw, profile) == {"category": {"油烟": 1}}

    refuse = GBK_PROFILE.replace('"邻里" = "邻里纠纷"', '"邻里" = "邻里纠纷"\nunlisted = "refuse"')
    refuse = refuse.replace('"街道" = "street"', '"街道" = "street"\nunlisted = "default"\ndefault = "district"')
    profile = read_profile(profile_file(tmp_path, refuse))
    records, quarantine = normalise(read_export(path, profile)[0], profile, path.name)
    assert records["source_id"].tolist() == ["S1"]
    assert quarantine["message"].tolist() == ["街道台账.csv 第3行 类别: 取值不在对照表中: 油烟 (可取: 邻里)"]


@pytest.mark.parametrize("policy, said", [
    ('unlisted = "keep"', r'vocab\.level: unlisted = "keep" cannot be'),
    ('unlisted = "default"\ndefault = "town"', r"needs default = one of \('community'"),
])
def test_a_closed_set_cannot_pass_unlisted_values_through(policy, said, tmp_path):
    text = GBK_PROFILE.replace('"街道" = "street"', f'"街道" = "street"\n{policy}')
    with pytest.raises(ProfileError, match=said):
        read_profile(profile_file(tmp_path, text))


def test_a_fixed_value_must_be_a_value_of_its_field_and_not_also_a_column(tmp_path):
    with pytest.raises(ProfileError, match=r"fixed\.status: 'done' is not one of"):
        read_profile(profile_file(tmp_path, GBK_PROFILE.replace('status = "reported"', 'status = "done"')))
    with pytest.raises(ProfileError, match=r"fixed: 'category' is also a column"):
        read_profile(profile_file(tmp_path, GBK_PROFILE.replace('status = "reported"', 'category = "邻里纠纷"')))


def test_a_new_channel_must_bring_its_title_and_a_shipped_one_keeps_its_own(tmp_path):
    with pytest.raises(ProfileError, match=r"channel 'street_ledger' is new .*channel_title"):
        read_profile(profile_file(tmp_path, GBK_PROFILE.replace('channel_title = ["街道台账", "Street ledger"]', "")))
    shipped = GBK_PROFILE.replace('channel = "street_ledger"', 'channel = "walk_in"')
    with pytest.raises(ProfileError, match="ships with the title"):
        read_profile(profile_file(tmp_path, shipped))


def test_a_brought_channel_has_its_title_wherever_a_channel_is_shown():
    from layers.glossary import channel_names, known_channels, remember_channels

    assert channel_names("xin_app_test") == ("xin_app_test", "xin_app_test")
    remember_channels(pd.DataFrame([{"channel": "xin_app_test", "title_zh": "新App", "title_en": "New app"}]))
    assert channel_names("xin_app_test") == ("新App", "New app") and "xin_app_test" in known_channels()
    assert channel_names("e_ningbo") == ("E宁波", "E-Ningbo app")


def test_a_brought_channel_is_stored_on_both_stores(store):
    from etl.ingest import _brought_channels

    profiles = [read_profile("e_ningbo"), read_profile("walk_in")]
    assert _brought_channels(profiles).empty
    store.upsert("channels", pd.DataFrame([{"channel": "xin_app", "title_zh": "新App", "title_en": "New app"}]))
    assert store.read("channels")[["channel", "title_zh", "title_en"]].values.tolist() == [["xin_app", "新App",
                                                                                            "New app"]]


# --- identifiers normalised (NFKC), the original kept ------------------------------------------------------

def test_full_width_ids_re_exported_half_width_are_the_same_cases(store_spec, tmp_path):
    profile = read_profile(profile_file(tmp_path, APP_PROFILE))
    first, again = tmp_path / "first", tmp_path / "again"
    first.mkdir(), again.mkdir()
    with open_store(store_spec) as store:
        ingest([app_export(first, ids=("ＧＤ２０２１０００", "ＧＤ２０２１００１", "GD2021002"))], profile, store)
        before = store.read("cases")
        records = store.read("case_sources").set_index("source_id")
        report = ingest([app_export(again, ids=("GD2021000", "GD2021001", "GD2021002"))], profile, store)
        after = store.read("cases")
        records_after = store.read("case_sources")
    assert report.rows_in == 3 and report.outcomes["seen"].all()  # each one stored before: no second case
    assert sorted(after["case_id"]) == sorted(before["case_id"]) == [f"xin_app:GD202100{n}" for n in range(3)]
    assert len(records_after) == 3
    # The intake record keeps what the export wrote where NFKC changed it.
    assert json.loads(records.at["GD2021000", "original"]) == {"source_id": "ＧＤ２０２１０００"}
    assert pd.isna(records.at["GD2021002", "original"])


def test_a_duplicate_id_within_a_file_names_the_earlier_row_even_written_full_width(tmp_path):
    path = gbk_export(tmp_path, [("S1", "邻里", "社区"), ("Ｓ１", "邻里", "社区")])
    profile = read_profile(profile_file(tmp_path, GBK_PROFILE))
    records, quarantine = normalise(read_export(path, profile)[0], profile, path.name)
    assert len(records) == 1
    assert quarantine["message"].tolist() == ["街道台账.csv 第3行 编号: 编号在本文件中重复: S1 (同第2行)"]


# --- spreadsheet date cells --------------------------------------------------------------------------------

XLSX_PROFILE = """
source = "xlsx_ledger"
channel = "xlsx_ledger"
channel_title = ["表格台账", "Spreadsheet ledger"]
format = "xlsx"
sheet = "台账"
kind = "dispute"
datetime_formats = ["%Y年%m月%d日"]
[columns]
source_id = "编号"
reported_at = "日期"
category = "类别"
[fixed]
status = "reported"
[location]
x = "经度"
y = "纬度"
datum = "cgcs2000"
"""


def xlsx_export(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "台账"
    sheet.append(["编号", "日期", "类别", "经度", "纬度"])
    sheet.append(["X1", datetime(2021, 3, 5, 9, 30), "邻里纠纷", 121.55, 29.9])
    sheet.append(["X2", datetime(2021, 3, 6), "邻里纠纷", 121.5, 29.95])
    sheet.append(["X3", "2021年03月07日", "邻里纠纷", 121.45, 29.99])  # a date typed as text
    for row in sheet.iter_rows(min_row=2, max_row=3, min_col=2, max_col=2):
        row[0].number_format = "yyyy年m月d日"  # what the sheet displays is no concern
    book.create_sheet("说明")
    path = tmp_path / "台账.xlsx"
    book.save(path)
    return path


def test_spreadsheet_date_cells_are_dates_whatever_the_sheet_displays(tmp_path):
    path = xlsx_export(tmp_path)
    profile = read_profile(profile_file(tmp_path, XLSX_PROFILE))
    records, quarantine = normalise(read_export(path, profile)[0], profile, path.name)
    assert quarantine.empty
    assert records["reported_at"].tolist() == [pd.Timestamp("2021-03-05 09:30"), pd.Timestamp("2021-03-06"),
                                               pd.Timestamp("2021-03-07")]
    assert records["lon"].round(6).tolist() == [121.55, 121.5, 121.45]


def test_a_wrong_sheet_lists_the_sheets(tmp_path):
    profile = read_profile(profile_file(tmp_path, XLSX_PROFILE.replace('sheet = "台账"', 'sheet = "Sheet1"')))
    with pytest.raises(ReadError, match=r"no sheet 'Sheet1' .*the workbook's sheets: \['台账', '说明'\]"):
        read_export(xlsx_export(tmp_path), profile)


# --- clear messages ---------------------------------------------------------------------------------------

def test_a_wrong_location_key_lists_the_allowed_keys(tmp_path):
    text = GBK_PROFILE.replace('x = "经度"', 'lon = "经度"').replace('y = "纬度"\n', "")
    with pytest.raises(ProfileError, match=r"location: unknown keys \['lon'\]; allowed: x, y, datum, address, "
                                           r"community, datum_column"):
        read_profile(profile_file(tmp_path, text))


def test_a_coordinate_with_one_half_empty_says_which(tmp_path):
    path = tmp_path / "half.csv"
    path.write_text("编号,登记时间,类别,层级,经度,纬度\nS1,2021/03/05 09:00,邻里,社区,abc,\n"
                    "S2,2021/03/05 09:00,邻里,社区,,29.9\n", encoding="utf-8")
    profile = read_profile(profile_file(tmp_path, GBK_PROFILE))
    _, quarantine = normalise(read_export(path, profile)[0], profile, path.name)
    assert quarantine["message"].tolist() == ["half.csv 第2行 经度/纬度: 坐标无法识别: abc, (纬度为空)",
                                              "half.csv 第3行 经度/纬度: 坐标无法识别: ,29.9 (经度为空)"]


def test_a_csv_delimiter_is_one_character(tmp_path):
    text = open(read_profile("e_ningbo").path, encoding="utf-8").read()
    good, bad = tmp_path / "good.toml", tmp_path / "bad.toml"
    good.write_text(text.replace('format = "csv"', 'format = "csv"\ndelimiter = ";"'), encoding="utf-8")
    bad.write_text(text.replace('format = "csv"', 'format = "csv"\ndelimiter = ";;"'), encoding="utf-8")
    assert read_profile(str(good)).delimiter == ";" and read_profile("e_ningbo").delimiter == ","
    with pytest.raises(ProfileError, match="delimiter ';;' is not one character"):
        read_profile(str(bad))
