"""Pairs that must be merged into one case, and pairs that must not."""

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point

from etl.merge import merge_duplicates

EMPTY_SOURCES = pd.DataFrame(columns=["source", "source_id", "case_id", "merged", "merge_reason"])
EMPTY_CASES = pd.DataFrame(columns=["case_id", "kind", "category", "channel", "reporter_phone", "reported_at",
                                    "description"])
# Two points 31 m apart near 孔浦 (CGCS2000 lon/lat), and one 400 m away.
HERE, NEAR, FAR = (121.5850, 29.8950), (121.5853, 29.8951), (121.5891, 29.8950)


def records(*rows):
    """(source, id, kind, category, phone, reported_at[, description, point, precision])."""
    full = [r + (None,) * (9 - len(r)) for r in rows]
    frame = pd.DataFrame(full, columns=["source", "source_id", "kind", "category", "reporter_phone", "reported_at",
                                        "description", "point", "location_precision"])
    frame["channel"] = frame["source"]
    frame["reported_at"] = pd.to_datetime(frame["reported_at"])
    geometry = [Point(p) if p else None for p in frame.pop("point")]
    return gpd.GeoDataFrame(frame, geometry=geometry, crs=4490)


def merged(frame):
    out = merge_duplicates(frame, EMPTY_SOURCES, EMPTY_CASES)
    return out["case_id"].tolist(), out["merged"].tolist()


def test_same_phone_category_within_three_days_is_one_case():
    r = records(("hotline_12345", "1", "dispute", "物业纠纷", "138 0000 0000", "2020-01-01 09:00"),
                ("walk_in", "9", "dispute", "物业纠纷", "13800000000", "2020-01-02 15:00"),
                ("walk_in", "10", "dispute", "物业纠纷", "13800000000", "2020-01-09 15:00"),
                ("walk_in", "11", "dispute", "邻里纠纷", "13800000000", "2020-01-01 10:00"))
    out = merge_duplicates(r, EMPTY_SOURCES, EMPTY_CASES)
    assert out["case_id"].tolist() == ["hotline_12345:1", "hotline_12345:1", "walk_in:10", "walk_in:11"]
    assert out["merged"].tolist() == [False, True, False, False]
    assert out.at[1, "merge_reason"] == "同一来电号码(尾号0000)、同类别，相隔30.0小时"


def test_same_place_similar_words_on_two_channels_is_one_case():
    text = "孔浦街道怡江社区槐树路77号3幢楼道堆放杂物，邻里争执"
    r = records(("provincial_mediation", "1", "dispute", "邻里纠纷", None, "2020-03-01 09:00", text, HERE, "building"),
                ("e_ningbo", "2", "dispute", "邻里纠纷", None, "2020-03-01 20:00", "槐树路77号3幢楼道堆放杂物，邻居争吵",
                 NEAR, "building"))
    out = merge_duplicates(r, EMPTY_SOURCES, EMPTY_CASES)
    assert out["case_id"].tolist() == ["provincial_mediation:1"] * 2
    assert out.at[1, "merge_reason"] == "相距31米、同类别、描述相似度0.74，相隔11.0小时"


def test_near_but_not_the_same_matter_stays_two_cases():
    text = "槐树路77号3幢楼道堆放杂物"
    base = ("provincial_mediation", "1", "dispute", "邻里纠纷", None, "2020-03-01 09:00", text, HERE, "building")
    must_not = {
        "other words": ("e_ningbo", "2", "dispute", "邻里纠纷", None, "2020-03-01 10:00", "孩子在小区被狗咬伤，要求赔偿",
                        NEAR, "building"),
        "too far": ("e_ningbo", "2", "dispute", "邻里纠纷", None, "2020-03-01 10:00", text, FAR, "building"),
        "too late": ("e_ningbo", "2", "dispute", "邻里纠纷", None, "2020-03-05 10:00", text, NEAR, "building"),
        "other category": ("e_ningbo", "2", "dispute", "物业纠纷", None, "2020-03-01 10:00", text, NEAR, "building"),
        "same channel": ("provincial_mediation", "2", "dispute", "邻里纠纷", None, "2020-03-01 10:00", text,
                         NEAR, "building"),
        "only a community": ("e_ningbo", "2", "dispute", "邻里纠纷", None, "2020-03-01 10:00", text, HERE, "community"),
    }
    for why, other in must_not.items():
        assert merged(records(base, other))[1] == [False, False], why


def test_records_without_a_phone_or_a_place_are_never_merged():
    r = records(("a", "1", "event", "乱停车", None, "2020-01-01"),
                ("b", "1", "event", "乱停车", "", "2020-01-01"))
    assert merged(r)[1] == [False, False]


def test_a_record_seen_before_keeps_its_case():
    r = records(("walk_in", "9", "dispute", "物业纠纷", "13800000000", "2020-01-02"))
    known = pd.DataFrame({"source": ["walk_in"], "source_id": ["9"], "case_id": ["hotline_12345:1"], "merged": [True],
                          "merge_reason": ["同一来电号码"]})
    out = merge_duplicates(r, known, EMPTY_CASES)
    assert out[["case_id", "merged"]].values.tolist() == [["hotline_12345:1", True]]


def test_a_new_record_joins_a_stored_case():
    r = records(("walk_in", "9", "dispute", "物业纠纷", "13800000000", "2020-01-02"))
    stored = pd.DataFrame({"case_id": ["e_ningbo:7"], "kind": ["dispute"], "category": ["物业纠纷"],
                           "channel": ["e_ningbo"], "reporter_phone": ["13800000000"],
                           "reported_at": [pd.Timestamp("2020-01-01")], "description": [None]})
    assert merge_duplicates(r, EMPTY_SOURCES, stored)["case_id"].tolist() == ["e_ningbo:7"]


def test_a_merge_can_be_undone_and_a_reingest_keeps_it_undone(demo_build, tmp_path):
    from etl.ingest import ingest
    from etl.unmerge import UnmergeError, unmerge
    from layers.store import open_store
    from tests.conftest import ingest_demo

    with open_store(str(tmp_path / "s.gpkg")) as store:
        ingest_demo(demo_build, store)
        sources = store.read("case_sources")
        record = sources[sources["merged"] & (sources["source"] == "e_ningbo")].iloc[0]
        cases_before = store.count("cases")
        result = unmerge(store, "e_ningbo", record["source_id"])
        assert result["left_case"] == record["case_id"] and result["new_case"] == f"e_ningbo:{record['source_id']}"
        cases = store.read("cases").set_index("case_id")
        assert len(cases) == cases_before + 1
        assert "e_ningbo" not in cases.at[record["case_id"], "channels"].split(";")
        assert cases.at[result["new_case"], "channels"] == "e_ningbo"
        assert cases.at[result["new_case"], "category"] == record["category"]
        with pytest.raises(UnmergeError, match="was not merged"):
            unmerge(store, "e_ningbo", record["source_id"])
        ingest([demo_build["exports"]["e_ningbo"]], "e_ningbo", store)
        assert store.count("cases") == cases_before + 1


def test_the_stored_cases_a_merge_reads_are_those_near_each_record_not_the_years_between():
    from etl.ingest import spans_near

    times = pd.Series(pd.to_datetime(["2020-01-01 08:00", "2020-01-03 09:00", "2024-05-01 10:00", None]))
    three_days = pd.Timedelta(days=3)
    assert spans_near(times, three_days) == [
        (pd.Timestamp("2019-12-29 08:00"), pd.Timestamp("2020-01-06 09:00")),  # the two close ones joined
        (pd.Timestamp("2024-04-28 10:00"), pd.Timestamp("2024-05-04 10:00"))]
    assert spans_near(pd.Series([], dtype="datetime64[ns]"), three_days) == []
