"""Hostile requests against every entry point: oversized and malformed bodies, made-up ids, NULs and
surrogates, wrong JSON types, forged forms, open redirects. None gets a 5xx or a traceback; the
security headers are on every answer; no software versions are given away."""

from __future__ import annotations

import json
import re
import sys
import threading
import urllib.request

import dash
import plotly
import pytest
from sqlalchemy import text
from werkzeug.serving import make_server

from callbacks.security import QuietRequestHandler
from layouts.i18n import t
from tests import dash_posts as dp
from tests.access.test_township_isolation import _kpi_codes, _map_locations, _render


def _headers_ok(resp) -> None:  # noqa: ANN001
    csp = resp.headers["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert "'unsafe-eval'" not in csp and "'unsafe-inline'" not in directives["script-src"]
    assert directives["frame-ancestors"] == "'none'" and directives["object-src"] == "'none'"
    assert all("*" not in v and "http" not in v for v in directives.values())  # nothing off-site
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Referrer-Policy"] == "same-origin"


def test_security_headers_on_pages_callbacks_files_api_and_errors(city_sqlite):
    client = city_sqlite.client("leader")
    api = city_sqlite.app.server.test_client()
    answers = [
        client.get("/"), client.get("/_dash-layout"), client.get("/geo/level-1.json"), client.get("/export/kpis.csv"),
        dp.post(client, dp.body(city_sqlite.app, "ticker.children", {"url.search": "", "data-version.data": 1})),
        api.get("/login"), api.get("/api/v1/openapi.json"), api.get("/api/v1/events"), client.get("/geo/level-99.json"),
    ]
    for resp in answers:
        _headers_ok(resp)
    assert answers[0].headers["Cache-Control"] == "no-store" and "private" in answers[2].headers["Cache-Control"]
    # The session cookie: HttpOnly and SameSite (Secure follows IOC_COOKIE_SECURE, off for plain-HTTP demos).
    page = city_sqlite.app.server.test_client().get("/login")
    cookie = page.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_no_software_versions_in_pages_or_headers(city_sqlite):
    client = city_sqlite.client("leader")
    server = make_server("127.0.0.1", 0, city_sqlite.app.server, threaded=True, request_handler=QuietRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{server.server_port}/login") as resp:
            served = dict(resp.headers)
    finally:
        server.shutdown()
    assert served["Server"] == "ioc"
    python = sys.version.split()[0]
    for resp in (client.get("/"), client.get("/_dash-layout"), client.get("/login")):
        body = resp.get_data(as_text=True)
        for version in (dash.__version__, dash.__version__.replace(".", "_"), python, plotly.__version__):
            assert version not in body, version
        assert not any(version in v for v in resp.headers.values() for version in (dash.__version__, python))
    # The scripts still load under their opaque names.
    script = re.search(r'src="(/_dash-component-suites/dash/dash-renderer/[^"]+)"', client.get("/").get_data(as_text=True)).group(1)
    assert client.get(script).status_code == 200


def test_a_100_mb_callback_body_is_refused_before_it_is_read(city_sqlite):
    client = city_sqlite.client("leader")
    resp = client.post("/_dash-update-component", data=b"x" * (100 * 1024 * 1024), headers=dp.POST_HEADERS)
    assert resp.status_code == 413
    assert city_sqlite.app.server.test_client().post("/login", data=b"x" * (1024 * 1024)).status_code == 413


def test_ten_thousand_made_up_kpi_ids_are_refused_not_rendered(city_sqlite):
    client = city_sqlite.client("leader")
    codes = {k: [f"fake{i}" for i in range(10_000)] for k in _kpi_codes(city_sqlite)}
    resp = dp.post(client, dp.body(city_sqlite.app, "map.figure", {"url.search": ""}, codes))
    assert resp.status_code in (400, 413) and len(resp.data) < 1000
    # Fewer, but made up: refused by name.
    codes = {k: ["eco_gdp", "not_an_indicator"] for k in _kpi_codes(city_sqlite)}
    resp = dp.post(client, dp.body(city_sqlite.app, "map.figure", {"url.search": ""}, codes))
    assert resp.status_code == 400 and "not_an_indicator" in resp.get_json()["error"]


@pytest.mark.parametrize("payload, status", [
    ("not json", 400), ([], 400), ({"output": 5}, 400), ({"output": "no.such", "outputs": {}, "inputs": []}, 400),
    ({"output": "ticker.children", "outputs": {"id": "ticker", "property": "children"}, "inputs": [7]}, 400),
    ({"output": "header-clock.children", "outputs": {"id": "header-clock", "property": "children"},
      "inputs": [{"id": "clock-tick", "property": "n_intervals", "value": 1}]}, 400),  # client-side only
])
def test_malformed_callback_posts_get_a_4xx(city_sqlite, payload, status):
    client = city_sqlite.client("leader")
    body = payload if isinstance(payload, str) else json.dumps(payload)
    assert client.post("/_dash-update-component", data=body, headers=dp.POST_HEADERS).status_code == status


def test_callback_posts_must_be_json_from_this_origin(city_sqlite):
    client = city_sqlite.client("leader")
    payload = json.dumps(dp.body(city_sqlite.app, "ticker.children", {"url.search": "", "data-version.data": 1}))
    assert client.post("/_dash-update-component", data=payload, headers={"Content-Type": "text/plain"}).status_code == 415
    evil = {**dp.POST_HEADERS, "Origin": "http://evil.example"}
    assert client.post("/_dash-update-component", data=payload, headers=evil).status_code == 403
    assert city_sqlite.app.server.test_client().post("/_dash-update-component", data=payload, headers=dp.POST_HEADERS).status_code == 401


def test_a_callback_registered_without_a_permission_is_refused(city_sqlite):
    from app import create_app

    app = create_app({"database_url": str(city_sqlite.engine.url), "cache_type": "NullCache"})
    app.callback(dash.Output("forgotten", "children"), dash.Input("url", "search"))(lambda s: "leak")
    from tests.conftest import login

    client = login(app.server.test_client(), "admin")
    payload = {"output": "forgotten.children", "outputs": {"id": "forgotten", "property": "children"},
               "inputs": [{"id": "url", "property": "search", "value": ""}], "changedPropIds": ["url.search"]}
    resp = dp.post(client, payload)
    assert resp.status_code == 403 and b"leak" not in resp.data


def test_nul_and_surrogates_in_the_area_show_unknown_area_on_both_databases(city):
    client = city.client("leader")
    for search in ("?area=%00", "?area=\x00", "?area=\ud800", "?area=%ED%A0%80", "?area=" + "9" * 5000, "?area=1'--"):
        props = _render(city, client, search)
        assert t("unknown_area", "zh") in json.dumps(props["area-title"]["children"], ensure_ascii=False), search
        assert _map_locations(props)  # the city's townships, not a blank screen


def test_wrong_json_types_in_map_size_layers_and_clicks_never_fail(city_sqlite):
    client = city_sqlite.client("leader")
    codes = _kpi_codes(city_sqlite)
    for size in ({"w": "x"}, [1, 2], "big", {"w": 1e308, "h": -5, "vh": None}, True):
        for layers in ({"a": 1}, ["heat", 5, None, "<b>"], "open", 3):
            resp = dp.post(client, dp.body(city_sqlite.app, "map.figure", {"url.search": "", "layer-toggle.value": layers,
                                                                           "map-size.data": size}, codes))
            assert resp.status_code == 200, (size, layers, resp.data[:200])
    for click in ([1], {"points": "x"}, {"points": [5]}, {"points": [{"location": {"a": 1}, "lon": "x"}]}, "x",
                  {"points": [{"lon": 200, "lat": 95}]}, {"points": [{"lon": 104.0, "lat": 31.0, "location": None}]}):
        resp = dp.post(client, dp.body(city_sqlite.app, "url.search", {"map.clickData": click, "url.search": ""},
                                       changed=["map.clickData"]))
        assert resp.status_code in (200, 204), (click, resp.data[:200])
    for indicator in ({"x": 1}, "<script>", 7):  # a selector's pick reaches the server through the nav-pick store
        resp = dp.post(client, dp.body(city_sqlite.app, "url.search", {"nav-pick.data": {"id": "indicator-select", "value": indicator},
                                                                       "url.search": ""}, changed=["nav-pick.data"]))
        assert resp.status_code in (200, 204)
        assert "<script>" not in resp.get_data(as_text=True)
    for pick in ("x", [1], {"id": "url", "value": "?area=1"}, {"id": {"a": 1}}, None):
        resp = dp.post(client, dp.body(city_sqlite.app, "url.search", {"nav-pick.data": pick, "url.search": ""}, changed=["nav-pick.data"]))
        assert resp.status_code in (200, 204), (pick, resp.data[:200])


def test_boundary_urls_outside_the_levels_are_404_and_not_cached(city_sqlite):
    client = city_sqlite.client("leader")
    for url in ("/geo/level-9223372036854775808.json", "/geo/level-9.json", "/geo/level-99999999999999999999999.json"):
        resp = client.get(url)
        assert resp.status_code == 404 and resp.get_json() == {"error": f"unknown level {url[11:-5]}"}, url
    for url in ("/geo/level--1.json", "/geo/level-x.json"):  # not a boundary URL at all: the app's page
        assert client.get(url).mimetype == "text/html"


def test_login_and_logout_forms_need_their_csrf_token_and_next_stays_on_site(city_sqlite):
    client = city_sqlite.app.server.test_client()
    assert client.post("/login", data={"username": "leader", "password": "demo"}).status_code == 400
    page = client.get("/login?next=//evil.example/x").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": "leader", "password": "demo", "csrf_token": token, "next": "//evil.example/x"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.post("/logout").status_code == 400  # no token: the session stays
    assert client.get("/_dash-layout").status_code == 200
    client.get("/logout")  # a link or an <img> cannot sign anybody out
    assert client.get("/_dash-layout").status_code == 200
    page = client.get("/_dash-layout").get_data(as_text=True)
    token = re.search(r'\{"value":"([^"]+)","type":"hidden","name":"csrf_token"\}', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/_dash-layout").status_code == 401


def test_injected_markup_in_the_login_page_is_escaped(city_sqlite):
    client = city_sqlite.app.server.test_client()
    page = client.get('/login?next=/"><script>alert(1)</script>').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": "<img src=x onerror=alert(1)>", "password": "x", "csrf_token": token})
    assert resp.status_code == 401 and "<img src=x" not in resp.get_data(as_text=True)


def test_an_unexpected_error_is_logged_with_a_request_id_and_answered_without_a_traceback(city_sqlite, monkeypatch, caplog):
    client = city_sqlite.client("leader")
    services = city_sqlite.app.server.config["IOC_SERVICES"]

    def broken(*_a, scope=None, **_k):  # noqa: ANN202, ARG001
        raise RuntimeError("database exploded at /secret/path")

    monkeypatch.setattr(services.base_repo, "recent_events", broken)
    resp = dp.post(client, dp.body(city_sqlite.app, "ticker.children", {"url.search": "", "data-version.data": 1}))
    assert resp.status_code == 500
    body = resp.get_json()
    assert body["error"] == "internal error" and body["request_id"] == resp.headers["X-Request-Id"]
    assert "Traceback" not in resp.get_data(as_text=True) and "/secret/path" not in resp.get_data(as_text=True)
    assert body["request_id"] in caplog.text and "database exploded" in caplog.text


def test_the_database_holds_no_password_or_token_in_clear(city_sqlite):
    with city_sqlite.engine.connect() as conn:
        hashes = conn.execute(text("SELECT password_hash FROM users")).scalars().all()
    assert hashes and all(h.startswith("scrypt:") for h in hashes)


def test_only_the_login_page_static_files_health_and_the_token_api_are_open_without_a_session(city_sqlite):
    client = city_sqlite.app.server.test_client()
    assert [client.get(u).status_code for u in ("/login", "/healthz", "/_favicon.ico", "/assets/forms.css")] == [200] * 4
    assert client.get("/api/v1/regions").status_code == 401  # open to tokens, not to anybody
    for url in ("/", "/loginx", "/login/../admin", "/api/x", "/admin", "/_dash-layout", "/_dash-dependencies",
                "/geo/level-1.json", "/export/kpis.csv", "/healthz/x"):
        assert client.get(url).status_code in (302, 401, 404), url
