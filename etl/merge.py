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
import shapely
from rapidfuzz import fuzz

from gis.datums import to_metric

WINDOW = pd.Timedelta(days=3)
NEAR_METRES = 50.0
TEXT_SIMILARITY = 0.6


def _phone(values: pd.Series) -> pd.Series:
    digits = values.fillna("").astype(str).str.replace(r"\D", "", regex=True).str[-11:]
    return digits.where(digits.str.len() >= 7, "")


def _pool(frame, order):
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
    if "geometry" in frame and "location_precision" in frame and len(frame):
        at_building = (frame["location_precision"] == "building").to_numpy() & frame.geometry.notna().to_numpy()
        if at_building.any():
            points = frame.geometry.to_numpy()[at_building]
            x, y = to_metric(shapely.get_x(points), shapely.get_y(points))
            out.loc[at_building, "x"] = x
            out.loc[at_building, "y"] = y
    return out


def _same_bucket(keys_a: np.ndarray, keys_b: np.ndarray, order=None):
    """Every (i, j) with keys_a[i] == keys_b[j], by sorting: no frame of all rows times all neighbours."""
    order = np.argsort(keys_a, kind="stable") if order is None else order
    sorted_a = keys_a[order]
    lo = np.searchsorted(sorted_a, keys_b, side="left")
    hi = np.searchsorted(sorted_a, keys_b, side="right")
    counts = hi - lo
    j = np.repeat(np.arange(len(keys_b)), counts)
    starts = np.repeat(lo - np.cumsum(counts) + counts, counts)
    i = order[starts + np.arange(len(j))] if len(j) else np.array([], dtype=np.int64)
    return i, j


def _pack(*parts):
    """One int64 per row from small non-negative integer columns (16 bits each, the first one 32)."""
    out = np.zeros(len(parts[0]), dtype=np.int64)
    for part in parts:
        out = (out << 16) | (np.asarray(part, dtype=np.int64) & 0xFFFF)
    return out


def candidate_pairs(pool: pd.DataFrame, *, window=WINDOW, near=NEAR_METRES, similarity=TEXT_SIMILARITY):
    """Pairs (earlier ``a``, later ``b``) of pool rows that the rules say are one matter, with the reason.

    Rows are bucketed by kind and category, by ``window``-long time spans and
    (for the place rule) by ``near``-wide squares; a row looks for partners
    in its own and the neighbouring buckets only, so the work grows with the
    rows, not with their square.
    """
    pool = pool.reset_index(drop=True)
    n = len(pool)
    group = pd.factorize(pd.MultiIndex.from_arrays([pool["kind"], pool["category"]]))[0]
    at = pool["reported_at"].to_numpy(dtype="datetime64[ns]").astype(np.int64)
    span = (at - at.min()) // window.value if n else at
    phone_id = pd.factorize(pool["phone"])[0]
    x, y = pool["x"].to_numpy(dtype=float), pool["y"].to_numpy(dtype=float)
    channel = pd.factorize(pool["channel"])[0]
    found = []
    has_phone = np.flatnonzero(pool["phone"].to_numpy() != "")
    for dt in (0, -1):  # a partner reported earlier is in the same span or the one before
        i, j = _same_bucket(_pack(group[has_phone], phone_id[has_phone] >> 16, phone_id[has_phone], span[has_phone]),
                            _pack(group[has_phone], phone_id[has_phone] >> 16, phone_id[has_phone],
                                  span[has_phone] + dt))
        found.append(pd.DataFrame({"row_a": has_phone[i], "row_b": has_phone[j], "rule": "phone"}))
    placed = np.flatnonzero(np.isfinite(x))
    if len(placed) and len(np.unique(channel[placed])) > 1:  # one channel alone never merges by place
        gx = np.floor((x[placed] - np.nanmin(x)) / near).astype(np.int64) + 1
        gy = np.floor((y[placed] - np.nanmin(y)) / near).astype(np.int64) + 1
        keys_a = _pack(group[placed], gx, gy, span[placed])
        order = np.argsort(keys_a, kind="stable")
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                for dt in (0, -1):
                    i, j = _same_bucket(keys_a, _pack(group[placed], gx + dx, gy + dy, span[placed] + dt), order)
                    found.append(pd.DataFrame({"row_a": placed[i], "row_b": placed[j], "rule": "place"}))
    pairs = pd.concat(found, ignore_index=True)
    a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
    order = pool["order"].to_numpy()
    earlier = (at[a] < at[b]) | ((at[a] == at[b]) & (order[a] < order[b]))
    keep = earlier & (order[b] >= 0) & (at[b] - at[a] <= window.value)
    pairs = pairs[keep].reset_index(drop=True)
    a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
    pairs["metres"] = np.hypot(x[a] - x[b], y[a] - y[b])
    is_place = (pairs["rule"] == "place").to_numpy()
    pairs = pairs[~is_place | ((channel[a] != channel[b]) & (pairs["metres"].to_numpy() <= near))]
    a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
    text = pool["text"].to_numpy()
    is_place = (pairs["rule"] == "place").to_numpy()
    pairs["score"] = np.nan
    pairs.loc[is_place, "score"] = [fuzz.ratio(p, q) / 100 for p, q in zip(text[a[is_place]], text[b[is_place]])]
    pairs = pairs[~is_place | (pairs["score"].to_numpy() >= similarity)]
    a, b = pairs["row_a"].to_numpy(), pairs["row_b"].to_numpy()
    return pairs.assign(phone_a=pool["phone"].to_numpy()[a], reported_at_a=pool["reported_at"].to_numpy()[a],
                        reported_at_b=pool["reported_at"].to_numpy()[b]).reset_index(drop=True)


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
    pairs = pairs.assign(order_a=pool["order"].to_numpy()[pairs["row_a"]],
                         order_b=pool["order"].to_numpy()[pairs["row_b"]])
    pairs = pairs.sort_values(["reported_at_b", "order_b", "reported_at_a", "order_a", "rule"], kind="stable")
    case_ids = out["case_id"].to_numpy(dtype=object).copy()
    merged = out["merged"].to_numpy(dtype=bool).copy()
    reasons = out["merge_reason"].to_numpy(dtype=object).copy()
    pool_ids = pool["case_id"].to_numpy(dtype=object)
    decided = set()
    for pair in pairs.itertuples(index=False):
        b, a = pair.order_b, pair.order_a
        # A record joins the earliest case it matches; only a case's opening record (or a stored
        # case) can take another record in.
        if b in decided or (a >= 0 and merged[a]):
            continue
        case_ids[b] = pool_ids[pair.row_a] if a < 0 else case_ids[a]
        merged[b] = True
        reasons[b] = _reason(pair)
        decided.add(b)
    out["case_id"] = case_ids
    out["merged"] = merged
    out["merge_reason"] = reasons
    return out
