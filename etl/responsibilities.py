"""The responsibility list (属地管理责任清单): read it (the lookup is ``layers.responsibilities``).

The list is a spreadsheet (XLSX or CSV) with the columns 事项类别 (category),
区域代码 (a district, street or community code), 区域名称 and 责任单位 (unit).
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.read import ReadError, detect_encoding

COLUMNS = {"事项类别": "category", "区域代码": "area_code", "区域名称": "area_name", "责任单位": "unit"}


def read_responsibilities(path, known_areas: set[str]) -> pd.DataFrame:
    """Read the list; any bad row stops the load with the file, row and column named."""
    path = Path(path)
    if not path.exists():
        raise ReadError(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xls"):
        raw = pd.read_excel(path, dtype=str, keep_default_na=False)
    else:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, encoding=detect_encoding(path))
    missing = [c for c in COLUMNS if c not in raw.columns]
    if missing:
        raise ReadError(f"{path}: the responsibility list lacks the columns {missing}; it has {list(raw.columns)}")
    frame = raw[list(COLUMNS)].rename(columns=COLUMNS).apply(lambda s: s.str.strip())
    problems = []
    for i, row in frame.iterrows():
        where = f"{path.name} 第{i + 2}行"
        for column, field in COLUMNS.items():
            if field != "area_name" and not row[field]:
                problems.append(f"{where} {column}: 为空")
        if row["area_code"] and row["area_code"] not in known_areas:
            problems.append(f"{where} 区域代码: 不是本区的区、街道或社区代码: {row['area_code']!r}")
    duplicated = frame.duplicated(["category", "area_code"], keep=False)
    for i in frame.index[duplicated]:
        problems.append(f"{path.name} 第{i + 2}行: 同一区域同一类别列了两次: "
                        f"{frame.at[i, 'category']} / {frame.at[i, 'area_code']}")
    if problems:
        raise ReadError("; ".join(problems[:20]) + (f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""))
    return frame
