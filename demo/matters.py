"""The demo's ground truth: every matter that happened in the district.

Each matter is one real-world dispute, petition or event. The channel
exports (``demo.exports``) are views of these matters, with duplicates and
defects; the ingest must recover exactly these matters. 2020 is calibrated
to the centre's report; later years continue at similar rates.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from gis.datums import METRIC_CRS, STORAGE_CRS

DISPUTE_CATEGORIES = ["邻里纠纷", "婚姻家庭纠纷", "物业纠纷", "劳资纠纷", "房屋土地纠纷",
                      "消费纠纷", "医疗纠纷", "交通事故纠纷", "征地拆迁纠纷", "其他纠纷"]
PETITION_CATEGORIES = ["城乡建设", "劳动和社会保障", "教育卫生", "民政事务", "政法综治"]
GRID_EVENT_CATEGORIES = ["垃圾堆放", "乱停车", "占道经营", "违章搭建", "安全隐患",
                         "噪声扰民", "设施损坏", "环境卫生"]
CITY_EVENT_CATEGORIES = ["井盖破损", "路灯故障", "垃圾满溢", "占道经营", "乱张贴", "绿地损坏"]
# What a matter is about, in the words every channel that reports it repeats.
_SUBJECTS = ["楼道堆放杂物", "楼上漏水渗到楼下", "深夜噪音扰民", "装修损坏墙体", "车位被长期占用", "拖欠工资",
             "宠物扰邻", "私搭雨棚", "公共绿地被占种菜", "垃圾清运不及时", "消防通道堵塞", "电动车楼道充电",
             "退款不予受理", "医疗费用争议", "房屋漏雨无人维修", "围墙倒塌", "路面塌陷", "井盖松动"]


@dataclass(frozen=True)
class YearTargets:
    """What one year of the centre's work adds up to."""

    disputes: dict  # primary channel → count
    disputes_in_place: int
    walk_in_batches: int
    walk_in_people: int
    walk_in_duplicates: int
    grid_events: int
    grid_events_open: int
    city_events: int
    city_events_open: int


# The centre's 2020 report: 2 605 visit batches (4 257 people), 2 377 disputes
# of which 2 295 resolved in place, grid-platform events closed at 99.9%.
TARGETS_2020 = YearTargets(
    disputes={"walk_in": 700, "hotline_12345": 450, "e_ningbo": 300, "minsheng_edian": 200,
              "provincial_mediation": 527, "video_mediation": 200},
    disputes_in_place=2295,
    walk_in_batches=2605, walk_in_people=4257, walk_in_duplicates=120,
    grid_events=3000, grid_events_open=3, city_events=2000, city_events_open=2,
)


def targets_for(year: int, fraction: float, rng) -> YearTargets:
    """Targets for a later (or partial) year: the 2020 rates, scaled and jittered."""
    if year == 2020 and fraction >= 1.0:
        return TARGETS_2020
    t = TARGETS_2020

    def scale(n):
        return max(0, int(round(n * fraction * rng.uniform(0.92, 1.08))))

    disputes = {k: scale(v) for k, v in t.disputes.items()}
    n_disputes = sum(disputes.values())
    batches = scale(t.walk_in_batches)
    dups = min(scale(t.walk_in_duplicates), max(0, batches - disputes["walk_in"]))
    batches = max(batches, disputes["walk_in"] + dups)
    return YearTargets(
        disputes=disputes,
        disputes_in_place=int(round(n_disputes * rng.uniform(0.955, 0.975))),
        walk_in_batches=batches, walk_in_people=int(round(batches * 4257 / 2605)),
        walk_in_duplicates=dups,
        grid_events=scale(t.grid_events), grid_events_open=int(rng.integers(1, 5)),
        city_events=scale(t.city_events), city_events_open=int(rng.integers(1, 4)),
    )


def _times(rng, start, end, n):
    """n report times between start and end, on office hours, weekdays busier."""
    days = pd.date_range(start, end - pd.Timedelta(seconds=1), freq="D")
    weights = np.where(days.day_of_week < 5, 1.0, 0.55)
    picked = rng.choice(len(days), size=n, p=weights / weights.sum())
    seconds = rng.integers(8 * 3600, 20 * 3600, size=n)
    times = days[picked] + pd.to_timedelta(seconds, unit="s")
    times = times[times < end] if len(times) else times
    while len(times) < n:  # a draw on today past "now": redraw it earlier
        extra = days[rng.integers(0, max(1, len(days) - 1))] + pd.Timedelta(hours=9)
        times = times.append(pd.DatetimeIndex([min(extra, end - pd.Timedelta(minutes=1))]))
    return pd.DatetimeIndex(np.sort(times.values))


def _sample_in(polygons: gpd.GeoSeries, which: np.ndarray, rng) -> np.ndarray:
    """One uniform random point inside polygons.iloc[i] for each i in ``which`` (metric CRS)."""
    xs = np.empty(len(which))
    ys = np.empty(len(which))
    for i in np.unique(which):
        slots = np.flatnonzero(which == i)
        geom = polygons.iloc[i]
        minx, miny, maxx, maxy = geom.bounds
        got_x, got_y = [], []
        need = len(slots)
        while need > 0:
            cx = rng.uniform(minx, maxx, need * 3 + 4)
            cy = rng.uniform(miny, maxy, need * 3 + 4)
            inside = shapely.contains_xy(geom, cx, cy)
            got_x.extend(cx[inside][:need])
            got_y.extend(cy[inside][:need])
            need = len(slots) - len(got_x)
        xs[slots] = got_x
        ys[slots] = got_y
    return np.column_stack([xs, ys])


class _Places:
    """Where matters happen: busy urban cells, unmanaged setback strips, estates."""

    def __init__(self, district, rng):
        self.rng = rng
        self.cells = district.grid_cells.to_crs(METRIC_CRS).reset_index(drop=True)
        self.setbacks = district.setback_areas.to_crs(METRIC_CRS).reset_index(drop=True)
        self.estates = district.estates.to_crs(METRIC_CRS).reset_index(drop=True)
        pop = self.cells["population"].to_numpy(dtype=float)
        # A few hot areas, each the cells within 250 m of a centre cell, draw six times their share:
        # the hotspots the analysis should find (``hot_areas``), and only there.
        centres = self.cells.geometry[rng.random(len(self.cells)) < 0.01]
        self.hot_areas = [sorted(self.cells.loc[self.cells.geometry.intersects(c.buffer(250.0)), "grid_cell"])
                          for c in centres]
        self.hot = self.cells["grid_cell"].isin({g for area in self.hot_areas for g in area}).to_numpy()
        self.cell_weights = pop * np.where(self.hot, 6.0, 1.0)
        self.cell_weights /= self.cell_weights.sum()
        outline = district.district.to_crs(METRIC_CRS).geometry.iloc[0]
        # A ring just outside the district: reports that land in no grid cell.
        self.outside = outline.buffer(400).difference(outline.buffer(50))

    def sample(self, times: pd.DatetimeIndex, *, setback_share: float, outside_share: float):
        n = len(times)
        rng = self.rng
        mode = rng.choice(3, size=n, p=[1 - setback_share - outside_share, setback_share, outside_share])
        xy = np.empty((n, 2))
        normal = np.flatnonzero(mode == 0)
        xy[normal] = _sample_in(self.cells.geometry, rng.choice(len(self.cells), len(normal),
                                                                  p=self.cell_weights), rng)
        strip = np.flatnonzero(mode == 1)
        if len(strip):
            # Unmanaged setback strips draw cases until they are handed over.
            handed = self.setbacks["handed_over_at"]
            picks = []
            for t in times[strip]:
                open_ = np.flatnonzero(~(handed.notna() & (handed <= t)).to_numpy())
                picks.append(open_[rng.integers(len(open_))])
            xy[strip] = _sample_in(self.setbacks.geometry, np.asarray(picks), rng)
        out = np.flatnonzero(mode == 2)
        if len(out):
            xy[out] = _sample_in(gpd.GeoSeries([self.outside]), np.zeros(len(out), dtype=int), rng)
        pts = gpd.GeoSeries(gpd.points_from_xy(xy[:, 0], xy[:, 1]), crs=METRIC_CRS).to_crs(STORAGE_CRS)
        return pts.x.to_numpy(), pts.y.to_numpy()


def generate_matters(district, *, start: str = "2020-01-01", until=None, seed: int = 2020) -> pd.DataFrame:
    """Every matter from ``start`` up to ``until`` (default: now), one row each.

    Columns: matter_id, kind, category, channel (the first channel it
    reached), reported_at, dispatched_at, closed_at, status, level_received,
    level, people, phone, lon, lat (CGCS2000), duplicate_channel (a second
    channel that also reported it, or None), duplicate_at.
    """
    rng = np.random.default_rng(seed + 1)
    until = pd.Timestamp.now().floor("s") if until is None else pd.Timestamp(until)
    places = _Places(district, rng)
    frames = []
    for year in range(pd.Timestamp(start).year, until.year + 1):
        y0 = max(pd.Timestamp(f"{year}-01-01"), pd.Timestamp(start))
        y1 = min(pd.Timestamp(f"{year + 1}-01-01"), until)
        if y1 <= y0:
            continue
        fraction = (y1 - y0) / (pd.Timestamp(f"{year + 1}-01-01") - pd.Timestamp(f"{year}-01-01"))
        frames.append(_year(targets_for(year, fraction, rng), y0, y1, until, places, rng))
    matters = pd.concat(frames, ignore_index=True).sort_values(["reported_at", "channel"], kind="stable")
    matters = matters.reset_index(drop=True)
    matters["matter_id"] = [f"M{i:07d}" for i in range(1, len(matters) + 1)]
    _on_components(matters, district, rng)
    matters["detail"] = [f"{c}：{n}幢{s}" for c, n, s in zip(
        matters["category"], rng.integers(1, 40, len(matters)), rng.choice(_SUBJECTS, len(matters)))]
    # One phone per matter, so the same person's two reports can be told apart from two matters.
    phones = rng.choice(10**9, size=len(matters), replace=False)
    matters["phone"] = [f"13{p:09d}" for p in phones]
    matters.attrs["hot_areas"] = places.hot_areas
    return matters


# City-management categories that are about one component, and the classes they can be about.
COMPONENT_CATEGORIES = {"井盖破损": ("0101", "0102", "0103"), "路灯故障": ("0110",), "垃圾满溢": ("0301",),
                        "绿地损坏": ("0402",)}


def _on_components(matters, district, rng):
    """Smart-city events about a component happen at it; a few components break again and again."""
    matters["component_id"] = None
    components = district.components.to_crs(METRIC_CRS)
    cls = components["major_class"] + components["minor_class"]
    for category, classes in COMPONENT_CATEGORIES.items():
        rows = np.flatnonzero(((matters["channel"] == "smart_city") & (matters["category"] == category)).to_numpy())
        pool = np.flatnonzero(cls.isin(classes).to_numpy())
        if not len(rows) or not len(pool):
            continue
        weights = 1.0 / (np.arange(len(pool)) + 3.0)  # rank-skewed: the first few are repeat offenders
        weights = weights[rng.permutation(len(pool))]
        picks = pool[rng.choice(len(pool), size=len(rows), p=weights / weights.sum())]
        jitter = rng.normal(0, 1.5, (len(rows), 2))
        at = gpd.GeoSeries(gpd.points_from_xy(components.geometry.x.to_numpy()[picks] + jitter[:, 0],
                                              components.geometry.y.to_numpy()[picks] + jitter[:, 1]),
                           crs=METRIC_CRS).to_crs(STORAGE_CRS)
        matters.loc[rows, "lon"] = at.x.to_numpy()
        matters.loc[rows, "lat"] = at.y.to_numpy()
        matters.loc[rows, "component_id"] = components["component_id"].to_numpy()[picks]


def _year(t: YearTargets, y0, y1, now, places, rng) -> pd.DataFrame:
    parts = []
    # Disputes: each reaches one channel first; some reach a second one too.
    n_disputes = sum(t.disputes.values())
    channels = np.concatenate([[c] * n for c, n in t.disputes.items()])
    rng.shuffle(channels)
    d = pd.DataFrame({"kind": "dispute", "channel": channels,
                      "category": rng.choice(DISPUTE_CATEGORIES, n_disputes)})
    d["reported_at"] = _times(rng, y0, y1, n_disputes)
    levels = rng.choice(["community", "street", "district"], n_disputes, p=[0.7, 0.25, 0.05])
    d["level_received"] = levels
    d["in_place"] = False
    d.loc[rng.choice(n_disputes, size=t.disputes_in_place, replace=False), "in_place"] = True
    up = {"community": "street", "street": "district", "district": "district"}
    d["level"] = [lvl if ok else up[lvl] for lvl, ok in zip(levels, d["in_place"])]
    parts.append(d)

    petitions = t.walk_in_batches - t.disputes.get("walk_in", 0) - t.walk_in_duplicates
    p = pd.DataFrame({"kind": "petition", "channel": "walk_in",
                      "category": rng.choice(PETITION_CATEGORIES, petitions)})
    p["reported_at"] = _times(rng, y0, y1, petitions)
    p["level_received"] = "district"
    p["level"] = "district"
    p["in_place"] = True
    parts.append(p)

    for channel, n, n_open, cats in (("grid_platform", t.grid_events, t.grid_events_open, GRID_EVENT_CATEGORIES),
                                     ("smart_city", t.city_events, t.city_events_open, CITY_EVENT_CATEGORIES)):
        e = pd.DataFrame({"kind": "event", "channel": channel, "category": rng.choice(cats, n)})
        e["reported_at"] = _times(rng, y0, y1, n)
        e["level_received"] = rng.choice(["community", "street"], n, p=[0.8, 0.2])
        e["level"] = e["level_received"]
        e["in_place"] = True
        e["stuck"] = False
        # Events left open long past their deadline (the 0.1% the report does not close).
        old = np.flatnonzero((e["reported_at"] < now - pd.Timedelta(days=30)).to_numpy())
        if len(old):
            e.loc[rng.choice(old, size=min(n_open, len(old)), replace=False), "stuck"] = True
        parts.append(e)

    m = pd.concat(parts, ignore_index=True)
    m["stuck"] = m["stuck"].fillna(False).astype(bool) if "stuck" in m else False
    _lifecycle(m, now, rng)
    m["people"] = 1
    walk = np.flatnonzero(((m["channel"] == "walk_in")).to_numpy())
    m["lon"], m["lat"] = places.sample(pd.DatetimeIndex(m["reported_at"]),
                                       setback_share=0.12, outside_share=0.003)
    _duplicates(m, t, min(y1, now), rng)
    # Walk-in people: visit batches of 1 to a dozen, summing to the year's figure.
    dup_walk = np.flatnonzero((m["duplicate_channel"] == "walk_in").to_numpy())
    batches = np.concatenate([walk, dup_walk])
    people = 1 + rng.geometric(0.62, size=len(batches)) - 1
    _adjust_sum(people, t.walk_in_people, rng)
    m["duplicate_people"] = 1
    m.loc[walk, "people"] = people[: len(walk)]
    m.loc[dup_walk, "duplicate_people"] = people[len(walk):]
    return m.drop(columns=["stuck"])


def _adjust_sum(values, total, rng):
    """Nudge positive integers until they sum to ``total`` (each stays >= 1)."""
    diff = total - int(values.sum())
    while diff != 0:
        i = rng.integers(len(values))
        if diff > 0:
            values[i] += 1
            diff -= 1
        elif values[i] > 1:
            values[i] -= 1
            diff += 1


def _lifecycle(m, now, rng):
    """呼·分·联·销: dispatched within hours, closed within the deadline; recent ones still open."""
    n = len(m)
    m["dispatched_at"] = m["reported_at"] + pd.to_timedelta(rng.integers(600, 6 * 3600, n), unit="s")
    span_days = np.where(m["kind"] == "event", rng.gamma(2.0, 1.0, n), rng.gamma(2.0, 5.0, n))
    m["closed_at"] = m["dispatched_at"] + pd.to_timedelta(span_days * 86400, unit="s").round("s")
    still_open = (m["closed_at"] > now) | m["stuck"].to_numpy()
    m.loc[still_open, "closed_at"] = pd.NaT
    m["status"] = "closed"
    m.loc[still_open, "status"] = np.where(rng.random(int(still_open.sum())) < 0.5, "dispatched", "coordinated")
    not_dispatched = still_open & (m["dispatched_at"] > now)
    m.loc[not_dispatched, "dispatched_at"] = pd.NaT
    m.loc[not_dispatched, "status"] = "reported"
    # Only a closed matter is resolved, in place or not.
    m.loc[still_open, "in_place"] = False
    m["resolved_in_place"] = m["in_place"] & (m["status"] == "closed")
    del m["in_place"]


def _duplicates(m, t: YearTargets, end, rng):
    """Mark matters that a second channel also reported (the intake must merge them)."""
    m["duplicate_channel"] = None
    m["duplicate_at"] = pd.NaT
    disputes = np.flatnonzero(((m["kind"] == "dispute") & (m["channel"] != "walk_in")).to_numpy())
    walk_dups = rng.choice(disputes, size=min(t.walk_in_duplicates, len(disputes)), replace=False)
    m.loc[walk_dups, "duplicate_channel"] = "walk_in"
    rest = np.setdiff1d(np.flatnonzero((m["kind"] == "dispute").to_numpy()), walk_dups)
    others = rng.choice(rest, size=int(len(rest) * 0.08), replace=False)
    choices = ["hotline_12345", "e_ningbo", "minsheng_edian", "video_mediation"]
    for i in others:
        alternatives = [c for c in choices if c != m.at[i, "channel"]]
        m.at[i, "duplicate_channel"] = alternatives[rng.integers(len(alternatives))]
    dup = m["duplicate_channel"].notna()
    lag = pd.to_timedelta(rng.integers(1800, 40 * 3600, int(dup.sum())), unit="s")
    # The second report stays in the same year, so each year's visit count is whole.
    m.loc[dup, "duplicate_at"] = np.minimum(m.loc[dup, "reported_at"] + lag, end - pd.Timedelta(minutes=1))
