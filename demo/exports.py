"""Write the demo's raw channel exports, one file per channel, each as that channel writes it.

Every channel has its own column names (in Chinese), encoding, date format,
status words and datum; a few rows carry the defects real exports carry
(a bad date, swapped or missing coordinates, an empty category, an address
only). The ETL reads these files through its source profiles and never
through this module.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from demo.addresses import written_address
from gis.assign import assign_to_polygons
from gis.datums import STORAGE_CRS, from_cgcs2000

LEVEL_WORDS = {"community": "村社", "street": "街镇", "district": "区"}


def _fmt(ts, pattern):
    return "" if pd.isna(ts) else pd.Timestamp(ts).strftime(pattern)


def _yes(flag):
    return "是" if flag else "否"


def _lifecycle(rows, status_words, fmt, *, status, dispatched, closed, received, level, in_place=None):
    """The columns every channel has for a case's lifecycle, under that channel's own names."""
    cols = {
        status: rows["status"].map(status_words).values,
        dispatched: [_fmt(t, fmt) for t in rows["dispatched_at"]],
        closed: [_fmt(t, fmt) for t in rows["closed_at"]],
        received: rows["level_received"].map(LEVEL_WORDS).values,
        level: rows["level"].map(LEVEL_WORDS).values,
    }
    if in_place:
        cols[in_place] = rows["resolved_in_place"].map(_yes).values
    return cols


class _Rows:
    """The rows one channel exports: its own matters first, then second reports of others'."""

    def __init__(self, matters, channel):
        own = matters[matters["channel"] == channel].assign(
            at=lambda d: d["reported_at"], people_=lambda d: d["people"], second=False)
        dup = matters[matters["duplicate_channel"] == channel].assign(
            at=lambda d: d["duplicate_at"], people_=lambda d: d["duplicate_people"], second=True)
        self.frame = pd.concat([own, dup]).sort_values("at", kind="stable").reset_index(drop=True)


class _AddressBook:
    """Where a matter happened, as a person would write it: the nearest standard address in its community."""

    def __init__(self, district, rng):
        self.rng = rng
        table = district.addresses
        self.streets = dict(zip(district.streets["street_code"], district.streets["name"]))
        self.communities = dict(zip(district.communities["community_code"], district.communities["name"]))
        table = table.assign(x=table.geometry.x, y=table.geometry.y)
        self.by_community = {code: group.reset_index(drop=True) for code, group in table.groupby("community_code")}

    def write(self, row, *, with_city=True):
        entries = self.by_community.get(row["community_code"])
        if entries is None or not len(entries):
            # Outside every community: what a caller says about a place by the river.
            return (f"宁波市江北区{self.rng.choice(['姚江', '甬江'])}{'东' if self.rng.random() < 0.5 else '西'}"
                    f"岸{int(self.rng.integers(1, 200))}号")
        scale = np.cos(np.radians(row["lat"]))
        nearest = int(np.argmin(((entries["x"] - row["lon"]) * scale) ** 2 + (entries["y"] - row["lat"]) ** 2))
        entry = entries.iloc[nearest]
        return written_address(entry, self.streets[entry["street_code"]], self.communities[entry["community_code"]],
                               self.rng, with_city=with_city)


def write_exports(matters: pd.DataFrame, district, out_dir, *, seed: int = 2020) -> dict[str, Path]:
    """Write each channel's export under ``out_dir``; return channel → path."""
    rng = np.random.default_rng(seed + 2)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    pts = gpd.GeoSeries(gpd.points_from_xy(matters["lon"], matters["lat"]), crs=STORAGE_CRS)
    cells = district.grid_cells
    cell = assign_to_polygons(pts, cells, "grid_cell")
    matters = matters.assign(grid_cell=cell.values,
                             community_code=cell.map(dict(zip(cells["grid_cell"], cells["community_code"]))).values)
    communities = dict(zip(district.communities["community_code"], district.communities["name"]))
    ctx = {"communities": communities, "addresses": _AddressBook(district, rng), "rng": rng}
    paths = {}
    for channel, writer in _WRITERS.items():
        rows = _Rows(matters, channel).frame
        paths[channel] = writer(rows, out, ctx)
    paths["component_inventory"] = write_component_inventory(district.components, out, seed=seed)
    return paths


def _defect_rows(rows, n, rng):
    """Copies of n random rows, re-sent by the channel with a defect to be applied."""
    if len(rows) == 0:
        return rows.iloc[:0].copy()
    return rows.iloc[rng.choice(len(rows), size=min(n, len(rows)), replace=False)].copy()


def _hotline(rows, out, ctx):
    rng = ctx["rng"]
    status = {"reported": "已受理", "dispatched": "已派单", "coordinated": "协调中", "closed": "已办结"}
    df = pd.DataFrame({
        "工单编号": [f"{t:%Y%m%d}{i:05d}" for i, t in enumerate(rows["at"])],
        "来电时间": [_fmt(t, "%Y/%m/%d %H:%M:%S") for t in rows["at"]],
        "诉求类别": rows["category"].values,
        "诉求内容": [f"市民来电反映{d}，请求协调处理。" for d in rows["detail"]],
        "事发地址": [ctx["addresses"].write(r) for _, r in rows.iterrows()],
        "来电号码": rows["phone"].values,
        **_lifecycle(rows, status, "%Y/%m/%d %H:%M:%S", status="办理状态", dispatched="派单时间", closed="办结时间",
                     received="受理层级", level="化解层级", in_place="是否就地化解"),
    })
    bad = _defect_rows(df, 5, rng)
    bad["工单编号"] = [f"{v}B" for v in bad["工单编号"]]
    bad["来电时间"] = "2020/02/30 10:00:00"  # a date that does not exist
    df = pd.concat([df, bad], ignore_index=True)
    path = out / "12345热线工单导出.csv"
    df.to_csv(path, index=False, encoding="gbk")
    return path


def _e_ningbo(rows, out, ctx):
    rng = ctx["rng"]
    lon, lat = from_cgcs2000(rows["lon"].to_numpy(), rows["lat"].to_numpy(), "gcj02")
    status = {"reported": "待处理", "dispatched": "处理中", "coordinated": "协调中", "closed": "已完成"}
    df = pd.DataFrame({
        "事件ID": [f"EN{i + 1:08d}" for i in range(len(rows))],
        "上报时间": [_fmt(t, "%Y-%m-%dT%H:%M:%S") for t in rows["at"]],
        "事件类别": rows["category"].values,
        "事件描述": [f"{d}，望尽快处理" for d in rows["detail"]],
        "经度": np.round(lon, 6), "纬度": np.round(lat, 6),
        "详细地址": [ctx["addresses"].write(r) for _, r in rows.iterrows()],
        "手机号": rows["phone"].values,
        **_lifecycle(rows, status, "%Y-%m-%dT%H:%M:%S", status="处理状态", dispatched="分派时间", closed="完成时间",
                     received="受理层级", level="办结层级", in_place="就地化解"),
    })
    df["经度"] = df["经度"].astype(object)
    df["纬度"] = df["纬度"].astype(object)
    # Half the app's second reports of a matter a located channel already has come in anonymously:
    # only the place and the words tie them to it.
    anonymous = (rows["second"] & rows["channel"].isin(["provincial_mediation", "minsheng_edian"])).to_numpy()
    anonymous = anonymous & (rng.random(len(rows)) < 0.5)
    df.loc[anonymous, "手机号"] = ""
    # The app lost the fix for a few reports: only the typed address remains.
    lost = rng.choice(len(df), size=min(6, len(df)), replace=False)
    df.loc[lost, ["经度", "纬度"]] = ""
    swapped = _defect_rows(df.drop(index=lost), 4, rng)
    swapped["事件ID"] = [f"{v}X" for v in swapped["事件ID"]]
    swapped[["经度", "纬度"]] = swapped[["纬度", "经度"]].values  # latitude in the longitude column
    df = pd.concat([df, swapped], ignore_index=True)
    path = out / "E宁波事件导出.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _minsheng(rows, out, ctx):
    rng = ctx["rng"]
    lon, lat = from_cgcs2000(rows["lon"].to_numpy(), rows["lat"].to_numpy(), "bd09")
    status = {"reported": "已提交", "dispatched": "已转办", "coordinated": "办理中", "closed": "已办结"}
    df = pd.DataFrame({
        "编号": [f"MS{t:%Y}{i + 1:06d}" for i, t in enumerate(rows["at"])],
        "提交日期": [_fmt(t, "%Y年%m月%d日 %H:%M") for t in rows["at"]],
        "类型": rows["category"].values,
        "内容": [f"诉求：{d}" for d in rows["detail"]],
        "lng": np.round(lon, 6), "lat": np.round(lat, 6),
        "联系电话": rows["phone"].values,
        **_lifecycle(rows, status, "%Y年%m月%d日 %H:%M", status="状态", dispatched="转办时间", closed="办结日期",
                     received="层级", level="最终层级", in_place="就地化解"),
    })
    blank = _defect_rows(df, 3, rng)
    blank["编号"] = [f"{v}E" for v in blank["编号"]]
    blank["类型"] = ""
    df = pd.concat([df, blank], ignore_index=True)
    path = out / "民生E点通诉求.xlsx"
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        df.to_excel(xl, sheet_name="诉求列表", index=False)
    return path


def _provincial(rows, out, ctx):
    status = {"reported": "已受理", "dispatched": "已分流", "coordinated": "调解中", "closed": "调解成功"}
    df = pd.DataFrame({
        "案件编号": [f"ZJTJ330205{t:%Y}{i + 1:06d}" for i, t in enumerate(rows["at"])],
        "登记日期": [_fmt(t, "%Y-%m-%d %H:%M:%S") for t in rows["at"]],
        "纠纷类型": rows["category"].values,
        "纠纷简要情况": [f"{d}，当事人申请调解" for d in rows["detail"]],
        "经度": np.round(rows["lon"].to_numpy(), 7), "纬度": np.round(rows["lat"].to_numpy(), 7),
        "当事人电话": rows["phone"].values,
        **_lifecycle(rows, status, "%Y-%m-%d %H:%M:%S", status="调解状态", dispatched="分流时间", closed="结案日期",
                     received="受理组织层级", level="调解组织层级", in_place="是否就地化解"),
    })
    path = out / "省矛盾纠纷调解系统案件.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def _grid(rows, out, ctx):
    status = {"reported": "待受理", "dispatched": "已分拨", "coordinated": "处置中", "closed": "已办结"}
    df = pd.DataFrame({
        "事件编号": [f"SPT{t:%Y%m%d}{i + 1:06d}" for i, t in enumerate(rows["at"])],
        "上报时间": [_fmt(t, "%Y-%m-%d %H:%M:%S") for t in rows["at"]],
        "事件类型": rows["category"].values,
        "事件描述": [f"网格员巡查发现{d}" for d in rows["detail"]],
        "网格编码": rows["grid_cell"].fillna("").values,
        "经度": np.round(rows["lon"].to_numpy(), 7), "纬度": np.round(rows["lat"].to_numpy(), 7),
        "上报人电话": rows["phone"].values,
        **_lifecycle(rows, status, "%Y-%m-%d %H:%M:%S", status="事件状态", dispatched="分拨时间", closed="办结时间",
                     received="受理层级", level="处置层级"),
    })
    path = out / "四平台事件导出.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def _smart_city(rows, out, ctx):
    # Surveyed city-management data: CGCS2000 GK zone 40 with the zone prefix (EPSG:4528).
    x, y = from_cgcs2000(rows["lon"].to_numpy(), rows["lat"].to_numpy(), "EPSG:4528")
    status = {"reported": "立案", "dispatched": "派遣", "coordinated": "处置", "closed": "结案"}
    df = pd.DataFrame({
        "案卷号": [f"CG{t:%Y}{i + 1:07d}" for i, t in enumerate(rows["at"])],
        "上报时间": [_fmt(t, "%Y-%m-%d %H:%M:%S") for t in rows["at"]],
        "小类名称": rows["category"].values,
        "问题描述": [f"监督员上报：{d}" for d in rows["detail"]],
        "X坐标": np.round(x, 3), "Y坐标": np.round(y, 3),
        "部件编码": rows["component_id"].fillna("").values,
        **_lifecycle(rows, status, "%Y-%m-%d %H:%M:%S", status="案卷状态", dispatched="派遣时间", closed="结案时间",
                     received="受理层级", level="处置层级"),
    })
    path = out / "智慧城管案卷.csv"
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def _walk_in(rows, out, ctx):
    status = {"reported": "登记", "dispatched": "交办", "coordinated": "化解中", "closed": "已化解"}
    kind = {"dispute": "矛盾纠纷", "petition": "信访诉求"}
    df = pd.DataFrame({
        "登记号": [f"LF{t:%Y}{i + 1:05d}" for i, t in enumerate(rows["at"])],
        "来访日期": [_fmt(t, "%Y-%m-%d %H:%M") for t in rows["at"]],
        "来访人数": rows["people_"].astype(int).values,
        "事项类型": rows["kind"].map(kind).values,
        "事由类别": rows["category"].values,
        "来访事由": [f"来访反映{d}" for d in rows["detail"]],
        "所属社区": [ctx["communities"].get(c, "") if isinstance(c, str) else "" for c in rows["community_code"]],
        "地址": [ctx["addresses"].write(r, with_city=False) for _, r in rows.iterrows()],
        "联系电话": rows["phone"].values,
        **_lifecycle(rows, status, "%Y-%m-%d %H:%M", status="办理状态", dispatched="交办时间", closed="化解日期",
                     received="受理层级", level="化解层级", in_place="是否就地化解"),
    })
    path = out / "来访登记台账.csv"
    df.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def _video(rows, out, ctx):
    status = {"reported": "submitted", "dispatched": "assigned", "coordinated": "mediating", "closed": "done"}
    records = [{
        "caseNo": f"SP{i + 1:07d}",
        "applyTime": _fmt(r["at"], "%Y-%m-%d %H:%M:%S"),
        "disputeType": r["category"],
        "summary": f"在线视频调解申请：{r['detail']}",
        "community": ctx["communities"].get(r["community_code"], "") if isinstance(r["community_code"], str) else "",
        "phone": r["phone"],
        "state": status[r["status"]],
        "assignTime": _fmt(r["dispatched_at"], "%Y-%m-%d %H:%M:%S"),
        "closeTime": _fmt(r["closed_at"], "%Y-%m-%d %H:%M:%S"),
        "level": LEVEL_WORDS[r["level_received"]],
        "finalLevel": LEVEL_WORDS[r["level"]],
        "inPlace": bool(r["resolved_in_place"]),
    } for i, (_, r) in enumerate(rows.iterrows())]
    path = out / "在线视频调解.json"
    path.write_text(json.dumps({"total": len(records), "records": records}, ensure_ascii=False, indent=1),
                    encoding="utf-8")
    return path


def write_component_inventory(components, out_dir, *, seed: int = 2020) -> Path:
    """The city-management bureau's component survey: CGCS2000 GK zone 41 without the zone prefix (EPSG:4550)."""
    rng = np.random.default_rng(seed + 3)
    x, y = from_cgcs2000(components.geometry.x.to_numpy(), components.geometry.y.to_numpy(), "EPSG:4550")
    df = pd.DataFrame({
        "部件编码": components["component_id"].values,
        "部件名称": components["class_name"].values,
        "部件状态": components["state"].values,
        "主管部门": components["managing_unit"].values,
        "权属单位": components["owning_unit"].values,
        "养护单位": components["maintaining_unit"].values,
        "普查日期": "2019-11-20",
        "X": np.round(x, 3), "Y": np.round(y, 3),
    })
    # A survey's honest defects: a code one digit short, a state word not in the list, a lost position.
    extra = df.iloc[rng.choice(len(df), size=3, replace=False)].copy()
    extra["部件编码"] = [extra["部件编码"].iat[0][:-1], extra["部件编码"].iat[1][:-6] + "999991",
                     extra["部件编码"].iat[2][:-6] + "999992"]
    extra["部件状态"] = [extra["部件状态"].iat[0], "待核实", extra["部件状态"].iat[2]]
    extra["X"] = extra["X"].astype(object)
    extra.iloc[2, extra.columns.get_loc("X")] = ""
    path = Path(out_dir) / "城市部件普查台账.csv"
    pd.concat([df, extra], ignore_index=True).to_csv(path, index=False, encoding="utf-8-sig")
    return path


_WRITERS = {
    "hotline_12345": _hotline, "e_ningbo": _e_ningbo, "minsheng_edian": _minsheng,
    "provincial_mediation": _provincial, "grid_platform": _grid, "smart_city": _smart_city,
    "walk_in": _walk_in, "video_mediation": _video,
}
