"""KPI tiles: numbers in Chinese conventions, zh-CN first and English second (or English alone)."""

from __future__ import annotations

from dash import html


def percent(rate) -> str:
    return "—" if rate is None else f"{rate * 100:.2f}%"


def count(n) -> str:
    return f"{n:,}"


def tile_values(kpis: dict) -> list[tuple[str, str, str, str]]:
    """(id, 中文, English, value) for each tile, from ``layers.kpis`` output."""
    d, e, v = kpis["disputes"], kpis["events"], kpis["visits"]
    lv = d["by_level"]
    return [
        ("disputes-received", "受理矛盾纠纷", "Disputes received", count(d["received"])),
        ("disputes-in-place", "就地化解率", "Resolved in place", percent(d["resolved_in_place_rate"])),
        ("disputes-closure", "纠纷办结率", "Dispute closure", percent(d["closure_rate"])),
        ("events-received", "网格事件", "Grid events", count(e["received"])),
        ("events-closure", "事件办结率", "Event closure", percent(e["closure_rate"])),
        ("visits", "来访批次/人次", "Visits / people", f"{count(v['batches'])} / {count(v['people'])}"),
        ("levels", "村/街/区", "Community / street / district",
         f"{count(lv['community'])}/{count(lv['street'])}/{count(lv['district'])}"),
        ("overdue", "超期未办结", "Overdue", count(d["overdue"] + e["overdue"] + kpis["petitions"]["overdue"])),
    ] + ([("first-petitions", "初信初访一次化解", "First petitions settled",
           percent(kpis["all"]["first_petition_settled_rate"]))] if "all" in kpis else [])


def kpi_tiles(kpis: dict, *, prefix: str = "overview-kpi", lang: str = "zh") -> list:
    """One tile per figure: the Chinese name over the English one, or the English name alone."""
    return [
        html.Div(className="kpi-tile", children=[
            html.Div(en if lang == "en" else zh, className="kpi-zh"),
            html.Div("" if lang == "en" else en, className="kpi-en"),
            html.Div(value, id=f"{prefix}-{tid}", className="kpi-value long" if len(value) > 8 else "kpi-value"),
        ])
        for tid, zh, en, value in tile_values(kpis)
    ]
