"""The daily brief (《今日要情》) as a printable A4 page (``dashboards.printed`` makes the PDF).

``brief_html`` lays out the figures of :func:`layers.brief.daily_brief` or
:func:`layers.brief.brief_from_store`.
"""

from __future__ import annotations

import base64
from datetime import date

import pandas as pd

from dashboards.i18n import say
from dashboards.printed import page, table
from dashboards.static_map import HOT_COLOUR, TODAY_COLOUR, YESTERDAY_COLOUR, brief_map
from dashboards.tiles import percent
from layers.areas import Area
from layers.brief import archived, brief_from_store
from layers.glossary import LEVEL_LABELS, channel_names
from layers.remediation_orders import STATES

GROUPS = (("disputes", "矛盾纠纷"), ("events", "事件"), ("petitions", "信访"))
# The printed pages are in Chinese: the glossary's Chinese words.
LEVEL_NAMES = {level: zh for level, (zh, _) in LEVEL_LABELS.items()}
ROWS_SHOWN = 10
CHANGE_NAMES = {"new": "新增", "intensifying": "加剧"}
_STYLE = """
.row { display: flex; gap: 4mm; align-items: flex-start; }
.row .grow { flex: 1; }
.figure { width: 100mm; flex: none; }
img.map { width: 100mm; border: 0.5pt solid #999; }
.key span { display: inline-block; width: 8pt; height: 8pt; border-radius: 50%; margin: 0 2pt 0 8pt; }
.key span.ring { border-radius: 0; background: none !important; border: 1.4pt solid; }
"""


def brief_for_page(store, day: date, area: Area, *, fresh: bool = False, now=None,
                   lang: str = "zh") -> tuple[str, str]:
    """The brief the /brief page shows, and a line saying which: the one archived that day, as it was
    made; or, with none archived or ``fresh``, one made now from the store (as of now for today, as of
    the end of the day for a day gone). The page only reads: the server's schedule archives."""
    now = pd.Timestamp(now) if now is not None else pd.Timestamp.now().floor("s")
    kept = None if fresh else archived(store, day, area.spec())
    if kept is not None:
        return kept[0], say(f"{day} 的简报，{kept[1]:%Y-%m-%d %H:%M} 生成并存档（当时的数据）",
                            f"The brief of {day} as archived at {kept[1]:%Y-%m-%d %H:%M}", lang, sep=" · ")
    as_of = now if pd.Timestamp(day) == now.normalize() else None
    made = brief_html(brief_from_store(store, day, area, as_of=as_of))
    return made, say(f"{day} 的简报，按当前数据于 {now:%H:%M} 生成（未存档）",
                     f"The brief of {day} made now from the current data (not archived)", lang, sep=" · ")


def brief_html(brief: dict, *, area: str | None = None) -> str:
    """The brief as one HTML page, in Chinese; with the map when the brief holds one (``brief_from_store``)."""
    area = area or brief.get("area", "全区")
    received = brief["received"]
    street = "street" if "street" in brief["to_clear"] else "street_code"  # names, where the store gave them
    parts = [
        "<h2>受理情况</h2>",
        f"<p>昨日受理 <b>{received['yesterday']}</b> 件，今日受理 <b>{received['today']}</b> 件，"
        f"前七日日均 {received['week_average']} 件。</p>",
        "<div class='row'>", _map(brief), "<div class='grow'>",
        table(brief["intake"]["channel"].assign(
            channel=lambda t: t["channel"].map(lambda c: channel_names(c)[0])),
            {"channel": "渠道（多渠道各计）", "yesterday": "昨日", "today": "今日", "week_average": "前七日日均"}),
        table(brief["intake"]["category"].head(10),
               {"category": "类别（前十）", "yesterday": "昨日", "today": "今日", "week_average": "前七日日均"}),
        "</div></div>",
        "<h2>主要指标</h2>", _kpi_table(brief["kpis"]),
        "<h2>问题日清零</h2>",
        f"<p>昨日受理、至今未分派未办结 <b>{len(brief['to_clear'])}</b> 件（按街道、责任单位，先受理者在前）。</p>",
        table(brief["to_clear"].head(ROWS_SHOWN),
               {"case_id": "编号", "reported_at": "受理时间", "category": "类别", street: "街道",
                "responsible_unit": "责任单位"}),
        "<h2>超期未办结</h2>",
        f"<p>超期未办结 <b>{len(brief['overdue'])}</b> 件（超期最久者在前）。</p>",
        table(brief["overdue"].head(ROWS_SHOWN),
               {"case_id": "编号", "category": "类别", "responsible_unit": "责任单位", "due_at": "办理期限",
                "days_over": "超期天数"}),
        *_remediation_overdue(brief),
        *_hotspots(brief),
        "<h2>重点关注</h2>",
    ]
    notable = brief["notable"]
    for key, title in (("escalated", "上报至区级"), ("mass", "群体性纠纷（5人及以上）"),
                       ("repeat_callers", "重复来电（30日内3次及以上）")):
        parts.append(f"<p><b>{title}</b>：{len(notable[key])} 件</p>")
        if len(notable[key]):
            shown = notable[key].head(8).assign(level=lambda t: t["level"].map(LEVEL_NAMES).fillna(t["level"]))
            parts.append(table(shown, {"case_id": "编号", "reported_at": "受理时间",
                                                        "category": "类别", "level": "层级", "people": "人数"}))
    parts.append("<p class='note'>由社会治理一张图生成；个人信息不在简报中出现。</p>")
    return page(f"今日要情 {brief['day']}", "今日要情", f"{area} · {brief['day']:%Y年%m月%d日} · 截至 {brief['as_of']:%H:%M}",
                parts, style=_STYLE)


def _map(brief: dict) -> str:
    if "map" not in brief:
        return ""
    drawn = brief["map"]
    png = brief_map(drawn["cells"], drawn["outlines"], drawn["cases"], drawn["hot"])
    today = int(drawn["cases"]["today"].sum())
    return (f"<div class='figure'><img class='map' alt='案件分布图' "
            f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>"
            f"<div class='key note'>昨日、今日已定位案件及热力（核密度）：<br><span style='background:{TODAY_COLOUR}'>"
            f"</span>今日 {today} 件<span style='background:{YESTERDAY_COLOUR}'></span>昨日 "
            f"{len(drawn['cases']) - today} 件<span class='ring' style='border-color:{HOT_COLOUR}'></span>新增或加剧的热点"
            "</div></div>")


def _hotspots(brief: dict) -> list[str]:
    if "hotspots" not in brief:
        return []
    found = brief["hotspots"]
    return ["<h2>新增和加剧的热点</h2>",
            f"<p>近七日（至昨日）与前七日相比，热点网格（Gi*，95%及以上置信度）新增 "
            f"<b>{int((found['change'] == 'new').sum())}</b> 个、加剧 <b>{int((found['change'] == 'intensifying').sum())}"
            "</b> 个（只列本网格案件增多者）。</p>",
            table(found.head(8).assign(change=lambda t: t["change"].map(CHANGE_NAMES),
                                                 confidence=lambda t: t["bin"].map({2: "95%", 3: "99%"})),
                   {"name": "网格", "grid_cell": "编号", "change": "变化", "confidence": "置信度",
                    "cases": "近七日案件", "cases_before": "前七日案件"})]


def _remediation_overdue(brief: dict) -> list[str]:
    """The area's remediation orders past their planned finish at the brief's time, longest overdue first."""
    if "remediation_overdue" not in brief:
        return []
    late = brief["remediation_overdue"]
    if late.empty:
        return ["<h2>逾期治理工单</h2>", "<p>无逾期的靶向治理工单。</p>"]
    shown = late.head(ROWS_SHOWN).assign(
        place_name=lambda t: t["place_name"].where(t["place_name"] == t["place"], t["place_name"] + "（" + t["place"] + "）"),
        planned_finish=lambda t: t["planned_finish"].dt.strftime("%Y-%m-%d"),
        state=lambda t: t["state"].map(lambda s: STATES.get(s, (s,))[0]))
    return ["<h2>逾期治理工单</h2>",
            f"<p>超过计划完成日期仍未验收的靶向治理工单 <b>{len(late)}</b> 件（逾期最久者在前）。</p>",
            table(shown, {"place_name": "地点", "category": "问题类别", "unit": "责任单位", "planned_finish": "计划完成",
                          "days_over": "逾期天数", "state": "当前状态"})]


def _kpi_table(kpis: dict) -> str:
    """Today's KPIs with their change from yesterday's (cases, and percentage points for the rates)."""
    rows = []
    for key, name in GROUPS:
        today, before = kpis["today"][key], kpis["yesterday"][key]
        cells = [today["received"], before["received"], f"{today['received'] - before['received']:+d}"]
        for rate in ("closure_rate", "resolved_in_place_rate"):
            cells += [percent(today[rate]), _points(today[rate], before[rate])]
        cells += [today["overdue"], f"{today['overdue'] - before['overdue']:+d}"]
        rows.append(f"<tr><td>{name}</td>" + "".join(f"<td class='n'>{c}</td>" for c in cells) + "</tr>")
    return ("<table><tr><th>类别</th><th>今日受理</th><th>昨日受理</th><th>增减</th><th>结案率</th><th>较昨日</th>"
            "<th>就地化解率</th><th>较昨日</th><th>超期</th><th>增减</th></tr>" + "".join(rows) + "</table>")


def _points(now, before) -> str:
    """A rate's change in percentage points, or — where either day has none."""
    return "—" if now is None or before is None else f"{(now - before) * 100:+.1f}"


