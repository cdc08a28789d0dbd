"""Five remediation orders in 孔浦街道 on a writable demo copy, at known times, for the tests of what the wall
and the daily brief say of them (the demo's own register holds only works handed over in 2020).

At ``NOW`` (2021-03-01 09:00):

- ``works``: a setback area in renovation since February, planned to finish 2021-02-19: overdue;
- ``planned``: grid cell 33020500300201 (红梅社区, a grid leader's), proposed, planned to finish in June;
- ``carried``: a grid cell approved in November 2020, planned to finish 2020-12-31: overdue, carried over;
- ``done_last_year``: a grid cell accepted in December 2020: closed last year;
- ``dropped``: a grid cell proposed in January 2021 and cancelled: closed this year.
"""

from __future__ import annotations

import pandas as pd

from layers.areas import Area
from layers.remediation_orders import Actor, advance_order, open_order
from layers.store import Condition

NOW = pd.Timestamp("2021-03-01 09:00")
KONGPU_STREET = "330205003"
COMMANDER = Actor("commander", "commander", Area())
KONGPU = Actor("kongpu", "street_staff", Area.parse(f"street:{KONGPU_STREET}"))
WAITAN = Actor("waitan", "street_staff", Area.parse("street:330205001"))
HONGMEI = Actor("hongmei", "grid_leader", Area.parse("cells:33020500300201,33020500300202"))


def open_demo_orders(store, *, shift=pd.Timedelta(0)) -> dict[str, str]:
    """The five orders (name → id), written once; their setback area and cells are chosen from the store.

    ``shift``: every time moved by it (a browser test's orders about the real clock's ``NOW + shift``).
    """

    def t(text):
        return pd.Timestamp(text) + shift

    def _open(kind, place, key, *, finish, at, category="物业纠纷", unit="孔浦街道城市管理科"):
        order, _ = open_order(store, KONGPU, place_kind=kind, place=place, category=category,
                              measures="清理堆物，划定停车位", unit=unit, planned_start=at.normalize(),
                              planned_finish=t(finish), request_key=key, now=at)
        return order

    areas = store.read("setback_areas", [Condition("street_code", "=", KONGPU_STREET)])
    # Away from the grid leader's community, so that her cells see the one order planned in them only.
    setback = areas[(areas["status"] == "unmanaged") & (areas["community_code"] != "330205003002")] \
        .sort_values("setback_area")["setback_area"].iat[0]
    cells = store.read("grid_cells", [Condition("street_code", "=", KONGPU_STREET)]).sort_values("grid_cell")
    others = [c for c in cells["grid_cell"] if not c.startswith("330205003002")]
    ids = {
        "works": _open("setback_area", setback, "works", finish="2021-02-19", at=t("2021-01-05 10:00")),
        "planned": _open("grid_cell", "33020500300201", "planned", finish="2021-06-30",
                         at=t("2021-02-20 10:00"), category="邻里纠纷", unit="红梅社区居委会"),
        "carried": _open("grid_cell", others[0], "carried", finish="2020-12-31", at=t("2020-11-02 10:00"),
                         category="占道经营", unit="孔浦街道综合执法队"),
        "done_last_year": _open("grid_cell", others[1], "done", finish="2020-12-20", at=t("2020-10-01 10:00")),
        "dropped": _open("grid_cell", others[2], "dropped", finish="2021-04-30", at=t("2021-01-10 10:00")),
    }
    steps = [("works", COMMANDER, "approved", "2021-01-06"), ("works", KONGPU, "in_progress", "2021-02-01"),
             ("carried", COMMANDER, "approved", "2020-11-03"),
             ("done_last_year", COMMANDER, "approved", "2020-10-02"),
             ("done_last_year", KONGPU, "in_progress", "2020-10-10"),
             ("done_last_year", COMMANDER, "accepted", "2020-12-15"),
             ("dropped", KONGPU, "cancelled", "2021-01-20")]
    for name, actor, step, day in steps:
        advance_order(store, actor, ids[name], step, now=t(day) + pd.Timedelta(hours=10))
    return ids


def writable_demo(request, demo_gpkg, tmp_path_factory, prefix: str):
    """A module's writable copy of the demo on the store ``request.param`` names, with the five orders; its spec.

    A generator for a module-scoped fixture: the PostGIS schema is dropped when the module is done.
    """
    import shutil

    from layers.store import open_store
    from tests.conftest import _postgis_schema, copy_store

    if request.param == "gpkg":
        spec = str(tmp_path_factory.mktemp(prefix) / "demo.gpkg")
        shutil.copy(demo_gpkg[0], spec)
        with open_store(spec) as store:
            ids = open_demo_orders(store)
        yield spec, ids
        return
    with _postgis_schema(prefix) as url:
        copy_store(demo_gpkg[0], url)
        with open_store(url) as store:
            ids = open_demo_orders(store)
        yield url, ids
