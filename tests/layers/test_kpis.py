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
