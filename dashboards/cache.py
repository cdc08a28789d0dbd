"""The store's cases held in memory by the dashboard server, and kept true to the store.

A filter change must answer in well under a second over a million cases, so
the server does not read them again for every click: it keeps one compact
copy per store (text columns as categoricals, the long description left
out) and asks the store, on every request, for the cases' data version, a
one-row read. A write anywhere (an ingest, an unmerge, another server)
changes the version and the next request reloads. If the store cannot be
reached that one-row read fails, so a wall still shows its banner.
"""

from __future__ import annotations

import threading

import pandas as pd

from layers.store import Condition, Store

# Left out of the copy: long free text nobody filters or aggregates on the map.
_DROPPED = ("description",)
_CATEGORICAL = ("kind", "category", "channel", "channels", "status", "level_received", "level", "location_precision",
                "grid_cell", "community_code", "street_code", "estate_id", "setback_area", "responsible_unit")


class CaseCache:
    def __init__(self):
        self._lock = threading.Lock()
        self._held: dict[str, tuple] = {}

    def get(self, store: Store) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The store's cases and walk-in visit records, current as of this call."""
        version = (store.data_version("cases"), store.data_version("case_sources"))
        held = self._held.get(store.url)
        if held is None or held[0] != version:
            with self._lock:  # one reload at a time; a second request waiting here finds it done
                held = self._held.get(store.url)
                if held is None or held[0] != version:
                    held = (version, *_load(store))
                    self._held[store.url] = held
        return held[1], held[2]


def _load(store: Store):
    # In case-id order, so a stable sort on any column breaks its ties by case id (dashboards.data.case_table).
    cases = store.read("cases").drop(columns=list(_DROPPED)).sort_values("case_id", ignore_index=True)
    for column in _CATEGORICAL:
        cases[column] = cases[column].astype("category")
    visits = store.read("case_sources", [Condition("channel", "=", "walk_in")])
    visits = pd.DataFrame(visits[["case_id", "channel", "reported_at", "people"]])
    # Each visit's case as a row number of the copy: which visits a filter keeps is then one lookup.
    visits["case_row"] = pd.Index(cases["case_id"]).get_indexer(visits["case_id"])
    return cases, visits[visits["case_row"] >= 0].reset_index(drop=True)


CASES = CaseCache()
