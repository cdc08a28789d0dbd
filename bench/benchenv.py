"""What every bench prints beside its figures, and what the benches share.

- ``record(libraries)``: the command as run, the code measured (the checkout and its commit), the
  versions of the libraries the figures depend on, the machine (cores, memory) and its load
  average now and again when the process ends. The figures in ``bench/README.md`` quote these lines.
- ``wait_listening(process, url)``: wait for a server started by a bench, failing clearly if it died.
- ``fail(message)``: a wrong result ends the bench with exit status 1 (``bench/run_small.py`` counts it).
- ``small_demo_store(path)``: a demo store of a few weeks, for the small modes.
"""

from __future__ import annotations

import atexit
import importlib
import importlib.metadata
import importlib.util
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import requests

# Import name -> distribution name, where they differ.
_DISTRIBUTIONS = {"psycopg_pool": "psycopg-pool"}


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(_DISTRIBUTIONS.get(name, name))
    except importlib.metadata.PackageNotFoundError:
        return "absent"


def _native(name: str) -> list[str]:
    """The C libraries under some of the Python ones, which move figures as much as the Python side."""
    try:
        if name == "shapely":
            return [f"GEOS {importlib.import_module('shapely').geos_version_string}"]
        if name == "pyogrio":
            return [f"GDAL {importlib.import_module('pyogrio').__gdal_version_string__}"]
        if name == "pyproj":
            return [f"PROJ {importlib.import_module('pyproj').proj_version_str}"]
    except Exception:  # noqa: BLE001 - a version line must never stop a bench
        return []
    return []


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} {five:.2f} {fifteen:.2f}"


def code_under_test() -> str:
    """The checkout whose ``dashboards`` package is imported (``PYTHONPATH`` may point at another), its commit."""
    try:
        spec = importlib.util.find_spec("dashboards")
        root = Path(spec.origin).resolve().parents[1]
    except Exception:  # noqa: BLE001
        return "unknown"
    try:
        commit = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                                text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no", "--",
                                "dashboards", "layers", "gis", "etl", "onemap", "demo"], capture_output=True,
                               text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return str(root)
    return f"{root} at {commit or '?'}{' with uncommitted changes' if dirty else ''}"


def postgres_version(url: str) -> str:
    try:
        import psycopg

        with psycopg.connect(url, connect_timeout=5) as conn:
            server = conn.execute("SHOW server_version").fetchone()[0].split()[0]
            postgis = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'postgis'").fetchone()
        return f"PostgreSQL {server}, PostGIS {postgis[0] if postgis else 'absent'}"
    except Exception as exc:  # noqa: BLE001
        return f"PostgreSQL unreachable ({type(exc).__name__})"


def chromium_version() -> str:
    try:
        return subprocess.run(["chromium", "--version"], capture_output=True, text=True, timeout=30).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "chromium absent"


def record(libraries=(), *, postgres: str | None = None, chromium: bool = False) -> None:
    """Print the command, the code, the versions, the machine and its load; the load again at exit."""
    command = " ".join(shlex.quote(a) for a in getattr(sys, "orig_argv", [sys.executable, *sys.argv]))
    if os.environ.get("PYTHONPATH"):
        command = f"PYTHONPATH={os.environ['PYTHONPATH']} {command}"
    print(f"# command: (cd {os.getcwd()} && {command})")
    print(f"# code: {code_under_test()}")
    versions = [f"Python {sys.version.split()[0]}"]
    for name in libraries:
        versions.append(f"{name} {_version(name)}")
        versions += _native(name)
    if postgres:
        versions.append(postgres_version(postgres))
    if chromium:
        versions.append(chromium_version())
    print(f"# versions: {', '.join(versions)}")
    memory = ""
    try:
        total = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal"))
        memory = f", {int(total.split()[1]) / 1024 ** 2:.1f} GB memory"
    except (OSError, StopIteration):
        pass
    print(f"# machine: {os.cpu_count()} cores{memory}; load average (1, 5, 15 min) at start {load()}", flush=True)
    started = time.perf_counter()
    atexit.register(lambda: print(f"# load average at end {load()} ({time.perf_counter() - started:.0f} s after start)",
                                  flush=True))


class Watch:
    """What else the machine did while a bench was timing: the load average sampled every 5 s, and the CPU
    time (core-seconds, from ``/proc``) used by this bench's processes (``pids()``: itself, its server and
    the server's workers), by PostgreSQL, and by everything else (another engineer's tests, say)."""

    def __init__(self, pids):
        self.pids = pids
        self.samples: list[float] = []

    @staticmethod
    def _busy() -> int:
        v = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
        return sum(v) - v[3] - v[4]  # all but idle and iowait

    @staticmethod
    def _jiffies(pid) -> int:
        try:
            text = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0
        rest = text[text.rindex(")") + 2:].split()
        return int(rest[11]) + int(rest[12])  # utime + stime

    def _parts(self):
        ours = sum(self._jiffies(p) for p in self.pids())
        postgres = 0
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    if (entry / "comm").read_text().strip() == "postgres":
                        postgres += self._jiffies(entry.name)
                except OSError:
                    pass
        return self._busy(), ours, postgres

    def __enter__(self):
        import threading

        self.stopped = threading.Event()

        def sample():
            while not self.stopped.wait(5.0):
                self.samples.append(os.getloadavg()[0])

        self.thread = threading.Thread(target=sample, daemon=True)
        self.thread.start()
        self.t0, self.start = time.perf_counter(), self._parts()
        return self

    def __exit__(self, *exc):
        end = self._parts()
        seconds = time.perf_counter() - self.t0
        self.stopped.set()
        tick = os.sysconf("SC_CLK_TCK")
        busy, ours, postgres = ((b - a) / tick for a, b in zip(self.start, end))
        others = max(0.0, busy - ours - postgres)
        loads = self.samples or [os.getloadavg()[0]]
        self.summary = (f"machine during the timing ({seconds:.0f} s, {os.cpu_count()} cores = "
                        f"{seconds * os.cpu_count():.0f} core-s): busy {busy:.0f} core-s, of which this bench and "
                        f"its server {ours:.0f}, PostgreSQL {postgres:.0f} (all its clients), everything else "
                        f"{others:.0f}; load average (1 min) {min(loads):.1f}-{max(loads):.1f}, "
                        f"mean {sum(loads) / len(loads):.1f}")
        return False


def children(pid: int) -> list[int]:
    """The processes ``pid`` started, from any of its threads (a worker's request thread starts its intake child)."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    """Every process under ``pid``: its children, theirs (a server's workers and their intake children) and so on."""
    found, todo = [], children(pid)
    while todo:
        found.append(todo.pop())
        todo.extend(children(found[-1]))
    return found


def cpu_s(pid: int) -> float:
    """The CPU time (user and system) a process has used so far; 0 for one gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime and stime, fields 14 and 15


def fail(message: str):
    print(f"FAILED: {message}", file=sys.stderr, flush=True)
    raise SystemExit(1)


def check(condition, message: str) -> None:
    if not condition:
        fail(message)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(spec: str, port: int, log: Path, *extra: str, env: dict | None = None) -> subprocess.Popen:
    """``onemap serve`` of ``spec`` on loopback, its output to ``log``, with the morning briefs off (nine briefs
    over a million cases would run during the timing); ``env``: variables set for it besides this process's."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as out:
        return subprocess.Popen([sys.executable, "-m", "onemap.cli", "serve", "--store", spec, "--port", str(port),
                                 "--brief-at", "off", *extra], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})


def _status_mb(pid: int, field: str, name: str = "status") -> float:
    try:
        line = next(x for x in Path(f"/proc/{pid}/{name}").read_text().splitlines() if x.startswith(field + ":"))
        return int(line.split()[1]) / 1024
    except (OSError, StopIteration):
        return 0.0


def rss_mb(pid: int) -> str:
    """A server's memory: the resident set of its main process; with workers (gunicorn), also the
    proportional set size summed over all its processes (shared pages counted once)."""
    try:
        children = [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        children = []
    text = f"{_status_mb(pid, 'VmRSS'):.0f} MB resident"
    if children:
        pss = sum(_status_mb(p, "Pss", "smaps_rollup") for p in [pid, *children])
        text += f" in the main process, {pss:.0f} MB PSS over it and its {len(children)} workers"
    return text


def wait_listening(process: subprocess.Popen, url: str, timeout: float = 300.0, path: str = "/login",
                   log: Path | None = None) -> float:
    """Seconds until the server at ``url`` answers ``path``; fails if ``process`` exits or ``timeout`` passes.

    The server reads its copy of the cases before it listens: about a minute over a million cases on two cores.
    """
    started = time.perf_counter()

    def tail():
        if log and log.exists():
            return "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-20:])
        return ""

    while True:
        code = process.poll()
        if code is not None:
            fail(f"the server exited with status {code} before it listened at {url}{tail()}")
        try:
            requests.get(url + path, timeout=5)
            return time.perf_counter() - started
        except requests.RequestException:
            pass
        if time.perf_counter() - started > timeout:
            stop(process)
            fail(f"the server did not listen at {url} within {timeout:.0f} s{tail()}")
        time.sleep(0.5)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def small_demo_store(path: Path, until: str = "2020-03-01") -> Path:
    """A GeoPackage demo store of the first two months of 2020 (about 4 700 cases, users and remediations),
    built through the real ETL; reused if it is there. About 15 s to build."""
    if path.exists():
        return path
    import tempfile

    from demo.build import build_demo
    from demo.remediations import create_demo_remediations
    from demo.users import create_demo_users
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest_many
    from etl.profiles import read_profile
    from layers.store import open_store

    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.stem + ".part" + path.suffix)
    partial.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="onemap-bench-small-") as folder:
        built = build_demo(Path(folder) / "demo", seed=2020, until=until)
        with open_store(str(partial)) as store:
            load_geography(built["geography"], store)
            load_responsibilities(built["responsibilities"], store)
            ingest_many([(p, read_profile(c)) for c, p in built["exports"].items()], store)
            create_demo_remediations(store)
            create_demo_users(store)
    partial.rename(path)
    return path
