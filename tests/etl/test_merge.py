import pandas as pd

from etl.merge import merge_duplicates

EMPTY_SOURCES = pd.DataFrame(columns=["source", "source_id", "case_id", "merged"])
EMPTY_CASES = pd.DataFrame(columns=["case_id", "kind", "category", "reporter_phone", "reported_at"])


def records(*rows):
    return pd.DataFrame(rows, columns=["source", "source_id", "kind", "category", "reporter_phone", "reported_at"])


def test_same_phone_category_within_three_days_is_one_case():
    r = records(("hotline_12345", "1", "dispute", "物业纠纷", "138 0000 0000", pd.Timestamp("2020-01-01 09:00")),
                ("walk_in", "9", "dispute", "物业纠纷", "13800000000", pd.Timestamp("2020-01-02 15:00")),
                ("walk_in", "10", "dispute", "物业纠纷", "13800000000", pd.Timestamp("2020-01-09 15:00")),
                ("walk_in", "11", "dispute", "邻里纠纷", "13800000000", pd.Timestamp("2020-01-01 10:00")))
    out = merge_duplicates(r, EMPTY_SOURCES, EMPTY_CASES)
    assert out["case_id"].tolist() == ["hotline_12345:1", "hotline_12345:1", "walk_in:10", "walk_in:11"]
    assert out["merged"].tolist() == [False, True, False, False]


def test_records_without_a_phone_are_never_merged():
    r = records(("a", "1", "event", "乱停车", None, pd.Timestamp("2020-01-01")),
                ("b", "1", "event", "乱停车", "", pd.Timestamp("2020-01-01")))
    assert merge_duplicates(r, EMPTY_SOURCES, EMPTY_CASES)["merged"].tolist() == [False, False]


def test_a_record_seen_before_keeps_its_case():
    r = records(("walk_in", "9", "dispute", "物业纠纷", "13800000000", pd.Timestamp("2020-01-02")))
    known = pd.DataFrame({"source": ["walk_in"], "source_id": ["9"], "case_id": ["hotline_12345:1"], "merged": [True]})
    out = merge_duplicates(r, known, EMPTY_CASES)
    assert out[["case_id", "merged"]].values.tolist() == [["hotline_12345:1", True]]


def test_a_new_record_joins_a_stored_case():
    r = records(("walk_in", "9", "dispute", "物业纠纷", "13800000000", pd.Timestamp("2020-01-02")))
    stored = pd.DataFrame({"case_id": ["e_ningbo:7"], "kind": ["dispute"], "category": ["物业纠纷"],
                           "reporter_phone": ["13800000000"], "reported_at": [pd.Timestamp("2020-01-01")]})
    assert merge_duplicates(r, EMPTY_SOURCES, stored)["case_id"].tolist() == ["e_ningbo:7"]
