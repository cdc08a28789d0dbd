"""``onemap``: demo, ingest, kpis, hotspots, blindspots, remediation, serve. Each command is wiring over a library call."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path

from layers.errors import InvalidValue, NotFound, OnemapError
from layers.export import DATUMS, FORMATS
from layers.settings import Settings
from layers.store import default_store, open_store

DEMO_DIR = Path("data/demo")
# The centre reads the day's brief at its morning meeting.
BRIEF_AT = "07:30"


def _date(text):
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _month(text):
    try:
        return date.fromisoformat(f"{text}-01").strftime("%Y-%m")
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a month (YYYY-MM): {text!r}") from None


def outcome_line(counts: dict) -> str:
    """"new 3, updated 1, unchanged 96, merged 0, quarantined 0": rows in = new + updated + unchanged + merged +
    quarantined."""
    return ", ".join(f"{k} {counts[k]}" for k in ("new", "updated", "unchanged", "merged", "quarantined"))


def _print_report(report, as_json):
    data = report.to_dict()
    if report.dry_run:
        data["preview"] = _preview(report)
    if as_json:
        print(json.dumps(data, ensure_ascii=False))
        return
    dry = " (dry run: nothing written)" if report.dry_run else ""
    print(f"rows in {data['rows_in']}: {outcome_line(data)}{dry}")
    for reason, count in data["by_reason"].items():
        print(f"  quarantined for {reason}: {count}")
    for warning in data["warnings"]:
        print(f"  warning: {warning['message']}")
    if data["cleared_from_quarantine"]:
        print(f"  cleared from quarantine: {data['cleared_from_quarantine']} rows ingested now")
    for f in data["files"]:
        enc = f" ({f['encoding']})" if f["encoding"] else ""
        print(f"  {f['file']}{enc} [{f['source']}]: in {f['rows_in']}, {outcome_line(f)}")
        # Words the profile's maps do not list, kept or defaulted: to add to the map.
        for name, words in f.get("unlisted", {}).items():
            listed = ", ".join(f"{w} ×{n}" for w, n in words.items())
            print(f"    not in the profile's map of {name}: {listed}")
    for name, rows in data.get("preview", {}).items():
        print(f"first {len(rows)} rows of {name} as they would be stored:")
        for row in rows:
            print("  " + json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False))


def cmd_demo(args):
    from demo.build import build_demo
    from etl.geography import load_geography, load_responsibilities
    from etl.ingest import ingest_many
    from etl.profiles import read_profile

    started = time.perf_counter()

    def progress(step):
        print(f"[{time.perf_counter() - started:5.1f} s] building {step}", file=sys.stderr, flush=True)
    built = build_demo(DEMO_DIR, seed=args.seed, progress=progress)
    print(f"demo district built in {DEMO_DIR} ({time.perf_counter() - started:.1f} s)")
    store = open_store(args.store)
    store.reset()
    store.migrate()
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
    from demo.remediations import create_demo_remediations
    from demo.users import create_demo_users

    print(f"remediation register: {create_demo_remediations(store)} estates renovated and handed over")
    from demo.blind_spots import record_demo_blind_spots

    print(f"blind-spot register: {record_demo_blind_spots(store)['new']} recorded")
    people = create_demo_users(store)
    print(f"store {store.url} ready in {time.perf_counter() - started:.1f} s")
    store.close()
    base = f"http://127.0.0.1:{args.port}"
    print(f"\nOpen {base}/ and log in as one of the demo users (user / password, role, area):")
    for u in people["users"]:
        print(f"  {u['user']:<10} {u['password']:<16} {u['role']:<13} {u['area']}  {u['display_name']}")
    print(f"Today's brief (今日要情) and the monthly analysis: {base}/brief")
    print(f"The wall screen needs no login, only its kiosk link (revoke: onemap kiosk revoke {people['kiosk_id']}):")
    print(f"  {base}/wall?kiosk={people['kiosk_token']}\n")
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
            report = ingest_many([(p, profile) for p in args.paths], store, progress=progress,
                                 dry_run=args.dry_run)
    finally:
        bar.close()
    _print_report(report, args.json)
    if report.rows_in and report.quarantined == report.rows_in:
        # Nothing taken is a failure for whoever runs this from a script, not a success with a long report.
        print(f"onemap ingest: every one of the {report.rows_in} rows was quarantined: the profile may not describe "
              "this file (the reasons above) · 全部行被隔离，请检查配置", file=sys.stderr)
        return 1
    return 0


def _preview(report) -> dict:
    """A dry run's first rows per layer, as plain values (times as text, points as lon/lat)."""
    out = {}
    for name, frame in report.preview.items():
        rows = frame.drop(columns="geometry", errors="ignore").copy()
        if "geometry" in frame:
            rows["lon"] = [None if g is None or g.is_empty else round(g.x, 7) for g in frame.geometry]
            rows["lat"] = [None if g is None or g.is_empty else round(g.y, 7) for g in frame.geometry]
        out[name] = json.loads(rows.to_json(orient="records", date_format="iso", force_ascii=False))
    return out


def cmd_watch(args):
    from dashboards.memory import keep_trimming
    from etl.inbox import Inbox

    root = Path(args.inbox)
    if args.once and not root.is_dir():
        raise NotFound(f"no inbox folder {root}")

    def report(result):
        if args.json:
            print(json.dumps(result, ensure_ascii=False), flush=True)
        elif result["ok"]:
            print(f"{result['file']}: in {result['rows_in']}, {outcome_line(result)}", flush=True)
        else:
            print(f"{result['file']}: failed: {result['error']['description']}", flush=True)

    inbox = Inbox(root, args.store or default_store(), settle_s=args.settle, report=report)
    if args.once:
        inbox.look(once=True)
        return
    print(f"watching {root} (a folder per source profile; files settle for {args.settle:g} s)", flush=True)
    keep_trimming()  # a watcher runs all day, as the server does (one look, --once, is over at once)
    inbox.run(parent=args.parent)


def cmd_profile(args):
    from etl.draft import district_bounds, draft_profile, profile_text, sample_export, summary

    if args.store:
        with open_store(args.store) as store:
            bounds = district_bounds(store)
    else:
        bounds = district_bounds()
    result = draft_profile(sample_export(args.path), bounds)
    text = profile_text(result, Path(args.path).name)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"wrote {args.out}")
    else:
        print(text, end="")
    # On stderr when the draft is on stdout, so that `> draft.toml` keeps the profile alone.
    print(summary(result), file=sys.stderr if not args.out else sys.stdout)


def _named_user(store, name: str):
    """The user ``--as NAME`` names; an unknown name is an error that says where the names are."""
    from layers.users import get_user

    user = get_user(store, name)
    if user is None:
        raise InvalidValue(f"no user {name!r} (onemap user list)")
    return user


def cmd_quarantine(args):
    """``onemap quarantine list|export|retry``: the rows kept back, as a clerk works them, in a user's area."""
    from layers.areas import DISTRICT
    from layers.quarantine import by_file_and_reason, check_role, export_xlsx, open_entries

    if args.action in ("export", "retry") and not args.file:
        raise InvalidValue(f"onemap quarantine {args.action} needs the spreadsheet's path (.xlsx)")
    with open_store(args.store) as store:
        area = DISTRICT
        if args.as_user:
            user = _named_user(store, args.as_user)
            check_role(user.role)
            area = user.area
        if args.action == "retry":
            from etl.profiles import read_profile
            from etl.retry import retry

            given = read_profile(args.source) if args.source else None
            report = retry(store, args.file, lambda source: given or read_profile(source),
                           area if args.as_user else None)
            _print_report(report, args.json)
            return
        entries = open_entries(store, area)
        if args.action == "export":
            Path(args.file).write_bytes(export_xlsx(entries))
            print(json.dumps({"rows": len(entries), "file": args.file, "area": area.spec()}) if args.json else
                  f"quarantine: {len(entries)} rows of {area.spec()} written to {args.file} "
                  "(fix them, keep the first three columns, then: onemap quarantine retry FILE)")
            return
        counts = by_file_and_reason(entries)
        if args.json:
            print(json.dumps({"rows": len(entries), "area": area.spec(),
                              "by_file_and_reason": counts.to_dict("records")}, ensure_ascii=False))
            return
        print(f"quarantine of {area.spec()}: {len(entries)} rows")
        for r in counts.itertuples(index=False):
            print(f"  {r.file} [{r.source}] {r.reason}: {r.rows}")


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


def cmd_brief(args):
    import pandas as pd

    from dashboards.brief import brief_html
    from layers.brief import archive_brief, archived_brief, area_name, brief_from_store

    with open_store(args.store) as store:
        area = _area(args, store)
        name = area_name(store, area)
        if args.archived:
            page = archived_brief(store, args.date, area.spec())
            if page is None:
                raise NotFound(f"no brief of {args.date} for {name} was made; make it without --archived")
        else:
            as_of = pd.Timestamp(args.as_of) if args.as_of else None
            page = brief_html(brief_from_store(store, args.date, area, as_of=as_of))
            archive_brief(store, args.date, area.spec(), page)
    if not args.out:
        print(f"今日要情 {args.date} ({name}) archived in the store")
        return
    _write_page(page, args.out)
    print(f"今日要情 {args.date} ({name}) → {args.out}")


def cmd_monthly(args):
    from dashboards.monthly import monthly_html
    from layers.monthly import monthly_from_store

    with open_store(args.store) as store:
        page = monthly_html(monthly_from_store(store, args.month, _area(args, store)))
    _write_page(page, args.out)
    print(f"难题月研判 {args.month} → {args.out}")


def _area(args, store):
    """The area a command was given: --street (name or code), --area (a spec), or the district."""
    from layers.areas import DISTRICT, Area
    from layers.kpis import street_code_for

    code = street_code_for(store, args.street)
    return Area("street", (code,)) if code else Area.parse(args.area) if args.area else DISTRICT


def _write_page(page: str, out) -> None:
    """A printable page as HTML, or printed to PDF by headless Chromium when ``out`` ends in .pdf."""
    from pathlib import Path

    from dashboards.printed import print_pdf

    out = Path(out)
    if out.suffix.lower() == ".pdf":
        print_pdf(page, out)
    else:
        out.write_text(page, encoding="utf-8")


def _analysis_filter(args, store):
    from layers.filters import CaseFilter
    from layers.kpis import street_code_for

    query = {"from": args.date_from and args.date_from.isoformat(), "to": args.date_to and args.date_to.isoformat(),
             "street": street_code_for(store, args.street), "category": args.category, "channel": args.channel}
    return CaseFilter.from_query(query)


def _records(frame, columns):
    import pandas as pd

    out = frame[columns].copy()
    for column in out.columns:
        if pd.api.types.is_datetime64_any_dtype(out[column]):
            out[column] = out[column].dt.strftime("%Y-%m-%d %H:%M")
        elif pd.api.types.is_float_dtype(out[column]):
            out[column] = out[column].round(4)
    return out.astype(object).where(out.notna(), None).to_dict("records")


def cmd_hotspots(args):
    from layers.analysis import emerging_layer, hotspot_layer

    with open_store(args.store) as store:
        f = _analysis_filter(args, store)
        spots = hotspot_layer(store, f, measure=args.measure)
        emerging = emerging_layer(store, f, measure=args.measure)
    significant = spots[spots["bin"] != 0].sort_values("z", ascending=False)
    patterned = emerging[emerging["pattern"] != "no_pattern"].sort_values(["pattern", "z_last"], ascending=[True, False])
    result = {
        "filter": f.to_query(), "measure": args.measure, "cells": len(spots),
        "method": "Getis-Ord Gi* (esda, queen contiguity, binary weights), two-sided normal p, "
                  "Benjamini-Hochberg FDR at each confidence level; emerging: Gi* per month + Mann-Kendall",
        "by_bin": {str(b): int(n) for b, n in spots["bin"].value_counts().sort_index().items()},
        "hotspots": _records(significant, ["grid_cell", "name", "value", "z", "p", "bin", "label"]),
        "by_pattern": {str(k): int(v) for k, v in emerging["pattern"].value_counts().sort_index().items()},
        "emerging": _records(patterned, ["grid_cell", "name", "pattern", "hot_bins", "cold_bins", "trend_tau",
                                         "trend_p", "z_last"]),
    }
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    print(f"{len(spots)} grid cells, {args.measure}, {f.start} → {f.end}: "
          + ", ".join(f"bin {b}: {n}" for b, n in result["by_bin"].items()))
    for row in result["hotspots"]:
        print(f"  {row['grid_cell']} {row['name']:<16} {row['label']:<22} z {row['z']:6.2f}  value {row['value']}")
    print("emerging: " + ", ".join(f"{k} {v}" for k, v in result["by_pattern"].items()))


def cmd_blindspots(args):
    from gis.blind_spots import RULES
    from layers.analysis import blind_spot_layer
    from layers.blind_spot_register import record_findings, with_states

    if args.action in ("assign", "resolve"):
        return _blind_spot_step(args)
    with open_store(args.store) as store:
        f = _analysis_filter(args, store)
        found = blind_spot_layer(store, f)
        if args.action == "record":
            counts = record_findings(store, found, actor="onemap blindspots record")
            print(json.dumps(counts) if args.json else
                  f"blind spots recorded: {counts['new']} new, {counts['reopened']} reopened, "
                  f"{counts['refreshed']} still open")
            return
        found = with_states(store, found)
    found = found.assign(state=found["state"].fillna("unrecorded"))
    result = {"filter": f.to_query(),
              "rules": {rule: {"title": list(RULES[rule]), "found": int((found["rule"] == rule).sum())}
                        for rule in RULES},
              "blind_spots": _records(found, list(found.columns))}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for rule, about in result["rules"].items():
        print(f"{about['title'][0]} · {about['title'][1]}: {about['found']}")
        for row in [r for r in result["blind_spots"] if r["rule"] == rule][:10]:
            print(f"  {row['place_kind']} {row['place']} {row['category'] or ''} cases {row['cases']}")


def _blind_spot_step(args):
    from layers.blind_spot_register import assign, name_unit, resolve
    from layers.remediation_orders import Actor

    if not args.blind_spot or not args.as_user:
        raise InvalidValue(f"onemap blindspots {args.action} needs the blind spot's id and --as NAME")
    with open_store(args.store) as store:
        user = _named_user(store, args.as_user)
        actor = Actor(user.name, user.role, user.area, address="onemap cli")
        if args.action == "assign":
            wrote = assign(store, actor, args.blind_spot, unit=args.unit or "", deadline=args.deadline,
                           note=args.note or "")
        elif args.how == "responsibility_amended" and args.unit:  # the unit goes into the responsibility list
            wrote = name_unit(store, actor, args.blind_spot, unit=args.unit, note=args.note or "")
        else:
            wrote = resolve(store, actor, args.blind_spot, how=args.how or "", note=args.note or "")
    state = "assigned" if args.action == "assign" else "resolved"
    print(json.dumps({"blind_spot_id": args.blind_spot, "state": state, "written": wrote}) if args.json else
          f"blind spot {args.blind_spot}: {state}" + ("" if wrote else " (already so: nothing written)"))


def cmd_remediation(args):
    if args.action in ("import", "export"):
        return _remediation_ledger(args)
    if args.action != "effects":
        return _remediation_orders(args)
    from layers.remediation import PLACE_LAYERS, overall_effect, remediation_effects

    with open_store(args.store) as store:
        effects = remediation_effects(store, months=args.months)
    overall = [o for o in (overall_effect(effects, kind) for kind in PLACE_LAYERS) if o]
    result = {"window_months": args.months,
              "method": "difference in differences: the place's cases per month before the start and after the "
                        "finish, against places of the same kind never remediated; Poisson 95% interval",
              "overall": overall, "register": _records(effects, list(effects.columns)) if len(effects) else []}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
        return
    for o in overall:
        print(f"{o['place_kind']}: {o['remediations']} finished, cases/month {o['before']} → {o['after']} "
              f"(comparison {o['control_before']} → {o['control_after']}), DiD {o['did']} [{o['low']}, {o['high']}]: "
              f"{o['verdict']}")
    for r in result["register"]:
        effect = f"DiD {r['did']} [{r['low']}, {r['high']}] {r['verdict']}" if r.get("verdict") else "not finished"
        print(f"  {r['place_kind']} {r['place']} {r['what']} ({r['unit']}, {r['started_at']} → {r['finished_at']}): "
              f"{effect}")


def _remediation_orders(args):
    """``onemap remediation list|add|advance``: the orders, as the pages work them, under a user's name and rules."""
    from layers.areas import DISTRICT
    from layers.remediation_orders import STATES, Actor, advance_order, open_order, orders

    with open_store(args.store) as store:
        actor = None
        if args.as_user:
            user = _named_user(store, args.as_user)
            actor = Actor(user.name, user.role, user.area, address="onemap cli")
        if args.action == "list":
            found = orders(store, actor.area if actor else DISTRICT)
            columns = ["remediation_id", "state", "overdue", "place_kind", "place", "category", "what", "unit",
                       "planned_start", "planned_finish", "started_at", "finished_at", "handed_over_to", "entered_by"]
            rows = _records(found, columns) if len(found) else []
            if args.json:
                print(json.dumps({"orders": rows}, ensure_ascii=False))
                return
            for r in rows:
                late = " 逾期 overdue" if r["overdue"] else ""
                print(f"{r['remediation_id']} {STATES[r['state']][0]} {r['state']}{late}: {r['place_kind']} {r['place']} "
                      f"{r['what']} ({r['unit']}, plan {r['planned_start']} → {r['planned_finish']})")
            return
        if actor is None:
            raise InvalidValue(f"onemap remediation {args.action} needs --as NAME: every step is taken by someone")
        if args.action == "add":
            missing = [f"--{n.replace('_', '-')}" for n in ("place_kind", "place", "measures", "unit", "start", "finish")
                       if not getattr(args, n)]
            if missing:
                raise InvalidValue(f"onemap remediation add needs {', '.join(missing)}")
            order, wrote = open_order(store, actor, place_kind=args.place_kind, place=args.place,
                                      category=args.category, measures=args.measures, unit=args.unit,
                                      planned_start=args.start, planned_finish=args.finish, note=args.note or "",
                                      request_key=args.request_key)
            result = {"remediation_id": order, "state": "proposed", "written": wrote}
        else:
            if not args.order or not args.step:
                raise InvalidValue("onemap remediation advance needs the order's id and the step: "
                                   f"{', '.join(s for s in STATES if s != 'proposed')}")
            wrote = advance_order(store, actor, args.order, args.step, note=args.note or "",
                                  handed_over_to=args.to)
            result = {"remediation_id": args.order, "state": args.step, "written": wrote}
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        print(f"remediation {result['remediation_id']}: {result['state']}"
              + ("" if result["written"] else " (already so: nothing written)"))


def _remediation_ledger(args):
    """``onemap remediation import|export FILE --as NAME``: the office's ledger (docs/ledger.md), as that user."""
    from etl.ledger import import_ledger
    from layers.ledger import LedgerRefused, export_ledger
    from layers.remediation_orders import Actor

    path = args.order  # the positional after the action: an order's id for advance, the ledger file here
    if not path or not args.as_user:
        raise InvalidValue(f"onemap remediation {args.action} needs the ledger file and --as NAME")
    with open_store(args.store) as store:
        user = _named_user(store, args.as_user)
        if args.action == "export":
            rows = export_ledger(store, path, area=user.area, user=user.name)
            print(json.dumps({"rows": rows, "file": path, "area": user.area.spec()}, ensure_ascii=False) if args.json else
                  f"ledger: {rows} rows of {user.area.spec()} written to {path}")
            return
        try:
            result = import_ledger(store, path, Actor(user.name, user.role, user.area, address="onemap cli"),
                                   dry_run=args.dry_run)
        except LedgerRefused as exc:  # the count on stdout; every reason on stderr, as any error's
            print(json.dumps({"new": 0, "updated": 0, "unchanged": 0, "refused": exc.refused}) if args.json else
                  f"ledger: 0 new, 0 updated, 0 unchanged, {exc.refused} refused (nothing written)")
            raise
    counts = {"new": result.new, "updated": result.updated, "unchanged": result.unchanged, "refused": result.refused,
              "dry_run": args.dry_run}
    print(json.dumps(counts) if args.json else
          result.summary() + (" (dry run: nothing written)" if args.dry_run else ""))


def cmd_export(args):
    import getpass

    from layers.export import export_layers

    with open_store(args.store) as store:
        f = _analysis_filter(args, store)
        counts = export_layers(store, args.layers, args.out, fmt=args.format, datum=args.crs, f=f,
                               personal_allowed=args.with_personal, user=getpass.getuser())
    note = "" if args.date_from or args.date_to else " (this year: --from and --to export another period)"
    print(f"period {f.start} → {f.end}{note}")
    for name, n in counts.items():
        print(f"{name}: {n} features → {args.out} ({args.format}, {args.crs})")


def cmd_user(args):
    import getpass

    from layers.areas import Area
    from layers.users import add_user, disable_user, list_users, set_password

    if args.action != "list" and not args.name:
        raise InvalidValue(f"onemap user {args.action} needs a user name")
    with open_store(args.store) as store:
        if args.action in ("add", "password"):
            password = sys.stdin.readline().rstrip("\n") if args.password_stdin else getpass.getpass(
                f"password for {args.name}: ")
        if args.action == "password":
            if not set_password(store, args.name, password):
                raise NotFound(f"no user {args.name!r}")
            print(f"user {args.name}: new password; the user's open sessions have ended")
        elif args.action == "add":
            user = add_user(store, args.name, role=args.role, area=Area.parse(args.area), password=password,
                            display_name=args.display_name or "")
            print(f"user {user.name}: role {user.role}, area {user.area.spec()}")
        elif args.action == "list":
            for row in list_users(store).itertuples():
                state = " (disabled)" if row.disabled else ""
                print(f"{row.user_name:<16} {row.role:<13} {row.area:<30} {row.display_name}{state}")
        elif args.action == "disable":
            if not disable_user(store, args.name):
                raise NotFound(f"no user {args.name!r}")
            print(f"user {args.name} disabled")


def cmd_kiosk(args):
    import pandas as pd

    from layers.areas import Area
    from layers.users import add_kiosk, list_kiosks, revoke_kiosk

    if args.action == "revoke" and not args.kiosk_id:
        raise InvalidValue("onemap kiosk revoke needs the kiosk's id (onemap kiosk list)")
    with open_store(args.store) as store:
        if args.action == "add":
            kiosk_id, token = add_kiosk(store, area=Area.parse(args.area), label=args.label, view=args.view)
            print(f"kiosk {kiosk_id}: {args.base_url.rstrip('/')}/wall?kiosk={token}")
            print("the link is shown once; keep it on the wall screen's machine only")
        elif args.action == "list":
            for row in list_kiosks(store).itertuples():
                state = f" revoked {row.revoked_at:%Y-%m-%d %H:%M}" if pd.notna(row.revoked_at) else ""
                print(f"{row.kiosk_id}  {row.area:<30} {row.view:<24} {row.label}{state}")
        elif args.action == "revoke":
            if not revoke_kiosk(store, args.kiosk_id):
                raise NotFound(f"no kiosk {args.kiosk_id!r}")
            print(f"kiosk {args.kiosk_id} revoked")


def cmd_apikey(args):
    import getpass

    import pandas as pd

    from layers.apikeys import add_key, list_keys, revoke_key

    who = f"cli:{getpass.getuser()}"
    with open_store(args.store) as store:
        if args.action == "add":
            if not args.channel:
                raise InvalidValue("onemap apikey add needs --channel (the channel system the key is for)")
            key_id, key = add_key(store, args.channel, label=args.label, created_by=who)
            print(f"key {key_id} for {args.channel}: {key}")
            print("the key is shown once; give it to the channel system's operator only")
        elif args.action == "list":
            for row in list_keys(store).itertuples():
                state = f" revoked {row.revoked_at:%Y-%m-%d %H:%M}" if pd.notna(row.revoked_at) else ""
                print(f"{row.key_id}  {row.channel:<22} {row.created_at:%Y-%m-%d %H:%M}  {row.label}{state}")
        elif args.action == "revoke":
            if not args.key_id:
                raise InvalidValue("onemap apikey revoke needs the key's id (onemap apikey list)")
            if not revoke_key(store, args.key_id, by=who):
                raise NotFound(f"no key {args.key_id!r}")
            print(f"key {args.key_id} revoked")


def cmd_migrate(args):
    from layers.store import SCHEMA_VERSION

    with open_store(args.store) as store:
        before = store.schema_version()
        applied = store.migrate()
    if args.json:
        print(json.dumps({"store": store.url, "before": before, "applied": applied, "version": SCHEMA_VERSION}))
    elif applied:
        print(f"store {store.url}: schema version {before or 0} -> {SCHEMA_VERSION} "
              f"(migrations {', '.join(map(str, applied))})")
    else:
        print(f"store {store.url}: at schema version {SCHEMA_VERSION}, nothing to do")


def cmd_serve(args):
    from dashboards.app import serve
    from dashboards.basemap import basemap_from
    from dashboards.schedule import parse_hour

    settings = Settings.from_environ()
    basemap = basemap_from(getattr(args, "basemap", None) or settings.basemap or None,
                           getattr(args, "basemap_datum", None) or settings.basemap_datum or None)
    serve(args.store or default_store(), port=getattr(args, "port", 8050), basemap=basemap,
          workers=getattr(args, "workers", 1), brief_at=parse_hour(getattr(args, "brief_at", BRIEF_AT)),
          inbox=getattr(args, "inbox", None))


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

    p = sub.add_parser("migrate", help="bring a store to this onemap's schema version (a new store: build it)")
    p.add_argument("--store", help=store_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_migrate)

    p = sub.add_parser("ingest", help="ingest channel exports")
    p.add_argument("paths", nargs="+")
    p.add_argument("--source", required=True, help="a shipped profile name or a profile .toml file")
    p.add_argument("--store", help=store_help)
    p.add_argument("--dry-run", action="store_true",
                   help="read, check, locate and merge; report and show the first rows as they would be stored; "
                        "write nothing")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_ingest)

    p = sub.add_parser("profile", help="draft a source profile for an export never seen before")
    p.add_argument("action", choices=["draft"])
    p.add_argument("path", help="the export: CSV, XLSX, JSON or GeoJSON")
    p.add_argument("--out", help="write the draft here (default: print it)")
    p.add_argument("--store", help="take the district's bounds from this store's geography (default: the demo "
                                   "district's)")
    p.set_defaults(func=cmd_profile)

    p = sub.add_parser("watch", help="ingest the files dropped into an inbox folder (a folder per source profile) "
                                     "as they arrive")
    p.add_argument("inbox", help="the inbox: INBOX/hotline_12345/..., or a folder holding its own profile.toml")
    p.add_argument("--store", help=store_help)
    p.add_argument("--once", action="store_true", help="take what has settled, then stop")
    p.add_argument("--settle", type=float, default=Settings.from_environ().inbox_settle_s,
                   help="seconds a file must stay unchanged before it is taken")
    p.add_argument("--json", action="store_true", help="one JSON report per file taken")
    p.add_argument("--parent", type=int, help=argparse.SUPPRESS)  # a server's watcher stops when the server does
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("quarantine", help="the rows ingests kept back: list them by file and reason, export them "
                                          "to a spreadsheet with the reason, retry the fixed spreadsheet")
    p.add_argument("action", choices=["list", "export", "retry"])
    p.add_argument("file", nargs="?", help="export: the .xlsx to write; retry: the fixed .xlsx")
    p.add_argument("--as", dest="as_user", help="the user working it (an admin or commander; their area applies)")
    p.add_argument("--source", help="retry: the profile to read the rows with (default: each row's shipped "
                                    "source profile)")
    p.add_argument("--store", help=store_help)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_quarantine)

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

    p = sub.add_parser("brief", help="the daily brief (今日要情) for a day, as HTML or PDF")
    p.add_argument("--date", type=_date, required=True)
    p.add_argument("--street", help="a street's name or code")
    p.add_argument("--area", help="an area spec instead: district, community:CODE, cells:CODE,CODE")
    p.add_argument("--as-of", help="the time the brief is made at (default: the end of the day)")
    p.add_argument("--out", help="brief.html or brief.pdf (none: only made and archived in the store)")
    p.add_argument("--archived", action="store_true", help="the brief as it was made that day, from the store")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_brief)

    p = sub.add_parser("monthly", help="the monthly analysis of hard problems (难题月研判), as HTML or PDF")
    p.add_argument("--month", type=_month, required=True, help="YYYY-MM")
    p.add_argument("--street", help="a street's name or code")
    p.add_argument("--area", help="an area spec instead: district, community:CODE, cells:CODE,CODE")
    p.add_argument("--out", required=True, help="monthly.html or monthly.pdf")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_monthly)

    p = sub.add_parser("kpis", help="the centre's KPIs over a period")
    p.add_argument("--store", help=store_help)
    p.add_argument("--from", dest="date_from", type=_date)
    p.add_argument("--to", dest="date_to", type=_date)
    p.add_argument("--street")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_kpis)

    for name, func, about in (("hotspots", cmd_hotspots, "Gi* hotspots and emerging hotspot patterns per grid cell"),
                              ("blindspots", cmd_blindspots, "blind spots: what nobody answers for")):
        p = sub.add_parser(name, help=about)
        p.add_argument("--store", help=store_help)
        p.add_argument("--from", dest="date_from", type=_date, help="first day (default: 1 January this year)")
        p.add_argument("--to", dest="date_to", type=_date, help="last day (default: today)")
        p.add_argument("--street", help="a street's name or code")
        p.add_argument("--category", help="categories, comma-separated")
        p.add_argument("--channel", help="channels, comma-separated (e.g. grid_platform)")
        if name == "hotspots":
            p.add_argument("--measure", choices=["cases", "per_1000"], default="per_1000",
                           help="cases per cell, or per 1 000 residents (default)")
        else:
            p.add_argument("action", nargs="?", default="list", choices=["list", "record", "assign", "resolve"],
                           help="list (the default, with each one's state in the register), record (today's "
                                "findings over the whole district into the register), assign, resolve")
            p.add_argument("blind_spot", nargs="?", help="assign, resolve: the blind spot's id")
            p.add_argument("--as", dest="as_user", help="assign, resolve: the user doing it")
            p.add_argument("--unit", help="assign: the unit it goes to; resolve --how responsibility_amended: "
                                          "the unit, named in the responsibility list for the category there")
            p.add_argument("--deadline", help="assign: by when (YYYY-MM-DD)")
            p.add_argument("--how", help="resolve: responsibility_amended, component_repaired, boundary_corrected, "
                                         "handed_over or other")
            p.add_argument("--note")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)

    p = sub.add_parser("export", help="export catalogue layers (GeoPackage, GeoJSON, CSV, Shapefile, KML, HTML) in a chosen datum")
    p.add_argument("layers", nargs="+", help="streets, communities, grid_cells, estates, setback_areas, components, "
                                             "cases, hotspots, emerging_hotspots, change, blind_spots, priorities")
    p.add_argument("--format", choices=list(FORMATS), default="gpkg")
    p.add_argument("--crs", default="cgcs2000", help=f"{', '.join(DATUMS)} (default cgcs2000), or EPSG:CODE")
    p.add_argument("--out", required=True, help="a file; a folder when several layers go to GeoJSON or CSV")
    p.add_argument("--from", dest="date_from", type=_date, help="first day (default: 1 January this year)")
    p.add_argument("--to", dest="date_to", type=_date, help="last day (default: today)")
    p.add_argument("--street")
    p.add_argument("--category")
    p.add_argument("--channel")
    p.add_argument("--with-personal", action="store_true", help="keep phone numbers and free text unmasked")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_export)

    p = sub.add_parser("remediation", help="remediation orders (list, add, advance), the office's Excel ledger "
                                           "(import, export: docs/ledger.md) and each finished one's measured "
                                           "effect (effects, the default)")
    p.add_argument("action", nargs="?", default="effects",
                   choices=["effects", "list", "add", "advance", "import", "export"])
    p.add_argument("order", nargs="?", help="advance: the order's id; import, export: the ledger file (.xlsx; "
                                            "import also .csv)")
    p.add_argument("step", nargs="?", help="advance: approved, in_progress, accepted, handed_over or cancelled")
    p.add_argument("--as", dest="as_user", help="the user taking the step (their role and area apply)")
    p.add_argument("--place-kind", help="add: grid_cell, estate or setback_area")
    p.add_argument("--place", help="add: the place's code")
    p.add_argument("--category", help="add: the problem's category")
    p.add_argument("--measures", help="add: what will be done")
    p.add_argument("--unit", help="add: the responsible unit")
    p.add_argument("--start", help="add: planned start (YYYY-MM-DD)")
    p.add_argument("--finish", help="add: planned finish (YYYY-MM-DD)")
    p.add_argument("--note")
    p.add_argument("--to", help="advance … handed_over: the unit it is handed over to")
    p.add_argument("--request-key", help="add: the same key again returns the same order and writes nothing")
    p.add_argument("--dry-run", action="store_true", help="import: check the ledger and count, write nothing")
    p.add_argument("--store", help=store_help)
    p.add_argument("--months", type=int, default=6, help="months before the start and after the finish (default 6)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_remediation)

    area_help = "district | street:CODE | community:CODE | cells:CODE,CODE,..."
    p = sub.add_parser("user", help="manage users: add, list, password, disable (password and disable end "
                                    "the user's sessions)")
    p.add_argument("action", choices=["add", "list", "password", "disable"])
    p.add_argument("name", nargs="?")
    p.add_argument("--role", help="commander, street_staff, grid_leader, planner or admin")
    p.add_argument("--area", default="district", help=area_help)
    p.add_argument("--display-name")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_user)

    p = sub.add_parser("kiosk", help="kiosk links for wall screens: add, list, revoke")
    p.add_argument("action", choices=["add", "list", "revoke"])
    p.add_argument("kiosk_id", nargs="?")
    p.add_argument("--area", default="district", help=area_help)
    p.add_argument("--label", default="")
    p.add_argument("--view", default="rotate=1&interval=60", help="the wall's query, e.g. rotate=1&interval=60")
    p.add_argument("--base-url", default="http://127.0.0.1:8050")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_kiosk)

    p = sub.add_parser("apikey", help="keys of the channel systems that push cases (Open311): add, list, revoke")
    p.add_argument("action", choices=["add", "list", "revoke"])
    p.add_argument("key_id", nargs="?")
    p.add_argument("--channel", help="the channel whose cases the key writes and reads")
    p.add_argument("--label", default="", help="which system holds it, e.g. 12345热线工单系统")
    p.add_argument("--store", help=store_help)
    p.set_defaults(func=cmd_apikey)

    p = sub.add_parser("serve", help="serve the dashboard")
    p.add_argument("--store", help=store_help)
    p.add_argument("--port", type=int, default=8050)
    p.add_argument("--basemap", help="tianditu, amap, or a tile URL with {z} {x} {y} (default: none, offline)")
    p.add_argument("--basemap-datum", help="the tiles' datum for a URL: cgcs2000, wgs84 or gcj02")
    p.add_argument("--workers", type=int, default=1,
                   help="processes (gunicorn) to answer with; one per core for many users (default 1: waitress)")
    p.add_argument("--inbox", help="also watch this inbox folder and ingest what is dropped there (onemap watch)")
    p.add_argument("--brief-at", default=BRIEF_AT,
                   help=f"when the day's briefs are made and archived, HH:MM or off (default {BRIEF_AT})")
    p.set_defaults(func=cmd_serve)
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
    except OnemapError as exc:  # what a person can act on; anything else is a bug and keeps its traceback
        if getattr(args, "json", False):
            print(json.dumps({"error": exc.to_dict()}, ensure_ascii=False))
        print(f"onemap {args.command}: {exc}", file=sys.stderr)
        return 2
    return code or 0


if __name__ == "__main__":
    sys.exit(main())
