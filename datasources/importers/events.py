"""Import case exports (a 12345 hotline or grid-system export, CSV or XLSX) with a column mapping.

The mapping is a JSON file::

    {"fields":   {"external_id": "工单编号", "title": "诉求标题", "reported_at": "受理时间", "lon": "经度", ...},
     "values":   {"status": {"已办结": "closed", "处理中": "processing"}, "severity": {"一般": 4}},
     "defaults": {"source": "hotline", "theme": "governance", "category": "citizen_demand"}}

``fields`` maps each event field of the write layer to a column of the file, ``values`` translates a
column's values (status, severity, source, category…), ``defaults`` fills fields the export lacks. Rows
without a region code are placed by point-in-polygon (the write layer does it); ``external_id`` makes a
re-import skip the cases already stored."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine

from datasources.importers.common import ImportFailed, ImportSummary, Issue, Issues, audit, read_table
from datasources.ingest import IngestError, Writer
from datasources.ingest.entries import EVENT_FIELDS, EVENT_TIMES

NUMERIC = ("severity", "satisfaction", "lon", "lat")


def load_mapping(path: str | Path) -> dict:
    """The mapping file, checked: known target fields, value maps as objects."""
    p = Path(path)
    try:
        m = json.loads(p.read_text(encoding="utf-8-sig"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ImportFailed(p, [Issue("file", None, None, f"not a readable JSON mapping: {exc}")]) from None
    issues = Issues(p)
    if not isinstance(m, dict) or not isinstance(m.get("fields", {}), dict):
        issues.add("file", "fields", None, "the mapping must be an object with 'fields' (target field -> source column)")
        issues.raise_if_any()
    for part in ("fields", "values", "defaults"):
        for target in m.get(part, {}) or {}:
            if target not in EVENT_FIELDS:
                issues.add(part, target, target, f"unknown event field (known: {', '.join(EVENT_FIELDS)})")
    for target, vm in (m.get("values") or {}).items():
        if not isinstance(vm, dict):
            issues.add("values", target, None, "a value map must be an object of source value -> value")
    issues.raise_if_any()
    return {"fields": m.get("fields") or {}, "values": m.get("values") or {}, "defaults": m.get("defaults") or {}}


def import_events(engine: Engine, path: str | Path, mapping_path: str | Path, *, encoding: str | None = None,
                  actor: str = "cli") -> ImportSummary:
    """Import a case export; raises :class:`ImportFailed` naming every bad row and column."""
    t0 = time.perf_counter()
    mapping = load_mapping(mapping_path)
    df, rows, enc = read_table(path, encoding)
    issues = Issues(path)
    for target, col in mapping["fields"].items():
        if col not in df.columns:
            issues.add("row 1", col, None, f"column of '{target}' not in the file (columns: {', '.join(df.columns)})")
    issues.raise_if_any()
    out = pd.DataFrame(index=range(len(df)))
    column_of: dict[str, str] = {}
    for target in EVENT_FIELDS:
        if target in mapping["fields"]:
            col = mapping["fields"][target]
            column_of[target] = col
            s = df[col].astype(str)
            vm = mapping["values"].get(target)
            if vm:
                unknown = ~s.isin(list(vm)) & (s != "")
                for k in unknown[unknown].index:
                    issues.add(f"row {rows[k]}", col, s.iat[k], f"not in the value map of '{target}' ({', '.join(map(str, vm))})")
                s = s.map(lambda v, vm=vm: vm.get(v, v))
            out[target] = s.where(s != "", None)
        elif target in mapping["defaults"]:
            out[target] = mapping["defaults"][target]
    for target in NUMERIC:
        if target in out.columns:
            num = pd.to_numeric(out[target], errors="coerce")
            bad = num.isna() & out[target].notna() & ~out[target].isin(list(mapping["values"].get(target, {})))
            for k in bad[bad].index:
                issues.add(f"row {rows[k]}", column_of.get(target, target), out[target].iat[k], "not a number")
            out[target] = num.astype(object).where(num.notna(), None)
    for target in EVENT_TIMES:
        if target in out.columns and target in column_of:
            t = pd.to_datetime(out[target], errors="coerce", format="mixed")
            bad = t.isna() & out[target].notna()
            for k in bad[bad].index:
                issues.add(f"row {rows[k]}", column_of[target], out[target].iat[k], "not a date and time")
            out[target] = t.dt.strftime("%Y-%m-%dT%H:%M:%S").where(t.notna(), None)
    issues.raise_if_any()
    if "external_id" in out.columns:
        out["external_id"] = out["external_id"].astype(object).where(out["external_id"].notna(), None)
    writer = Writer(engine)
    results: list[tuple[int, bool]] = []
    try:
        with writer.batch() as batch:
            batch.events(out, results=results)
            created = sum(1 for _, c in results if c)
            counts = {"rows": len(out), "created": created, "already stored": len(out) - created}
            audit(batch.conn, path, "events", counts, actor)
    except IngestError as exc:
        issues = Issues(path)
        for p in exc.problems:
            where = f"row {rows[p.record]}" if isinstance(p.record, int) else str(p.record)
            issues.add(where, column_of.get(p.field, p.field), p.value, p.reason)
        issues.raise_if_any()
    notes = [f"encoding {enc}"]
    return ImportSummary("events", str(path), counts, notes, writer.last_report.data_version, time.perf_counter() - t0)
