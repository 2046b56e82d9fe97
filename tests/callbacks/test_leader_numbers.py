"""The leader's view on the hand-made city (tests/numbers_fixture.py): sub-area breaches on the KPI cards,
the open-alert panel, and the map layers kept in the URL, with the numbers worked out by hand."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest
from sqlalchemy import insert

from app import create_app
from callbacks.cockpit import breadcrumb, cockpit_view
from callbacks.leader import alert_panel_children, breach_badges
from callbacks.navigation import _keep_page_params, next_search
from callbacks.state import ViewState, parse_search, to_search
from datasources.models import Alert
from layouts import ids
from layouts.alert_text import alert_summary, rounded
from layouts.map_figure import T_FACILITY, T_HEAT, T_NAMES, T_OPEN
from tests.components import by_class as _by_class
from tests.components import patch_ops as _ops
from tests.conftest import sqlite_copy
from tests.numbers_fixture import A1, A2, A3, B1, B2, CITY, TA, TB

OCT, SEP = date(2026, 10, 1), date(2026, 9, 1)


@pytest.fixture(scope="module")
def services(numbers_services):  # noqa: ANN001, ANN201 - tests/conftest.py: SQLite and PostgreSQL
    return numbers_services


def _text(component) -> str:
    if isinstance(component, str):
        return component
    if isinstance(component, list | tuple):
        return "".join(_text(c) for c in component)
    children = getattr(component, "children", None)
    return _text(children) if children is not None else ""


# ---------------------------------------------------------------------------------------------- breaches


def test_children_breaching_each_headline_are_counted_in_sql(services):
    repo = services.repo
    # October, the townships: eco_sum TA 25+30+35 = 90 (< warn 100), TB 5+25 = 30 (< alarm 50);
    # env_pm25 (lower is better) TA mean 30 (ok), TB mean 80 (> alarm 75); gov_last at 2026-07: TA takes
    # A1's 62 (reported last, ok), TB takes B2's 20 (tie on the date, higher code; < alarm 40);
    # svc_wmean TA (1000*90 + 2000*84 + 3000*80) / 6000 = 83 (< warn 90), TB (1500*70 + 500*90) / 2000 = 75
    # (< alarm 80). eco_gdp_year has no thresholds; no indicator without a breach is listed.
    assert repo.child_breaches(CITY, OCT) == {
        "eco_sum": {"warn": 1, "alarm": 1, "children": 2},
        "env_pm25": {"warn": 0, "alarm": 1, "children": 2},
        "gov_last": {"warn": 0, "alarm": 1, "children": 2},
        "svc_wmean": {"warn": 1, "alarm": 1, "children": 2},
    }
    # Town A's communities: eco_sum 25, 30, 35 all < 50; env_pm25 40 > 35; gov_last 58 < 60; svc_wmean 84 and
    # 80 < 90 (80 is on the alarm threshold: still only a warning), 90 on the warning threshold: fine.
    assert repo.child_breaches(TA, OCT) == {
        "eco_sum": {"warn": 0, "alarm": 3, "children": 3},
        "env_pm25": {"warn": 1, "alarm": 0, "children": 3},
        "gov_last": {"warn": 1, "alarm": 0, "children": 3},
        "svc_wmean": {"warn": 2, "alarm": 0, "children": 3},
    }
    # September: eco_sum TA 60 (warn), TB 40 (alarm); svc_wmean TA 92.5 (ok), TB (1500*80 + 500*100) / 2000 = 85
    # (warn); env_pm25 TA 40 (warn), TB 30 (ok); gov_last still 2026-07.
    sep = repo.child_breaches(CITY, SEP)
    assert sep["eco_sum"] == {"warn": 1, "alarm": 1, "children": 2}
    assert sep["svc_wmean"] == {"warn": 1, "alarm": 0, "children": 2}
    assert sep["env_pm25"] == {"warn": 1, "alarm": 0, "children": 2}
    assert repo.child_breaches(A1, OCT) == {}  # a community has no children


def test_city_cards_say_how_many_townships_breach(services):
    codes = ["eco_sum", "env_pm25", "eco_gdp_year", "svc_wmean"]
    zh = breach_badges(services, ViewState(area=CITY, period="2026-10"), codes)
    assert zh["text"] == ["2 镇街告警", "1 镇街告警", "", "2 镇街告警"]
    assert zh["cls"] == ["kpi-breach alarm", "kpi-breach alarm", "kpi-breach", "kpi-breach alarm"]
    assert zh["title"][0] == "2 个镇街中 2 个告警：1 个越过预警值，1 个越过报警值"
    en = breach_badges(services, ViewState(area=TA, period="2026-10", lang="en"), ["env_pm25", "eco_sum", "svc_wmean"])
    assert en["text"] == ["1 in alarm", "3 in alarm", "2 in alarm"]
    assert en["cls"] == ["kpi-breach warn", "kpi-breach alarm", "kpi-breach warn"]
    assert en["title"][1] == "3 of 3 communities in alarm: 0 past the warning and 3 past the alarm threshold"
    leaf = breach_badges(services, ViewState(area=A1, period="2026-10"), ["eco_sum"])
    assert leaf == {"text": [""], "cls": ["kpi-breach"], "title": [""]}


# ---------------------------------------------------------------------------------------------- alert panel


def test_alert_panel_counts_grades_and_lists_most_severe_first(services):
    children = alert_panel_children(services, ViewState(area=CITY, indicator="env_pm25", period="2026-10"))
    # open: alert 2 (I, A3, 10-12), alert 1 (II, Town B, 10-31), alert 4 (III, B1, 10-31); alert 3 was cleared
    counts = [_text(c) for c in _by_class(children, "alert-count")]
    assert counts == ["1Ⅰ级", "1Ⅱ级", "1Ⅲ级", "0Ⅳ级"]
    assert [c.className for c in _by_class(children, "alert-count")][-1] == "alert-count sev-4 zero"
    items = _by_class(children, "alert-item")
    assert [i.to_plotly_json()["props"]["data-area"] for i in items] == [A3, TB, B1]
    assert [_text(_by_class(i, "alert-area")) for i in items] == ["甲三社区", "乙镇", "乙一社区"]
    assert [_text(_by_class(i, "alert-text")) for i in items] == ["Ⅰ级事件在办", "PM2.5 超过报警值", "接种率偏低"]
    assert [_text(_by_class(i, "alert-time")) for i in items] == ["10-12 20:05", "10-31 08:00", "10-31 08:00"]
    # each leads to its own area, the rest of the view kept
    hrefs = [_by_class(i, "alert-link")[0].href for i in items]
    assert hrefs[0] == f"/?area={A3}&indicator=env_pm25&period=2026-10"
    assert _text(_by_class(children, "alert-more")) == ""
    assert _by_class(children, "alert-now") == []  # the newest period: nothing to say
    past = alert_panel_children(services, ViewState(area=CITY, period="2026-09", lang="en"))
    assert _text(_by_class(past, "alert-now")) == "Open now (not the selected period)"
    assert [_text(c) for c in _by_class(past, "alert-count")] == ["1I", "1II", "1III", "0IV"]  # the same alerts


def test_alert_panel_of_a_township_in_english(services):
    children = alert_panel_children(services, ViewState(area=TB, indicator="eco_sum", period="2026-10", lang="en", layers="camera"))
    items = _by_class(children, "alert-item")
    assert [_text(_by_class(i, "alert-area")) for i in items] == ["Town B", "B1"]
    assert [_text(c) for c in _by_class(children, "alert-count")] == ["0I", "1II", "1III", "0IV"]
    assert _by_class(items[1], "alert-link")[0].href == f"/?area={B1}&indicator=eco_sum&period=2026-10&lang=en&layers=camera"
    empty = alert_panel_children(services, ViewState(area=A1, lang="en"))
    assert _text(_by_class(empty, "alert-none")) == "No open alerts"


def test_alerts_of_one_grade_are_newest_first_and_the_rest_are_counted(numbers_sqlite, tmp_path: Path):
    url = sqlite_copy(numbers_sqlite, tmp_path / "alerts.db")
    app = create_app({"database_url": url, "cache_type": "NullCache"})
    services = app.server.config["IOC_SERVICES"]
    rows = [
        {"id": 10 + k, "rule": "threshold:env_pm25", "severity": 2, "region_code": code, "indicator_code": "env_pm25",
         "message": "m", "value": value, "started_at": datetime(2026, 10, 20 + k, 8, 0), "lon": 103.1, "lat": 31.1}
        for k, (code, value) in enumerate([(A1, 81.2345), (A2, 96.04), (B2, 123.456)])
    ]
    with services.base_repo.engine.begin() as conn:
        conn.execute(insert(Alert.__table__), rows)
    import callbacks.leader as leader

    old, leader.ALERT_ITEMS = leader.ALERT_ITEMS, 4
    try:
        children = alert_panel_children(services, ViewState(area=CITY, period="2026-10"))
    finally:
        leader.ALERT_ITEMS = old
    items = _by_class(children, "alert-item")
    # grade I, then grade II newest first: Town B (10-31), B2 (10-22), A2 (10-21), A1 (10-20); four of six shown
    assert [i.to_plotly_json()["props"]["data-area"] for i in items] == [A3, TB, B2, A2]
    assert [i.to_plotly_json()["props"]["data-severity"] for i in items] == ["1", "2", "2", "2"]
    # threshold alerts name the indicator and its value, rounded (123.456 -> 123, 96.04 -> 96)
    assert _text(_by_class(items[2], "alert-text")) == "PM2.5浓度 123 μg/m³"
    assert _text(_by_class(items[3], "alert-text")) == "PM2.5浓度 96 μg/m³"
    assert [_text(c) for c in _by_class(children, "alert-count")][:2] == ["1Ⅰ级", "4Ⅱ级"]
    assert _text(_by_class(children, "alert-more")) == "另有 2 条"
    services.base_repo.engine.dispose()


@pytest.mark.parametrize(("value", "text"), [(81.2345, "81.2"), (96.04, "96"), (123.456, "123"), (1234.5, "1,234"), (-0.04, "0")])
def test_alert_numbers_are_rounded(value, text):
    assert rounded(value) == text


def test_alert_texts_name_the_area_once():
    event = {"kind": "event", "message": "安全隐患 · 银口社区", "region_name": "银口社区"}
    assert alert_summary(event, "zh", {}) == "安全隐患"
    reading = {"kind": "reading", "rule_name_zh": "河道水位", "rule_name_en": "River level", "value": 3.14159,
               "message": "甲站 河道水位 3.14159 高于 3", "region_name": "甲镇"}
    assert alert_summary(reading, "en", {}) == "River level 3.1"
    surge = {"kind": "surge", "message": "甲镇 噪声投诉：24小时 12.3456 起", "region_name": "甲镇"}
    assert alert_summary(surge, "zh", {}) == "噪声投诉：24小时 12.35 起"  # as the ticker rounds a message


# ---------------------------------------------------------------------------------------------- layers in the URL


def test_layers_round_trip_through_the_url():
    state = parse_search("?area=510182001&layers=camera,bogus,heat,camera")
    assert state.layers == "heat,camera" and state.layer_list() == ["heat", "camera"]
    assert to_search(state) == "?area=510182001&layers=heat,camera"
    assert parse_search(to_search(state)) == state
    for bad in ("?layers=<script>", "?layers=", "?layers=%00", "?layers=" + "x" * 5000, "?layers=heat&layers=nope"):
        assert parse_search(bad).layers == "" and parse_search(bad).layer_list() is None, bad
    assert to_search(ViewState(area=CITY)) == f"?area={CITY}"  # no layers named: none written


def test_clicks_links_and_the_language_switch_keep_the_layers(services):
    search = f"?area={CITY}&layers=alerts,shelter"
    click = {"points": [{"location": TA}]}
    assert next_search(ids.MAP, click, search) == f"?area={TA}&layers=alerts,shelter"
    assert next_search(ids.LANG_TOGGLE, 1, search) == f"?area={CITY}&lang=en&layers=alerts,shelter"
    assert _keep_page_params("?lang=en", "?layers=heat&x=1") == "?lang=en&x=1"  # layers belong to the view state
    crumbs = breadcrumb(services.repo.ancestors(TA), parse_search(f"?area={TA}&layers=camera"))
    assert crumbs[0].children.href == f"/?area={CITY}&layers=camera"


def test_the_map_draws_the_layers_the_url_names(services):
    ops = _ops(cockpit_view(services, f"?area={CITY}&layers=camera", None)["figure"])
    assert ops[("data", T_FACILITY["camera"], "visible")] is True
    assert len(ops[("data", T_FACILITY["camera"], "lon")]) == 4  # cameras 1, 2, 3 and 6
    assert ops[("data", T_HEAT, "visible")] is False and ops[("data", T_OPEN, "visible")] is False
    # the picker (set from the URL in the browser) has the last word: a switch shows before the URL follows
    ops = _ops(cockpit_view(services, f"?area={CITY}&layers=camera", ["open"])["figure"])
    assert ops[("data", T_OPEN, "visible")] is True and ops[("data", T_FACILITY["camera"], "visible")] is False
    nothing = _ops(cockpit_view(services, f"?area={CITY}&layers=zzz", None)["figure"])
    assert nothing[("data", T_OPEN, "visible")] is False and nothing[("data", T_HEAT, "visible")] is False


def test_the_map_names_the_areas_it_draws(services):
    ops = _ops(cockpit_view(services, f"?area={CITY}", [])["figure"])
    assert ops[("data", T_NAMES, "text")] == ["甲镇", "乙镇"]
    assert ops[("data", T_NAMES, "lon")] == [103.25, 103.75] and ops[("data", T_NAMES, "lat")] == [31.25, 31.25]
    assert ops[("data", T_NAMES, "customdata")] == [[400.0, 0], [225.0, 0]]  # km², not the current area
    # a community is drawn among its siblings: their names, the current one marked
    leaf = _ops(cockpit_view(services, f"?area={B2}&lang=en", [])["figure"])
    assert leaf[("data", T_NAMES, "text")] == ["B1", "B2"]
    assert leaf[("data", T_NAMES, "customdata")] == [[125.0, 0], [100.0, 1]]


def test_a_topic_map_fills_only_its_own_layers_by_their_slots(services):
    from dash import Patch

    from callbacks.map_layers import LayerView, fill_area_names, fill_layers
    from layouts.map_layers import names_slot, trace_slots

    keys = ["alerts", "camera", "shelter"]
    assert trace_slots(keys) == {"camera": [2], "shelter": [3], "alerts": [4, 5, 6]} and names_slot(keys) == 7
    fig = Patch()
    fill_layers(fig, LayerView(services, CITY, 625.0, OCT, "en"), on=["camera", "alerts"], keys=keys)
    fill_area_names(fig, services.repo.children(CITY), "en", keys=keys)
    ops = _ops(fig)
    assert ops[("data", 2, "visible")] is True and ops[("data", 2, "text")] == ["甲一路口", "甲一广场", "甲二桥头", "乙二路口"]
    assert ops[("data", 3, "visible")] is False and ops[("data", 3, "lon")] == []  # no shelter in the city
    # the alert core: every open alert with a position, most severe first (the fixture's have none: empty)
    assert ops[("data", 6, "visible")] is True
    assert ops[("data", 7, "text")] == ["Town A", "Town B"]
    assert max(i for (_, i, *_rest) in ops) == 7  # nothing beyond the figure's own traces
