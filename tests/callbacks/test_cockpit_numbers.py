"""What the cockpit shows for the hand-made city (tests/numbers_fixture.py): map values and colours, hover
texts, KPI cards, event panel and breadcrumb, as literal numbers worked out by hand."""

from __future__ import annotations

import dataclasses
import math
from datetime import date

import flask
import pytest
from dash import dcc, html

from app import create_app
from callbacks.cockpit import (
    _pct,
    breadcrumb,
    cockpit_view,
    default_indicator,
    event_stats,
    kpi_parts,
    resolve_state,
)
from callbacks.map_layers import LayerView, _facilities, heat_cell_deg
from callbacks.state import ViewState
from config import Config
from datasources.access.roles import Principal
from layouts.kpi import sparkline_src
from layouts.map_figure import T_CONTEXT, T_FACILITY, T_HEAT, T_OPEN, T_VALUES, colorscale
from tests.components import by_class as _by_class
from tests.components import patch_ops as _ops
from tests.components import texts as _texts
from tests.numbers_fixture import A1, A2, A3, CITY, GEOMETRY_VERSION, TA, TB

OCT, NOV = date(2026, 10, 1), date(2026, 11, 1)
PM25_HOVER = "<b>%{customdata[0]}</b><br>PM2.5浓度: %{customdata[1]} μg/m³<br>排名: %{customdata[2]}<br>较上期: %{customdata[3]}<extra></extra>"


@pytest.fixture(scope="module")
def services(numbers_services):  # noqa: ANN001, ANN201 - tests/conftest.py: SQLite and PostgreSQL
    return numbers_services


# ---------------------------------------------------------------------------------------------- state


def test_empty_url_opens_the_city_on_the_newest_period_and_the_overall_score(services):
    state, error = resolve_state(services, ViewState())
    assert (state.area, state.indicator, state.period, error) == (CITY, "score.overall", "2026-10", None)


@pytest.mark.parametrize(("configured", "opens_on"), [
    ("env_pm25", "env_pm25"),  # any catalog indicator may be configured
    ("score.governance", "score.governance"),
    # an unknown code: the first headline of the deepest level (eco_gdp_year is a headline but exists at the
    # city only; eco_jobs is deepest but no headline)
    ("no_such_code", "eco_sum"),
    ("", "eco_sum"),
])
def test_the_map_opens_on_the_configured_indicator(services, configured, opens_on):
    configured_services = dataclasses.replace(services, config=services.config.with_overrides({"map_default": configured}))
    assert resolve_state(configured_services, ViewState())[0].indicator == opens_on
    # a URL naming an indicator wins over the configuration
    assert resolve_state(configured_services, ViewState(indicator="gov_min"))[0].indicator == "gov_min"


def test_url_values_that_exist_are_kept_and_others_replaced(services):
    state, error = resolve_state(services, ViewState(area=A2, indicator="gov_min", period="2026-08", lang="en"))
    assert (state.area, state.indicator, state.period, state.lang, error) == (A2, "gov_min", "2026-08", "en", None)
    state, error = resolve_state(services, ViewState(area="510182009", indicator="nope", period="2026-06"))
    assert (state.area, state.indicator, state.period, error) == (CITY, "score.overall", "2026-10", "unknown_area")


def test_a_township_caller_gets_its_township_and_an_area_outside_it_is_unknown(numbers_sqlite):
    """Inside a request ``services.repo`` is bound to the caller's scope: the default area is the scope's top
    and an area outside it falls back to it with the unknown-area message."""
    app = create_app({"database_url": numbers_sqlite, "cache_type": "NullCache"})
    services = app.server.config["IOC_SERVICES"]
    with app.server.test_request_context("/"):
        flask.g.ioc_principal = Principal(name="t", role="township", scope=TA)
        assert resolve_state(services, ViewState())[0].area == TA
        assert resolve_state(services, ViewState(area=A2))[1] is None
        state, error = resolve_state(services, ViewState(area=TB))
        assert (state.area, error) == (TA, "unknown_area")
        state, error = resolve_state(services, ViewState(area=CITY))
        assert (state.area, error) == (TA, "unknown_area")


def test_default_indicator_rules():
    inds = [
        {"code": "a", "level": 0, "headline": True},
        {"code": "b", "level": 2, "headline": False},
        {"code": "c", "level": 2, "headline": True},
        {"code": "d", "level": 2, "headline": True},
    ]
    assert default_indicator(inds) == "c"
    assert default_indicator([{"code": "x", "level": 1, "headline": False}, {"code": "y", "level": 0, "headline": True}]) == "x"
    assert default_indicator([{"code": "z", "level": 0, "headline": True}]) == "z"
    assert default_indicator([]) == ""


# ---------------------------------------------------------------------------------------------- the map


def test_map_of_a_lower_is_better_indicator_colours_low_values_green(services):
    view = cockpit_view(services, "?indicator=env_pm25", [])
    ops = _ops(view["figure"])
    assert ops[("data", T_VALUES, "locations")] == [TA, TB]
    assert ops[("data", T_VALUES, "z")] == [30.0, 80.0]  # A (20+30+40)/3, B (90+70)/2
    assert ops[("data", T_VALUES, "colorscale")] == colorscale(-1)
    assert ops[("data", T_VALUES, "colorscale")][0][1] == "#1a9850"  # the lowest PM2.5 is green
    assert ops[("data", T_VALUES, "geojson")] == f"/geo/children/{CITY}.json?v={GEOMETRY_VERSION}&s=all"  # the city's children only
    assert ops[("data", T_VALUES, "colorbar", "title", "text")] == "μg/m³"
    # hover: name, value, rank of 2 (lower is better: A first), change vs before: (30-40)/40, (80-30)/30
    assert ops[("data", T_VALUES, "customdata")] == [["甲镇", "30", "1/2", "-25.0%"], ["乙镇", "80", "2/2", "+166.7%"]]
    assert ops[("data", T_VALUES, "hovertemplate")] == PM25_HOVER
    assert ops[("data", T_CONTEXT, "locations")] == [] and ops[("data", T_CONTEXT, "z")] == []


def test_map_of_a_higher_is_better_indicator_colours_high_values_green(services):
    ops = _ops(cockpit_view(services, "?indicator=eco_sum&lang=en", [])["figure"])
    assert ops[("data", T_VALUES, "z")] == [90.0, 30.0]
    assert ops[("data", T_VALUES, "colorscale")] == colorscale(1)
    assert ops[("data", T_VALUES, "colorscale")][-1] == [1.0, "#1a9850"]
    # (90-60)/60 = +50 %, (30-40)/40 = -25 %
    assert ops[("data", T_VALUES, "customdata")] == [["Town A", "90", "1/2", "+50.0%"], ["Town B", "30", "2/2", "-25.0%"]]
    assert ops[("data", T_VALUES, "colorbar", "title", "text")] == "10k CNY"
    assert ops[("data", T_VALUES, "hovertemplate")] == (
        "<b>%{customdata[0]}</b><br>Retail sales: %{customdata[1]} 10k CNY<br>Rank: %{customdata[2]}"
        "<br>vs previous: %{customdata[3]}<extra></extra>"
    )


def test_map_of_a_town_shows_its_communities_with_ranks_and_gaps(services):
    ops = _ops(cockpit_view(services, f"?area={TA}&indicator=emg_max&lang=en", [])["figure"])
    assert ops[("data", T_VALUES, "locations")] == [A1, A2, A3]
    assert ops[("data", T_VALUES, "geojson")] == f"/geo/children/{TA}.json?v={GEOMETRY_VERSION}&s=all"
    assert ops[("data", T_VALUES, "z")] == [3.0, 7.0, None]
    # no previous values; A3 has no value, so no rank; its English name is empty: the Chinese one shows
    assert ops[("data", T_VALUES, "customdata")] == [["A1", "3", "1/3", "–"], ["A2", "7", "2/3", "–"], ["甲三社区", "–", "–", "–"]]


def test_map_of_a_community_shows_it_among_its_siblings(services):
    ops = _ops(cockpit_view(services, f"?area={A2}&indicator=env_pm25", [])["figure"])
    assert ops[("data", T_VALUES, "locations")] == [A2]
    assert ops[("data", T_VALUES, "customdata")] == [["甲二社区", "30", "1/1", "-25.0%"]]  # (30-40)/40
    assert ops[("data", T_CONTEXT, "locations")] == [A1, A3]
    assert ops[("data", T_CONTEXT, "z")] == [0, 0]
    # the community among its siblings: the children of its town, drawn from the town's boundaries
    assert ops[("data", T_CONTEXT, "geojson")] == ops[("data", T_VALUES, "geojson")] == f"/geo/children/{TA}.json?v={GEOMETRY_VERSION}&s=all"


def test_map_layers_show_heat_open_events_and_facilities(services):
    ops = _ops(cockpit_view(services, "", ["heat", "open", "camera"])["figure"])
    # heat: the city's 625 km² give 0.01° cells (sqrt(625) / 100 / 25), read from the roll-up
    heat = sorted(zip(ops[("data", T_HEAT, "lon")], ops[("data", T_HEAT, "lat")], ops[("data", T_HEAT, "z")], strict=True))
    assert heat == [(103.015, 31.015, 2), (103.235, 31.115, 2), (103.435, 31.215, 1), (103.445, 31.225, 1),
                    (103.615, 31.315, 2), (103.815, 31.415, 1)]
    assert ops[("data", T_HEAT, "zmax")] == 2 and ops[("data", T_HEAT, "visible")] is True
    # open events, most severe and newest first; event 10 (severity I) has no position and is left out
    assert ops[("data", T_OPEN, "marker", "color")] == [1, 2, 2, 2, 2, 2, 4, 4]
    assert ops[("data", T_OPEN, "lon")] == [103.433, 103.913, 103.443, 103.233, 103.253, 103.553, 103.113, 103.853]
    assert ops[("data", T_OPEN, "lat")][:2] == [31.213, 31.413]
    assert ops[("data", T_OPEN, "text")][0] == "Ⅰ级 事件5 fire · 已派遣"
    assert ops[("data", T_OPEN, "visible")] is True
    cam = T_FACILITY["camera"]
    assert ops[("data", cam, "visible")] is True
    assert ops[("data", cam, "lon")] == [103.048, 103.058, 103.25, 103.85]
    assert ops[("data", cam, "text")] == ["甲一路口", "甲一广场", "甲二桥头", "乙二路口"]
    assert ops[("data", cam, "marker", "size")] == [10.5, 10.5, 10.5, 10.5]  # 8 + 2.5 * sqrt(1)
    hosp = T_FACILITY["hospital"]
    assert ops[("data", hosp, "visible")] is False and ops[("data", hosp, "lon")] == []


def test_map_layers_that_are_off_send_nothing(services):
    ops = _ops(cockpit_view(services, "", [])["figure"])
    assert ops[("data", T_HEAT, "visible")] is False and ops[("data", T_HEAT, "z")] == []
    assert ops[("data", T_HEAT, "zmax")] == 1
    assert ops[("data", T_OPEN, "visible")] is False and ops[("data", T_OPEN, "lon")] == []


def test_town_heat_layer_uses_the_towns_grid(services):
    ops = _ops(cockpit_view(services, f"?area={TA}", ["heat"])["figure"])
    heat = sorted(zip(ops[("data", T_HEAT, "lon")], ops[("data", T_HEAT, "lat")], ops[("data", T_HEAT, "z")], strict=True))
    # 400 km²: sqrt(400) / 100 / 25 = 0.008 -> nearest multiple of 0.005 is 0.01
    assert heat == [(103.015, 31.015, 2), (103.235, 31.115, 2), (103.435, 31.215, 1), (103.445, 31.225, 1)]


def test_map_view_is_fitted_to_the_measured_size_and_scaled_to_the_screen(services):
    ops = _ops(cockpit_view(services, "", [], size={"w": 1200, "h": 800, "vh": 1620})["figure"])
    assert ops[("layout", "map", "center")]["lon"] == pytest.approx(103.5)
    assert ops[("layout", "map", "zoom")] == pytest.approx(math.log2((1200 - 48) * 360 / 512))  # width-limited
    assert ops[("layout", "uirevision")] == f"{CITY}:1200x800"
    # 1620 px high screen: scale 1620 / 1080 = 1.5
    assert ops[("layout", "hoverlabel", "font", "size")] == 24  # 16 * 1.5
    assert ops[("data", T_VALUES, "colorbar", "tickfont", "size")] == 21  # 14 * 1.5
    assert ops[("data", T_VALUES, "colorbar", "title", "font", "size")] == 21
    assert ops[("data", T_VALUES, "colorbar", "thickness")] == 21
    assert ops[("data", T_VALUES, "marker", "line", "width")] == 1.8  # 1.2 * 1.5
    assert ops[("data", T_CONTEXT, "marker", "line", "width")] == 1.5
    assert ops[("data", T_OPEN, "marker", "size")] == 15
    assert ops[("data", T_HEAT, "radius")] == 21


def test_map_scale_has_a_floor_and_a_ceiling(services):
    default = _ops(cockpit_view(services, "", [])["figure"])
    assert default[("layout", "hoverlabel", "font", "size")] == 16  # no size: 1080 px, scale 1
    assert default[("layout", "map", "zoom")] == pytest.approx(math.log2(952 * 360 / 512))  # 1000 x 760 px
    small = _ops(cockpit_view(services, "", [], size={"w": 800, "h": 600, "vh": 600})["figure"])
    assert small[("layout", "hoverlabel", "font", "size")] == 12  # at least 810 / 1080 = 0.75: 16 * 0.75
    assert small[("data", T_OPEN, "marker", "size")] == 8  # round(7.5)
    # The colour bar's text keeps the 12 px floor of every text on screen (14 * 0.75 = 10.5 would be below).
    assert small[("data", T_VALUES, "colorbar", "tickfont", "size")] == 12
    assert small[("data", T_VALUES, "colorbar", "title", "font", "size")] == 12
    huge = _ops(cockpit_view(services, "", [], size={"w": 800, "h": 600, "vh": 5000})["figure"])
    assert huge[("layout", "hoverlabel", "font", "size")] == 48  # at most 3: 16 * 3


def test_facility_markers_grow_with_the_count_they_stand_for():
    class Fake:
        def cached(self, method, area, kinds):
            return [{"lon": 103.1, "lat": 31.1, "n": 4, "name": None}, {"lon": 103.2, "lat": 31.2, "n": 100, "name": None},
                    {"lon": 103.3, "lat": 31.3, "n": 1, "name": "站"}, {"lon": 103.4, "lat": 31.4, "n": 2, "name": None}]

    from dash import Patch

    fig = Patch()
    from layouts.map_layers import BY_KEY

    _facilities(fig, LayerView(Fake(), CITY, 625.0, OCT, scale=2.0), BY_KEY["hospital"], [T_FACILITY["hospital"]], True)
    ops = _ops(fig)
    idx = T_FACILITY["hospital"]
    # 8 + 2.5 * sqrt(4) = 13 -> x2 = 26; 8 + 2.5 * 10 = 33 capped at 30 -> 60; 10.5 -> 21;
    # 8 + 2.5 * sqrt(2) = 11.5355 -> x2 = 23.071 -> one decimal: 23.1
    assert ops[("data", idx, "marker", "size")] == [26.0, 60.0, 21.0, 23.1]
    assert ops[("data", idx, "text")] == ["4", "100", "站", "2"]
    assert ops[("data", idx, "lon")] == [103.1, 103.2, 103.3, 103.4]
    assert ops[("data", idx, "lat")] == [31.1, 31.2, 31.3, 31.4]
    assert ops[("data", idx, "visible")] is True
    assert ops[("data", idx, "marker", "color")] == "#ff6b81"


@pytest.mark.parametrize(
    ("value", "previous", "text"),
    [
        (120.0, 100.0, "+20.0%"),
        (30.0, 40.0, "-25.0%"),
        (80.0, 30.0, "+166.7%"),
        (-5.0, -10.0, "+50.0%"),  # over |previous|
        (0.0, 5.0, "-100.0%"),
        (5.0, 5.0, "+0.0%"),
        (5.0, 0.0, "–"),
        (5.0, None, "–"),
        (None, 5.0, "–"),
    ],
)
def test_hover_change_against_the_previous_period(value, previous, text):
    assert _pct(value, previous) == text


@pytest.mark.parametrize(
    ("area_km2", "cell"),
    [
        (625, 0.01),  # sqrt(625) / 100 / 25 = 0.01 = 2 x 0.005
        (400, 0.01),  # 0.008 -> 1.6 x 0.005 rounds to 2
        (225, 0.005),  # 0.006 -> 1.2 rounds to 1
        (1422, 0.015),  # 0.01508 -> 3.02 rounds to 3
        (2500, 0.02),  # 0.02 = 4 x 0.005
        (100, 0.004),  # 0.004: finer than the roll-up, one significant digit
        (150, 0.005),  # 0.0049 -> "5e-03"
        (50, 0.003),  # 0.00283 -> "3e-03"
        (1, 0.0005),  # 0.0004 -> floor 0.0005
        (0, 0.0005),
        (-3, 0.0005),
    ],
)
def test_heat_grid_is_a_25th_of_the_area_side(area_km2, cell):
    assert heat_cell_deg(area_km2) == pytest.approx(cell, abs=1e-12)


# ---------------------------------------------------------------------------------------------- KPI cards


def test_kpi_cards_show_values_changes_freshness_and_status(services):
    state = ViewState(area=CITY, indicator="env_pm25", period="2026-10")
    parts = kpi_parts(services, state, ["eco_sum", "env_pm25", "gov_last", "eco_gdp_year", "svc_wmean", "gone"])
    middle = kpi_parts(services, state, ["eco_sum", "gone", "env_pm25"])  # a gone card in the middle
    assert middle["value"] == ["120", "–", "55"] and middle["name"] == ["社零总额", "gone", "PM2.5浓度"]
    assert parts["value"] == ["120", "55", "20", "450", "81", "–"]
    assert parts["unit"] == ["万元", "μg/m³", "分", "亿元", "%", ""]
    assert parts["name"] == ["社零总额", "PM2.5浓度", "群众满意度", "地区生产总值", "疫苗接种率", "gone"]
    # month on month: (120-100)/100, (55-35)/35, (20-65)/65, none, (81-90.625)/90.625
    assert parts["change"] == [
        {"children": "环比 ▲20.0%", "className": "kpi-change good"},
        {"children": "环比 ▲57.1%", "className": "kpi-change bad"},  # PM2.5 up: bad news
        {"children": "环比 ▼69.2%", "className": "kpi-change bad"},
        {"children": "环比 –", "className": "kpi-change flat"},
        {"children": "环比 ▼10.6%", "className": "kpi-change bad"},
        {"children": "", "className": "kpi-change flat"},
    ]
    # year on year: (120-150)/150, (55-50)/50, (20-50)/50, none, none
    assert parts["yoy"] == [
        {"children": "同比 ▼20.0%", "className": "kpi-change bad"},
        {"children": "同比 ▲10.0%", "className": "kpi-change bad"},
        {"children": "同比 ▼60.0%", "className": "kpi-change bad"},
        {"children": "同比 –", "className": "kpi-change flat"},
        {"children": "同比 –", "className": "kpi-change flat"},
        {"children": "", "className": "kpi-change flat"},
    ]
    assert parts["spark"] == [
        sparkline_src((96.0, 100.0, 120.0), "#35d07f"),  # ok: green
        sparkline_src((35.0, 55.0), "#f5b83d"),  # warn: amber
        sparkline_src((65.0, 20.0), "#ff4d4f"),  # alarm: red
        sparkline_src((), "#4da3ff"),
        sparkline_src((90.625, 81.0), "#f5b83d"),
        sparkline_src([]),
    ]
    assert "points='3,25 60,21 117,3'" in parts["spark"][0]
    assert parts["fresh"] == ["2026-10", "2026-10", "2026-07", "停更于 2025-01", "2026-10", ""]
    assert parts["card"] == [
        "kpi-card status-ok", "kpi-card status-warn selected", "kpi-card status-alarm", "kpi-card status-none stale",
        "kpi-card status-warn", "kpi-card status-none",
    ]


def test_kpi_cards_of_a_town_in_english(services):
    state = ViewState(area=TB, indicator="eco_sum", period="2026-10", lang="en")
    parts = kpi_parts(services, state)  # every headline, in catalog order
    assert parts["name"] == ["GDP", "Retail sales", "PM2.5", "Satisfaction", "Vaccination"]
    assert parts["value"] == ["–", "30", "80", "20", "75"]
    assert parts["unit"] == ["100M CNY", "10k CNY", "μg/m³", "pts", "%"]
    # Town B retail: (30-40)/40 = -25 %, year: (30-90)/90 = -66.7 %; PM2.5 (80-30)/30 = +166.7 %, (80-50)/50 = +60 %
    assert [c["children"] for c in parts["change"]] == ["MoM –", "MoM ▼25.0%", "MoM ▲166.7%", "MoM ▼42.9%", "MoM ▼11.8%"]
    assert [c["children"] for c in parts["yoy"]] == ["YoY –", "YoY ▼66.7%", "YoY ▲60.0%", "YoY ▼55.6%", "YoY –"]
    # GDP is collected at the city only (level 0): at a town it is not applicable, not "stale" or "no data".
    assert parts["fresh"] == ["Not applicable", "2026-10", "2026-10", "2026-07", "2026-10"]
    assert parts["card"] == [
        "kpi-card status-none na", "kpi-card status-alarm selected", "kpi-card status-alarm", "kpi-card status-alarm",
        "kpi-card status-alarm",
    ]


def test_kpi_cards_of_a_later_period_turn_stale(services):
    parts = kpi_parts(services, ViewState(area=CITY, indicator="", period="2026-12"), ["eco_sum", "gov_last"])
    assert parts["fresh"] == ["停更于 2026-10", "停更于 2026-07"]  # monthly lag 2 > 1, quarterly lag 5 > 4
    assert parts["card"] == ["kpi-card status-ok stale", "kpi-card status-alarm stale"]


# ---------------------------------------------------------------------------------------------- event panel


def test_event_panel_counts_closure_open_severity_and_sources(services):
    panel = event_stats(services, CITY, OCT, NOV, "zh")
    stats = _by_class(panel, "stat")
    # October: 10 events, done 6 (closed 1, 4, 7, 8 + resolved 2, 9) -> 60.0 %; open now (any month): 9
    assert [_texts(s)[0] for s in stats] == ["10", "60.0%", "9"]
    assert [_texts(s)[1] for s in stats] == ["事件总数", "办结率", "在办"]
    assert [_texts(s)[0] for s in _by_class(panel, "severity")] == ["2", "2", "3", "3"]  # I: 5, 10; II: 3, 6; …
    bars = _by_class(panel, "source-bar")
    assert [_texts(b) for b in bars] == [["网络理政", "4"], ["数字城管", "2"], ["网格治理", "2"], ["突发事件", "1"], ["感知报警", "1"]]
    assert [_by_class(b, "bar-fill")[0].style["width"] for b in bars] == ["100%", "50%", "50%", "25%", "25%"]


def test_event_panel_of_a_town_and_of_an_empty_period(services):
    panel = event_stats(services, TB, OCT, NOV, "en")
    # Town B: 7, 8, 9, 10; done 7, 8, 9 = 75.0 %; open now 10, 15, 17, 20
    assert [_texts(s)[0] for s in _by_class(panel, "stat")] == ["4", "75.0%", "4"]
    assert [_texts(s)[0] for s in _by_class(panel, "severity")] == ["1", "0", "2", "1"]
    empty = event_stats(services, CITY, date(2026, 12, 1), date(2027, 1, 1), "zh")
    assert [_texts(s)[0] for s in _by_class(empty, "stat")] == ["0", "–", "9"]
    assert _by_class(empty, "source-bar") == []
    thousand = event_stats(_Counts({"closed": 1234, "reported": 766}, {"hotline": 2000}, {}, 1500), CITY, OCT, NOV, "zh")
    # 2,000 events: 1234 / 2000 = 61.7 %; thousands separators everywhere
    assert [_texts(s)[0] for s in _by_class(thousand, "stat")] == ["2,000", "61.7%", "1,500"]
    assert _texts(_by_class(thousand, "source-bar")[0]) == ["网络理政", "2,000"]


class _Counts:
    """Services stand-in returning fixed event counts."""

    def __init__(self, status, source, severity, open_now):
        self.answers = {"status": status, "source": source, "severity": severity}
        self.open_now = open_now

    def cached(self, method, *args):
        return self.open_now if method == "open_event_count" else self.answers[args[-1]]


# ---------------------------------------------------------------------------------------------- breadcrumb


def test_breadcrumb_links_up_the_tree_and_keeps_the_view(services):
    state = ViewState(area=A1, indicator="env_pm25", period="2026-09", lang="en")
    items = breadcrumb(services.repo.ancestors(A1), state)
    assert [type(i).__name__ for i in items] == ["Span", "Span", "Span", "Span", "Span"]
    assert [i.className for i in items] == ["crumb-item", "crumb-sep", "crumb-item", "crumb-sep", "crumb current"]
    assert [items[k].to_plotly_json()["props"]["data-code"] for k in (0, 2, 4)] == [CITY, TA, A1]
    links = [items[0].children, items[2].children]
    assert all(isinstance(link, dcc.Link) for link in links)
    assert [link.children for link in links] == ["Test City", "Town A"]
    assert [link.href for link in links] == [
        f"/?area={CITY}&indicator=env_pm25&period=2026-09&lang=en", f"/?area={TA}&indicator=env_pm25&period=2026-09&lang=en",
    ]
    assert items[1].children == "›" and items[4].children == "A1"


def test_breadcrumb_of_the_top_area_is_its_name_only(services):
    items = breadcrumb(services.repo.ancestors(CITY), ViewState(area=CITY))
    assert len(items) == 1 and isinstance(items[0], html.Span)
    assert (items[0].children, items[0].className) == ("彭州测试市", "crumb current")


def test_area_title_says_when_the_indicator_has_no_data(services):
    view = cockpit_view(services, "?indicator=eco_jobs", [])
    assert _texts(view["area_title"]) == ["彭州测试市", "新增就业", "暂无数据"]
    view = cockpit_view(services, "?indicator=eco_jobs&lang=en", [])
    assert _texts(view["area_title"]) == ["Test City", "New jobs", "No data"]
    view = cockpit_view(services, "?indicator=eco_sum&area=nowhere&lang=en", [])
    assert _texts(view["area_title"]) == ["Test City", "Retail sales", "Cannot show this area: unknown area or outside your scope"]
    assert _texts(cockpit_view(services, f"?area={TB}&indicator=eco_sum", [])["area_title"]) == ["乙镇", "社零总额"]


# ---------------------------------------------------------------------------------------------- what the CSS hangs on


def _classes(component) -> list[str]:
    """className of every component in a tree, depth first."""
    if isinstance(component, list | tuple):
        return [c for k in component for c in _classes(k)]
    if isinstance(component, str) or component is None:
        return []
    own = [component.className] if getattr(component, "className", None) else []
    return own + _classes(getattr(component, "children", None))


def test_event_panel_structure_and_english_labels(services):
    panel = event_stats(services, TB, OCT, NOV, "en")
    assert _classes(panel) == [
        "stat-row",
        "stat stat-total", "stat-value", "stat-label",
        "stat stat-closed", "stat-value", "stat-label",
        "stat stat-open", "stat-value", "stat-label",
        "severity-row",
        "severity sev-1", "severity-n", "stat-label", "severity sev-2", "severity-n", "stat-label",
        "severity sev-3", "severity-n", "stat-label", "severity sev-4", "severity-n", "stat-label",
        "source-bars",
        # Town B in October: hotline 7, 8; city management 10; grid 9
        "source-bar", "source-name", "bar", "bar-fill", "source-n",
        "source-bar", "source-name", "bar", "bar-fill", "source-n",
        "source-bar", "source-name", "bar", "bar-fill", "source-n",
    ]
    assert _texts(panel) == [
        "4", "Events", "75.0%", "Closed", "4", "Open",
        "1", "Level I", "0", "Level II", "2", "Level III", "1", "Level IV",
        "Citizen hotline", "2", "City management", "1", "Grid governance", "1",
    ]
    assert [b.style["width"] for b in _by_class(panel, "bar-fill")] == ["100%", "50%", "50%"]


def test_closure_rate_counts_resolved_and_closed_only():
    panel = event_stats(_Counts({"resolved": 1, "reported": 3}, {"grid": 4}, {3: 4}, 3), CITY, OCT, NOV, "zh")
    assert [_texts(s)[0] for s in _by_class(panel, "stat")] == ["4", "25.0%", "3"]  # 1 / 4
    panel = event_stats(_Counts({"closed": 2, "processing": 6}, {"grid": 8}, {}, 6), CITY, OCT, NOV, "zh")
    assert [_texts(s)[0] for s in _by_class(panel, "stat")] == ["8", "25.0%", "6"]  # 2 / 8


def test_area_title_and_breadcrumb_classes(services):
    view = cockpit_view(services, "?indicator=eco_jobs&area=nowhere", [])
    assert _classes(view["area_title"]) == ["area-name", "area-indicator", "area-note", "area-error"]
    items = breadcrumb(services.repo.ancestors(A1), ViewState(area=A1))
    assert [items[k].children.className for k in (0, 2)] == ["crumb", "crumb"]


def test_cockpit_view_puts_every_part_of_the_selected_month_together(services):
    view = cockpit_view(services, f"?area={TA}&period=2026-09&lang=en", [], ["eco_sum", "env_pm25"])
    assert set(view) == {"state", "figure", "breadcrumb", "area_title", "kpi", "event_stats"}
    assert (view["state"].area, view["state"].period, view["state"].indicator) == (TA, "2026-09", "score.overall")
    assert [i.to_plotly_json()["props"]["data-code"] for i in view["breadcrumb"] if i.className != "crumb-sep"] == [CITY, TA]
    assert view["kpi"]["value"] == ["60", "40"]  # Town A in September: 20 * 3; (30 + 40 + 50) / 3
    assert view["kpi"]["fresh"] == ["2026-09", "2026-09"]
    # September only (not August, not October): events 11, 12, 13 in Town A; done 11, 12. The open count is
    # the present's, not September's: it says "now".
    assert [_texts(s)[:2] for s in _by_class(view["event_stats"], "stat")] == [["3", "Events"], ["66.7%", "Closed"], ["5", "Open now"]]


def test_kpi_cards_in_english_say_stale_since(services):
    parts = kpi_parts(services, ViewState(area=CITY, indicator="eco_sum", period="2026-10", lang="en"), ["eco_gdp_year"])
    assert parts["fresh"] == ["Stale since 2025-01"]
    assert parts["change"] == [{"children": "MoM –", "className": "kpi-change flat"}]


@pytest.mark.parametrize(("area_km2", "cell"), [(353.44, 0.01), (120.0, 0.004)])
def test_heat_grid_rounding_near_the_edges(area_km2, cell):
    # sqrt(353.44) = 18.8 -> 0.188 / 25 = 0.00752 = 1.504 x 0.005 -> 2 x 0.005
    # sqrt(120) = 10.954 -> 0.0043818 -> one significant digit: 0.004
    assert heat_cell_deg(area_km2) == pytest.approx(cell, abs=1e-12)


class _Recorder:
    """Services stand-in that records what is asked and answers from a table."""

    def __init__(self, answers):
        self.answers, self.calls = answers, []

    def cached(self, method, *args):
        self.calls.append((method, *args))
        return self.answers[method]


def test_heat_and_open_event_layers_round_positions_to_four_decimals_and_skip_unplaced_events():
    from dash import Patch

    from callbacks.map_layers import OPEN_EVENT_POINTS, _heat, _open_events
    from layouts.map_layers import BY_KEY

    rec = _Recorder({
        "event_density": [{"lon": 103.61325, "lat": 31.31275, "n": 3}, {"lon": 103.0, "lat": 31.0, "n": 5}],
        "open_events": [
            {"lon": 103.123456, "lat": 31.654321, "severity": 3, "title": "井盖缺失", "status": "processing"},
            {"lon": 103.2, "lat": None, "severity": 1, "title": "没有纬度", "status": "reported"},
            {"lon": None, "lat": 31.2, "severity": 1, "title": "没有经度", "status": "reported"},
        ],
    })
    fig = Patch()
    view = LayerView(rec, A1, 1.0, OCT, "en")
    _heat(fig, view, BY_KEY["heat"], [T_HEAT], True)
    _open_events(fig, view, BY_KEY["open"], [T_OPEN], True)
    ops = _ops(fig)
    assert rec.calls == [("event_density", A1, OCT, NOV, 0.0005), ("open_events", A1, OPEN_EVENT_POINTS)]
    assert OPEN_EVENT_POINTS == 120
    assert ops[("data", T_HEAT, "lon")] == [round(103.61325, 4), 103.0]
    assert ops[("data", T_HEAT, "lat")] == [round(31.31275, 4), 31.0]
    assert ops[("data", T_HEAT, "z")] == [3, 5] and ops[("data", T_HEAT, "zmax")] == 5
    assert ops[("data", T_OPEN, "lon")] == [103.1235] and ops[("data", T_OPEN, "lat")] == [31.6543]
    assert ops[("data", T_OPEN, "text")] == ["Level III 井盖缺失 · Processing"]
    assert ops[("data", T_OPEN, "marker", "color")] == [3]


def test_map_in_english_with_layers_follows_the_screen_scale(services):
    ops = _ops(cockpit_view(services, "?lang=en", ["open", "camera"], size={"w": 1000, "h": 300, "vh": 1620})["figure"])
    assert ops[("data", T_OPEN, "text")][0] == "Level I 事件5 fire · Dispatched"
    assert ops[("data", T_FACILITY["camera"], "marker", "size")] == [15.8] * 4  # 10.5 * 1.5 = 15.75
    # 300 px high: 252 px for 0.5° of latitude, less room than the width gives
    y1, y2 = (math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) for lat in (31.0, 31.5))
    assert ops[("layout", "map", "zoom")] == pytest.approx(math.log2(252 / (512 * (y2 - y1) / (2 * math.pi))))


def test_map_sizes_round_to_what_plotly_needs(services):
    ops = _ops(cockpit_view(services, "", [], size={"w": 1000, "h": 760, "vh": 1000})["figure"])
    # 1000 / 1080 = 0.9259: line widths to one decimal, pixel sizes to whole pixels
    assert ops[("data", T_VALUES, "marker", "line", "width")] == 1.1  # 1.111
    assert ops[("data", T_CONTEXT, "marker", "line", "width")] == 0.9  # 0.926
    assert ops[("data", T_HEAT, "radius")] == 13  # 12.96
    small = _ops(cockpit_view(services, "", [], size={"w": 1000, "h": 760, "vh": 600})["figure"])
    assert small[("data", T_HEAT, "radius")] == 10  # 14 * 0.75 = 10.5, rounded half to even


def test_an_area_with_a_single_child_still_maps_its_child(services):
    from callbacks.cockpit import map_patch

    region = dict(services.repo.region(TB), n_children=1)
    ind = next(i for i in services.repo.indicators() if i["code"] == "eco_sum")
    rows = services.repo.child_values("eco_sum", TB, OCT)[:1]
    ops = _ops(map_patch(services, ViewState(area=TB, period="2026-10"), region, ind, rows, services.repo.bounds(TB), set(), {}))
    assert ops[("data", T_VALUES, "geojson")] == f"/geo/children/{TB}.json?v={GEOMETRY_VERSION}&s=all"
    assert ops[("data", T_CONTEXT, "locations")] == []


def test_an_empty_database_opens_on_the_current_month():
    class Empty:
        config = Config()

        class repo:  # noqa: N801
            @staticmethod
            def root_code():
                return CITY

            @staticmethod
            def check_scope(area, scope=None):
                return None

        @staticmethod
        def cached(method):
            return []

    state, error = resolve_state(Empty(), ViewState())
    assert state.period == date.today().strftime("%Y-%m") and state.indicator == "" and error is None
