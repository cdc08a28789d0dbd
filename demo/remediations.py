"""The demo's remediation register: the estates whose setback areas were renovated and handed over in its
first year (the report's 25), as the centre records them."""

from __future__ import annotations

import pandas as pd

from layers.remediation import add_remediation

# How long the works ran before the handover, in the demo.
WORKS = pd.Timedelta(days=30)


def create_demo_remediations(store) -> int:
    """One register row per estate handed over: a month of works, then the handover to its managing unit."""
    areas = store.read("setback_areas")
    done = areas[areas["status"] == "handed_over"].sort_values("setback_area").drop_duplicates("estate_id")
    communities = store.read("communities")
    street_of = dict(zip(communities["community_code"], communities["street_code"]))
    names = dict(zip(store.read("streets")["street_code"], store.read("streets")["name"]))
    for area in done.itertuples():
        street = names.get(street_of.get(area.community_code), "")
        add_remediation(store, place_kind="estate", place=area.estate_id, what="退红空间整治，移交物业管理",
                        unit=f"{street}城市管理科", started_at=area.handed_over_at - WORKS,
                        finished_at=area.handed_over_at, handed_over_to=area.managing_unit, entered_by="demo")
    return len(done)
