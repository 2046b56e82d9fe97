"""Import indicator values from CSV or XLSX, long or wide.

* long: columns indicator, region, period, value (Chinese headers 指标, 地区/区划, 期间/月份, 值/数值 too);
* wide by indicator: region, period, then one column per indicator (its code or its Chinese name);
* wide by period: region, indicator, then one column per period (YYYY-MM).

Regions are given by code or by a name unique in the tree. Every problem is reported with its row and
column; nothing is written unless the whole file is good. Values equal to the stored ones are left alone, so
importing the same file again changes nothing (not even the data version)."""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text
from tqdm import tqdm

from datasources.importers.common import ImportSummary, Issues, audit, find_column, read_table
from datasources.ingest import IngestError, Writer

INDICATOR_FIELDS = ("indicator", "indicator_code", "指标", "指标代码", "指标名称")
REGION_FIELDS = ("region", "region_code", "code", "区划", "区划代码", "地区", "区域", "名称", "name")
PERIOD_FIELDS = ("period", "month", "期间", "月份", "统计期", "时间")
VALUE_FIELDS = ("value", "值", "数值", "指标值")
_PERIOD = re.compile(r"^(\d{4})[-/.年]?(\d{1,2})月?(?:[-/.]\d{1,2}(?: 00:00:00)?)?$")
PROGRESS_ROWS = 10_000  # files at least this long show a progress bar


def parse_period(v: str) -> str | None:
    """'2026-10', '2026/10', '202610', '2026年10月', '2026-10-01' -> '2026-10'; anything else None."""
    m = _PERIOD.match(str(v).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        return None
    return f"{m.group(1)}-{int(m.group(2)):02d}"


def import_values(engine: Engine, path: str | Path, *, encoding: str | None = None, actor: str = "cli",
                  progress: bool | None = None) -> ImportSummary:
    """Import a values file; raises :class:`ImportFailed` naming every bad row and column."""
    t0 = time.perf_counter()
    df, rows, enc = read_table(path, encoding)
    issues = Issues(path)
    with engine.connect() as conn:
        indicators = {r.code: r.name_zh for r in conn.execute(text("SELECT code, name_zh FROM indicators"))}
        regions = conn.execute(text("SELECT code, name FROM regions")).all()
    by_name_ind = {name: code for code, name in indicators.items()}
    codes = {r.code for r in regions}
    name_counts = pd.Series([r.name for r in regions]).value_counts() if regions else pd.Series(dtype=int)
    by_name_reg = {r.name: r.code for r in regions}

    cols = list(df.columns)
    region_col = find_column(cols, None, REGION_FIELDS)
    ind_col = find_column(cols, None, INDICATOR_FIELDS)
    period_col = find_column(cols, None, PERIOD_FIELDS)
    value_col = find_column(cols, None, VALUE_FIELDS)
    if region_col is None:
        issues.add("row 1", None, None, f"no region column (one of {', '.join(REGION_FIELDS)})")
        issues.raise_if_any()
    long_rows: list[tuple] = []  # (row, indicator column, indicator, region, period column, period, value column, value)
    show = progress if progress is not None else len(df) >= PROGRESS_ROWS
    bar = tqdm(total=len(df), desc=f"reading {Path(path).name}", unit="row", disable=not show)
    if ind_col and period_col and value_col:
        form = "long"
        for k, (ind, reg, per, val) in enumerate(zip(df[ind_col], df[region_col], df[period_col], df[value_col], strict=True)):
            long_rows.append((rows[k], ind_col, ind, reg, period_col, per, value_col, val))
        bar.update(len(df))
    elif period_col and not ind_col:
        form = "wide by indicator"
        value_cols = [c for c in cols if c not in (region_col, period_col)]
        for c in value_cols:
            if c not in indicators and c not in by_name_ind:
                issues.add("row 1", c, c, "unknown indicator (header must be an indicator code or its Chinese name)")
        for k in range(len(df)):
            for c in value_cols:
                if df[c].iat[k] != "":
                    long_rows.append((rows[k], None, c, df[region_col].iat[k], period_col, df[period_col].iat[k], c, df[c].iat[k]))
            bar.update(1)
    elif ind_col and not period_col:
        form = "wide by period"
        value_cols = [c for c in cols if c not in (region_col, ind_col)]
        for c in value_cols:
            if parse_period(c) is None:
                issues.add("row 1", c, c, "not a period column (YYYY-MM)")
        for k in range(len(df)):
            for c in value_cols:
                if df[c].iat[k] != "":
                    long_rows.append((rows[k], ind_col, df[ind_col].iat[k], df[region_col].iat[k], None, c, c, df[c].iat[k]))
            bar.update(1)
    else:
        bar.close()
        issues.add("row 1", None, None, "cannot tell the layout: give indicator, region, period and value columns, or region and "
                                       "period with one column per indicator, or region and indicator with one column per period")
        issues.raise_if_any()
    bar.close()
    issues.raise_if_any()  # header problems first: each would repeat on every row

    records, origin, seen = [], [], {}
    for row, icol, ind, reg, pcol, per, vcol, val in long_rows:
        where = f"row {row}"
        code = ind if ind in indicators else by_name_ind.get(ind)
        if code is None:
            issues.add(where, icol or vcol, ind, "unknown indicator")
        if reg in codes:
            rcode = reg
        elif reg in by_name_reg and name_counts[reg] == 1:
            rcode = by_name_reg[reg]
        else:
            rcode = None
            issues.add(where, region_col, reg, "region name is not unique: use the code" if reg in by_name_reg else "unknown region")
        month = parse_period(per)
        if month is None:
            issues.add(where, pcol or vcol, per, "bad period (expected YYYY-MM)")
        try:
            number = float(val.replace(",", ""))
            if not np.isfinite(number):
                raise ValueError
        except ValueError:
            number = None
            issues.add(where, vcol, val, "not a number")
        if None in (code, rcode, month, number):
            continue
        key = (code, rcode, month)
        if key in seen:
            issues.add(where, vcol, val, f"duplicate: {code} {rcode} {month} also in row {seen[key]}")
            continue
        seen[key] = row
        records.append({"indicator": code, "region": rcode, "period": month, "value": number})
        origin.append({"row": row, "indicator": icol or vcol, "region": region_col, "period": pcol or vcol, "value": vcol})
    issues.raise_if_any()

    changed, unchanged = _drop_unchanged(engine, records, origin)
    counts = {"values": len(records), "changed": len(changed[0]), "unchanged": unchanged}
    notes = [f"{form} layout, encoding {enc}"]
    if not changed[0]:
        notes.append("every value is already stored: nothing written")
        audit(engine, path, "values", counts, actor)
        return ImportSummary("values", str(path), counts, notes, None, time.perf_counter() - t0)
    writer = Writer(engine)
    try:
        with writer.batch() as batch:
            batch.values(changed[0])
            audit(batch.conn, path, "values", counts, actor)
    except IngestError as exc:
        # The write layer names a record and a field; name the file's row and column instead.
        src = changed[1]
        issues = Issues(path)
        for p in exc.problems:
            o = src[p.record] if isinstance(p.record, int) else {}
            issues.add(f"row {o['row']}" if o else str(p.record), o.get(p.field, p.field), p.value, p.reason)
        issues.raise_if_any()
    return ImportSummary("values", str(path), counts, notes, writer.last_report.data_version, time.perf_counter() - t0)


def _drop_unchanged(engine: Engine, records: list[dict], origin: list) -> tuple[tuple[list[dict], list], int]:
    """The records whose value differs from the stored one (or is new), with their origins, and how many
    were equal."""
    if not records:
        return ([], []), 0
    inds = sorted({r["indicator"] for r in records})
    with engine.connect() as conn:
        stored = pd.read_sql_query(
            text("SELECT indicator_code, region_code, period, value FROM indicator_values WHERE derived = :f AND indicator_code IN ("
                 + ", ".join(f":i{k}" for k in range(len(inds))) + ")"),
            conn, params={"f": False, **{f"i{k}": c for k, c in enumerate(inds)}})
    known = {(i, r, pd.Timestamp(p).strftime("%Y-%m")): v for i, r, p, v in stored.itertuples(index=False)}
    keep = [k for k, r in enumerate(records) if known.get((r["indicator"], r["region"], r["period"])) != r["value"]]
    return ([records[k] for k in keep], [origin[k] for k in keep]), len(records) - len(keep)
