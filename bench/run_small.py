"""Every bench in its small mode, each in its own process, so that none can rot unseen.

    .venv/bin/python bench/run_small.py [--keep] [--only NAME,NAME]

Each bench runs with ``--small`` (a few thousand points, cases or requests; the real code path end to
end: the ETL, the stores, the server over HTTP, PostGIS, Chromium) under this interpreter, from the
checkout root. A bench fails by its exit status: each checks its own results (identical assignments,
every row accounted for, every answer 200, round trips within a millimetre...). Prints each one's time
and result, then exits 1 if any failed. The small stores are built afresh in ``bench/out`` (``--keep``
reuses them), so a change to the schema or the ETL shows here too. About 3-4 minutes on two cores.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
# In this order: the first to need a small store builds it; dashboard_1m's is reused by the three after it.
BENCHES = ["assign", "fuzz_readers", "ingest", "ingest_1m", "dashboard_1m", "analysis_1m", "export_1m", "load",
           "export_roundtrip", "briefs", "requests_pg", "logins", "write_small", "freshness", "stream", "follow", "draft",
           "first_visit", "push", "after_write", "codes", "province", "counted_views", "ab", "tallies"]
SMALL_STORES = ["dashboard_small.gpkg", "demo_small.gpkg"]
TIMEOUT_S = 600


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="reuse the small stores in bench/out if they are there")
    parser.add_argument("--only", help="comma-separated bench names")
    parser.add_argument("--verbose", "-v", action="store_true", help="print every bench's output, not only failures'")
    args = parser.parse_args(argv)
    names = args.only.split(",") if args.only else BENCHES
    unknown = [n for n in names if n not in BENCHES]
    if unknown:
        parser.error(f"no such bench: {', '.join(unknown)}")
    if not args.keep:
        for name in SMALL_STORES:
            for path in (BENCH / "out").glob(name.replace(".gpkg", "*")):
                path.unlink()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"{len(names)} benches, small mode, {sys.executable}; load average {load}", flush=True)
    results = []
    started = time.perf_counter()
    for name in names:
        t = time.perf_counter()
        try:
            done = subprocess.run([sys.executable, str(BENCH / f"{name}.py"), "--small"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=TIMEOUT_S)
            code, out = done.returncode, done.stdout + done.stderr
        except subprocess.TimeoutExpired as exc:
            code = "timeout"
            out = f"{exc.stdout or ''}{exc.stderr or ''}\n(no result after {TIMEOUT_S} s)"
            out = out if isinstance(out, str) else out.decode(errors="replace")
        seconds = time.perf_counter() - t
        ok = code == 0
        lines = [line for line in out.splitlines() if line.strip() and not line.startswith("#")]
        summary = lines[-1] if lines else ""
        print(f"{'ok  ' if ok else 'FAIL'} {name:17s} {seconds:6.1f} s  {summary[:140]}", flush=True)
        if not ok or args.verbose:
            print("\n".join(f"     | {line}" for line in out.splitlines()[-40:]), flush=True)
        results.append((name, ok, seconds))
    failed = [name for name, ok, _ in results if not ok]
    print(f"{len(results) - len(failed)} of {len(results)} passed in {time.perf_counter() - started:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else ""), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
