"""``derive``: what every write runs in its own transaction after the rows are in.

- event roll-ups (``event_monthly``, ``event_cells``) for the touched regions and months;
- indicators computed by the catalog's rules (``indicator_rules``): event counts and rates from
  ``event_monthly``, facility counts from ``facilities``; whole months only for events;
- roll-ups of loaded indicator values to every parent level, for the touched indicators, regions, periods;
- threshold alerts (the catalog's warn/alarm, by the one rule in :mod:`datasources.rules`) raised and
  cleared, and an alert for every open severe (I–II) event;
- the alert rules of ``alert_rules`` active in the current mode (:mod:`datasources.ingest.alerting`):
  reading rules for the stations whose readings changed, surge rules for the areas whose events changed
  (and every area with an open surge alert, whose window may have passed); every rule after a mode switch,
  a catalog load or a scheduled re-evaluation.

A full rebuild is the same code with no filters (``Touched(full=True)``).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import Connection, text

from datasources.ingest import alerting
from datasources.models import to_epoch
from datasources.rollup import (
    _exec,
    _in,
    add_new_events,
    ancestors_of,
    json_field,
    months_table,
    rollup_event_cells,
    rollup_events_monthly,
    rollup_indicator_values,
)
from datasources.rules import DONE_STATUSES, OPEN_STATUSES, SEVERE, month_floor, sql_list, threshold_status

_DONE, _OPEN = sql_list(DONE_STATUSES), sql_list(OPEN_STATUSES)
_FREQUENCY_MONTHS = {"quarterly": (3, 6, 9, 12), "yearly": (12,)}
_RATE_EXPR = {
    "events": "COALESCE(SUM(m.n), 0)",
    "closure_rate": f"100.0 * SUM(CASE WHEN m.status IN {_DONE} THEN m.n ELSE 0 END) / NULLIF(SUM(m.n), 0)",
    "on_time_rate": f"100.0 * SUM(m.n_on_time) / NULLIF(SUM(CASE WHEN m.status IN {_DONE} THEN m.n ELSE 0 END), 0)",
    "satisfaction": "100.0 * SUM(m.n_satisfied) / NULLIF(SUM(m.n_rated), 0)",
}


@dataclass
class Touched:
    """What a transaction changed, so that ``derive`` refreshes only that (``full`` = everything)."""

    full: bool = False
    value_indicators: set[str] = field(default_factory=set)
    value_regions: set[str] = field(default_factory=set)
    value_periods: set[date] = field(default_factory=set)
    event_regions: set[str] = field(default_factory=set)  # regions and months whose events changed
    event_months: set[date] = field(default_factory=set)
    recount_regions: set[str] = field(default_factory=set)  # of those, where events changed in place (steps)
    recount_months: set[date] = field(default_factory=set)
    new_events: list[tuple[int, int]] = field(default_factory=list)  # id ranges of inserted events
    facility_regions: set[str] = field(default_factory=set)
    facility_since: date | None = None  # earliest month whose facility counts changed
    reading_facilities: set[int] = field(default_factory=set)  # stations with new readings
    mode_changed: bool = False  # the operating mode changed: every rule's alerts are re-evaluated
    reevaluate: bool = False  # re-evaluate the alert rules (the scheduler: surge windows pass with time)
    writes: int = 0  # rows written by the entries of the transaction
    deferred_indexes: set[str] = field(default_factory=set)  # tables loaded in bulk without their indexes


def derive(conn: Connection, touched: Touched, now: datetime) -> dict[str, int]:
    """Refresh everything derived from what ``touched`` names, in the caller's transaction."""
    counts: dict[str, int] = {}
    current = month_floor(now)
    full = touched.full
    last = meta_value(conn, "derived_month")
    new_month = last is None or date.fromisoformat(last) < current
    if full:
        counts["event_monthly"] = rollup_events_monthly(conn)
        counts["event_cells"] = rollup_event_cells(conn)
    else:
        # Steps change a counted class in place: recount those branches. New events are added on top.
        if touched.recount_regions:
            counts["event_monthly"] = rollup_events_monthly(conn, touched.recount_regions, touched.recount_months)
            counts["event_cells"] = rollup_event_cells(conn, touched.recount_regions, touched.recount_months)
        for lo, hi in touched.new_events:
            counts["event_monthly_added"] = counts.get("event_monthly_added", 0) + add_new_events(conn, lo, hi)

    rules = conn.execute(
        text("SELECT r.*, i.level, i.frequency FROM indicator_rules r JOIN indicators i ON i.code = r.indicator_code")
    ).mappings().all()
    event_rules = [r for r in rules if r["measure"] != "facilities"]
    facility_rules = [r for r in rules if r["measure"] == "facilities"]
    computed: set[str] = set()

    # Event measures, whole months only; a month that ended since the last derive is computed everywhere.
    if full or new_month:
        months, regions = _event_months(conn, current), None
    else:
        months, regions = [m for m in touched.event_months if m < current], ancestors_of(conn, touched.event_regions)
    if months and (regions is None or regions):
        for rule in event_rules:
            counts["rule_values"] = counts.get("rule_values", 0) + _event_rule(conn, rule, months, regions, now)
            computed.add(rule["indicator_code"])

    # Facility counts: in service at the end of each month, up to the current month.
    if full or new_month:
        f_from, f_regions = _window_start(conn, current), None
    elif touched.facility_regions:
        f_from = max(touched.facility_since or _window_start(conn, current), _window_start(conn, current))
        f_regions = ancestors_of(conn, touched.facility_regions)
    else:
        f_from, f_regions = None, set()
    if f_from is not None:
        span = _month_range(f_from, current)
        for rule in facility_rules:
            months_f = [m for m in span if m.month in _FREQUENCY_MONTHS.get(rule["frequency"], range(1, 13))]
            counts["rule_values"] = counts.get("rule_values", 0) + _facility_rule(conn, rule, months_f, f_regions, now)
            computed.add(rule["indicator_code"])

    if full:
        counts["rollup_values"] = rollup_indicator_values(conn)
    elif touched.value_regions:
        counts["rollup_values"] = rollup_indicator_values(
            conn, touched.value_indicators, touched.value_regions, touched.value_periods
        )

    if full:
        counts["threshold_alerts"] = refresh_threshold_alerts(conn, now)
        counts["event_alerts"] = refresh_event_alerts(conn, None)
    else:
        inds = touched.value_indicators | computed
        regs = ancestors_of(conn, touched.value_regions | touched.event_regions | touched.facility_regions)
        if new_month:
            inds, regs = None, None
        if inds is None or (inds and regs):
            counts["threshold_alerts"] = refresh_threshold_alerts(conn, now, inds, regs)
        if touched.event_regions:
            counts["event_alerts"] = refresh_event_alerts(conn, touched.event_regions)
        if touched.mode_changed:
            # Only indicators with a rule depend on the mode.
            targets = {r["target"] for r in alerting.rules(conn, "indicator")}
            if targets:
                counts["threshold_alerts"] = counts.get("threshold_alerts", 0) + refresh_threshold_alerts(conn, now, targets, None)
    if full or touched.mode_changed or touched.reevaluate:
        counts["retired_alerts"] = alerting.retire_alerts(conn, now)
        counts["reading_alerts"] = alerting.refresh_reading_alerts(conn, now)
        counts["surge_alerts"] = alerting.refresh_surge_alerts(conn, now)
    else:
        if touched.reading_facilities:
            counts["reading_alerts"] = alerting.refresh_reading_alerts(conn, now, touched.reading_facilities)
        if touched.event_regions:
            counts["surge_alerts"] = alerting.refresh_surge_alerts(conn, now, touched.event_regions)
    set_meta(conn, "derived_month", current.isoformat())
    return counts


# ---------------------------------------------------------------------------------------------- rules


def _event_months(conn: Connection, current: date) -> list[date]:
    rows = conn.execute(text("SELECT DISTINCT month FROM event_monthly")).scalars()
    return sorted(m for m in (_date(v) for v in rows) if m < current)


def _window_start(conn: Connection, current: date) -> date:
    """The first month the data covers (values or events), at most 60 months back."""
    firsts = [
        conn.execute(text("SELECT MIN(period) FROM indicator_values WHERE derived = :f"), {"f": False}).scalar(),
        conn.execute(text("SELECT MIN(month) FROM event_monthly")).scalar(),
    ]
    found = [_date(v) for v in firsts if v is not None]
    start = min(found) if found else current
    return max(start, current - relativedelta(months=60))


def _month_range(start: date, end: date) -> list[date]:
    out, m = [], month_floor(start)
    while m <= end:
        out.append(m)
        m += relativedelta(months=1)
    return out


def _split(value: str) -> list[str]:
    return [v for v in (value or "").split(";") if v]


def _replace_rule_values(conn: Connection, code: str, months: list[date], regions: Collection[str] | None) -> None:
    _exec(
        conn,
        "DELETE FROM indicator_values WHERE indicator_code = :c AND period IN :months" + _in("region_code", "regs", regions),
        {"c": code},
        {"months": months, "regs": regions},
    )


def _event_rule(conn: Connection, rule, months: list[date], regions: Collection[str] | None, now: datetime) -> int:  # noqa: ANN001
    """One event measure for every region down to the indicator's level and every month in ``months``:
    regions without events get 0 (counts) or no value (rates with nothing to divide by)."""
    code = rule["indicator_code"]
    _replace_rule_values(conn, code, months, regions)
    mt, mparams = months_table(conn, months)
    sources, categories = _split(rule["sources"]), _split(rule["categories"])
    cond = _in("m.source", "srcs", sources or None) + _in("m.category", "cats", categories or None)
    sql = (
        "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
        f"SELECT :c, code, month, value, :now, :t FROM ("
        f"  SELECT r.code, mo.month, {_RATE_EXPR[rule['measure']]} AS value FROM regions r CROSS JOIN {mt} mo "
        f"  LEFT JOIN event_monthly m ON m.region_code = r.code AND m.month = mo.month{cond} "
        f"  WHERE r.level <= :lvl{_in('r.code', 'regs', regions)} GROUP BY r.code, mo.month"
        ") x WHERE value IS NOT NULL"
    )
    params = {"c": code, "now": to_epoch(now), "t": True, "lvl": rule["level"]} | mparams
    return _exec(conn, sql, params, {"srcs": sources or None, "cats": categories or None, "regs": regions}).rowcount


def _facility_rule(conn: Connection, rule, months: list[date], regions: Collection[str] | None, now: datetime) -> int:  # noqa: ANN001
    """Facilities of a kind (and attribute) in service at the end of each month, in every region's subtree."""
    if not months:
        return 0
    code = rule["indicator_code"]
    _replace_rule_values(conn, code, months, regions)
    mt, mparams = months_table(conn, months)
    attr, attr_params = "", {}
    if rule["attribute"]:
        key, value = rule["attribute"].split("=", 1)
        attr, attr_params = f" AND {json_field(conn, 'f.attributes', key)} = :attr_v", {"attr_v": value}
    sql = (
        "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
        f"SELECT :c, r.code, mo.month, COALESCE(x.n, 0), :now, :t FROM regions r CROSS JOIN {mt} mo "
        "LEFT JOIN ("
        "  SELECT c.ancestor_code, mo2.month, COUNT(*) AS n FROM facilities f "
        f"  JOIN region_closure c ON c.descendant_code = f.region_code CROSS JOIN {mt} mo2 "
        f"  WHERE f.kind = :kind AND (f.since IS NULL OR f.since < mo2.next_month){attr}{_in('c.ancestor_code', 'regs', regions)} "
        "  GROUP BY c.ancestor_code, mo2.month"
        ") x ON x.ancestor_code = r.code AND x.month = mo.month "
        f"WHERE r.level <= :lvl{_in('r.code', 'regs', regions)}"
    )
    params = {"c": code, "now": to_epoch(now), "t": True, "lvl": rule["level"], "kind": rule["facility_kind"]} | mparams | attr_params
    return _exec(conn, sql, params, {"regs": regions}).rowcount


# ---------------------------------------------------------------------------------------------- alerts


def refresh_threshold_alerts(
    conn: Connection, now: datetime, indicators: Collection[str] | None = None, regions: Collection[str] | None = None
) -> int:
    """Open an alert for every (indicator, region) whose newest value is in alarm, clear the open ones whose
    newest value no longer is; only the pairs of ``indicators`` × ``regions`` are looked at (None = all).
    An indicator with a rule in ``alert_rules`` (kind 'indicator') raises alerts only in the rule's modes
    (its open ones are cleared by 'mode' otherwise) and with the rule's severity; others with ``SEVERE``.
    Alerts sit at the region's centroid and carry the value. Returns the number of alerts opened plus cleared."""
    lists = {"inds": indicators, "regs": regions}
    mode = alerting.current_mode(conn)
    ind_rules = {r["target"]: r for r in alerting.rules(conn, "indicator")}
    silenced = {code for code, r in ind_rules.items() if not alerting.is_active(r, mode)}
    filt = _in("v.indicator_code", "inds", indicators) + _in("v.region_code", "regs", regions)
    rows = _exec(
        conn,
        # The newest value per pair by a window, not a self-join on MAX(period): inside the demo's one
        # transaction PostgreSQL has no statistics yet and planned the join as a nested loop (minutes).
        "SELECT x.indicator_code, x.region_code, x.value, x.name_zh, x.polarity, x.warn, x.alarm, r.name, "
        "r.centroid_lon, r.centroid_lat FROM ("
        "  SELECT v.indicator_code, v.region_code, v.value, i.name_zh, i.polarity, i.warn, i.alarm, "
        "  ROW_NUMBER() OVER (PARTITION BY v.indicator_code, v.region_code ORDER BY v.period DESC) AS rn "
        f"  FROM indicator_values v JOIN indicators i ON i.code = v.indicator_code WHERE i.alarm IS NOT NULL{filt}"
        ") x JOIN regions r ON r.code = x.region_code WHERE x.rn = 1",
        {},
        lists,
    ).all()
    alarm = {
        (r.indicator_code, r.region_code): r
        for r in rows
        if threshold_status(r.value, r.polarity, r.warn, r.alarm) == "alarm" and r.indicator_code not in silenced
    }
    open_rows = _exec(
        conn,
        "SELECT id, indicator_code, region_code FROM alerts WHERE rule LIKE 'threshold:%' AND cleared_at IS NULL"
        + _in("indicator_code", "inds", indicators) + _in("region_code", "regs", regions),
        {},
        lists,
    ).all()
    open_keys = {(r.indicator_code, r.region_code): r.id for r in open_rows}
    to_clear = [aid for key, aid in open_keys.items() if key not in alarm and key[0] not in silenced]
    by_mode = [aid for key, aid in open_keys.items() if key not in alarm and key[0] in silenced]
    new = [
        {"rule": f"threshold:{r.indicator_code}", "severity": ind_rules[r.indicator_code]["severity"]
         if r.indicator_code in ind_rules else SEVERE, "region_code": r.region_code,
         "indicator_code": r.indicator_code, "event_id": None, "started_at": to_epoch(now), "value": r.value,
         "lon": r.centroid_lon, "lat": r.centroid_lat,
         "message": f"{r.name} {r.name_zh} {r.value:g} {'低于' if r.polarity > 0 else '高于'}报警阈值 {r.alarm:g}"}
        for key, r in sorted(alarm.items())
        if key not in open_keys
    ]
    for ids, by in ((to_clear, alerting.SYSTEM), (by_mode, alerting.BY_MODE)):
        if ids:
            _exec(conn, "UPDATE alerts SET cleared_at = :now, cleared_by = :by WHERE id IN :ids",
                  {"now": to_epoch(now), "by": by}, {"ids": ids})
    alerting.insert_alerts(conn, new)
    return len(new) + len(to_clear) + len(by_mode)


def refresh_event_alerts(conn: Connection, regions: Collection[str] | None) -> int:
    """An alert for every open severe event (of events placed in ``regions``; None = all) without one;
    clear those whose event is no longer open or severe. Started at the event's report time, cleared at
    its resolution (or its last step's) time."""
    lists = {"regs": regions}
    severe = _exec(
        conn,
        "SELECT e.id, e.severity, e.region_code, e.title, e.reported_at, COALESCE(e.lon, r.centroid_lon) AS lon, "
        "COALESCE(e.lat, r.centroid_lat) AS lat FROM events e JOIN regions r ON r.code = e.region_code "
        f"WHERE e.severity <= {SEVERE} AND e.status IN {_OPEN}{_in('e.region_code', 'regs', regions)}",
        {},
        lists,
    ).all()
    have = _exec(
        conn,
        "SELECT a.id, a.event_id, e.status, e.severity, COALESCE(e.resolved_at, e.closed_at, e.dispatched_at, e.reported_at) AS done_at "
        "FROM alerts a LEFT JOIN events e ON e.id = a.event_id WHERE a.rule = 'severe_event' AND a.cleared_at IS NULL"
        + _in("a.region_code", "regs", regions),
        {},
        lists,
    ).all()
    have_ids = {r.event_id for r in have}
    n = 0
    for r in have:
        if r.status not in OPEN_STATUSES or r.severity is None or r.severity > SEVERE:
            conn.execute(text("UPDATE alerts SET cleared_at = :t, cleared_by = :by WHERE id = :id"),
                         {"t": r.done_at, "by": alerting.SYSTEM, "id": r.id})
            n += 1
    new = [
        {"rule": "severe_event", "severity": e.severity, "region_code": e.region_code, "indicator_code": None,
         "event_id": e.id, "message": e.title, "started_at": e.reported_at, "lon": e.lon, "lat": e.lat}
        for e in severe
        if e.id not in have_ids
    ]
    alerting.insert_alerts(conn, new)
    return n + len(new)


# ---------------------------------------------------------------------------------------------- meta


def meta_value(conn: Connection, key: str) -> str | None:
    """One fact from ``meta`` (None when unset)."""
    return conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": key}).scalar()


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Set one fact in ``meta`` inside the writer's transaction."""
    if not conn.execute(text("UPDATE meta SET value = :v WHERE key = :k"), {"k": key, "v": value}).rowcount:
        conn.execute(text("INSERT INTO meta (key, value) VALUES (:k, :v)"), {"k": key, "v": value})


def bump_data_version(conn: Connection) -> int:
    """Increment the data version inside the writer's transaction; returns the new value."""
    updated = conn.execute(
        text("UPDATE meta SET value = CAST(CAST(value AS INTEGER) + 1 AS VARCHAR(32)) WHERE key = 'data_version'")
    ).rowcount
    if not updated:
        conn.execute(text("INSERT INTO meta (key, value) VALUES ('data_version', '1')"))
    return int(conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar_one())


def _date(v) -> date:  # noqa: ANN001
    if isinstance(v, datetime):
        return v.date()
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])
