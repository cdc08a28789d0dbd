"""The figures' scales: what a colour or a tick says about a count."""

from __future__ import annotations

import pandas as pd

from dashboards.charts import channel_mix, daily_trend, level_split, top_categories
from dashboards.figures import colour_range, nice_step


def test_a_grid_leaders_two_busy_cells_are_two_shades_of_red_not_the_scales_two_ends():
    scale = colour_range(pd.Series([47, 48]), counts=True, colorbar={})
    assert (scale["zmin"], scale["zmax"]) == (0, 48)
    assert scale["colorbar"]["tickvals"] == [0, 10, 20, 30, 40]


def test_count_scales_tick_whole_numbers_only():
    assert colour_range(pd.Series([0, 1, 2]), counts=True, colorbar={})["colorbar"]["tickvals"] == [0, 1, 2]
    assert colour_range(pd.Series([], dtype=float), counts=True, colorbar={})["zmax"] == 1.0
    # A rate is not a count: its scale starts at 0 too, with plotly's own ticks.
    rate = colour_range(pd.Series([0.4, float("nan"), 2.5]), counts=False, colorbar={"thickness": 12})
    assert (rate["zmin"], rate["zmax"], rate["colorbar"]) == (0, 2.5, {"thickness": 12})


def test_nice_steps_are_one_two_or_five_times_a_power_of_ten():
    assert [nice_step(t) for t in (0, 3, 7, 12, 48, 130, 999, 4_000)] == [1, 1, 2, 5, 10, 50, 200, 1000]


def test_charts_make_room_for_their_labels_and_count_in_whole_numbers():
    cases = pd.DataFrame({
        "reported_at": pd.to_datetime(["2020-01-01 08:00", "2020-01-01 09:00", "2020-01-02 10:00"]),
        "closed_at": pd.to_datetime(["2020-01-03", None, None]), "category": ["噪声扰民", "乱停车", "噪声扰民"],
        "channel": ["hotline_12345", "walk_in", "walk_in"], "channels": ["hotline_12345", "walk_in", "walk_in"],
        "status": ["closed", "reported", "reported"], "level": ["community", "street", "street"]})
    for chart, counts in ((daily_trend(cases), "y"), (top_categories(cases), "x"), (channel_mix(cases), "y"),
                          (level_split(cases), "y")):
        layout = chart["layout"]
        assert layout["xaxis"]["automargin"] and layout["yaxis"]["automargin"]
        assert layout[f"{counts}axis"]["dtick"] == 1 and layout[f"{counts}axis"]["tickformat"] == ",d"
        assert "annotations" not in layout


def test_an_empty_view_says_so_on_its_charts():
    empty = pd.DataFrame({c: pd.Series(dtype=object) for c in ("category", "channel", "channels", "status", "level")})
    empty["reported_at"] = pd.Series(dtype="datetime64[ns]")
    empty["closed_at"] = pd.Series(dtype="datetime64[ns]")
    chart = top_categories(empty, lang="en")
    assert chart["layout"]["annotations"][0]["text"] == "No cases in this view"
