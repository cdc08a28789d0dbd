"""Where to act first: a priority list of places, each part of its score shown.

Places are grid cells, old estates and setback areas. Each gets five parts, each
between 0 and 1, and a score out of 100 that is their weighted sum, so a
commander can say why a place is on top:

density      how its cases per km² rank among places of its kind (percentile)
hotspot      its grid cell's Gi* confidence, hot only (bin / 3)
recurrence   the share of its cases that repeat one of the same category there within 30 days
overdue      the share of its cases open past their deadline
blind_spot   1 if a blind-spot rule names it (or its setback areas), else 0
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from gis.blind_spots import REPEAT_DAYS, repeats_within
from layers.filters import overdue
from layers.glossary import PLACE_COLUMNS

WEIGHTS = {"density": 30, "hotspot": 25, "recurrence": 15, "overdue": 15, "blind_spot": 15}


def priority_list(places: pd.DataFrame, cases: pd.DataFrame, hot_bins: pd.Series, flagged: set, *,
                  as_of=None) -> pd.DataFrame:
    """Places ranked by score.

    ``places``: ``place_kind``, ``place``, ``name``, ``grid_cell`` (the cell it lies in) and
    ``area_km2``; ``cases``: the filtered cases with their ``grid_cell``, ``estate_id`` and
    ``setback_area``; ``hot_bins``: Gi* bin per grid cell; ``flagged``: (place_kind, place)
    pairs a blind-spot rule names.
    """
    repeat = repeats_within(cases["grid_cell"], cases["category"], cases["reported_at"], REPEAT_DAYS)
    late = overdue(cases, as_of)
    parts = []
    for kind, column in PLACE_COLUMNS.items():
        mine = places[places["place_kind"] == kind]
        at = cases[column].astype(object)
        n = pd.Series(1, index=cases.index).groupby(at).sum()
        reps = pd.Series(repeat, index=cases.index).groupby(at).sum()
        lates = pd.Series(late, index=cases.index).groupby(at).sum()
        count = mine["place"].map(n).fillna(0).to_numpy(dtype=float)
        density = count / np.maximum(mine["area_km2"].to_numpy(dtype=float), 1e-6)
        parts.append(pd.DataFrame({
            "place_kind": kind, "place": mine["place"].to_numpy(), "name": mine["name"].to_numpy(),
            "grid_cell": mine["grid_cell"].to_numpy(), "cases": count.astype(int),
            "density": pd.Series(density).rank(pct=True).where(count > 0, 0.0).to_numpy(),
            "hotspot": np.clip(mine["grid_cell"].map(hot_bins).fillna(0).to_numpy(dtype=float), 0, 3) / 3,
            "recurrence": np.divide(mine["place"].map(reps).fillna(0).to_numpy(dtype=float), count, out=np.zeros(len(count)),
                                    where=count > 0),
            "overdue": np.divide(mine["place"].map(lates).fillna(0).to_numpy(dtype=float), count, out=np.zeros(len(count)),
                                 where=count > 0),
            "blind_spot": [1.0 if (kind, p) in flagged else 0.0 for p in mine["place"]],
        }))
    out = pd.concat(parts, ignore_index=True)
    out["score"] = sum(out[part] * weight for part, weight in WEIGHTS.items()).round(1)
    for part in WEIGHTS:
        out[part] = out[part].round(3)
    return out.sort_values(["score", "cases"], ascending=False, ignore_index=True)

