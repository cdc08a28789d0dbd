"""Property-based: whatever rows a file holds, reading and checking it never crashes and loses no row."""

import csv
import io
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.normalise import normalise
from etl.profiles import read_profile
from etl.read import ReadError, read_export

PROFILE = read_profile("e_ningbo")
COLUMNS = ["事件ID", "上报时间", "事件类别", "事件描述", "经度", "纬度", "详细地址", "手机号", "处理状态",
           "分派时间", "完成时间", "受理层级", "办结层级", "就地化解"]
# Cells as they come: plausible values, near misses, and plain junk.
cell = st.one_of(
    st.sampled_from(["", "2020-05-01T09:00:00", "2020-02-30T10:00:00", "121.55", "29.90", "0", "-1e308", "nan",
                     "inf", "１２１．５５", "已完成", "不知道", "村社", "是", "=HYPERLINK(\"x\")", "邻里纠纷"]),
    st.text(max_size=30),
    st.text(alphabet="0123456789.-eE ,\"\n", max_size=12),
)
row = st.lists(cell, min_size=len(COLUMNS) - 2, max_size=len(COLUMNS) + 2)


def _check(path):
    try:
        raw, _ = read_export(path, PROFILE)
    except ReadError:
        return None  # a whole file refused with one clear error is a fair outcome
    records, quarantine = normalise(raw, PROFILE, path.name)
    assert len(records) + len(quarantine) == len(raw)
    assert quarantine["message"].str.contains(r"第\d+行").all()
    return raw


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=25), encoding=st.sampled_from(["utf-8", "utf-8-sig", "gb18030"]))
def test_any_csv_rows_are_read_or_refused_and_every_row_is_accounted_for(rows, encoding, tmp_path):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    writer.writerows(rows)
    path = tmp_path / "fuzz.csv"
    path.write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    raw = _check(path)
    if raw is not None:
        # Only rows with nothing in them are dropped (blank lines); a multi-line cell is still one row.
        assert len(raw) == sum(1 for r in rows if any(c != "" for c in r))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(records=st.lists(st.one_of(st.dictionaries(st.sampled_from(COLUMNS), cell, max_size=len(COLUMNS)),
                                  st.integers(), st.none(), st.lists(st.integers(), max_size=3)), max_size=20))
def test_any_json_records_are_read_or_refused_and_every_record_is_accounted_for(records, tmp_path):
    profile = read_profile("video_mediation")
    path = tmp_path / "fuzz.json"
    path.write_text(json.dumps({"records": records}, ensure_ascii=False), encoding="utf-8")
    try:
        raw, _ = read_export(path, profile)
    except ReadError:
        return
    good, quarantine = normalise(raw, profile, path.name)
    assert len(raw) == len(records) and len(good) + len(quarantine) == len(records)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400))
def test_random_bytes_never_crash_the_reader(data, tmp_path):
    path = tmp_path / "junk.csv"
    path.write_bytes(data)
    _check(path)
