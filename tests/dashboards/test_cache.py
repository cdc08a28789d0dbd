"""The server's copy of a store: reused while the store is unchanged, read again after any write."""

import shutil
import threading
from datetime import date

from dashboards.cache import StoreCache
from layers.filters import CaseFilter
from layers.store import open_store

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
