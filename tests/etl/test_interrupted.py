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


def state(spec):
    with open_store(spec) as store:
        return {name: store.count(name) for name in ("cases", "case_sources", "quarantine")}


@pytest.mark.parametrize("backend", ["gpkg", pytest.param("postgis", marks=pytest.mark.postgis)])
def test_a_killed_ingest_never_leaves_half_a_batch(backend, demo_build, tmp_path, request):
    from etl.geography import load_geography

    spec = str(tmp_path / "s.gpkg") if backend == "gpkg" else request.getfixturevalue("postgis_url")
    with open_store(spec) as store:
        load_geography(demo_build["geography"], store)
    empty = state(spec)
    started = time.perf_counter()
    done = run_ingest(spec, demo_build["exports"])
    assert done.wait(120) == 0, done.stderr.read().decode()
    full_run = time.perf_counter() - started
    after = state(spec)
    assert after["cases"] > 0

    outcomes = set()
    for fraction in (0.6, 0.9, 0.97):
        with open_store(spec) as store:
            store.reset()
            load_geography(demo_build["geography"], store)
        proc = run_ingest(spec, demo_build["exports"])
        time.sleep(full_run * fraction)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(30)
        now = state(spec)
        assert now in (empty, after), f"killed at {fraction:.0%} of a run: {now}"
        outcomes.add("after" if now == after else "before")
    assert "before" in outcomes  # the kills did land inside runs
