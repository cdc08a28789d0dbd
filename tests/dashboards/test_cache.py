"""The server's copy of a store: reused while the store is unchanged, read again after any write."""

import shutil
import threading
from datetime import date

import pytest

from dashboards.cache import StoreCache
from layers.filters import CaseFilter
from layers.store import Condition, open_store
from tests.conftest import demo_copy

YEAR = CaseFilter(start=date(2020, 1, 1), end=date(2020, 12, 31))


def test_one_filters_cases_are_made_once_for_callbacks_asking_at_once(demo_gpkg):
    cache, made = StoreCache(check_s=0), []

    def make():
        made.append(1)
        return object()

    with open_store(demo_gpkg[0]) as store:
        answers = []
        threads = [threading.Thread(target=lambda: answers.append(cache.recent(store, ("cases", YEAR), make)))
                   for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(made) == 1 and answers[0] is answers[1] is answers[2]
        assert cache.recent(store, ("cases", YEAR.narrowed(street_code="330205003")), make) is not answers[0]
        assert len(made) == 2


def test_a_write_to_the_store_makes_the_held_copy_and_recent_answers_new(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    with open_store(str(path)) as store:
        before, _ = cache.cases(store)
        first = cache.recent(store, ("cases", YEAR), object)
        assert cache.cases(store)[0] is before and cache.recent(store, ("cases", YEAR), object) is first
        store.write_layer("case_sources", store.read("case_sources").iloc[:-1])
        assert cache.recent(store, ("cases", YEAR), object) is not first
        assert cache.cases(store)[0] is not before


def _walk_in(case_id: str, source_id: str, store):
    """A walk-in visit record of a stored case (its second visit, say)."""
    import pandas as pd

    record = store.read("case_sources", [Condition("channel", "=", "walk_in")]).iloc[[0]].copy()
    record["source_id"], record["case_id"], record["merged"] = source_id, case_id, True
    record["reported_at"] = pd.Timestamp("2020-12-30 10:00")
    return record


@pytest.mark.parametrize("kind", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_after_a_write_the_held_copy_gains_only_the_rows_it_changed(kind, demo_gpkg, tmp_path, request):
    import pandas as pd

    from dashboards.cache import _load_cases

    spec = demo_copy(kind, demo_gpkg, tmp_path, request)
    cache = StoreCache(check_s=0)
    with open_store(spec) as store:
        store.upsert("settings", pd.DataFrame([{"name": "x", "value": "1"}]))
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        before, visits_before = cache.cases(store)
        kept = before.copy(deep=True)
        ids = list(before["case_id"].astype(object))
        changed = store.read("cases", [Condition("case_id", "in", ids[5:7])])
        changed["status"], changed["closed_at"] = "closed", pd.Timestamp("2020-12-31 09:00")
        new = changed.iloc[[0]].copy()
        new["case_id"], new["category"], new["address"] = "walk_in:ZZ-NEW-1", "全新类别", "全新的地址1号"
        store.upsert_many({"cases": pd.concat([changed, new], ignore_index=True),
                           "case_sources": _walk_in("walk_in:ZZ-NEW-1", "ZZ-NEW-1", store)})
        after, visits_after = cache.cases(store)
        whole, whole_visits = _load_cases(store)
    # Changed in place, the new one at the end: the rows held keep their numbers.
    assert list(after["case_id"].astype(object)) == ids + ["walk_in:ZZ-NEW-1"]
    assert list(after["status"].astype(object)[5:7]) == ["closed", "closed"]
    assert after["category"].iat[-1] == "全新类别" and after["address"].iat[-1] == "全新的地址1号"
    # Nothing lost or wrong against a whole read, column by column.
    same = whole.set_index(whole["case_id"].astype(object)).loc[list(after["case_id"].astype(object))]
    for column in after.columns:
        assert list(after[column].astype(object).where(after[column].notna(), None)) == list(
            same[column].astype(object).where(same[column].notna(), None)), column
    assert len(visits_after) == len(visits_before) + 1 == len(whole_visits)
    assert after["case_id"].iat[visits_after["case_row"].iat[-1]] == "walk_in:ZZ-NEW-1"
    # The copy before the write is untouched: a request that began with it answers from it to its end.
    assert before.equals(kept)


def test_a_request_answers_from_one_copy_while_writes_land(demo_gpkg, tmp_path):
    import flask
    import pandas as pd

    from dashboards import cache as cache_module

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    app = flask.Flask(__name__)
    with open_store(str(path)) as store:
        with app.test_request_context("/"):
            first = cache.cases(store)[0]
            versions = cache.version(store, "cases")
            store.upsert("cases", store.read("cases").iloc[:3].assign(status="closed"))
            assert cache.cases(store)[0] is first and cache.version(store, "cases") == versions
            mask = cache.recent(store, ("mask", YEAR), lambda: YEAR.mask(cache.cases(store)[0]))
            assert len(mask) == len(first)
        with app.test_request_context("/"):  # the next request sees the write
            assert cache.cases(store)[0] is not first and cache.version(store, "cases") != versions
    assert cache_module._pinned() is None and isinstance(first, pd.DataFrame)
