"""Every analyst panel's query equals an independent hand-written SQL query of the fixture database, for
several filter combinations, on SQLite and PostgreSQL; a township user's panels hold only its township.

The expected numbers come from raw tables (``events``, ``indicator_values``) with plain SQL and a little
Python (grouping a few rows), never from the panels' own code or the event roll-up."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime

import pandas as pd
import pytest
from sqlalchemy import bindparam, text

from datasources import db
from datasources.analysis.filters import AnalysisFilters
from datasources.analysis.panels import PANELS
from datasources.models import to_epoch
from datasources.repository import Repository, ScopeError

TOWNS = ("510182001", "510182002", "510182003", "510182004")

COMBOS = {
    "defaults": {},
    "one_town_quarters_mom": {"areas": TOWNS[0], "ind": "eco_4g_coverage,eco_5g_base_stations", "gran": "quarter",
                              "cmp": "mom", "src": "hotline", "sev": "1,2,3"},
    "two_towns_theme_range": {"areas": f"{TOWNS[1]},{TOWNS[2]}", "theme": "environment", "status": "closed,resolved",
                              "from": "2025-06", "to": "2025-11", "cmp": "range", "cmp_from": "2024-06", "cmp_to": "2024-11"},
    "years_category_yoy": {"gran": "year", "from": "2025-01", "to": "2026-12", "src": "grid", "cat": "sanitation,fire_risk",
                           "ind": "env_aqi,env_pm25"},
}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def repo(request):
    url = request.getfixturevalue("mini_sqlite" if request.param == "sqlite" else "mini_pg")
    engine = db.make_engine(url)
    yield Repository(engine)
    engine.dispose()


def _q(repo: Repository, sql: str, params: dict, expanding: tuple[str, ...] = ()) -> list[dict]:
    stmt = text(sql)
    if expanding:
        stmt = stmt.bindparams(*[bindparam(k, expanding=True) for k in expanding])
    with repo.engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt, params).mappings()]


def _panel(repo: Repository, panel: str, f: AnalysisFilters, scope: str | None = None) -> pd.DataFrame:
    with repo.engine.connect() as conn:
        df = pd.read_sql(repo.panel_query(panel, f, scope), conn)
    assert tuple(df.columns) == PANELS[panel].keys
    return df


def _day(v) -> str:  # noqa: ANN001
    return str(v)[:10]


def _subtree(repo: Repository, areas: list[str]) -> set[str]:
    rows = _q(repo, "SELECT descendant_code AS c FROM region_closure WHERE ancestor_code IN :a", {"a": areas}, ("a",))
    return {r["c"] for r in rows}


def _tops(repo: Repository, f: AnalysisFilters, scope: str | None) -> list[str]:
    """The chosen areas without those inside another chosen one; else the caller's top area."""
    if not f.areas:
        return [scope or repo.root_code()]
    return [a for a in f.areas if not any(b != a and a in _subtree(repo, [b]) for b in f.areas)]


def _members(repo: Repository, f: AnalysisFilters, scope: str | None) -> list[str]:
    if len(f.areas) > 1:
        return sorted(_tops(repo, f, scope))
    parent = f.areas[0] if f.areas else (scope or repo.root_code())
    kids = [r["code"] for r in _q(repo, "SELECT code FROM regions WHERE parent_code = :p ORDER BY code", {"p": parent})]
    return kids or [parent]


def _indicator_codes(repo: Repository, f: AnalysisFilters) -> list[str]:
    if f.indicators:
        return list(f.indicators)
    if f.theme:
        return [r["code"] for r in _q(repo, "SELECT code FROM indicators WHERE theme = :t", {"t": f.theme})]
    return [r["code"] for r in _q(repo, "SELECT code, headline FROM indicators", {}) if r["headline"]]


def _agg(repo: Repository) -> dict[str, tuple[str, int]]:
    return {r["code"]: (r["aggregation"], r["polarity"]) for r in _q(repo, "SELECT code, aggregation, polarity FROM indicators", {})}


def _combine(values: list[float], aggregation: str) -> float | None:
    values = [v for v in values if v is not None]
    if not values:
        return None
    return sum(values) if aggregation == "sum" else sum(values) / len(values)


def _values(repo: Repository, codes: list[str], regions: list[str], start: date | None, end: date | None) -> list[dict]:
    if not codes or not regions:
        return []
    rows = _q(repo, "SELECT indicator_code, region_code, period, value FROM indicator_values "
                    "WHERE indicator_code IN :i AND region_code IN :r", {"i": codes, "r": regions}, ("i", "r"))
    rows = [r | {"period": _day(r["period"])} for r in rows]
    return [r for r in rows if (start is None or r["period"] >= start.isoformat()) and (end is None or r["period"] < end.isoformat())]


def _event_where(f: AnalysisFilters) -> tuple[str, dict, tuple[str, ...]]:
    cond, params, exp = [], {}, []
    for col, values in (("source", f.sources), ("category", f.categories), ("status", f.statuses), ("severity", f.severities)):
        if values:
            cond.append(f"e.{col} IN :{col}")
            params[col] = list(values)
            exp.append(col)
    return "".join(f" AND {c}" for c in cond), params, tuple(exp)


def _ts(d: date) -> int:
    return to_epoch(datetime(d.year, d.month, d.day))


def _raw_event_counts(repo: Repository, f: AnalysisFilters, regions: list[str], start: date, end: date, by: str) -> dict:
    where, params, exp = _event_where(f)
    rows = _q(repo, f"SELECT {by} AS k, COUNT(*) AS n FROM events e WHERE e.region_code IN :regions "
                    f"AND e.reported_at >= :s AND e.reported_at < :e{where} GROUP BY {by}",
              params | {"regions": regions, "s": _ts(start), "e": _ts(end)}, ("regions", *exp))
    return {r["k"]: int(r["n"]) for r in rows}


@pytest.fixture(params=list(COMBOS))
def filters(request, repo) -> AnalysisFilters:
    return repo.resolve_filters(AnalysisFilters.from_query(COMBOS[request.param]))


# ---------------------------------------------------------------------------------------------- records


def test_event_records_equal_independent_sql(repo, filters):
    start, end = filters.window()
    where, params, exp = _event_where(filters)
    areas = list(filters.areas) or [repo.root_code()]
    expected = _q(repo, "SELECT e.id, e.category, e.status, e.severity, e.source, e.region_code FROM events e "
                        "WHERE e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code IN :areas) "
                        f"AND e.reported_at >= :s AND e.reported_at < :e{where} ORDER BY e.reported_at DESC, e.id DESC",
                  params | {"areas": areas, "s": _ts(start), "e": _ts(end)}, ("areas", *exp))
    got = _panel(repo, "events", filters)
    assert len(expected) > 0
    assert got[["id", "category", "status", "severity", "source", "region_code"]].to_dict("records") == expected
    with repo.engine.connect() as conn:
        assert conn.execute(PANELS["events"].count(None, filters)).scalar_one() == len(expected)


def test_value_records_equal_independent_sql(repo, filters):
    start, end = filters.window()
    codes = _indicator_codes(repo, filters)
    regions = sorted(_subtree(repo, list(filters.areas) or [repo.root_code()]))
    expected = _values(repo, codes, regions, start, end)
    levels = {r["code"]: r["level"] for r in _q(repo, "SELECT code, level FROM regions", {})}
    expected.sort(key=lambda r: (r["indicator_code"], levels[r["region_code"]], r["region_code"], r["period"]))
    got = _panel(repo, "values", filters)
    assert len(expected) > 0
    assert [(r["indicator_code"], r["region_code"], _day(r["period"]), r["value"]) for r in got.to_dict("records")] == [
        (r["indicator_code"], r["region_code"], r["period"], pytest.approx(r["value"])) for r in expected]


# ---------------------------------------------------------------------------------------------- comparisons


def _bucket(period: str, granularity: str) -> str:
    y, m = int(period[:4]), int(period[5:7])
    return {"month": f"{y:04d}-{m:02d}", "quarter": f"{y:04d}-Q{(m - 1) // 3 + 1}", "year": f"{y:04d}"}[granularity]


def test_trend_equals_independent_sql(repo, filters):
    start, end = filters.window()
    aggs = _agg(repo)
    groups: dict[tuple, list] = defaultdict(list)
    for r in _values(repo, _indicator_codes(repo, filters), _tops(repo, filters, None), start, end):
        groups[(r["indicator_code"], r["region_code"], _bucket(r["period"], filters.granularity))].append(r["value"])
    expected = {k: _combine(v, aggs[k[0]][0]) for k, v in groups.items()}
    got = _panel(repo, "trend", filters)
    assert len(expected) > 0
    assert {(r["indicator_code"], r["region_code"], r["bucket"]): r["value"] for r in got.to_dict("records")} == pytest.approx(expected)
    assert list(got["indicator_code"] + got["region_code"] + got["bucket"]) == sorted(
        got["indicator_code"] + got["region_code"] + got["bucket"])


def test_comparison_equals_independent_sql(repo, filters):
    start, end = filters.window()
    c_start, c_end = filters.comparison_window()
    aggs = _agg(repo)
    codes, tops = _indicator_codes(repo, filters), _tops(repo, filters, None)
    cur, prev = defaultdict(list), defaultdict(list)
    for r in _values(repo, codes, tops, start, end):
        cur[(r["indicator_code"], r["region_code"])].append(r["value"])
    for r in _values(repo, codes, tops, c_start, c_end):
        prev[(r["indicator_code"], r["region_code"])].append(r["value"])
    got = {(r["indicator_code"], r["region_code"]): r for r in _panel(repo, "comparison", filters).to_dict("records")}
    assert set(got) == set(cur) | set(prev)
    for key, row in got.items():
        a, b = _combine(cur.get(key, []), aggs[key[0]][0]), _combine(prev.get(key, []), aggs[key[0]][0])
        assert row["current"] == pytest.approx(a) and row["previous"] == pytest.approx(b)
        if a is not None and b:
            assert row["change"] == pytest.approx((a - b) / abs(b))
        else:
            assert pd.isna(row["change"])


def _member_value(repo, filters, code, members) -> dict[str, float | None]:  # noqa: ANN001
    start, end = filters.window()
    aggregation = _agg(repo)[code][0]
    by_region = defaultdict(list)
    for r in _values(repo, [code], members, start, end):
        by_region[r["region_code"]].append(r["value"])
    return {m: _combine(by_region.get(m, []), aggregation) for m in members}


def test_ranking_equals_independent_sql(repo, filters):
    start, end = filters.window()
    members = _members(repo, filters, None)
    events = {m: sum(_raw_event_counts(repo, filters, sorted(_subtree(repo, [m])), start, end, "e.source").values()) for m in members}
    got = _panel(repo, "ranking", filters)
    assert list(got["region_code"].sort_values()) == sorted(members)
    assert dict(zip(got["region_code"], got["events"], strict=True)) == events
    code = filters.primary_indicator()
    if code is None:
        key = {m: -events[m] for m in members}
    else:
        values = _member_value(repo, filters, code, members)
        polarity = _agg(repo)[code][1]
        assert dict(zip(got["region_code"], got["value"], strict=True)) == pytest.approx(values)
        key = {m: (values[m] is None, -(values[m] or 0) * polarity, -events[m]) for m in members}
    expected_order = sorted(members, key=lambda m: (key[m], m))
    assert list(got["region_code"]) == expected_order
    assert list(got["rank"])[0] == 1


def test_scatter_equals_independent_sql(repo, filters):
    got = _panel(repo, "scatter", filters)
    if len(filters.indicators) < 2:
        assert got.empty
        return
    members = _members(repo, filters, None)
    xs = _member_value(repo, filters, filters.indicators[0], members)
    ys = _member_value(repo, filters, filters.indicators[1], members)
    assert list(got["region_code"]) == sorted(members)
    assert dict(zip(got["region_code"], got["x"], strict=True)) == pytest.approx(xs)
    assert dict(zip(got["region_code"], got["y"], strict=True)) == pytest.approx(ys)


def test_categories_equal_independent_sql(repo, filters):
    start, end = filters.window()
    c_start, c_end = filters.comparison_window()
    regions = sorted(_subtree(repo, _tops(repo, filters, None)))
    key = "e.source || ':' || e.category"
    cur = _raw_event_counts(repo, filters, regions, start, end, key)
    prev = _raw_event_counts(repo, filters, regions, c_start, c_end, key)
    got = _panel(repo, "categories", filters)
    assert len(got) > 0
    assert {f"{r['source']}:{r['category']}": (r["current"], r["previous"]) for r in got.to_dict("records")} == {
        k: (cur.get(k, 0), prev.get(k, 0)) for k in set(cur) | set(prev)}
    assert list(got["current"]) == sorted(got["current"], reverse=True)


# ---------------------------------------------------------------------------------------------- scope


@pytest.mark.parametrize("panel", list(PANELS))
def test_township_user_panels_hold_only_their_township(repo, panel):
    town, other = TOWNS[1], TOWNS[0]
    scoped = repo.scoped(town)
    f = repo.resolve_filters(AnalysisFilters.from_query({"ind": "eco_4g_coverage,eco_5g_base_stations"}))
    with repo.engine.connect() as conn:
        df = pd.read_sql(scoped.panel_query(panel, f), conn)
    inside = _subtree(repo, [town])
    if "region_code" in df:
        assert len(df) > 0
        assert set(df["region_code"]) <= inside
    if panel == "categories":  # counts of the township only
        start, end = f.window()
        own = _raw_event_counts(repo, f, sorted(inside), start, end, "e.source || ':' || e.category")
        assert {f"{r['source']}:{r['category']}": r["current"] for r in df.to_dict("records") if r["current"]} == own
    with pytest.raises(ScopeError):
        scoped.panel_query(panel, AnalysisFilters(areas=(other,)))
