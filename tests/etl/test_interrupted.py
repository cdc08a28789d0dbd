"""An ingest killed at any moment leaves the store as before it or as after it."""

import os
import signal
import subprocess
import sys
import time

import pytest

from layers.store import open_store

INGEST = """
import sys
from etl.ingest import ingest_many
from etl.profiles import read_profile
from layers.store import open_store
store = open_store(sys.argv[1])
ingest_many([(p, read_profile(c)) for c, p in zip(sys.argv[2::2], sys.argv[3::2])], store)
store.close()
print("done", flush=True)
"""


def run_ingest(spec, exports):
    args = [a for channel, path in exports.items() for a in (channel, str(path))]
    return subprocess.Popen([sys.executable, "-c", INGEST, spec, *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=os.getcwd(), start_new_session=True)


def geography_only(spec, built, *, reset=False):
    """The store holding the demo's geography and nothing else."""
    from etl.geography import load_geography

    with open_store(spec) as store:
        if reset:
            store.reset()
        load_geography(built["geography"], store)


def timed_clean_run(spec, built) -> float:
    """One ingest of every export, to its end; its seconds."""
    started = time.perf_counter()
    done = run_ingest(spec, built["exports"])
    assert done.wait(120) == 0, done.stderr.read().decode()
    return time.perf_counter() - started


def state(spec):
    with open_store(spec) as store:
        return {name: store.count(name) for name in ("cases", "case_sources", "quarantine")}


@pytest.mark.parametrize("backend", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_a_killed_ingest_never_leaves_half_a_batch(backend, demo_build, tmp_path, request):
    spec = str(tmp_path / "s.gpkg") if backend == "gpkg" else request.getfixturevalue("postgis_url")
    geography_only(spec, demo_build)
    empty = state(spec)
    full_run = timed_clean_run(spec, demo_build)
    after = state(spec)
    assert after["cases"] > 0

    outcomes = set()
    for fraction in (0.6, 0.9, 0.97):
        geography_only(spec, demo_build, reset=True)
        proc = run_ingest(spec, demo_build["exports"])
        time.sleep(full_run * fraction)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        now = state(spec)
        assert now in (empty, after), f"killed at {fraction:.0%} of a run: {now}"
        outcomes.add("after" if now == after else "before")
    assert "before" in outcomes  # the kills did land inside runs


def contents(spec):
    """What an ingest leaves that a rerun must reproduce: every case's key fields and the other layers' counts."""
    with open_store(spec) as store:
        cases = store.read("cases")
        rows = sorted(zip(cases["case_id"], cases["status"], cases["category"], cases["grid_cell"].fillna(""),
                          cases["channels"].fillna("")))
        return rows, {name: store.count(name) for name in ("case_sources", "quarantine")}


@pytest.mark.postgis
def test_an_ingest_through_a_postgres_restart_fails_cleanly_and_a_rerun_gives_one_clean_run(
        demo_build, postgis_url):
    from tests.conftest import postgres_stopped

    geography_only(postgis_url, demo_build)
    nothing = contents(postgis_url)
    full_run = timed_clean_run(postgis_url, demo_build)
    one_clean_run = contents(postgis_url)

    codes = []
    for fraction in (0.3, 0.9):
        geography_only(postgis_url, demo_build, reset=True)
        proc = run_ingest(postgis_url, demo_build["exports"])
        time.sleep(full_run * fraction)
        with postgres_stopped():
            code = proc.wait(120)
            time.sleep(1)
        error = proc.stderr.read().decode()
        codes.append(code)
        if code != 0:  # it failed, and said why: the store, not a crash somewhere inside
            assert "StoreUnreachable" in error and ("does not answer" in error or "failed" in error), error[-800:]
        assert contents(postgis_url) in (nothing, one_clean_run)  # no half-written batch
        rerun = run_ingest(postgis_url, demo_build["exports"])
        assert rerun.wait(120) == 0, rerun.stderr.read().decode()
        assert contents(postgis_url) == one_clean_run, f"stopped at {fraction:.0%} of a run"
    assert any(codes), "the stops landed inside the runs"
