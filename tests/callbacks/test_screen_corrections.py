"""Corrections seen on screen (issue 11 item 7), on the hand-made city (tests/numbers_fixture.py) and on
hand-made rows: "not applicable" instead of "stale" where an indicator is not collected; grade changes,
not percentages, for category indicators; alert texts rounded and naming the area once; counts of the
present say "now" when a past period is selected."""

from __future__ import annotations

from datetime import date, datetime

import pytest

from callbacks.cockpit import _grade_diff, event_stats, kpi_parts
from callbacks.header import header_facts
from callbacks.state import ViewState, is_past_period
from callbacks.ticker import ticker_items
from datasources.repository import Kpi
from datasources.rules import is_category
from layouts.alert_text import alert_area, alert_message, alert_text, round_numbers
from layouts.console import alert_rows
from tests.components import texts as _texts
from tests.numbers_fixture import A1, CITY, TB

OCT = date(2026, 10, 1)


@pytest.fixture(scope="module")
def services(numbers_services):  # noqa: ANN001, ANN201 - tests/conftest.py: SQLite and PostgreSQL
    return numbers_services


# ---------------------------------------------------------------------------------------------- not applicable


def test_an_indicator_above_the_areas_level_is_not_applicable_there(services):
    # GDP is collected at the city only (level 0): at Town B it is not applicable, in both languages.
    zh = kpi_parts(services, ViewState(area=TB, period="2026-10"), ["eco_gdp_year"])
    en = kpi_parts(services, ViewState(area=TB, period="2026-10", lang="en"), ["eco_gdp_year"])
    assert (zh["fresh"], en["fresh"]) == (["不适用"], ["Not applicable"])
    assert zh["value"] == ["–"] and zh["card"] == ["kpi-card status-none na"]
    # At the city it is collected; its newest value (2025-01) lags 2026-10 by 21 months > 14: stale there.
    city = kpi_parts(services, ViewState(area=CITY, period="2026-10"), ["eco_gdp_year"])
    assert city["fresh"] == ["停更于 2025-01"] and city["card"] == ["kpi-card status-none stale"]


def test_an_indicator_with_no_value_at_the_level_is_not_applicable_but_an_early_period_has_no_data(services):
    # eco_jobs (no headline: asked for by code) has no value at any level: not applicable at a community and
    # at the city, and never stale.
    for area in (A1, CITY):
        [jobs] = services.repo.kpi_values(area, OCT, codes=["eco_jobs"])
        assert (jobs.applicable, jobs.stale, jobs.value) == (False, False, None)
    [pm25] = services.repo.kpi_values(A1, OCT, codes=["env_pm25"])
    assert pm25.applicable and pm25.value is not None
    # eco_sum is collected at communities; before its first month there is simply no data yet.
    early = kpi_parts(services, ViewState(area=A1, period="2020-01"), ["eco_sum"])
    assert early["fresh"] == ["暂无数据"] and early["card"] == ["kpi-card status-none stale"]


# ---------------------------------------------------------------------------------------------- category indicators


class _Kpis:
    """Services stand-in that answers ``kpi_values`` with hand-made cards."""

    def __init__(self, kpis: list[Kpi]):
        self.kpis = kpis

    def cached(self, method: str, *args):  # noqa: ANN201
        if method == "region":
            return {"name": "测试市", "name_en": "Test City"}
        assert method == "kpi_values"
        return self.kpis


def _warning_level(value: float, previous: float | None, last_year: float | None) -> Kpi:
    return Kpi(code="emg_weather_warning_level", name_zh="气象预警等级", name_en="Weather warning level", theme="emergency",
               unit="级", unit_en="level", polarity=-1, frequency="realtime", value=value, period=OCT, previous=previous,
               last_year=last_year, status="alarm", stale=False)


def test_a_warning_level_changes_by_grades_never_by_percent():
    assert is_category("级") and is_category("level") and not is_category("%") and not is_category("亿元")
    parts = kpi_parts(_Kpis([_warning_level(3, 1, 3)]), ViewState(area=CITY, period="2026-10"), ["emg_weather_warning_level"])
    # 1 (blue) -> 3 (orange): up two grades, bad news for a lower-is-better indicator; a year ago also 3.
    assert parts["change"] == [{"children": "环比 ▲2级", "className": "kpi-change bad"}]
    assert parts["yoy"] == [{"children": "同比 ■0级", "className": "kpi-change flat"}]
    en = kpi_parts(_Kpis([_warning_level(1, 2, None)]), ViewState(area=CITY, period="2026-10", lang="en"), ["emg_weather_warning_level"])
    assert en["change"] == [{"children": "MoM ▼1 level", "className": "kpi-change good"}]
    assert en["yoy"] == [{"children": "YoY –", "className": "kpi-change flat"}]
    assert "%" not in str(parts) + str(en)
    # A previous level of 0 (no warning) would make a percentage infinite; in grades it is plain.
    assert kpi_parts(_Kpis([_warning_level(2, 0, None)]), ViewState(period="2026-10"), ["emg_weather_warning_level"])["change"][0]["children"] == "环比 ▲2级"


def test_map_hover_of_a_category_indicator_gives_the_grade_difference():
    assert (_grade_diff(3, 1, "级"), _grade_diff(1, 2, "level"), _grade_diff(2, None, "级")) == ("+2级", "-1 level", "–")


# ---------------------------------------------------------------------------------------------- alert texts


def test_alert_messages_are_rounded_and_name_their_area_once():
    assert round_numbers("在岗率 86.345678 低于 90，水位 5.2 m，编码 510182001001") == "在岗率 86.35 低于 90，水位 5.2 m，编码 510182001001"
    assert round_numbers("12.345678 and 0.0004 and 7.100") == "12.35 and 0 and 7.1"
    assert alert_message("乙镇 值班值守在岗率 86.345678 低于报警阈值 90", "乙镇") == "值班值守在岗率 86.35 低于报警阈值 90"
    # A station named after its community keeps its name: it is not the area's name repeated.
    assert alert_message("乙一社区雨量站0001 短时强降雨 60.25 高于报警值 50", "乙一社区") == "乙一社区雨量站0001 短时强降雨 60.25 高于报警值 50"


_ALERT = {"id": 7, "severity": 3, "started_at": datetime(2026, 11, 20, 9, 30), "region_name": "乙镇", "acknowledged_by": None,
          "message": "乙镇 值班值守在岗率 86.345678 低于报警阈值 90"}


class _Ticker:
    """Services stand-in for the ticker: one open alert, no events, newest period 2026-10."""

    class repo:  # noqa: N801 - mimics services.repo
        @staticmethod
        def root_code() -> str:
            return CITY

    def cached(self, method: str, *args):  # noqa: ANN201
        return {"open_alerts": [_ALERT], "recent_events": [], "periods": [OCT, date(2026, 9, 1)]}[method]


def test_ticker_and_console_show_the_alert_rounded_with_its_area_once():
    [tick] = ticker_items(_Ticker(), "?period=2026-10")["items"]
    text = "".join(_texts(tick))
    assert text.endswith("11-20 09:30 乙镇 · 值班值守在岗率 86.35 低于报警阈值 90") and text.count("乙镇") == 1
    [row] = alert_rows([_ALERT], "zh", True)
    assert [_texts(c) for c in row.children[1:3]] == [["乙镇"], ["值班值守在岗率 86.35 低于报警阈值 90"]]


# ---------------------------------------------------------------------------------------------- "now"


def test_present_counts_say_now_only_when_a_past_period_is_selected(services):
    assert is_past_period(date(2026, 9, 1), [OCT]) and not is_past_period(OCT, [OCT]) and not is_past_period(None, [OCT])
    newest, past = header_facts(services, f"?area={CITY}&period=2026-10"), header_facts(services, f"?area={CITY}&period=2026-09")
    assert newest["alerts"].replace(",", "").isdigit()
    assert past["alerts"] == f"{newest['alerts']}（当前）"
    assert header_facts(services, f"?area={CITY}&period=2026-09&lang=en")["alerts"] == f"{newest['alerts']} (now)"
    assert ticker_items(services, "?period=2026-10")["pinned"] == [] or "tick-now" not in str(ticker_items(services, "?period=2026-10")["pinned"])
    [now, *_] = ticker_items(services, "?period=2026-09&lang=en")["pinned"]
    assert (now.children, now.className) == ("Now", "tick tick-now")
    labels = [_texts(s)[1] for s in event_stats(services, CITY, date(2026, 9, 1), OCT, "zh", past=True)[0].children]
    assert labels[2] == "当前在办"
    assert [_texts(s)[1] for s in event_stats(services, CITY, OCT, date(2026, 11, 1), "zh")[0].children][2] == "在办"


def test_english_alert_texts_are_made_from_the_rule_not_the_chinese_message():
    base = {"region_name": "乙镇", "region_name_en": "Town B", "message": "乙镇 中文消息 12.345678"}
    indicator = base | {"kind": "indicator", "value": 80.345678, "indicator_name_en": "Vaccination", "indicator_unit_en": "%",
                        "indicator_polarity": 1, "indicator_alarm": 90.0}
    assert alert_text(indicator, "en") == "Vaccination 80.35% < alarm 90%"
    assert alert_text(indicator | {"indicator_polarity": -1, "indicator_unit_en": "μg/m³", "value": 160}, "en") == "Vaccination 160 μg/m³ > alarm 90 μg/m³"
    reading = base | {"kind": "reading", "value": 0.2, "rule_name_en": "River above its warning level", "rule_polarity": -1,
                      "rule_warn": 0.0, "rule_alarm": 0.5}
    assert alert_text(reading, "en") == "River above its warning level 0.2 > warning 0"
    assert alert_text(reading | {"value": 0.84}, "en") == "River above its warning level 0.84 > alarm 0.5"
    surge = base | {"kind": "surge", "value": 12.0, "rule_name_en": "Surge of noise complaints", "window_hours": 24}
    assert alert_text(surge, "en") == "Surge of noise complaints: 12 reports in 24 h"
    event = base | {"kind": "event", "value": None, "message": "燃气泄漏"}
    assert alert_text(event, "en") == "燃气泄漏"  # a severe event's alert is its title: data
    # Chinese: the stored message without the area, rounded; the area in each language.
    assert alert_text(indicator, "zh") == "中文消息 12.35"
    assert (alert_area(indicator, "en"), alert_area(indicator, "zh"), alert_area(base | {"region_name_en": ""}, "en")) == ("Town B", "乙镇", "乙镇")


def test_the_map_title_says_not_applicable_below_the_indicators_level(services):
    from callbacks.cockpit import cockpit_view

    def note(search: str) -> list[str]:
        return [s.children for s in cockpit_view(services, search, [])["area_title"] if s.className == "area-note"]

    # GDP (city only) drawn over Town B's communities: not collected there.
    assert note(f"?area={TB}&indicator=eco_gdp_year&period=2026-10") == ["本级不适用（该指标不在此层级统计）"]
    assert note(f"?area={TB}&indicator=eco_gdp_year&period=2026-10&lang=en") == ["Not applicable: not collected at this level"]
    # Retail sales are collected at communities: no note.
    assert note(f"?area={TB}&indicator=eco_sum&period=2026-10") == []


def test_the_kpi_export_gives_no_percentage_for_a_warning_level():
    from callbacks.export import kpi_table

    _head, [row] = kpi_table(_Kpis([_warning_level(3, 1, 2)]), CITY, OCT, "zh")
    assert row[5:12] == [3, "级", 1, None, 2, None, row[11]]  # value, unit, previous, (no %), last year, (no %)
