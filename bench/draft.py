"""Benchmark: `onemap profile draft` on a 1 000 000-row export.

Run by hand: ``.venv/bin/python bench/draft.py [--rows 1000000] [--runs 5]``; ``--small``: 10 000 rows,
one run (``bench/run_small.py``).
The export is ``bench/ingest_1m.py``'s: a grid-platform CSV over the demo district. Timed twice: the
command as a person runs it (a new process: Python, imports and all), and the draft alone in this
process (``etl.draft.draft``). Only a bounded sample of the file is read, so the time should not grow
with the file. Checks that the draft reads as a profile and says what the shipped one says.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record  # noqa: E402
from ingest_1m import synthetic_export  # noqa: E402

from demo.build import build_demo  # noqa: E402
from etl.draft import draft  # noqa: E402
from etl.profiles import read_profile  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--small", action="store_true", help="10 000 rows, one run")
    args = parser.parse_args()
    if args.small:
        args.rows, args.runs = 10_000, 1
    record(["numpy", "pandas", "pyproj", "openpyxl"])
    tmp = Path(tempfile.mkdtemp(prefix="onemap-bench-draft-"))
    built = build_demo(tmp / "demo", seed=2020, until="2020-02-01")
    export = synthetic_export(built["district"], args.rows, tmp / "四平台事件导出_1m.csv")
    print(f"{args.rows} rows, {export.stat().st_size / 1e6:.0f} MB CSV")
    times = {"command": [], "draft": []}
    out = tmp / "draft.toml"
    for run in range(args.runs):
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "onemap.cli", "profile", "draft", str(export), "--out", str(out)],
                       cwd=ROOT, check=True, capture_output=True)
        times["command"].append(time.perf_counter() - t)
        t = time.perf_counter()
        result = draft(export)
        times["draft"].append(time.perf_counter() - t)
        print(f"run {run + 1}: command {times['command'][-1]:.2f} s, draft {times['draft'][-1]:.2f} s", flush=True)
    profile, shipped = read_profile(str(out)), read_profile("grid_platform")
    check(profile.channel == "grid_platform" and profile.location.datum == "cgcs2000",
          f"drafted channel {profile.channel}, datum {profile.location.datum}")
    check(profile.columns == shipped.columns, f"drafted columns {profile.columns}, shipped {shipped.columns}")
    check(profile.vocab["status"] == shipped.vocab["status"],
          f"drafted statuses {profile.vocab['status']}, shipped {shipped.vocab['status']}")
    check(result.undecided == [], f"undecided: {result.undecided}")
    for name, values in times.items():
        print(f"{name:8s} median {statistics.median(values):5.2f} s  runs {[round(v, 2) for v in values]}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
