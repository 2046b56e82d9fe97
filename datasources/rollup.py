"""Roll-ups computed in SQL at load time: region closure, parent indicator values, monthly event counts.

Each function runs inside the caller's transaction and is idempotent (it deletes what it derives first).
"""

from __future__ import annotations

from sqlalchemy import Connection, text

# Parent value = rule(children values of the same indicator and period).
_AGGREGATES = {
    "sum": "SUM(v.value)",
    "mean": "AVG(v.value)",
    "max": "MAX(v.value)",
    "min": "MIN(v.value)",
    "wmean": "SUM(v.value * r.population) / NULLIF(SUM(CASE WHEN v.value IS NULL THEN 0 ELSE r.population END), 0)",
}


def month_start(conn: Connection, column: str) -> str:
    """SQL expression for the first day of the month of a timestamp column, per dialect."""
    if conn.dialect.name == "postgresql":
        return f"CAST(date_trunc('month', {column}) AS DATE)"
    return f"date({column}, 'start of month')"


def build_closure(conn: Connection) -> int:
    """Fill ``region_closure`` from ``regions.parent_code``; works for any depth. Returns row count."""
    conn.execute(text("DELETE FROM region_closure"))
    conn.execute(text("INSERT INTO region_closure (ancestor_code, descendant_code, depth) SELECT code, code, 0 FROM regions"))
    depth, total = 0, conn.execute(text("SELECT COUNT(*) FROM regions")).scalar_one()
    while True:
        added = conn.execute(
            text(
                "INSERT INTO region_closure (ancestor_code, descendant_code, depth) "
                "SELECT c.ancestor_code, r.code, c.depth + 1 FROM region_closure c "
                "JOIN regions r ON r.parent_code = c.descendant_code WHERE c.depth = :d"
            ),
            {"d": depth},
        ).rowcount
        if not added:
            return total
        total += added
        depth += 1


def rollup_indicator_values(conn: Connection) -> int:
    """Derive every parent level's values bottom-up by each indicator's aggregation rule.

    Values loaded for a region (``derived = false``) are never overwritten. ``last`` takes the value of
    the child that reported most recently (``reported_at``; ties broken by the higher region code).
    Returns the number of derived rows.
    """
    conn.execute(text("DELETE FROM indicator_values WHERE derived = :t"), {"t": True})
    max_level = conn.execute(text("SELECT MAX(level) FROM regions")).scalar_one() or 0
    not_loaded = (
        "NOT EXISTS (SELECT 1 FROM indicator_values x WHERE x.indicator_code = v.indicator_code "
        "AND x.region_code = r.parent_code AND x.period = v.period)"
    )
    total = 0
    for child_level in range(max_level, 0, -1):
        params = {"lvl": child_level, "t": True}
        for rule, expr in _AGGREGATES.items():
            total += conn.execute(
                text(
                    "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
                    f"SELECT v.indicator_code, r.parent_code, v.period, {expr}, MAX(v.reported_at), :t "
                    "FROM indicator_values v JOIN regions r ON r.code = v.region_code "
                    "JOIN indicators i ON i.code = v.indicator_code "
                    f"WHERE r.level = :lvl AND r.parent_code IS NOT NULL AND i.aggregation = '{rule}' AND {not_loaded} "
                    "GROUP BY v.indicator_code, r.parent_code, v.period"
                ),
                params,
            ).rowcount
        total += conn.execute(
            text(
                "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
                "SELECT indicator_code, parent_code, period, value, reported_at, :t FROM ("
                "  SELECT v.indicator_code, r.parent_code, v.period, v.value, v.reported_at, "
                "  ROW_NUMBER() OVER (PARTITION BY v.indicator_code, r.parent_code, v.period "
                "                     ORDER BY v.reported_at DESC, r.code DESC) AS rn "
                "  FROM indicator_values v JOIN regions r ON r.code = v.region_code "
                "  JOIN indicators i ON i.code = v.indicator_code "
                f"  WHERE r.level = :lvl AND r.parent_code IS NOT NULL AND i.aggregation = 'last' AND {not_loaded}"
                ") ranked WHERE rn = 1"
            ),
            params,
        ).rowcount
    return total


def rollup_events_monthly(conn: Connection) -> int:
    """Fill ``event_monthly``: counts per region of every level, month, source, category, severity and
    status. Events are grouped once at their own region, then summed up the closure."""
    conn.execute(text("DELETE FROM event_monthly"))
    month = month_start(conn, "e.reported_at")
    return conn.execute(
        text(
            "INSERT INTO event_monthly (region_code, month, source, category, severity, status, n) "
            "SELECT c.ancestor_code, b.month, b.source, b.category, b.severity, b.status, SUM(b.n) FROM ("
            f"  SELECT e.region_code, {month} AS month, e.source, e.category, e.severity, e.status, COUNT(*) AS n "
            "  FROM events e GROUP BY e.region_code, 2, e.source, e.category, e.severity, e.status"
            ") b JOIN region_closure c ON c.descendant_code = b.region_code "
            "GROUP BY c.ancestor_code, b.month, b.source, b.category, b.severity, b.status"
        )
    ).rowcount


CELL_DEG = 0.005  # resolution of event_cells; coarser heat grids are whole multiples of it


def rollup_event_cells(conn: Connection) -> int:
    """Fill ``event_cells``: events per own region, month and CELL_DEG grid cell."""
    conn.execute(text("DELETE FROM event_cells"))
    month = month_start(conn, "reported_at")
    inv = round(1 / CELL_DEG)
    return conn.execute(
        text(
            "INSERT INTO event_cells (region_code, month, gx, gy, n) "
            f"SELECT region_code, {month}, CAST(FLOOR(lon * {inv}) AS INTEGER), CAST(FLOOR(lat * {inv}) AS INTEGER), COUNT(*) "
            "FROM events WHERE lon IS NOT NULL AND lat IS NOT NULL GROUP BY region_code, 2, 3, 4"
        )
    ).rowcount
