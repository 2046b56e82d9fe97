"""Cockpit callback functions called directly on a real (mini demo) database."""

from __future__ import annotations

import json

import plotly.io as pio
import pytest

from app import create_app
from callbacks.cockpit import cockpit_view, default_indicator
from callbacks.header import header_facts
from callbacks.map_layers import heat_cell_deg
from callbacks.navigation import next_search
from callbacks.state import ViewState, parse_search, to_search
from callbacks.ticker import ticker_items
from layouts import ids
from layouts.kpi import change_text, format_value
from layouts.map_figure import T_CONTEXT, T_VALUES, base_figure


@pytest.fixture
def services(mini_url):
    """Services on the mini demo, once on SQLite and once on PostgreSQL."""
    app = create_app({"database_url": mini_url, "cache_type": "NullCache"})
    return app.server.config["IOC_SERVICES"]


def _ops(view) -> dict:
    """Patch operations by location, e.g. ('data', 1, 'locations') -> value."""
    return {tuple(op["location"]): op["params"].get("value") for op in view["figure"].to_plotly_json()["operations"]}


def _crumbs(view) -> list[str]:
    return [c.to_plotly_json()["props"]["data-code"] for c in view["breadcrumb"] if "data-code" in c.to_plotly_json()["props"]]


def test_default_view_maps_the_citys_townships(services):
    repo = services.repo
    view = cockpit_view(services, "", ["heat", "open"])
    ops = _ops(view)
    assert ops[("data", T_VALUES, "locations")] == [c["code"] for c in repo.children(repo.root_code())]
    assert ops[("data", T_VALUES, "geojson")].startswith(f"/geo/children/{repo.root_code()}.json")
    assert _crumbs(view) == [repo.root_code()]


def test_click_on_township_updates_breadcrumb_and_kpis(services):
    repo = services.repo
    township = repo.children(repo.root_code())[0]["code"]
    search = next_search(ids.MAP, {"points": [{"location": township}]}, "")
    assert parse_search(search).area == township
    view = cockpit_view(services, search, [], [k.code for k in repo.kpi_values(township, repo.periods()[0])])
    assert _crumbs(view) == [repo.root_code(), township]
    expected = [format_value(k.value) for k in repo.kpi_values(township, repo.periods()[0])]
    assert view["kpi"]["value"] == expected
    assert _ops(view)[("data", T_VALUES, "locations")] == [c["code"] for c in repo.children(township)]


def test_community_view_shows_the_community_with_its_siblings_as_context(services):
    repo = services.repo
    township = repo.children(repo.root_code())[0]["code"]
    siblings = [c["code"] for c in repo.children(township)]
    view = cockpit_view(services, f"?area={siblings[1]}", ["open"])
    ops = _ops(view)
    assert ops[("data", T_VALUES, "locations")] == [siblings[1]]
    assert sorted(ops[("data", T_CONTEXT, "locations")]) == sorted(siblings[:1] + siblings[2:])
    assert _crumbs(view) == [repo.root_code(), township, siblings[1]]


def test_unknown_area_falls_back_to_the_city_with_a_message(services):
    view = cockpit_view(services, "?area=999999999", [])
    assert view["state"].area == services.repo.root_code()
    text = json.dumps([c.to_plotly_json() for c in view["area_title"]], default=str, ensure_ascii=False)
    assert "area-error" in text and "Traceback" not in text


def test_kpi_card_click_and_selectors_write_the_url(services):
    assert parse_search(next_search({"type": "kpi-card", "code": "env_aqi"}, 1, "?area=1")).indicator == "env_aqi"
    assert parse_search(next_search(ids.PERIOD_SELECT, "2026-05", "?area=1")).period == "2026-05"
    assert parse_search(next_search(ids.LANG_TOGGLE, 1, "?area=1")).lang == "en"
    assert parse_search(next_search(ids.LANG_TOGGLE, 2, "?area=1&lang=en")).lang == "zh"
    # A click on a point (no 'location') does not navigate.
    assert next_search(ids.MAP, {"points": [{"lon": 1, "lat": 2}]}, "?area=1") is not None
    assert next_search(ids.MAP, {"points": [{"lon": 1, "lat": 2}]}, "?area=1").__class__.__name__ == "NoUpdate"


def test_click_on_a_marker_drills_into_the_area_that_contains_it(services):
    repo = services.repo
    township = repo.children(repo.root_code())[2]
    search = next_search(ids.MAP, {"points": [{"lon": township["centroid_lon"], "lat": township["centroid_lat"]}]}, "",
                         lambda area, lon, lat: repo.child_at(area or repo.root_code(), lon, lat))
    assert parse_search(search).area == township["code"]


def test_url_state_round_trips_and_ignores_bad_values():
    state = ViewState(area="510182003", indicator="env_aqi", period="2026-10", mode="flood", lang="en")
    assert parse_search(to_search(state)) == state
    assert parse_search("?mode=party&lang=fr&period=junk") == ViewState()
    assert ViewState(period="junk").period_date() is None


def test_change_arrow_colour_follows_polarity_not_sign():
    assert change_text(0.05, 1, "MoM")[1].endswith("good")
    assert change_text(0.05, -1, "MoM")[1].endswith("bad")  # PM2.5 up is bad news
    assert change_text(-0.05, -1, "MoM")[1].endswith("good")
    assert "▼5.0%" in change_text(-0.05, -1, "MoM")[0]
    assert change_text(None, 1, "MoM") == ("MoM –", "kpi-change flat")


def test_no_figure_or_patch_names_an_outside_url(services):
    """Offline rule: plotly must not be pointed at CARTO or any other internet host."""
    township = services.repo.children(services.repo.root_code())[0]["code"]
    for payload in (
        base_figure().to_plotly_json(),
        cockpit_view(services, f"?area={township}", ["heat", "open", "camera", "hospital"])["figure"].to_plotly_json(),
    ):
        text = pio.json.to_json_plotly(payload)
        assert "http" not in text, text[text.find("http") - 80: text.find("http") + 80]


def test_intranet_tile_url_is_the_only_outside_reference_when_configured():
    fig = base_figure("http://tiles.intranet.local/{z}/{x}/{y}.png").to_plotly_json()
    assert fig["layout"]["map"]["style"]["sources"]["intranet"]["tiles"] == ["http://tiles.intranet.local/{z}/{x}/{y}.png"]


def test_header_and_ticker_follow_the_selected_area(services):
    repo = services.repo
    township = repo.children(repo.root_code())[0]["code"]
    facts = header_facts(services, f"?area={township}&lang=en")
    assert facts["mode"] == "Daily"
    assert int(facts["alerts"].replace(",", "")) == repo.open_alert_count(township)
    items = ticker_items(services, f"?area={township}")["items"]
    newest = repo.recent_events(township, 1)[0]
    assert any(newest["title"] in json.dumps(i.to_plotly_json(), ensure_ascii=False, default=str) for i in items)


def test_default_indicator_exists_at_the_deepest_level(services):
    indicators = services.cached("indicators")
    code = default_indicator(indicators)
    assert next(i for i in indicators if i["code"] == code)["level"] == max(i["level"] for i in indicators)


def test_heat_cells_stay_few_for_any_area_size():
    assert heat_cell_deg(1422) == pytest.approx(0.02, rel=0.5)
    assert heat_cell_deg(0.5) >= 0.0005


def test_a_card_whose_indicator_is_gone_renders_empty_not_an_error(services):
    view = cockpit_view(services, "", [], ["no_such_indicator"])
    assert view["kpi"]["value"] == ["–"] and view["kpi"]["change"][0]["className"] == "kpi-change flat"
