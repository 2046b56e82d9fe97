"""Repository results equal an independent pandas computation on the same database (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import text

from datasources import db
from datasources.ingest import Writer
from datasources.repository import Repository, ScopeError
from tests.conftest import AS_OF


@pytest.fixture
def repo(mini_url) -> Repository:
    return Repository(db.make_engine(mini_url))


def _frame(repo: Repository, sql: str) -> pd.DataFrame:
    with repo.engine.connect() as conn:
        return pd.DataFrame(conn.execute(text(sql)).mappings().all())


def _leaves_under(repo: Repository, area: str) -> set[str]:
    """Subtree by walking parent_code in pandas (independent of the closure table)."""
    regions = _frame(repo, "SELECT code, parent_code FROM regions")
    found, frontier = {area}, {area}
    while frontier:
        frontier = set(regions.loc[regions["parent_code"].isin(frontier), "code"])
        found |= frontier
    return found


def _a_township(repo: Repository) -> str:
    return repo.children(repo.root_code())[1]["code"]


def test_kpi_values_equal_latest_previous_and_last_year_from_raw_rows(repo):
    area, period = _a_township(repo), repo.periods()[0]
    values = _frame(repo, f"SELECT indicator_code, period, value FROM indicator_values WHERE region_code = '{area}'")
    values["period"] = pd.to_datetime(values["period"]).dt.date
    kpis = repo.kpi_values(area, period)
    assert kpis, "headline KPIs expected"
    for k in kpis:
        series = values[(values.indicator_code == k.code) & (values.period <= period)].sort_values("period")
        if series.empty:
            assert k.value is None
            continue
        latest = series.iloc[-1]
        assert k.period == latest.period and k.value == pytest.approx(latest.value)
        assert k.previous == (pytest.approx(series.iloc[-2].value) if len(series) > 1 else None)
        year_ago = series[series.period == latest.period - relativedelta(years=1)]
        assert k.last_year == (pytest.approx(year_ago.iloc[0].value) if len(year_ago) else None)


def test_child_values_rank_children_by_polarity_like_pandas(repo):
    root, period = repo.root_code(), repo.periods()[0]
    ind = next(i for i in repo.indicators() if i["level"] == 2 and i["headline"])
    rows = repo.child_values(ind["code"], root, period)
    raw = _frame(repo, f"SELECT region_code, value FROM indicator_values WHERE indicator_code = '{ind['code']}' "
                       f"AND period = '{period.isoformat()}'")
    children = {c["code"] for c in repo.children(root)}
    expected = raw[raw.region_code.isin(children)].set_index("region_code")["value"]
    assert {r["code"] for r in rows} == children
    for r in rows:
        assert r["value"] == pytest.approx(expected[r["code"]])
    ranks = (expected * ind["polarity"]).rank(ascending=False, method="min")
    assert {r["code"]: r["rank"] for r in rows} == {c: int(v) for c, v in ranks.items()}


def test_event_counts_match_pandas_for_month_windows_and_arbitrary_windows(repo):
    area = _a_township(repo)
    subtree = _leaves_under(repo, area)
    events = _frame(repo, "SELECT region_code, status, source, severity, category, reported_at FROM events")
    events["reported_at"] = pd.to_datetime(events["reported_at"], unit="s")  # stored as epoch seconds
    mine = events[events.region_code.isin(subtree)]
    month = repo.periods()[2]
    windows = [
        (month, month + relativedelta(months=1)),  # served by the monthly roll-up
        (datetime(month.year, month.month, 3, 7, 30), datetime(month.year, month.month, 19, 12)),  # raw events
    ]
    for start, end in windows:
        sel = mine[(mine.reported_at >= pd.Timestamp(start)) & (mine.reported_at < pd.Timestamp(end))]
        for by in ("status", "source", "severity", "category"):
            assert repo.event_counts(area, start, end, by) == {k: int(v) for k, v in sel.groupby(by).size().items()}, by


def test_event_density_cells_add_up_to_the_event_count(repo):
    root, month = repo.root_code(), repo.periods()[0]
    cells = repo.event_density(root, month, month + relativedelta(months=1), 0.02)
    total = sum(repo.event_counts(root, month, month + relativedelta(months=1), "status").values())
    assert sum(c["n"] for c in cells) == total > 0


def test_time_series_returns_every_month_in_order(repo):
    ind = next(i for i in repo.indicators() if i["frequency"] == "monthly")
    periods = sorted(repo.periods())
    series = repo.time_series(ind["code"], repo.root_code(), periods[0], periods[-1])
    assert [p["period"] for p in series] == sorted(p["period"] for p in series)
    assert len(series) >= 30


def test_scope_limits_every_query_to_the_callers_subtree(repo):
    root = repo.root_code()
    t1, t2 = (c["code"] for c in repo.children(root)[:2])
    period = repo.periods()[0]
    assert repo.kpi_values(t1, period, scope=t1)
    with pytest.raises(ScopeError):
        repo.kpi_values(t2, period, scope=t1)
    with pytest.raises(ScopeError):
        repo.event_counts(root, period, period + relativedelta(months=1), scope=t1)
    with pytest.raises(ScopeError):
        repo.region("no-such-area")
    assert [a["code"] for a in repo.ancestors(t1, scope=t1)] == [t1]


def test_event_counts_reject_unknown_dimension_naming_the_parameter(repo):
    with pytest.raises(ValueError, match="parameter 'by'"):
        repo.event_counts(repo.root_code(), date(2026, 1, 1), date(2026, 2, 1), by="colour")


def test_every_write_bumps_the_data_version_once(repo):
    before = repo.data_version()
    with Writer(repo.engine, clock=lambda: AS_OF).batch() as batch:
        batch.rebuild()
        batch.rebuild()
    assert repo.data_version() == before + 1


def test_event_count_indicators_equal_the_events_table(repo):
    """The demands KPI and the event panel tell the same story: counts come from the events."""
    township = _a_township(repo)
    last_full = repo.periods()[1]
    kpi = repo.kpi_values(township, repo.periods()[0], codes=["gov_citizen_demands", "gov_hotline_demands"])
    by_source = repo.event_counts(township, last_full, last_full + relativedelta(months=1), "source")
    assert kpi[0].period == last_full  # the running month is not published yet
    assert kpi[0].value == sum(by_source.get(s, 0) for s in ("hotline", "city_management", "grid"))
    assert kpi[1].value == by_source.get("hotline", 0)
