"""The repository: every query the screens run (accounts and the audit log live in ``access``).

All functions take a ``scope`` (a region code whose subtree the caller may see; ``None`` = all) and
filter by it in SQL. Aggregation runs in SQL on indexed keys or on the roll-up tables filled at load
time; Python only shapes the few rows that come back.
"""

from __future__ import annotations

import functools
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import shapely
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, bindparam, text

from datasources import scores
from datasources.ingest import alerting
from datasources.models import EVENT_AREA_LEVELS, OPEN_EVENTS_SQL, from_epoch, to_epoch
from datasources.rollup import CELL_DEG
from datasources.rules import (
    ALERT_WEIGHTS,
    DONE_STATUSES,
    LIFECYCLE,
    OPEN_STATUSES,
    SATISFIED_SCORE,
    SEVERE,
    is_stale,
    month_floor,
    relative_change,
    sql_list,
    threshold_status,
)

EVENT_DIMENSIONS = ("status", "category", "severity", "source")


_OPEN, _DONE = sql_list(OPEN_STATUSES), sql_list(DONE_STATUSES)


class ScopeError(PermissionError):
    """The caller asked for an area outside its scope (or an unknown area)."""


@dataclass(frozen=True)
class Kpi:
    """One KPI card's numbers for an area and period."""

    code: str
    name_zh: str
    name_en: str
    theme: str
    unit: str
    unit_en: str
    polarity: int
    frequency: str
    value: float | None
    period: date | None  # period of ``value`` (the latest at or before the selected one)
    previous: float | None  # the value before it
    last_year: float | None  # same period one year earlier
    status: str  # ok | warn | alarm | none
    stale: bool
    sparkline: tuple[float | None, ...] = field(default=())
    # False when the indicator is not collected at the area's level (below its lowest level, or no area
    # of that level has any value of it): "not applicable" there, not "stale".
    applicable: bool = True

    def change(self, other: float | None) -> float | None:
        """Relative change of ``value`` against ``other`` (None when undefined)."""
        return relative_change(self.value, other)


def _as_date(v: Any) -> date | None:
    if v is None or isinstance(v, date) and not isinstance(v, datetime):
        return v
    if isinstance(v, datetime):
        return v.date()
    return date.fromisoformat(str(v)[:10])


def _as_datetime(v: Any) -> datetime | None:
    """A timestamp read by a raw query (epoch seconds) as a datetime."""
    if v is None or isinstance(v, datetime):
        return v
    if isinstance(v, int | float):
        return from_epoch(int(v))
    return datetime.fromisoformat(str(v))


class Repository:
    """Read (and version-bump) access to one database."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def _rows(self, sql: str, params: dict | None = None) -> list[dict]:
        """Run one read query; rows as dicts."""
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(text(sql), params or {}).mappings()]

    def _scalar(self, sql: str, params: dict | None = None) -> Any:
        """Run one read query returning a single value (None when no row)."""
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params or {}).scalar()

    def scoped(self, scope: str | None) -> ScopedRepository:
        """This repository as a caller limited to ``scope``'s subtree sees it (``None``: everything)."""
        return ScopedRepository(self, scope)

    # ------------------------------------------------------------------ meta and versioning
    def meta(self) -> dict[str, str]:
        """All key/value facts of the loaded data (demo flag, as_of, scale, seed, data_version…)."""
        with self.engine.connect() as conn:
            return dict(conn.execute(text("SELECT key, value FROM meta")).all())

    def data_version(self) -> int:
        """A counter bumped by every write; caches and refreshing screens key on it."""
        with self.engine.connect() as conn:
            v = conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar()
        return int(v or 0)

    # ------------------------------------------------------------------ regions
    def check_scope(self, area: str, scope: str | None = None) -> None:
        """Raise ScopeError unless ``area`` exists and lies in ``scope``'s subtree."""
        with self.engine.connect() as conn:
            ok = conn.execute(
                text("SELECT 1 FROM region_closure WHERE ancestor_code = :s AND descendant_code = :a"),
                {"s": scope if scope is not None else area, "a": area},
            ).first()
        if not ok:
            raise ScopeError(f"area {area!r} is unknown or outside scope {scope!r}")

    def root_code(self, scope: str | None = None) -> str:
        """The top region the caller may see: the scope itself, or the tree's root."""
        if scope is not None:
            return scope
        with self.engine.connect() as conn:
            return conn.execute(text("SELECT code FROM regions WHERE parent_code IS NULL ORDER BY code")).scalar_one()

    def region(self, code: str, scope: str | None = None) -> dict:
        """One region's attributes (no geometry)."""
        self.check_scope(code, scope)
        with self.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT code, name, name_en, level, parent_code, population, area_km2, centroid_lon, centroid_lat, "
                    "(SELECT COUNT(*) FROM regions c WHERE c.parent_code = r.code) AS n_children "
                    "FROM regions r WHERE code = :c"
                ),
                {"c": code},
            ).mappings().one()
        return dict(row)

    def children(self, code: str, scope: str | None = None) -> list[dict]:
        """Direct children of a region, ordered by code."""
        self.check_scope(code, scope)
        return self._rows(
            "SELECT code, name, name_en, level, population, area_km2, centroid_lon, centroid_lat "
            "FROM regions WHERE parent_code = :c ORDER BY code",
            {"c": code},
        )

    def ancestors(self, code: str, scope: str | None = None) -> list[dict]:
        """The path from the top visible region down to ``code`` (inclusive): the breadcrumb."""
        self.check_scope(code, scope)
        top_level = -1
        if scope is not None:
            top_level = self.region(scope)["level"]
        return self._rows(
            "SELECT r.code, r.name, r.name_en, r.level FROM region_closure c JOIN regions r ON r.code = c.ancestor_code "
            "WHERE c.descendant_code = :c AND r.level >= :top ORDER BY r.level",
            {"c": code, "top": top_level},
        )

    def bounds(self, code: str, scope: str | None = None) -> tuple[float, float, float, float]:
        """Lon/lat bounding box (minx, miny, maxx, maxy) of a region's display geometry."""
        self.check_scope(code, scope)
        with self.engine.connect() as conn:
            geom = conn.execute(text("SELECT geometry_display FROM regions WHERE code = :c"), {"c": code}).scalar_one()
        return tuple(float(b) for b in shapely.from_geojson(geom).bounds)

    def child_at(self, area: str, lon: float, lat: float, scope: str | None = None) -> str | None:
        """The child of ``area`` whose polygon contains a point (a map click on a marker), or None."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT code, geometry_display FROM regions WHERE parent_code = :a"), {"a": area}).all()
        point = shapely.Point(lon, lat)
        return next((code for code, geom in rows if shapely.from_geojson(geom).covers(point)), None)

    def level_names(self) -> list[dict]:
        """Level numbers and their names, from the data."""
        return self._rows("SELECT level, name_zh, name_en FROM region_levels ORDER BY level")

    def display_geojson(self, level: int, scope: str | None = None) -> str:
        """A FeatureCollection (JSON text) of the regions at ``level`` (within ``scope``), simplified for
        display. Served once per level by URL; feature ``id`` is the region code."""
        sql = "SELECT code, name, parent_code, geometry_display FROM regions WHERE level = :l"
        if scope is not None:
            sql += " AND code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code = :s)"
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql + " ORDER BY code"), {"l": level, "s": scope}).all()
        # Geometry is already GeoJSON text: splice it in rather than parse and re-serialise it.
        feats = ",".join(
            f'{{"type":"Feature","id":{json.dumps(code)},'
            f'"properties":{json.dumps({"name": name, "parent": parent}, ensure_ascii=False)},"geometry":{geom}}}'
            for code, name, parent, geom in rows
        )
        return '{"type":"FeatureCollection","features":[' + feats + "]}"

    def children_geojson(self, parent: str, scope: str | None = None) -> str:
        """A FeatureCollection (JSON text) of the children of ``parent`` (which must lie within ``scope``),
        simplified for display: what the map draws when ``parent`` is selected, a few KB instead of a whole
        level. Feature ``id`` is the region code."""
        self.check_scope(parent, scope)  # the children of an area within the scope are within it too
        sql = "SELECT code, name, parent_code, geometry_display FROM regions WHERE parent_code = :p ORDER BY code"
        with self.engine.connect() as conn:
            rows = conn.execute(text(sql), {"p": parent}).all()
        feats = ",".join(
            f'{{"type":"Feature","id":{json.dumps(code)},'
            f'"properties":{json.dumps({"name": name, "parent": parent_code}, ensure_ascii=False)},"geometry":{geom}}}'
            for code, name, parent_code, geom in rows
        )
        return '{"type":"FeatureCollection","features":[' + feats + "]}"

    # ------------------------------------------------------------------ catalog and periods
    def pages(self) -> list[dict]:
        """Themes and topics in display order."""
        return self._rows('SELECT id, kind, name_zh, name_en, "order", icon FROM pages ORDER BY "order", id')

    def indicators(self) -> list[dict]:
        """The indicator catalog as stored."""
        return self._rows("SELECT * FROM indicators ORDER BY theme, code")

    def latest_period(self) -> date | None:
        """The newest period holding any indicator value."""
        with self.engine.connect() as conn:
            return _as_date(conn.execute(text("SELECT MAX(period) FROM indicator_values")).scalar())

    def periods(self) -> list[date]:
        """Every period with data, newest first (from the root region's rows: small and indexed)."""
        root = self.root_code()
        with self.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT DISTINCT period FROM indicator_values WHERE region_code = :r ORDER BY period DESC"),
                {"r": root},
            ).scalars()
            return [_as_date(p) for p in rows]

    # ------------------------------------------------------------------ indicator values
    def kpi_values(
        self,
        area: str,
        period: date,
        codes: Sequence[str] | None = None,
        theme: str | None = None,
        scope: str | None = None,
        spark_months: int = 12,
    ) -> list[Kpi]:
        """KPI card numbers of an area: value at the latest period at or before ``period``, the value
        before it, the same period a year earlier, threshold status, staleness and a sparkline.

        Select indicators by ``codes`` or by ``theme`` (headline indicators only when neither is given).
        """
        self.check_scope(area, scope)
        period = month_floor(period)
        # Far enough back for the sparkline and for the year-ago value of a yearly indicator whose
        # latest value may itself lag the period by up to 14 months (ALLOWED_LAG_MONTHS).
        start = period - relativedelta(months=max(spark_months, 13) + 14)
        where, params = "i.headline = :t", {"t": True}
        if codes is not None:
            where, params = "i.code IN :codes", {"codes": list(codes)}
        elif theme is not None:
            where, params = "i.theme = :theme", {"theme": theme}
        stmt = text(
            "SELECT i.code, i.name_zh, i.name_en, i.theme, i.unit, i.unit_en, i.polarity, i.frequency, i.warn, i.alarm, "
            "i.level, EXISTS (SELECT 1 FROM indicator_values w JOIN regions g ON g.code = w.region_code "
            "WHERE w.indicator_code = i.code AND g.level = (SELECT a.level FROM regions a WHERE a.code = :area)) AS has_any, "
            "v.period, v.value FROM indicators i LEFT JOIN indicator_values v "
            "ON v.indicator_code = i.code AND v.region_code = :area AND v.period > :start AND v.period <= :period "
            f"WHERE {where} ORDER BY i.theme, i.code, v.period"
        )
        if codes is not None:
            stmt = stmt.bindparams(bindparam("codes", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, {"area": area, "start": start, "period": period, **params}).all()
            area_level = conn.execute(text("SELECT level FROM regions WHERE code = :a"), {"a": area}).scalar()
        series: dict[str, dict] = {}
        for r in rows:
            entry = series.setdefault(r.code, {"row": r, "points": {}})
            if r.period is not None:
                entry["points"][_as_date(r.period)] = r.value
        order = list(codes) if codes is not None else list(series)
        return [self._kpi(series[c]["row"], series[c]["points"], period, spark_months, area_level) for c in order if c in series]

    @staticmethod
    def _kpi(r, points: dict[date, float | None], period: date, spark_months: int, area_level: int | None = None) -> Kpi:  # noqa: ANN001
        dates = sorted(points)
        latest = dates[-1] if dates else None
        value = points[latest] if latest else None
        previous = points[dates[-2]] if len(dates) > 1 else None
        last_year = points.get(latest - relativedelta(years=1)) if latest else None
        applicable = bool(r.has_any) and (area_level is None or area_level <= r.level)
        stale = applicable and is_stale(latest, period, r.frequency)
        spark = [d for d in dates if d > period - relativedelta(months=spark_months)]
        return Kpi(
            code=r.code, name_zh=r.name_zh, name_en=r.name_en, theme=r.theme, unit=r.unit, unit_en=r.unit_en,
            polarity=r.polarity, frequency=r.frequency, value=value, period=latest, previous=previous,
            last_year=last_year, status=threshold_status(value, r.polarity, r.warn, r.alarm), stale=stale,
            sparkline=tuple(points[d] for d in spark), applicable=applicable,
        )

    def child_values(self, indicator: str, area: str, period: date, scope: str | None = None) -> list[dict]:
        """Values of one indicator for every child of ``area`` (or the area itself when it has none) at
        the latest period at or before ``period``, with the previous value and the rank among siblings
        (1 = best, by polarity). Rows: code, name, name_en, value, previous, rank, period."""
        self.check_scope(area, scope)
        period = month_floor(period)
        with self.engine.connect() as conn:
            ind = conn.execute(text("SELECT polarity FROM indicators WHERE code = :c"), {"c": indicator}).first()
            if ind is None:
                raise KeyError(f"unknown indicator {indicator!r}")
            has_children = conn.execute(text("SELECT 1 FROM regions WHERE parent_code = :a LIMIT 1"), {"a": area}).first()
            members = "r.parent_code = :area" if has_children else "r.code = :area"
            p_eff = conn.execute(
                text(
                    "SELECT MAX(v.period) FROM indicator_values v JOIN regions r ON r.code = v.region_code "
                    f"WHERE v.indicator_code = :ind AND {members} AND v.period <= :p"
                ),
                {"ind": indicator, "area": area, "p": period},
            ).scalar()
            if p_eff is None:
                p_eff, p_prev = period, None
            else:
                p_prev = conn.execute(
                    text(
                        "SELECT MAX(v.period) FROM indicator_values v JOIN regions r ON r.code = v.region_code "
                        f"WHERE v.indicator_code = :ind AND {members} AND v.period < :p"
                    ),
                    {"ind": indicator, "area": area, "p": p_eff},
                ).scalar()
            rows = conn.execute(
                text(
                    "SELECT r.code, r.name, r.name_en, cur.value AS value, prev.value AS previous, "
                    "CASE WHEN cur.value IS NULL THEN NULL ELSE "
                    "RANK() OVER (ORDER BY CASE WHEN cur.value IS NULL THEN 1 ELSE 0 END, cur.value * :pol DESC) END AS rank "
                    "FROM regions r "
                    "LEFT JOIN indicator_values cur ON cur.region_code = r.code AND cur.indicator_code = :ind AND cur.period = :p "
                    "LEFT JOIN indicator_values prev ON prev.region_code = r.code AND prev.indicator_code = :ind AND prev.period = :pp "
                    f"WHERE {members} ORDER BY r.code"
                ),
                {"ind": indicator, "area": area, "p": p_eff, "pp": p_prev, "pol": ind.polarity},
            ).mappings().all()
        p_eff = _as_date(p_eff)
        return [dict(r) | {"period": p_eff} for r in rows]

    def time_series(self, indicator: str, area: str, start: date, end: date, scope: str | None = None) -> list[dict]:
        """Values of one indicator for one area between two periods (inclusive), oldest first."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT period, value FROM indicator_values WHERE indicator_code = :i AND region_code = :a "
                    "AND period >= :s AND period <= :e ORDER BY period"
                ),
                {"i": indicator, "a": area, "s": month_floor(start), "e": end},
            ).all()
        return [{"period": _as_date(p), "value": v} for p, v in rows]

    # ------------------------------------------------------------------ composite scores (datasources/scores.py)
    def child_scores(self, area: str, period: date, scope: str | None = None) -> list[dict]:
        """Composite scores (every theme and 'overall') of every child of ``area``, or of the area itself
        when it has none, at ``period``, in one query: see ``scores.area_scores``."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            return scores.area_scores(conn, area, period)

    def area_scores(self, area: str, period: date, scope: str | None = None) -> dict:
        """The area's own composite scores: ``{code, name, name_en, scores: {key: score}, counts}``."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            return scores.area_scores(conn, area, period, children=False)[0]

    def score_points(self, area: str, period: date, scope: str | None = None) -> list[dict]:
        """The points of every indicator that makes up the area's scores (``scores.indicator_points``)."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            return scores.indicator_points(conn, area, period)

    def score_explanation(self, area: str, period: date, key: str = scores.OVERALL, limit: int = 3,
                          scope: str | None = None) -> dict:
        """What pulls the area's ``key`` score ('overall' or a theme id) down: the indicators that cost it
        most points and the children scoring lowest below it (``scores.score_explanation``), plus ``area``
        and ``period``."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            points = scores.indicator_points(conn, area, period)
            has_children = conn.execute(text("SELECT 1 FROM regions WHERE parent_code = :a LIMIT 1"), {"a": area}).first()
            children = scores.area_scores(conn, area, period) if has_children else []
        return scores.score_explanation(key, points, children, limit) | {"area": area, "period": month_floor(period)}

    # ------------------------------------------------------------------ events
    def _in_area(self, conn, area: str) -> str:  # noqa: ANN001
        """SQL condition on events ``e``: the event lies in ``area``'s subtree (bind ``:a`` = area).

        At the levels with an ancestor column it is one equality on an index led by that column and
        ``reported_at``, whatever the number of leaves below; the single root holds every event; other
        levels fall back to the closure table."""
        level, roots = conn.execute(text(
            "SELECT level, (SELECT COUNT(*) FROM regions WHERE parent_code IS NULL) FROM regions WHERE code = :a"
        ), {"a": area}).one()
        if level in EVENT_AREA_LEVELS:
            return f"e.area{int(level)}_code = :a"
        if level == 0 and roots == 1:
            return "1 = 1"
        return "e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code = :a)"

    def event_counts(
        self, area: str, start: datetime | date, end: datetime | date, by: str = "status", scope: str | None = None
    ) -> dict[Any, int]:
        """Number of events reported in ``[start, end)`` in the area's subtree, grouped by ``by``
        (status, category, severity or source). Whole-month windows read the monthly roll-up."""
        if by not in EVENT_DIMENSIONS:
            raise ValueError(f"parameter 'by' must be one of {', '.join(EVENT_DIMENSIONS)}, not {by!r}")
        self.check_scope(area, scope)
        if _is_month_start(start) and _is_month_start(end):
            sql = (
                f"SELECT {by} AS k, SUM(n) AS n FROM event_monthly WHERE region_code = :a "
                f"AND month >= :s AND month < :e GROUP BY {by} ORDER BY {by}"
            )
            params = {"a": area, "s": _as_date(start), "e": _as_date(end)}
        else:
            sql = (
                f"SELECT e.{by} AS k, COUNT(*) AS n FROM events e "
                f"WHERE {{in_area}} AND e.reported_at >= :s AND e.reported_at < :e GROUP BY e.{by} ORDER BY e.{by}"
            )
            params = {"a": area, "s": _to_datetime(start), "e": _to_datetime(end)}
        with self.engine.connect() as conn:
            if "{in_area}" in sql:
                sql = sql.replace("{in_area}", self._in_area(conn, area))
            return {k: int(n) for k, n in conn.execute(text(sql), params).all()}

    def event_monthly_totals(self, area: str, start: date, end: date, scope: str | None = None) -> list[dict]:
        """Events per month in the area's subtree, by source, from the monthly roll-up."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT month, source, SUM(n) AS n FROM event_monthly WHERE region_code = :a AND month >= :s "
                    "AND month < :e GROUP BY month, source ORDER BY month, source"
                ),
                {"a": area, "s": start, "e": end},
            ).all()
        return [{"month": _as_date(m), "source": s, "n": int(n)} for m, s, n in rows]

    def recent_events(self, area: str, limit: int = 10, scope: str | None = None, before: datetime | None = None) -> list[dict]:
        """The newest events in the area's subtree (optionally reported before a time)."""
        self.check_scope(area, scope)
        params: dict[str, Any] = {"a": area, "n": int(limit)}
        cond = ""
        if before is not None:
            cond, params["b"] = "AND e.reported_at < :b", to_epoch(before)
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT e.id, e.source, e.category, e.theme, e.severity, e.title, e.status, e.region_code, "
                "e.reported_at, e.lon, e.lat, r.name AS region_name FROM events e JOIN regions r ON r.code = e.region_code "
                f"WHERE {self._in_area(conn, area)} {cond} ORDER BY e.reported_at DESC, e.id DESC LIMIT :n"
            ), params).mappings().all()
        return [dict(r) | {"reported_at": _as_datetime(r["reported_at"])} for r in rows]

    def open_event_count(self, area: str, scope: str | None = None) -> int:
        """Events in the area's subtree not yet resolved (from the monthly roll-up)."""
        self.check_scope(area, scope)
        n = self._scalar(
            f"SELECT SUM(n) FROM event_monthly WHERE region_code = :a AND status IN {_OPEN}",
            {"a": area},
        )
        return int(n or 0)

    def open_events(self, area: str, limit: int = 300, scope: str | None = None) -> list[dict]:
        """Unresolved events in the area's subtree, most severe and newest first (map points).

        At the levels with an ancestor column, and at the single root, a partial index of open events holds
        them in this order (migration 0008): the LIMIT reads its rows and sorts nothing."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT e.id, e.severity, e.category, e.title, e.status, e.lon, e.lat, e.reported_at FROM events e "
                f"WHERE {self._in_area(conn, area)} AND e.{OPEN_EVENTS_SQL} "
                "ORDER BY e.severity, e.reported_at DESC, e.id DESC LIMIT :n"
            ), {"a": area, "n": int(limit)}).mappings().all()
        return [dict(r) | {"reported_at": _as_datetime(r["reported_at"])} for r in rows]

    def event_density(
        self, area: str, start: datetime | date, end: datetime | date, cell_deg: float = 0.01, scope: str | None = None
    ) -> list[dict]:
        """Events in ``[start, end)`` counted on a lon/lat grid (cell centre, count): the heat layer,
        aggregated in SQL so that the response stays small at any volume. Whole months on a grid that
        is a multiple of the roll-up's 0.005° read ``event_cells``; anything else reads raw events."""
        self.check_scope(area, scope)
        factor = cell_deg / CELL_DEG
        if _is_month_start(start) and _is_month_start(end) and factor >= 1 and abs(factor - round(factor)) < 1e-9:
            k = int(round(factor))
            sql = (
                f"SELECT CAST(FLOOR(1.0 * m.gx / {k}) AS INTEGER) AS cx, CAST(FLOOR(1.0 * m.gy / {k}) AS INTEGER) AS cy, "
                "SUM(m.n) AS n FROM event_cells m {in_cells} m.month >= :s AND m.month < :e GROUP BY 1, 2 ORDER BY 1, 2"
            )
            params = {"a": area, "s": _as_date(start), "e": _as_date(end)}
        else:
            inv = 1.0 / cell_deg
            sql = (
                "SELECT CAST(FLOOR(e.lon * :inv) AS INTEGER) AS cx, CAST(FLOOR(e.lat * :inv) AS INTEGER) AS cy, "
                "COUNT(*) AS n FROM events e "
                "WHERE {in_area} AND e.reported_at >= :s AND e.reported_at < :e AND e.lon IS NOT NULL "
                "GROUP BY 1, 2 ORDER BY 1, 2"
            )
            params = {"a": area, "s": _to_datetime(start), "e": _to_datetime(end), "inv": inv}
        with self.engine.connect() as conn:
            in_area = self._in_area(conn, area)
            if "{in_area}" in sql:
                sql = sql.replace("{in_area}", in_area)
            # The single root holds every cell: the month's range alone, not a join with its 4,000 leaves
            # (prefecture: 20-46 ms warm, 172 ms on a new connection).
            sql = sql.replace("{in_cells}", "WHERE" if in_area == "1 = 1" else
                              "JOIN region_closure c ON c.descendant_code = m.region_code WHERE c.ancestor_code = :a AND")
            rows = conn.execute(text(sql), params).all()
        return [{"lon": (cx + 0.5) * cell_deg, "lat": (cy + 0.5) * cell_deg, "n": int(n)} for cx, cy, n in rows]

    def event_rates(self, area: str, start: date, end: date, source: str | None = None, scope: str | None = None) -> dict:
        """Closure and satisfaction of events reported in ``[start, end)``: total, closed share (closed or
        resolved), rated count and satisfied share (score >= 4)."""
        self.check_scope(area, scope)
        cond, params = "", {"a": area, "s": _to_datetime(start), "e": _to_datetime(end)}
        if source is not None:
            cond, params["src"] = "AND e.source = :src", source
        with self.engine.connect() as conn:
            in_area = self._in_area(conn, area)
            r = conn.execute(
                text(
                    "SELECT COUNT(*) AS total, "
                    f"SUM(CASE WHEN e.status IN {_DONE} THEN 1 ELSE 0 END) AS done, "
                    "SUM(CASE WHEN e.satisfaction IS NOT NULL THEN 1 ELSE 0 END) AS rated, "
                    f"SUM(CASE WHEN e.satisfaction >= {SATISFIED_SCORE} THEN 1 ELSE 0 END) AS satisfied "
                    f"FROM events e WHERE {in_area} AND e.reported_at >= :s AND e.reported_at < :e {cond}"
                ),
                params,
            ).mappings().one()
        total, rated = int(r["total"] or 0), int(r["rated"] or 0)
        return {
            "total": total,
            "closed_rate": (int(r["done"] or 0) / total) if total else None,
            "rated": rated,
            "satisfaction_rate": (int(r["satisfied"] or 0) / rated) if rated else None,
        }

    # ------------------------------------------------------------------ facilities and alerts
    def facility_counts(self, area: str, scope: str | None = None) -> dict[str, int]:
        """Facilities in the area's subtree by kind."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT f.kind, COUNT(*) FROM facilities f JOIN region_closure c ON c.descendant_code = f.region_code "
                    "WHERE c.ancestor_code = :a GROUP BY f.kind ORDER BY f.kind"
                ),
                {"a": area},
            ).all()
        return {k: int(n) for k, n in rows}

    def facility_points(
        self, area: str, kinds: Sequence[str], scope: str | None = None, max_points: int = 1500, cell_deg: float = 0.02
    ) -> list[dict]:
        """Facilities of some kinds in the area's subtree: one row per facility, or — when there are more
        than ``max_points`` — one row per kind and grid cell with a count (aggregated in SQL)."""
        self.check_scope(area, scope)
        kinds = list(kinds)
        if not kinds:
            return []
        base = (
            "FROM facilities f JOIN region_closure c ON c.descendant_code = f.region_code "
            "WHERE c.ancestor_code = :a AND f.kind IN :kinds"
        )
        params = {"a": area, "kinds": kinds}
        with self.engine.connect() as conn:
            n = conn.execute(text(f"SELECT COUNT(*) {base}").bindparams(bindparam("kinds", expanding=True)), params).scalar_one()
            if n <= max_points:
                rows = conn.execute(
                    text(f"SELECT f.id, f.kind, f.name, f.lon, f.lat, 1 AS n {base} ORDER BY f.kind, f.id").bindparams(
                        bindparam("kinds", expanding=True)
                    ),
                    params,
                ).mappings().all()
                return [dict(r) for r in rows]
            inv = 1.0 / cell_deg
            rows = conn.execute(
                text(
                    "SELECT f.kind, AVG(f.lon) AS lon, AVG(f.lat) AS lat, COUNT(*) AS n "
                    f"{base} GROUP BY f.kind, CAST(FLOOR(f.lon * :inv) AS INTEGER), CAST(FLOOR(f.lat * :inv) AS INTEGER) "
                    "ORDER BY f.kind, 2, 3"
                ).bindparams(bindparam("kinds", expanding=True)),
                params | {"inv": inv},
            ).mappings().all()
        return [dict(r) | {"id": None, "name": None} for r in rows]

    def open_alert_count(self, area: str, scope: str | None = None) -> int:
        """Alerts not yet cleared in the area's subtree."""
        self.check_scope(area, scope)
        return int(
            self._scalar(
                "SELECT COUNT(*) FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
                "WHERE c.ancestor_code = :a AND a.cleared_at IS NULL",
                {"a": area},
            )
        )

    def recent_alerts(self, area: str, limit: int = 10, scope: str | None = None) -> list[dict]:
        """The newest open alerts in the area's subtree."""
        self.check_scope(area, scope)
        rows = self._rows(
            "SELECT a.id, a.rule, a.severity, a.region_code, r.name AS region_name, a.indicator_code, a.message, "
            "a.started_at FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
            "JOIN regions r ON r.code = a.region_code WHERE c.ancestor_code = :a AND a.cleared_at IS NULL "
            "ORDER BY a.started_at DESC, a.id DESC LIMIT :n",
            {"a": area, "n": int(limit)},
        )
        return [r | {"started_at": _as_datetime(r["started_at"])} for r in rows]

    def open_alerts(self, area: str, limit: int = 50, scope: str | None = None) -> list[dict]:
        """Open (not cleared) alerts in the area's subtree, most severe first, then newest: what the wall
        and the header list. ``kind`` is reading | surge | indicator (catalog thresholds) | event (severe
        events); every row has the position the map draws it at (lon, lat)."""
        self.check_scope(area, scope)
        rows = self._rows(
            "SELECT a.id, a.rule, CASE WHEN a.rule = 'severe_event' THEN 'event' "
            "WHEN a.rule LIKE 'threshold:%' THEN 'indicator' ELSE ar.kind END AS kind, "
            "a.severity, a.region_code, r.name AS region_name, a.message, a.started_at, a.acknowledged_by, "
            "a.acknowledged_at, a.lon, a.lat, a.value, a.event_id, a.facility_id, a.indicator_code, a.category, "
            # What a message in another language is made of (layouts.alert_text.alert_text).
            "r.name_en AS region_name_en, ar.name_en AS rule_name_en, ar.polarity AS rule_polarity, ar.warn AS rule_warn, "
            "ar.alarm AS rule_alarm, ar.window_hours, i.name_en AS indicator_name_en, i.unit_en AS indicator_unit_en, "
            "i.polarity AS indicator_polarity, i.alarm AS indicator_alarm, f.name AS facility_name, ar.name_zh AS rule_name_zh "
            "FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
            "JOIN regions r ON r.code = a.region_code LEFT JOIN alert_rules ar ON ar.id = a.rule "
            "LEFT JOIN indicators i ON i.code = a.indicator_code LEFT JOIN facilities f ON f.id = a.facility_id "
            "WHERE c.ancestor_code = :a AND a.cleared_at IS NULL "
            "ORDER BY a.severity, a.started_at DESC, a.id DESC LIMIT :n",
            {"a": area, "n": int(limit)},
        )
        return [r | {"started_at": _as_datetime(r["started_at"]), "acknowledged_at": _as_datetime(r["acknowledged_at"])}
                for r in rows]

    # --- leader's view (issue 11 item 6) ---
    def open_alert_counts(self, area: str, scope: str | None = None) -> dict[int, int]:
        """Open (not cleared) alerts in the area's subtree by severity (1 = I … 4 = IV)."""
        self.check_scope(area, scope)
        rows = self._rows(
            "SELECT a.severity AS s, COUNT(*) AS n FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
            "WHERE c.ancestor_code = :a AND a.cleared_at IS NULL GROUP BY a.severity ORDER BY a.severity",
            {"a": area},
        )
        return {int(r["s"]): int(r["n"]) for r in rows}

    def child_breaches(self, area: str, period: date, scope: str | None = None) -> dict[str, dict[str, int]]:
        """For every headline indicator with thresholds: how many children of ``area`` breach them at
        their latest value at or before ``period`` (as their own KPI card would show it), as
        ``{code: {"warn": n, "alarm": n, "children": n}}`` (``warn`` excludes those at alarm; ``children``
        counts the children with a value). Indicators no child breaches are left out. Counted in SQL with
        the rule of ``rules.threshold_status`` (a value on a threshold is acceptable)."""
        self.check_scope(area, scope)
        period = month_floor(period)
        start = period - relativedelta(months=27)  # as far back as kpi_values looks
        beyond = "CASE WHEN i.polarity > 0 THEN CASE WHEN v.value < i.{t} THEN 1 ELSE 0 END " \
                 "ELSE CASE WHEN v.value > i.{t} THEN 1 ELSE 0 END END"
        rows = self._rows(
            f"SELECT i.code, SUM({beyond.format(t='alarm')}) AS alarm, "
            f"SUM({beyond.format(t='warn')}) AS beyond_warn, COUNT(*) AS children "
            "FROM indicators i JOIN regions r ON r.parent_code = :a "
            "JOIN indicator_values v ON v.indicator_code = i.code AND v.region_code = r.code "
            "WHERE i.headline = :t AND i.warn IS NOT NULL AND i.alarm IS NOT NULL AND v.value IS NOT NULL "
            "AND v.period = (SELECT MAX(v2.period) FROM indicator_values v2 WHERE v2.indicator_code = i.code "
            "AND v2.region_code = r.code AND v2.period > :s AND v2.period <= :p) "
            "GROUP BY i.code ORDER BY i.code",
            {"a": area, "t": True, "s": start, "p": period},
        )
        # Past the alarm threshold is past the warning one too (warn is the milder limit).
        return {
            r["code"]: {"warn": int(r["beyond_warn"]) - int(r["alarm"]), "alarm": int(r["alarm"]), "children": int(r["children"])}
            for r in rows if int(r["beyond_warn"] or 0) or int(r["alarm"] or 0)
        }

    def mode_profiles(self) -> dict[str, dict]:
        """Every operating mode's profile from the loaded catalog (``modes.csv``), by mode id."""
        with self.engine.connect() as conn:
            return alerting.mode_profiles(conn)

    def mode_state(self) -> dict:
        """The operating mode every screen shows (stored on the server): mode, since, by, source (manual |
        schedule | default), and its profile from ``modes.csv``: refresh_seconds, layers and panels to put
        first, name_zh, name_en. Before any switch the mode is 'daily' with source 'default'."""
        meta = self.meta()
        mode = meta.get("mode") or "daily"
        profiles = self.mode_profiles()
        profile = profiles.get(mode, {})
        return {
            "mode": mode,
            "since": datetime.fromisoformat(meta["mode_since"]) if meta.get("mode_since") else None,
            "by": meta.get("mode_by"),
            "source": meta.get("mode_source") or "default",
            "refresh_seconds": profile.get("refresh_seconds"),
            "layers": profile.get("layers", []),
            "panels": profile.get("panels", []),
            "name_zh": profile.get("name_zh", mode),
            "name_en": profile.get("name_en", mode),
            "modes": [{"mode": m, "name_zh": p["name_zh"], "name_en": p["name_en"]} for m, p in profiles.items()],
        }

    # ------------------------------------------------------------------ duty console
    def console_events(
        self, area: str, now: datetime, statuses: Sequence[str] = OPEN_STATUSES, severity: int | None = None,
        category: str | None = None, source: str | None = None, overdue_only: bool = False, since: datetime | None = None,
        limit: int = 200, scope: str | None = None,
    ) -> tuple[list[dict], dict[str, int]]:
        """Events of the area's subtree for the duty console, most urgent first: severe ones (I–II) before
        the rest; within each, overdue ones (still open after their due time), then by severity, then by
        time left to the due time. Returns (at most
        ``limit`` rows, {"total", "overdue"} over every matching event), counted in SQL."""
        self.check_scope(area, scope)
        statuses = [s for s in statuses if s in LIFECYCLE]
        if not statuses:
            return [], {"total": 0, "overdue": 0}
        # Statuses are checked constants inlined as literals: the open set then matches the partial index.
        late = f"(e.status IN {_OPEN} AND e.due_at IS NOT NULL AND e.due_at < :now)"
        where = ["c.ancestor_code = :a", f"e.status IN {sql_list(tuple(statuses))}"]
        params: dict[str, Any] = {"a": area, "now": to_epoch(now), "n": int(limit)}
        for col, value in (("severity", severity), ("category", category), ("source", source)):
            if value is not None:
                where.append(f"e.{col} = :{col}")
                params[col] = value
        if overdue_only:
            where.append(late)
        if since is not None:
            where.append("e.reported_at >= :since")
            params["since"] = to_epoch(since)
        # The closure join, not the area columns: open events are few, and the partial index of open
        # events per leaf finds them without reading the area's closed history.
        base = "FROM events e JOIN region_closure c ON c.descendant_code = e.region_code WHERE " + " AND ".join(where)
        with self.engine.connect() as conn:
            total, overdue = conn.execute(text(f"SELECT COUNT(*), SUM(CASE WHEN {late} THEN 1 ELSE 0 END) {base}"), params).one()
            rows = conn.execute(text(
                "SELECT e.id, e.source, e.category, e.severity, e.title, e.status, e.department, e.region_code, "
                "r.name AS region_name, r.name_en AS region_name_en, e.lon, e.lat, e.reported_at, e.due_at, "
                f"CASE WHEN {late} THEN 1 ELSE 0 END AS overdue "
                f"{base.replace('WHERE', 'JOIN regions r ON r.code = e.region_code WHERE', 1)} "
                f"ORDER BY CASE WHEN e.severity <= {SEVERE} THEN 0 ELSE 1 END, CASE WHEN {late} THEN 0 ELSE 1 END, e.severity, "
                "CASE WHEN e.due_at IS NULL THEN 1 ELSE 0 END, "
                "e.due_at, e.id LIMIT :n"
            ), params).mappings().all()
        out = [dict(r) | {"reported_at": _as_datetime(r["reported_at"]), "due_at": _as_datetime(r["due_at"]),
                          "overdue": bool(r["overdue"])} for r in rows]
        return out, {"total": int(total or 0), "overdue": int(overdue or 0)}

    def event_detail(self, event_id: int, scope: str | None = None) -> dict | None:
        """One event with its area's names and its recorded steps (oldest first); None when the event is
        unknown or lies outside ``scope``."""
        cond = "" if scope is None else " AND e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code = :s)"
        with self.engine.connect() as conn:
            row = conn.execute(text(
                "SELECT e.id, e.source, e.category, e.theme, e.severity, e.title, e.description, e.lon, e.lat, e.region_code, "
                "r.name AS region_name, r.name_en AS region_name_en, e.reported_at, e.status, e.department, e.dispatched_at, "
                "e.resolved_at, e.closed_at, e.satisfaction, e.due_at, e.external_id "
                f"FROM events e JOIN regions r ON r.code = e.region_code WHERE e.id = :i{cond}"
            ), {"i": int(event_id), "s": scope}).mappings().first()
            if row is None:
                return None
            steps = conn.execute(text(
                "SELECT at, from_status, to_status, actor, department, note FROM event_steps WHERE event_id = :i ORDER BY at, id"
            ), {"i": int(event_id)}).mappings().all()
        times = ("reported_at", "dispatched_at", "resolved_at", "closed_at", "due_at")
        out = {k: (_as_datetime(v) if k in times else v) for k, v in row.items()}
        out["steps"] = [dict(s) | {"at": _as_datetime(s["at"])} for s in steps]
        return out

    # ------------------------------------------------------------------ kiosk (video wall)
    def attention_ranking(self, area: str, limit: int = 5, scope: str | None = None) -> list[dict]:
        """The child areas of ``area`` that need attention most: open alerts in each child's subtree weighted
        by grade (``rules.ALERT_WEIGHTS``), heaviest first (then more alerts, then code); children without an
        open alert are left out. Rows: code, name, name_en, weight, open_alerts."""
        self.check_scope(area, scope)
        weight = "CASE a.severity " + " ".join(f"WHEN {int(g)} THEN {int(w)}" for g, w in ALERT_WEIGHTS.items()) + " ELSE 0 END"
        rows = self._rows(
            f"SELECT r.code, r.name, r.name_en, SUM({weight}) AS weight, COUNT(a.id) AS open_alerts "
            "FROM regions r JOIN region_closure c ON c.ancestor_code = r.code "
            "JOIN alerts a ON a.region_code = c.descendant_code AND a.cleared_at IS NULL "
            "WHERE r.parent_code = :a GROUP BY r.code, r.name, r.name_en "
            f"ORDER BY SUM({weight}) DESC, COUNT(a.id) DESC, r.code LIMIT :n",
            {"a": area, "n": int(limit)},
        )
        return [r | {"weight": int(r["weight"]), "open_alerts": int(r["open_alerts"])} for r in rows]

    def newest_severe_alert(self, area: str, scope: str | None = None) -> dict | None:
        """The newest open alert of grade I or II (``rules.SEVERE``) in the area's subtree (by start, then id),
        or None: what the wall jumps to."""
        self.check_scope(area, scope)
        rows = self._rows(
            "SELECT a.id, a.severity, a.region_code, r.name AS region_name, r.name_en AS region_name_en, a.message, "
            "a.started_at FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
            "JOIN regions r ON r.code = a.region_code "
            "WHERE c.ancestor_code = :a AND a.cleared_at IS NULL AND a.severity <= :sev "
            "ORDER BY a.started_at DESC, a.id DESC LIMIT 1",
            {"a": area, "sev": SEVERE},
        )
        return rows[0] | {"started_at": _as_datetime(rows[0]["started_at"])} if rows else None

    # ------------------------------------------------------------------ analyst workbench
    def panel_query(self, panel_id: str, filters: Any, scope: str | None = None) -> Any:
        """The query (a SQLAlchemy ``Select``) of one analyst panel (``datasources.analysis.panels.PANELS``)
        for ``filters`` (an ``AnalysisFilters``), bound to ``scope``: every chosen area is checked against
        it (ScopeError otherwise) and an open period is resolved to the data's latest months. Run it on
        ``self.engine`` (stream it, page it with ``datasources.analysis.records``)."""
        from datasources.analysis.panels import PANELS

        for area in filters.areas:
            self.check_scope(area, scope)
        return PANELS[panel_id].select(scope, self.resolve_filters(filters))

    def resolve_filters(self, filters: Any, scope: str | None = None) -> Any:
        """``filters`` with an open period filled in from the newest period holding data (see
        ``AnalysisFilters.resolved``): what the panels show and the exports describe."""
        del scope  # the latest period is the same for every caller
        return filters.resolved(self.latest_period())

    # ------------------------------------------------------------------ theme and topic pages (pages)
    def topic_panels(self) -> list[dict]:
        """The panels of every topic page as loaded with the catalog (``topic_panels.csv``), by topic and order."""
        raw = self.meta().get("topic_panels")
        return json.loads(raw) if raw else []

    def indicator_source(self, code: str, area: str, scope: str | None = None) -> dict:
        """Where an indicator's numbers come from and how fresh they are at ``area``: its rule (computed from
        events or facilities) or None (reported by its department), the newest period with a value there
        and when that value was reported."""
        self.check_scope(area, scope)
        with self.engine.connect() as conn:
            rule = conn.execute(text(
                "SELECT measure, sources, categories, facility_kind, attribute FROM indicator_rules WHERE indicator_code = :c"
            ), {"c": code}).mappings().first()
            latest = conn.execute(text(
                "SELECT period, reported_at FROM indicator_values WHERE indicator_code = :c AND region_code = :a "
                "AND value IS NOT NULL ORDER BY period DESC LIMIT 1"
            ), {"c": code, "a": area}).first()
        return {
            "rule": dict(rule) if rule else None,
            "period": _as_date(latest[0]) if latest else None,
            "reported_at": _as_datetime(latest[1]) if latest else None,
        }

    def event_breakdown(
        self, area: str, start: date, end: date, categories: Sequence[str] = (), scope: str | None = None
    ) -> dict:
        """Events reported in whole months ``[start, end)`` in the area's subtree (of ``categories``; empty =
        all), from the monthly roll-up: totals by source and by category, done (resolved or closed), rated and
        rated satisfied (score >= 4)."""
        self.check_scope(area, scope)
        cond, params = "", {"a": area, "s": start, "e": end}
        if categories:
            cond, params["cats"] = "AND category IN :cats", list(categories)
        stmt = text(
            f"SELECT source, category, SUM(n) AS n, SUM(CASE WHEN status IN {_DONE} THEN n ELSE 0 END) AS done, "
            "SUM(n_rated) AS rated, SUM(n_satisfied) AS satisfied FROM event_monthly "
            f"WHERE region_code = :a AND month >= :s AND month < :e {cond} GROUP BY source, category"
        )
        if categories:
            stmt = stmt.bindparams(bindparam("cats", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, params).mappings().all()
        out: dict = {"by_source": {}, "by_category": {}, "total": 0, "done": 0, "rated": 0, "satisfied": 0}
        for r in rows:
            n = int(r["n"] or 0)
            out["by_source"][r["source"]] = out["by_source"].get(r["source"], 0) + n
            out["by_category"][r["category"]] = out["by_category"].get(r["category"], 0) + n
            out["total"] += n
            for k in ("done", "rated", "satisfied"):
                out[k] += int(r[k] or 0)
        return out

    def open_overdue(self, area: str, now: datetime, categories: Sequence[str] = (), scope: str | None = None) -> dict:
        """Events of the area's subtree (of ``categories``; empty = all) open now, and of those the overdue
        ones (past their due time)."""
        self.check_scope(area, scope)
        cond, params = "", {"a": area, "now": to_epoch(now)}
        if categories:
            cond, params["cats"] = "AND e.category IN :cats", list(categories)
        stmt = text(
            "SELECT COUNT(*) AS open, SUM(CASE WHEN e.due_at IS NOT NULL AND e.due_at < :now THEN 1 ELSE 0 END) AS overdue "
            "FROM events e JOIN region_closure c ON c.descendant_code = e.region_code "
            f"WHERE c.ancestor_code = :a AND e.{OPEN_EVENTS_SQL} {cond}"
        )
        if categories:
            stmt = stmt.bindparams(bindparam("cats", expanding=True))
        with self.engine.connect() as conn:
            r = conn.execute(stmt, params).mappings().one()
        return {"open": int(r["open"] or 0), "overdue": int(r["overdue"] or 0)}

    def event_list(
        self, area: str, start: date, end: date, categories: Sequence[str] = (), limit: int = 12, scope: str | None = None
    ) -> list[dict]:
        """Events of the area's subtree (of ``categories``; empty = all) for a list: the open ones first, most
        severe then newest, then the newest of those reported in ``[start, end)``; at most ``limit`` rows."""
        self.check_scope(area, scope)
        params: dict[str, Any] = {"a": area, "n": int(limit), "s": _to_datetime(start), "e": _to_datetime(end)}
        cond = ""
        if categories:
            cond, params["cats"] = "AND e.category IN :cats", list(categories)
        cols = ("SELECT e.id, e.source, e.category, e.severity, e.title, e.status, e.reported_at, e.due_at, r.name AS region_name, "
                "r.name_en AS region_name_en FROM events e JOIN regions r ON r.code = e.region_code ")

        def run(conn, sql: str) -> list[dict]:  # noqa: ANN001
            stmt = text(sql)
            if categories:
                stmt = stmt.bindparams(bindparam("cats", expanding=True))
            return [dict(r) for r in conn.execute(stmt, params).mappings()]

        with self.engine.connect() as conn:
            open_rows = run(conn, cols + "JOIN region_closure c ON c.descendant_code = e.region_code "
                            f"WHERE c.ancestor_code = :a AND e.{OPEN_EVENTS_SQL} {cond} ORDER BY e.severity, e.reported_at DESC, e.id DESC LIMIT :n")
            recent = run(conn, cols + f"WHERE {self._in_area(conn, area)} AND e.reported_at >= :s AND e.reported_at < :e {cond} "
                         "ORDER BY e.reported_at DESC, e.id DESC LIMIT :n")
        seen = {r["id"] for r in open_rows}
        rows = (open_rows + [r for r in recent if r["id"] not in seen])[: int(limit)]
        return [r | {"reported_at": _as_datetime(r["reported_at"]), "due_at": _as_datetime(r["due_at"])} for r in rows]

    def _json_number(self, column: str, key: str) -> str:
        """SQL of a number stored under ``key`` in a JSON text column, on SQLite and on PostgreSQL."""
        if not key.isidentifier():
            raise ValueError(f"parameter 'key' must be an attribute name, not {key!r}")
        if self.engine.dialect.name == "postgresql":
            return (f"(CASE WHEN jsonb_typeof(({column})::jsonb -> '{key}') = 'number' "
                    f"THEN (({column})::jsonb ->> '{key}')::double precision END)")
        return f"(CASE WHEN json_type({column}, '$.{key}') IN ('integer', 'real') THEN json_extract({column}, '$.{key}') END)"

    def facility_table(
        self, area: str, kinds: Sequence[str], sum_keys: Sequence[str] = (), limit: int = 200, scope: str | None = None
    ) -> dict:
        """Facilities of ``kinds`` in the area's subtree for a table: ``count``; per numeric attribute of
        ``sum_keys``, over all of them (in SQL), ``stats[key]`` = {n: facilities with a number there, sum,
        positive: how many are above 0}; and at most ``limit`` rows (id, kind, name, region, attributes
        parsed, live, since), by kind and name."""
        self.check_scope(area, scope)
        kinds = list(kinds)
        if not kinds:
            return {"count": 0, "stats": {}, "rows": []}
        base = ("FROM facilities f JOIN region_closure c ON c.descendant_code = f.region_code "
                "JOIN regions r ON r.code = f.region_code WHERE c.ancestor_code = :a AND f.kind IN :kinds")
        sums = ", ".join(
            f"SUM({x}) AS s{i}, COUNT({x}) AS n{i}, SUM(CASE WHEN {x} > 0 THEN 1 ELSE 0 END) AS p{i}"
            for i, x in enumerate(self._json_number("f.attributes", k) for k in sum_keys)
        )
        params = {"a": area, "kinds": kinds, "n": int(limit)}
        with self.engine.connect() as conn:
            agg = conn.execute(text(f"SELECT COUNT(*) AS n{', ' + sums if sums else ''} {base}").bindparams(
                bindparam("kinds", expanding=True)), params).mappings().one()
            rows = conn.execute(text(
                f"SELECT f.id, f.kind, f.name, f.attributes, f.live, f.since, f.lon, f.lat, r.name AS region_name, "
                f"r.name_en AS region_name_en {base} ORDER BY f.kind, f.name, f.id LIMIT :n"
            ).bindparams(bindparam("kinds", expanding=True)), params).mappings().all()
        return {
            "count": int(agg["n"] or 0),
            "stats": {k: {"n": int(agg[f"n{i}"] or 0), "sum": float(agg[f"s{i}"] or 0), "positive": int(agg[f"p{i}"] or 0)}
                      for i, k in enumerate(sum_keys)},
            "rows": [dict(r) | {"attributes": json.loads(r["attributes"] or "{}"), "since": _as_date(r["since"])} for r in rows],
        }

    def latest_readings(
        self, area: str, kinds: Sequence[str], metric: str, limit: int = 200, scope: str | None = None
    ) -> list[dict]:
        """The newest reading of ``metric`` at every station of ``kinds`` in the area's subtree, highest
        first: id, name, region, attributes (parsed), value, ts."""
        self.check_scope(area, scope)
        if not kinds:
            return []
        stmt = text(
            "SELECT f.id, f.name, f.attributes, r.name AS region_name, r.name_en AS region_name_en, rd.value, rd.ts "
            "FROM facilities f JOIN region_closure c ON c.descendant_code = f.region_code "
            "JOIN regions r ON r.code = f.region_code "
            "JOIN readings rd ON rd.facility_id = f.id AND rd.metric = :m "
            "AND rd.ts = (SELECT MAX(x.ts) FROM readings x WHERE x.facility_id = f.id AND x.metric = :m) "
            "WHERE c.ancestor_code = :a AND f.kind IN :kinds ORDER BY rd.value DESC, f.id LIMIT :n"
        ).bindparams(bindparam("kinds", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, {"a": area, "kinds": list(kinds), "m": metric, "n": int(limit)}).mappings().all()
        return [dict(r) | {"attributes": json.loads(r["attributes"] or "{}"), "ts": _as_datetime(r["ts"])} for r in rows]

    def reading_series(
        self, area: str, kinds: Sequence[str], metric: str, since: datetime, scope: str | None = None
    ) -> list[dict]:
        """Mean and maximum of ``metric`` over the stations of ``kinds`` in the area's subtree, per reading
        time from ``since`` on, oldest first (the short chart under the station list)."""
        self.check_scope(area, scope)
        if not kinds:
            return []
        stmt = text(
            "SELECT rd.ts, AVG(rd.value) AS mean, MAX(rd.value) AS max FROM readings rd "
            "JOIN facilities f ON f.id = rd.facility_id JOIN region_closure c ON c.descendant_code = f.region_code "
            "WHERE c.ancestor_code = :a AND f.kind IN :kinds AND rd.metric = :m AND rd.ts >= :s GROUP BY rd.ts ORDER BY rd.ts"
        ).bindparams(bindparam("kinds", expanding=True))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt, {"a": area, "kinds": list(kinds), "m": metric, "s": to_epoch(since)}).all()
        return [{"ts": _as_datetime(ts), "mean": float(mean), "max": float(mx)} for ts, mean, mx in rows]

    def data_as_of(self) -> datetime | None:
        """Time of the newest event or reading: what 'data as of' shows."""
        return _as_datetime(self._scalar("SELECT MAX(reported_at) FROM events"))


#: Repository methods that take no area and reveal nothing about one: open to any scoped caller.
UNSCOPED_METHODS = frozenset({
    "meta", "data_version", "level_names", "pages", "indicators", "latest_period", "periods", "data_as_of", "mode_state",
    "mode_profiles", "topic_panels",
})


class ScopedRepository:
    """The read path of one caller: every method that takes a ``scope`` gets the caller's, ``root_code``
    is the scope's top, and anything not known to be safe (a new method without ``scope``) is refused
    rather than served unscoped."""

    def __init__(self, repo: Repository, scope: str | None):
        self.unscoped = repo
        self.scope = scope

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self.unscoped, name)
        if name in UNSCOPED_METHODS:
            return attr
        if callable(attr) and "scope" in inspect.signature(attr).parameters:
            return functools.partial(attr, scope=self.scope)
        raise AttributeError(f"Repository.{name} takes no scope: add one, or list it in UNSCOPED_METHODS")


def _is_month_start(d: date | datetime) -> bool:
    if isinstance(d, datetime):
        return d.day == 1 and d.time() == datetime.min.time()
    return d.day == 1


def _to_datetime(d: date | datetime) -> int:
    """A date or datetime bound against a timestamp column: epoch seconds."""
    return to_epoch(d if isinstance(d, datetime) else datetime(d.year, d.month, d.day))


__all__ = ["Kpi", "Repository", "ScopeError", "ScopedRepository"]
