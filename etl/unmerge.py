"""Undo a merge: an intake record that was joined to another record's case becomes its own case.

The record keeps everything it said (``case_sources`` holds each record
whole), so its case is rebuilt from it; the case it leaves loses the
record's channel unless another of its records came by the same channel.
Both changes land in one transaction, and a later re-ingest of the same
file keeps the record in its own case.
"""

from __future__ import annotations

import pandas as pd

from etl.ingest import DEADLINE_DAYS
from layers.errors import InvalidValue
from layers.schema import LAYERS
from layers.store import Condition, Store


class UnmergeError(InvalidValue):
    """A record that does not exist or was not merged."""


def unmerge(store: Store, source: str, source_id: str) -> dict:
    """Split the record (source, source_id) out of the case it was merged into; say what changed."""
    records = store.read("case_sources", [Condition("source", "=", source), Condition("source_id", "=", source_id)])
    if records.empty:
        raise UnmergeError(f"no intake record {source}:{source_id} in {store.url}")
    record = records.iloc[[0]].copy()
    old_case = record["case_id"].iat[0]
    if not bool(record["merged"].iat[0]):
        raise UnmergeError(f"intake record {source}:{source_id} was not merged: it opened case {old_case}")
    new_case = f"{source}:{source_id}"
    reason = record["merge_reason"].iat[0]
    record["case_id"] = new_case
    record["merged"] = False
    record["merge_reason"] = f"已从案件{old_case}拆分(原合并理由: {reason})"

    case = record.copy()
    case["channels"] = case["channel"]
    case["due_at"] = case["reported_at"] + pd.to_timedelta(case["kind"].map(DEADLINE_DAYS), unit="D")
    remaining = store.read("case_sources", [Condition("case_id", "=", old_case)])
    remaining = remaining[~((remaining["source"] == source) & (remaining["source_id"] == source_id))]
    left = store.read("cases", [Condition("case_id", "=", old_case)])
    left["channels"] = ";".join(sorted(set(remaining["channel"])))
    columns = list(LAYERS["cases"].columns)
    cases = pd.concat([case[columns + ["geometry"]], left[columns + ["geometry"]]], ignore_index=True)
    store.upsert_many({"cases": cases.set_geometry("geometry"), "case_sources": record})
    return {"record": f"{source}:{source_id}", "left_case": old_case, "left_channels": left["channels"].iat[0],
            "new_case": new_case, "was_merged_because": reason}
