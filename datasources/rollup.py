"""Roll-ups computed in SQL: region closure, parent indicator values, event counts per month and grid cell.

Every function runs inside the caller's transaction, is idempotent (it deletes what it derives first) and
takes optional filters: ``None`` means everything (a full rebuild); a set of region codes and months
refreshes only those (an incremental refresh after a write). Both paths run the same SQL, so they give
the same rows — a test checks it on the county demo.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import date

from dateutil.relativedelta import relativedelta
from sqlalchemy import Connection, bindparam, text

from datasources.models import EVENT_AREA_LEVELS, to_epoch
from datasources.rules import DONE_STATUSES, SATISFIED_SCORE, sql_list

CELL_DEG = 0.005  # resolution of event_cells; coarser heat grids are whole multiples of it

# Parent value = rule(children values of the same indicator and period).
_AGGREGATES = {
    "sum": "SUM(v.value)",
    "mean": "AVG(v.value)",
    "max": "MAX(v.value)",
    "min": "MIN(v.value)",
    "wmean": "SUM(v.value * r.population) / NULLIF(SUM(CASE WHEN v.value IS NULL THEN 0 ELSE r.population END), 0)",
}
_DONE = sql_list(DONE_STATUSES)


def rounded(conn: Connection, expr: str, digits: int = 9) -> str:
    """``expr`` rounded to ``digits`` decimals: a sum or mean of floats depends on the order the database
    adds them in (PostgreSQL's differs between a full and a partial roll-up in the last bit), so roll-ups
    are stored rounded, and an incremental refresh equals a full rebuild exactly."""
    if conn.dialect.name == "postgresql":
        return f"CAST(ROUND(CAST({expr} AS NUMERIC), {digits}) AS DOUBLE PRECISION)"
    return f"ROUND({expr}, {digits})"


def month_of_epoch(conn: Connection, column: str) -> str:
    """SQL expression: first day of the month of an epoch-seconds column, as a DATE, per dialect."""
    if conn.dialect.name == "postgresql":
        return f"CAST(date_trunc('month', to_timestamp({column}) AT TIME ZONE 'UTC') AS DATE)"
    return f"date({column}, 'unixepoch', 'start of month')"


def json_field(conn: Connection, column: str, key: str) -> str:
    """SQL expression: the text value of ``key`` in a JSON-object text column, per dialect."""
    if conn.dialect.name == "postgresql":
        return f"(CAST({column} AS json) ->> '{key}')"
    return f"json_extract({column}, '$.{key}')"


def months_table(conn: Connection, months: Sequence[date]) -> tuple[str, dict]:
    """A derived table ``(month, next_month)`` of literal months, and its bind parameters."""
    cast = (lambda p: f"CAST(:{p} AS DATE)") if conn.dialect.name == "postgresql" else (lambda p: f":{p}")
    parts, params = [], {}
    for k, m in enumerate(sorted(set(months))):
        params[f"mo{k}"], params[f"mn{k}"] = m, m + relativedelta(months=1)
        parts.append(f"SELECT {cast(f'mo{k}')} AS month, {cast(f'mn{k}')} AS next_month")
    return "(" + " UNION ALL ".join(parts) + ")", params


def _in(column: str, name: str, values: Collection | None) -> str:
    """An ``AND column IN :name`` filter, or nothing when ``values`` is None (= all)."""
    return "" if values is None else f" AND {column} IN :{name}"


def _exec(conn: Connection, sql: str, params: dict, lists: dict[str, Collection | None]):  # noqa: ANN202
    stmt = text(sql)
    expanding = [bindparam(k, expanding=True) for k, v in lists.items() if v is not None and f":{k}" in sql]
    if expanding:
        stmt = stmt.bindparams(*expanding)
    return conn.execute(stmt, params | {k: list(v) for k, v in lists.items() if v is not None})


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


def area_of_regions(conn: Connection) -> dict[str, dict[int, str]]:
    """Per region code, its ancestor (or itself) at each level of ``EVENT_AREA_LEVELS``: the values of
    the events' ``area<level>_code`` columns for an event placed in that region."""
    rows = conn.execute(text(
        "SELECT c.descendant_code, r.level, c.ancestor_code FROM region_closure c JOIN regions r ON r.code = c.ancestor_code "
        f"WHERE r.level IN ({', '.join(str(k) for k in EVENT_AREA_LEVELS)})"
    ))
    out: dict[str, dict[int, str]] = {}
    for code, level, ancestor in rows:
        out.setdefault(code, {})[int(level)] = ancestor
    return out


def refresh_event_areas(conn: Connection) -> int:
    """Set every event's ``area<level>_code`` columns from ``region_closure`` (after the region tree
    changed, or for rows written outside the write layer, as the test fixtures do). Returns events updated."""
    sets = ", ".join(
        f"area{k}_code = (SELECT c.ancestor_code FROM region_closure c JOIN regions r ON r.code = c.ancestor_code "
        f"WHERE c.descendant_code = events.region_code AND r.level = {k})"
        for k in EVENT_AREA_LEVELS
    )
    return conn.execute(text(f"UPDATE events SET {sets}")).rowcount


def ancestors_of(conn: Connection, codes: Collection[str] | None) -> set[str] | None:
    """The regions ``codes`` and all their ancestors (None stays None = all)."""
    if codes is None:
        return None
    if not codes:
        return set()
    rows = _exec(conn, "SELECT DISTINCT ancestor_code FROM region_closure WHERE descendant_code IN :codes", {}, {"codes": codes})
    return {r[0] for r in rows}


def _levels(conn: Connection) -> list[int]:
    return [r[0] for r in conn.execute(text("SELECT DISTINCT level FROM regions ORDER BY level DESC"))]


def rollup_indicator_values(
    conn: Connection,
    indicators: Collection[str] | None = None,
    regions: Collection[str] | None = None,
    periods: Collection[date] | None = None,
) -> int:
    """Derive parent values bottom-up by each indicator's aggregation rule, for the ancestors of
    ``regions`` (the regions whose values changed), ``indicators`` and ``periods`` (None = all).

    Values loaded for a region (``derived = false``) are never overwritten; indicators computed by a rule
    (``indicator_rules``) are left to :func:`datasources.derive`. ``last`` takes the value of the child that
    reported most recently (``reported_at``; ties broken by the higher region code). Returns rows written.
    """
    parents = ancestors_of(conn, regions)
    lists = {"inds": indicators, "parents": parents, "periods": periods}
    not_rule = "indicator_code NOT IN (SELECT indicator_code FROM indicator_rules)"
    _exec(
        conn,
        f"DELETE FROM indicator_values WHERE derived = :t AND {not_rule}"
        + _in("indicator_code", "inds", indicators) + _in("region_code", "parents", parents) + _in("period", "periods", periods),
        {"t": True},
        lists,
    )
    not_loaded = (
        "NOT EXISTS (SELECT 1 FROM indicator_values x WHERE x.indicator_code = v.indicator_code "
        "AND x.region_code = r.parent_code AND x.period = v.period)"
    )
    filters = (
        "i.code NOT IN (SELECT indicator_code FROM indicator_rules)"
        + _in("v.indicator_code", "inds", indicators) + _in("r.parent_code", "parents", parents) + _in("v.period", "periods", periods)
    )
    total = 0
    for child_level in _levels(conn)[:-1]:
        params = {"lvl": child_level, "t": True}
        for rule, expr in _AGGREGATES.items():
            total += _exec(
                conn,
                "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
                f"SELECT v.indicator_code, r.parent_code, v.period, {rounded(conn, expr)}, MAX(v.reported_at), :t "
                "FROM indicator_values v JOIN regions r ON r.code = v.region_code "
                "JOIN indicators i ON i.code = v.indicator_code "
                f"WHERE r.level = :lvl AND r.parent_code IS NOT NULL AND i.aggregation = '{rule}' AND {not_loaded} AND {filters} "
                "GROUP BY v.indicator_code, r.parent_code, v.period",
                params,
                lists,
            ).rowcount
        total += _exec(
            conn,
            "INSERT INTO indicator_values (indicator_code, region_code, period, value, reported_at, derived) "
            "SELECT indicator_code, parent_code, period, value, reported_at, :t FROM ("
            "  SELECT v.indicator_code, r.parent_code, v.period, v.value, v.reported_at, "
            "  ROW_NUMBER() OVER (PARTITION BY v.indicator_code, r.parent_code, v.period "
            "                     ORDER BY v.reported_at DESC, r.code DESC) AS rn "
            "  FROM indicator_values v JOIN regions r ON r.code = v.region_code "
            "  JOIN indicators i ON i.code = v.indicator_code "
            f"  WHERE r.level = :lvl AND r.parent_code IS NOT NULL AND i.aggregation = 'last' AND {not_loaded} AND {filters}"
            ") ranked WHERE rn = 1",
            params,
            lists,
        ).rowcount
    return total


def _month_window(conn: Connection, months: Collection[date] | None, column: str) -> tuple[str, dict]:
    """Filter on an epoch column for whole months (OR of ranges), or nothing for all months."""
    if months is None:
        return "", {}
    if not months:
        return " AND 1 = 0", {}
    parts, params = [], {}
    for k, m in enumerate(sorted(months)):
        params[f"ws{k}"], params[f"we{k}"] = to_epoch(m), to_epoch(m + relativedelta(months=1))
        parts.append(f"({column} >= :ws{k} AND {column} < :we{k})")
    return " AND (" + " OR ".join(parts) + ")", params


def rollup_events_monthly(conn: Connection, regions: Collection[str] | None = None, months: Collection[date] | None = None) -> int:
    """Refresh ``event_monthly`` (counts per region of every level, month, source, category, severity and
    status, with rated / satisfied / on-time counts) for the months ``months`` and the regions whose
    events changed (``regions``, own region codes) and their ancestors. None = all.

    Each level is computed from the events placed directly in its regions plus its children's rows, so an
    incremental refresh touches only the affected branches of the tree."""
    affected = ancestors_of(conn, regions)
    lists = {"aff": affected, "months": months}
    _exec(conn, "DELETE FROM event_monthly WHERE 1 = 1" + _in("region_code", "aff", affected) + _in("month", "months", months), {}, lists)
    window, wparams = _month_window(conn, months, "e.reported_at")
    month = month_of_epoch(conn, "e.reported_at")
    total = 0
    for level in _levels(conn):
        total += _exec(
            conn,
            "INSERT INTO event_monthly (region_code, month, source, category, severity, status, n, n_rated, n_satisfied, n_on_time) "
            "SELECT region_code, month, source, category, severity, status, SUM(n), SUM(n_rated), SUM(n_satisfied), SUM(n_on_time) FROM ("
            f"  SELECT e.region_code, {month} AS month, e.source, e.category, e.severity, e.status, COUNT(*) AS n, "
            "  SUM(CASE WHEN e.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS n_rated, "
            f"  SUM(CASE WHEN e.satisfaction >= {SATISFIED_SCORE} THEN 1 ELSE 0 END) AS n_satisfied, "
            f"  SUM(CASE WHEN e.status IN {_DONE} AND (e.due_at IS NULL OR COALESCE(e.resolved_at, e.closed_at) <= e.due_at) "
            "  THEN 1 ELSE 0 END) AS n_on_time "
            "  FROM events e JOIN regions r ON r.code = e.region_code "
            f"  WHERE r.level = :lvl{_in('e.region_code', 'aff', affected)}{window} "
            f"  GROUP BY e.region_code, {month}, e.source, e.category, e.severity, e.status "
            "  UNION ALL "
            "  SELECT r.parent_code, m.month, m.source, m.category, m.severity, m.status, m.n, m.n_rated, m.n_satisfied, m.n_on_time "
            "  FROM event_monthly m JOIN regions r ON r.code = m.region_code "
            f"  WHERE r.level = :child{_in('r.parent_code', 'aff', affected)}{_in('m.month', 'months', months)}"
            ") u GROUP BY region_code, month, source, category, severity, status",
            {"lvl": level, "child": level + 1} | wparams,
            lists,
        ).rowcount
    return total


def rollup_event_cells(conn: Connection, regions: Collection[str] | None = None, months: Collection[date] | None = None) -> int:
    """Refresh ``event_cells`` (events per own region, month and CELL_DEG grid cell) for ``regions``
    (own region codes of changed events) and ``months``; None = all."""
    lists = {"regs": regions, "months": months}
    _exec(conn, "DELETE FROM event_cells WHERE 1 = 1" + _in("region_code", "regs", regions) + _in("month", "months", months), {}, lists)
    window, wparams = _month_window(conn, months, "reported_at")
    month = month_of_epoch(conn, "reported_at")
    inv = round(1 / CELL_DEG)
    return _exec(
        conn,
        "INSERT INTO event_cells (region_code, month, gx, gy, n) "
        f"SELECT region_code, {month}, CAST(FLOOR(lon * {inv}) AS INTEGER), CAST(FLOOR(lat * {inv}) AS INTEGER), COUNT(*) "
        f"FROM events WHERE lon IS NOT NULL AND lat IS NOT NULL{_in('region_code', 'regs', regions)}{window} "
        f"GROUP BY region_code, {month}, CAST(FLOOR(lon * {inv}) AS INTEGER), CAST(FLOOR(lat * {inv}) AS INTEGER)",
        wparams,
        lists,
    ).rowcount


def add_new_events(conn: Connection, first_id: int, last_id: int) -> int:
    """Add the events with ids in ``[first_id, last_id]`` (just inserted) to ``event_monthly`` (at their
    region and every ancestor) and ``event_cells``: work proportional to the batch, not to the months
    it touches. Equal to a recount (a test checks it against a full rebuild)."""
    month = month_of_epoch(conn, "e.reported_at")
    rng = {"lo": first_id, "hi": last_id}
    n = conn.execute(text(
        "INSERT INTO event_monthly (region_code, month, source, category, severity, status, n, n_rated, n_satisfied, n_on_time) "
        "SELECT c.ancestor_code, b.month, b.source, b.category, b.severity, b.status, SUM(b.n), SUM(b.n_rated), "
        "SUM(b.n_satisfied), SUM(b.n_on_time) FROM ("
        f"  SELECT e.region_code, {month} AS month, e.source, e.category, e.severity, e.status, COUNT(*) AS n, "
        "  SUM(CASE WHEN e.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS n_rated, "
        f"  SUM(CASE WHEN e.satisfaction >= {SATISFIED_SCORE} THEN 1 ELSE 0 END) AS n_satisfied, "
        f"  SUM(CASE WHEN e.status IN {_DONE} AND (e.due_at IS NULL OR COALESCE(e.resolved_at, e.closed_at) <= e.due_at) "
        "  THEN 1 ELSE 0 END) AS n_on_time "
        f"  FROM events e WHERE e.id BETWEEN :lo AND :hi GROUP BY e.region_code, {month}, e.source, e.category, e.severity, e.status"
        ") b JOIN region_closure c ON c.descendant_code = b.region_code WHERE 1 = 1 "
        "GROUP BY c.ancestor_code, b.month, b.source, b.category, b.severity, b.status "
        "ON CONFLICT (region_code, month, source, category, severity, status) DO UPDATE SET "
        "n = event_monthly.n + excluded.n, n_rated = event_monthly.n_rated + excluded.n_rated, "
        "n_satisfied = event_monthly.n_satisfied + excluded.n_satisfied, n_on_time = event_monthly.n_on_time + excluded.n_on_time"
    ), rng).rowcount
    inv = round(1 / CELL_DEG)
    cells = month_of_epoch(conn, "reported_at")
    conn.execute(text(
        "INSERT INTO event_cells (region_code, month, gx, gy, n) "
        f"SELECT region_code, {cells}, CAST(FLOOR(lon * {inv}) AS INTEGER), CAST(FLOOR(lat * {inv}) AS INTEGER), COUNT(*) "
        "FROM events WHERE id BETWEEN :lo AND :hi AND lon IS NOT NULL AND lat IS NOT NULL "
        f"GROUP BY region_code, {cells}, CAST(FLOOR(lon * {inv}) AS INTEGER), CAST(FLOOR(lat * {inv}) AS INTEGER) "
        "ON CONFLICT (region_code, month, gx, gy) DO UPDATE SET n = event_cells.n + excluded.n"
    ), rng)
    return n
