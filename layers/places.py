"""Places by kind (grid cell, estate, setback area, community): their names, and which of them are a grid
leader's."""

from __future__ import annotations

import numpy as np

from layers.areas import Area
from layers.remediation import PLACE_LAYERS
from layers.store import Condition, Store

# The layer and key of each kind of place with a name; other kinds (a component, a case) go by their code.
NAMED_PLACES = {**PLACE_LAYERS, "community": ("communities", "community_code")}


def place_names(store: Store, kinds, codes) -> list[str]:
    """Each place's name, given its kind and code; its code where it has none. One read per kind, of those places."""
    kinds, codes = list(kinds), [str(c) for c in codes]
    names: dict[tuple[str, str], str] = {}
    for kind, (layer, key) in NAMED_PLACES.items():
        wanted = sorted({c for k, c in zip(kinds, codes) if k == kind})
        if wanted:
            places = store.read(layer, [Condition(key, "in", wanted)])
            names.update({(kind, str(k)): n for k, n in zip(places[key], places["name"]) if isinstance(n, str) and n})
    return [names.get((k, c), c) for k, c in zip(kinds, codes)]


def touch_cells(store: Store, area: Area, places) -> np.ndarray:
    """Which of ``places`` (estates, setback areas) touch the cells of a grid leader's ``area``: a place that
    straddles cells is the leader's where it touches one of theirs."""
    cells = store.read("grid_cells", [Condition("grid_cell", "in", list(area.codes))]).geometry.union_all()
    return places.intersects(cells).to_numpy()
