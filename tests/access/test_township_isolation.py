"""A township officer tries to reach another township's data through every entry point — the page,
URL parameters, crafted callback posts, boundary files, exports and the API — and gets none of it."""

from __future__ import annotations

import csv
import io
import json

from sqlalchemy import text

from datasources.access.accounts import Accounts
from layouts import ids
from layouts.i18n import t
from layouts.kpi import format_value
from tests import dash_posts as dp

KPI_TYPES = ("value", "unit", "name", "change", "yoy", "spark", "fresh", "card")


def _kpi_codes(city) -> dict[str, list[str]]:  # noqa: ANN001
    with city.engine.connect() as conn:
        heads = conn.execute(text("SELECT code FROM indicators WHERE headline = :t ORDER BY theme, code"), {"t": True}).scalars().all()
    return {f"kpi-{p}": list(heads) for p in KPI_TYPES}


def _render(city, client, search: str) -> dict:  # noqa: ANN001
    payload = dp.body(city.app, "map.figure", {
        "url.search": search, "layer-toggle.value": ["heat", "open"], "map-size.data": {"w": 1000, "h": 700, "vh": 1080},
    }, _kpi_codes(city))
    resp = dp.post(client, payload)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    return dp.response_props(resp)


def _map_locations(props: dict) -> list[str]:
    ops = props["map"]["figure"]["operations"]
    return next(o["params"]["value"] for o in ops if o["location"] == ["data", 1, "locations"])


def test_the_page_names_only_the_officers_own_township(city):
    layout = city.client().get("/_dash-layout").get_data(as_text=True)
    assert city.names[city.own] in layout
    for code in [city.other, *city.other_children]:
        assert city.names[code] not in layout and code not in layout


def test_another_townships_area_in_the_url_shows_unknown_area_and_only_own_data(city):
    props = _render(city, city.client(), f"?area={city.other}")
    crumbs = json.dumps(props["breadcrumb"]["children"], ensure_ascii=False)
    assert city.names[city.own] in crumbs and city.names[city.other] not in crumbs
    assert city.names[city.root] not in crumbs  # the breadcrumb starts at the officer's top area
    assert "无法显示该区域" in json.dumps(props["area-title"]["children"], ensure_ascii=False)
    assert _map_locations(props) == city.own_children
    # The first KPI card is the township's own figure, read independently from the database.
    code = _kpi_codes(city)["kpi-value"][0]
    with city.engine.connect() as conn:
        value = conn.execute(text(
            "SELECT value FROM indicator_values WHERE indicator_code = :i AND region_code = :r "
            "ORDER BY period DESC LIMIT 1"), {"i": code, "r": city.own}).scalar()
    kpis = props[ids.KPI_DATA]["data"]  # the cards' texts, one list per part in the cards' order
    shown = kpis["kpi_value"][kpis["codes"].index(code)]
    assert shown == format_value(value)


def test_a_community_of_another_township_is_as_unknown_as_a_made_up_code(city):
    client = city.client()
    for area in (city.other_children[0], "no-such-area"):
        props = _render(city, client, f"?area={area}")
        assert _map_locations(props) == city.own_children
        assert "无法显示该区域" in json.dumps(props["area-title"]["children"], ensure_ascii=False)


def test_crafted_posts_to_ticker_header_and_navigation_reveal_nothing_outside_scope(city):
    client = city.client()
    ticker = dp.post(client, dp.body(city.app, "ticker.children", {"url.search": f"?area={city.other}", "data-version.data": 1}))
    text_ = json.dumps(dp.response_props(ticker), ensure_ascii=False)
    assert t("unknown_area", "zh") in text_
    with city.engine.connect() as conn:
        other_titles = conn.execute(text(
            "SELECT e.title FROM events e JOIN region_closure c ON c.descendant_code = e.region_code "
            "WHERE c.ancestor_code = :t ORDER BY e.reported_at DESC LIMIT 20"), {"t": city.other}).scalars().all()
        own_open_alerts = conn.execute(text(
            "SELECT COUNT(*) FROM alerts a JOIN region_closure c ON c.descendant_code = a.region_code "
            "WHERE c.ancestor_code = :t AND a.cleared_at IS NULL"), {"t": city.own}).scalar_one()
    assert not any(title in text_ for title in other_titles)
    header = dp.post(client, dp.body(city.app, "header-mode.children", {"url.search": f"?area={city.other}", "data-version.data": 1}))
    assert dp.response_props(header)["header-alert-count"]["children"] == f"{own_open_alerts:,}"
    # A click on another township's community (by code, or by a point inside it) does not lead there.
    click = {"points": [{"location": city.other_children[0]}]}
    nav = dp.post(client, dp.body(city.app, "url.search", {"map.clickData": click, "url.search": f"?area={city.other}"},
                                  changed=["map.clickData"]))
    if nav.status_code == 200:  # the URL may change, but the screen it leads to is the officer's own
        search = dp.response_props(nav)["url"]["search"]
        assert _map_locations(_render(city, client, search)) == city.own_children


def test_boundary_files_hold_only_the_officers_subtree(city):
    client = city.client()
    for level, expected in ((1, [city.own]), (2, city.own_children)):
        features = client.get(f"/geo/level-{level}.json").get_json()["features"]
        assert [f["id"] for f in features] == expected
    assert client.get("/geo/level-0.json").get_json()["features"] == []


def test_exports_never_contain_another_townships_rows(city):
    client = city.client()
    assert client.get(f"/export/kpis.csv?area={city.other}").status_code == 404
    assert client.get(f"/export/kpis.csv?area={city.root}").status_code == 404
    resp = client.get("/export/kpis.csv")
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert rows and {r["地区代码"] for r in rows} == {city.own}


def test_the_api_answers_a_township_token_only_inside_its_township(city):
    secret, _ = Accounts(city.engine).create_token("township-feed-reader", "analyst", city.own, actor="test")
    api = city.app.server.test_client()
    h = {"Authorization": f"Bearer {secret}"}
    for url in (f"/api/v1/regions/{city.other}", f"/api/v1/regions/{city.root}", f"/api/v1/events?area={city.other}",
                f"/api/v1/kpis?area={city.other}", f"/api/v1/alerts?area={city.other_children[0]}"):
        resp = api.get(url, headers=h)
        assert resp.status_code == 404 and resp.get_json() == {"error": "unknown area", "parameter": "area"}, url
    events = api.get("/api/v1/events?limit=500", headers=h).get_json()
    assert events["area"] == city.own and events["events"]
    assert {e["region_code"] for e in events["events"]} <= city.subtree(city.own)
    regions = api.get("/api/v1/regions", headers=h).get_json()
    assert regions["region"]["code"] == city.own and [c["code"] for c in regions["children"]] == city.own_children


def test_a_session_cannot_be_used_on_the_api_and_a_token_cannot_open_the_screens(city):
    assert city.client().get("/api/v1/events").status_code == 401
    secret, _ = Accounts(city.engine).create_token("screen-tryer", "leader", None, actor="test")
    resp = city.app.server.test_client().get("/_dash-layout", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 401
