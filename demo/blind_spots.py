"""The demo's blind-spot register: the rules' findings over the demo's cases, recorded as the morning run would
have recorded them on the day of its last case, so a new user's register and its page are not empty."""

from __future__ import annotations

import pandas as pd

from layers.analysis import blind_spot_layer
from layers.blind_spot_register import record_findings
from layers.filters import CaseFilter


def record_demo_blind_spots(store) -> dict:
    """Record the findings of the demo's whole period; the counts ``record_findings`` gives."""
    stamps = store.read("cases")["reported_at"]
    if stamps.empty:
        return {"new": 0, "reopened": 0, "refreshed": 0}
    first, last = pd.Timestamp(stamps.min()), pd.Timestamp(stamps.max())
    found = blind_spot_layer(store, CaseFilter(start=first.date(), end=last.date()))
    return record_findings(store, found, actor="demo", now=last.ceil("D") + pd.Timedelta(hours=7))
