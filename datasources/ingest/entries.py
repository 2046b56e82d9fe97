"""The write entries, one per kind of data. Each validates its whole batch first (an :class:`IngestError`
lists every problem with its record and field, and nothing is written), then writes in the caller's
transaction and records what it touched for ``derive``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import numpy as np
import pandas as pd
import shapely
from sqlalchemy import Connection, bindparam, text

from datasources import boundaries, db
from datasources.catalog_loader import Catalog, event_categories
from datasources.ingest import alerting
from datasources.ingest.derive import Touched, meta_value, set_meta
from datasources.ingest.errors import IngestError, Problem
from datasources.ingest.validate import Checker, frame
from datasources.models import (
    EVENT_AREA_LEVELS,
    Event,
    EventStep,
    Facility,
    Indicator,
    IndicatorRule,
    IndicatorValue,
    Page,
    Reading,
    Region,
    RegionLevel,
    to_epoch,
)
from datasources.rollup import area_of_regions, build_closure, refresh_event_areas
from datasources.rules import LIFECYCLE, STATUS_TIME, can_transition, month_floor

Records = pd.DataFrame | Iterable[Mapping[str, Any]]
BULK_ROWS = 100_000  # a batch at least this big is loaded with the table's indexes dropped and rebuilt
THEMES = ("economy", "governance", "emergency", "public_service", "environment")
EVENT_FIELDS = (
    "source", "category", "theme", "severity", "title", "description", "lon", "lat", "region_code", "reported_at",
    "status", "department", "dispatched_at", "resolved_at", "closed_at", "satisfaction", "due_at", "external_id",
)
AREA_FIELDS = tuple(f"area{k}_code" for k in EVENT_AREA_LEVELS)  # derived from region_code, never sent
EVENT_TIMES = ("reported_at", "dispatched_at", "resolved_at", "closed_at", "due_at")


# ---------------------------------------------------------------------------------------------- catalog


@dataclass
class CatalogReport:
    """What a catalog load changed; ``removed`` are indicators in the database but not in the catalog."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    pruned: bool = False
    rules: int = 0
    alert_rules: int = 0


def write_catalog(conn: Connection, catalog: Catalog, touched: Touched, level_shift: int = 0, prune: bool = False) -> CatalogReport:
    """Upsert pages, indicators, rules, alert rules and mode profiles. Indicators no longer in the catalog are reported and kept
    (with their values) unless ``prune``. ``level_shift`` maps the catalog's levels onto a deeper tree."""
    existing = {r["code"]: dict(r) for r in conn.execute(text("SELECT * FROM indicators")).mappings()}
    rows = [
        {
            "code": i.code, "name_zh": i.name_zh, "name_en": i.name_en, "theme": i.theme, "topics": ";".join(i.topics),
            "unit": i.unit, "unit_en": i.unit_en, "aggregation": i.aggregation, "polarity": i.polarity, "warn": i.warn,
            "alarm": i.alarm, "department": i.department, "frequency": i.frequency,
            "level": i.level + (level_shift if i.level > 0 else 0), "headline": i.headline, "description": i.description,
        }
        for i in catalog.indicators
    ]
    report = CatalogReport()
    for r in rows:
        old = existing.get(r["code"])
        if old is None:
            report.added.append(r["code"])
        elif any(old[k] != r[k] for k in r if k in old):
            report.changed.append(r["code"])
    report.removed = sorted(set(existing) - {r["code"] for r in rows})
    conn.execute(text("DELETE FROM indicator_rules"))
    if prune and report.removed:
        for table in ("alerts", "indicator_values"):
            conn.execute(text(f"DELETE FROM {table} WHERE indicator_code IN :c").bindparams(bindparam("c", expanding=True)),
                         {"c": report.removed})
        conn.execute(text("DELETE FROM indicators WHERE code IN :c").bindparams(bindparam("c", expanding=True)), {"c": report.removed})
        report.pruned = True
    db.upsert(conn, Indicator.__table__, rows, ["code"])
    conn.execute(text("DELETE FROM pages"))
    conn.execute(Page.__table__.insert(), [
        {"id": p.id, "kind": p.kind, "name_zh": p.name_zh, "name_en": p.name_en, "order": p.order, "icon": p.icon}
        for p in catalog.pages
    ])
    if catalog.rules:
        conn.execute(IndicatorRule.__table__.insert(), [
            {"indicator_code": r.indicator, "measure": r.measure, "sources": ";".join(r.sources),
             "categories": ";".join(r.categories), "facility_kind": r.facility_kind, "attribute": r.attribute}
            for r in catalog.rules
        ])
        # A rule's indicator is computed, never loaded: drop values loaded before it became a rule.
        conn.execute(
            text("DELETE FROM indicator_values WHERE derived = :f AND indicator_code IN :c").bindparams(bindparam("c", expanding=True)),
            {"f": False, "c": [r.indicator for r in catalog.rules]},
        )
    report.rules = len(catalog.rules)
    report.alert_rules = alerting.write_alert_rules(conn, catalog, level_shift)
    set_meta(conn, "catalog_level_shift", str(level_shift))
    # Topic pages (topic_panels.csv): kept with the catalog like the mode profiles, read by the screens.
    set_meta(conn, "topic_panels", json.dumps([tp.as_dict() for tp in catalog.topic_panels], ensure_ascii=False))
    touched.full = True
    touched.writes += len(rows)
    return report


# ---------------------------------------------------------------------------------------------- regions


def write_regions(conn: Connection, records: Records, levels: Iterable[tuple[int, str, str]], touched: Touched) -> list[str]:
    """Upsert regions with boundaries, and level names. Records: code, name, [name_en], level, parent_code,
    [population], geometry (shapely, GeoJSON dict or text), [geometry_display], [area_km2],
    [centroid_lon/lat]. Invalid geometries are repaired (what was repaired is returned); display geometry
    is simplified per level as a coverage when not given. The closure and everything derived is rebuilt."""
    df = frame(records, "regions")
    chk = Checker(df, "regions")
    known = {"code", "name", "name_en", "level", "parent_code", "population", "geometry", "geometry_display", "area_km2",
             "centroid_lon", "centroid_lat"}
    chk.columns({"code", "name", "level", "geometry"}, known)
    chk.text("code", 16)
    chk.text("name", 64)
    chk.text("name_en", 64, required=False)
    level = chk.number("level", 0, 9, integer=True)
    chk.number("population", 0, 2e9, integer=True, required=False)
    chk.unique(["code"], "region code")
    existing = {r.code: r.level for r in conn.execute(text("SELECT code, level FROM regions"))}
    batch_levels = dict(zip(df["code"].astype(str), level, strict=True))
    all_levels = existing | batch_levels
    parents = df["parent_code"] if "parent_code" in df.columns else pd.Series([None] * len(df))
    repairs: list[str] = []
    geoms, displays = [None] * len(df), [None] * len(df)
    for k in range(len(df)):
        p, lv = parents.iat[k], level.iat[k]
        p = None if p is None or (isinstance(p, float) and np.isnan(p)) or p == "" else str(p)
        if lv == 0 and p is not None:
            chk.add(k, "parent_code", p, "a level-0 region has no parent")
        elif lv > 0 and p is None:
            chk.add(k, "parent_code", None, "required for a region below level 0")
        elif p is not None and p not in all_levels:
            chk.add(k, "parent_code", p, "unknown parent region")
        elif p is not None and not np.isnan(lv) and all_levels[p] != lv - 1:
            chk.add(k, "level", int(lv), f"must be one below its parent's level {all_levels[p]}")
        g, reason = _geometry(df["geometry"].iat[k])
        if g is None:
            chk.add(k, "geometry", None, reason)
            continue
        if not g.is_valid:
            fixed, report = boundaries.repair(g, f"{df['code'].iat[k]} {df['name'].iat[k]}")
            repairs.append(report)
            g = fixed
        geoms[k] = g
        if "geometry_display" in df.columns and df["geometry_display"].iat[k] is not None:
            displays[k], reason = _geometry(df["geometry_display"].iat[k])
            if displays[k] is None:
                chk.add(k, "geometry_display", None, reason)
    roots = {c for c, lv in all_levels.items() if lv == 0}
    if len(roots) > 1:
        chk.add("*", "level", None, f"exactly one level-0 region allowed, found {len(roots)}: {', '.join(sorted(roots))}")
    chk.raise_if_any()

    parent_list = [None if (p is None or p != p or p == "") else str(p) for p in parents]
    if any(d is None for d in displays):
        depth = int(max(all_levels.values()))
        for lv in sorted(set(int(v) for v in level)):
            idx = [k for k in range(len(df)) if level.iat[k] == lv and displays[k] is None]
            simplified = boundaries.simplify_level([geoms[k] for k in idx], boundaries.display_tolerance(lv, depth))
            for k, g in zip(idx, simplified, strict=True):
                displays[k] = g
    areas = df["area_km2"].to_numpy(dtype=float) if "area_km2" in df.columns else boundaries.areas_km2(geoms)
    rows = []
    for k in range(len(df)):
        lon, lat = (df["centroid_lon"].iat[k], df["centroid_lat"].iat[k]) if "centroid_lon" in df.columns else boundaries.inner_point(geoms[k])
        rows.append({
            "code": str(df["code"].iat[k]), "name": df["name"].iat[k],
            "name_en": (df["name_en"].iat[k] if "name_en" in df.columns else "") or "",
            "level": int(level.iat[k]), "parent_code": parent_list[k],
            "population": int(df["population"].iat[k]) if "population" in df.columns and df["population"].iat[k] == df["population"].iat[k] else 0,
            "area_km2": float(areas[k]), "centroid_lon": float(lon), "centroid_lat": float(lat),
            "geometry": shapely.to_geojson(geoms[k]),
            "geometry_display": shapely.to_geojson(shapely.set_precision(displays[k], 1e-5)),
        })
    rows.sort(key=lambda r: (r["level"], r["code"]))  # parents before children (foreign key)
    db.upsert(conn, Region.__table__, rows, ["code"])
    level_rows = [{"level": lv, "name_zh": zh, "name_en": en} for lv, zh, en in levels]
    if level_rows:
        db.upsert(conn, RegionLevel.__table__, level_rows, ["level"])
    build_closure(conn)
    if conn.execute(text("SELECT 1 FROM events LIMIT 1")).first() is not None:
        refresh_event_areas(conn)  # the tree may have changed under stored events
    # Screens fetch boundaries by a URL carrying this version: only a boundary change makes them re-fetch.
    set_meta(conn, "geometry_version", str(int(meta_value(conn, "geometry_version") or 0) + 1))
    touched.full = True
    touched.writes += len(rows)
    return repairs


def _geometry(value: Any) -> tuple[shapely.Geometry | None, str]:
    """A polygonal shapely geometry from shapely / GeoJSON dict / GeoJSON text, or (None, reason)."""
    try:
        if isinstance(value, shapely.Geometry):
            g = value
        elif isinstance(value, Mapping):
            g = shapely.from_geojson(json.dumps(value))
        elif isinstance(value, str):
            g = shapely.from_geojson(value)
        else:
            return None, "required polygon geometry is missing"
    except (shapely.errors.GEOSException, ValueError, TypeError) as exc:
        return None, f"not a GeoJSON geometry: {exc}"
    if g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
        return None, f"must be a Polygon or MultiPolygon, not {g.geom_type}"
    return g, ""


# ---------------------------------------------------------------------------------------------- values


def write_values(conn: Connection, records: Records, touched: Touched, now: datetime, *, scope: str | None = None,
                 counts: dict[str, int] | None = None) -> int:
    """Upsert indicator values: indicator, region, period (YYYY-MM), value, [reported_at] (default now).
    Values of indicators computed by rules, and values below an indicator's lowest level, are refused.
    ``scope``: a region code; values of regions outside its subtree are refused (an API token's scope).
    ``counts``: when given, ``counts["updated"]`` is set to how many values replaced existing ones."""
    df = frame(records, "indicator values")
    if df.empty:
        return 0
    chk = Checker(df, "indicator values")
    chk.columns({"indicator", "region", "period", "value"}, {"indicator", "region", "period", "value", "reported_at"})
    inds = {r.code: r.level for r in conn.execute(text("SELECT code, level FROM indicators"))}
    rules = set(conn.execute(text("SELECT indicator_code FROM indicator_rules")).scalars())
    regions = {r.code: r.level for r in conn.execute(text("SELECT code, level FROM regions"))}
    chk.codes("indicator", inds, "indicator")
    chk.codes("region", regions, "region")
    period = chk.month("period")
    value = chk.number("value")
    reported = chk.timestamp("reported_at", required=False)
    chk.unique(["indicator", "region", "period"], "indicator, region and period")
    ind_col, reg_col = df["indicator"].astype(str), df["region"].astype(str)
    chk.flag(ind_col.isin(list(rules)).to_numpy(), "indicator", "is computed by a rule from events or facilities; write those instead")
    too_deep = np.array([regions.get(r, -1) > inds.get(i, 99) for i, r in zip(ind_col, reg_col, strict=True)])
    chk.flag(too_deep, "region", "is below the indicator's lowest level")
    _check_scope(conn, chk, reg_col.to_numpy(dtype=object), scope, "region")
    chk.raise_if_any()

    if counts is not None:
        counts["updated"] = _existing_values(conn, ind_col.tolist(), reg_col.tolist(), period.tolist())
    stamps = _epochs(reported)
    stamps[pd.isna(stamps)] = to_epoch(now)
    columns = ["indicator_code", "region_code", "period", "value", "reported_at", "derived"]
    rows = list(zip(ind_col.tolist(), reg_col.tolist(), period.tolist(), value.astype(float).tolist(), stamps.tolist(),
                    [False] * len(df), strict=True))
    db.upsert(conn, IndicatorValue.__table__, rows, ["indicator_code", "region_code", "period"], columns)
    touched.value_indicators |= set(ind_col)
    touched.value_regions |= set(reg_col)
    touched.value_periods |= set(period)
    touched.writes += len(rows)
    return len(rows)


# ---------------------------------------------------------------------------------------------- events


def write_events(conn: Connection, records: Records, touched: Touched, now: datetime, *, scope: str | None = None,
                 results: list[tuple[int, bool]] | None = None) -> int:
    """Insert new events (see ``EVENT_FIELDS``). ``region_code`` may be left out when ``lon``/``lat`` are
    given: the region is the leaf region containing the point. Lifecycle timestamps must fit the status.

    ``external_id`` is the sending system's own id of the case: a record whose (source, external_id) is
    already stored is skipped, not duplicated (the writer's lock makes this hold under concurrency too);
    two records with the same pair in one batch are an error. ``scope``: a region code; events placed
    outside its subtree are refused. ``results``: when given, gets one (event id, created) per record.
    Returns the number of events inserted."""
    df = frame(records, "events")
    if df.empty:
        return 0
    chk = Checker(df, "events")
    chk.columns({"source", "category", "severity", "title", "reported_at", "status"}, set(EVENT_FIELDS))
    chk.identifier("source")
    chk.identifier("category")
    chk.one_of("theme", THEMES)
    chk.number("severity", 1, 4, integer=True)
    chk.text("title", 200)
    chk.text("description", 2000, required=False)
    chk.text("department", 64, required=False)
    chk.text("external_id", 64, required=False)
    chk.unique(["external_id", "source"], "client id of this source")
    chk.one_of("status", LIFECYCLE)
    chk.number("satisfaction", 1, 5, integer=True, required=False)
    lon = chk.number("lon", -180, 180, required=False)
    lat = chk.number("lat", -90, 90, required=False)
    chk.flag(np.isnan(lon.to_numpy()) != np.isnan(lat.to_numpy()), "lat", "lon and lat must be given together")
    times = {c: chk.timestamp(c, required=(c == "reported_at")) for c in EVENT_TIMES}
    _check_lifecycle(chk, df, times, now)
    region = _event_regions(conn, chk, df, lon, lat)
    _check_scope(conn, chk, region, scope, "region_code")
    chk.raise_if_any()
    times["due_at"] = due_by_sla(df, times)

    # Already stored (source, external_id): skipped. Read inside the writer's lock, so a concurrent
    # batch with the same ids either committed before (seen here) or waits for this one.
    known = _known_external_ids(conn, df)
    keep = np.array([k is None for k in known], dtype=bool)
    status = df["status"].astype(str).to_numpy()
    epochs = {c: _epochs(times[c]) for c in EVENT_TIMES}
    cols = {
        "source": df["source"].astype(str).to_numpy(), "category": df["category"].astype(str).to_numpy(),
        "theme": df["theme"].astype(str).to_numpy(), "severity": pd.to_numeric(df["severity"]).astype(int).to_numpy(),
        "title": df["title"].astype(str).to_numpy(),
        "description": _text_or_empty(df, "description"), "lon": _float_or_none(lon), "lat": _float_or_none(lat),
        "region_code": region, "status": status, "department": _text_or_none(df, "department"),
        "satisfaction": _int_or_none(df, "satisfaction"), "external_id": _external_ids(df), **epochs,
        **_event_areas(conn, region),
    }
    if keep.sum() >= BULK_ROWS and "events" not in touched.deferred_indexes:
        db.drop_indexes(conn, Event.__table__)
        touched.deferred_indexes.add("events")
    # The new ids are read back rather than assumed to be MAX(id)+1…: a PostgreSQL sequence skips the ids
    # of rolled-back inserts. Every id above the old maximum is this batch's (the writer's lock).
    before = conn.execute(text("SELECT MAX(id) FROM events")).scalar() or 0
    fields = list(EVENT_FIELDS + AREA_FIELDS)
    n = db.bulk_insert(conn, Event.__table__, fields, zip(*(cols[c][keep].tolist() for c in fields), strict=True))
    if n:
        lo, hi = conn.execute(text("SELECT MIN(id), MAX(id) FROM events WHERE id > :b"), {"b": before}).one()
        if touched.new_events and touched.new_events[-1][1] + 1 == lo:  # a stream of chunks: one range
            touched.new_events[-1] = (touched.new_events[-1][0], hi)
        else:
            touched.new_events.append((lo, hi))
        months = np.unique(times["reported_at"][keep].to_numpy(dtype="datetime64[M]"))
        touched.event_regions |= set(np.unique(region[keep].astype(str)).tolist())
        touched.event_months |= {pd.Timestamp(m).date() for m in months}
    if results is not None:
        # Both databases number a bulk insert's rows in insertion order.
        new_ids = iter(conn.execute(text("SELECT id FROM events WHERE id > :b ORDER BY id"), {"b": before}).scalars().all()
                       if n else [])
        results.extend((next(new_ids), True) if keep[k] else (known[k], False) for k in range(len(df)))
    touched.writes += n
    return n


def _event_areas(conn: Connection, region: np.ndarray) -> dict[str, np.ndarray]:
    """The ``area<level>_code`` columns of events placed in ``region`` (None above the region's level)."""
    by_region = area_of_regions(conn)
    codes = pd.Series(region, dtype=object)
    out = {}
    for k in EVENT_AREA_LEVELS:
        mapped = codes.map({code: levels[k] for code, levels in by_region.items() if k in levels})
        out[f"area{k}_code"] = mapped.astype(object).where(mapped.notna(), None).to_numpy(dtype=object)
    return out


def _known_external_ids(conn: Connection, df: pd.DataFrame) -> list[int | None]:
    """Per record, the id of the stored event with the same (source, external_id), or None."""
    out: list[int | None] = [None] * len(df)
    if "external_id" not in df.columns:
        return out
    ext = _external_ids(df)
    source = df["source"].astype(str).to_numpy()
    by_source: dict[str, list[str]] = {}
    for s, e in zip(source, ext, strict=True):
        if e is not None:
            by_source.setdefault(s, []).append(e)
    found: dict[tuple[str, str], int] = {}
    stmt = text("SELECT id, external_id FROM events WHERE source = :s AND external_id IN :e").bindparams(
        bindparam("e", expanding=True))
    for s, ids in by_source.items():
        for k in range(0, len(ids), 500):  # one lookup per source and chunk: the (source, external_id) index
            found |= {(s, r.external_id): r.id for r in conn.execute(stmt, {"s": s, "e": ids[k:k + 500]})}
    return [found.get((s, e)) if e is not None else None for s, e in zip(source, ext, strict=True)]


def _check_scope(conn: Connection, chk: Checker, region: np.ndarray, scope: str | None, field: str) -> None:
    """Flag every record whose region lies outside the subtree of ``scope`` (None = no limit)."""
    if scope is None:
        return
    allowed = set(conn.execute(text("SELECT descendant_code FROM region_closure WHERE ancestor_code = :s"),
                               {"s": scope}).scalars())
    flagged = {p.record for p in chk.problems if p.field == field}  # unknown regions are already named
    for k, code in enumerate(region):
        if code is not None and code not in allowed and k not in flagged:
            chk.add(k, field, code, f"outside the token's scope (region {scope} and below)")


def _existing_values(conn: Connection, indicators: list[str], regions: list[str], periods: list[date]) -> int:
    """How many of these (indicator, region, period) keys already hold a value."""
    if not indicators:
        return 0
    stmt = text("SELECT indicator_code, region_code, period FROM indicator_values "
                "WHERE indicator_code IN :i AND region_code IN :r AND period IN :p").bindparams(
        bindparam("i", expanding=True), bindparam("r", expanding=True), bindparam("p", expanding=True))
    rows = conn.execute(stmt, {"i": sorted(set(indicators)), "r": sorted(set(regions)), "p": sorted(set(periods))})
    have = {(i, r, str(p)[:10]) for i, r, p in rows}
    return sum((i, r, str(p)[:10]) in have for i, r, p in zip(indicators, regions, periods, strict=True))


def due_by_sla(df: pd.DataFrame, times: dict[str, pd.Series]) -> pd.Series:
    """``due_at`` as the sender gave it, else reported_at + the category's SLA (catalog/event_categories.csv;
    none for a category the catalog does not know)."""
    due = times["due_at"]
    missing = due.isna()
    if not missing.any():
        return due
    sla_hours = df["category"].astype(str).map({c: v.sla_hours for c, v in event_categories().items()})
    by_sla = times["reported_at"] + pd.to_timedelta(pd.to_numeric(sla_hours) * 3600, unit="s")
    return due.where(~missing, by_sla).astype("datetime64[us]")


def _check_lifecycle(chk: Checker, df: pd.DataFrame, times: dict[str, pd.Series], now: datetime) -> None:
    """Each status has the timestamps it implies, steps are in order, nothing is reported in the future."""
    if "status" not in df.columns:
        return
    status = df["status"].astype(str)
    order = {s: k for k, s in enumerate(LIFECYCLE)}
    rank = status.map(order).fillna(-1).to_numpy()
    has = {c: times[c].notna().to_numpy() for c in EVENT_TIMES}
    chk.flag((rank >= order["dispatched"]) & ~has["dispatched_at"], "dispatched_at", "required once an event is dispatched")
    chk.flag((status == "resolved").to_numpy() & ~has["resolved_at"], "resolved_at", "required for a resolved event")
    chk.flag((status == "closed").to_numpy() & ~has["closed_at"], "closed_at", "required for a closed event")
    for col, below in (("dispatched_at", order["dispatched"]), ("resolved_at", order["resolved"]), ("closed_at", order["closed"])):
        chk.flag(has[col] & (rank < below) & (rank >= 0), col, f"set although the status is earlier than {col[:-3]}")
    chain = ["reported_at", "dispatched_at", "resolved_at", "closed_at"]
    for a, b in zip(chain, chain[1:], strict=False):
        both = has[a] & has[b]
        chk.flag(both & (times[b] < times[a]).to_numpy(), b, f"earlier than {a}")
    future = times["reported_at"] > pd.Timestamp(now) + pd.Timedelta(minutes=5)
    chk.flag(future.to_numpy(), "reported_at", "is in the future")


def _event_regions(conn: Connection, chk: Checker, df: pd.DataFrame, lon: pd.Series, lat: pd.Series) -> np.ndarray:
    """Given region codes checked against the regions table; missing ones found by point-in-polygon."""
    regions = dict(conn.execute(text("SELECT code, level FROM regions")).all())
    given = chk.present("region_code")
    out = np.array(df["region_code"].astype(str).to_numpy() if "region_code" in df.columns else [None] * len(df), dtype=object)
    chk.flag(given & ~pd.Series(out).isin(list(regions)).to_numpy(), "region_code", "unknown region")
    need = ~given
    has_point = ~np.isnan(lon.to_numpy()) & ~np.isnan(lat.to_numpy())
    chk.flag(need & ~has_point, "region_code", "required when lon/lat are not given")
    todo = np.flatnonzero(need & has_point)
    if len(todo):
        found = locate_leaves(conn, lon.to_numpy()[todo], lat.to_numpy()[todo])
        for k, code in zip(todo, found, strict=True):
            if code is None:
                chk.add(int(k), "lon", float(lon.iat[k]), f"no region contains the point ({lon.iat[k]}, {lat.iat[k]})")
            out[k] = code
    return out


def locate_leaves(conn: Connection, lon: np.ndarray, lat: np.ndarray) -> list[str | None]:
    """The leaf region containing each point (full-precision boundaries, an STRtree), or None."""
    rows = conn.execute(text("SELECT code, geometry FROM regions r WHERE NOT EXISTS "
                             "(SELECT 1 FROM regions c WHERE c.parent_code = r.code)")).all()
    codes = [r.code for r in rows]
    tree = shapely.STRtree([shapely.from_geojson(r.geometry) for r in rows])
    pts = shapely.points(np.column_stack([lon, lat]))
    hit_pt, hit_geom = tree.query(pts, predicate="intersects")
    out: list[str | None] = [None] * len(pts)
    for p, g in zip(hit_pt, hit_geom, strict=True):
        if out[p] is None:
            out[p] = codes[g]
    return out


def write_event_updates(
    conn: Connection, records: Records, touched: Touched, now: datetime, actor: str = "system", skipped: list[dict] | None = None
) -> int:
    """Move events along their lifecycle: id, status, [at] (default now), [department], [satisfaction],
    [note], [external_id] (the sender's id of the step). Each step must be allowed from the event's
    current status (see ``rules.TRANSITIONS``) and is recorded in ``event_steps`` with ``actor``.

    A step whose ``external_id`` is already recorded for the same event is a replay: it is skipped (and
    appended to ``skipped`` as {record, id, external_id}), neither refused nor written twice. Returns the
    number of steps written."""
    df = frame(records, "event updates")
    if df.empty:
        return 0
    chk = Checker(df, "event updates")
    chk.columns({"id", "status"}, {"id", "status", "at", "department", "satisfaction", "note", "external_id"})
    ids = chk.number("id", 1, integer=True)
    chk.one_of("status", LIFECYCLE)
    at = chk.timestamp("at", required=False)
    chk.text("department", 64, required=False)
    chk.text("note", 2000, required=False)
    chk.text("external_id", 64, required=False)
    chk.number("satisfaction", 1, 5, integer=True, required=False)
    chk.unique(["id"], "event id (one step per event per batch)")
    chk.unique(["external_id"], "step external_id")
    if not isinstance(actor, str) or not actor or len(actor) > 64:
        chk.add("*", "actor", actor, "must be a name of 1 to 64 characters")
    good_ids = [int(i) for i in ids.dropna()]
    current = {}
    if good_ids:
        rows = conn.execute(
            text("SELECT id, status, region_code, reported_at, dispatched_at, resolved_at, department FROM events WHERE id IN :ids")
            .bindparams(bindparam("ids", expanding=True)), {"ids": good_ids}
        ).mappings().all()
        current = {r["id"]: r for r in rows}
    step_ids = _text_or_none(df, "external_id")
    known_steps = {}
    wanted = [str(x) for x in step_ids if isinstance(x, str) and x]
    if wanted:
        known_steps = dict(conn.execute(
            text("SELECT external_id, event_id FROM event_steps WHERE external_id IN :x").bindparams(bindparam("x", expanding=True)),
            {"x": wanted},
        ).all())
    when = [now if pd.isna(t) else t.to_pydatetime() for t in at]
    replay = np.zeros(len(df), dtype=bool)
    for k in range(len(df)):
        if np.isnan(ids.iat[k]):
            continue
        ev = current.get(int(ids.iat[k]))
        if ev is None:
            chk.add(k, "id", int(ids.iat[k]), "unknown event")
            continue
        sid = step_ids[k]
        if isinstance(sid, str) and sid in known_steps:
            if known_steps[sid] == ev["id"]:
                replay[k] = True  # the sender re-sent a step we already hold: nothing to check or write
            else:
                chk.add(k, "external_id", sid, f"already used by a step of event {known_steps[sid]}")
            continue
        new = str(df["status"].iat[k])
        if new in LIFECYCLE and not can_transition(ev["status"], new):
            chk.add(k, "status", new, f"cannot go from {ev['status']} to {new}")
        if to_epoch(when[k]) < ev["reported_at"]:
            chk.add(k, "at", str(when[k]), "earlier than the event's report time")
        if when[k] > now + pd.Timedelta(minutes=5):
            chk.add(k, "at", str(when[k]), "is in the future")
    chk.raise_if_any()

    notes = _text_or_empty(df, "note")
    steps = []
    for k in range(len(df)):
        ev = current[int(ids.iat[k])]
        if replay[k]:
            if skipped is not None:
                skipped.append({"record": k, "id": ev["id"], "external_id": step_ids[k]})
            continue
        new = str(df["status"].iat[k])
        sets = {"status": new}
        if new in STATUS_TIME:
            sets[STATUS_TIME[new]] = to_epoch(when[k])
        if ev["status"] == "resolved" and new == "processing":  # reopened: not resolved any more
            sets["resolved_at"] = None
        if "department" in df.columns and isinstance(df["department"].iat[k], str) and df["department"].iat[k]:
            sets["department"] = df["department"].iat[k]
        if "satisfaction" in df.columns and not pd.isna(df["satisfaction"].iat[k]):
            sets["satisfaction"] = int(df["satisfaction"].iat[k])
        conn.execute(text(f"UPDATE events SET {', '.join(f'{c} = :{c}' for c in sets)} WHERE id = :id"), sets | {"id": ev["id"]})
        steps.append({
            "event_id": ev["id"], "at": to_epoch(when[k]), "from_status": ev["status"], "to_status": new, "actor": actor,
            "department": sets.get("department", ev["department"]), "note": notes[k],
            "external_id": step_ids[k] if isinstance(step_ids[k], str) and step_ids[k] else None,
        })
        reported = month_floor(datetime(1970, 1, 1) + pd.Timedelta(seconds=ev["reported_at"]))
        touched.event_regions.add(ev["region_code"])
        touched.event_months.add(reported)
        touched.recount_regions.add(ev["region_code"])
        touched.recount_months.add(reported)
    if steps:
        conn.execute(EventStep.__table__.insert(), steps)
    touched.writes += len(steps)
    return len(steps)


# ---------------------------------------------------------------------------------------------- facilities


def write_facilities(conn: Connection, records: Records, touched: Touched) -> int:
    """Upsert facilities: [id] (update when given), kind, name, lon, lat, [region_code] (found by
    point-in-polygon when missing), [attributes] (object), [live], [since] (in service since, a date)."""
    df = frame(records, "facilities")
    if df.empty:
        return 0
    chk = Checker(df, "facilities")
    chk.columns({"kind", "name", "lon", "lat"}, {"id", "kind", "name", "lon", "lat", "region_code", "attributes", "live", "since"})
    chk.identifier("kind")
    chk.text("name", 128)
    lon, lat = chk.number("lon", -180, 180), chk.number("lat", -90, 90)
    ids = chk.number("id", 1, integer=True, required=False)
    since = chk.timestamp("since", required=False)
    chk.unique(["id"], "facility id")
    attrs = []
    for k in range(len(df)):
        a = df["attributes"].iat[k] if "attributes" in df.columns else None
        if a is None or (isinstance(a, float) and np.isnan(a)):
            attrs.append("{}")
            continue
        try:
            obj = json.loads(a) if isinstance(a, str) else dict(a)
            if not isinstance(obj, dict):
                raise ValueError
            attrs.append(json.dumps(obj, ensure_ascii=False, sort_keys=True))
        except (ValueError, TypeError):
            chk.add(k, "attributes", a, "must be a JSON object")
            attrs.append("{}")
    region = _event_regions(conn, chk, df, lon, lat)
    chk.raise_if_any()

    old_regions = set()
    given_ids = [int(i) for i in ids.dropna()]
    if given_ids:
        old_regions = set(conn.execute(text("SELECT region_code FROM facilities WHERE id IN :ids")
                                       .bindparams(bindparam("ids", expanding=True)), {"ids": given_ids}).scalars())
    live = df["live"].fillna(False).astype(bool).to_numpy() if "live" in df.columns else np.zeros(len(df), bool)
    rows = [
        {"kind": str(df["kind"].iat[k]), "name": str(df["name"].iat[k]), "lon": float(lon.iat[k]), "lat": float(lat.iat[k]),
         "region_code": region[k], "attributes": attrs[k], "live": bool(live[k]),
         "since": None if pd.isna(since.iat[k]) else since.iat[k].date()}
        for k in range(len(df))
    ]
    new_rows = [r for r, i in zip(rows, ids, strict=True) if np.isnan(i)]
    upd_rows = [r | {"id": int(i)} for r, i in zip(rows, ids, strict=True) if not np.isnan(i)]
    cols = ["kind", "name", "lon", "lat", "region_code", "attributes", "live", "since"]
    if new_rows:
        db.bulk_insert(conn, Facility.__table__, cols, ([r[c] for c in cols] for r in new_rows))
    if upd_rows:
        db.upsert(conn, Facility.__table__, upd_rows, ["id"])
    touched.facility_regions |= set(region) | old_regions
    earliest = min((r["since"] for r in rows if r["since"] is not None), default=None)
    if any(r["since"] is None for r in rows):
        earliest = date(1900, 1, 1)
    if earliest is not None:
        earliest = month_floor(earliest)
        touched.facility_since = min(touched.facility_since or earliest, earliest)
    touched.writes += len(rows)
    return len(rows)


def write_readings(conn: Connection, records: Records, touched: Touched, *, scope: str | None = None,
                   counts: dict[str, int] | None = None) -> int:
    """Upsert readings of live facilities: facility_id, metric, ts, value. ``scope``: a region code;
    readings of facilities outside its subtree are refused. ``counts``: when given, ``counts["updated"]``
    is set to how many readings replaced existing ones."""
    df = frame(records, "readings")
    if df.empty:
        return 0
    chk = Checker(df, "readings")
    chk.columns({"facility_id", "metric", "ts", "value"}, {"facility_id", "metric", "ts", "value"})
    fid = chk.number("facility_id", 1, integer=True)
    chk.identifier("metric")
    ts = chk.timestamp("ts")
    value = chk.number("value")
    chk.unique(["facility_id", "metric", "ts"], "facility, metric and time")
    live = set(conn.execute(text("SELECT id FROM facilities WHERE live = :t"), {"t": True}).scalars())
    chk.flag(fid.notna().to_numpy() & ~fid.isin(list(live)).to_numpy(), "facility_id", "unknown or not a live facility")
    if scope is not None and not chk.problems:
        ids = sorted({int(f) for f in fid})
        where = dict(conn.execute(text("SELECT id, region_code FROM facilities WHERE id IN :ids")
                                  .bindparams(bindparam("ids", expanding=True)), {"ids": ids}).all())
        allowed = set(conn.execute(text("SELECT descendant_code FROM region_closure WHERE ancestor_code = :s"),
                                   {"s": scope}).scalars())
        for k, f in enumerate(fid):
            if where[int(f)] not in allowed:
                chk.add(k, "facility_id", int(f), f"the facility is outside the token's scope (region {scope} and below)")
    chk.raise_if_any()
    rows = [
        {"facility_id": int(f), "metric": str(m), "ts": to_epoch(t.to_pydatetime()), "value": float(v)}
        for f, m, t, v in zip(fid, df["metric"], ts, value, strict=True)
    ]
    if counts is not None:
        stmt = text("SELECT facility_id, metric, ts FROM readings WHERE facility_id IN :f AND ts BETWEEN :lo AND :hi"
                    ).bindparams(bindparam("f", expanding=True))
        have = set(map(tuple, conn.execute(stmt, {"f": sorted({r["facility_id"] for r in rows}),
                                                  "lo": min(r["ts"] for r in rows), "hi": max(r["ts"] for r in rows)}).all()))
        counts["updated"] = sum((r["facility_id"], r["metric"], r["ts"]) in have for r in rows)
    db.upsert(conn, Reading.__table__, rows, ["facility_id", "metric", "ts"])
    touched.reading_facilities |= {r["facility_id"] for r in rows}
    touched.writes += len(rows)
    return len(rows)


# ---------------------------------------------------------------------------------------------- helpers


def _epochs(series: pd.Series) -> np.ndarray:
    """datetime64 series → object array of int epoch seconds (None for NaT)."""
    arr = series.to_numpy(dtype="datetime64[s]")
    nat = np.isnat(arr)
    out = arr.astype("int64").astype(object)
    out[nat] = None
    return out


def _float_or_none(s: pd.Series) -> np.ndarray:
    arr = s.to_numpy(dtype=float).astype(object)
    arr[np.isnan(s.to_numpy(dtype=float))] = None
    return arr


def _int_or_none(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), None, dtype=object)
    nums = pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float)
    out = np.full(len(df), None, dtype=object)
    ok = ~np.isnan(nums)
    out[ok] = nums[ok].astype(int).tolist()
    return out


def _text_or_none(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), None, dtype=object)
    return df[col].where(df[col].notna(), None).to_numpy(dtype=object)


def _external_ids(df: pd.DataFrame) -> np.ndarray:
    """The client ids, None where missing or blank (a blank id must not collide in the unique index)."""
    if "external_id" not in df.columns:
        return np.full(len(df), None, dtype=object)
    return np.array([v if isinstance(v, str) and v.strip() else None for v in df["external_id"]], dtype=object)


def _text_or_empty(df: pd.DataFrame, col: str) -> np.ndarray:
    if col not in df.columns:
        return np.full(len(df), "", dtype=object)
    return df[col].fillna("").astype(str).to_numpy(dtype=object)


__all__ = [
    "CatalogReport", "IngestError", "Problem", "locate_leaves", "write_catalog", "write_event_updates", "write_events",
    "write_facilities", "write_readings", "write_regions", "write_values",
]
