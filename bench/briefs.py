"""Benchmark: how long the daily brief and the monthly analysis take to make, and a sweep making them
for every month and many days of a store.

Run by hand: ``.venv/bin/python bench/briefs.py [--store SPEC] [--samples 5] [--sweep]``.

- timing: for ``--samples`` days (and months) drawn at random from the store's span, the brief
  (``layers.brief.brief_from_store`` + ``dashboards.brief.brief_html``, map included), its PDF
  (headless Chromium) and the monthly analysis (``layers.monthly.monthly_from_store`` +
  ``dashboards.monthly.monthly_html``); the baseline, in the same process, is ``onemap kpis`` for the
  same day or month (``layers.kpis.kpis_from_store``), the one number a clerk asks for first;
- sweep (``--sweep``): the monthly analysis of every month of the store and the brief of every 7th
  day, as HTML; any failure is printed with its day, and the count of each made is reported.

Prints Markdown tables: medians, and the ratio to the baseline.

``--small``: a demo store of two months (``bench/out/demo_small.gpkg``, built if missing), one sample,
and the sweep; fails (exit status 1) if a document comes out empty, a PDF is not a PDF or the sweep fails.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from benchenv import check, record, small_demo_store  # noqa: E402

from dashboards.brief import brief_html  # noqa: E402
from dashboards.monthly import monthly_html  # noqa: E402
from dashboards.printed import print_pdf  # noqa: E402
from layers.brief import brief_from_store  # noqa: E402
from layers.kpis import kpis_from_store  # noqa: E402
from layers.monthly import monthly_from_store  # noqa: E402
from layers.store import open_store  # noqa: E402


def timed(make):
    t = time.perf_counter()
    value = make()
    return time.perf_counter() - t, value


def span(store) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The first and the last day of the store's cases (read by batch: a million cases fit anyway)."""
    first = last = None
    for batch in store.read_batches("cases"):
        stamps = pd.to_datetime(batch["reported_at"])
        first = stamps.min() if first is None else min(first, stamps.min())
        last = stamps.max() if last is None else max(last, stamps.max())
    return first.normalize(), last.normalize()


def timing(store, first, last, samples: int, seed: int = 2020) -> list[dict]:
    rng = random.Random(seed)
    days = [first + pd.Timedelta(days=rng.randrange((last - first).days + 1)) for _ in range(samples)]
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for day in days:
            base, _ = timed(lambda: kpis_from_store(store, start=day.date(), end=day.date()))
            made, page = timed(lambda: brief_html(brief_from_store(store, day.date())))
            check(isinstance(page, str) and "<html" in page.lower(), f"the brief of {day.date()} is not a page")
            pdf = Path(folder) / "brief.pdf"
            printed, _ = timed(lambda: print_pdf(page, pdf))
            check(pdf.exists() and pdf.read_bytes()[:5] == b"%PDF-", f"the brief of {day.date()} printed no PDF")
            month = day.to_period("M")
            month_base, _ = timed(lambda: kpis_from_store(store, start=month.start_time.date(),
                                                          end=month.end_time.date()))
            monthly, html = timed(lambda: monthly_html(monthly_from_store(store, str(month))))
            check(isinstance(html, str) and "<html" in html.lower(), f"the monthly analysis of {month} is not a page")
            rows.append({"day": day.date(), "kpis_day_s": base, "brief_s": made, "pdf_s": printed,
                         "kpis_month_s": month_base, "monthly_s": monthly})
            print(f"  {rows[-1]}", flush=True)
    return rows


def sweep(store, first, last, every_days: int = 7) -> dict:
    made = {"months": 0, "days": 0, "failures": []}
    for month in pd.period_range(first, last, freq="M"):
        try:
            monthly_html(monthly_from_store(store, str(month)))
            made["months"] += 1
        except Exception:  # noqa: BLE001 - a sweep reports every failure and goes on
            made["failures"].append((str(month), traceback.format_exc(limit=3)))
    for day in pd.date_range(first, last, freq=f"{every_days}D"):
        try:
            brief_html(brief_from_store(store, day.date()))
            made["days"] += 1
        except Exception:  # noqa: BLE001
            made["failures"].append((str(day.date()), traceback.format_exc(limit=3)))
    return made


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", default="data/onemap.gpkg")
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--sweep", action="store_true")
    parser.add_argument("--small", action="store_true", help="a two-month demo store, one sample, and the sweep")
    args = parser.parse_args()
    if args.small:
        args.store = str(small_demo_store(Path(__file__).resolve().parent / "out" / "demo_small.gpkg"))
        args.samples, args.sweep = 1, True
    record(["numpy", "pandas", "geopandas", "shapely", "pyogrio", "scipy", "esda", "matplotlib", "plotly", "selenium"],
           chromium=True, postgres=args.store.split("?")[0] if args.store.startswith("postgresql") else None)
    with open_store(args.store) as store:
        cases = store.count("cases")
        first, last = span(store)
        print(f"store {args.store}: {cases} cases, {first.date()} to {last.date()}", flush=True)
        rows = pd.DataFrame(timing(store, first, last, args.samples))
        print("\n| document | median s | baseline (onemap kpis) median s | ratio |\n|---|---|---|---|")
        for name, column, base in (("brief (HTML, map included)", "brief_s", "kpis_day_s"),
                                   ("brief PDF (print only)", "pdf_s", "kpis_day_s"),
                                   ("monthly analysis (HTML)", "monthly_s", "kpis_month_s")):
            ratio = statistics.median(rows[column] / rows[base])
            print(f"| {name} | {rows[column].median():.2f} | {rows[base].median():.2f} | {ratio:.1f} |")
        if args.sweep:
            t = time.perf_counter()
            made = sweep(store, first, last)
            print(f"\nsweep: {made['months']} months and {made['days']} days made in {time.perf_counter() - t:.0f} s, "
                  f"{len(made['failures'])} failures")
            for when, error in made["failures"]:
                print(f"  {when}: {error}")
            check(not made["failures"], f"{len(made['failures'])} documents failed in the sweep")
            check(made["months"] > 0 and made["days"] > 0, "the sweep made nothing")


if __name__ == "__main__":
    main()
