"""Repository reads on the hand-made city (tests/numbers_fixture.py): every expected number is a literal
worked out by hand from the fixture's tables, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import date, datetime

import pytest
import shapely.geometry
import sqlalchemy
from sqlalchemy import event

from datasources import db
from datasources.repository import Repository, ScopeError, sql_list
from tests.numbers_fixture import A1, A2, A3, B1, B2, CITY, DATA_VERSION, GEOMETRY_VERSION, TA, TB

OCT, NOV, SEP = date(2026, 10, 1), date(2026, 11, 1), date(2026, 9, 1)
_ENGINES: dict[str, object] = {}


@pytest.fixture
def repo(numbers_url) -> Repository:
    if numbers_url not in _ENGINES:
        _ENGINES[numbers_url] = db.make_engine(numbers_url)
    return Repository(_ENGINES[numbers_url])


@contextmanager
def sql_seen(repo: Repository):
    """The SQL statements the repository sends while the block runs."""
    seen: list[str] = []

    def before(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001
        seen.append(statement)

    event.listen(repo.engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(repo.engine, "before_cursor_execute", before)


def _kpis(repo: Repository, area: str, period: date, **kw) -> dict:
    return {k.code: k for k in repo.kpi_values(area, period, **kw)}


# ---------------------------------------------------------------------------------------------- regions


def test_root_children_and_region_facts(repo):
    assert repo.root_code() == CITY
    assert repo.root_code(TB) == TB  # a scoped caller's top is its scope
    assert [(c["code"], c["population"]) for c in repo.children(TA)] == [(A1, 1000), (A2, 2000), (A3, 3000)]
    assert [c["code"] for c in repo.children(CITY)] == [TA, TB]
    assert repo.children(A1) == []
    town = repo.region(TA)
    assert (town["level"], town["parent_code"], town["n_children"], town["population"], town["area_km2"]) == (1, CITY, 3, 6000, 400.0)
    assert repo.region(TB)["n_children"] == 2
    assert repo.region(B2)["n_children"] == 0
    assert repo.bounds(TA) == pytest.approx((103.0, 31.0, 103.5, 31.5))


def test_breadcrumb_path_starts_at_the_top_the_caller_may_see(repo):
    assert [a["code"] for a in repo.ancestors(A1)] == [CITY, TA, A1]
    assert [a["level"] for a in repo.ancestors(A1)] == [0, 1, 2]
    assert [a["code"] for a in repo.ancestors(A1, scope=TA)] == [TA, A1]
    assert [a["code"] for a in repo.ancestors(TA, scope=TA)] == [TA]
    assert [a["code"] for a in repo.ancestors(CITY)] == [CITY]
    assert [a["name"] for a in repo.ancestors(B1)] == ["彭州测试市", "乙镇", "乙一社区"]


def test_scope_admits_the_subtree_and_rejects_everything_else(repo):
    repo.check_scope(A1, None)
    repo.check_scope(A1, TA)
    repo.check_scope(A1, A1)
    repo.check_scope(TA, CITY)
    for area, scope in ((A1, TB), (TA, A1), (CITY, TA), ("999", None), ("999", CITY)):
        with pytest.raises(ScopeError, match="unknown or outside scope"):
            repo.check_scope(area, scope)
    assert issubclass(ScopeError, PermissionError)
    with pytest.raises(ScopeError):
        repo.ancestors(B1, scope=TA)
    with pytest.raises(ScopeError):
        repo.region(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.bounds(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.child_at(TB, 103.8, 31.2, scope=TA)
    assert repo.region(A1, scope=TA)["code"] == A1
    with pytest.raises(ScopeError):
        repo.children(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.kpi_values(TB, OCT, scope=TA)
    with pytest.raises(ScopeError):
        repo.child_values("eco_sum", TB, OCT, scope=TA)
    with pytest.raises(ScopeError):
        repo.time_series("eco_sum", TB, OCT, OCT, scope=TA)
    with pytest.raises(ScopeError):
        repo.event_counts(CITY, OCT, NOV, scope=TA)
    with pytest.raises(ScopeError):
        repo.event_rates(TB, OCT, NOV, scope=TA)
    with pytest.raises(ScopeError):
        repo.open_event_count(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.open_events(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.event_density(TB, OCT, NOV, scope=TA)
    with pytest.raises(ScopeError):
        repo.facility_counts(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.facility_points(TB, ["camera"], scope=TA)
    with pytest.raises(ScopeError):
        repo.open_alert_count(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.recent_alerts(TB, scope=TA)
    with pytest.raises(ScopeError):
        repo.recent_events(TB, scope=TA)


def test_data_version_periods_and_as_of(repo):
    assert repo.data_version() == DATA_VERSION  # 7, as the fixture writes it
    assert repo.latest_period() == OCT
    assert repo.periods() == [
        OCT, SEP, date(2026, 8, 1), date(2026, 7, 1), date(2026, 4, 1), date(2025, 10, 1), date(2025, 7, 1),
        date(2025, 1, 1), date(2024, 1, 1),
    ]
    assert repo.data_as_of() == datetime(2026, 11, 20, 17, 30)  # event 20, the newest


# ---------------------------------------------------------------------------------------------- KPI cards


def test_city_kpis_read_value_previous_and_year_ago_from_the_rolled_up_sums(repo):
    k = _kpis(repo, CITY, OCT)
    assert list(k) == ["eco_gdp_year", "eco_sum", "env_pm25", "gov_last", "svc_wmean"]  # headlines, by theme then code
    s = k["eco_sum"]
    # 2026-10: 25 + 30 + 35 + 5 + 25 = 120; 2026-09: 5 * 20 = 100; 2025-10: 10 + 20 + 30 + 40 + 50 = 150
    assert (s.value, s.period, s.previous, s.last_year) == (120.0, OCT, 100.0, 150.0)
    assert s.change(s.previous) == pytest.approx(0.2)  # month on month: (120 - 100) / 100
    assert s.change(s.last_year) == pytest.approx(-0.2)  # year on year: (120 - 150) / 150
    assert s.status == "ok" and not s.stale  # 120 >= warn 100
    assert s.sparkline == (96.0, 100.0, 120.0)  # Aug 12+22+32+10+20 = 96; 2025-10 is not after 2025-10
    assert (s.name_zh, s.unit, s.unit_en, s.theme, s.polarity, s.frequency) == ("社零总额", "万元", "10k CNY", "economy", 1, "monthly")


def test_city_pm25_is_the_mean_of_township_means_and_its_rise_is_a_warning(repo):
    p = _kpis(repo, CITY, OCT)["env_pm25"]
    # townships 2026-10: A (20+30+40)/3 = 30, B (90+70)/2 = 80; city (30 + 80) / 2 = 55 (not 250/5 = 50)
    # 2026-09: A 40, B 30 -> 35; 2025-10: A 50, B 50 -> 50
    assert (p.value, p.previous, p.last_year) == (55.0, 35.0, 50.0)
    assert p.status == "warn"  # lower is better: 55 > warn 35, <= alarm 75
    assert p.polarity == -1
    assert p.sparkline == (35.0, 55.0)  # no August value


def test_city_vaccination_is_the_population_weighted_mean(repo):
    v = _kpis(repo, CITY, OCT)["svc_wmean"]
    # 2026-10: A (90*1000 + 84*2000 + 80*3000) / 6000 = 83; B (70*1500 + 90*500) / 2000 = 75;
    #          city (83*6000 + 75*2000) / 8000 = 81 (the plain mean of towns would be 79)
    # 2026-09: A 555000/6000 = 92.5; B 170000/2000 = 85; city (555000 + 170000)/8000 = 90.625
    assert v.value == pytest.approx(81.0) and v.previous == pytest.approx(90.625)
    assert v.last_year is None
    assert v.status == "warn"  # 81 < warn 90, >= alarm 80


def test_city_satisfaction_takes_the_most_recently_reported_child(repo):
    g = _kpis(repo, CITY, OCT)["gov_last"]
    # 2026-07: A = A1 (reported 08-02) 62; B: B1 and B2 both 08-03, the higher code B2 wins: 20;
    #          city: B (reported 08-03) is newer than A (08-02): 20
    # 2026-04: A = A2 (05-06) 65, B = B1 (05-03) 35, city = A: 65; 2025-07: A = A1 (08-05) 50, city 50
    assert (g.value, g.period, g.previous, g.last_year) == (20.0, date(2026, 7, 1), 65.0, 50.0)
    assert g.status == "alarm"  # 20 < alarm 40
    assert not g.stale  # quarterly: 3 months' lag allowed (up to 4)
    assert g.sparkline == (65.0, 20.0)  # after 2025-10: 2026-04 and 2026-07


def test_yearly_kpi_without_thresholds_is_stale_long_after_its_year(repo):
    y = _kpis(repo, CITY, OCT)["eco_gdp_year"]
    assert (y.value, y.period, y.status, y.stale) == (450.0, date(2025, 1, 1), "none", True)  # lag 21 > 14
    assert y.sparkline == ()
    fresh = _kpis(repo, CITY, date(2026, 3, 1))["eco_gdp_year"]
    # at 2026-03 the lag is 14 months, still allowed; previous and year-ago are 2024's 400
    assert (fresh.value, fresh.previous, fresh.last_year, fresh.stale) == (450.0, 400.0, 400.0, False)
    assert fresh.change(fresh.previous) == pytest.approx(0.125)  # (450 - 400) / 400
    assert _kpis(repo, CITY, date(2026, 4, 1))["eco_gdp_year"].stale  # lag 15


@pytest.mark.xfail(
    reason="kpi_values reads values only from 27 months before the selected period, so a stale yearly "
    "value loses the value before it (shown as 'MoM –' although 2024's value exists)",
    strict=True,
)
def test_stale_yearly_kpi_still_compares_with_the_year_before(repo):
    y = _kpis(repo, CITY, OCT)["eco_gdp_year"]
    assert (y.previous, y.last_year) == (400.0, 400.0)


def test_township_kpis_have_their_own_status(repo):
    a, b = _kpis(repo, TA, OCT), _kpis(repo, TB, OCT)
    # Town A eco_sum: 25 + 30 + 35 = 90 (warn: < 100, >= 50); before 20*3 = 60; 2025-10: 10+20+30 = 60
    assert (a["eco_sum"].value, a["eco_sum"].previous, a["eco_sum"].last_year, a["eco_sum"].status) == (90.0, 60.0, 60.0, "warn")
    assert a["eco_sum"].sparkline == (66.0, 60.0, 90.0)  # Aug 12+22+32
    # Town B eco_sum: 5 + 25 = 30 < alarm 50; before 40; 2025-10: 40 + 50 = 90
    assert (b["eco_sum"].value, b["eco_sum"].previous, b["eco_sum"].last_year, b["eco_sum"].status) == (30.0, 40.0, 90.0, "alarm")
    # PM2.5 A: 30 (ok, falling from 40); B: 80 (alarm: > 75, rising from 30)
    assert (a["env_pm25"].value, a["env_pm25"].previous, a["env_pm25"].status) == (30.0, 40.0, "ok")
    assert (b["env_pm25"].value, b["env_pm25"].previous, b["env_pm25"].status) == (80.0, 30.0, "alarm")
    assert (a["gov_last"].value, a["gov_last"].previous, a["gov_last"].last_year, a["gov_last"].status) == (62.0, 65.0, 50.0, "ok")
    assert (b["gov_last"].value, b["gov_last"].previous, b["gov_last"].last_year) == (20.0, 35.0, 45.0)
    assert (a["svc_wmean"].value, b["svc_wmean"].value) == (83.0, 75.0)
    assert (a["svc_wmean"].status, b["svc_wmean"].status) == ("warn", "alarm")
    g = a["eco_gdp_year"]  # loaded at the city only: not applicable at a town (so not "stale" there either)
    assert (g.value, g.period, g.previous, g.last_year, g.status, g.stale, g.sparkline) == (None, None, None, None, "none", False, ())
    assert not g.applicable and a["eco_sum"].applicable


def test_kpi_on_an_earlier_period_ignores_newer_values(repo):
    k = _kpis(repo, CITY, date(2026, 9, 17))  # any day of the month selects the month
    s, p = k["eco_sum"], k["env_pm25"]
    assert (s.value, s.period, s.previous, s.last_year, s.status) == (100.0, SEP, 96.0, None, "ok")  # on warn 100
    assert s.sparkline == (150.0, 96.0, 100.0)  # 2025-10 is after 2025-09: in the 12-month window
    assert (p.value, p.previous, p.status) == (35.0, 50.0, "ok")  # exactly on warn 35: ok; before: 2025-10
    assert k["gov_last"].value == 20.0


def test_kpi_staleness_follows_each_indicators_frequency(repo):
    nov, dec = _kpis(repo, CITY, NOV), _kpis(repo, CITY, date(2026, 12, 1))
    assert not nov["eco_sum"].stale and dec["eco_sum"].stale  # monthly: lag 1 ok, lag 2 stale
    assert nov["eco_sum"].value == 120.0 and nov["eco_sum"].period == OCT
    assert not nov["gov_last"].stale and dec["gov_last"].stale  # quarterly from 2026-07: lag 4 ok, 5 stale
    daily = _kpis(repo, CITY, OCT, codes=["emg_max"])["emg_max"]
    assert (daily.value, daily.status, daily.stale) == (9.0, "none", False)  # max(3, 7, 2, 9); no thresholds
    assert _kpis(repo, CITY, NOV, codes=["emg_max"])["emg_max"].stale  # daily: lag 1 is stale


def test_kpi_selection_by_codes_keeps_their_order_and_by_theme_takes_all(repo):
    got = repo.kpi_values(CITY, OCT, codes=["svc_wmean", "no_such", "emg_max", "eco_sum"])
    assert [k.code for k in got] == ["svc_wmean", "emg_max", "eco_sum"]
    assert [k.code for k in repo.kpi_values(CITY, OCT, theme="governance")] == ["gov_last", "gov_min"]
    assert repo.kpi_values(CITY, OCT, theme="governance")[1].value == 1.0  # min(4, 1)
    leaf = repo.kpi_values(A3, OCT, codes=["emg_max", "gov_min"])
    assert [(k.value, k.stale) for k in leaf] == [(None, True), (4.0, False)]  # A3 reported no flooding
    assert repo.kpi_values(CITY, OCT, codes=["eco_sum"], spark_months=2)[0].sparkline == (100.0, 120.0)


@pytest.mark.parametrize(
    "backend",
    [
        "sqlite",
        pytest.param("postgresql", marks=pytest.mark.xfail(
            reason="kpi_values(codes=[]) renders an empty expanding IN as CAST(NULL AS INTEGER), which PostgreSQL "
            "refuses to compare with the text column indicators.code (operator does not exist)",
            strict=True,
        )),
    ],
)
def test_kpi_selection_by_an_empty_code_list_is_empty(backend, request):
    url = request.getfixturevalue("numbers_sqlite" if backend == "sqlite" else "numbers_pg")
    assert Repository(db.make_engine(url)).kpi_values(CITY, OCT, codes=[]) == []


# ---------------------------------------------------------------------------------------------- child values


def test_child_values_rank_higher_is_better_children_from_the_top(repo):
    rows = repo.child_values("eco_sum", CITY, OCT)
    # towns: A 90 (before 60), B 30 (before 40)
    assert [(r["code"], r["value"], r["previous"], r["rank"], r["period"]) for r in rows] == [
        (TA, 90.0, 60.0, 1, OCT), (TB, 30.0, 40.0, 2, OCT),
    ]
    assert rows[0]["name"] == "甲镇" and rows[0]["name_en"] == "Town A"


def test_child_values_rank_lower_is_better_children_from_the_bottom(repo):
    rows = repo.child_values("env_pm25", CITY, OCT)
    assert [(r["code"], r["value"], r["previous"], r["rank"]) for r in rows] == [(TA, 30.0, 40.0, 1), (TB, 80.0, 30.0, 2)]
    rows = repo.child_values("env_pm25", TA, OCT)
    assert [(r["code"], r["value"], r["previous"], r["rank"]) for r in rows] == [
        (A1, 20.0, 30.0, 1), (A2, 30.0, 40.0, 2), (A3, 40.0, 50.0, 3),
    ]


def test_child_values_share_a_rank_on_ties_and_leave_missing_values_unranked(repo):
    rows = repo.child_values("gov_min", TA, OCT)  # A1 5, A2 5, A3 4: higher is better
    assert [(r["code"], r["rank"]) for r in rows] == [(A1, 1), (A2, 1), (A3, 3)]
    rows = repo.child_values("emg_max", TA, OCT)  # lower is better; A3 has no value
    assert [(r["code"], r["value"], r["previous"], r["rank"]) for r in rows] == [(A1, 3.0, None, 1), (A2, 7.0, None, 2), (A3, None, None, None)]


def test_child_values_use_the_latest_period_at_or_before_the_selected_one(repo):
    rows = repo.child_values("eco_sum", CITY, date(2026, 12, 1))
    assert [(r["value"], r["period"]) for r in rows] == [(90.0, OCT), (30.0, OCT)]
    rows = repo.child_values("env_pm25", TA, date(2026, 9, 20))
    # 2026-09 values; the one before is 2025-10 (there is no 2026-08): A1 40/… per community
    assert [(r["value"], r["previous"], r["period"]) for r in rows] == [(30.0, 40.0, SEP), (40.0, 50.0, SEP), (50.0, 60.0, SEP)]
    rows = repo.child_values("gov_last", TB, OCT)  # quarterly: 2026-07, before it 2026-04
    assert [(r["code"], r["value"], r["previous"], r["rank"], r["period"]) for r in rows] == [
        (B1, 70.0, 35.0, 1, date(2026, 7, 1)), (B2, 20.0, 25.0, 2, date(2026, 7, 1)),
    ]


def test_child_values_of_a_community_is_the_community_itself(repo):
    rows = repo.child_values("eco_sum", A2, OCT)
    assert [(r["code"], r["value"], r["previous"], r["rank"], r["period"]) for r in rows] == [(A2, 30.0, 20.0, 1, OCT)]


def test_child_values_before_any_data_are_empty_at_the_selected_period(repo):
    rows = repo.child_values("eco_sum", CITY, date(2025, 1, 1))
    assert [(r["code"], r["value"], r["previous"], r["rank"], r["period"]) for r in rows] == [
        (TA, None, None, None, date(2025, 1, 1)), (TB, None, None, None, date(2025, 1, 1)),
    ]
    rows = repo.child_values("eco_sum", CITY, date(2025, 10, 9))  # the first period: nothing before it
    assert [(r["value"], r["previous"]) for r in rows] == [(60.0, None), (90.0, None)]
    assert [r["rank"] for r in rows] == [2, 1]
    with pytest.raises(KeyError, match="no_such"):
        repo.child_values("no_such", CITY, OCT)


# ---------------------------------------------------------------------------------------------- time series


def test_time_series_is_inclusive_of_both_months_and_oldest_first(repo):
    assert repo.time_series("eco_sum", CITY, date(2026, 8, 15), OCT) == [
        {"period": date(2026, 8, 1), "value": 96.0}, {"period": SEP, "value": 100.0}, {"period": OCT, "value": 120.0},
    ]
    assert [p["value"] for p in repo.time_series("eco_sum", TB, date(2025, 10, 31), date(2026, 9, 30))] == [90.0, 30.0, 40.0]
    assert repo.time_series("eco_sum", CITY, date(2026, 11, 1), date(2026, 12, 1)) == []


# ---------------------------------------------------------------------------------------------- events


def test_event_counts_of_a_whole_month_read_the_monthly_rollup(repo):
    with sql_seen(repo) as seen:
        by_status = repo.event_counts(CITY, OCT, NOV, "status")
    assert any("event_monthly" in s for s in seen) and not any("FROM events" in s for s in seen)
    # October: closed 1, 4, 7, 8; resolved 2, 9; processing 3, 10; dispatched 5; reported 6
    assert by_status == {"closed": 4, "dispatched": 1, "processing": 2, "reported": 1, "resolved": 2}
    assert repo.event_counts(CITY, OCT, NOV, "source") == {"city_management": 2, "emergency": 1, "grid": 2, "hotline": 4, "sensor": 1}
    assert repo.event_counts(CITY, OCT, NOV, "severity") == {1: 2, 2: 2, 3: 3, 4: 3}
    assert repo.event_counts(CITY, OCT, NOV, "category") == {"fire": 1, "flood": 1, "noise": 3, "road": 3, "sanitation": 2}
    assert repo.event_counts(TB, OCT, NOV) == {"closed": 2, "processing": 1, "resolved": 1}  # events 7–10
    # September and October: + 11, 12, 14 closed, 13 reported, 15 dispatched
    assert repo.event_counts(CITY, SEP, NOV) == {"closed": 7, "dispatched": 2, "processing": 2, "reported": 2, "resolved": 2}
    with sql_seen(repo) as seen:
        assert repo.event_counts(CITY, datetime(2026, 10, 1), datetime(2026, 11, 1), "severity") == {1: 2, 2: 2, 3: 3, 4: 3}
    assert any("event_monthly" in s for s in seen)
    assert repo.event_counts(CITY, date(2026, 12, 1), date(2027, 1, 1)) == {}


def test_event_counts_of_any_other_window_count_raw_events_start_inclusive_end_exclusive(repo):
    start, end = datetime(2026, 10, 3, 7, 30), datetime(2026, 10, 19, 12, 0)
    with sql_seen(repo) as seen:
        got = repo.event_counts(CITY, start, end, "source")
    assert any("FROM events" in s for s in seen) and not any("event_monthly" in s for s in seen)
    # events 2 (exactly at the start), 3, 4, 5; event 6 at exactly the end is out
    assert got == {"city_management": 1, "emergency": 1, "grid": 1, "hotline": 1}
    assert repo.event_counts(CITY, start, end, "status") == {"closed": 1, "dispatched": 1, "processing": 1, "resolved": 1}
    # dates that are not month starts: 2026-10-02 00:00 .. 2026-10-20 00:00 -> events 2..6 (7 is at 08:00)
    assert repo.event_counts(CITY, date(2026, 10, 2), date(2026, 10, 20), "severity") == {1: 1, 2: 2, 3: 1, 4: 1}
    # one second after the month start is not a month: event 1 (at 00:00:00) drops out
    assert sum(repo.event_counts(CITY, datetime(2026, 10, 1, 0, 0, 1), datetime(2026, 11, 1)).values()) == 9
    assert repo.event_counts(TA, datetime(2026, 10, 1, 0, 0, 1), NOV, "severity") == {1: 1, 2: 2, 3: 1, 4: 1}  # 2..6
    # midnight on the 2nd is no month start: 2026-10-02 .. 2026-11-02 -> 2..10 and 18 (11-01 00:00)
    assert sum(repo.event_counts(CITY, datetime(2026, 10, 2), datetime(2026, 11, 2)).values()) == 10
    # a month start at one end only still counts raw events: 2026-10-01 .. 2026-10-10 09:00 -> 1, 2, 3
    assert sum(repo.event_counts(CITY, OCT, datetime(2026, 10, 10, 9, 0)).values()) == 3
    assert sum(repo.event_counts(CITY, datetime(2026, 10, 10, 9, 0), NOV).values()) == 7  # 4..10


def test_event_counts_reject_an_unknown_grouping(repo):
    with pytest.raises(ValueError, match="status, category, severity, source, not 'region'"):
        repo.event_counts(CITY, OCT, NOV, "region")


def test_event_rates_count_closure_and_satisfaction(repo):
    # October: 10 events, done (closed or resolved) 1, 2, 4, 7, 8, 9 = 6 -> 0.6;
    # rated 1 (5), 2 (3), 7 (4), 9 (5) = 4; satisfied (>= 4) 1, 7, 9 = 3 -> 0.75
    assert repo.event_rates(CITY, OCT, NOV) == {"total": 10, "closed_rate": 0.6, "rated": 4, "satisfaction_rate": 0.75}
    # hotline only: 1, 2, 7, 8 all done; rated 1, 2, 7; satisfied 1, 7 -> 2/3
    hot = repo.event_rates(CITY, OCT, NOV, source="hotline")
    assert (hot["total"], hot["closed_rate"], hot["rated"]) == (4, 1.0, 3)
    assert hot["satisfaction_rate"] == pytest.approx(2 / 3)
    # Town B: 7, 8, 9, 10 -> done 3/4; rated 7 (4), 9 (5) -> 2/2
    assert repo.event_rates(TB, OCT, NOV) == {"total": 4, "closed_rate": 0.75, "rated": 2, "satisfaction_rate": 1.0}
    # Town A emergencies: event 5 alone, dispatched and unrated
    assert repo.event_rates(TA, OCT, NOV, source="emergency") == {"total": 1, "closed_rate": 0.0, "rated": 0, "satisfaction_rate": None}
    assert repo.event_rates(CITY, date(2026, 12, 1), date(2027, 1, 1)) == {"total": 0, "closed_rate": None, "rated": 0, "satisfaction_rate": None}
    # a raw window: 2026-10-03 07:30 .. 2026-10-19 12:00 -> 2 (resolved, 3), 3, 4 (closed), 5
    assert repo.event_rates(CITY, datetime(2026, 10, 3, 7, 30), datetime(2026, 10, 19, 12)) == {
        "total": 4, "closed_rate": 0.5, "rated": 1, "satisfaction_rate": 0.0,
    }


def test_open_event_count_is_every_unresolved_event_of_any_month(repo):
    # open: 3, 5, 6, 10, 13, 15, 17, 18, 20 (event 19 is resolved, 8 closed)
    assert repo.open_event_count(CITY) == 9
    assert repo.open_event_count(TA) == 5  # 3, 5, 6, 13, 18
    assert repo.open_event_count(TB) == 4  # 10, 15, 17, 20
    assert repo.open_event_count(A3) == 2  # 5, 6
    assert repo.open_event_count(B1) == 1  # 17


def test_open_events_are_the_most_severe_first_then_the_newest(repo):
    rows = repo.open_events(CITY)
    # severity I: 10 (10-31), 5 (10-12); II: 20 (11-20), 6 (10-19), 3 (10-05), 13 (09-20), 17 (08-18); IV: 18, 15
    assert [r["id"] for r in rows] == [10, 5, 20, 6, 3, 13, 17, 18, 15]
    assert [r["severity"] for r in rows] == [1, 1, 2, 2, 2, 2, 2, 4, 4]
    assert [r["id"] for r in repo.open_events(CITY, 3)] == [10, 5, 20]
    assert [r["id"] for r in repo.open_events(TB)] == [10, 20, 17, 15]
    top = repo.open_events(A3)[0]
    assert (top["id"], top["status"], top["category"], top["title"], top["lon"], top["lat"]) == (5, "dispatched", "fire", "事件5 fire", 103.433, 31.213)


def test_event_density_of_a_month_reads_the_cell_rollup(repo):
    with sql_seen(repo) as seen:
        cells = repo.event_density(CITY, OCT, NOV, 0.01)
    assert any("event_cells" in s for s in seen) and not any("FROM events" in s for s in seen)
    # October, 0.01° cells (event 10 has no position): 1+2, 3+4, 5, 6, 7+8, 9
    assert sorted((round(c["lon"], 6), round(c["lat"], 6), c["n"]) for c in cells) == [
        (103.015, 31.015, 2), (103.235, 31.115, 2), (103.435, 31.215, 1), (103.445, 31.225, 1),
        (103.615, 31.315, 2), (103.815, 31.415, 1),
    ]
    cells = repo.event_density(TA, OCT, NOV, 0.02)  # four 0.005° cells per side: 5 and 6 now apart by one cell
    assert sorted((round(c["lon"], 6), round(c["lat"], 6), c["n"]) for c in cells) == [
        (103.01, 31.01, 2), (103.23, 31.11, 2), (103.43, 31.21, 1), (103.45, 31.23, 1),
    ]
    assert repo.event_density(CITY, date(2026, 12, 1), date(2027, 1, 1), 0.01) == []
    assert sorted(c["n"] for c in repo.event_density(CITY, OCT, NOV)) == [1, 1, 1, 2, 2, 2]  # default grid 0.01°


def test_event_density_of_other_windows_or_grids_counts_raw_events(repo):
    with sql_seen(repo) as seen:
        cells = repo.event_density(CITY, datetime(2026, 10, 3, 7, 30), datetime(2026, 10, 19, 12), 0.01)
    assert any("FROM events" in s for s in seen) and not any("event_cells" in s for s in seen)
    # events 2, 3, 4, 5
    assert sorted((round(c["lon"], 6), round(c["lat"], 6), c["n"]) for c in cells) == [
        (103.015, 31.015, 1), (103.235, 31.115, 2), (103.435, 31.215, 1),
    ]
    with sql_seen(repo) as seen:
        cells = repo.event_density(TB, OCT, NOV, 0.004)  # not a multiple of 0.005°: raw events
    assert any("FROM events" in s for s in seen)
    # 7: floor(103.613 * 250) = 25903 -> 103.614; 8: 25904 -> 103.618; 9: 25953 -> 103.814
    assert sorted((round(c["lon"], 6), round(c["lat"], 6), c["n"]) for c in cells) == [
        (103.614, 31.314, 1), (103.618, 31.318, 1), (103.814, 31.414, 1),
    ]
    with sql_seen(repo) as seen:
        cells = repo.event_density(TB, OCT, NOV, 0.0025)  # finer than the roll-up: raw events
    assert any("FROM events" in s for s in seen) and sum(c["n"] for c in cells) == 3
    with sql_seen(repo) as seen:
        cells = repo.event_density(TB, OCT, NOV, 0.0075)  # 1.5 roll-up cells: raw events
    assert any("FROM events" in s for s in seen)
    # 7: floor(103.613 / 0.0075) = 13815 -> 103.61625; 8: 13815 too; 9: 13841 -> 103.81125
    assert sorted((round(c["lon"], 6), c["n"]) for c in cells) == [(103.61625, 2), (103.81125, 1)]
    with sql_seen(repo) as seen:
        cells = repo.event_density(TB, OCT, NOV, 0.005)  # exactly the roll-up's grid
    assert any("event_cells" in s for s in seen) and sum(c["n"] for c in cells) == 3


def test_recent_events_are_newest_first_with_ties_by_id(repo):
    rows = repo.recent_events(CITY, 3)
    assert [r["id"] for r in rows] == [20, 19, 18]
    assert rows[0]["reported_at"] == datetime(2026, 11, 20, 17, 30)
    assert (rows[1]["region_name"], rows[1]["region_code"], rows[1]["source"], rows[1]["status"]) == ("甲二社区", A2, "sensor", "resolved")
    assert [r["id"] for r in repo.recent_events(CITY, 3, before=datetime(2026, 11, 1))] == [10, 9, 8]  # 18 is at 11-01
    assert [r["id"] for r in repo.recent_events(CITY, 3, before=datetime(2026, 9, 20))] == [14, 12, 11]  # 14, 12 tie
    assert [r["id"] for r in repo.recent_events(TA, 2)] == [19, 18]
    assert len(repo.recent_events(CITY)) == 10


# ---------------------------------------------------------------------------------------------- facilities and alerts


def test_facility_counts_by_kind(repo):
    assert repo.facility_counts(CITY) == {"camera": 4, "hospital": 1, "school": 1}
    assert repo.facility_counts(TA) == {"camera": 3}
    assert repo.facility_counts(TB) == {"camera": 1, "hospital": 1, "school": 1}
    assert repo.facility_counts(A3) == {}


def test_facility_points_one_per_facility_when_few(repo):
    rows = repo.facility_points(CITY, ["school", "camera"])
    assert [(r["kind"], r["id"], r["n"]) for r in rows] == [("camera", 1, 1), ("camera", 2, 1), ("camera", 3, 1), ("camera", 6, 1), ("school", 5, 1)]
    assert (rows[0]["name"], rows[0]["lon"], rows[0]["lat"]) == ("甲一路口", 103.048, 31.048)
    assert [r["id"] for r in repo.facility_points(TA, ("camera",), max_points=3)] == [1, 2, 3]  # 3 <= 3: points
    assert repo.facility_points(CITY, []) == []
    assert repo.facility_points(CITY, ["no_such_kind"]) == []


def test_facility_points_grouped_on_a_grid_when_many(repo):
    rows = repo.facility_points(CITY, ["camera"], max_points=3)  # 4 cameras > 3
    got = sorted((r["kind"], round(r["lon"], 6), round(r["lat"], 6), r["n"], r["id"], r["name"]) for r in rows)
    # 0.02° cells: cameras 1 and 2 share floor(103.048 * 50) = floor(103.058 * 50) = 5152: mean position
    assert got == [
        ("camera", 103.053, 31.053, 2, None, None), ("camera", 103.25, 31.15, 1, None, None),
        ("camera", 103.85, 31.45, 1, None, None),
    ]
    rows = repo.facility_points(CITY, ["camera"], max_points=3, cell_deg=0.01)  # 10304 vs 10305: all apart
    assert sorted(r["n"] for r in rows) == [1, 1, 1, 1]
    rows = repo.facility_points(CITY, ["camera", "school", "hospital"], max_points=5)  # 6 > 5: by kind and cell
    assert [(r["kind"], r["n"]) for r in rows if r["kind"] != "camera"] == [("hospital", 1), ("school", 1)]
    assert [r["kind"] for r in rows] == ["camera"] * 3 + ["hospital", "school"]


def test_open_alerts_leave_out_cleared_ones(repo):
    assert repo.open_alert_count(CITY) == 3  # 1, 2, 4 (3 was cleared)
    assert repo.open_alert_count(TA) == 1  # 2 at A3
    assert repo.open_alert_count(TB) == 2  # 1 at the town itself, 4 at B1
    assert repo.open_alert_count(A1) == 0
    rows = repo.recent_alerts(CITY)
    assert [r["id"] for r in rows] == [4, 1, 2]  # 4 and 1 both 10-31 08:00: higher id first
    assert [r["id"] for r in repo.recent_alerts(CITY, 2)] == [4, 1]
    first = rows[1]
    assert (first["rule"], first["severity"], first["region_code"], first["region_name"], first["indicator_code"], first["message"]) == (
        "threshold", 2, TB, "乙镇", "env_pm25", "PM2.5 超过报警值")
    assert first["started_at"] == datetime(2026, 10, 31, 8, 0)
    assert [r["id"] for r in repo.recent_alerts(TA)] == [2]


def test_bump_data_version_counts_up_from_the_stored_version(numbers_sqlite, tmp_path):
    import shutil

    from datasources.ingest.derive import bump_data_version

    copy = tmp_path / "copy.db"
    shutil.copy(numbers_sqlite.removeprefix("sqlite:///"), copy)
    repo = Repository(db.make_engine(f"sqlite:///{copy}"))
    with repo.engine.begin() as conn:
        assert bump_data_version(conn) == DATA_VERSION + 1
    assert repo.data_version() == DATA_VERSION + 1
    with repo.engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM meta WHERE key = 'data_version'"))
    assert repo.data_version() == 0
    with repo.engine.begin() as conn:
        assert bump_data_version(conn) == 1
    assert repo.data_version() == 1
    with repo.engine.begin() as conn:
        conn.execute(sqlalchemy.text("DELETE FROM event_monthly WHERE region_code = :a"), {"a": A1})
        conn.execute(sqlalchemy.text("DELETE FROM events"))
    assert repo.open_event_count(A1) == 0  # nothing rolled up: 0, not None
    assert repo.data_as_of() is None


def test_sql_list_quotes_identifiers():
    assert sql_list(("reported", "dispatched")) == "('reported', 'dispatched')"
    assert sql_list(("closed",)) == "('closed')"


def test_catalog_levels_pages_and_meta(repo):
    assert repo.meta() == {"data_version": str(DATA_VERSION), "geometry_version": str(GEOMETRY_VERSION), "demo": "1",
                           "as_of": "2026-11-20T18:00:00", "scale": "numbers"}
    assert repo.level_names() == [
        {"level": 0, "name_zh": "市", "name_en": "city"}, {"level": 1, "name_zh": "镇街", "name_en": "township"},
        {"level": 2, "name_zh": "村社区", "name_en": "community"},
    ]
    assert [p["id"] for p in repo.pages()] == ["economy", "governance", "emergency", "public_service", "environment"]
    assert repo.pages()[1] == {"id": "governance", "kind": "theme", "name_zh": "governance", "name_en": "governance", "order": 1, "icon": ""}
    assert [i["code"] for i in repo.indicators()] == [
        "eco_gdp_year", "eco_jobs", "eco_sum", "emg_max", "env_pm25", "gov_last", "gov_min", "svc_wmean",
    ]


def test_display_geometry_of_a_level_and_the_child_under_a_point(repo):
    assert '"name": "乙镇"' in repo.display_geojson(1)  # names as they are, not \\u escapes
    fc = json.loads(repo.display_geojson(1))
    assert fc["type"] == "FeatureCollection"
    assert [f["id"] for f in fc["features"]] == [TA, TB]
    assert fc["features"][1]["properties"] == {"name": "乙镇", "parent": CITY}
    assert fc["features"][0]["type"] == "Feature"
    assert shapely.geometry.shape(fc["features"][0]["geometry"]).bounds == pytest.approx((103.0, 31.0, 103.5, 31.5))
    assert json.loads(repo.display_geojson(3)) == {"type": "FeatureCollection", "features": []}
    assert repo.child_at(CITY, 103.25, 31.25) == TA
    assert repo.child_at(CITY, 103.8, 31.2) == TB
    assert repo.child_at(TA, 103.3, 31.2) == A2
    assert repo.child_at(TA, 103.8, 31.2) is None  # in the city, not in Town A
    assert repo.child_at(A1, 103.1, 31.2) is None  # a community has no children


def test_event_monthly_totals_by_source(repo):
    assert repo.event_monthly_totals(CITY, SEP, NOV) == [
        {"month": SEP, "source": "emergency", "n": 1}, {"month": SEP, "source": "grid", "n": 1},
        {"month": SEP, "source": "hotline", "n": 2}, {"month": SEP, "source": "sensor", "n": 1},
        {"month": OCT, "source": "city_management", "n": 2}, {"month": OCT, "source": "emergency", "n": 1},
        {"month": OCT, "source": "grid", "n": 2}, {"month": OCT, "source": "hotline", "n": 4},
        {"month": OCT, "source": "sensor", "n": 1},
    ]
    assert repo.event_monthly_totals(TB, OCT, NOV) == [
        {"month": OCT, "source": "city_management", "n": 1}, {"month": OCT, "source": "grid", "n": 1},
        {"month": OCT, "source": "hotline", "n": 2},
    ]
    with pytest.raises(ScopeError):
        repo.event_monthly_totals(TB, OCT, NOV, scope=TA)
