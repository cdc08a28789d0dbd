import pandas as pd

from layers.kpis import compute_kpis


def frame(rows):
    cols = ["kind", "status", "level", "resolved_in_place", "due_at", "channel"]
    return pd.DataFrame(rows, columns=cols)


def test_rates_are_fractions_over_received_and_due():
    cases = frame([
        ("dispute", "closed", "community", True, pd.Timestamp("2020-02-01"), "walk_in"),
        ("dispute", "closed", "street", False, pd.Timestamp("2020-02-01"), "e_ningbo"),
        ("dispute", "dispatched", "community", False, pd.Timestamp("2020-02-01"), "walk_in"),
        ("dispute", "reported", "community", False, pd.Timestamp("2030-01-01"), "walk_in"),
        ("event", "closed", "community", True, pd.Timestamp("2020-01-05"), "grid_platform"),
    ])
    sources = pd.DataFrame({"channel": ["walk_in", "walk_in", "e_ningbo"], "people": [3, 1, 1]})
    k = compute_kpis(cases, sources, as_of="2020-06-01")
    d = k["disputes"]
    assert (d["received"], d["closed"], d["due"]) == (4, 2, 3)
    assert d["closure_rate"] == 0.6667 and d["resolved_in_place_rate"] == 0.25
    assert d["overdue"] == 1
    assert d["by_level"] == {"community": 3, "street": 1, "district": 0}
    assert k["events"]["closure_rate"] == 1.0
    assert k["visits"] == {"batches": 2, "people": 4}


def test_empty_period_has_no_rate_rather_than_a_division_by_zero():
    k = compute_kpis(frame([]), pd.DataFrame({"channel": [], "people": []}))
    assert k["disputes"]["received"] == 0 and k["disputes"]["closure_rate"] is None


def test_a_morning_with_nothing_decided_yet_has_no_rate_rather_than_zero():
    """At 8:00 the day's first cases are all open: resolved in place and first petitions are "—", not 0.00 %."""
    from layers.kpis import filtered_kpis

    cases = frame([
        ("dispute", "reported", "community", False, pd.Timestamp("2030-01-01"), "walk_in"),
        ("petition", "dispatched", "street", False, pd.Timestamp("2030-01-01"), "walk_in"),
    ]).assign(reported_at=pd.to_datetime(["2026-12-01 07:10", "2026-12-01 07:40"]), reporter_phone=["138", "139"])
    k = compute_kpis(cases, pd.DataFrame({"channel": [], "people": []}), as_of="2026-12-01 08:00")
    assert k["disputes"]["received"] == 1 and k["disputes"]["resolved_in_place_rate"] is None
    tiles = filtered_kpis(cases, as_of="2026-12-01 08:00")
    assert tiles["resolved_in_place_rate"] is None and tiles["first_petition_settled_rate"] is None
    # Once one is decided the rate is over every case received, as the centre counts it.
    decided = cases.assign(status=["closed", "dispatched"], resolved_in_place=[True, False])
    assert filtered_kpis(decided, as_of="2026-12-01 08:00")["resolved_in_place_rate"] == 0.5
