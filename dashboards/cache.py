"""What the dashboard server holds in memory of each store, and how it stays true to the store.

A filter change must answer in well under a second over a million cases, so
the server does not read them again for every click: it keeps one compact
copy of the cases per store (text columns as categoricals, the long
description left out), the walk-in visits, and the geography layers. Before
it answers from them it asks the store for its data versions (one small
read, at most once per ``CHECK_S``); a write anywhere (an ingest, an
unmerge, another server) changes a version and the layers it touched are
read again. If the store cannot be reached, what is held is served as it
was and :meth:`StoreCache.unreachable_since` says since when, for the page's
banner; the next check that reaches the store ends it. A store that reads from
a replica may answer while its primary takes no writes:
:meth:`StoreCache.writes_paused_since` says so, for the intake-paused banner.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from datetime import datetime

import flask
import numpy as np
import pandas as pd
import shapely

from dashboards import in_flight
from gis.datums import METRIC_CRS
from gis.heat import to_metric
from layers.glossary import remember_channels
from layers.settings import SETTINGS
from layers.store import Condition, Store, StoreError

log = logging.getLogger(__name__)

CHECK_S = SETTINGS.cache_check_s
FOLLOW_S = SETTINGS.follow_s
# How long the probe of a primary waits for an answer; in the background, so no page waits for it.
PROBE_TIMEOUT_S = 2.0
# How long a filter's cases are reused, and for how many filters at most: the callbacks of one
# filter change ask for the same ones, overdue moves with the clock, and each may be a million rows.
RECENT_S = SETTINGS.cache_recent_s
# How long the follower keeps making a derived value (a table's sort order) for each new copy since a request last
# asked for it: the next table asked for after a write then finds it made.
MAKERS_KEPT_S = 300.0
MAKERS_MAX = 8
# The answers the follower makes for each new copy before requests see it: those asked at least twice within
# two follows' time (a screen refreshing faster than writes come), at most this many, most lately asked first.
WATCHED_MAX = 4
# The most a follow waits, in all, between its steps for the requests being answered (``_give_way``): what a
# stream of requests that never pauses may add to a write's freshness.
GIVE_WAY_S = 0.5
RECENT_MAX = SETTINGS.cache_recent_max
ANSWERS_MAX = 64
LASTING_MAX = 64
_NONE = object()
# What the dashboard reads of a case; the rest (free text, intake details) is read from the store when a case is opened.
_KEPT = ("case_id", "kind", "category", "channel", "channels", "reported_at", "closed_at", "due_at", "status",
         "level", "resolved_in_place", "reporter_phone", "grid_cell", "community_code", "street_code",
         "responsible_unit", "address", "estate_id", "setback_area", "component_id", "outside_grid", "district_code",
         "geometry")
# The columns of a held case (what a feed may filter cases on): the kept ones and the coordinates made of the point.
HELD_COLUMNS = (*_KEPT, "lon", "lat", "x_m", "y_m")
_TEXT = ("case_id", "reporter_phone", "address", "estate_id", "setback_area", "component_id")
_CATEGORICAL = ("kind", "category", "channel", "channels", "status", "level", "grid_cell", "community_code",
                "street_code", "responsible_unit", "district_code")


class StoreCache:
    def __init__(self, check_s: float = CHECK_S, hold_max: int = SETTINGS.hold_max, follow_s: float = FOLLOW_S):
        self.check_s, self.hold_max, self.follow_s = check_s, hold_max, follow_s
        self._holds: dict[str, bool] = {}  # url → whether this server holds the store's cases
        # Re-entrant: what the follower makes of a new copy before it is published (``_prepare``), under this
        # lock, may read a layer the same follow moved.
        self._lock = threading.RLock()
        self._versions: dict[str, tuple[float, dict, datetime]] = {}  # url → (checked at, versions, answered at)
        self._unreachable: dict[str, datetime] = {}  # url → when the store last answered
        self._written: dict[str, float] = {}  # url → when (monotonic) this process last wrote to the store
        self._unshown: dict[str, int] = {}  # url → the change number of this process's last write left to the follower
        self._asking: dict[str, float] = {}  # url → since when (monotonic) the store is being asked for its versions
        self._held: dict[tuple[str, str], tuple] = {}  # (store url, what) → (version, value)
        self._recent: dict[tuple, tuple[float, object]] = {}  # (store url, versions, key) → (made at, value)
        self._answers: dict[tuple, tuple[float, object]] = {}  # (store url, versions, key) → (made at, value)
        self._making: dict[tuple, threading.Lock] = {}
        self._lasting: dict[tuple, object] = {}  # (store url, versions of some layers, key) → value
        # The bookkeeping of ``recent`` and what ``derived`` makes, each under a lock of its own: never the one a
        # follow or a whole read holds for as long as they take, which every callback would otherwise wait for.
        self._recent_lock = threading.Lock()
        # (store url, key) → (versions made for, value, lineage, cases, (versions, value) of the copy before or None)
        self._derived: dict[tuple, tuple] = {}
        self._deriving = threading.Lock()
        # Whether each store's primary takes writes (a store reading from a replica): url → since when it has
        # not, the last time it did, and the probe under way or last begun (its process, when begun, running).
        self._paused: dict[str, datetime] = {}
        self._took_writes: dict[str, datetime] = {}
        self._probing: dict[str, tuple[int, float, bool]] = {}
        self._probe_lock = threading.Lock()
        # A serving process's follower (``keep_following``): the stores (url, pid) a thread of this process asks
        # for their versions and follows; and what each derived value is made and followed with, and when last asked.
        self._following: set[tuple[str, int]] = set()
        self._makers: dict[tuple, tuple] = {}  # (store url, key) → (make, follow, last asked, monotonic)
        self._watched: dict[tuple, tuple] = {}  # (store url, key) → (make, the two last asks, monotonic)

    def cases(self, store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The store's cases and their walk-in visit records: within a request, the copy it began with.

        Read whole in case-id order at first; after a write, the rows it changed are applied (a case
        changed in place, a new one at the end), so the rows of a copy keep their numbers in the next.
        """
        if not self.holds_cases(store):
            raise RuntimeError(f"this server holds no cases of {store.url}: the view asks the store")
        self.layer(store, "channels")  # the titles of channels profiles brought, for every page (read on change)
        return self._snapshot(store)[1]

    def cases_held(self, store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The copy of the cases as this process holds it, without asking whether the store moved since.

        For what a copy a moment behind answers as well (the categories a push may name): a request that
        writes then neither waits for the copy to be brought up to date nor does it itself; the requests
        that show cases do (``cases``). Read whole if nothing is held yet.
        """
        held = self._held.get((store.url, "cases"))
        if held is not None:
            return held[1]
        return self._cases_at(store, self._checked(store))[1]

    def _snapshot(self, store: Store) -> tuple[dict, tuple, _Follow]:
        """(versions, cases, lineage) of the current request: the copy it first asked for, whatever lands
        after. The lineage is the same object for copies brought up to date one from another (their rows
        keep their numbers), a new one for a copy read whole.

        Outside a request, the copy at the store's versions now. Only the requests that read cases pin a
        copy (and may bring it up to date first); one that reads only layers (a push's key, the gate's
        user) does not.
        """
        pinned = _pinned()
        if pinned is not None and store.url in pinned and pinned[store.url][1] is not None:
            return pinned[store.url]
        versions = self._current(store)
        at, value, lineage = self._cases_at(store, versions)
        # The copy held may be a moment behind (being brought up to date): its case versions, the rest as pinned.
        versions = {**versions, **{k: v for k, v in at.items() if k in _CASE_VERSIONS}}
        if pinned is not None:
            pinned[store.url] = (versions, value, lineage)
        return versions, value, lineage

    def _cases_at(self, store, versions, *, prepare: bool = False, wait: bool = False
                  ) -> tuple[dict, tuple, _Follow]:
        """(the versions the copy is at, the copy, its lineage) for ``versions``; while another thread brings
        the copy up to date, the one held is answered with its own versions instead of waiting.

        ``prepare`` (the follower's, a writer's): a new copy is published only once what requests will ask of it
        is made (``_prepare``); until then they answer from the copy before, as they do while it is being made.
        ``wait`` (a writer's): for a follow under way, which may have asked for the versions before the write."""
        key = (store.url, "cases")
        want = (versions.get("cases"), versions.get("case_sources"))
        held = self._held.get(key)
        # A copy already past ``versions`` (another request brought it up to date after these were read)
        # answers too: going back would mean reading the store whole.
        if held is not None and (held[0] == want or _follows(versions, held[2])):
            return held[2], held[1], held[3]
        # While another thread brings the copy up to date, the one held answers.
        if not self._lock.acquire(blocking=False):
            if not (held is None or wait):
                return held[2], held[1], held[3]
            with in_flight.waiting():  # the follower, giving way to requests, must not wait for this one
                self._lock.acquire()
        try:
            held = self._held.get(key)
            if held is None or held[0] != want:
                value = None
                if held is not None and _follows(held[2], versions):
                    _give_way()
                    try:
                        value = _apply_changes(held[1], store, int(held[2]["seq:changes"]), held[3])
                    except StoreError:
                        return held[2], held[1], held[3]  # the store went away mid-way: what is held stands
                    follow = held[3]
                if value is None:
                    follow = _Follow()
                    value = _load_cases(store, follow)
                    # What was made for the copies before is not brought up to date from them (rows renumbered),
                    # and would keep the last of them in memory: dropped with them.
                    with self._deriving:
                        self._derived = {k: v for k, v in self._derived.items() if k[0] != store.url}
                # What a follow keeps for the next goes with the copy; a copy read whole starts its own.
                held = (want, value, dict(versions), follow)
                if prepare:
                    self._prepare(store, held)
                self._held[key] = held
        finally:
            self._lock.release()
        return held[2], held[1], held[3]

    def holds_cases(self, store: Store) -> bool:
        """Whether this server holds the store's cases: up to ``ONEMAP_HOLD_MAX`` of them (as the store estimates),
        decided at the first ask. Above, it holds none, and a view asks the store (``dashboards.selection``)."""
        held = self._holds.get(store.url)
        if held is None:
            held = self._holds[store.url] = store.estimated_count("cases") <= self.hold_max
        return held

    def warm(self, store: Store) -> None:
        """Read the cases (where it holds them) and the layers every page asks for, before the first person does."""
        if self.holds_cases(store):
            self.cases(store)
        for name in ("streets", "communities", "grid_cells", "setback_areas", "users", "kiosks", "responsibilities",
                     "channels"):
            self.layer(store, name)

    def recent(self, store: Store, key: tuple, make):
        """``make()`` for ``key`` under the current data versions, made once and reused for ``RECENT_S``.

        The map's, the charts' and the table's callbacks of one filter change ask for the same
        filter's cases at once: the first makes them, the others wait for it.
        """
        versions = self._snapshot(store)[0] if self.holds_cases(store) else self._current(store)
        return self._reused(self._recent, RECENT_MAX,
                            (store.url, versions.get("cases"), versions.get("case_sources"), key), make)

    def answer(self, store: Store, key: tuple, make):
        """``make()`` for ``key`` under the current versions of every layer, made once and reused for ``RECENT_S``:
        a small answer made of the cases and the other layers (a view's tiles and map), asked again and again
        for one view (every wall of an area, a screen that refreshes). ``ANSWERS_MAX`` are kept, apart from the
        filters' cases (``recent``), which are large: the people changing filters do not push these out.

        An answer asked at least twice within two follows' time is watched: the follower makes it for each
        new copy before requests see the copy (``_prepare``), so that a write costs its askers no more than
        a quiet moment does."""
        versions = self._snapshot(store)[0] if self.holds_cases(store) else self._current(store)
        if getattr(_preparing, "snapshot", None) is None:
            self._asked(store, key, make)
        return self._reused(self._answers, ANSWERS_MAX, (store.url, tuple(sorted(versions.items())), key), make)

    def _asked(self, store: Store, key: tuple, make) -> None:
        now = time.monotonic()
        with self._recent_lock:
            before = self._watched.pop((store.url, key), None)
            self._watched[(store.url, key)] = (make, (before[1][1] if before else None, now))
            if len(self._watched) > ANSWERS_MAX:  # the oldest asked go first (a dict keeps its order of insertion)
                del self._watched[next(iter(self._watched))]

    def _watched_now(self, store: Store) -> list[tuple]:
        """(key, make) of the answers of ``store`` asked twice within two follows' time, most lately asked first."""
        now, within = time.monotonic(), 2 * max(self.check_s, self.follow_s)
        with self._recent_lock:
            for k in [k for k, (_, asks) in self._watched.items() if now - asks[1] > within]:
                del self._watched[k]
            mine = [(key, make, asks) for (url, key), (make, asks) in self._watched.items() if url == store.url]
        watched = [(key, make) for key, make, asks in sorted(mine, key=lambda m: -m[2][1])
                   if asks[0] is not None and now - asks[0] <= within]
        return watched[:WATCHED_MAX]

    def _prepare(self, store: Store, held: tuple) -> None:
        """What requests will ask of a new copy (``held``), made before they see it: the derived values asked
        lately (a table's sort order) and the watched answers (``answer``). Made as a request of that copy
        makes them, pinned to it; what fails here is made by the request that asks, as it would have been."""
        _preparing.snapshot = {store.url: (held[2], held[1], held[3])}
        try:
            for key, (make, follow, asked) in self._asked_lately(store):
                _give_way()
                self.derived(store, key, make, follow, asked=asked)
            for key, make in self._watched_now(store):
                _give_way()
                self.answer(store, key, make)
        except Exception:  # noqa: BLE001 — the copy is published all the same
            log.warning("making what %s's new copy will be asked for failed", store.url, exc_info=True)
        finally:
            _preparing.snapshot = None

    def lasting(self, store: Store, of: tuple[str, ...], key: tuple, make):
        """``make()`` for ``key``, made once per version of the layers ``of`` and kept while they stay as they are:
        what a stream of new cases need not be made again for at every write (the wall's remediation panel, the
        cells that became hot). ``of`` may name ``epoch:cases``, which only a whole rewrite of the cases moves;
        the caller puts in ``key`` the time it is made for, cut to how long it may be kept (a minute, five).
        ``LASTING_MAX`` are kept, then all are dropped."""
        full = (store.url, tuple(self.version(store, name) for name in of), key)
        with self._recent_lock:
            lock = self._making.setdefault(full, threading.Lock())
        with lock:  # the walls of one area ask at once: one makes it, the others wait for it
            with self._recent_lock:
                found = self._lasting.get(full, _NONE)
            if found is _NONE:
                found = make()
                with self._recent_lock:
                    if len(self._lasting) >= LASTING_MAX:
                        self._lasting.clear()
                    self._lasting[full] = found
            with self._recent_lock:
                self._making.pop(full, None)
            return found

    def _reused(self, kept: dict, most: int, key: tuple, make):
        with self._recent_lock:
            lock = self._making.setdefault(key, threading.Lock())
        with lock:
            now = time.monotonic()
            made = kept.get(key)
            if made is None or now - made[0] > RECENT_S:
                made = (now, make())
                with self._recent_lock:  # other keys' makers prune too
                    fresh = sorted((k for k, v in kept.items() if now - v[0] <= RECENT_S), key=lambda k: kept[k][0])
                    for k in set(kept) - set(fresh[-(most - 1):]):
                        del kept[k]
                    kept[key] = made
                    self._making = {k: v for k, v in self._making.items()
                                    if k in self._recent or k in self._answers or v.locked()}
        return made[1]

    def layer(self, store: Store, name: str) -> pd.DataFrame:
        """A geography layer as stored; grid cells carry their area in km² (``area_km2``)."""
        return self._get(store, name, self._current(store).get(name), lambda s: _load_layer(s, name))

    def derived(self, store: Store, key: tuple, make, follow=None, *, asked: float | None = None):
        """``make(cases)`` over the held cases, made once per version of them (a sort order, say).

        ``follow(value, before, cases)``: the value made for ``before``, an earlier copy that ``cases`` was
        brought up to date from (the same rows under the same numbers, some changed, more at the end), for
        ``cases``: what a write changed, instead of all of it made again at every write.
        """
        self._makers[(store.url, key)] = (make, follow, time.monotonic() if asked is None else asked)
        versions, (cases, _), lineage = self._snapshot(store)
        held = self._derived.get((store.url, key))
        if held is not None and _same_cases(held[0], versions):
            return held[1]
        with self._deriving:  # one at a time; a request waiting here finds it made
            held = self._derived.get((store.url, key))
            if held is not None and _same_cases(held[0], versions):
                return held[1]
            if held is not None and _follows(versions, held[0]):
                # This request's copy is older than the one the value is held for. Under a stream of writes,
                # the usual case is a request that began while another brought the copy up to date: the value
                # before is kept for it (made again, a table's sort order of a million rows took 100-150 ms).
                if held[4] is not None and _same_cases(held[4][0], versions):
                    return held[4][1]
                return make(cases)
            if follow is not None and held is not None and held[2] is lineage and _follows(held[0], versions):
                value = follow(held[1], held[3], cases)
            else:
                value = make(cases)
            before = (held[0], held[1]) if held is not None and held[2] is lineage else None
            self._derived[(store.url, key)] = (versions, value, lineage, cases, before)
        return value

    def derived_layer(self, store: Store, name: str, key: tuple, make):
        """``make()`` for a layer, made once per version of the layer and ``key`` (the cells' GeoJSON, say)."""
        return self._get(store, (name, key), self._current(store).get(name), lambda s: make())

    def written(self, store: Store, *, shown: bool = True) -> None:
        """This process just wrote to the store.

        ``shown``, a page's write (a remediation step, a user's key): the request that wrote brings the copy up
        to date before it answers (waiting for a follow under way), and makes what the new copy will be asked
        for (``_prepare``), so that what it wrote shows at the next request and no other request waits for it
        or makes it. Not ``shown``, a channel system's push, which no page of this process waits to see: the
        follower takes it in at its next turn, as every other process's does, giving way to requests; until
        then ``behind`` says so, and what reads the write back (the push API's listing) asks the store.
        """
        if not shown:
            if self._holds.get(store.url) and (store.url, "cases") in self._held:
                try:
                    seq = store.data_versions().get("seq:changes")
                except StoreError:
                    return  # written, then unreachable: the copy says so (the banner) until the store answers
                if seq is not None:
                    self._unshown[store.url] = int(seq)
            return
        self._written[store.url] = time.monotonic()
        self._versions.pop(store.url, None)
        if not (self._holds.get(store.url) and (store.url, "cases") in self._held):
            return
        try:
            self._cases_at(store, self._ask(store, None), prepare=True, wait=True)
        except StoreError:
            pass  # written, then unreachable: the next request asks again

    def behind(self, store: Store) -> bool:
        """Whether the copy this process holds lacks a write of this process not shown at once (``written``)."""
        seq = self._unshown.get(store.url)
        held = self._held.get((store.url, "cases"))
        if seq is None or held is None:
            return False
        if int(held[2].get("seq:changes", -1)) >= seq:
            self._unshown.pop(store.url, None)
            return False
        return True

    def version(self, store: Store, name: str) -> str | None:
        pinned = name in _CASE_VERSIONS and self.holds_cases(store)  # the versions of the copy the request holds
        versions = self._snapshot(store)[0] if pinned else self._current(store)
        return versions.get(name)

    def unreachable_since(self, store: Store) -> datetime | None:
        """When the store last answered, if its last check failed, or if the one under way (the follower's, which
        no request waits for) has waited longer than ``check_s``: what is shown is as of then."""
        since = self._unreachable.get(store.url)
        began, checked = self._asking.get(store.url), self._versions.get(store.url)
        if since is None and began is not None and checked is not None and time.monotonic() - began > self.check_s:
            return checked[2]  # a PostgreSQL that went away: its pool waits for a connection before it says so
        return since

    def writes_paused_since(self, store: Store) -> datetime | None:
        """When the store's primary last took writes, if it takes none now while reads go on (a read replica):
        intake is paused. None when it takes them, or when the store reads where it writes.

        Answered from what is known: the primary is asked in the background, at most once per ``check_s``
        (a page never waits for it), so a change shows a moment later.
        """
        if not store.separate_reads:
            return None
        self._probe(store)
        return self._paused.get(store.url)

    def _probe(self, store: Store) -> None:
        """Ask whether the primary takes writes, in a thread of its own, unless asked lately or being asked."""
        now, pid = time.monotonic(), os.getpid()
        with self._probe_lock:
            last = self._probing.get(store.url)
            # A probe begun in the parent of a fork is not running here.
            if last is not None and last[0] == pid and (last[2] or now - last[1] < self.check_s):
                return
            self._probing[store.url] = (pid, now, True)
        threading.Thread(target=self._probe_now, args=(store, pid, now), name="onemap-primary-probe",
                         daemon=True).start()

    def _probe_now(self, store: Store, pid: int, began: float) -> None:
        try:
            if store.accepts_writes(timeout=PROBE_TIMEOUT_S):
                self._took_writes[store.url] = datetime.now()
                self._paused.pop(store.url, None)
            else:
                self._paused.setdefault(store.url, self._took_writes.get(store.url, datetime.now()))
        finally:
            with self._probe_lock:
                self._probing[store.url] = (pid, began, False)

    def keep_following(self, store: Store) -> bool:
        """Follow ``store`` from a thread of this process (once per process: a forked server process starts its
        own): every ``check_s`` it asks for the store's versions and brings what this process holds up to date
        (the cases, and what was made of them lately: a table's sort order).

        A serving process's requests then never ask the store whether it moved, nor wait while the copy is
        brought up to date or while another process commits to the store (a GeoPackage's readers wait out
        its writer's commit): they answer from the copy the follower last made. A page's write is taken in
        by the request that wrote (``written``), so that it shows at once.
        """
        with self._probe_lock:
            if (store.url, os.getpid()) in self._following:
                return False
            self._following.add((store.url, os.getpid()))
        threading.Thread(target=self._follow_forever, args=(store,), name="onemap-follow", daemon=True).start()
        return True

    def stop_following(self, store: Store) -> None:
        """End this process's follower of ``store`` (at its next turn); its requests ask the store again."""
        with self._probe_lock:
            self._following.discard((store.url, os.getpid()))

    def _follow_forever(self, store: Store) -> None:
        while (store.url, os.getpid()) in self._following:
            moved = False
            _giving_way.until = time.monotonic() + GIVE_WAY_S
            try:
                moved = self.follow_now(store)
            except StoreError:
                pass  # unreachable: the pages say so (``unreachable_since``); asked again after ``check_s``
            except Exception:  # noqa: BLE001 — a follower that stops would leave the process showing the past
                log.warning("following %s failed; trying again in %s s", store.url, self.check_s, exc_info=True)
            finally:
                _giving_way.until = None
            # Each follow costs every process the same whatever it takes in (reads, new masks and views for
            # the requests after it): under a stream of writes, several are taken in at once.
            time.sleep(max(self.check_s, self.follow_s) if moved else self.check_s)

    def follow_now(self, store: Store) -> bool:
        """What the follower does every ``check_s``: the store's versions asked, and what is held brought to them.
        Whether the cases or the visits moved."""
        before = self._versions.get(store.url)
        versions = self._ask(store, before)
        if self._holds.get(store.url) and (store.url, "cases") in self._held:
            self._cases_at(store, versions, prepare=True)
            # Those of a copy a request brought up to date itself (it wrote), which nothing made before it was seen.
            for key, (make, follow, asked) in self._asked_lately(store):
                self.derived(store, key, make, follow, asked=asked)
        return before is not None and not _same_cases(before[1], versions)

    def _asked_lately(self, store: Store) -> list[tuple]:
        """The derived values of ``store`` the follower makes for each new copy: the ``MAKERS_MAX`` asked for most
        lately, within ``MAKERS_KEPT_S``. The others are forgotten, with what was made of them: a table sorted
        by every column in turn, or by any sort a request may send, neither costs each write nor stays in memory."""
        now = time.monotonic()
        mine = sorted(((key, made) for (url, key), made in list(self._makers.items()) if url == store.url),
                      key=lambda item: -item[1][2])
        kept = [(key, made) for key, made in mine if now - made[2] <= MAKERS_KEPT_S][:MAKERS_MAX]
        dropped = {key for key, _ in mine} - {key for key, _ in kept}
        if dropped:
            with self._deriving:
                for key in dropped:
                    self._makers.pop((store.url, key), None)
                    self._derived.pop((store.url, key), None)
        return kept

    def _current(self, store):
        """The store's data versions; within a request, those it first saw (one snapshot; see ``_snapshot``)."""
        pinned = _pinned()
        if pinned is not None and store.url in pinned:
            return pinned[store.url][0]
        versions = self._checked(store)
        if pinned is not None:
            pinned[store.url] = (versions, None, None)  # no cases yet: ``_snapshot`` pins them when asked for
        return versions

    def _checked(self, store):
        checked = self._versions.get(store.url)
        if checked is not None and ((store.url, os.getpid()) in self._following
                                    or time.monotonic() - checked[0] <= self.check_s):
            return checked[1]  # asked lately, or asked every ``check_s`` by this process's follower
        return self._ask(store, checked)

    def _ask(self, store, checked):
        """The store's versions asked now; ``checked``: what was asked before, if anything (if the store does not
        answer, it stands and the store is asked again after ``check_s``)."""
        began = self._asking[store.url] = time.monotonic()
        try:
            versions = store.data_versions()
        except StoreError:
            if checked is None:
                raise  # nothing held to show instead
            self._unreachable.setdefault(store.url, checked[2])
            self._versions[store.url] = (time.monotonic(), checked[1], checked[2])
            return checked[1]
        finally:
            self._asking.pop(store.url, None)
        self._unreachable.pop(store.url, None)
        # An answer asked for before this process's last write (the follower's, while a request wrote) may not
        # hold it: not kept, so that the next request asks again and shows what was written.
        if self._written.get(store.url, float("-inf")) < began:
            self._versions[store.url] = (time.monotonic(), versions, datetime.now())
        return versions

    def _get(self, store, what, version, load):
        key = (store.url, what)
        held = self._held.get(key)
        if held is None or held[0] != version:
            with in_flight.waiting():  # as in ``_cases_at``
                self._lock.acquire()
            try:  # one reload at a time; a request waiting here finds it done
                held = self._held.get(key)
                if held is None or held[0] != version:
                    held = (version, load(store))
                    self._held[key] = held
            finally:
                self._lock.release()
        return held[1]


_CASE_VERSIONS = ("cases", "case_sources", "seq:changes", "epoch:cases", "epoch:case_sources")


# The follower's pin while it makes what a new copy will be asked for (``StoreCache._prepare``).
_preparing = threading.local()
# In the follower's thread, until when (``time.monotonic()``) its follow may still wait for requests.
_giving_way = threading.local()


def _give_way() -> None:
    """In the follower's thread: wait, before its next step, until no request is being answered in this process
    (``dashboards.in_flight``), within the follow's ``GIVE_WAY_S``. A request that arrives mid-step waits for
    that step, not for the follow's rest. Elsewhere (a request that wrote, a test's ``follow_now``): nothing."""
    until = getattr(_giving_way, "until", None)
    if until is not None:
        in_flight.quiet(until)


def _pinned() -> dict | None:
    """The snapshot of the current request (store url → (versions, cases, lineage), the last two None until the
    request reads cases); while a new copy is prepared (by the follower, or a request that wrote), that copy's;
    or None."""
    preparing = getattr(_preparing, "snapshot", None)
    if preparing is not None or not flask.has_request_context():
        return preparing
    return flask.g.setdefault("onemap_snapshot", {})


def _same_cases(a: dict, b: dict) -> bool:
    return (a.get("cases"), a.get("case_sources")) == (b.get("cases"), b.get("case_sources"))


def _follows(held: dict, now: dict) -> bool:
    """Whether the copy made at ``held`` versions becomes ``now``'s by the rows changed since (no layer replaced)."""
    return ("seq:changes" in held and "seq:changes" in now and int(now["seq:changes"]) >= int(held["seq:changes"])
            and all(held.get(e) == now.get(e) for e in ("epoch:cases", "epoch:case_sources")))


def _apply_changes(held: tuple, store: Store, after: int, follow: _Follow | None = None
                   ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The held (cases, visits) with the rows written since change ``after``: a new copy, the old untouched.

    ``follow``: what the follow before kept for this one (see ``_Follow``).
    """
    cases, visits = held
    follow = _Follow() if follow is None else follow
    changed = store.read_changes("cases", after)
    came = store.read_changes("case_sources", after, [Condition("channel", "=", "walk_in")])
    if changed.empty and came.empty:
        return held
    if len(changed):
        cases = _with_rows(cases, _plain_cases(changed), follow)
    if len(came):
        came = _visits(came, cases, follow)
        # The visits written again, found among those held by their ids: a look at the few ids that came,
        # not an index of every visit held.
        ids = visits["source_id"].isin(came["source_id"]).to_numpy()
        pairs = set(zip(came["source"], came["source_id"]))
        stale = np.zeros(len(visits), dtype=bool)
        for row in np.flatnonzero(ids):
            stale[row] = (visits["source"].iat[row], visits["source_id"].iat[row]) in pairs
        visits = pd.concat([visits[~stale] if stale.any() else visits, came[came["case_row"] >= 0]],
                           ignore_index=True)
    return cases, visits


class _Lookup:
    """Where a value is among one held text column's categories, kept up to date across follows.

    A follow grows the categories of ids, phones and addresses (a million of them) into a new ``Index``;
    pandas would hash all of them again the first time a value is looked up in it (40-500 ms a column,
    by the machine's load). Here the categories first looked up in (``base``) keep their hash table and
    the values added at the end since are in a dict of their own, so a follow looks up and adds only the
    rows it writes. Answers only for ``at``, the categories it was last told of: given others (a copy
    read whole, a follow that failed half-way) it starts again from them.
    """

    def __init__(self):
        self.base: pd.Index | None = None
        self.added: dict = {}
        self.at: pd.Index | None = None

    def codes(self, categories: pd.Index, values: np.ndarray) -> np.ndarray:
        """Each value's code in ``categories`` (-1: not among them)."""
        # Once the values added since outnumber an eighth of the base, one hash of them all is the cheaper.
        if categories is not self.at or len(self.added) > len(self.base) // 8 + 4096:
            self.base, self.added, self.at = categories, {}, categories
        codes = self.base.get_indexer(values).astype(np.int64, copy=False)
        if self.added:
            for i in np.flatnonzero(codes < 0):
                codes[i] = self.added.get(values[i], -1)
        return codes

    def grown(self, categories: pd.Index, new: np.ndarray) -> None:
        """``categories`` are those given to ``codes`` last, with ``new`` added at the end."""
        start = len(categories) - len(new)
        self.added.update(zip(new.tolist(), range(start, len(categories))))
        self.at = categories


class _Room:
    """One array of the held copy with room at its end for the rows of the next follows.

    A copy holds a view of the buffer's first ``used`` items. A follow writes its new rows past them,
    where no view an earlier copy holds reaches, and gives the new copy a longer view: appending costs
    the rows appended, and the copies share the rest. A row changed in place, a dtype that must widen,
    an array that is not the buffer's used part (a copy read whole, a follow that failed half-way) or
    no room left: a new buffer, with room again (1/64 of the rows; at a million rows, 15 625).
    """

    def __init__(self):
        self.buffer: np.ndarray | None = None
        self.used = 0

    def holds(self, values: np.ndarray) -> bool:
        """Whether ``values`` are this buffer's used part (what the last copy was given)."""
        return (self.buffer is not None and len(values) == self.used and values.dtype == self.buffer.dtype
                and values.flags.c_contiguous
                and values.__array_interface__["data"][0] == self.buffer.__array_interface__["data"][0])

    def appended(self, held: np.ndarray, more: np.ndarray, dtype, at: np.ndarray, given: np.ndarray) -> np.ndarray:
        """``held`` (of ``dtype``) with ``given`` at its rows ``at`` and ``more`` after it, not written into."""
        n, k = len(held), len(more)
        if len(at) or not self.holds(held) or held.dtype != dtype or n + k > len(self.buffer):
            buffer = np.empty(n + k + max(1024, (n + k) // 64), dtype=dtype)
            buffer[:n] = held
            buffer[at] = given
            self.buffer = buffer
        self.buffer[n:n + k] = more
        self.used = n + k
        return self.buffer[:n + k]


class _Follow:
    """What a held copy keeps for the follow after it: its text columns' lookups (``_Lookup``, by column)
    and its arrays' buffers (``_Room``, by column and part). Used under the cache's lock, one follow at a
    time; each checks that it is given the arrays it was last told of, so a stale one only costs a copy."""

    def __init__(self):
        self.lookups: dict[str, _Lookup] = {}
        self.rooms: dict[tuple[str, str], _Room] = {}

    def lookup(self, column: str) -> _Lookup:
        return self.lookups.setdefault(column, _Lookup())

    def room(self, column: str, part: str) -> _Room:
        return self.rooms.setdefault((column, part), _Room())


def _with_rows(cases: pd.DataFrame, rows: pd.DataFrame, follow: _Follow | None = None) -> pd.DataFrame:
    """``cases`` with ``rows`` applied by case id: a known case replaced where it is, a new one added at the end.

    A new frame: the one given is never written into (a request may still hold it). New rows are written
    past the end of the held arrays, into room no earlier copy sees, and the new frame's columns are
    longer views of them (``_Room``); a column whose values a changed row changes is copied whole (1 to
    8 MB at a million rows). Values are looked up, and categories grown, only for the rows given
    (``_Lookup``). ``follow``: what the follow before kept for this one; without it, the text columns'
    categories are hashed once and every array copied.
    """
    follow = _Follow() if follow is None else follow
    rows = rows.drop_duplicates("case_id", keep="last").reset_index(drop=True)  # a case once, as it is now
    at = _rows_of(cases, rows["case_id"].to_numpy(dtype=object, na_value=None), follow)
    fresh, changed = (at < 0), (at >= 0)
    where = at[changed]
    columns = {}
    for column in cases.columns:
        held = cases[column]
        if isinstance(held.dtype, pd.CategoricalDtype):
            values = rows[column].to_numpy(dtype=object, na_value=None)
            if column in _TEXT:
                dtype, given = _grown_text(held.dtype, values, follow.lookup(column), follow.room(column, "categories"))
            else:
                dtype, given = _grown_codes(held.dtype, values)
            codes = held.array.codes  # a view: `.cat.codes` makes a Series, which copies them
            moved = given[changed] != codes[where]
            out = follow.room(column, "codes").appended(codes, given[fresh], _code_type(len(dtype.categories)),
                                                        where[moved], given[changed][moved])
            # Codes already held keep their meaning (categories only grow at the end): nothing is recoded.
            columns[column] = pd.Categorical.from_codes(out, dtype=dtype, validate=False)
        elif isinstance(held.dtype, np.dtype):  # times and coordinates
            given = rows[column].astype(held.dtype).to_numpy()
            values = held.to_numpy()
            before, after = values[where], given[changed]
            moved = ~((before == after) | (pd.isna(before) & pd.isna(after)))
            columns[column] = follow.room(column, "values").appended(values, given[fresh], held.dtype,
                                                                      where[moved], after[moved])
        else:  # an extension type (the nullable booleans, 2 MB a million): copied
            given = rows[column].astype(held.dtype)
            out = pd.concat([held, given[fresh]], ignore_index=True)
            out.iloc[where] = given[changed].to_numpy()
            columns[column] = out.array
    # Not copied into one block per type: each column stays the array (view) just made.
    return pd.DataFrame(columns, copy=False)


def moved_rows(before: pd.DataFrame, cases: pd.DataFrame, columns) -> np.ndarray:
    """The rows of ``before`` whose values in ``columns`` are others in ``cases``, a copy brought up to date from
    it (the same rows under the same numbers, more at the end): what a value made per row must make again.

    A column the follow left as it was is a longer view of before's memory (``_Room``): not compared.
    """
    n = len(before)
    moved = np.zeros(n, dtype=bool)
    for column in columns:
        a, b = before[column], cases[column]
        if isinstance(a.dtype, pd.CategoricalDtype) and isinstance(b.dtype, pd.CategoricalDtype):
            a, b = a.array.codes, b.array.codes[:n]  # categories only grow at the end: a code keeps its meaning
        elif isinstance(a.dtype, np.dtype) and a.dtype == b.dtype:
            a, b = a.to_numpy(), b.to_numpy()[:n]
        else:  # an extension type (the nullable booleans), which a follow copies whole: its values and gaps
            b = b.iloc[:n]
            moved |= a.isna().to_numpy() != b.isna().to_numpy()
            plain, gap = (bool, False) if isinstance(a.dtype, pd.BooleanDtype) else (object, None)
            a, b = a.to_numpy(dtype=plain, na_value=gap), b.to_numpy(dtype=plain, na_value=gap)
        if a.__array_interface__["data"][0] == b.__array_interface__["data"][0] and a.dtype == b.dtype:
            continue
        moved |= ~((a == b) | (pd.isna(a) & pd.isna(b)))
    return np.flatnonzero(moved)


def _rows_of(cases: pd.DataFrame, ids: np.ndarray, follow: _Follow) -> np.ndarray:
    """The row of each case id in ``cases`` (-1: not held)."""
    column = cases["case_id"]
    codes = follow.lookup("case_id").codes(column.cat.categories, ids)
    held = column.array.codes
    # A case id's code is its row: the copy is read whole with one category per row, in row order, and a
    # follow adds a new case's row and its id's category at the end together. Checked for the rows asked.
    found = codes >= 0
    if (codes[found] < len(held)).all() and (held[codes[found]] == codes[found]).all():
        return codes
    row_of = np.full(len(column.cat.categories) + 1, -1, dtype=np.int64)
    row_of[held] = np.arange(len(held))
    return row_of[codes]  # a code of -1 reads the last slot, which stays -1


def _code_type(categories: int) -> type:
    """The integer type pandas holds the codes of so many categories in (so that it does not convert them)."""
    for kind in (np.int8, np.int16, np.int32):
        if categories < np.iinfo(kind).max:
            return np.dtype(kind)
    return np.dtype(np.int64)


def _grown_text(dtype: pd.CategoricalDtype, values: np.ndarray, lookup: _Lookup, room: _Room
                ) -> tuple[pd.CategoricalDtype, np.ndarray]:
    """As ``_grown_codes``, for a text column of up to a million categories: the values looked up in
    ``lookup``, not hashed again; the new ones written into ``room`` after the categories held, not copied
    with them; the grown type made without pandas' check that its categories are distinct (which hashes
    them all): the values added are distinct and none of them is among the categories."""
    known = dtype.categories
    codes = lookup.codes(known, values)
    present = pd.notna(values)
    new = pd.unique(values[(codes < 0) & present])
    if len(new):
        new = np.asarray(new, dtype=object)
        where = pd.Index(new, dtype=object).get_indexer(values)
        codes = np.where((codes < 0) & (where >= 0), len(known) + where, codes)
        none = np.array([], dtype=np.int64)
        grown = pd.Index(room.appended(known.to_numpy(), new, np.dtype(object), none, none), dtype=object, copy=False)
        dtype = _unchecked_dtype(grown, dtype.ordered)
        lookup.grown(grown, new)
    return dtype, codes


def _unchecked_dtype(categories: pd.Index, ordered: bool) -> pd.CategoricalDtype:
    """A categorical type of categories known to be distinct and present, without checking them again."""
    fastpath = getattr(pd.CategoricalDtype, "_from_fastpath", None)  # pandas' own, private; checked in tests
    return fastpath(categories, ordered) if fastpath is not None else pd.CategoricalDtype(categories, ordered)


def _grown_codes(dtype: pd.CategoricalDtype, values: np.ndarray) -> tuple[pd.CategoricalDtype, np.ndarray]:
    """The categorical type grown by ``values`` it lacks (at the end), and each value's code in it (-1: missing).

    For the columns of a few hundred categories: their lookup table is pandas' own, made once, and the
    type is the one given, not made again, unless a value is new.
    """
    known = dtype.categories
    codes = known.get_indexer(values)
    lacking = (codes < 0) & pd.notna(values)
    if not lacking.any():  # the usual follow: a category, street or channel already held
        return dtype, codes.astype(np.int64)
    new = pd.Index(pd.unique(values[lacking]), dtype=known.dtype)
    if len(new):
        where = new.get_indexer(values)
        codes = np.where((codes < 0) & (where >= 0), len(known) + where, codes)
        dtype = pd.CategoricalDtype(known.append(new), ordered=dtype.ordered)
    return dtype, codes.astype(np.int64)


def _load_cases(store: Store, follow: _Follow | None = None):
    """The store's cases and walk-in visits read whole, as the copy holds them; ``follow``: what its
    follows start from (the case ids' lookup)."""
    # In case-id order, so a stable sort on any column breaks its ties by case id (dashboards.data.case_table);
    # cases that arrive later are added at the end (see _with_rows).
    cases = _held_cases(_plain_cases(store.read("cases")).sort_values("case_id", ignore_index=True))
    visits = _visits(store.read("case_sources", [Condition("channel", "=", "walk_in")]), cases, follow)
    return cases, visits[visits["case_row"] >= 0].reset_index(drop=True)


def _held_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """Plain cases (``_plain_cases``) in the form the copy holds them: text as categoricals."""
    # Text as codes: a filter that keeps most of a million cases copies numbers, not a million strings.
    for column in _CATEGORICAL:
        cases[column] = cases[column].astype("category")
    for column in _TEXT:
        # Categories of Python strings, not pandas' Arrow-backed "str": adding a case's new id to a million
        # of them (every write, _with_rows) costs 0.5 s instead of 3 s, which pandas spends iterating Arrow.
        values = cases[column].to_numpy(dtype=object, na_value=None)
        uniques = pd.unique(values[pd.notna(values)])
        cases[column] = pd.Categorical(values, categories=pd.Index(uniques, dtype=object))
    return cases


def _plain_cases(read: pd.DataFrame) -> pd.DataFrame:
    """What the dashboard holds of stored cases: the kept columns, coordinates as plain numbers."""
    # Plain numbers instead of point objects (cheap to copy when a filter picks rows), and metres
    # in the metric CRS worked out once: the heat layer bins them at every filter change.
    shapes = np.asarray(read.geometry.values, dtype=object)
    located = ~(shapely.is_missing(shapes) | shapely.is_empty(shapes))
    places = {name: np.full(len(read), np.nan) for name in ("lon", "lat", "x_m", "y_m")}
    lon, lat = shapely.get_x(shapes[located]), shapely.get_y(shapes[located])
    places["lon"][located], places["lat"][located] = lon, lat
    places["x_m"][located], places["y_m"][located] = to_metric(lon, lat)
    # Made at once of the columns' arrays: a frame of two rows made by pandas' column selection and setting
    # cost 7 ms, at every follow of a write.
    kept = {column: read[column] for column in _KEPT if column != "geometry"}
    return pd.DataFrame({**kept, **places}, index=pd.RangeIndex(len(read)), copy=False)


def _visits(records: pd.DataFrame, cases: pd.DataFrame, follow: _Follow | None = None) -> pd.DataFrame:
    """Walk-in visit records, each with its case as a row number of the copy (-1: not held)."""
    visits = pd.DataFrame(records[["source", "source_id", "case_id", "channel", "reported_at", "people"]])
    # Which visits a filter keeps is then one lookup.
    ids = visits["case_id"].to_numpy(dtype=object, na_value=None)
    visits["case_row"] = _rows_of(cases, ids, _Follow() if follow is None else follow)
    return visits.reset_index(drop=True)


def _load_layer(store: Store, name: str):
    frame = store.read(name)
    if name == "channels":
        remember_channels(frame)
    if name == "grid_cells":
        frame["area_km2"] = frame.to_crs(METRIC_CRS).area / 1e6
    return frame


CACHE = StoreCache()
