"""``conform``: every frame a store reads or writes has exactly its layer's columns and types."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from layers.schema import SchemaError, conform

QUARANTINED = {"source": "hotline_12345", "file": "f.csv", "row": 3, "fields": "reported_at", "reasons": "bad_date",
               "message": "日期无法识别", "raw": "{}", "source_id": "GD1", "grid_cell": None, "community_code": None,
               "street_code": None, "cleared_at": None}


def test_text_as_arrow_reads_it_is_held_as_python_text_with_none_for_missing():
    frame = pd.DataFrame([QUARANTINED, {**QUARANTINED, "row": 4, "source_id": None}])
    frame["source_id"] = frame["source_id"].astype(pd.StringDtype(na_value=np.nan))
    out = conform("quarantine", frame)
    assert out["source_id"].dtype == object
    assert out["source_id"].tolist() == ["GD1", None]


def test_values_that_are_not_text_yet_are_made_text():
    frame = pd.DataFrame([QUARANTINED, {**QUARANTINED, "row": 4}])
    frame["source_id"] = pd.Series([20210001, np.nan], dtype=object)  # a spreadsheet's number, and a gap
    out = conform("quarantine", frame)
    assert out["source_id"].tolist() == ["20210001", None]
    assert out["row"].dtype == "Int64" and out["cleared_at"].dtype == "datetime64[ms]"


def test_a_conformed_frame_comes_back_the_same():
    frame = conform("quarantine", pd.DataFrame([QUARANTINED, {**QUARANTINED, "row": 4,
                                                             "cleared_at": "2026-11-30 09:30"}]))
    again = conform("quarantine", frame)
    pd.testing.assert_frame_equal(again, frame)
    assert again["cleared_at"].tolist()[1] == pd.Timestamp("2026-11-30 09:30")


def test_a_missing_key_is_refused_even_when_the_column_is_held_right():
    frame = conform("quarantine", pd.DataFrame([QUARANTINED]))
    frame.loc[0, "file"] = None
    with pytest.raises(SchemaError, match="column 'file' is empty"):
        conform("quarantine", frame)


def test_rows_as_a_store_reads_them_make_the_frame_conform_makes_of_them():
    from layers.schema import LAYERS, from_rows

    columns = list(LAYERS["quarantine"].columns)
    rows = [tuple(QUARANTINED[c] for c in columns),
            tuple({**QUARANTINED, "row": 4, "source_id": None, "cleared_at": "2021-03-01T08:00:00.125+08:00"}[c]
                  for c in columns)]
    made = from_rows("quarantine", rows)
    pd.testing.assert_frame_equal(made, conform("quarantine", pd.DataFrame(rows, columns=columns)
                                                .assign(cleared_at=[None, pd.Timestamp("2021-03-01 08:00:00.125")])))
    assert made["source_id"].tolist() == ["GD1", None] and made["row"].dtype == "Int64"
    # What is not held as its column holds it is left to conform: converted, or refused with its reason.
    spreadsheet = from_rows("quarantine", [tuple(20210001 if c == "source_id" else QUARANTINED[c] for c in columns)])
    assert spreadsheet["source_id"].tolist() == ["20210001"]
    with pytest.raises(SchemaError, match="file"):
        from_rows("quarantine", [tuple(None if c == "file" else QUARANTINED[c] for c in columns)])
