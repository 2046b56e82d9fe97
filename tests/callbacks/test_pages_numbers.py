"""Theme and topic pages on the hand-made city (tests/numbers_fixture.py): ranking, trend with month-on-month
and year-on-year, KPI cards, events, facilities, readings and indicator details as literal numbers worked
out by hand; the router's path templates; a topic added through a fixture catalog renders."""

from __future__ import annotations

import json
import shutil
from datetime import date, datetime

import flask
import pytest
from dash import no_update
from plotly.utils import PlotlyJSONEncoder
from sqlalchemy import text

from app import create_app
from callbacks import pages
from callbacks.panel_kinds import (
    PageView,
    detail_data,
    events_data,
    facilities_data,
    kpis_data,
    panel_indicator,
    readings_data,
    trend_changes,
)
from callbacks.router import PageSpec, match_path, page_key
from callbacks.state import ViewState
from datasources import db
from datasources.access.roles import Principal
from datasources.catalog_loader import CATALOG_DIR, load_catalog
from datasources.ingest import Writer
from datasources.models import Facility, Reading
from tests.components import by_class, texts
from tests.conftest import login, pg_schema, sqlite_copy
from tests.numbers_fixture import A1, A2, A3, B1, B2, CITY, TA, TB, build_numbers_db

OCT = "2026-10"
NOW = datetime(2026, 11, 20, 18, 0)


@pytest.fixture(scope="module")
def services(numbers_services):  # noqa: ANN001, ANN201 - tests/conftest.py: SQLite and PostgreSQL
    return numbers_services


def view(services, area: str = CITY, period: str = OCT, indicator: str = "", lang: str = "zh", path: str = "/theme/economy") -> PageView:  # noqa: ANN001
    state = ViewState(area=area, period=period, indicator=indicator, lang=lang)
    return PageView(state, path, services.cached("region", area), NOW)


def render(services, path: str, search: str) -> tuple:  # noqa: ANN001
    """render_page for every panel of the page."""
    n = len(pages.page_panels(services, path)[1])
    return pages.render_page(services, path, search, list(range(n)), list(range(n)), list(range(n)))


# ---------------------------------------------------------------------------------------------- router
def test_path_templates_match_one_segment_and_key_the_page():
    specs = {"cockpit": PageSpec("cockpit", "/", list), "theme": PageSpec("theme", "/theme/<id>", list)}
    assert match_path(specs, "/")[0].key == "cockpit"
    assert match_path(specs, "/theme/economy") == (specs["theme"], {"id": "economy"})
    assert match_path(specs, "/theme/economy/") == (specs["theme"], {"id": "economy"})
    assert page_key(specs, "/theme/public_service") == "theme:public_service"
    for bad in ("/theme", "/theme/a/b", "/theme/Economy", "/theme/../x", "/topic/economy"):
        assert match_path(specs, bad) is None, bad


# ---------------------------------------------------------------------------------------------- theme page
def test_theme_page_panels_and_default_indicator(services):
    _page, panels = pages.page_panels(services, "/theme/economy")
    assert [p["kind"] for p in panels] == ["kpis", "map", "trend", "ranking", "detail"]
    # headlines first, then the rest by code; eco_gdp_year exists at the city only, so eco_sum is the default
    assert panels[0]["indicators"] == ["eco_gdp_year", "eco_sum", "eco_jobs"]
    bodies, picks, period, _crumb, area, titles, options, title = render(services, "/theme/economy", "")
    assert (picks, period, area, title) == (["eco_sum"] * 5, OCT, ["彭州测试市"], "economy")
    assert titles == ["全部指标", "指标地图", "指标趋势", "下级区域排名", "指标说明"]
    assert [o["label"] for o in options[2]] == ["地区生产总值", "社零总额", "新增就业"]
    # the language switch rewrites the panels' titles and the pickers' choices (no page reload)
    *_, titles, options, _title = render(services, "/theme/economy", "?lang=en")
    assert titles == ["All indicators", "Map", "Trend", "Sub-areas ranked", "Indicator details"]
    assert [o["label"] for o in options[2]] == ["GDP", "Retail sales", "New jobs"]
    sent = json.dumps([render(services, path, "") for path in ("/theme/economy", "/theme/environment")], cls=PlotlyJSONEncoder)
    assert "http" not in sent.replace("http://www.w3.org/2000/svg", "")  # nothing to fetch from outside (no plotly template)
    assert pages.page_panels(services, "/theme/nope") is None
    assert pages.page_panels(services, "/topic/economy") is None


def test_kpi_cards_show_every_indicator_of_the_theme_and_link_to_picking_it(services):
    panel = pages.page_panels(services, "/theme/economy")[1][0]
    cards = kpis_data(services, view(services, indicator="eco_sum"), panel)
    values = [texts(by_class(c, "kpi-value")) for c in cards]
    # eco_gdp_year: the latest yearly value 2025-01 (450); eco_sum 25+30+35+5+25 = 120; eco_jobs has none
    assert values == [["450"], ["120"], ["–"]]
    assert [c.href for c in cards] == [f"/theme/economy?area={CITY}&indicator={c}&period={OCT}" for c in panel["indicators"]]
    assert "selected" in cards[1].className.split() and "selected" not in cards[0].className.split()
    # change of eco_sum: (120-100)/100 month on month, (120-150)/150 year on year
    assert texts(by_class(cards[1], "kpi-foot")) == ["环比 ▲20.0%", "同比 ▼20.0%"]


# ---------------------------------------------------------------------------------------------- ranking
def rank_rows(services, path: str, search: str) -> list[tuple]:  # noqa: ANN001
    _page, panels = pages.page_panels(services, path)
    idx = next(k for k, p in enumerate(panels) if p["kind"] == "ranking")
    body = render(services, path, search)[0][idx]
    return [tuple(texts(by_class(r, c))[0] if texts(by_class(r, c)) else "" for c in ("rank-no", "rank-name", "rank-value"))
            for r in by_class(body, "rank-row")]


def test_ranking_orders_child_areas_by_the_indicators_polarity(services):
    # eco_sum (higher is better): Town A 25+30+35 = 90, Town B 5+25 = 30
    assert rank_rows(services, "/theme/economy", f"?indicator=eco_sum&period={OCT}") == [("1", "甲镇", "90"), ("2", "乙镇", "30")]
    # PM2.5 (lower is better): Town A (20+30+40)/3 = 30 first, Town B (90+70)/2 = 80
    assert rank_rows(services, "/theme/environment", f"?indicator=env_pm25&period={OCT}&lang=en") == [
        ("1", "Town A", "30"), ("2", "Town B", "80")]
    # inside Town A: A3 35, A2 30, A1 25
    assert rank_rows(services, "/theme/economy", f"?area={TA}&indicator=eco_sum") == [
        ("1", "甲三社区", "35"), ("2", "甲二社区", "30"), ("3", "甲一社区", "25")]
    # max flooding (lower is better) in Town A: A1 3, A2 7, A3 has no value and comes last without a rank
    assert rank_rows(services, "/theme/emergency", f"?area={TA}&indicator=emg_max") == [
        ("1", "甲一社区", "3"), ("2", "甲二社区", "7"), ("–", "甲三社区", "–")]


def test_ranking_rows_link_to_drilling_and_say_how_they_rank(services):
    _page, panels = pages.page_panels(services, "/theme/environment")
    body = render(services, "/theme/environment", f"?indicator=env_pm25&period={OCT}")[0][3]
    assert texts(body)[0] == "按指标方向排名（越低越好） · μg/m³ · 2026-10"
    links = [r.children[1].href for r in by_class(body, "rank-row")]
    assert links == [f"/theme/environment?area={TA}&indicator=env_pm25&period={OCT}",
                     f"/theme/environment?area={TB}&indicator=env_pm25&period={OCT}"]


# ---------------------------------------------------------------------------------------------- trend
def test_trend_changes_month_on_month_and_year_on_year():
    series = [{"period": date(2025, 10, 1), "value": 150.0}, {"period": date(2026, 8, 1), "value": 96.0},
              {"period": date(2026, 9, 1), "value": 100.0}, {"period": date(2026, 10, 1), "value": 120.0}]
    ch = trend_changes(series, date(2026, 10, 1))
    assert (ch["value"], ch["previous"], ch["year_ago"]) == (120.0, 100.0, 150.0)
    assert ch["mom"] == pytest.approx(0.2) and ch["yoy"] == pytest.approx(-0.2)
    ch = trend_changes(series, date(2026, 9, 1))  # no 2025-09: no year on year
    assert (ch["value"], ch["previous"], ch["year_ago"], ch["yoy"]) == (100.0, 96.0, None, None)
    assert ch["mom"] == pytest.approx(100 / 96 - 1)
    assert trend_changes(series, date(2025, 9, 1))["value"] is None


def trend_body(services, path: str, search: str) -> list:  # noqa: ANN001
    _page, panels = pages.page_panels(services, path)
    return render(services, path, search)[0][next(k for k, p in enumerate(panels) if p["kind"] == "trend")]


def test_trend_of_the_city_shows_every_month_and_its_changes(services):
    body = trend_body(services, "/theme/economy", f"?indicator=eco_sum&period={OCT}")
    facts = body[0]
    # city eco_sum: 2025-10 150, 2026-08 96, 2026-09 100, 2026-10 120
    assert texts(facts) == ["120 万元", "最新值 2026-10", "环比 ▲20.0%", "同比 ▼20.0%", "近 48 个月"]
    assert [c.className for c in facts.children[1:3]] == ["kpi-change good trend-mom", "kpi-change bad trend-yoy"]
    trace = body[1].figure.data[0]
    assert list(trace.x) == ["2025-10", "2026-08", "2026-09", "2026-10"] and list(trace.y) == [150, 96, 100, 120]


def test_trend_colours_changes_by_polarity_and_follows_the_area(services):
    # PM2.5 in Town A: 2026-10 30, 2026-09 40, 2025-10 50: falling is good news for a lower-is-better indicator
    facts = trend_body(services, "/theme/environment", f"?area={TA}&indicator=env_pm25&lang=en")[0]
    assert texts(facts) == ["30 μg/m³", "Latest 2026-10", "MoM ▼25.0%", "YoY ▼40.0%", "last 48 months"]
    assert [c.className for c in facts.children[1:3]] == ["kpi-change good trend-mom", "kpi-change good trend-yoy"]
    # Town B eco_sum: 30 against 40 and 90
    facts = trend_body(services, "/theme/economy", f"?area={TB}&indicator=eco_sum")[0]
    assert texts(facts)[2:4] == ["环比 ▼25.0%", "同比 ▼66.7%"]


def test_an_indicator_without_values_says_so(services):
    body = trend_body(services, "/theme/economy", "?indicator=eco_jobs")
    assert texts(body) == ["该区域暂无此指标数据"]


# ---------------------------------------------------------------------------------------------- detail, events
def test_indicator_details(services):
    panel = {"kind": "detail", "indicators": ["svc_wmean"]}
    dl = detail_data(services, view(services, indicator="svc_wmean", lang="en"), panel)[0]
    facts = dict(zip(texts(dl)[0::2], texts(dl)[1::2], strict=True))
    assert facts["Unit"] == "%" and facts["Frequency"] == "monthly" and facts["Aggregation rule"] == "population-weighted mean"
    assert facts["Thresholds"] == "warn 90 / alarm 80 (higher is better)"
    assert facts["Last update"].startswith("period 2026-10, reported ")
    assert facts["Definition"] == "疫苗接种率 (wmean)" and facts["Lowest level"] == "community"


def test_events_panel_counts_the_categories_of_the_panel(services):
    panel = {"kind": "events", "categories": ["noise"]}
    body = events_data(services, view(services), panel)
    stats = dict(zip(texts(body[0])[1::2], texts(body[0])[0::2], strict=True))
    # October noise: events 1 (closed, 5), 2 (resolved, 3), 7 (closed, 4): 3 done of 3; 2 of 3 rated >= 4;
    # open now: event 18 (reported in November), with no due time
    assert stats == {"本期事件": "3", "办结率": "100.0%", "满意率": "66.7%", "当前在办": "1", "当前超期": "0"}
    rows = by_class(body, "event-row")
    assert [texts(by_class(r, "event-title"))[0] for r in rows] == ["事件18 noise", "事件7 noise", "事件2 noise", "事件1 noise"]
    assert [texts(by_class(r, "event-status"))[0] for r in rows] == ["待派遣", "已办结", "已处置", "已办结"]


# ---------------------------------------------------------------------------------------------- facilities, readings
PROJECTS = [  # id, region, attributes
    (101, A1, {"investment_yi": 10, "investment_done_yi": 4, "progress": 40, "planned_progress": 50, "delay_days": 15}),
    (102, A2, {"investment_yi": 6.5, "investment_done_yi": 6.5, "progress": 100, "planned_progress": 100, "delay_days": 0}),
    (103, B1, {"investment_yi": 3.5, "progress": 20, "planned_progress": 10}),
]
STATIONS = [(201, A1, 3.0, (2.5, 3.2)), (202, B2, 2.0, (1.0, 1.5))]  # id, region, warning level, readings at 10:00 and 11:00


def add_projects_and_stations(url: str) -> None:
    engine = db.make_engine(url)
    with engine.begin() as conn:
        conn.execute(Facility.__table__.insert(), [
            {"id": i, "kind": "major_project", "name": f"项目{i}", "lon": 103.1, "lat": 31.1, "region_code": region,
             "attributes": json.dumps(attrs), "live": False} for i, region, attrs in PROJECTS
        ] + [
            {"id": i, "kind": "river_station", "name": f"水位站{i}", "lon": 103.2, "lat": 31.2, "region_code": region,
             "attributes": json.dumps({"warning_level_m": warn}), "live": True} for i, region, warn, _ in STATIONS
        ])
        conn.execute(Reading.__table__.insert(), [
            {"facility_id": i, "metric": "water_level_m", "ts": datetime(2026, 11, 20, 10 + k), "value": v}
            for i, _, _, values in STATIONS for k, v in enumerate(values)
        ])
        conn.execute(text("UPDATE meta SET value = '8' WHERE key = 'data_version'"))
    engine.dispose()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def site_services(request, numbers_sqlite, tmp_path_factory):
    """The 'numbers' city plus three major projects and two river stations, on a copy of its own."""
    if request.param == "sqlite":
        url = sqlite_copy(numbers_sqlite, tmp_path_factory.mktemp("pages") / "sites.db")
        add_projects_and_stations(url)
        yield create_app({"database_url": url, "cache_type": "NullCache"}).server.config["IOC_SERVICES"]
        return
    with pg_schema("ioc_pages") as url:
        build_numbers_db(db.make_engine(url))
        add_projects_and_stations(url)
        yield create_app({"database_url": url, "cache_type": "NullCache"}).server.config["IOC_SERVICES"]


PROJECT_PANEL = {"kind": "facilities", "facility_kinds": ["major_project"],
                 "metrics": ["investment_yi", "investment_done_yi", "progress", "planned_progress", "delay_days"]}


def test_major_projects_investment_progress_against_plan_and_delays(site_services):
    body = facilities_data(site_services, view(site_services), PROJECT_PANEL)
    stats = dict(zip(texts(body[0])[1::2], texts(body[0])[0::2], strict=True))
    # 10 + 6.5 + 3.5 = 20; done 4 + 6.5 = 10.5; progress (40+100+20)/3 = 53.33; plan (50+100+10)/3; one late
    assert stats == {"数量": "3", "总投资(亿元) 合计": "20", "已完成投资(亿元) 合计": "10.5", "形象进度(%) 平均": "53.33",
                     "计划进度(%) 平均": "53.33", "滞后项目": "1"}
    rows = by_class(body, "facility-table")[0].children[1].children
    assert [texts(r) for r in rows] == [
        ["项目101", "甲一社区", "10", "4", "40", "50", "15"], ["项目102", "甲二社区", "6.5", "6.5", "100", "100", "0"],
        ["项目103", "乙一社区", "3.5", "–", "20", "10", "–"]]
    assert [r.className for r in rows] == ["behind", "", ""]  # 40 % done against 50 % planned
    town_b = facilities_data(site_services, view(site_services, area=TB), PROJECT_PANEL)
    assert texts(town_b[0])[:4] == ["1", "数量", "3.5", "总投资(亿元) 合计"]


def test_facilities_of_a_kind_the_database_lacks_show_an_empty_state(services):
    body = facilities_data(services, view(services), {"kind": "facilities", "facility_kinds": ["rescue_team"], "metrics": ["members"]})
    assert texts(body) == ["暂无数据：数据库中尚无“救援队伍”类设施"]


def test_river_levels_against_their_warning_levels(site_services):
    panel = {"kind": "readings", "facility_kinds": ["river_station"], "metrics": ["water_level_m", "warning_level_m"]}
    body = readings_data(site_services, view(site_services, lang="en"), panel)
    stats = dict(zip(texts(body[0])[1::2], texts(body[0])[0::2], strict=True))
    # latest: 3.2 at station 201 (warning 3.0: above), 1.5 at 202 (warning 2.0); mean (3.2 + 1.5) / 2
    assert stats == {"Stations": "2", "Highest": "3.2", "Mean": "2.35", "Stations above warning": "1"}
    maxima, means = body[1].figure.data
    assert list(maxima.y) == [2.5, 3.2] and list(means.y) == [1.75, 2.35]
    rows = body[2].children.children[1].children
    assert [texts(r)[:4] for r in rows] == [["水位站201", "A1", "3.2 ▲above warning", "3"], ["水位站202", "B2", "1.5", "2"]]
    empty = readings_data(site_services, view(site_services), {"kind": "readings", "facility_kinds": ["rain_gauge"], "metrics": ["rainfall_mm"]})
    assert texts(empty) == ["暂无数据：数据库中尚无“雨量站”站点的“雨量(mm)”读数"]


def test_a_panel_charts_the_picked_indicator_only_when_it_lists_it():
    panel = {"indicators": ["a", "b"]}
    assert (panel_indicator(panel, "b"), panel_indicator(panel, "z"), panel_indicator({}, "z")) == ("b", "a", "z")


# ---------------------------------------------------------------------------------------------- a new topic
def test_a_topic_added_through_the_catalog_gets_its_page(mini_pristine, tmp_path):
    folder = tmp_path / "catalog"
    shutil.copytree(CATALOG_DIR, folder)
    with (folder / "pages.csv").open("a", encoding="utf-8") as fh:
        fh.write("river_watch,topic,河湖巡查,River watch,14,drop\n")
    with (folder / "topic_panels.csv").open("a", encoding="utf-8") as fh:
        fh.write("river_watch,1,kpis,巡河指标,Patrol indicators,env_river_patrols emg_river_warning_margin,,,,\n")
        fh.write("river_watch,2,trend,巡河趋势,Patrol trend,env_river_patrols,,,,\n")
    url = sqlite_copy(mini_pristine, tmp_path / "mini.db")
    Writer(db.make_engine(url)).catalog(load_catalog(folder))
    app = create_app({"database_url": url, "cache_type": "NullCache"})
    client = login(app.server.test_client())
    raw = client.get("/_dash-layout", headers={"Referer": "http://localhost/topic/river_watch?lang=en"}).get_data(as_text=True)
    layout = json.loads(raw)
    found = json.dumps(layout, ensure_ascii=False)
    assert "River watch" in found and "Patrol indicators" in found and "Patrol trend" in found
    assert layout["props"]["className"] == "ioc-root page-topic page-topic-river_watch"
    assert '"href": "/topic/river_watch"' in found  # in the header's menu
    services = app.server.config["IOC_SERVICES"]
    bodies, picks, *_ = pages.render_page(services, "/topic/river_watch", "", [0, 1], [1])
    assert len(by_class(bodies[0], "kpi-value")) == 2 and picks == ["env_river_patrols"]
    assert texts(bodies[1])[0].endswith(("次", "km", "个"))  # the latest patrol count with its unit
    missing = json.dumps(client.get("/_dash-layout", headers={"Referer": "http://localhost/topic/nope"}).get_json(), ensure_ascii=False)
    assert "页面不存在：/topic/nope" in missing


# ---------------------------------------------------------------------------------------------- navigation, scope
def test_a_picker_navigates_only_when_its_value_differs_from_the_page(services):
    search = f"?area={TA}&indicator=eco_sum&period={OCT}"
    trend = {"type": "panel-pick", "idx": 2}
    assert pages.picked_search(services, "/theme/economy", search, trend, "eco_sum") is no_update  # the page's own echo
    assert pages.picked_search(services, "/theme/economy", search, trend, "eco_jobs") == f"?area={TA}&indicator=eco_jobs&period={OCT}"
    assert pages.picked_search(services, "/theme/economy", search, trend, "env_pm25") is no_update  # not one of the panel's
    assert pages.picked_search(services, "/theme/economy", search, {"type": "panel-pick", "idx": 99}, "eco_jobs") is no_update
    assert pages.picked_search(services, "/theme/economy", search, "page-period", "2026-09") == f"?area={TA}&indicator=eco_sum&period=2026-09"
    assert pages.picked_search(services, "/theme/economy", search, "page-period", OCT) is no_update
    assert pages.picked_search(services, "/theme/nope", search, trend, "eco_jobs") is no_update


def test_a_township_caller_sees_its_township_and_an_area_outside_it_falls_back(numbers_sqlite):
    app = create_app({"database_url": numbers_sqlite, "cache_type": "NullCache"})
    services = app.server.config["IOC_SERVICES"]
    with app.server.test_request_context("/"):
        flask.g.ioc_principal = Principal(name="t", role="township", scope=TA)
        *_, crumb, area, _titles, _options, _title = render(services, "/theme/economy", "?indicator=eco_sum")
        assert area == ["甲镇"] and [c.children for c in crumb] == ["甲镇"]  # the breadcrumb starts at the scope
        bodies, *_, area, _titles, _options, _title = render(services, "/theme/economy", f"?area={TB}&indicator=eco_sum")
        assert area == ["甲镇", " · 无法显示该区域：区域不存在或无权查看"]
        rows = by_class(bodies[3], "rank-row")
        assert [getattr(r, "data-code") for r in rows] == [A3, A2, A1]  # Town A's communities only
