"""A primary PostgreSQL cluster and a hot standby streaming from it, made for one test and removed after.

A cluster of its own, not the shared one at 5432: a test may stop this primary (what a primary's
failure looks like from the product) without stopping anybody else's database. Made as Debian's
binaries make one, as the ``postgres`` user (the server refuses to run as root): ``initdb``, then
``pg_basebackup -R`` for the standby, which writes the standby's connection to the primary itself.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

BIN = Path(os.environ.get("ONEMAP_PG_BIN", "/usr/lib/postgresql/15/bin"))
NEEDED = ("initdb", "pg_ctl", "pg_basebackup", "postgres")
DATABASE = "test"


def missing() -> str | None:
    """Why a replica cannot be made here (one line), or None."""
    absent = [name for name in NEEDED if not (BIN / name).is_file()]
    if absent:
        return f"PostgreSQL binaries missing in {BIN}: {', '.join(absent)}"
    if os.geteuid() != 0 or not shutil.which("runuser"):
        return "making a PostgreSQL cluster needs root and runuser (it runs as the postgres user)"
    try:
        import pwd

        pwd.getpwnam("postgres")
    except KeyError:
        return "no postgres user to run a PostgreSQL cluster as"
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_postgres(*command, **kwargs) -> subprocess.CompletedProcess:
    # From /: the postgres user may not be allowed into the test's working directory.
    done = subprocess.run(["runuser", "-u", "postgres", "--", *map(str, command)], capture_output=True, text=True,
                          cwd="/", **kwargs)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(map(str, command))} failed: {done.stderr.strip()[-1500:]}")
    return done


@dataclass
class Cluster:
    """One PostgreSQL server: its data folder, its port, its log."""

    data: Path
    port: int

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{DATABASE}"

    def start(self) -> None:
        # -w: back when the server accepts connections (a standby: when it accepts reads).
        _as_postgres(BIN / "pg_ctl", "start", "-w", "-t", "60", "-D", self.data, "-l", self.data / "server.log")

    def stop(self) -> None:
        """A fast stop: its clients are cut off, as when the machine's database service goes down."""
        _as_postgres(BIN / "pg_ctl", "stop", "-w", "-m", "fast", "-D", self.data)

    def running(self) -> bool:
        return subprocess.run(["runuser", "-u", "postgres", "--", str(BIN / "pg_ctl"), "status", "-D",
                               str(self.data)], capture_output=True).returncode == 0

    def execute(self, query: str, params=()):
        """One statement on its own connection (autocommit); the first row, if any."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True, connect_timeout=5) as conn:
            cur = conn.execute(query, params)
            return cur.fetchone() if cur.description else None


@dataclass
class Replicated:
    """A primary and its hot standby; ``primary.url`` takes writes, ``standby.url`` answers reads."""

    primary: Cluster
    standby: Cluster

    def caught_up(self, timeout: float = 30) -> None:
        """Wait until the standby has replayed everything the primary has written so far."""
        target = self.primary.execute("SELECT pg_current_wal_lsn()::text")[0]
        deadline = time.monotonic() + timeout
        while not self.standby.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,))[0]:
            if time.monotonic() > deadline:
                raise TimeoutError(f"the standby did not replay up to {target} in {timeout} s")
            time.sleep(0.05)

    @contextlib.contextmanager
    def primary_stopped(self):
        """The primary stopped for the block, started again after, whatever the block does."""
        self.primary.stop()
        try:
            yield
        finally:
            if not self.primary.running():
                self.primary.start()


_SETTINGS = """
listen_addresses = '127.0.0.1'
port = {port}
unix_socket_directories = '{sockets}'
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
synchronous_commit = on
full_page_writes = off
shared_buffers = 32MB
max_connections = 40
logging_collector = off
"""


@contextlib.contextmanager
def replicated():
    """A fresh primary with PostGIS in database ``test``, and a hot standby of it; both removed after."""
    root = Path(tempfile.mkdtemp(prefix="onemap-replica-"))
    shutil.chown(root, "postgres", "postgres")
    primary = Cluster(root / "primary", _free_port())
    standby = Cluster(root / "standby", _free_port())
    sockets = root / "sockets"
    sockets.mkdir()
    shutil.chown(sockets, "postgres", "postgres")
    started = []
    try:
        # fsync off, no sync at initdb: a test's cluster need not survive a power cut, only a stop.
        _as_postgres(BIN / "initdb", "-D", primary.data, "-U", "postgres", "-A", "trust", "-E", "UTF8",
                     "--locale=C.UTF-8", "--no-sync")
        with open(primary.data / "postgresql.conf", "a") as conf:
            conf.write(_SETTINGS.format(port=primary.port, sockets=sockets))
        with open(primary.data / "pg_hba.conf", "a") as hba:
            hba.write("host replication all 127.0.0.1/32 trust\n")
        primary.start()
        started.append(primary)
        subprocess.run(["runuser", "-u", "postgres", "--", str(BIN / "psql"), "-h", "127.0.0.1", "-p",
                        str(primary.port), "-d", "postgres", "-qc", f"CREATE DATABASE {DATABASE}"],
                       check=True, capture_output=True, cwd="/")
        primary.execute("CREATE EXTENSION postgis")
        # -R writes standby.signal and primary_conninfo: the copy starts as a standby of the primary.
        _as_postgres(BIN / "pg_basebackup", "-R", "-D", standby.data, "-h", "127.0.0.1", "-p", primary.port,
                     "-U", "postgres", "-X", "stream", "-c", "fast", "--no-sync")
        with open(standby.data / "postgresql.conf", "a") as conf:
            conf.write(f"port = {standby.port}\n")
        standby.start()
        started.append(standby)
        pair = Replicated(primary, standby)
        pair.caught_up()
        yield pair
    finally:
        for cluster in reversed(started):
            with contextlib.suppress(RuntimeError):
                if cluster.running():
                    cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
