"""The demo district's standard address table (标准地址库).

A real district's table holds one point per doorplate or building, kept by
the civil-affairs and public-security offices. The demo generates one of the
same shape: every community gets a few roads, each road doorplates along it,
each old estate a doorplate with its buildings inside the estate. Replace it
with the real table by loading that as the ``addresses`` layer.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import LineString

from gis.datums import METRIC_CRS, STORAGE_CRS

# Road names are built from these: two words, sometimes a direction, and a kind.
_ROAD_WORDS = list("槐樟桂兰荷梅竹松柏枫桃李杏柳榆杨桑橙菊桐江河湖海山川泉溪港湾"
                   "安康宁泰和平兴盛福祥瑞明光华新丰庆春秋文德仁义礼智信怡乐")
_DIRECTIONS = ["", "", "", "东", "西", "南", "北", "中"]
_ROAD_KINDS = ["路", "路", "路", "街", "巷"]
DOORPLATE_SPACING = 30.0  # metres between doorplates on one side of a road


def _road_names(n, rng):
    # A dict, not a set: a set's order follows the string hash, which differs between processes,
    # and the names are shuffled from that order (the same seed gave other roads in another run).
    names = {}
    while len(names) < n:
        a, b = rng.choice(len(_ROAD_WORDS), 2, replace=False)
        names[_ROAD_WORDS[a] + _ROAD_WORDS[b] + _DIRECTIONS[rng.integers(len(_DIRECTIONS))]
              + _ROAD_KINDS[rng.integers(len(_ROAD_KINDS))]] = None
    return sorted(names, key=lambda _: rng.random())


def _road_line(polygon, rng):
    """A straight road across the community: the longest chord through two random inner points."""
    minx, miny, maxx, maxy = polygon.bounds
    for _ in range(50):
        a = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if polygon.contains(a):
            break
    angle = rng.uniform(0, np.pi)
    span = max(maxx - minx, maxy - miny)
    dx, dy = np.cos(angle) * span, np.sin(angle) * span
    line = LineString([(a.x - dx, a.y - dy), (a.x + dx, a.y + dy)]).intersection(polygon)
    parts = list(getattr(line, "geoms", [line]))
    return max(parts, key=lambda g: g.length) if parts else None


def build_addresses(district, seed: int = 2020) -> gpd.GeoDataFrame:
    """One point per doorplate (and per building of each old estate), in CGCS2000."""
    rng = np.random.default_rng(seed + 5)
    communities = district.communities.to_crs(METRIC_CRS)
    streets = dict(zip(district.streets["street_code"], district.streets["name"]))
    estates = district.estates.to_crs(METRIC_CRS)
    names = iter(_road_names(len(communities) * 4, rng))
    rows = []
    for _, c in communities.sort_values("community_code").iterrows():
        prefix = f"江北区{streets[c['street_code']]}{c['name']}"
        roads = []
        for _ in range(int(rng.integers(2, 5))):
            line = _road_line(c.geometry, rng)
            if line is None or line.length < 2 * DOORPLATE_SPACING:
                continue
            road = next(names)
            roads.append(road)
            numbers = 0
            for k, d in enumerate(np.arange(DOORPLATE_SPACING / 2, line.length, DOORPLATE_SPACING / 2)):
                p, q = line.interpolate(d), line.interpolate(min(d + 1.0, line.length))
                nx, ny = -(q.y - p.y), q.x - p.x
                norm = np.hypot(nx, ny) or 1.0
                side = 1 if k % 2 == 0 else -1  # odd numbers on one side, even on the other
                point = shapely.Point(p.x + side * 12 * nx / norm, p.y + side * 12 * ny / norm)
                if not c.geometry.contains(point):
                    continue
                numbers = k + 1
                rows.append(_row(c, road, numbers, None, None, point, prefix))
        hosted = estates[estates["community_code"] == c["community_code"]]
        for _, e in hosted.iterrows():
            if not roads:
                break
            road = roads[int(rng.integers(len(roads)))]
            number = 1001 + int(rng.integers(0, 500)) * 2  # estates sit on high, even numbers
            gate = e.geometry.exterior.interpolate(0.0)
            rows.append(_row(c, road, number, None, e["estate_id"], gate, prefix))
            minx, miny, maxx, maxy = e.geometry.bounds
            building = 0
            for _attempt in range(200):
                if building >= int(rng.integers(6, 16)):
                    break
                p = shapely.Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
                if e.geometry.buffer(-8).contains(p):
                    building += 1
                    rows.append(_row(c, road, number, building, e["estate_id"], p, prefix))
    frame = gpd.GeoDataFrame(pd.DataFrame(rows), geometry="geometry", crs=METRIC_CRS).to_crs(STORAGE_CRS)
    # Two estates given the same number on one road would make one address name two places.
    frame = frame.drop_duplicates(["road", "doorplate", "building"], keep="first").reset_index(drop=True)
    frame["address_id"] = [f"{c}{i:06d}" for i, c in enumerate(frame["community_code"], start=1)]
    return frame[["address_id", "street_code", "community_code", "road", "doorplate", "building",
                  "estate_id", "name", "geometry"]]


def _row(community, road, number, building, estate_id, point, prefix):
    label = f"{road}{number}号" + (f"{building}幢" if building else "")
    return {"street_code": community["street_code"], "community_code": community["community_code"],
            "road": road, "doorplate": str(number), "building": str(building) if building else None,
            "estate_id": estate_id, "name": prefix + label, "geometry": point}


# Characters a caller or clerk puts in place of the right one (same sound or look).
_TYPOS = {"江": "汪", "浦": "蒲", "桥": "侨", "城": "成", "塘": "堂", "槐": "淮", "桂": "贵", "兰": "蓝",
          "梅": "海", "松": "淞", "枫": "风", "杨": "扬", "桐": "同", "湖": "胡", "泉": "全", "安": "按",
          "康": "慷", "宁": "柠", "泰": "太", "和": "禾", "兴": "星", "盛": "胜", "福": "富", "祥": "详",
          "瑞": "端", "明": "名", "华": "化", "新": "心", "丰": "峰", "庆": "亲", "春": "椿", "文": "汶",
          "德": "得", "怡": "恰", "乐": "朱", "山": "珊", "海": "每", "河": "何", "溪": "奚", "港": "巷"}
_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def _typo(name, rng):
    spots = [i for i, ch in enumerate(name[:-1]) if ch in _TYPOS]
    if not spots:
        return name
    i = spots[int(rng.integers(len(spots)))]
    return name[:i] + _TYPOS[name[i]] + name[i + 1:]


def written_address(entry, street_name, community_name, rng, *, with_city=True) -> str:
    """The standard address ``entry`` as a person writes it down: levels left out, abbreviated, mistyped."""
    road = entry["road"]
    street, community = street_name, community_name
    if rng.random() < 0.15:
        street = street.replace("街道", "街") if street.endswith("街道") else street
    if rng.random() < 0.15:
        community = community.replace("社区", "社") if community.endswith("社区") else community
    if rng.random() < 0.04:
        road = _typo(road, rng)
    if rng.random() < 0.03:
        community = _typo(community, rng)
    number = entry["doorplate"]
    if rng.random() < 0.03:
        number = str(int(number) + 2000)  # a doorplate the table does not have
    label = f"{road}{number}号"
    if isinstance(entry["building"], str) and entry["building"] and rng.random() < 0.85:
        label += f"{entry['building']}{'幢' if rng.random() < 0.7 else '栋'}"
    if rng.random() < 0.05:
        label = road  # the road only
    if rng.random() < 0.04:
        label = ""  # the community only
    parts = ["宁波市" if with_city and rng.random() < 0.6 else "", "江北区" if rng.random() < 0.7 else "",
             street if rng.random() < 0.75 else "", community if rng.random() < 0.85 else "", label]
    text = "".join(parts)
    if rng.random() < 0.1:
        text = text.translate(_FULL_WIDTH)
    return text
