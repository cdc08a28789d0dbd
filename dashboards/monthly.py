"""The monthly analysis of hard problems (难题月研判) as printable A4 pages, in Chinese.

``monthly_html`` lays out :func:`layers.monthly.monthly_from_store`; ``dashboards.printed``
prints it to PDF.
"""

from __future__ import annotations

import pandas as pd

from dashboards.brief import GROUPS, LEVEL_NAMES
from dashboards.printed import page, table
from dashboards.remediation import VERDICT_WORDS
from dashboards.tiles import percent
from gis.blind_spots import RULES
from layers.glossary import STATUS_LABELS, channel_names
from layers.monthly import TREND_WORDS

ROWS_SHOWN = 10
STAMP = "%Y-%m-%d %H:%M"
KIND_NAMES = {"grid_cell": "网格", "estate": "小区", "setback_area": "退红空间"}
SPOT_CHANGES = {"new": "新出现", "continuing": "持续", "cleared": "已消除"}
STATUS_NAMES = {status: zh for status, (zh, _) in STATUS_LABELS.items()}


def monthly_html(analysis: dict) -> str:
    """The monthly analysis as one HTML document of a few A4 pages."""
    month, names = analysis["month"], analysis["names"]
    recurring = analysis["recurring"]
    parts = [
        "<h2>本月概况</h2>", _figures(analysis["figures"]),
        table(analysis["categories"].head(ROWS_SHOWN), {"category": "类别（前十）", "cases": "本月",
                                                        "previous_month": "上月", "change": "增减"}),
        "<h2>高发、同质化问题</h2>",
        f"<p>同一网格或小区、同一类问题本月反复发生（3件及以上）<b>{analysis['recurring_count']}</b> 处"
        f"{'，列前 %d 处' % len(recurring) if analysis['recurring_count'] > len(recurring) else ''}，其中已列入靶向治理台账 "
        f"<b>{int(recurring['on_register'].sum())}</b> 处。</p>",
        table(recurring.assign(
            kind=recurring["place_kind"].map(KIND_NAMES), months=recurring["per_month"].map(_series),
            trend=recurring["trend"].map(TREND_WORDS), on_register=recurring["on_register"].map({True: "是", False: "否"}),
            cases_named=recurring["case_ids"].map(lambda ids: ids[0] + (f" 等{len(ids)}件" if len(ids) > 1 else ""))),
            {"name": "地点", "kind": "类型", "category": "类别", "cases": "本月", "months": "近六月（逐月）",
             "trend": "趋势", "on_register": "已列入台账", "cases_named": "案件"}),
        "<h2>疑难案件</h2>", *_hard_cases(analysis["hard_cases"]),
        "<h2>靶向治理进展与成效</h2>", *_remediation(analysis["remediation"], names),
        "<h2>盲点清单及变化</h2>", *_blind_spots(analysis["blind_spots"], names),
        "<p class='note'>由社会治理一张图生成；趋势为近六月逐月案件的 Mann–Kendall 检验（p&lt;0.05）；"
        "治理成效为治理前后月均案件与未治理同类地点对照的双重差分及其95%区间。</p>",
    ]
    return page(f"难题月研判 {month}", "难题月研判", f"{analysis['area']} · {month.year}年{month.month}月", parts)


def _figures(figures: dict) -> str:
    now, before, year = figures["month"], figures["previous_month"], figures["last_year"]
    rows = []
    for key, name in (*GROUPS, ("all", "合计")):
        received = [sum(f[g]["received"] for g, _ in GROUPS) if key == "all" else f[key]["received"]
                    for f in (now, before, year)]
        rates = ("", "", "") if key == "all" else (percent(now[key]["closure_rate"]),
                                                   percent(now[key]["resolved_in_place_rate"]), now[key]["overdue"])
        rows.append(f"<tr><td>{name}</td><td class='n'>{received[0]}</td><td class='n'>{received[1]}</td>"
                    f"<td class='n'>{_change(received[0], received[1])}</td><td class='n'>{received[2]}</td>"
                    f"<td class='n'>{_change(received[0], received[2])}</td>"
                    + "".join(f"<td class='n'>{r}</td>" for r in rates) + "</tr>")
    visits = [f["visits"]["batches"] for f in (now, before, year)]
    rows.append(f"<tr><td>来访（批次）</td><td class='n'>{visits[0]}</td><td class='n'>{visits[1]}</td>"
                f"<td class='n'>{_change(visits[0], visits[1])}</td><td class='n'>{visits[2]}</td>"
                f"<td class='n'>{_change(visits[0], visits[2])}</td><td></td><td></td><td></td></tr>")
    return ("<table><tr><th>类别</th><th>本月受理</th><th>上月</th><th>环比</th><th>去年同月</th><th>同比</th>"
            f"<th>结案率</th><th>就地化解率</th><th>超期</th></tr>{''.join(rows)}</table>")


def _change(now: int, before: int) -> str:
    return "—" if not before else f"{(now - before) / before:+.1%}"


def _series(counts) -> str:
    return "·".join(str(n) for n in counts)


def _hard_cases(hard: dict) -> list[str]:
    oldest = hard["open_longest"].assign(status=lambda t: t["status"].astype(str).map(STATUS_NAMES),
                                         level=lambda t: t["level"].astype(str).map(LEVEL_NAMES))
    escalated = hard["escalated"].assign(
        levels=lambda t: t["level_received"].astype(str).map(LEVEL_NAMES) + "→" + t["level"].astype(str).map(LEVEL_NAMES))
    channels = hard["many_channels"].assign(channel_list=lambda t: t["channel_list"].map(
        lambda names: "、".join(channel_names(c)[0] for c in names.split(";"))))
    return [
        "<h3>久拖未结（月末仍未办结，最久者在前）</h3>",
        table(oldest, {"case_id": "编号", "reported_at": "受理时间", "category": "类别", "level": "层级",
                       "status": "状态", "days_open": "已历天数"}, stamp=STAMP),
        "<h3>逐级上报（本月受理，上报层级最多者在前）</h3>",
        table(escalated, {"case_id": "编号", "reported_at": "受理时间", "category": "类别", "levels": "受理→现处",
                          "escalations": "上报级数"}, stamp=STAMP),
        "<h3>多渠道反映（本月受理，渠道最多者在前）</h3>",
        table(channels, {"case_id": "编号", "reported_at": "受理时间", "category": "类别",
                         "channel_count": "渠道数", "channel_list": "渠道"}, stamp=STAMP),
    ]


def _remediation(progress: dict, names: dict) -> list[str]:
    counts = progress["counts"]
    parts = [f"<p>台账共 <b>{counts['registered']}</b> 项：本月开工 {counts['started_in_month']} 项、完工 "
             f"{counts['finished_in_month']} 项；在建 {counts['under_way']} 项，已完工 {counts['finished']} 项"
             + (f"，其中经测算案件减少 {counts.get('verdict_reduced', 0)} 项、增加 {counts.get('verdict_increased', 0)}"
                f" 项、无可测效果 {counts.get('verdict_none', 0)} 项" if "verdict_reduced" in counts else "") + "。</p>"]
    for o in progress["overall"]:
        parts.append(f"<p>已完工{KIND_NAMES.get(o['place_kind'], o['place_kind'])} {o['remediations']} 处合计："
                     f"月均案件 {o['before']:.2f} → {o['after']:.2f}，对照 {o['control_before']:.2f} → "
                     f"{o['control_after']:.2f}，双重差分 {o['did']:+.2f}［{o['low']:+.2f}, {o['high']:+.2f}］，"
                     f"{VERDICT_WORDS[o['verdict']][0]}。</p>")
    rows = progress["rows"]
    if len(rows):
        rows = rows.sort_values("started_at", ascending=False).head(ROWS_SHOWN)
        rows = rows.assign(
            name=[names.get((k, p), p) for k, p in zip(rows["place_kind"], rows["place"])],
            started=rows["started_at"].map(_day), finished=rows["finished_at"].map(_day),
            effect=rows.get("did", pd.Series(index=rows.index, dtype=float)).map(
                lambda d: "" if pd.isna(d) else f"{d:+.2f}"),
            verdict=rows["verdict"].map(lambda v: VERDICT_WORDS[v if isinstance(v, str) else None][0]))
        parts.append(table(rows, {"name": "地点", "what": "治理内容", "started": "开工", "finished": "完工",
                                  "effect": "双重差分（件/月）", "verdict": "成效"}))
    return parts


def _blind_spots(spots: pd.DataFrame, names: dict) -> list[str]:
    counted = spots["change"].value_counts()
    shown = spots.head(2 * ROWS_SHOWN)
    shown = shown.assign(rule=shown["rule"].map(lambda r: RULES.get(r, (r,))[0]),
                         name=[names.get((k, p), p) for k, p in zip(shown["place_kind"], shown["place"])],
                         change=shown["change"].map(SPOT_CHANGES), category=shown["category"].fillna(""))
    return [f"<p>本月盲点 {int(counted.get('new', 0) + counted.get('continuing', 0))} 处：新出现 "
            f"<b>{int(counted.get('new', 0))}</b> 处，持续 <b>{int(counted.get('continuing', 0))}</b> 处；上月的 "
            f"<b>{int(counted.get('cleared', 0))}</b> 处本月已消除。</p>",
            table(shown, {"rule": "盲点类型", "name": "地点", "category": "类别", "cases": "本月案件",
                          "cases_before": "上月案件", "change": "变化"})]


def _day(value) -> str:
    return "" if pd.isna(value) else pd.Timestamp(value).strftime("%Y-%m-%d")
