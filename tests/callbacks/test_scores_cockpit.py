"""The cockpit on composite scores, for the hand-made city (tests/numbers_fixture.py): the map opens on the
overall score and paints the children's scores on a fixed 0–100 scale, the area title shows the score and
what pulls it down, and the indicator selector is grouped. Scores as worked out by hand in
tests/unit/test_scores.py (period 2026-10): TA 74.375, TB 24.6875, the city 51.5."""

from __future__ import annotations

import pytest
from dash import dcc, no_update

from callbacks.cockpit import cockpit_view, resolve_state
from callbacks.navigation import indicator_options, next_search
from callbacks.scores import SCORE_COLORBAR_LEN
from callbacks.state import ViewState
from layouts import ids
from layouts.map_figure import COLORBAR_LEN, T_VALUES, colorscale
from layouts.scores import score_colorscale
from tests.components import by_class as _find
from tests.components import texts as _texts
from tests.numbers_fixture import A1, A2, A3, CITY, TA, TB


@pytest.fixture(scope="module")
def services(numbers_services):  # noqa: ANN001, ANN201 - tests/conftest.py: SQLite and PostgreSQL
    return numbers_services


def _values(view: dict) -> dict:
    """The values trace's patch operations by property path, e.g. ('z',) or ('colorbar', 'title', 'text')."""
    ops = view["figure"].to_plotly_json()["operations"]
    return {tuple(op["location"][2:]): op["params"]["value"] for op in ops if op["location"][:2] == ["data", T_VALUES]}


def test_the_cockpit_opens_on_the_overall_score_and_paints_the_townships(services):
    view = cockpit_view(services, "", [])
    assert (view["state"].area, view["state"].indicator, view["state"].period) == (CITY, "score.overall", "2026-10")
    v = _values(view)
    assert v[("locations",)] == [TA, TB]
    assert v[("z",)] == pytest.approx([74.375, 24.6875])
    assert (v[("zauto",)], v[("zmin",)], v[("zmax",)]) == (False, 0, 100)  # a fixed scale: 74 is never 'the best red'
    assert v[("colorbar", "len")] == SCORE_COLORBAR_LEN  # shorter: the explanation panel hangs above it
    assert v[("colorscale",)] == score_colorscale()
    assert v[("colorbar", "title", "text")] == "分"
    # name, score, rank, themes scored
    assert v[("customdata",)] == [["甲镇", "74.4", "1/2", "4/4"], ["乙镇", "24.7", "2/2", "4/4"]]
    assert v[("hovertemplate",)] == (
        "<b>%{customdata[0]}</b><br>综合评分: %{customdata[1]} 分<br>排名: %{customdata[2]}"
        "<br>有评分领域: %{customdata[3]}<extra></extra>"
    )


def test_a_theme_score_of_the_communities_in_english(services):
    v = _values(cockpit_view(services, f"?area={TA}&indicator=score.environment&lang=en", []))
    assert v[("locations",)] == [A1, A2, A3]
    assert v[("z",)] == pytest.approx([87.5, 82.5, 76.25])
    assert v[("customdata",)] == [["A1", "87.5", "1/3", "1/1"], ["A2", "82.5", "2/3", "1/1"], ["甲三社区", "76.2", "3/3", "1/1"]]
    assert v[("colorbar", "title", "text")] == "pts"
    # (the numbers city names its themes by their ids)
    assert v[("hovertemplate",)] == (
        "<b>%{customdata[0]}</b><br>environment score: %{customdata[1]} pts<br>Rank: %{customdata[2]}"
        "<br>Indicators with data: %{customdata[3]}<extra></extra>"
    )


def test_an_indicator_after_a_score_gets_its_own_range_and_colours_back(services):
    v = _values(cockpit_view(services, "?indicator=env_pm25", []))
    assert v[("zauto",)] is True
    assert v[("colorscale",)] == colorscale(-1)
    assert v[("colorbar", "len")] == COLORBAR_LEN
    assert ("zmin",) not in v


def test_the_area_title_shows_the_score_and_what_pulls_it_down(services):
    title = cockpit_view(services, "", [])["area_title"]
    assert _texts(title) == [
        "彭州测试市", "综合评分", "51.5", "分", "4/4 项指标有数据",
        "拉低得分的指标",
        "群众满意度", "20 分", "预警 60 / 报警 40", "−25.0分",  # (100 - 0) / 4
        "疫苗接种率", "81 %", "预警 90 / 报警 80", "−11.8分",  # (100 - 53) / 4 = 11.75
        "PM2.5浓度", "55 μg/m³", "预警 35 / 报警 75", "−8.8分",  # (100 - 65) / 4 = 8.75
        "得分偏低的下级区域",
        "乙镇", "24.7",
    ]
    assert [h.className for h in _find(title, "score-headline")] == ["score-headline status-warn"]  # 50 <= 51.5 < 80
    items = _find(title, "score-why-item")
    assert [i.className for i in items] == [
        "score-why-item status-alarm", "score-why-item status-warn", "score-why-item status-warn", "score-why-item status-alarm"]
    link = _find(title, "score-why-name")[-1]
    assert isinstance(link, dcc.Link) and link.href == f"/?area={TB}&indicator=score.overall&period=2026-10"


def test_the_title_of_a_township_theme_score_in_english(services):
    title = cockpit_view(services, f"?area={TA}&indicator=score.environment&lang=en", [])["area_title"]
    assert _texts(title) == [
        "Town A", "environment score", "82.5", "pts", "1 of 1 indicators with data",
        "Indicators pulling it down", "PM2.5", "30 μg/m³", "warn 35 / alarm 75", "−17.5 pts",
        "Sub-areas pulling it down", "甲三社区", "76.2",
    ]


def test_a_score_without_indicators_or_data_says_so(services):
    title = cockpit_view(services, "?indicator=score.emergency", [])["area_title"]
    assert _texts(title) == ["彭州测试市", "emergency评分", "暂无评分"]
    title = cockpit_view(services, f"?area={TA}&period=2026-12", [])["area_title"]  # no period with data: the newest
    assert _texts(title)[:3] == ["甲镇", "综合评分", "74.4"]
    title = cockpit_view(services, "?area=nowhere&lang=en", [])["area_title"]
    assert [_texts(e) for e in _find(title, "area-error")] == [["Cannot show this area: unknown area or outside your scope"]]
    assert _texts(title)[:4] == ["Test City", "Overall score", "51.5", "pts"]


def test_score_codes_in_the_url_are_kept_and_unknown_ones_replaced(services):
    assert resolve_state(services, ViewState(indicator="score.governance"))[0].indicator == "score.governance"
    assert resolve_state(services, ViewState(indicator="score.nosuch"))[0].indicator == "score.overall"


def test_the_indicator_selector_is_grouped_scores_first_then_by_theme(services):
    options = indicator_options(services, "zh")
    assert [o["value"] for o in options] == [
        "#score", "score.overall", "score.economy", "score.governance", "score.emergency", "score.public_service",
        "score.environment",
        "#economy", "eco_gdp_year", "eco_jobs", "eco_sum",
        "#governance", "gov_last", "gov_min",
        "#emergency", "emg_max",
        "#public_service", "svc_wmean",
        "#environment", "env_pm25",
    ]
    headings = [o for o in options if o["value"].startswith("#")]
    assert all(o.get("disabled") for o in headings)
    assert not any(o.get("disabled") for o in options if not o["value"].startswith("#"))
    assert [o["label"] for o in options[:3]] == ["综合评分", "综合评分", "economy评分"]
    assert options[8]["label"] == "地区生产总值 (亿元)"
    en = indicator_options(services, "en")
    assert [o["label"] for o in en[:2]] == ["Scores", "Overall score"]
    # a heading is no indicator: picking one (a crafted post) navigates nowhere
    assert next_search(ids.INDICATOR_SELECT, "#economy", "?indicator=eco_sum") is no_update
