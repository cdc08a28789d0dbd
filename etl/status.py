"""A case's lifecycle moved on by the channel system that reported it (dispatched, closed, with times).

The status is the case's own (呼·分·联·销); the times of its steps follow it,
so the KPIs (closure rate, settled in place, overdue) count the case as it is
now. Only the channel whose record opened the case moves it: a case merged
from several channels is handled once, by the channel that opened it.
"""

from __future__ import annotations

import pandas as pd

from layers.errors import InvalidValue, NotFound
from layers.schema import CASE_STATUSES
from layers.store import Condition, Store


class NotYours(PermissionError):
    """A case another channel opened."""


def advanced(case: dict, status: str, at: pd.Timestamp) -> dict:
    """The case's fields after the step ``status`` at ``at``: a pure function of both."""
    if status not in CASE_STATUSES:
        raise InvalidValue(f"status {status!r} is not one of {CASE_STATUSES}")
    after = dict(case)
    after["status"] = status
    if status in ("dispatched", "coordinated") and pd.isna(after.get("dispatched_at")):
        after["dispatched_at"] = at
    if status == "closed":
        if pd.isna(after.get("closed_at")):
            after["closed_at"] = at
        # Settled where it arose: closed at the level that received it (as an export's rows are read).
        after["resolved_in_place"] = after.get("level") == after.get("level_received")
    else:
        after["closed_at"] = None
        after["resolved_in_place"] = False
    return after


def update_status(store: Store, case_id: str, channel: str, status: str, at: pd.Timestamp, *, audit=None) -> tuple:
    """Move ``case_id`` to ``status`` for ``channel``'s system; returns (before, after) as dicts.

    Sending the same step again changes nothing and writes nothing. ``audit``, if given, is called
    with (before, after) and returns audit rows that land with the change.
    """
    rows = store.read("cases", [Condition("case_id", "=", case_id)])
    if rows.empty:
        raise NotFound(f"no case {case_id!r}")
    if rows["channel"].iat[0] != channel:
        raise NotYours(f"case {case_id!r} was opened by another channel; its status follows that channel")
    before = rows.drop(columns="geometry").iloc[0].to_dict()
    after = advanced(before, status, at)
    if _same(before, after):
        return before, after
    changed = rows.copy()
    for column in ("status", "dispatched_at", "closed_at", "resolved_in_place"):
        changed[column] = pd.Series([after[column]], index=changed.index).astype(changed[column].dtype)
    writes = {"cases": changed}
    if audit is not None:
        writes["audit"] = audit(before, after)
    store.upsert_many(writes)
    return before, after


def _same(a: dict, b: dict) -> bool:
    return all((pd.isna(a.get(k)) and pd.isna(b.get(k))) or a.get(k) == b.get(k)
               for k in ("status", "dispatched_at", "closed_at", "resolved_in_place"))
