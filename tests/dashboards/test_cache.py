"""The server's copy of a store: reused while the store is unchanged, read again after any write."""

import shutil
import threading
from datetime import date

import pandas as pd
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


def test_what_lasts_is_made_once_per_version_of_its_layers_and_not_again_at_a_write_of_cases(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache, made = StoreCache(check_s=0), []

    def make():
        made.append(1)
        return object()

    with open_store(str(path)) as store:
        of = ("grid_cells", "epoch:cases")
        first = cache.lasting(store, of, ("panel", "09:00"), make)
        assert cache.lasting(store, of, ("panel", "09:00"), make) is first and len(made) == 1
        assert cache.lasting(store, of, ("panel", "09:01"), make) is not first  # the key says how long it lasts
        case = store.read("cases").iloc[:1]
        store.upsert("cases", case.assign(case_id="NEW-1"))  # new cases: kept
        assert cache.lasting(store, of, ("panel", "09:00"), make) is first and len(made) == 2
        store.write_layer("grid_cells", store.read("grid_cells"))  # a layer it is made of: made again
        again = cache.lasting(store, of, ("panel", "09:00"), make)
        assert again is not first and len(made) == 3
        store.write_layer("cases", store.read("cases"))  # every case written again (a new epoch): made again
        assert cache.lasting(store, of, ("panel", "09:00"), make) is not again and len(made) == 4


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


def _as_objects(frame):
    """A frame's values column by column as Python objects, None where missing (dtypes aside)."""
    return {c: list(frame[c].astype(object).where(frame[c].notna(), None)) for c in frame.columns}


def test_copies_followed_one_after_another_share_arrays_and_each_keeps_its_rows(demo_gpkg, tmp_path):
    import numpy as np
    import pandas as pd

    from dashboards.cache import _load_cases

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        copies = [cache.cases(store)[0]]
        n = len(copies[0])
        open_row = int(np.flatnonzero((copies[0]["status"] != "closed").to_numpy())[0])
        template = store.read("cases").iloc[[3]].assign(status="reported")
        # New case A; an open case closed and new case B; A closed; new case C.
        for step in range(4):
            rows = []
            if step in (1, 2):
                case_id = copies[0]["case_id"].iat[open_row] if step == 1 else "walk_in:ZZ-A"
                rows.append(store.read("cases", [Condition("case_id", "=", case_id)]).assign(
                    status="closed", closed_at=pd.Timestamp("2020-12-31 09:00")))
            if step != 2:
                new_id = f"walk_in:ZZ-{'A B C'.split()[min(step, 2)]}"
                rows.append(template.assign(case_id=new_id, address=f"全新的地址{step}号",
                                            reporter_phone=f"1990000000{step}"))
            store.upsert("cases", pd.concat(rows, ignore_index=True))
            copies.append(cache.cases(store)[0])
        kept = [_as_objects(c) for c in copies]
        whole, _ = _load_cases(store)
    # Each new case at the end, each change where its case is; the last copy as a whole read has it.
    assert [len(c) for c in copies] == [n, n + 1, n + 2, n + 2, n + 3]
    ids = list(copies[-1]["case_id"].astype(object))
    assert ids[n:] == ["walk_in:ZZ-A", "walk_in:ZZ-B", "walk_in:ZZ-C"]
    assert [c["status"].iat[open_row] == "closed" for c in copies] == [False, False, True, True, True]
    assert [c["status"].iat[n] for c in copies[1:]] == ["reported", "reported", "closed", "closed"]
    same = _as_objects(whole.set_index(whole["case_id"].astype(object)).loc[ids].reset_index(drop=True))
    assert _as_objects(copies[-1]) == same
    # Every copy still holds what it held when it was made, though the later ones were written after it ...
    assert [_as_objects(c) for c in copies] == kept
    # ... and the copies of consecutive follows share what they did not change, not a copy per write.
    assert np.shares_memory(copies[3]["lon"].to_numpy(), copies[4]["lon"].to_numpy())
    assert np.shares_memory(copies[3]["case_id"].array.codes, copies[4]["case_id"].array.codes)
    assert not np.shares_memory(copies[1]["status"].array.codes, copies[2]["status"].array.codes)


def test_a_follow_not_kept_leaves_the_next_one_from_the_same_copy_right(demo_gpkg):
    import pandas as pd

    from dashboards.cache import _Follow, _held_cases, _plain_cases, _with_rows

    with open_store(demo_gpkg[0]) as store:
        plain = _plain_cases(store.read("cases")).sort_values("case_id", ignore_index=True)
    first, second = plain.iloc[[-2]].copy(), plain.iloc[[-1]].copy()
    first["address"], second["address"] = "只在没留下的那份里", "留下的这份"
    follow = _Follow()
    held = _with_rows(_held_cases(plain.iloc[:-3].copy()), plain.iloc[[-3]], follow)  # a copy followed once
    before = _as_objects(held)
    _with_rows(held, first, follow)  # made, then not kept (say the follow failed after it)
    again = _with_rows(held, second, follow)
    assert _as_objects(held) == before
    assert _as_objects(again) == _as_objects(_held_cases(pd.concat([plain.iloc[:-2], second], ignore_index=True)))
    assert "只在没留下的那份里" not in set(again["address"].cat.categories)
    # What the copy not kept added is not believed later: the next follow codes its address afresh.
    third = _with_rows(again, first, follow)
    assert third["address"].iat[-1] == "只在没留下的那份里" and third["address"].iat[-2] == "留下的这份"


def test_the_follow_grows_categories_without_pandas_checking_them_all_again():
    import pandas as pd

    # dashboards.cache._unchecked_dtype: without it a follow still works, but hashes a million ids a write.
    assert hasattr(pd.CategoricalDtype, "_from_fastpath")


def test_a_request_that_reads_no_cases_leaves_the_copy_as_it_was_for_those_that_do(demo_gpkg, tmp_path):
    import flask

    from dashboards import cache as cache_module

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    app = flask.Flask(__name__)
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        first = cache.cases(store)[0]
        store.upsert("cases", store.read("cases").iloc[:3].assign(status="closed"))
        # A push, or the gate looking up its user: layers only. The copy is neither pinned nor brought up to date.
        with app.test_request_context("/"):
            cache.layer(store, "users")
            cache.layer(store, "api_keys")
            assert cache.cases_held(store)[0] is first
            assert cache_module._pinned()[store.url][1] is None
        # The next request that shows cases brings it up to date, and keeps that copy to its end.
        with app.test_request_context("/"):
            cache.layer(store, "users")
            followed = cache.cases(store)[0]
            assert followed is not first and (followed["status"].iloc[:3] == "closed").all()
            assert cache.cases_held(store)[0] is followed and cache.cases(store)[0] is followed


def test_versions_read_before_another_request_brought_the_copy_up_to_date_answer_with_that_copy(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])
        seen = store.data_versions()  # a request read these, then another brought the copy past them
        store.upsert("cases", store.read("cases").iloc[:3].assign(status="closed"))
        now = cache.cases(store)[0]
        at, copy, _ = cache._cases_at(store, seen)
    assert copy[0] is now and int(at["seq:changes"]) > int(seen["seq:changes"])  # not read whole again


def test_a_filters_cases_are_made_while_another_thread_brings_the_copy_up_to_date(demo_gpkg):
    cache = StoreCache(check_s=0)
    with open_store(demo_gpkg[0]) as store:
        cache.cases(store)
        answers = []
        with cache._lock:  # held, as by a follow of a write (or a whole read) in another thread
            asking = threading.Thread(target=lambda: answers.append(cache.recent(store, ("mask", YEAR), lambda: 7)))
            asking.start()
            asking.join(timeout=20)
            assert not asking.is_alive() and answers == [7]  # answered from the copy held, not after the follow
        # Many filters made at once by many threads: each keeps its own, none trips over another's pruning.
        errors = []

        def ask(n):
            try:
                for i in range(200):
                    assert cache.recent(store, ("n", n, i), lambda: (n, i)) == (n, i)
            except Exception as exc:  # noqa: BLE001 - any failure of a thread is the test's failure
                errors.append(exc)
        threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []


def test_a_follower_brings_the_copy_up_to_date_and_requests_never_ask_the_store(demo_gpkg, tmp_path):
    import time

    import flask

    from dashboards.table import ordered

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0.1)
    app = flask.Flask(__name__)
    by_time = [{"column_id": "reported_at", "direction": "desc"}]
    with open_store(str(path)) as store, open_store(str(path)) as other:  # other: another process's writes
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        asked_by = []
        asks = store.data_versions
        store.data_versions = lambda: (asked_by.append(threading.current_thread().name), asks())[1]
        cache.holds_cases(store)
        with app.test_request_context("/"):
            first = cache.cases(store)[0]
            cache.derived(store, ("sorted",), lambda cases: ordered(cases, by_time))
        assert cache.keep_following(store) and not cache.keep_following(store)  # one follower a process
        try:
            asked_by.clear()
            new = other.read("cases").iloc[:2].assign(case_id=["F-1", "F-2"], reported_at=pd.Timestamp("2031-01-01"))
            other.upsert("cases", new)
            deadline = time.monotonic() + 10
            while "F-2" not in set(cache.cases_held(store)[0]["case_id"]) and time.monotonic() < deadline:
                with app.test_request_context("/"):
                    cache.cases(store)  # a request meanwhile: the copy as the follower last left it
                time.sleep(0.02)
            followed = cache.cases_held(store)[0]
            assert followed is not first and {"F-1", "F-2"} <= set(followed["case_id"])
            # What a request asked for lately was made again for the new copy, before any request asked.
            order = cache._derived[(store.url, ("sorted",))]
            assert order[3] is followed and set(followed["case_id"].iloc[order[1][0][:2]]) == {"F-1", "F-2"}
            assert asked_by and set(asked_by) == {"onemap-follow"}  # never the requests' thread
        finally:
            cache.stop_following(store)
            time.sleep(0.3)
        # Stopped: a request asks the store itself again.
        asked_by.clear()
        with app.test_request_context("/"):
            time.sleep(0.2)
            cache.cases(store)
        assert asked_by == [threading.current_thread().name]


def test_the_follower_makes_again_only_what_was_asked_for_lately_and_forgets_the_rest(demo_gpkg, tmp_path):
    from dashboards import cache as cache_module

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    made = []
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        cache.holds_cases(store)
        # A request may send any sort: twelve orders asked for, one after another.
        for n in range(12):
            cache.derived(store, ("sorted", n), lambda cases, n=n: made.append(n) or len(cases))
        made.clear()
        store.upsert("cases", store.read("cases").iloc[:3].assign(status="closed"))
        cache.follow_now(store)
        assert sorted(made) == list(range(12 - cache_module.MAKERS_MAX, 12))  # the latest asked, made again
        assert {key for _, key in cache._derived} == {("sorted", n) for n in range(12 - cache_module.MAKERS_MAX, 12)}


def test_an_answer_asked_again_and_again_is_made_for_each_new_copy_before_a_request_sees_it(demo_gpkg, tmp_path):
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache, made = StoreCache(check_s=0), []
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        cache.cases(store)

        def view(name):
            def make():
                cases = cache.cases(store)[0]
                made.append(name)
                return name, len(cache.layer(store, "streets")), int((cases["status"] == "closed").sum())
            return make

        for _ in range(2):  # a screen refreshing: one view asked again within two follows' time
            cache.answer(store, ("view", "wall"), view("wall"))
        cache.answer(store, ("view", "person"), view("person"))  # a person's view, asked once
        made.clear()
        # A write of cases and of a layer the view reads: the follower takes both in.
        store.upsert("cases", store.read("cases").iloc[:40].assign(status="closed"))
        store.write_layer("streets", store.read("streets").iloc[:-1])
        cache.follow_now(store)
        assert made == ["wall"]  # made by the follower for the new copy; not the view asked once
        closed = int((cache.cases(store)[0]["status"] == "closed").sum())
        assert cache.answer(store, ("view", "wall"), view("wall")) == ("wall", len(store.read("streets")), closed)
        assert made == ["wall"]  # the request found it made, of the copy it sees
        cache.answer(store, ("view", "person"), view("person"))
        assert made == ["wall", "person"]


def test_a_store_that_keeps_the_follower_waiting_is_said_to_be_unreachable(demo_gpkg, tmp_path):
    import time

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0.2)
    answer = threading.Event()
    with open_store(str(path)) as store:
        asks = store.data_versions
        cache.cases(store)
        assert cache.keep_following(store)
        try:
            time.sleep(0.3)
            assert cache.unreachable_since(store) is None
            answer.clear()
            store.data_versions = lambda: (answer.wait(10), asks())[1]  # a database gone: its pool waits
            time.sleep(1.0)
            since = cache.unreachable_since(store)
            assert since is not None and cache.cases(store)[0] is not None  # the copy held is still shown
            answer.set()  # back
            time.sleep(0.5)
            assert cache.unreachable_since(store) is None
        finally:
            answer.set()
            cache.stop_following(store)
            time.sleep(0.3)


def test_a_write_while_the_follower_asks_is_shown_at_the_next_request(demo_gpkg, tmp_path):
    import time

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0.2)
    go, asked_by = threading.Event(), []
    with open_store(str(path)) as store:
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        asks = store.data_versions
        cache.cases(store)
        go.clear()

        def slow():  # the follower's ask reads the versions, then is slow to come back
            asked_by.append(threading.current_thread().name)
            seen = asks()
            if threading.current_thread().name == "onemap-follow":
                go.wait(10)
            return seen
        store.data_versions = slow
        assert cache.keep_following(store)
        try:
            time.sleep(0.3)  # the follower is waiting with what it read
            store.upsert("cases", store.read("cases").iloc[:3].assign(status="closed"))  # this process writes
            cache.written(store)
            assert "MainThread" in asked_by  # the write's own request asked, and brought the copy up to date
            go.set()  # the follower's answer, from before the write, comes back
            time.sleep(0.3)  # and is not taken for the store's state: the copy stays at the write
            assert (cache.cases(store)[0]["status"].iloc[:3] == "closed").all()
        finally:
            go.set()
            cache.stop_following(store)
            time.sleep(0.3)


def test_under_a_stream_of_writes_the_follower_takes_them_in_every_follow_s(demo_gpkg, tmp_path):
    import time

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0.05, follow_s=1.5)
    with open_store(str(path)) as store, open_store(str(path)) as other:  # other: another process's writes
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        cache.holds_cases(store)
        cache.cases(store)
        row = other.read("cases").iloc[:1]

        def held_ids():
            return set(cache.cases_held(store)[0]["case_id"])

        def wait_for(case_id, seconds):
            deadline = time.monotonic() + seconds
            while case_id not in held_ids() and time.monotonic() < deadline:
                time.sleep(0.01)
            return case_id in held_ids()

        assert cache.keep_following(store)
        try:
            time.sleep(0.2)
            other.upsert("cases", row.assign(case_id="S-1"))  # after a quiet spell: taken in within check_s
            assert wait_for("S-1", 1.0)
            followed = time.monotonic()
            other.upsert("cases", row.assign(case_id="S-2"))  # the next of a stream waits for follow_s
            assert not wait_for("S-2", 0.8)
            assert wait_for("S-2", 3.0) and time.monotonic() - followed >= 1.4
        finally:
            cache.stop_following(store)
            time.sleep(0.3)


def test_a_request_that_wrote_brings_the_copy_up_to_date_before_it_answers_and_no_other_request_waits(
        demo_gpkg, tmp_path):
    import time

    import flask

    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0)
    app = flask.Flask(__name__)
    with open_store(str(path)) as store, open_store(str(path)) as other:  # other: another process's writes
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        row = store.read("cases").iloc[:1]
        with app.test_request_context("/"):
            first = cache.cases(store)[0]

        def while_a_follow_runs(do):
            holding = threading.Event()

            def follower():  # bringing the copy up to date in its thread
                with cache._lock:
                    holding.set()
                    time.sleep(0.5)
            threading.Thread(target=follower).start()
            holding.wait()
            began = time.monotonic()
            with app.test_request_context("/"):
                done = do()
            return done, time.monotonic() - began

        def ids():
            return set(cache.cases(store)[0]["case_id"])

        other.upsert("cases", row.assign(case_id="O-1"))  # another process wrote: the copy held answers at once
        seen, waited = while_a_follow_runs(ids)
        assert "O-1" not in seen and waited < 0.4 and len(seen) == len(first)
        time.sleep(0.6)
        # This process wrote: the request that wrote waits for the follow under way, then brings the copy up to date.
        store.upsert("cases", row.assign(case_id="W-1"))
        _, waited = while_a_follow_runs(lambda: cache.written(store))
        assert waited >= 0.4
        # Any request after it sees what it wrote, and waits for nothing, even while the follower works.
        seen, waited = while_a_follow_runs(ids)
        assert {"O-1", "W-1"} <= seen and waited < 0.4


def test_the_follower_takes_a_write_in_once_the_request_being_answered_is_done(demo_gpkg, tmp_path, monkeypatch):
    """Between its steps the follower waits for the requests its process is answering (``dashboards.in_flight``),
    for ``GIVE_WAY_S`` at most: a request that arrives mid-follow waits for one step, not for all of them."""
    import time

    import flask

    from dashboards import cache as cache_module
    from dashboards import in_flight

    monkeypatch.setattr(cache_module, "GIVE_WAY_S", 2.0)
    path = tmp_path / "copy.gpkg"
    shutil.copy(demo_gpkg[0], path)
    cache = StoreCache(check_s=0.05, follow_s=0.05)
    app = flask.Flask(__name__)
    in_flight.install(app)
    entered, release = threading.Event(), threading.Event()

    @app.get("/slow")
    def slow():
        entered.set()
        release.wait(10)
        return "done"

    def asked():
        answer = app.test_client().get("/slow")
        answer.close()  # as a server closes it once sent: then the request is over

    with open_store(str(path)) as store, open_store(str(path)) as other:  # other: another process's writes
        store.upsert("cases", store.read("cases").iloc[:1])  # the store now has change numbers
        row = store.read("cases").iloc[:1]
        cache.holds_cases(store)
        cache.cases(store)

        def taken_in(case_id, seconds):
            deadline = time.monotonic() + seconds
            while case_id not in set(cache.cases_held(store)[0]["case_id"]) and time.monotonic() < deadline:
                time.sleep(0.01)
            return case_id in set(cache.cases_held(store)[0]["case_id"])

        assert cache.keep_following(store)
        try:
            other.upsert("cases", row.assign(case_id="G-1"))  # nobody being answered: taken in within check_s
            assert taken_in("G-1", 1.0)
            request = threading.Thread(target=asked)
            request.start()
            assert entered.wait(5)
            other.upsert("cases", row.assign(case_id="G-2"))
            assert not taken_in("G-2", 0.8)  # the follower waits for the request
            release.set()
            request.join()
            assert taken_in("G-2", 1.0)
        finally:
            release.set()
            cache.stop_following(store)
            time.sleep(0.3)
