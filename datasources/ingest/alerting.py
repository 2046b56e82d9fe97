"""Alert rules kept as data (``alert_rules.csv`` → table ``alert_rules``), operating modes, and the alert
lifecycle: the write entries and the evaluations ``derive`` runs.

Rules (one place; the pure parts are in :mod:`datasources.rules`):

- ``reading``: the newest reading of a metric at each live station against warn/alarm (by polarity).
  One alert per (rule, station) while it breaches: the rule's severity beyond alarm, one grade lower beyond
  warn; its severity, value and message follow the newest reading; cleared by 'system' when the newest
  reading is back within limits.
- ``surge``: events of a category per area (the rule's level, default the leaves) in the window
  ``(now - window_hours, now]`` against the area's own seasonal baseline (see ``rules.surge_baseline`` and
  ``rules.surge_threshold``): counted in SQL in one pass over the window and its baseline windows. An alert
  per (rule, area) while it qualifies, cleared by 'system' when it no longer does.
- ``indicator``: the catalog's warn/alarm (``derive.refresh_threshold_alerts``), only in the rule's modes
  and with the rule's severity.

A rule is active when its ``modes`` is empty or holds the current mode (meta ``mode``, default 'daily').
Alerts of rules that are no longer active are cleared by 'mode'; of rules no longer in the catalog by
'system'. Every alert has a position: the station, the event, or the area's centroid.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from datasources.catalog_loader import MODE_IDS, Catalog
from datasources.ingest.errors import IngestError, Problem
from datasources.ingest.validate import Checker, frame
from datasources.models import AlertRule, to_epoch
from datasources.rollup import _exec, _in
from datasources.rules import (
    is_surge,
    reading_severity,
    surge_baseline,
    surge_offsets,
    surge_threshold,
    threshold_status,
)

DEFAULT_MODE = "daily"
SYSTEM, BY_MODE = "system", "mode"  # cleared_by of alerts cleared by a rule / by a mode switch
STEPS = ("acknowledge", "clear")
MODE_SOURCES = ("manual", "schedule", "default")


# ---------------------------------------------------------------------------------------------- modes


def _meta(conn: Connection, key: str) -> str | None:
    return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()


def current_mode(conn: Connection) -> str:
    """The operating mode stored on the server (meta ``mode``; 'daily' until someone switches)."""
    return _meta(conn, "mode") or DEFAULT_MODE


def mode_profiles(conn: Connection) -> dict[str, dict]:
    """The mode profiles of the loaded catalog (meta ``mode_profiles``), by mode id."""
    raw = _meta(conn, "mode_profiles")
    return json.loads(raw) if raw else {}


def rules(conn: Connection, kind: str | None = None, mode: str | None = None) -> list[dict]:
    """The alert rules (of one kind), only those active in ``mode`` when given."""
    rows = [dict(r) for r in conn.execute(text("SELECT * FROM alert_rules ORDER BY id")).mappings()]
    if kind is not None:
        rows = [r for r in rows if r["kind"] == kind]
    if mode is not None:
        rows = [r for r in rows if is_active(r, mode)]
    return rows


def is_active(rule: dict, mode: str) -> bool:
    """A rule is active in every mode when its ``modes`` is empty, else only in the modes it lists."""
    modes = [m for m in (rule["modes"] or "").split(";") if m]
    return not modes or mode in modes


# ---------------------------------------------------------------------------------------------- entries


def write_alert_rules(conn: Connection, catalog: Catalog, level_shift: int = 0) -> int:
    """Replace the alert rules and the mode profiles by the catalog's. Levels of surge rules are the
    catalog's (0 city, 1 township, 2 community) mapped onto a deeper tree like the indicators'."""
    conn.execute(text("DELETE FROM alert_rules"))
    rows = [
        {"id": r.id, "kind": r.kind, "target": r.target, "name_zh": r.name_zh, "name_en": r.name_en,
         "severity": r.severity, "polarity": r.polarity, "warn": r.warn, "alarm": r.alarm,
         "window_hours": r.window_hours, "baseline_weeks": r.baseline_weeks, "factor": r.factor,
         "min_count": r.min_count, "level": None if r.level is None else r.level + (level_shift if r.level > 0 else 0),
         "modes": ";".join(r.modes), "description": r.description}
        for r in catalog.alert_rules
    ]
    if rows:
        conn.execute(AlertRule.__table__.insert(), rows)
    if catalog.modes:
        profiles = {
            m.mode: {"name_zh": m.name_zh, "name_en": m.name_en, "refresh_seconds": m.refresh_seconds,
                     "layers": list(m.layers), "panels": list(m.panels), "description": m.description}
            for m in catalog.modes
        }
        # Without sort_keys: the file's order is the display order of the mode switch.
        _set_meta(conn, "mode_profiles", json.dumps(profiles, ensure_ascii=False))
    return len(rows)


def write_mode(conn: Connection, mode: str, actor: str, source: str, now: datetime) -> str | None:
    """Set the operating mode (meta mode, mode_since, mode_by, mode_source). Returns the previous mode,
    or None when ``mode`` is already the current one (nothing is written then)."""
    known = mode_profiles(conn) or dict.fromkeys(MODE_IDS)
    problems = []
    if mode not in known:
        problems.append(Problem(0, "mode", mode, f"unknown mode (known: {', '.join(known)})"))
    if source not in MODE_SOURCES:
        problems.append(Problem(0, "source", source, f"must be one of {', '.join(MODE_SOURCES)}"))
    if not actor or len(actor) > 64:
        problems.append(Problem(0, "by", actor, "1 to 64 characters"))
    if problems:
        raise IngestError("mode", problems)
    old = current_mode(conn)
    if old == mode and _meta(conn, "mode") is not None:
        return None
    for key, value in {"mode": mode, "mode_since": now.isoformat(sep=" "), "mode_by": actor, "mode_source": source}.items():
        _set_meta(conn, key, value)
    return old


def write_alert_steps(conn: Connection, records: Any, now: datetime) -> int:
    """Acknowledge or clear alerts by hand: id, step ('acknowledge' | 'clear'), by (who), [at] (default
    now). An alert is acknowledged once, before it is cleared; a cleared alert takes no more steps."""
    df = frame(records, "alert steps")
    if df.empty:
        return 0
    chk = Checker(df, "alert steps")
    chk.columns({"id", "step", "by"}, {"id", "step", "by", "at"})
    ids = chk.number("id", 1, integer=True)
    chk.one_of("step", STEPS)
    chk.text("by", 64)
    at = chk.timestamp("at", required=False)
    chk.unique(["id"], "alert id (one step per alert per batch)")
    good = [int(i) for i in ids.dropna()]
    current = {}
    if good:
        current = {r.id: r for r in _exec(
            conn, "SELECT id, acknowledged_at, cleared_at, cleared_by FROM alerts WHERE id IN :ids", {}, {"ids": good}
        )}
    for k in range(len(df)):
        if ids.isna().iat[k]:
            continue
        a = current.get(int(ids.iat[k]))
        step = str(df["step"].iat[k])
        if a is None:
            chk.add(k, "id", int(ids.iat[k]), "unknown alert")
        elif a.cleared_at is not None:
            chk.add(k, "step", step, f"the alert is already cleared (by {a.cleared_by or 'system'})")
        elif step == "acknowledge" and a.acknowledged_at is not None:
            chk.add(k, "step", step, "the alert is already acknowledged")
        elif step == "clear" and a.acknowledged_at is None:
            chk.add(k, "step", step, "acknowledge the alert before clearing it")
    chk.raise_if_any()
    for k in range(len(df)):
        when = to_epoch(now if at.isna().iat[k] else at.iat[k].to_pydatetime())
        who, aid = str(df["by"].iat[k]), int(ids.iat[k])
        if df["step"].iat[k] == "acknowledge":
            conn.execute(text("UPDATE alerts SET acknowledged_by = :b, acknowledged_at = :t WHERE id = :id"),
                         {"b": who, "t": when, "id": aid})
        else:
            conn.execute(text("UPDATE alerts SET cleared_by = :b, cleared_at = :t WHERE id = :id"), {"b": who, "t": when, "id": aid})
    return len(df)


def _set_meta(conn: Connection, key: str, value: str) -> None:
    if not conn.execute(text("UPDATE meta SET value = :v WHERE key = :k"), {"k": key, "v": value}).rowcount:
        conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value})


# ---------------------------------------------------------------------------------------------- evaluation


def retire_alerts(conn: Connection, now: datetime) -> int:
    """Clear the open alerts of reading and surge rules that are not active in the current mode ('mode')
    or no longer exist ('system'). Threshold alerts are handled by ``refresh_threshold_alerts``."""
    mode = current_mode(conn)
    all_rules = {r["id"]: r for r in rules(conn)}
    rows = conn.execute(
        text("SELECT id, rule FROM alerts WHERE cleared_at IS NULL AND rule <> 'severe_event' AND rule NOT LIKE 'threshold:%'")
    ).all()
    n = 0
    for aid, rule_id in rows:
        rule = all_rules.get(rule_id)
        if rule is None or not is_active(rule, mode):
            _clear(conn, [aid], now, SYSTEM if rule is None else BY_MODE)
            n += 1
    return n


def refresh_reading_alerts(conn: Connection, now: datetime, facilities: Collection[int] | None = None) -> int:
    """Open, update and clear the alerts of the active reading rules for ``facilities`` (None = all) from
    their newest readings. Returns the number of alerts opened, changed or cleared."""
    active = rules(conn, "reading", current_mode(conn))
    if not active:
        return 0
    metrics = sorted({r["target"] for r in active})
    lists = {"metrics": metrics, "fids": None if facilities is None else sorted(facilities)}
    newest = _exec(
        conn,
        "SELECT x.facility_id, x.metric, x.value, f.name, f.lon, f.lat, f.region_code FROM ("
        "  SELECT facility_id, metric, value, ROW_NUMBER() OVER (PARTITION BY facility_id, metric ORDER BY ts DESC) AS rn "
        f"  FROM readings WHERE metric IN :metrics{_in('facility_id', 'fids', lists['fids'])}"
        ") x JOIN facilities f ON f.id = x.facility_id WHERE x.rn = 1",
        {},
        lists,
    ).all()
    by_metric: dict[str, list] = {}
    for r in newest:
        by_metric.setdefault(r.metric, []).append(r)
    n = 0
    for rule in active:
        breach = {}
        for r in by_metric.get(rule["target"], []):
            status = threshold_status(r.value, rule["polarity"], rule["warn"], rule["alarm"])
            severity = reading_severity(status, rule["severity"])
            if severity is not None:
                limit = rule["alarm"] if status == "alarm" else rule["warn"]
                word = ("高于" if rule["polarity"] < 0 else "低于") + ("报警值" if status == "alarm" else "预警值")
                breach[r.facility_id] = {
                    "rule": rule["id"], "severity": severity, "region_code": r.region_code, "indicator_code": None,
                    "event_id": None, "facility_id": r.facility_id, "category": None, "value": float(r.value),
                    "lon": r.lon, "lat": r.lat, "started_at": to_epoch(now),
                    "message": f"{r.name} {rule['name_zh']} {r.value:g} {word} {limit:g}",
                }
        open_rows = _exec(
            conn,
            "SELECT id, facility_id, severity, value, message FROM alerts WHERE cleared_at IS NULL AND rule = :rule"
            + _in("facility_id", "fids", lists["fids"]),
            {"rule": rule["id"]},
            {"fids": lists["fids"]},
        ).all()
        n += _reconcile(conn, now, {r.facility_id: r for r in open_rows}, breach)
    return n


def refresh_surge_alerts(conn: Connection, now: datetime, regions: Collection[str] | None = None) -> int:
    """Open, update and clear the alerts of the active surge rules in the areas above ``regions`` (the
    regions whose events changed; None = every area), and re-check every area with an open alert of the
    rule (its window may have passed). Returns the number of alerts opened, changed or cleared."""
    active = rules(conn, "surge", current_mode(conn))
    if not active:
        return 0
    leaf_level = conn.execute(text("SELECT MAX(level) FROM regions")).scalar()
    n = 0
    for rule in active:
        level = leaf_level if rule["level"] is None else rule["level"]
        open_rows = conn.execute(
            text("SELECT id, region_code, severity, value, message FROM alerts WHERE cleared_at IS NULL AND rule = :rule"),
            {"rule": rule["id"]},
        ).all()
        areas = None
        if regions is not None:
            areas = set(_exec(
                conn,
                "SELECT DISTINCT c.ancestor_code FROM region_closure c JOIN regions r ON r.code = c.ancestor_code "
                "WHERE c.descendant_code IN :regs AND r.level = :lvl",
                {"lvl": level},
                {"regs": sorted(regions)},
            ).scalars()) | {r.region_code for r in open_rows}
            if not areas:
                continue
            open_rows = [r for r in open_rows if r.region_code in areas]
        hits = {}
        for row in surge_counts(conn, rule, now, level, areas):
            baseline = surge_baseline(row.n_recent, row.n_year, rule["baseline_weeks"])
            if not is_surge(row.n_now, baseline, rule["factor"], rule["min_count"]):
                continue
            hits[row.area] = {
                "rule": rule["id"], "severity": rule["severity"], "region_code": row.area, "indicator_code": None,
                "event_id": None, "facility_id": None, "category": rule["target"], "value": float(row.n_now),
                "lon": row.centroid_lon, "lat": row.centroid_lat, "started_at": to_epoch(now),
                "message": f"{row.name} {rule['name_zh']}：{rule['window_hours']}小时 {row.n_now} 起"
                           f"（常态 {baseline:.1f} 起，阈值 {surge_threshold(baseline, rule['factor'], rule['min_count']):.1f}）",
            }
        n += _reconcile(conn, now, {r.region_code: r for r in open_rows}, hits)
    return n


def surge_counts(conn: Connection, rule: dict, now: datetime, level: int, areas: Collection[str] | None = None) -> list:
    """Per area at ``level`` (within ``areas``; None = all) holding at least ``min_count`` events of the
    rule's category in the current window: name, centroid, n_now, and the summed counts of the recent
    (n_recent) and year-ago (n_year) baseline windows. One SQL pass: a literal table of the windows is
    joined to events on ``reported_at`` ranges (index ``ix_events_reported``), then up the closure."""
    t, width = to_epoch(now), int(rule["window_hours"]) * 3600
    parts, params = [], {"cat": rule["target"], "lvl": level, "min": int(rule["min_count"])}
    for k, (group, days) in enumerate(surge_offsets(int(rule["baseline_weeks"]))):
        hi = t - days * 86400
        params[f"lo{k}"], params[f"hi{k}"] = hi - width, hi
        parts.append(f"SELECT {group} AS g, CAST(:lo{k} AS BIGINT) AS lo, CAST(:hi{k} AS BIGINT) AS hi")
    windows = "(" + " UNION ALL ".join(parts) + ")"
    now_n = "SUM(CASE WHEN w.g = 0 THEN 1 ELSE 0 END)"
    sql = (
        "SELECT x.area, r.name, r.centroid_lon, r.centroid_lat, x.n_now, x.n_recent, x.n_year FROM ("
        f"  SELECT c.ancestor_code AS area, {now_n} AS n_now, "
        "  SUM(CASE WHEN w.g = 1 THEN 1 ELSE 0 END) AS n_recent, SUM(CASE WHEN w.g = 2 THEN 1 ELSE 0 END) AS n_year "
        f"  FROM {windows} w JOIN events e ON e.reported_at > w.lo AND e.reported_at <= w.hi "
        "  JOIN region_closure c ON c.descendant_code = e.region_code JOIN regions ra ON ra.code = c.ancestor_code "
        f"  WHERE e.category = :cat AND ra.level = :lvl{_in('c.ancestor_code', 'areas', areas)} "
        f"  GROUP BY c.ancestor_code HAVING {now_n} >= :min"
        ") x JOIN regions r ON r.code = x.area ORDER BY x.area"
    )
    return _exec(conn, sql, params, {"areas": None if areas is None else sorted(areas)}).all()


def _reconcile(conn: Connection, now: datetime, open_by_key: dict, wanted: dict[Any, dict]) -> int:
    """Make the open alerts of one rule equal ``wanted`` (key → alert row): open the missing, update the
    severity, value and message of the ones that changed (started_at stays), clear the rest ('system')."""
    to_clear = [r.id for key, r in open_by_key.items() if key not in wanted]
    new = [row for key, row in sorted(wanted.items()) if key not in open_by_key]
    changed = [
        {"id": open_by_key[key].id, "severity": row["severity"], "value": row["value"], "message": row["message"]}
        for key, row in wanted.items()
        if key in open_by_key
        and (open_by_key[key].severity, open_by_key[key].value, open_by_key[key].message) != (row["severity"], row["value"], row["message"])
    ]
    _clear(conn, to_clear, now, SYSTEM)
    if changed:
        conn.execute(text("UPDATE alerts SET severity = :severity, value = :value, message = :message WHERE id = :id"), changed)
    insert_alerts(conn, new)
    return len(to_clear) + len(new) + len(changed)


def _clear(conn: Connection, ids: list[int], now: datetime, by: str) -> None:
    if ids:
        _exec(conn, "UPDATE alerts SET cleared_at = :now, cleared_by = :by WHERE id IN :ids",
              {"now": to_epoch(now), "by": by}, {"ids": ids})


ALERT_FIELDS = ("rule", "severity", "region_code", "indicator_code", "event_id", "facility_id", "category", "value",
                "lon", "lat", "message", "started_at")


def insert_alerts(conn: Connection, rows: list[dict]) -> None:
    """Insert new alerts (missing fields are NULL)."""
    if rows:
        conn.execute(
            text(f"INSERT INTO alerts ({', '.join(ALERT_FIELDS)}) VALUES ({', '.join(':' + f for f in ALERT_FIELDS)})"),
            [dict.fromkeys(ALERT_FIELDS) | r for r in rows],
        )


__all__ = [
    "BY_MODE", "DEFAULT_MODE", "SYSTEM", "current_mode", "insert_alerts", "is_active", "mode_profiles",
    "refresh_reading_alerts", "refresh_surge_alerts", "retire_alerts", "rules", "surge_counts", "write_alert_rules",
    "write_alert_steps", "write_mode",
]
