"""一窗受理: the same matter reported twice becomes one case.

Two records are the same matter when they are of the same kind and
category, were reported within ``window`` of each other, and either

- carry the same reporter phone, or
- come from different channels, were both placed at a building (coordinates
  or a building-level address) within ``near`` metres of each other, and
  describe the matter in similar words.

Anything less is not merged: a false merge hides a complaint, a missed one
only counts it twice. Every merge records why (``merge_reason``), in words a
clerk can check, and ``etl.split`` undoes one.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from rapidfuzz import fuzz

from gis.datums import METRIC_CRS

WINDOW = pd.Timedelta(days=3)
NEAR_METRES = 50.0
TEXT_SIMILARITY = 0.6


def _phone(values: pd.Series) -> pd.Series:
    digits = values.fillna("").astype(str).str.replace(r"\D", "", regex=True).str[-11:]
    return digits.where(digits.str.len() >= 7, "")


def _pool(frame, order, precision_column="location_precision"):
    """The fields the rules compare, with metric coordinates where the place is a building."""
    out = pd.DataFrame({
        "case_id": frame["case_id"].to_numpy(), "kind": frame["kind"].to_numpy(),
        "category": frame["category"].to_numpy(), "channel": frame["channel"].to_numpy(),
        "reported_at": pd.to_datetime(frame["reported_at"]).to_numpy(),
        "phone": _phone(frame["reporter_phone"]).to_numpy(),
        "text": frame["description"].fillna("").astype(str).to_numpy() if "description" in frame else "",
        "order": order,
    })
    out["x"] = np.nan
    out["y"] = np.nan
    if "geometry" in frame and precision_column in frame and len(frame):
        at_building = (frame[precision_column] == "building").to_numpy() & frame.geometry.notna().to_numpy()
        if at_building.any():
            metric = frame.geometry[at_building].to_crs(METRIC_CRS)
            out.loc[at_building, "x"] = metric.x.to_numpy()
            out.loc[at_building, "y"] = metric.y.to_numpy()
    return out


def candidate_pairs(pool: pd.DataFrame, *, window=WINDOW, near=NEAR_METRES, similarity=TEXT_SIMILARITY):
    """Pairs (earlier ``a``, later ``b``) of pool rows that the rules say are one matter, with the reason."""
    pool = pool.reset_index(drop=True).rename_axis("row").reset_index()
    keys = ["kind", "category"]
    by_phone = pool[pool["phone"] != ""]
    phone = by_phone.merge(by_phone, on=keys + ["phone"], suffixes=("_a", "_b"))
    phone = phone.assign(rule="phone", metres=np.nan, score=np.nan, phone_a=phone["phone"])

    placed = pool[pool["x"].notna()].copy()
    placed["gx"] = np.floor(placed["x"] / near).astype(np.int64)
    placed["gy"] = np.floor(placed["y"] / near).astype(np.int64)
    # Each point looks in its own square and the eight around it: every point within ``near`` is there.
    around = pd.concat([placed.assign(gx=placed["gx"] + dx, gy=placed["gy"] + dy)
                        for dx in (-1, 0, 1) for dy in (-1, 0, 1)], ignore_index=True)
    place = placed.merge(around, on=keys + ["gx", "gy"], suffixes=("_a", "_b"))
    place = place[place["channel_a"] != place["channel_b"]]
    place = place.assign(metres=np.hypot(place["x_a"] - place["x_b"], place["y_a"] - place["y_b"]))
    place = place[place["metres"] <= near]

    pairs = pd.concat([phone, place.assign(rule="place")], ignore_index=True)
    earlier = (pairs["reported_at_a"] < pairs["reported_at_b"]) | (
        (pairs["reported_at_a"] == pairs["reported_at_b"]) & (pairs["order_a"] < pairs["order_b"]))
    pairs = pairs[earlier & (pairs["order_b"] >= 0)
                  & ((pairs["reported_at_b"] - pairs["reported_at_a"]) <= window)].copy()
    is_place = pairs["rule"] == "place"
    pairs.loc[is_place, "score"] = [fuzz.ratio(a, b) / 100 for a, b in
                                    zip(pairs.loc[is_place, "text_a"], pairs.loc[is_place, "text_b"])]
    pairs = pairs[~is_place | (pairs["score"] >= similarity)]
    return pairs[["row_a", "row_b", "rule", "metres", "score", "phone_a", "reported_at_a", "reported_at_b"]]


def _reason(pair) -> str:
    hours = (pair.reported_at_b - pair.reported_at_a) / pd.Timedelta(hours=1)
    if pair.rule == "phone":
        return f"同一来电号码(尾号{pair.phone_a[-4:]})、同类别，相隔{hours:.1f}小时"
    return f"相距{pair.metres:.0f}米、同类别、描述相似度{pair.score:.2f}，相隔{hours:.1f}小时"


def merge_duplicates(records: pd.DataFrame, known_sources: pd.DataFrame, existing: pd.DataFrame,
                     *, window: pd.Timedelta = WINDOW, near: float = NEAR_METRES,
                     similarity: float = TEXT_SIMILARITY) -> pd.DataFrame:
    """Decide which case each incoming record belongs to.

    Parameters
    ----------
    records : incoming intake records (source, source_id, channel, kind,
        category, reporter_phone, reported_at, description, and where
        located a geometry with its location_precision)
    known_sources : intake records already stored (source, source_id, case_id, merged, merge_reason)
    existing : stored cases near the records in time

    Returns
    -------
    ``records`` with ``case_id``, ``merged`` (True where the record joins a
    case that another record opened) and ``merge_reason``, in the same order.
    """
    out = records.copy()
    out["case_id"] = None
    out["merged"] = False
    out["merge_reason"] = None
    if len(known_sources):
        known = known_sources.set_index(["source", "source_id"])
        idx = pd.MultiIndex.from_frame(out[["source", "source_id"]])
        hit = idx.isin(known.index)
        # A record seen before keeps the case it was given: a re-ingest changes nothing.
        out.loc[hit, "case_id"] = known.loc[idx[hit], "case_id"].to_numpy()
        out.loc[hit, "merged"] = known.loc[idx[hit], "merged"].astype(bool).to_numpy()
        if "merge_reason" in known:
            out.loc[hit, "merge_reason"] = known.loc[idx[hit], "merge_reason"].to_numpy()
    new = out["case_id"].isna().to_numpy()
    out.loc[new, "case_id"] = out.loc[new, "source"] + ":" + out.loc[new, "source_id"]
    if not new.any():
        return out

    fresh = np.flatnonzero(new)
    pool = pd.concat([_pool(existing, -1) if len(existing) else None,
                      _pool(out.iloc[fresh], fresh)], ignore_index=True)
    pairs = candidate_pairs(pool, window=window, near=near, similarity=similarity)
    if pairs.empty:
        return out
    pairs = pairs.assign(at_a=pool["reported_at"].to_numpy()[pairs["row_a"]],
                         order_a=pool["order"].to_numpy()[pairs["row_a"]],
                         at_b=pool["reported_at"].to_numpy()[pairs["row_b"]],
                         order_b=pool["order"].to_numpy()[pairs["row_b"]])
    pairs = pairs.sort_values(["at_b", "order_b", "at_a", "order_a", "rule"], kind="stable")
    merged_rows = set()
    for order_b, group in pairs.groupby("order_b", sort=False):
        for pair in group.itertuples(index=False):
            # Only a case's opening record (or a stored case) can take another record in.
            if pair.order_a >= 0 and pair.order_a in merged_rows:
                continue
            target = pool.at[pair.row_a, "case_id"] if pair.order_a < 0 else out.at[out.index[pair.order_a], "case_id"]
            at = out.index[order_b]
            out.at[at, "case_id"] = target
            out.at[at, "merged"] = True
            out.at[at, "merge_reason"] = _reason(pair)
            merged_rows.add(order_b)
            break
    return out
