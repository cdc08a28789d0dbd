"""The audit of writes made through the server: who, when, what a record was before and after.

A writer puts the audit rows in the same transaction as its write
(``Store.upsert_many``), so there is no write without its audit, and no
audit of a write that did not land.
"""

from __future__ import annotations

import json
import uuid

import pandas as pd

from layers.store import Condition, Store


def _json(value) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def recorded(row, leave_out=()) -> dict | None:
    """A record as the audit keeps it: its fields that hold a value, but ``leave_out`` (None stays None)."""
    if row is None:
        return None
    return {k: v for k, v in dict(row).items()
            if k not in leave_out and not (v is None or (pd.api.types.is_scalar(v) and pd.isna(v)))}


def audit_rows(actor: str, action: str, layer: str, changes: list[tuple[str, dict | None, dict | None]], *,
               address: str = "", now=None) -> pd.DataFrame:
    """One audit row per (record key, before, after) of ``changes`` (before is None for a new record)."""
    at = pd.Timestamp(now or pd.Timestamp.now())
    return pd.DataFrame([{
        "audit_id": uuid.uuid4().hex, "at": at, "actor": actor, "action": action, "layer": layer,
        "record": record, "before": _json(before), "after": _json(after), "address": address}
        for record, before, after in changes], columns=["audit_id", "at", "actor", "action", "layer", "record",
                                                          "before", "after", "address"])


def audit_of(store: Store, layer: str, record: str) -> pd.DataFrame:
    """What was done to one record, oldest first."""
    rows = store.read("audit", [Condition("layer", "=", layer), Condition("record", "=", record)])
    return rows.sort_values("at", ignore_index=True)
