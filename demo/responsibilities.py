"""The demo district's responsibility list (属地管理责任清单), as the centre keeps it: a spreadsheet.

Which unit answers for which category of matter in which area: the
district's departments for a few categories everywhere, each street's
offices for most, each community's own mediation committee for 邻里纠纷.
Three gaps are left on purpose, as real lists have them: nobody is listed
for 违章搭建 in 慈城镇 and 洪塘街道, nor for 物业纠纷 in 庄桥街道.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from demo.district import DISTRICT_CODE, DISTRICT_NAME
from demo.matters import (
    CITY_EVENT_CATEGORIES,
    DISPUTE_CATEGORIES,
    GRID_EVENT_CATEGORIES,
    PETITION_CATEGORIES,
)

DISTRICT_UNITS = {
    "医疗纠纷": "江北区医疗纠纷人民调解委员会", "交通事故纠纷": "江北区交通事故纠纷人民调解委员会",
    "征地拆迁纠纷": "江北区住房和城乡建设局", "城乡建设": "江北区住房和城乡建设局",
    "劳动和社会保障": "江北区人力资源和社会保障局", "教育卫生": "江北区教育局", "民政事务": "江北区民政局",
    "政法综治": "中共宁波市江北区委政法委员会", "井盖破损": "江北区市政设施养护所",
    "路灯故障": "江北区路灯管理所", "垃圾满溢": "江北区环境卫生管理处", "绿地损坏": "江北区园林绿化管理所",
}
STREET_OFFICES = {
    "劳资纠纷": "劳动保障所", "物业纠纷": "物业管理办公室", "乱停车": "综合行政执法中队",
    "占道经营": "综合行政执法中队", "违章搭建": "综合行政执法中队", "乱张贴": "综合行政执法中队",
    "噪声扰民": "综合行政执法中队", "安全隐患": "应急管理办公室", "设施损坏": "城市管理科",
    "垃圾堆放": "环境卫生管理所", "环境卫生": "环境卫生管理所",
}
GAPS = {("违章搭建", "慈城镇"), ("违章搭建", "洪塘街道"), ("物业纠纷", "庄桥街道")}


def build_responsibilities(district) -> pd.DataFrame:
    """The list as rows of 事项类别, 区域代码, 区域名称, 责任单位."""
    rows = []
    for category, unit in DISTRICT_UNITS.items():
        rows.append((category, DISTRICT_CODE, DISTRICT_NAME, unit))
    categories = DISPUTE_CATEGORIES + PETITION_CATEGORIES + GRID_EVENT_CATEGORIES + CITY_EVENT_CATEGORIES
    for street_code, street in sorted(zip(district.streets["street_code"], district.streets["name"])):
        for category in dict.fromkeys(categories):
            if category in DISTRICT_UNITS or (category, street) in GAPS:
                continue
            office = STREET_OFFICES.get(category, "人民调解委员会")
            rows.append((category, street_code, street, street + office))
    for code, name in sorted(zip(district.communities["community_code"], district.communities["name"])):
        rows.append(("邻里纠纷", code, name, name + "人民调解委员会"))
    return pd.DataFrame(rows, columns=["事项类别", "区域代码", "区域名称", "责任单位"])


def write_responsibilities(district, path) -> Path:
    path = Path(path)
    with pd.ExcelWriter(path, engine="openpyxl") as xl:
        build_responsibilities(district).to_excel(xl, sheet_name="责任清单", index=False)
    return path
