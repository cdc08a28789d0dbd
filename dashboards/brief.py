"""The daily brief (《今日要情》) as a printable A4 page, and as a PDF printed by headless Chromium.

``brief_html`` lays out the figures of :func:`layers.brief.daily_brief`; ``print_pdf``
prints a page with Debian's ``chromium`` (fonts: ``fonts-noto-cjk``).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

import pandas as pd

from dashboards.static_map import HOT_COLOUR, TODAY_COLOUR, YESTERDAY_COLOUR, brief_map
from dashboards.tiles import percent
from layers.schema import CHANNELS

GROUPS = (("disputes", "矛盾纠纷"), ("events", "事件"), ("petitions", "信访"))
LEVEL_NAMES = {"community": "村社", "street": "街镇", "district": "区"}
ROWS_SHOWN = 10
CHANGE_NAMES = {"new": "新增", "intensifying": "加剧"}
_STYLE = """
@page { size: A4; margin: 12mm 13mm 12mm 13mm; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 20pt; text-align: center; margin: 0 0 2mm; letter-spacing: 4pt; }
.sub { text-align: center; color: #444; margin-bottom: 5mm; }
h2 { font-size: 12pt; border-left: 4pt solid #b91c1c; padding-left: 6pt; margin: 4mm 0 1.5mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2mm; }
th, td { border: 0.5pt solid #999; padding: 0.8mm 1.6mm; text-align: left; }
th { background: #f1f5f9; }
td.n { text-align: right; }
.note { color: #555; font-size: 9pt; }
.row { display: flex; gap: 4mm; align-items: flex-start; }
.row .grow { flex: 1; }
.figure { width: 100mm; flex: none; }
img.map { width: 100mm; border: 0.5pt solid #999; }
.key span { display: inline-block; width: 8pt; height: 8pt; border-radius: 50%; margin: 0 2pt 0 8pt; }
.key span.ring { border-radius: 0; background: none !important; border: 1.4pt solid; }
"""


def brief_html(brief: dict, *, area: str | None = None) -> str:
    """The brief as one HTML page, in Chinese; with the map when the brief holds one (``brief_from_store``)."""
    area = area or brief.get("area", "江北区")
    received = brief["received"]
    parts = [
        f"<h1>今日要情</h1><div class='sub'>{escape(area)} · {brief['day']:%Y年%m月%d日} · "
        f"截至 {brief['as_of']:%H:%M}</div>",
        "<h2>受理情况</h2>",
        f"<p>昨日受理 <b>{received['yesterday']}</b> 件，今日受理 <b>{received['today']}</b> 件，"
        f"前七日日均 {received['week_average']} 件。</p>",
        "<div class='row'>", _map(brief), "<div class='grow'>",
        _table(brief["intake"]["channel"].assign(
            channel=lambda t: t["channel"].map(lambda c: CHANNELS.get(c, (c,))[0])),
            {"channel": "渠道（多渠道各计）", "yesterday": "昨日", "today": "今日", "week_average": "前七日日均"}),
        _table(brief["intake"]["category"].head(10),
               {"category": "类别（前十）", "yesterday": "昨日", "today": "今日", "week_average": "前七日日均"}),
        "</div></div>",
        "<h2>主要指标</h2>", _kpi_table(brief["kpis"]),
        "<h2>问题日清零</h2>",
        f"<p>昨日受理、至今未分派未办结 <b>{len(brief['to_clear'])}</b> 件（按街道、责任单位，先受理者在前）。</p>",
        _table(brief["to_clear"].head(ROWS_SHOWN),
               {"case_id": "编号", "reported_at": "受理时间", "category": "类别", "street_code": "街道",
                "responsible_unit": "责任单位"}),
        "<h2>超期未办结</h2>",
        f"<p>超期未办结 <b>{len(brief['overdue'])}</b> 件（超期最久者在前）。</p>",
        _table(brief["overdue"].head(ROWS_SHOWN),
               {"case_id": "编号", "category": "类别", "responsible_unit": "责任单位", "due_at": "办理期限",
                "days_over": "超期天数"}),
        *_hotspots(brief),
        "<h2>重点关注</h2>",
    ]
    notable = brief["notable"]
    for key, title in (("escalated", "上报至区级"), ("mass", "群体性纠纷（5人及以上）"),
                       ("repeat_callers", "重复来电（30日内3次及以上）")):
        parts.append(f"<p><b>{title}</b>：{len(notable[key])} 件</p>")
        if len(notable[key]):
            shown = notable[key].head(8).assign(level=lambda t: t["level"].map(LEVEL_NAMES).fillna(t["level"]))
            parts.append(_table(shown, {"case_id": "编号", "reported_at": "受理时间",
                                                        "category": "类别", "level": "层级", "people": "人数"}))
    parts.append("<p class='note'>由社会治理一张图生成；个人信息不在简报中出现。</p>")
    parts = _numbered(parts)
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>今日要情 {brief['day']}</title>"
            f"<style>{_STYLE}</style></head><body>{''.join(parts)}</body></html>")


NUMERALS = "一二三四五六七八九十"


def _numbered(parts: list[str]) -> list[str]:
    """The sections' headings numbered 一、二、… in the order they stand (a section may be left out)."""
    numbered, n = [], 0
    for part in parts:
        if part.startswith("<h2>"):
            part = f"<h2>{NUMERALS[n]}、{part[4:]}"
            n += 1
        numbered.append(part)
    return numbered


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
            _table(found.head(8).assign(change=lambda t: t["change"].map(CHANGE_NAMES),
                                                 confidence=lambda t: t["bin"].map({2: "95%", 3: "99%"})),
                   {"name": "网格", "grid_cell": "编号", "change": "变化", "confidence": "置信度",
                    "cases": "近七日案件", "cases_before": "前七日案件"})]


def _kpi_table(kpis: dict) -> str:
    rows = []
    for key, name in GROUPS:
        today, before = kpis["today"][key], kpis["yesterday"][key]
        rows.append(f"<tr><td>{name}</td><td class='n'>{today['received']}</td><td class='n'>{before['received']}"
                    f"</td><td class='n'>{percent(today['closure_rate'])}</td>"
                    f"<td class='n'>{percent(today['resolved_in_place_rate'])}</td>"
                    f"<td class='n'>{today['overdue']}</td></tr>")
    return ("<table><tr><th>类别</th><th>今日受理</th><th>昨日受理</th><th>结案率</th><th>就地化解率</th>"
            f"<th>超期</th></tr>{''.join(rows)}</table>")


def _table(frame: pd.DataFrame, columns: dict) -> str:
    if frame.empty:
        return "<p class='note'>无。</p>"
    head = "".join(f"<th>{escape(title)}</th>" for title in columns.values())
    body = []
    for row in frame[list(columns)].itertuples(index=False):
        cells = []
        for value in row:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = value.strftime("%m-%d %H:%M") if isinstance(value, pd.Timestamp) else "" if pd.isna(value) else value
            cells.append(f"<td{' class=n' if number else ''}>{escape(str(text))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def print_pdf(html: str, pdf_path) -> None:
    """Print the page to an A4 PDF with headless Chromium (Debian's ``chromium``)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        raise RuntimeError("printing a PDF needs Chromium (Debian: apt-get install chromium fonts-noto-cjk)")
    with tempfile.TemporaryDirectory() as folder:
        page = Path(folder) / "brief.html"
        page.write_text(html, encoding="utf-8")
        done = subprocess.run([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                               f"--user-data-dir={folder}/profile", f"--print-to-pdf={Path(pdf_path).resolve()}",
                               page.as_uri()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not Path(pdf_path).exists():
        raise RuntimeError(f"Chromium could not print {pdf_path}: {done.stderr[-500:]}")
