"""The requests a serving process is answering, counted for its background work to give way to.

Through a real Flask app with ``in_flight.install``; the follower's side is ``dashboards.cache._give_way``.
"""

from __future__ import annotations

import threading
import time

import flask
import pytest

from dashboards import cache, in_flight

LONG_S = 10.0  # far more than any wait here should take: a test that waits so long has failed


@pytest.fixture
def slow_app():
    """An app whose ``/slow`` answers once ``release`` is set, saying first that it began (``entered``)."""
    app = flask.Flask(__name__)
    in_flight.install(app)
    app.entered, app.release = threading.Event(), threading.Event()

    @app.get("/slow")
    def slow():
        app.entered.set()
        app.release.wait(LONG_S)
        return "done"

    @app.get("/waits")
    def waits():  # as a push waits for its intake child
        with in_flight.waiting():
            app.entered.set()
            app.release.wait(LONG_S)
        return "done"

    @app.get("/fails")
    def fails():
        raise RuntimeError("boom")

    return app


def answered(app, path):
    """``path`` asked and its answer closed, as a server closes it once sent."""
    answer = app.test_client().get(path)
    answer.get_data()
    answer.close()
    return answer


def in_thread(app, path):
    answers = []
    thread = threading.Thread(target=lambda: answers.append(answered(app, path)))
    thread.start()
    assert app.entered.wait(LONG_S)
    return thread, answers


def follower_gives_way(seconds: float) -> dict:
    """``_give_way`` in a thread of its own, as the follower's: when it returned."""
    out: dict = {}

    def run():
        cache._giving_way.until = time.monotonic() + seconds
        cache._give_way()
        out["at"] = time.monotonic()

    out["thread"] = threading.Thread(target=run)
    out["thread"].start()
    return out


def test_a_request_counts_until_its_answer_is_closed_and_a_failed_one_too(slow_app):
    assert in_flight.count() == 0
    thread, answers = in_thread(slow_app, "/slow")
    assert in_flight.count() == 1
    slow_app.release.set()
    thread.join()
    assert answers[0].status_code == 200 and in_flight.count() == 0
    assert answered(slow_app, "/fails").status_code == 500
    assert in_flight.count() == 0


def test_the_follower_waits_between_steps_for_a_request_being_answered(slow_app):
    thread, _ = in_thread(slow_app, "/slow")
    follower = follower_gives_way(LONG_S)
    time.sleep(0.3)
    assert "at" not in follower  # still waiting: the request is being answered
    released = time.monotonic()
    slow_app.release.set()
    follower["thread"].join(LONG_S)
    thread.join()
    assert released <= follower["at"] < released + LONG_S / 2


def test_the_follower_waits_no_longer_than_its_follow_may(slow_app):
    thread, _ = in_thread(slow_app, "/slow")
    began = time.monotonic()
    follower = follower_gives_way(0.5)
    follower["thread"].join(LONG_S)
    assert 0.45 <= follower["at"] - began < LONG_S / 2 and thread.is_alive()  # gone on, the request still there
    slow_app.release.set()
    thread.join()


def test_a_request_waiting_for_another_process_does_not_hold_the_follower(slow_app):
    thread, _ = in_thread(slow_app, "/waits")
    follower = follower_gives_way(LONG_S)
    follower["thread"].join(LONG_S)
    assert "at" in follower and thread.is_alive() and in_flight.count() == 0
    slow_app.release.set()
    thread.join()
    assert in_flight.count() == 0


def test_outside_the_follower_nothing_waits(slow_app):
    thread, _ = in_thread(slow_app, "/slow")
    began = time.monotonic()
    cache._give_way()  # this thread is no follower: a request that wrote prepares its copy at once
    assert time.monotonic() - began < 0.1
    slow_app.release.set()
    thread.join()


def test_a_request_waiting_for_the_lock_a_giving_way_follower_holds_does_not_hold_it(slow_app, demo_gpkg):
    """The follower gives way while it holds the cache's lock; a request that must take the lock (a layer read
    again) waits for it uncounted, so the follower goes on at once instead of both waiting out the follow."""
    from layers.store import open_store

    held = cache.StoreCache()

    @slow_app.get("/layer")
    def layer():
        slow_app.entered.set()
        return str(len(held.layer(store, "streets")))

    with open_store(demo_gpkg[0]) as store:
        held._lock.acquire()
        try:
            thread, answers = in_thread(slow_app, "/layer")
            follower = follower_gives_way(LONG_S)
            began = time.monotonic()
            follower["thread"].join(LONG_S)
            assert follower["at"] - began < LONG_S / 2
        finally:
            held._lock.release()
        thread.join(LONG_S)
        assert answers[0].status_code == 200 and int(answers[0].data) > 0
