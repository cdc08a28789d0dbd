"""Rollups: counts of a layer's rows kept by the store (``Layer.counts``), and the same counts made from a frame.

A city or a province store holds hundreds of thousands or millions of cases; the
KPIs, trends, the per-cell map and hotspots can read ``case_counts`` instead
(``Store.read("case_counts", terms)``). The store keeps it by triggers in the
transaction of each write to cases; :func:`counts_from_cases` is the same
grouping over cases already in memory (a small store, and the tests' check).
"""

from __future__ import annotations

import pandas as pd

from layers.schema import LAYERS, MISSING, conform


def counts_from_cases(cases: pd.DataFrame) -> pd.DataFrame:
    """``case_counts`` as the store keeps it for these cases: one row per key with cases, sorted by the key."""
    return counts_of("case_counts", cases)


def counts_of(name: str, rows: pd.DataFrame) -> pd.DataFrame:
    """The rollup layer ``name`` made from its source's rows (any columns beyond those it counts by are ignored)."""
    layer = LAYERS[name]
    counts = layer.counts
    if counts is None:
        raise ValueError(f"layer {name!r} is not a rollup")
    for _, column in counts.days:  # a row without the time a key column is the day of is not counted
        rows = rows[pd.notna(rows[column])] if column in rows else rows.iloc[:0]
    days = dict(counts.days)
    keys = {}
    for column in layer.key:
        if column in days:
            keys[column] = pd.to_datetime(rows[days[column]]).dt.normalize()
        elif column == "day":
            keys[column] = pd.to_datetime(rows[counts.day_of]).dt.normalize()
        elif column == "month":
            keys[column] = pd.to_datetime(rows[counts.day_of]).dt.to_period("M").dt.to_timestamp()
        else:  # categorical or text: plain values, a missing one counted under MISSING as the store does
            values = (rows[column] if column in rows else pd.Series(None, index=rows.index)).astype(object)
            keys[column] = values.where(values.notna(), MISSING)
    for flag in counts.flags:
        given = rows[flag] if flag in rows else pd.Series(False, index=rows.index)
        keys[f"n_{flag}"] = given.fillna(False).astype(bool).astype(int)
    frame = pd.DataFrame(keys, index=rows.index).assign(n=1)
    counted = frame.groupby(list(layer.key), sort=True)[["n", *(f"n_{f}" for f in counts.flags)]].sum().reset_index()
    return conform(name, counted)
