"""Drop folders: each export dropped into its profile's folder is ingested once it has settled, then moved with
its report; a half-written file waits; a watcher killed at any moment and started again leaves the store as
one clean run would."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

from etl.inbox import Inbox, Seen, settled
from layers.store import open_store

CHANNELS = ("hotline_12345", "e_ningbo", "walk_in")


def geography_only(spec, built):
    from etl.geography import load_geography, load_responsibilities

    with open_store(spec) as store:
        load_geography(built["geography"], store)
        load_responsibilities(built["responsibilities"], store)


def drop(built, inbox: Path, channels=CHANNELS, *, age_s: float = 60) -> dict[str, Path]:
    """Copy each channel's export into its folder, last written ``age_s`` ago."""
    dropped = {}
    for channel in channels:
        folder = inbox / channel
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / Path(built["exports"][channel]).name
        shutil.copy(built["exports"][channel], path)
        then = time.time() - age_s
        os.utime(path, (then, then))
        dropped[channel] = path
    return dropped


def state(spec) -> dict:
    """What a run leaves: every case, intake record and quarantined row by its key."""
    with open_store(spec) as store:
        cases = store.read("cases")
        return {"cases": sorted(cases["case_id"]), "statuses": sorted(zip(cases["case_id"], cases["status"])),
                "case_sources": sorted(zip(*store.read("case_sources")[["source", "source_id", "case_id"]].T.values)),
                "quarantine": sorted(zip(*store.read("quarantine")[["source", "file", "row"]].T.values))}


def test_a_file_is_taken_once_unchanged_between_two_looks_and_settled():
    path = Path("inbox/hotline_12345/a.csv")
    growing = ({path: Seen(10, 1_000_000_000)}, {path: Seen(20, 2_000_000_000)})
    assert settled(*growing, now=100, settle_s=5) == []  # still being written
    still = {path: Seen(20, 2_000_000_000)}
    assert settled(still, still, now=4, settle_s=5) == []  # written 2 s ago: not yet
    assert settled(still, still, now=8, settle_s=5) == [path]
    assert settled({}, still, now=8, settle_s=5) == []  # seen for the first time: look again first


def test_dropped_exports_are_ingested_once_and_moved_with_their_reports(demo_build, tmp_path):
    spec, inbox = str(tmp_path / "store.gpkg"), tmp_path / "inbox"
    geography_only(spec, demo_build)
    dropped = drop(demo_build, inbox, ("hotline_12345", "walk_in"))
    # A file still arriving as .part, and one that is no export at all.
    part = inbox / "e_ningbo" / "today.json.part"
    part.parent.mkdir()
    shutil.copy(demo_build["exports"]["e_ningbo"], part)
    broken = inbox / "hotline_12345" / "broken.csv"
    broken.write_bytes(b"\x00\x01 not a hotline export")
    os.utime(broken, (time.time() - 60,) * 2)
    reports = []
    box = Inbox(inbox, spec, settle_s=5, report=reports.append)

    box.look(once=True)
    assert {r["file"] for r in reports} == {p.name for p in dropped.values()} | {"broken.csv"}
    for channel, path in dropped.items():
        done = inbox / channel / "done"
        (moved,) = [p for p in done.iterdir() if p.name.endswith(path.name)]
        report = json.loads(moved.with_name(moved.name + ".json").read_text(encoding="utf-8"))
        assert report["ok"] and report["rows_in"] == report["stored"] + report["merged"] + report["quarantined"] > 0
        assert not path.exists()
    failed = json.loads(next((inbox / "hotline_12345" / "failed").glob("*.json")).read_text(encoding="utf-8"))
    assert not failed["ok"] and "broken.csv" in failed["error"]["description"]
    assert part.exists()  # not read while it is a .part
    before = state(spec)

    part.rename(part.with_suffix(""))  # the sender is done
    os.utime(part.with_suffix(""), (time.time() - 60,) * 2)
    box.look(once=True)
    assert reports[-1]["file"] == "today.json" and reports[-1]["ok"]
    assert len(state(spec)["cases"]) > len(before["cases"])
    after = state(spec)
    box.look(once=True)  # nothing left to take
    assert state(spec) == after and len(reports) == 4


def test_a_watcher_killed_mid_file_and_started_again_leaves_the_store_as_one_clean_run(demo_build, tmp_path):
    clean, clean_inbox = str(tmp_path / "clean.gpkg"), tmp_path / "clean"
    geography_only(clean, demo_build)
    drop(demo_build, clean_inbox)
    started = time.perf_counter()
    one_run = subprocess.run([sys.executable, "-m", "onemap.cli", "watch", str(clean_inbox), "--store", clean,
                              "--once", "--json"], capture_output=True, text=True, timeout=300)
    took = time.perf_counter() - started
    assert one_run.returncode == 0, one_run.stderr
    expected = state(clean)

    for fraction in (0.35, 0.7):
        spec, inbox = str(tmp_path / f"killed{fraction}.gpkg"), tmp_path / f"inbox{fraction}"
        geography_only(spec, demo_build)
        drop(demo_build, inbox)
        watcher = subprocess.Popen([sys.executable, "-m", "onemap.cli", "watch", str(inbox), "--store", spec,
                                    "--settle", "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                   start_new_session=True)
        time.sleep(2 + took * fraction)  # the first look, then part of the way through the files
        os.killpg(watcher.pid, signal.SIGKILL)
        watcher.wait(30)
        again = subprocess.run([sys.executable, "-m", "onemap.cli", "watch", str(inbox), "--store", spec, "--once",
                                "--settle", "0"], capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert state(spec) == expected, fraction
        for channel in CHANNELS:  # each file taken, and reported, once
            left = [p.name for p in (inbox / channel).iterdir() if p.is_file()]
            done = sorted(p.name for p in (inbox / channel / "done").iterdir())
            assert left == [] and len(done) == 2 and pd.Series(done).str.endswith(".json").sum() == 1


def test_a_server_watching_an_inbox_serves_what_is_dropped_there(demo_build, tmp_path):
    import requests

    from demo.users import create_demo_users, demo_password
    from tests.conftest import serving

    spec, inbox = str(tmp_path / "store.gpkg"), tmp_path / "inbox"
    geography_only(spec, demo_build)
    with open_store(spec) as store:
        create_demo_users(store)
    with serving(spec, extra=("--inbox", str(inbox))) as url:
        def cases() -> int:
            answer = requests.get(f"{url}/ogcapi/collections/cases/items", params={"limit": 1},
                                  auth=("commander", demo_password("commander")), timeout=60)
            return answer.json()["numberMatched"]

        assert cases() == 0
        drop(demo_build, inbox, ("walk_in",))
        for _ in range(120):
            if cases():
                break
            time.sleep(1)
        assert cases() > 0
        assert list((inbox / "walk_in" / "done").glob("*.json"))
