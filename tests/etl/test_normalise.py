import pandas as pd

from etl.normalise import normalise
from etl.profiles import read_profile


def raw_rows(**overrides):
    row = {"事件ID": "EN1", "上报时间": "2020-05-01T09:00:00", "事件类别": "邻里纠纷", "事件描述": "",
           "经度": "121.55", "纬度": "29.90", "详细地址": "", "手机号": "13800000000", "处理状态": "已完成",
           "分派时间": "", "完成时间": "2020-05-03T09:00:00", "受理层级": "村社", "办结层级": "村社", "就地化解": "是"}
    row.update(overrides)
    return pd.DataFrame([row]).assign(_row=[2])


def test_a_good_row_becomes_a_canonical_record_in_cgcs2000():
    records, quarantine = normalise(raw_rows(), read_profile("e_ningbo"), "e.csv")
    assert quarantine.empty
    r = records.iloc[0]
    assert (r["status"], r["level"], bool(r["resolved_in_place"])) == ("closed", "community", True)
    # GCJ-02 input moved back by the Amap offset (~500 m in Ningbo).
    assert 121.544 < r["lon"] < 121.547 and 29.902 < r["lat"] < 29.905


def test_a_bad_row_is_quarantined_with_every_reason_naming_file_row_and_field():
    raw = raw_rows(上报时间="2020-02-30T10:00:00", 处理状态="不知道", 经度="29.90", 纬度="121.55")
    records, quarantine = normalise(raw, read_profile("e_ningbo"), "e.csv")
    assert records.empty
    q = quarantine.iloc[0]
    assert q["reasons"] == "bad_date;unknown_value;bad_coordinate"
    assert q["message"].startswith("e.csv row 2: field reported_at (column '上报时间'): bad_date '2020-02-30T10:00:00'")
    assert "field status (column '处理状态'): unknown_value '不知道'" in q["message"]


def test_missing_coordinates_are_not_an_error_the_address_remains():
    records, quarantine = normalise(raw_rows(经度="", 纬度="", 详细地址="江北区怡江社区1号"), read_profile("e_ningbo"), "e.csv")
    assert quarantine.empty and pd.isna(records.iloc[0]["lon"]) and records.iloc[0]["address"] == "江北区怡江社区1号"
