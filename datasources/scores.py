"""Composite scores in SQL (method: docs/SCORES.md; the rule itself: ``datasources.rules``).

Every theme has a 0–100 score per area and period: the mean of the points of the theme's indicators that
have thresholds (``warn``/``alarm`` in the catalog), each scored by ``rules.indicator_points`` on the area's
own value (rolled up like every other value of the area). The overall score is the mean of the theme
scores. Indicators without thresholds are left out; an indicator without a current value (none in the
period, or only one older than its frequency allows) does not count either way and is reported as missing.

One query scores every child of an area (all themes and the overall score); another lists one area's
indicator points, from which ``score_explanation`` tells what pulls a score down.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import Connection, text

from datasources.rules import (
    ALLOWED_LAG_MONTHS,
    SCORE_KNOTS,
    SCORE_MAX,
    composite_scores,
    month_floor,
    points_lost,
    threshold_status,
)

#: Pseudo-indicator codes of the scores, usable wherever an indicator code is (map, URL): ``score.overall``
#: and ``score.<theme>``.
SCORE_PREFIX = "score."
OVERALL = "overall"


def score_code(key: str) -> str:
    """The pseudo-indicator code of a score key ('overall' or a theme id)."""
    return SCORE_PREFIX + key


def score_key(code: str | None) -> str | None:
    """The score key of a pseudo-indicator code (``score.economy`` -> 'economy'), None for other codes."""
    if isinstance(code, str) and code.startswith(SCORE_PREFIX) and len(code) > len(SCORE_PREFIX):
        return code[len(SCORE_PREFIX):]
    return None


def points_sql(d: str) -> str:
    """SQL for ``rules.points_at`` on the distance expression ``d`` (NULL stays NULL), from ``SCORE_KNOTS``."""
    (d0, p0), pn = SCORE_KNOTS[0], SCORE_KNOTS[-1][1]
    whens = [f"WHEN {d} IS NULL THEN NULL", f"WHEN {d} <= {d0!r} THEN {p0!r}"]
    for (da, pa), (db, pb) in zip(SCORE_KNOTS, SCORE_KNOTS[1:], strict=False):
        whens.append(f"WHEN {d} <= {db!r} THEN {pa!r} + {(pb - pa) / (db - da)!r} * ({d} - {da!r})")
    return "CASE " + " ".join(whens) + f" ELSE {pn!r} END"


def _cutoffs(period: date) -> tuple[str, dict[str, date]]:
    """SQL choosing the oldest period a value of the indicator ``a`` may have to count at ``period`` (its
    frequency's allowed lag, as ``rules.is_stale``), and the dates it binds."""
    params = {f"cut_{f}": period - relativedelta(months=lag) for f, lag in ALLOWED_LAG_MONTHS.items()}
    params["cut_other"] = period - relativedelta(months=1)  # unknown frequencies count as monthly
    whens = " ".join(f"WHEN '{f}' THEN :cut_{f}" for f in ALLOWED_LAG_MONTHS)
    return f"CASE a.frequency {whens} ELSE :cut_other END", params


def _points_ctes(members: str) -> str:
    """CTEs ``m`` (the scored areas: regions ``r`` matching ``members``), ``app`` (every indicator with
    thresholds that exists at an area's level), ``lat`` (the period of its newest value within the allowed
    lag) and ``pts``
    (area, indicator, theme, value, period, points)."""
    sign = "CASE WHEN a.polarity < 0 THEN -1.0 ELSE 1.0 END"
    distance = f"(l.value - a.warn) * {sign} / ABS(a.warn - a.alarm)"
    cut_sql = "{cut}"  # filled by the caller with the frequency cut-offs
    return (
        f"WITH m AS (SELECT r.code, r.level FROM regions r WHERE {members}), "
        "app AS (SELECT m.code AS region_code, i.code AS indicator_code, i.theme, i.polarity, i.warn, i.alarm, i.frequency "
        "FROM m JOIN indicators i ON i.level >= m.level AND i.warn IS NOT NULL AND i.alarm IS NOT NULL), "
        # The newest value of each pair: a seek on the primary key (indicator, region, period) per pair.
        "lat AS (SELECT a.*, (SELECT MAX(v.period) FROM indicator_values v "
        "WHERE v.indicator_code = a.indicator_code AND v.region_code = a.region_code AND v.value IS NOT NULL "
        f"AND v.period <= :p AND v.period >= {cut_sql}) AS period FROM app a), "
        "pts AS (SELECT a.region_code, a.indicator_code, a.theme, l.value, l.period, "
        f"CASE WHEN l.value IS NULL THEN NULL WHEN a.warn = a.alarm THEN "
        f"CASE WHEN (l.value - a.warn) * {sign} >= 0 THEN {SCORE_MAX!r} ELSE 0.0 END "
        f"ELSE {points_sql(distance)} END AS points "
        "FROM lat a LEFT JOIN indicator_values l ON l.indicator_code = a.indicator_code AND l.region_code = a.region_code "
        "AND l.period = a.period) "
    )


def _run(conn: Connection, sql: str, period: date, params: dict[str, Any]) -> list[dict]:
    cut, cut_params = _cutoffs(period)
    stmt = text(sql.replace("{cut}", cut))
    return [dict(r) for r in conn.execute(stmt, params | cut_params | {"p": period}).mappings()]


def _members(conn: Connection, area: str, children: bool) -> str:
    """The areas scored for ``area``: its children (when it has any and ``children`` is asked) or itself."""
    if children and conn.execute(text("SELECT 1 FROM regions WHERE parent_code = :a LIMIT 1"), {"a": area}).first():
        return "r.parent_code = :area"
    return "r.code = :area"


def area_scores(conn: Connection, area: str, period: date, children: bool = True) -> list[dict]:
    """Scores of every child of ``area`` (or of the area itself when it has no child, or ``children`` is
    False), in one query: rows ``{code, name, name_en, scores: {key: score}, counts: {key: [n, n_all]}}``
    ordered by code, where key is 'overall' or a theme id, ``n`` the indicators (themes, for 'overall') with
    data and ``n_all`` those that apply at the area's level. A key without any applicable indicator is absent."""
    period = month_floor(period)
    sql = _points_ctes(_members(conn, area, children)) + (
        ", th AS (SELECT region_code, theme AS k, AVG(points) AS score, COUNT(points) AS n, COUNT(*) AS n_all "
        "FROM pts GROUP BY region_code, theme), "
        f"s AS (SELECT region_code, k, score, n, n_all FROM th UNION ALL SELECT region_code, '{OVERALL}' AS k, "
        "AVG(score) AS score, COUNT(score) AS n, COUNT(*) AS n_all FROM th GROUP BY region_code) "
        "SELECT r.code, r.name, r.name_en, s.k, s.score, s.n, s.n_all FROM m JOIN regions r ON r.code = m.code "
        "LEFT JOIN s ON s.region_code = m.code ORDER BY r.code, s.k"
    )
    out: dict[str, dict] = {}
    for row in _run(conn, sql, period, {"area": area}):
        entry = out.setdefault(row["code"], {"code": row["code"], "name": row["name"], "name_en": row["name_en"],
                                             "scores": {}, "counts": {}})
        if row["k"] is not None:
            entry["scores"][row["k"]] = None if row["score"] is None else float(row["score"])
            entry["counts"][row["k"]] = [int(row["n"]), int(row["n_all"])]
    return list(out.values())


def indicator_points(conn: Connection, area: str, period: date) -> list[dict]:
    """Every indicator with thresholds that applies to ``area`` with its current value and points (None
    without data), ordered by theme and code: the rows a score is made of."""
    period = month_floor(period)
    sql = _points_ctes("r.code = :area") + (
        "SELECT p.indicator_code AS code, i.name_zh, i.name_en, i.theme, i.unit, i.unit_en, i.polarity, i.warn, "
        "i.alarm, p.value, p.period, p.points FROM pts p JOIN indicators i ON i.code = p.indicator_code "
        "ORDER BY i.theme, i.code"
    )
    rows = _run(conn, sql, period, {"area": area})
    for r in rows:
        r["period"] = None if r["period"] is None else date.fromisoformat(str(r["period"])[:10])
        r["points"] = None if r["points"] is None else float(r["points"])
    return rows


def score_explanation(key: str, points: Sequence[dict], children: Sequence[dict], limit: int = 3) -> dict:
    """What pulls the ``key`` score ('overall' or a theme id) of an area down, as data (for the cockpit, the
    theme pages, the API and exports alike), from the area's ``points`` (``indicator_points``) and its
    children's scores (``area_scores``):

    - ``score``: the area's score; ``n_scored`` / ``n_applicable``: indicators with data / that apply;
    - ``indicators``: those that cost the score points, largest loss first (``lost``: points taken off the
      score, see ``rules.points_lost``; they add up to 100 - score), at most ``limit``, each with its value,
      thresholds, status and points;
    - ``missing``: codes of the applicable indicators without a current value;
    - ``children``: the children scoring below the area, lowest first, at most ``limit`` (all children,
      lowest first, when the area itself has no score).
    """
    rows = [r for r in points if key == OVERALL or r["theme"] == key]
    by_theme: dict[str, list[float | None]] = {}
    for r in rows:
        by_theme.setdefault(r["theme"], []).append(r["points"])
    scores = composite_scores(by_theme)
    score = scores.get(key) if key in scores else None
    n_themes = sum(1 for t in by_theme if scores[t] is not None) if key == OVERALL else 1
    losses = []
    for r in rows:
        if r["points"] is None or r["points"] >= SCORE_MAX:
            continue
        n_in_theme = sum(1 for p in by_theme[r["theme"]] if p is not None)
        losses.append(r | {"lost": points_lost(r["points"], n_in_theme, n_themes),
                           "status": threshold_status(r["value"], r["polarity"], r["warn"], r["alarm"])})
    losses.sort(key=lambda r: (-r["lost"], r["code"]))
    scored = [c | {"score": c["scores"].get(key)} for c in children if c["scores"].get(key) is not None]
    below = [c for c in scored if score is None or c["score"] < score]
    below.sort(key=lambda c: (c["score"], c["code"]))
    return {
        "key": key,
        "score": score,
        "n_scored": sum(1 for r in rows if r["points"] is not None),
        "n_applicable": len(rows),
        "indicators": losses[:limit],
        "missing": [r["code"] for r in rows if r["points"] is None],
        "children": [{k: c[k] for k in ("code", "name", "name_en", "score")} for c in below[:limit]],
    }
