"""The analyst's filters: exact URL round trip, dependent filters normalised, bad parameters named."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasources.analysis.filters import (
    COMPARISONS,
    GRANULARITIES,
    LIFECYCLE,
    AnalysisFilters,
    FilterCatalog,
    FilterError,
)

CAT = FilterCatalog(
    themes=frozenset({"economy", "environment"}),
    indicator_theme={"gdp": "economy", "retail": "economy", "aqi": "environment", "pm25": "environment"},
    category_source={"consult": "hotline", "noise": "hotline", "sanitation": "grid", "fire_risk": "grid"},
)

months = st.dates(min_value=date(2020, 1, 1), max_value=date(2027, 12, 1)).map(lambda d: date(d.year, d.month, 1))
codes = st.from_regex(r"[A-Za-z0-9_.:-]{1,12}", fullmatch=True)


@st.composite
def any_filters(draw) -> AnalysisFilters:  # noqa: ANN001
    start = draw(st.none() | months)
    end = draw(st.none() | months)
    if start and end and start > end:
        start, end = end, start
    if start and end and (end.year - start.year) * 12 + end.month - start.month >= 30:
        start = None
    compare = draw(st.sampled_from(COMPARISONS))
    c_start, c_end = (date(2019, 1, 1), date(2019, 6, 1)) if compare == "range" else (None, None)
    return AnalysisFilters(
        areas=tuple(draw(st.lists(codes, max_size=4, unique=True))),
        period_from=start, period_to=end,
        granularity=draw(st.sampled_from(GRANULARITIES)),
        theme=draw(st.none() | st.sampled_from(sorted(CAT.themes))),
        indicators=tuple(draw(st.lists(st.sampled_from(sorted(CAT.indicator_theme)), max_size=3, unique=True))),
        sources=tuple(draw(st.lists(st.sampled_from(["hotline", "grid"]), max_size=2, unique=True))),
        categories=tuple(draw(st.lists(st.sampled_from(sorted(CAT.category_source)), max_size=3, unique=True))),
        statuses=tuple(draw(st.lists(st.sampled_from(LIFECYCLE), max_size=3, unique=True))),
        severities=tuple(draw(st.lists(st.integers(1, 4), max_size=4, unique=True))),
        compare=compare, compare_from=c_start, compare_to=c_end,
    ).normalised(CAT)


@settings(max_examples=150, deadline=None)
@given(any_filters())
def test_filters_round_trip_through_the_url(f):
    assert AnalysisFilters.from_query(f.to_query(), CAT) == f
    assert all(isinstance(v, str) and v for v in f.to_query().values())


@settings(max_examples=50, deadline=None)
@given(any_filters())
def test_normalising_twice_changes_nothing(f):
    assert f.normalised(CAT) == f


def test_indicator_outside_the_theme_is_dropped():
    f = AnalysisFilters.from_query({"theme": "environment", "ind": "gdp,aqi,pm25"}, CAT)
    assert f.indicators == ("aqi", "pm25")


def test_category_of_another_source_is_dropped():
    f = AnalysisFilters.from_query({"src": "hotline", "cat": "noise,sanitation,consult"}, CAT)
    assert f.categories == ("consult", "noise")
    assert AnalysisFilters.from_query({"cat": "noise,sanitation"}, CAT).categories == ("noise", "sanitation")


def test_months_snap_to_quarters_and_years():
    f = AnalysisFilters.from_query({"from": "2025-02", "to": "2025-05", "gran": "quarter"}, CAT)
    assert (f.period_from, f.period_to) == (date(2025, 1, 1), date(2025, 6, 1))
    f = AnalysisFilters.from_query({"from": "2024-07", "to": "2025-02", "gran": "year"}, CAT)
    assert (f.period_from, f.period_to) == (date(2024, 1, 1), date(2025, 12, 1))


def test_comparison_range_is_dropped_unless_chosen():
    f = AnalysisFilters.from_query({"cmp": "yoy", "cmp_from": "2024-01", "cmp_to": "2024-03"}, CAT)
    assert f.compare_from is None and f.compare_to is None


def test_comparison_windows():
    f = AnalysisFilters.from_query({"from": "2025-04", "to": "2025-06"}, CAT)
    assert f.window() == (date(2025, 4, 1), date(2025, 7, 1))
    assert f.comparison_window() == (date(2024, 4, 1), date(2024, 7, 1))
    mom = AnalysisFilters.from_query({"from": "2025-04", "to": "2025-06", "cmp": "mom"}, CAT)
    assert mom.comparison_window() == (date(2025, 1, 1), date(2025, 4, 1))
    rng = AnalysisFilters.from_query({"from": "2025-04", "to": "2025-06", "cmp": "range", "cmp_from": "2023-01",
                                      "cmp_to": "2023-02"}, CAT)
    assert rng.comparison_window() == (date(2023, 1, 1), date(2023, 3, 1))


def test_an_open_period_resolves_to_the_last_twelve_months():
    f = AnalysisFilters().resolved(date(2026, 11, 1))
    assert (f.period_from, f.period_to) == (date(2025, 12, 1), date(2026, 11, 1))
    assert AnalysisFilters(period_from=date(2026, 3, 1)).resolved(date(2026, 11, 1)).period_from == date(2026, 3, 1)


@pytest.mark.parametrize(("query", "param"), [
    ({"from": "2025-13"}, "from"),
    ({"to": "yesterday"}, "to"),
    ({"from": "2025-06", "to": "2025-01"}, "from"),
    ({"from": "2020-01", "to": "2025-01"}, "from"),
    ({"gran": "week"}, "gran"),
    ({"theme": "weather"}, "theme"),
    ({"ind": "gdp,nope"}, "ind"),
    ({"src": "fax"}, "src"),
    ({"cat": "<script>"}, "cat"),
    ({"status": "lost"}, "status"),
    ({"sev": "5"}, "sev"),
    ({"sev": "I"}, "sev"),
    ({"cmp": "wow"}, "cmp"),
    ({"cmp": "range", "cmp_to": "2024-01"}, "cmp_from"),
    ({"cmp": "range", "cmp_from": "2024-01"}, "cmp_to"),
    ({"areas": "51018'; DROP TABLE events"}, "areas"),
    ({"areas": ",".join(str(i) for i in range(100))}, "areas"),
    ({"ind": "x" * 5000}, "ind"),
])
def test_bad_parameter_is_named(query, param):
    with pytest.raises(FilterError) as err:
        AnalysisFilters.from_query(query, CAT)
    assert err.value.param == param
    assert f"'{param}'" in str(err.value)


def test_unknown_parameters_belong_to_the_page():
    assert AnalysisFilters.from_query({"lang": "en", "panel": "ranking"}, CAT) == AnalysisFilters()


def test_describe_reads_every_filter_in_both_languages():
    f = AnalysisFilters.from_query({"areas": "a1,a2", "from": "2025-01", "to": "2025-03", "theme": "economy", "ind": "gdp",
                                    "sev": "1,2", "status": "closed", "cmp": "range", "cmp_from": "2024-01",
                                    "cmp_to": "2024-03"}, CAT)
    zh = dict(f.describe("zh", {"a1": "东林街道", "gdp": "地区生产总值"}))
    assert zh["区域"] == "东林街道、a2"
    assert zh["时段"] == "2025-01 – 2025-03"
    assert zh["指标"] == "地区生产总值"
    assert zh["事件等级"] == "I、II"
    assert zh["事件状态"] == "已办结"
    assert zh["事件来源"] == "全部"
    assert zh["对比区间"] == "2024-01 – 2024-03"
    en = dict(f.describe("en"))
    assert en["Areas"] == "a1, a2" and en["Comparison"] == "chosen range" and en["Event statuses"] == "closed"
    assert len(f.describe("zh")) == len(f.describe("en"))


def test_shipped_catalog_reads_the_repository_catalog():
    cat = FilterCatalog.shipped()
    assert "economy" in cat.themes and "hotline" in cat.sources
    assert cat.category_source["consult"] == "hotline"
