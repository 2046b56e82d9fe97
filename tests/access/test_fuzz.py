"""Fuzzing every entry point with Hypothesis: injection strings, NULs, lone surrogates, huge and wrongly
typed values in every URL parameter, callback input and API field. Never a 5xx, never the injected
markup echoed, the data unchanged, and each request bounded in time, memory and answer size."""

from __future__ import annotations

import json
import time
import tracemalloc
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests import dash_posts as dp
from tests.access.test_township_isolation import _kpi_codes

INJECTIONS = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'; DROP TABLE events;--", "1' OR '1'='1",
    "\x00", "a\x00b", "\ud800", "\udfff", "%00", "%ED%A0%80", "../../../etc/passwd", "{{7*7}}", "${jndi:ldap://x/a}",
    "javascript:alert(1)", "\u202e\u0000", "😀" * 500, "x" * 100_000, "9" * 400, "-1", "1e309", "NaN",
]
HOSTILE_TEXT = st.one_of(st.sampled_from(INJECTIONS), st.text(max_size=200),
                         st.text(st.characters(codec="utf-16", categories=["Cs", "Cc", "Lo", "So"]), max_size=50))
HOSTILE = st.one_of(
    HOSTILE_TEXT, st.integers(), st.floats(allow_nan=False), st.booleans(), st.none(),
    st.lists(st.one_of(st.text(max_size=20), st.integers()), max_size=30),
    st.dictionaries(st.text(max_size=10), st.one_of(st.integers(), st.text(max_size=10), st.none()), max_size=8),
)
MARKUP = ("<script", "<img", "onerror=")
MAX_SECONDS = 10.0  # a normal request takes ~0.02-0.2 s; this bounds, it does not benchmark
MAX_PEAK_BYTES = 64 * 1024 * 1024
MAX_ANSWER_BYTES = 2 * 1024 * 1024
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                        HealthCheck.too_slow])


def _fingerprint(engine) -> dict:  # noqa: ANN001
    """Counts and checksums of the city's data (the audit log may grow: refused requests are logged)."""
    queries = {
        "regions": "SELECT COUNT(*), MAX(code) FROM regions",
        "values": "SELECT COUNT(*), ROUND(CAST(SUM(value) AS NUMERIC), 3) FROM indicator_values",
        "events": "SELECT COUNT(*), MAX(id), SUM(severity) FROM events",
        "alerts": "SELECT COUNT(*), MAX(id) FROM alerts",
        "facilities": "SELECT COUNT(*), MAX(id) FROM facilities",
        "users": "SELECT COUNT(*), MAX(id) FROM users",
        "version": "SELECT value FROM meta WHERE key = 'data_version'",
    }
    with engine.connect() as conn:
        return {k: tuple(conn.execute(text(q)).first()) for k, q in queries.items()}


@pytest.fixture
def unchanged(city_sqlite):  # noqa: ANN001, ANN201
    before = _fingerprint(city_sqlite.engine)
    yield city_sqlite
    assert _fingerprint(city_sqlite.engine) == before


def _bounded(call):  # noqa: ANN001, ANN202
    """Run one request; check it is answered without a 5xx within the time, memory and size bounds."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        resp = call()
        seconds = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert resp.status_code < 500, resp.get_data(as_text=True)[:500]
    assert seconds < MAX_SECONDS and peak < MAX_PEAK_BYTES and len(resp.data) < MAX_ANSWER_BYTES, (seconds, peak, len(resp.data))
    return resp


def _no_markup(resp, *values) -> None:  # noqa: ANN001
    body = resp.get_data(as_text=True)
    for v in values:
        if isinstance(v, str) and any(m in v for m in MARKUP):
            assert v not in body


def _server_callbacks(app) -> list[str]:  # noqa: ANN001
    return sorted(k for k, v in app.callback_map.items() if "callback" in v)


@FUZZ
@given(data=st.data())
def test_every_callback_input_survives_hostile_values(unchanged, data):
    city = unchanged
    client = city.client("leader")
    codes = _kpi_codes(city)
    key = data.draw(st.sampled_from(_server_callbacks(city.app)))
    entry = city.app.callback_map[key]
    specs = [f"{s['id']}.{s['property']}" for s in entry["inputs"] + entry["state"]]
    values = {spec: data.draw(HOSTILE, label=spec) for spec in specs if not spec.startswith("{")}
    payload = dp.body(city.app, key, values, codes, changed=[data.draw(st.sampled_from(specs))])
    resp = _bounded(lambda: dp.post(client, payload))
    _no_markup(resp, *values.values())


@FUZZ
@given(area=HOSTILE_TEXT, indicator=HOSTILE_TEXT, period=HOSTILE_TEXT, lang=HOSTILE_TEXT, mode=HOSTILE_TEXT)
def test_every_url_parameter_survives_hostile_values(unchanged, area, indicator, period, lang, mode):
    city = unchanged
    client = city.client("leader")
    raw = f"?area={area}&indicator={indicator}&period={period}&lang={lang}&mode={mode}"
    encoded = "?" + "&".join(f"{k}={quote(v, safe='', errors='surrogatepass')}" for k, v in
                             (("area", area), ("indicator", indicator), ("period", period), ("lang", lang), ("mode", mode)))
    for search in (raw, encoded):
        for key in ("map.figure", "ticker.children", "header-mode.children", "label"):
            payload = dp.body(city.app, key, {"url.search": search, "layer-toggle.value": ["heat", "open"],
                                              "data-version.data": 1}, _kpi_codes(city))
            _no_markup(_bounded(lambda payload=payload: dp.post(client, payload)), area, indicator, period)
    for url in (f"/{encoded}", f"/export/kpis.csv{encoded}", f"/geo/level-1.json{encoded}", f"/login{encoded}&next={quote(area, errors='surrogatepass')}"):
        _no_markup(_bounded(lambda url=url: client.get(url)), area)


@FUZZ
@given(area=HOSTILE_TEXT, period=HOSTILE_TEXT, limit=HOSTILE_TEXT, code=HOSTILE_TEXT, token=HOSTILE_TEXT)
def test_every_api_field_survives_hostile_values(unchanged, area, period, limit, code, token):
    city = unchanged
    from datasources.access.accounts import Accounts

    secret = getattr(city, "_fuzz_token", None)
    if secret is None:
        secret, _ = Accounts(city.engine).create_token("fuzz-reader", "township", city.own, actor="fuzz")
        city._fuzz_token = secret  # noqa: SLF001 - one token for the whole run
    api = city.app.server.test_client()
    h = {"Authorization": f"Bearer {secret}"}
    q = lambda v: quote(v, safe="", errors="surrogatepass")  # noqa: E731
    for url in (f"/api/v1/kpis?area={q(area)}&period={q(period)}", f"/api/v1/events?area={q(area)}&limit={q(limit)}",
                f"/api/v1/alerts?limit={q(limit)}", f"/api/v1/regions/{q(code)}"):
        resp = _bounded(lambda url=url: api.get(url, headers=h))
        assert resp.status_code in (200, 400, 404), (url, resp.status_code)
        _no_markup(resp, area, code)
    # What an HTTP client can put in a header: any bytes but CR and LF.
    header = f"Bearer {token[:5000]}".encode("utf-8", "surrogatepass").decode("latin-1").replace("\r", "").replace("\n", "")
    resp = _bounded(lambda: api.get("/api/v1/events", headers={"Authorization": header}))
    assert resp.status_code == 401


@FUZZ
@given(username=HOSTILE_TEXT, password=HOSTILE_TEXT, nxt=HOSTILE_TEXT)
def test_the_login_form_survives_hostile_values(unchanged, username, password, nxt):
    client = unchanged.app.server.test_client()
    client.environ_base["REMOTE_ADDR"] = "10.66.0.1"  # its own rate-limit bucket
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    form = {"username": username[:300], "password": password[:300], "next": nxt[:3000], "csrf_token": token}
    form = {k: v.encode("utf-8", "surrogatepass").decode("utf-8", "replace") for k, v in form.items()}
    resp = _bounded(lambda: client.post("/login", data=form))
    assert resp.status_code in (401, 429), resp.status_code  # none of these names is an account
    _no_markup(resp, username, nxt)


def test_the_fuzzed_callbacks_are_every_server_callback(city_sqlite):
    """The fuzz covers callbacks by reading the app's map, so a new callback is fuzzed without edits."""
    assert len(_server_callbacks(city_sqlite.app)) >= 7
    assert all(json.dumps(k) for k in _server_callbacks(city_sqlite.app))
