"""``onemap``: demo, ingest, kpis, serve. Each command is wiring over a library call."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from layers.store import StoreError, default_store, open_store

DEMO_DIR = Path("data/demo")


def _date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _print_report(report, as_json):
    data = report.to_dict()
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    print(f"rows in {data['rows_in']}: stored {data['stored']}, merged {data['merged']}, "
          f"quarantined {data['quarantined']}")
    for reason, count in data["by_reason"].items():
        print(f"  quarantined for {reason}: {count}")
    for f in data["files"]:
        enc = f" ({f['encoding']})" if f["encoding"] else ""
        print(f"  {f['file']}{enc} [{f['source']}]: in {f['rows_in']}, stored {f['stored']}, "
              f"merged {f['merged']}, quarantined {f['quarantined']}")


def cmd_demo(args):
    from demo.build import build_demo
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest_many
    from etl.profiles import read_profile

    started = time.perf_counter()
    built = build_demo(DEMO_DIR, seed=args.seed)
    print(f"demo district built in {DEMO_DIR} ({time.perf_counter() - started:.1f} s)")
    store = open_store(args.store)
    store.reset()
    loaded = load_geography(built["geography"], store)
    print("geography: " + ", ".join(f"{k} {v}" for k, v in loaded.items()))
    print(f"responsibility list: {load_responsibilities(built['responsibilities'], store)} entries")
    progress, bar = _progress_bar()
    try:
        report = ingest_many([(path, read_profile(name)) for name, path in built["exports"].items()], store,
                             progress=progress)
    finally:
        bar.close()
    _print_report(report, False)
    print(f"store {store.url} ready in {time.perf_counter() - started:.1f} s")
    store.close()
    if not args.no_serve:
        cmd_serve(args)


def _progress_bar():
    """A progress bar on stderr for a person at a terminal; nothing when output goes to a log."""
    from tqdm import tqdm

    bar = tqdm(total=None, unit="step", disable=None, file=sys.stderr, leave=False)
    steps = ("read", "locate", "merge", "write")

    def progress(step, done, files):
        if bar.total is None:
            bar.reset(total=files + len(steps) - 1)
        bar.set_description(f"{step} ({done}/{files} files)")
        bar.n = done + steps.index(step) if step != "read" else done
        bar.refresh()
    return progress, bar


def cmd_ingest(args):
    from etl.ingest import ingest_many
    from etl.profiles import read_profile

    profile = read_profile(args.source)
    progress, bar = _progress_bar()
    try:
        with open_store(args.store) as store:
            report = ingest_many([(p, profile) for p in args.paths], store, progress=progress)
    finally:
        bar.close()
    _print_report(report, args.json)


def cmd_unmerge(args):
    from etl.unmerge import unmerge

    with open_store(args.store) as store:
        print(json.dumps(unmerge(store, args.source, args.source_id), ensure_ascii=False))


def cmd_load_geography(args):
    from etl.geography import load_geography

    with open_store(args.store) as store:
        loaded = load_geography(args.path, store)
    print(json.dumps(loaded, ensure_ascii=False))


def cmd_load_responsibilities(args):
    from etl.geography import load_responsibilities

    with open_store(args.store) as store:
        print(json.dumps({"responsibilities": load_responsibilities(args.path, store)}))


def cmd_kpis(args):
    from layers.kpis import kpis_from_store

    with open_store(args.store) as store:
        result = kpis_from_store(store, start=args.date_from, end=args.date_to, street=args.street)
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for group, title in (("disputes", "矛盾纠纷 disputes"), ("events", "事件 events"), ("petitions", "信访 petitions")):
        g = result[group]
        print(f"{title}: received {g['received']}, closed {g['closed']}, closure rate {g['closure_rate']}, "
              f"resolved in place {g['resolved_in_place_rate']}, levels {g['by_level']}")
    print(f"visits: {result['visits']['batches']} batches, {result['visits']['people']} people")


def cmd_serve(args):
    from dashboards.app import serve

    serve(args.store or default_store(), port=getattr(args, "port", 8050))


def build_parser():
    parser = argparse.ArgumentParser(prog="onemap", description="社会治理一张图 — the grid-governance one map")
    sub = parser.add_subparsers(dest="command", required=True)
    store_help = "GeoPackage path or postgresql:// URL (default: $ONEMAP_STORE, else data/onemap.gpkg)"

    p = sub.add_parser("demo", help="build the demo district, ingest it, serve the dashboard")
    p.add_argument("--no-serve", action="store_true")
    p.add_argument("--store", help=store_help)
    p.add_argument("--seed", type=int, default=2020)
    p.add_argument("--port", type=int, default=8050)
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser("ingest", help="ingest channel exports")
    p.add_argument("paths", nargs="+")
    p.add_argument("--source", required=True, help="a shipped profile name or a profile .toml file")
    p.add_argument("--store", help=store_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("unmerge", help="split one intake record out of the case it was merged into")
    p.add_argument("source", help="the record's source profile, e.g. e_ningbo")
    p.add_argument("source_id", help="the record's id in that source")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_unmerge)

    p = sub.add_parser("load-geography", help="load a district's geography GeoPackage")
    p.add_argument("path")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_load_geography)

    p = sub.add_parser("load-responsibilities", help="load the responsibility list (属地管理责任清单, XLSX or CSV)")
    p.add_argument("path")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_load_responsibilities)

    p = sub.add_parser("kpis", help="the centre's KPIs over a period")
    p.add_argument("--store", help=store_help)
    p.add_argument("--from", dest="date_from", type=_date)
    p.add_argument("--to", dest="date_to", type=_date)
    p.add_argument("--street")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_kpis)

    p = sub.add_parser("serve", help="serve the dashboard")
    p.add_argument("--store", help=store_help)
    p.add_argument("--port", type=int, default=8050)
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (StoreError, ValueError, RuntimeError) as exc:
        print(f"onemap {args.command}: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
