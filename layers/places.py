"""Places by kind (grid cell, estate, setback area, community): their names, and which of them are a grid
leader's.

Each takes ``read``, how a layer is read under filter terms: a store's :meth:`~layers.store.base.Store.read`,
or a server's copy of the geography read the same way (``dashboards.geo.held``), which reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from layers.areas import Area
from layers.remediation import PLACE_LAYERS
from layers.store import Condition

Read = Callable[[str, list[Condition]], pd.DataFrame]
# The layer and key of each kind of place with a name; other kinds (a component, a case) go by their code.
NAMED_PLACES = {**PLACE_LAYERS, "community": ("communities", "community_code")}


def place_names(read: Read, kinds, codes) -> list[str]:
    """Each place's name, given its kind and code; its code where it has none. One read per kind, of those places."""
    kinds, codes = list(kinds), [str(c) for c in codes]
    names: dict[tuple[str, str], str] = {}
    for kind, (layer, key) in NAMED_PLACES.items():
        wanted = sorted({c for k, c in zip(kinds, codes) if k == kind})
        if wanted:
            places = read(layer, [Condition(key, "in", wanted)])
            names.update({(kind, str(k)): n for k, n in zip(places[key], places["name"]) if isinstance(n, str) and n})
    return [names.get((k, c), c) for k, c in zip(kinds, codes)]


def touch_cells(read: Read, area: Area, places) -> np.ndarray:
    """Which of ``places`` (estates, setback areas) touch the cells of a grid leader's ``area``: a place that
    straddles cells is the leader's where it touches one of theirs."""
    cells = read("grid_cells", [Condition("grid_cell", "in", list(area.codes))]).geometry.union_all()
    return places.intersects(cells).to_numpy()
