"""What the wall and the daily brief say of remediation inside an area, as plain data.

The register's orders counted for a year by state, the setback areas' progress
(unmanaged → in renovation → handed over), the overdue orders with their
places' names, and the latest finished remediations whose effect was measured.
Each takes the area's register as :func:`layers.remediation_orders.orders`
gives it (so a grid leader's orders are the ones touching their cells, as
everywhere else), and reads only the few places it names. Each reads layers with
``store.read``, or with the ``read`` it is given (a server's read of the layers it holds).
"""

from __future__ import annotations

import math

import pandas as pd

from layers.areas import Area
from layers.places import Read, place_names, touch_cells
from layers.remediation import SETBACK_STATUSES
from layers.remediation_orders import OPEN_STATES, STATES, finish_day_end
from layers.store import Store

OVERDUE_COLUMNS = ["remediation_id", "place_kind", "place", "place_name", "category", "unit", "planned_finish",
                   "days_over", "state"]


def counted_in_year(register: pd.DataFrame, now) -> pd.Series:
    """Which orders count for the year of ``now``: those open at some time this year, up to ``now``.

    That is: opened by ``now`` (entered; a register row entered after the fact, from the office's
    ledger, opened when its works started), and either still open or with its last step (accepted,
    handed over, cancelled) taken this year. An order entered this year therefore always counts, and
    so does one carried over from last year while it is open or closed this year; one closed last year
    does not.
    """
    now = pd.Timestamp(now)
    first_day = now.normalize().replace(month=1, day=1)
    opened = register[["entered_at", "started_at"]].min(axis=1)
    state = register["state"]
    last_step = register["updated_at"].copy()
    last_step[state == "accepted"] = register["finished_at"]
    last_step[state == "handed_over"] = register["handed_over_at"]
    # A ledger row carries no update time of its own: its latest known date stands for its last step.
    last_step = last_step.fillna(register[["started_at", "finished_at", "handed_over_at"]].max(axis=1)).fillna(opened)
    still_open = state.isin(OPEN_STATES)
    return ((opened <= now) & (still_open | (last_step >= first_day))).fillna(False).astype(bool)


def year_by_state(register: pd.DataFrame, now) -> dict[str, int]:
    """This year's orders (:func:`counted_in_year`) by their state now, every state named (0 if none)."""
    counted = register.loc[counted_in_year(register, now).to_numpy(), "state"].value_counts()
    return {state: int(counted.get(state, 0)) for state in STATES}


def setback_progress(store: Store, area: Area, read: Read | None = None) -> dict[str, int]:
    """The area's setback areas by management status, every status named (0 if none).

    A grid leader's are those touching their cells (:func:`layers.remediation_orders.in_area`'s rule),
    so the progress and the orders on the same panel are of the same places.
    """
    read = read or store.read
    areas = read("setback_areas", area.conditions("setback_areas"))
    if area.kind == "cells" and len(areas):
        areas = areas[touch_cells(read, area, areas)]
    counted = areas["status"].value_counts()
    return {status: int(counted.get(status, 0)) for status in SETBACK_STATUSES}


def overdue_orders(store: Store, register: pd.DataFrame, now, read: Read | None = None) -> pd.DataFrame:
    """The register's overdue orders at ``now``, longest overdue first: place (and its name), category, unit,
    planned finish, days overdue and state.

    ``register``: :func:`layers.remediation_orders.orders` of the area at the same ``now``. Days are
    counted as begun: an order is overdue once its planned finish day has ended; the day after is day 1.
    """
    late = register[register["overdue"].to_numpy()]
    if late.empty:
        return pd.DataFrame(columns=OVERDUE_COLUMNS)
    over = (pd.Timestamp(now) - finish_day_end(late["planned_finish"])).dt.total_seconds() / 86400
    late = late.assign(place_name=place_names(read or store.read, late["place_kind"], late["place"]),
                       days_over=[max(1, math.ceil(d)) for d in over])
    return late[OVERDUE_COLUMNS].sort_values(["days_over", "place"], ascending=[False, True], ignore_index=True)


def latest_effects(store: Store, register: pd.DataFrame, effects: pd.DataFrame, n: int = 3, read: Read | None = None
                   ) -> pd.DataFrame:
    """The ``n`` finished remediations of the register whose effect was measured, latest finished first:
    place (and its name), finished, cases per month before and after, verdict.

    ``effects``: :func:`layers.remediation.remediation_effects` of the store; only the register's
    (the area's) remediations are taken from it.
    """
    columns = ["remediation_id", "place_kind", "place", "place_name", "finished_at", "before", "after", "verdict"]
    if effects.empty or "before" not in effects:
        return pd.DataFrame(columns=columns)
    mine = effects[effects["remediation_id"].isin(set(register["remediation_id"])).to_numpy()
                   & effects["verdict"].notna().to_numpy()]
    mine = mine.sort_values(["finished_at", "remediation_id"], ascending=False).head(n)
    names = place_names(read or store.read, mine["place_kind"], mine["place"])
    return mine.assign(place_name=names)[columns].reset_index(drop=True)
