"""一窗受理: the same matter reported twice becomes one case.

Two records are the same matter when they are of the same kind and
category, carry the same reporter phone, and were reported within
``window`` of each other. Without a phone a record is never merged: a
false merge loses a complaint, a missed one only counts it twice.
"""

from __future__ import annotations

import pandas as pd

WINDOW = pd.Timedelta(days=3)


def _phone(values: pd.Series) -> pd.Series:
    digits = values.fillna("").astype(str).str.replace(r"\D", "", regex=True).str[-11:]
    return digits.where(digits.str.len() >= 7, "")


def merge_duplicates(records: pd.DataFrame, known_sources: pd.DataFrame, existing: pd.DataFrame,
                     *, window: pd.Timedelta = WINDOW) -> pd.DataFrame:
    """Decide which case each incoming record belongs to.

    Parameters
    ----------
    records : incoming intake records (source, source_id, kind, category,
        reporter_phone, reported_at)
    known_sources : case_sources already stored (source, source_id, case_id, merged)
    existing : stored cases near the records in time (case_id, kind,
        category, reporter_phone, reported_at)

    Returns
    -------
    ``records`` with ``case_id`` and ``merged`` (True where the record joins
    a case that another record opened), in the same order.
    """
    out = records.copy()
    out["case_id"] = None
    out["merged"] = False
    if len(known_sources):
        known = known_sources.set_index(["source", "source_id"])
        idx = pd.MultiIndex.from_frame(out[["source", "source_id"]])
        hit = idx.isin(known.index)
        # A record seen before keeps the case it was given: a re-ingest changes nothing.
        out.loc[hit, "case_id"] = known.loc[idx[hit], "case_id"].to_numpy()
        out.loc[hit, "merged"] = known.loc[idx[hit], "merged"].astype(bool).to_numpy()
    new = out["case_id"].isna()
    out.loc[new, "case_id"] = out.loc[new, "source"] + ":" + out.loc[new, "source_id"]

    phone = _phone(out["reporter_phone"])
    candidates = out[new & (phone != "")].assign(_phone=phone)
    pool = pd.concat([
        existing.assign(_phone=_phone(existing["reporter_phone"]))[["case_id", "kind", "category", "_phone", "reported_at"]]
        .assign(_order=-1),
        candidates[["case_id", "kind", "category", "_phone", "reported_at"]].assign(_order=candidates.index),
    ], ignore_index=True)
    pool = pool[pool["_phone"] != ""].sort_values(["reported_at", "_order"], kind="stable")
    for _, group in pool.groupby(["kind", "category", "_phone"], sort=False):
        if len(group) < 2:
            continue
        opened = []  # (case_id, reported_at) of cases in this group
        for case_id, at, order in zip(group["case_id"], group["reported_at"], group["_order"]):
            target = next((cid for cid, t in opened if abs(at - t) <= window), None)
            if target is None or order < 0:
                opened.append((case_id, at))
                continue
            out.at[order, "case_id"] = target
            out.at[order, "merged"] = True
    return out
