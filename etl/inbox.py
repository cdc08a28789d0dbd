"""Drop folders: a channel's exports ingested as they arrive, each once, with its report beside it.

The inbox is a folder with one folder per source profile (``INBOX/hotline_12345/``,
or any folder holding its own ``profile.toml``). A file dropped there is taken once it
has settled: not changed for ``SETTLE_S`` seconds, and not named ``*.part`` or hidden (a
sender that writes slowly writes ``x.csv.part`` and renames it when done). It is
ingested through its profile, as ``onemap ingest`` would, then moved to ``done/`` with
its report (the ingest JSON) beside it, or to ``failed/`` with the reason when the file
cannot be read. A store that does not answer leaves the file where it is, for the next round.

Why a watcher killed at any moment leaves the store as one clean run would: an ingest
lands in one transaction and is an upsert by natural keys (a second ingest of the same
file changes nothing), and a file is moved only after its ingest committed. Killed
before the commit, the file is still in the inbox and is taken again; killed after it,
taking it again changes nothing. The report's name comes from the file's own name and
time, so a report written twice is one report.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from etl.ingest import ingest_many
from etl.profiles import Profile, read_profile
from layers.errors import BadInput, BadProfile, InvalidValue, StoreError
from layers.settings import SETTINGS
from layers.store import open_store

SETTLE_S, INTERVAL_S = SETTINGS.inbox_settle_s, SETTINGS.inbox_interval_s
DONE, FAILED = "done", "failed"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Seen:
    """A file as one look at the folder found it."""

    size: int
    mtime_ns: int


def settled(before: dict[Path, Seen], now_seen: dict[Path, Seen], now: float, settle_s: float) -> list[Path]:
    """The files to take: unchanged since the last look, and not modified for ``settle_s``."""
    return sorted(p for p, seen in now_seen.items()
                  if before.get(p) == seen and now - seen.mtime_ns / 1e9 >= settle_s)


def waiting(root: Path) -> dict[Path, Seen]:
    """Every file waiting in the inbox's profile folders (not the done or failed ones, not ``.part``)."""
    found = {}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in folder.iterdir():
            if (path.is_file() and not path.name.startswith(".") and not path.name.endswith(".part")
                    and path.name != "profile.toml"):
                with contextlib.suppress(FileNotFoundError):  # the sender took it back meanwhile
                    stat = path.stat()
                    found[path] = Seen(stat.st_size, stat.st_mtime_ns)
    return found


def profile_of(folder: Path) -> Profile:
    """The folder's profile: its own ``profile.toml``, else the shipped profile of the folder's name."""
    own = folder / "profile.toml"
    return read_profile(str(own) if own.exists() else folder.name)


def take(path: Path, store_spec: str) -> dict:
    """Ingest one settled file and move it, with its report, to ``done/`` (or ``failed/``); the report.

    A store error is raised (the file stays for the next round); anything about the file or its
    profile sends it to ``failed/`` with the reason.
    """
    stamp = datetime.fromtimestamp(path.stat().st_mtime).strftime("%Y%m%dT%H%M%S")
    try:
        profile = profile_of(path.parent)
        with open_store(store_spec) as store:
            report = {"ok": True, **ingest_many([(path, profile)], store).to_dict()}
        where = DONE
    except StoreError:
        raise
    except (BadInput, BadProfile, InvalidValue) as exc:
        report = {"ok": False, "error": exc.to_dict()}
        where = FAILED
    report["file"], report["taken_at"] = path.name, datetime.now().isoformat(timespec="seconds")
    target = path.parent / where
    target.mkdir(exist_ok=True)
    name = f"{stamp}_{path.name}"
    _write_atomically(target / f"{name}.json", json.dumps(report, ensure_ascii=False, indent=1))
    os.replace(path, target / name)
    return report


class Inbox:
    """Looks at the inbox every ``interval_s`` and takes each file that has settled."""

    def __init__(self, root, store_spec: str, *, settle_s: float = SETTLE_S, interval_s: float = INTERVAL_S,
                 report=print):
        self.root, self.store_spec = Path(root), store_spec
        self.settle_s, self.interval_s, self.report = settle_s, interval_s, report
        self._seen: dict[Path, Seen] = {}

    def look(self, *, now: float | None = None, once: bool = False) -> list[dict]:
        """Take what has settled since the last look (``once``: what has not changed for ``settle_s``)."""
        now_seen = waiting(self.root)
        before = now_seen if once else self._seen
        self._seen = now_seen
        taken = []
        for path in settled(before, now_seen, time.time() if now is None else now, self.settle_s):
            with contextlib.suppress(FileNotFoundError):  # the sender took it back meanwhile
                result = take(path, self.store_spec)
                self.report(result)
                taken.append(result)
                self._seen.pop(path, None)
        return taken

    def run(self, stop=None, *, parent: int | None = None) -> None:
        """Look until ``stop`` (a ``threading.Event``) is set, or the process ``parent`` (a server that started
        this watcher) is gone; a store that does not answer is asked again."""
        self.root.mkdir(parents=True, exist_ok=True)
        while (stop is None or not stop.is_set()) and (parent is None or os.getppid() == parent):
            try:
                self.look()
            except StoreError as exc:
                log.warning("inbox: the store did not answer (%s); the files wait", type(exc).__name__)
            if stop is not None:
                if stop.wait(self.interval_s):
                    return
            else:
                time.sleep(self.interval_s)


def _write_atomically(path: Path, text: str) -> None:
    part = path.with_name(path.name + ".part")
    part.write_text(text, encoding="utf-8")
    os.replace(part, path)

