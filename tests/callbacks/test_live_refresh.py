"""Only changed data travels on a refresh: the cockpit's render compares every part with the hashes of
what the browser holds and sends the rest as no_update; a new event sends only what it changes."""

from __future__ import annotations

import shutil
from datetime import timedelta

import pytest
from dash import no_update

from app import create_app
from callbacks.cockpit import RENDER_PARTS, cockpit_view, render_outputs
from callbacks.delta import patch_delta
from datasources.ingest import Writer
from layouts.map_figure import T_OPEN, T_VALUES
from tests.conftest import AS_OF, pg_copy


@pytest.fixture(params=["sqlite", "postgresql"])
def live_app(request, mini_pristine, tmp_path):
    """The app on a private copy of the mini demo (this test writes), on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "live.db"
        shutil.copy(mini_pristine.removeprefix("sqlite:///"), path)
        yield create_app({"database_url": f"sqlite:///{path}", "cache_type": "NullCache"})
        return
    with pg_copy(request.getfixturevalue("mini_pg_template")) as url:
        app = create_app({"database_url": url, "cache_type": "NullCache"})
        yield app
        app.server.config["IOC_SERVICES"].base_repo.engine.dispose()


@pytest.fixture
def live(live_app):
    """Services of the app, and a writer on its database with a clock at the demo's as-of."""
    services = live_app.server.config["IOC_SERVICES"]
    return services, Writer(services.base_repo.engine, clock=lambda: AS_OF)


def _render(services, sent, layers=("open",)):
    view = cockpit_view(services, "", list(layers), None, {"w": 1000, "h": 760, "vh": 1080})
    return render_outputs(view, sent)


def _changed(out) -> set[str]:
    names = ("figure", *RENDER_PARTS)
    changed = set()
    for n, v in zip(names, out[:-1], strict=True):
        if n.startswith("kpi_"):  # ALL outputs: a list with one entry (or no_update) per card, never bare no_update
            assert isinstance(v, list), n
            if any(x is not no_update for x in v):
                changed.add(n)
        elif v is not no_update:
            changed.add(n)
    return changed


def test_a_refresh_with_nothing_changed_sends_nothing(live):
    services, _ = live
    first = _render(services, None)
    assert _changed(first) == {"figure", *RENDER_PARTS}  # nothing held yet: everything travels
    again = _render(services, first[-1])
    assert _changed(again) == set()
    assert again[-1] == first[-1]


def test_a_new_open_event_sends_the_open_points_and_counts_only(live):
    services, writer = live
    sent = _render(services, None)[-1]
    root = services.repo.root_code()
    child = services.repo.children(root)[0]
    writer.events([{
        "source": "emergency", "category": "fire", "theme": "emergency", "severity": 1, "title": "测试火情",
        "lon": child["centroid_lon"], "lat": child["centroid_lat"], "reported_at": AS_OF - timedelta(minutes=5),
        "status": "reported",
    }])
    out = _render(services, sent)
    changed = _changed(out)
    assert "figure" in changed and "event_stats" in changed
    assert not changed & {"breadcrumb", "area_title", "kpi_value", "kpi_name", "kpi_card"}
    groups = {(op["location"][0], op["location"][1]) for op in out[0].to_plotly_json()["operations"]}
    assert ("data", T_OPEN) in groups  # the new point
    assert ("data", T_VALUES) not in groups  # the choropleth did not change: not re-sent
    assert not any(loc[0] == "layout" for loc in groups)  # the view (and the user's zoom) stays
    fire = out[0].to_plotly_json()["operations"]
    texts = next(op["params"]["value"] for op in fire if op["location"] == ["data", T_OPEN, "text"])
    assert any("测试火情" in t for t in texts)


def test_patch_delta_keeps_whole_traces_and_rebuilds_the_same_operations(live):
    services, _ = live
    patch = cockpit_view(services, "", ["open", "heat"], None, {})["figure"]
    full, hashes = patch_delta(patch, None)
    def key(op):
        return repr(op["location"])

    # Grouped by trace (no operation overwrites another's parent, so the order within the patch is free).
    assert sorted(full.to_plotly_json()["operations"], key=key) == sorted(patch.to_plotly_json()["operations"], key=key)
    changed = dict(hashes) | {f"data.{T_VALUES}": "stale"}
    only_values, _ = patch_delta(patch, changed)
    locs = {tuple(op["location"][:2]) for op in only_values.to_plotly_json()["operations"]}
    assert locs == {("data", T_VALUES)}


def test_a_new_severe_alert_takes_the_tickers_first_place(live):
    services, writer = live
    from callbacks.ticker import ticker_items

    before = ticker_items(services, "")
    child = services.repo.children(services.repo.root_code())[1]
    writer.events([{
        "source": "emergency", "category": "hazmat", "theme": "emergency", "severity": 1, "title": "危化品泄漏测试",
        "lon": child["centroid_lon"], "lat": child["centroid_lat"], "reported_at": AS_OF - timedelta(minutes=1),
        "status": "reported",
    }])
    after = ticker_items(services, "")
    assert len(after["pinned"]) == 1
    pinned = after["pinned"][0].to_plotly_json()
    assert "危化品泄漏测试" in str(pinned["props"]["children"])
    assert "sev-1" in pinned["props"]["className"] and "tick-pinned" in pinned["props"]["className"]
    assert before["pinned"] != after["pinned"]


def test_pinned_alert_is_the_most_severe_then_the_newest():
    from datetime import datetime

    from callbacks.ticker import pinned_alert

    def a(i, sev, minute):
        return {"id": i, "severity": sev, "started_at": datetime(2026, 11, 20, 18, minute)}

    assert pinned_alert([a(1, 2, 50), a(2, 1, 10), a(3, 1, 30), a(4, 3, 59)])["id"] == 3
    assert pinned_alert([a(1, 2, 50), a(2, 2, 55)])["id"] == 2
    assert pinned_alert([a(1, 3, 50), a(2, 4, 55)]) is None  # III and IV are not severe: nothing pinned
    assert pinned_alert([]) is None


@pytest.mark.parametrize("live_app", ["sqlite"], indirect=True)  # routing by path: no SQL of its own to run on both
def test_the_router_serves_the_page_of_the_path_and_corrects_a_layout_built_for_another(live, live_app):
    import flask

    from callbacks import router
    from datasources.access.roles import Principal

    services, _ = live
    pages = {"cockpit": router.PageSpec("cockpit", "/", lambda ctx, lang: ["cockpit body"]),
             "console": router.PageSpec("console", "/console", lambda ctx, lang: ["console body"])}
    assert router.page_key(pages, "/console/") == "console" and router.page_key(pages, "/nowhere") is None
    server = live_app.server
    with server.test_request_context("/_dash-layout", headers={"Referer": "http://x/console?lang=en"}):
        flask.g.ioc_principal = Principal("duty", "duty")
        shell = router.initial_layout(services, pages)
        assert shell.className == "ioc-root page-console" and shell.lang == "en"
    with server.test_request_context("/_dash-layout"):  # no Referer: the cockpit, which the router then corrects
        flask.g.ioc_principal = Principal("duty", "duty")
        assert router.initial_layout(services, pages).className == "ioc-root page-cockpit"
        assert router.page_body(services, pages, "/console", "zh") == ("console", ["console body"])
        key, body = router.page_body(services, pages, "/nowhere", "zh")
        assert key == "missing" and "/nowhere" in str(body)



def test_a_mode_brings_its_layers_and_puts_its_panels_first(live):
    from callbacks.cockpit import mode_profile
    from layouts.cockpit import THEMES, mode_layers, panel_order

    services, _ = live
    flood = mode_profile(services, "flood")
    assert mode_layers(flood)[:3] == ["alerts", "rain_gauge", "river_station"]
    order = panel_order(list(THEMES), flood["panels"])
    # flood puts emergency, then environment first (indicator codes in the list are not panels); the rest keep
    # their order after them
    assert sorted(THEMES, key=order.get) == ["emergency", "environment", "economy", "governance", "public_service"]
    assert mode_profile(services, "no-such-mode") is None and mode_profile(services, None) is None
    assert panel_order(["a", "b", "c"], []) == {"a": 0, "b": 1, "c": 2}
    assert mode_layers(None) == ["heat", "open", "alerts"]


def test_kpi_texts_travel_once_as_lists_in_the_cards_order_and_only_what_changed():
    from callbacks.cockpit import kpi_data

    same = [no_update, no_update]
    changed = kpi_data(["a", "b"], {"kpi_value": ["1", "2"], "kpi_unit": same, "kpi_spark": ["<svg a>", "<svg b>"]},
                       [["3,24 117,3", "#35d07f"], ["", "#4da3ff"]])
    # unchanged parts are left out; a sparkline travels as its points and colour, not as an SVG
    assert changed == {"codes": ["a", "b"], "kpi_value": ["1", "2"], "kpi_spark": [["3,24 117,3", "#35d07f"], ["", "#4da3ff"]]}
    assert kpi_data(["a", "b"], {"kpi_value": same, "kpi_unit": no_update}, []) is no_update


def test_sparkline_uri_is_built_from_its_points_as_the_browser_builds_it():
    from layouts.kpi import SPARK_HEAD, spark_uri, sparkline_points, sparkline_src

    values = [1.0, 3.0, None, 2.0]
    points = sparkline_points(values)
    assert points == "3,25 41,3 117,14"  # x over 120 px, y over 28 px (1 → bottom, 3 → top), the gap skipped
    assert sparkline_src(values, "#35d07f") == spark_uri(points, "#35d07f") == (
        SPARK_HEAD + "><polyline fill='none' stroke='%2335d07f' stroke-width='2' points='3,25 41,3 117,14'/>"
        "<circle cx='117' cy='14' r='2.5' fill='%2335d07f'/></svg>")
    assert sparkline_src([5.0]) == SPARK_HEAD + "/>"


def test_card_badges_travel_card_by_card():
    from callbacks.delta import items_delta

    first, hashes = items_delta(["", "3 镇街告警", ""], None)
    assert first == ["", "3 镇街告警", ""]  # nothing held yet: every card
    again, _ = items_delta(["", "2 镇街告警", ""], hashes)
    assert again == [no_update, "2 镇街告警", no_update]
    fewer, _ = items_delta(["", "2 镇街告警"], hashes)  # another set of cards: all of them
    assert fewer == ["", "2 镇街告警"]
