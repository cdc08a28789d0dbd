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
    assert q["fields"] == "reported_at;status;location"
    assert q["message"] == ("e.csv 第2行 上报时间: 日期无法解析: 2020-02-30T10:00:00；处理状态: 取值不在对照表中: 不知道 "
                            "(可取: 待处理、处理中、协调中、已完成)；"
                            "经度/纬度: 坐标无法识别: 29.90,121.55")


def test_missing_coordinates_are_not_an_error_the_address_remains():
    records, quarantine = normalise(raw_rows(经度="", 纬度="", 详细地址="江北区怡江社区1号"), read_profile("e_ningbo"), "e.csv")
    assert quarantine.empty and pd.isna(records.iloc[0]["lon"]) and records.iloc[0]["address"] == "江北区怡江社区1号"


def test_a_coordinate_outside_the_district_is_quarantined_in_words_a_clerk_can_act_on():
    from shapely.geometry import box

    from etl.normalise import Reach

    area = Reach(box(121.35, 29.85, 121.70, 30.10), "江北区")
    raw = pd.concat([raw_rows(), raw_rows(事件ID="EN2", 经度="120.15", 纬度="30.28")], ignore_index=True)
    raw["_row"] = [2, 3]
    records, quarantine = normalise(raw, read_profile("e_ningbo"), "e.csv", area=area)
    assert records["source_id"].tolist() == ["EN1"]
    assert quarantine["message"].tolist() == ["e.csv 第3行 经度/纬度: 坐标超出江北区范围: 120.15,30.28"]
