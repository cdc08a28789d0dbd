"""What each page shows for a filter: plain functions over a store, called by thin callbacks."""

from __future__ import annotations

from dashboards.figures import case_map
from layers.kpis import kpis_from_store, street_code_for
from layers.views import cell_choropleth


def overview_data(store, *, start, end, street=None):
    """KPIs and the case map for one period and (optionally) one street."""
    code = street_code_for(store, street)
    kpis = kpis_from_store(store, start=start, end=end, street=code)
    cells = cell_choropleth(store, start=start, end=end, street_code=code)
    streets = store.read("streets")
    communities = store.read("communities")
    if code:
        streets = streets[streets["street_code"] == code]
        communities = communities[communities["street_code"] == code]
    return kpis, case_map(cells, streets, communities)
