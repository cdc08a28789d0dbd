"""The morning run, made by the server: each day at a set time, the blind-spot register brought up to date
with the rules' findings, then the district's brief and each street's, archived in the store so the day's
brief reads as it was made.

Each brief is made by ``onemap brief`` in a process of its own: the server
keeps to reading its GeoPackage (a write from the serving process would go
through a second SQLite library beside GDAL's), and a brief that fails cannot
take the server with it. A server started after the hour makes the day's
briefs at once if the district's is not yet in the store.
"""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import datetime, time, timedelta

from layers.brief import archived
from layers.errors import InvalidValue
from layers.settings import SETTINGS
from layers.store import StoreError, open_store

BRIEF_TIMEOUT_S = SETTINGS.brief_timeout_s
# A run that made not even the district's brief is tried again this long after, this many times a day.
RETRY_S, TRIES = SETTINGS.brief_retry_s, SETTINGS.brief_tries


def parse_hour(text: str | None) -> time | None:
    """``07:30`` → 07:30; ``off`` or nothing → None (no scheduled briefs)."""
    if not text or str(text).lower() == "off":
        return None
    try:
        return time.fromisoformat(text)
    except ValueError:
        raise InvalidValue(f"not a time of day (HH:MM, or off): {text!r}") from None


def next_run(now: datetime, at: time, made_today: bool) -> datetime:
    """When the briefs are next due: today at ``at`` (or at once, if that is past and today's are not
    made), else tomorrow at ``at``."""
    today = datetime.combine(now.date(), at)
    if not made_today:
        return max(now, today)
    return today + timedelta(days=1) if now >= today else today


class BriefSchedule:
    """A daemon thread making the briefs of each day at ``at``."""

    def __init__(self, store_spec: str, at: time, *, log=print):
        self.store_spec, self.at, self.log = store_spec, at, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="brief-schedule", daemon=True)

    def start(self) -> "BriefSchedule":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        last = None  # the day last made: made once a day, even when a street's brief failed
        tries, tries_day = 0, None
        while not self._stop.is_set():
            now = datetime.now()
            try:
                made = last == now.date() or self._made(now.date())
            except StoreError as exc:  # the store is down: ask again in a while
                self.log(f"briefs: the store did not answer ({exc})")
                if self._stop.wait(RETRY_S):
                    return
                continue
            due = next_run(now, self.at, made)
            if self._stop.wait(max(0.0, (due - now).total_seconds())):
                return
            tries = 1 if tries_day != due.date() else tries + 1
            tries_day = due.date()
            if "district" in self.make(due.date(), datetime.now()) or tries >= TRIES:
                last = due.date()
            elif self._stop.wait(RETRY_S):  # not even the district's: the store may be down; try again
                return

    def _made(self, day) -> bool:
        with open_store(self.store_spec) as store:
            return archived(store, day, "district") is not None

    def make(self, day, as_of: datetime) -> list[str]:
        """Make and archive the district's and every street's brief of ``day`` as of ``as_of``; the areas made."""
        try:
            with open_store(self.store_spec) as store:
                streets = list(store.read("streets")["street_code"])
        except StoreError as exc:
            self.log(f"briefs of {day}: the store did not answer ({exc})")
            return []
        # The register of blind spots is brought up to date first: the day's work starts from today's findings.
        found = subprocess.run([sys.executable, "-m", "onemap.cli", "blindspots", "record", "--store", self.store_spec],
                               capture_output=True, text=True, timeout=BRIEF_TIMEOUT_S)
        self.log(f"blind spots of {day}: " + (found.stdout.strip() if found.returncode == 0 else
                                              f"not recorded: {found.stderr.strip()[-300:]}"))
        made = []
        for street in [None, *streets]:
            command = [sys.executable, "-m", "onemap.cli", "brief", "--date", day.isoformat(),
                       "--as-of", as_of.strftime("%Y-%m-%d %H:%M:%S"), "--store", self.store_spec]
            done = subprocess.run(command + (["--street", street] if street else []), capture_output=True, text=True,
                                  timeout=BRIEF_TIMEOUT_S)
            if done.returncode != 0:
                self.log(f"brief of {day} for {street or 'the district'} failed: {done.stderr.strip()[-300:]}")
                continue
            made.append(street or "district")
        self.log(f"briefs of {day} made as of {as_of:%H:%M}: {len(made)} of {len(streets) + 1}")
        return made
