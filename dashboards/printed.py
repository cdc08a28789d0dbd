"""Printed documents (the daily brief, the monthly analysis): A4 pages in Chinese, and PDFs of them
printed by headless Chromium (Debian's ``chromium``, fonts ``fonts-noto-cjk``)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from html import escape
from pathlib import Path

import pandas as pd

from layers.errors import Unavailable

STYLE = """
@page { size: A4; margin: 12mm 13mm 12mm 13mm; }
body { font-family: "Noto Sans CJK SC", "Noto Serif CJK SC", sans-serif; font-size: 9.5pt; color: #111; }
h1 { font-size: 20pt; text-align: center; margin: 0 0 2mm; letter-spacing: 4pt; }
.sub { text-align: center; color: #444; margin-bottom: 5mm; }
h2 { font-size: 12pt; border-left: 4pt solid #b91c1c; padding-left: 6pt; margin: 4mm 0 1.5mm; }
h3 { font-size: 10.5pt; margin: 3mm 0 1mm; }
table { border-collapse: collapse; width: 100%; margin-bottom: 2mm; }
th, td { border: 0.5pt solid #999; padding: 0.8mm 1.6mm; text-align: left; }
th { background: #f1f5f9; }
td.n { text-align: right; }
.note { color: #555; font-size: 9pt; }
"""
NUMERALS = "一二三四五六七八九十"


def page(title: str, heading: str, subtitle: str, parts: list[str], *, style: str = "") -> str:
    """One printable HTML page: a centred heading and subtitle, then ``parts`` with their sections numbered."""
    body = [f"<h1>{escape(heading)}</h1><div class='sub'>{escape(subtitle)}</div>", *numbered(parts)]
    return (f"<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}{style}</style></head><body>{''.join(body)}</body></html>")


def numbered(parts: list[str]) -> list[str]:
    """The sections' headings numbered 一、二、… in the order they stand (a section may be left out)."""
    out, n = [], 0
    for part in parts:
        if part.startswith("<h2>"):
            part = f"<h2>{NUMERALS[n]}、{part[4:]}"
            n += 1
        out.append(part)
    return out


def table(frame: pd.DataFrame, columns: dict, *, stamp: str = "%m-%d %H:%M") -> str:
    """The frame's ``columns`` (name → heading) as an HTML table; numbers right, times as ``stamp``."""
    if frame.empty:
        return "<p class='note'>无。</p>"
    head = "".join(f"<th>{escape(title)}</th>" for title in columns.values())
    body = []
    for row in frame[list(columns)].itertuples(index=False):
        cells = []
        for value in row:
            number = isinstance(value, (int, float)) and not isinstance(value, bool)
            text = value.strftime(stamp) if isinstance(value, pd.Timestamp) else "" if pd.isna(value) else value
            cells.append(f"<td{' class=n' if number else ''}>{escape(str(text))}</td>")
        body.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def print_pdf(html: str, pdf_path) -> None:
    """Print the page to an A4 PDF with headless Chromium (Debian's ``chromium``)."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if not binary:
        raise Unavailable("printing a PDF needs Chromium (Debian: apt-get install chromium fonts-noto-cjk)")
    with tempfile.TemporaryDirectory() as folder:
        source = Path(folder) / "page.html"
        source.write_text(html, encoding="utf-8")
        done = subprocess.run([binary, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
                               f"--user-data-dir={folder}/profile", f"--print-to-pdf={Path(pdf_path).resolve()}",
                               source.as_uri()], capture_output=True, text=True, timeout=120)
    if done.returncode != 0 or not Path(pdf_path).exists():
        raise Unavailable(f"Chromium could not print {pdf_path}: {done.stderr[-500:]}")
