"""Outages through a TCP proxy the test controls (tests/tcp_proxy.py): the database stopped and restarted,
the database hung, Redis unavailable. Callbacks never answer 500: they keep the screen's data and set the
data status to degraded; the API answers 503; the layout is a shell that loads itself when data is back;
the start and end of an outage are logged once; everything recovers by itself."""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

import pytest
from flask import g
from sqlalchemy import text

from app import create_app
from callbacks.outages import DATABASE
from datasources import db
from datasources.access.roles import Principal
from datasources.ingest import Writer
from tests import dash_posts as dp
from tests.conftest import AS_OF, PG_URL, REDIS_URL, login, pg_copy
from tests.tcp_proxy import proxy_to
from tests.write_batches import new_events

FAST = {"db_connect_timeout": 2, "db_statement_timeout_ms": 1500, "db_pool_timeout": 2, "cache_type": "NullCache"}


def _host_port(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname, parts.port


@pytest.fixture
def pg_behind_proxy(mini_pg_template):
    """(app, logged-in client, proxy, direct URL): the app on a PostgreSQL copy reached through the proxy."""
    with pg_copy(mini_pg_template) as url, proxy_to(*_host_port(PG_URL)) as proxy:
        app = create_app({"database_url": proxy.url_for(url), **FAST})
        client = login(app.server.test_client(), "leader")
        DATABASE.up()  # a clean start for the once-per-outage log lines
        yield app, client, proxy, url
        app.server.config["IOC_SERVICES"].base_repo.engine.dispose()


def _facts(app, client, search: str = ""):  # noqa: ANN001, ANN202
    return dp.post(client, dp.body(app, "header-mode.children", {"url.search": search, "data-version.data": 1}))


def _poll(app, client, version, status):  # noqa: ANN001, ANN202
    return dp.post(client, dp.body(app, "data-version.data...data-status.data", {"refresh.n_intervals": 3, "data-version.data": version,
                                                              "data-status.data": status}))


def _degraded(resp) -> dict:  # noqa: ANN001
    """The status a degraded callback answer sets; asserts it changes no output."""
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    body = resp.get_json()
    assert body["response"] == {}, "a degraded answer keeps every output as it is"
    status = body["sideUpdate"]["data-status"]["data"]
    assert status["ok"] is False
    return status


def _outage_lines(caplog, word: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "callbacks.outages" and word in r.getMessage()]


@pytest.mark.postgres
def test_database_stopped_then_restarted_degrades_and_recovers_by_itself(pg_behind_proxy, caplog):
    app, client, proxy, _url = pg_behind_proxy
    caplog.set_level(logging.INFO)
    ok = _facts(app, client)
    assert ok.status_code == 200 and ok.get_json()["response"]["header-alert-count"]["children"]
    version = _poll(app, client, 0, {"ok": True}).get_json()["response"]["data-version"]["data"]
    t_before = time.time()

    proxy.set_mode("stopped")
    statuses = [_degraded(_facts(app, client)) for _ in range(3)] + [_degraded(_poll(app, client, version, {"ok": True}))]
    since = statuses[0]["since"] / 1000
    assert since <= t_before + 1, "since: the last good update, not the time of the failed request"
    assert all(s["since"] == statuses[0]["since"] for s in statuses)
    assert len(_outage_lines(caplog, "database unavailable")) == 1, "one log line per outage, not per request"

    proxy.set_mode("forward")
    back = _poll(app, client, version, statuses[-1]).get_json()["response"]
    assert back["data-status"]["data"] == {"ok": True, "since": None}
    assert back["data-version"]["data"] == version, "the version is sent again, so every panel redraws its URL's view"
    assert _facts(app, client).get_json()["response"]["header-alert-count"]["children"] == ok.get_json()["response"]["header-alert-count"]["children"]
    assert len(_outage_lines(caplog, "available again")) == 1


@pytest.mark.postgres
def test_database_hung_answers_within_seconds_not_minutes(pg_behind_proxy, caplog):
    app, client, proxy, _url = pg_behind_proxy
    caplog.set_level(logging.INFO)
    assert _facts(app, client).status_code == 200
    proxy.set_mode("hung")
    t0 = time.monotonic()
    _degraded(_facts(app, client))
    assert time.monotonic() - t0 < 10, "a hung database is given up within seconds (connect/statement deadlines)"
    assert _outage_lines(caplog, "database unavailable")
    proxy.set_mode("forward")
    assert _facts(app, client).get_json()["response"]["header-alert-count"]["children"]


@pytest.mark.postgres
def test_a_reload_during_the_outage_gets_the_shell_with_the_banner_not_an_error(pg_behind_proxy):
    app, client, proxy, _url = pg_behind_proxy
    proxy.set_mode("stopped")
    page = client.get("/?lang=en")
    assert page.status_code == 200 and "_dash-renderer" in page.get_data(as_text=True)
    assert client.get("/_dash-dependencies").status_code == 200
    layout = client.get("/_dash-layout", headers={"Referer": "http://localhost/?lang=en"})
    assert layout.status_code == 200
    body = layout.get_data(as_text=True)
    assert "page-unavailable" in body and '"data-status"' in body and "this page loads by itself" in body
    assert '"ok": false' in body.replace('"ok":false', '"ok": false')
    retry = dp.body(app, "data-status.data@", {"degraded-retry.n_intervals": 1})  # the shell's timer
    assert _degraded(dp.post(client, retry))
    proxy.set_mode("forward")
    assert dp.post(client, retry).get_json()["response"]["data-status"]["data"]["ok"] is True  # then it reloads itself
    assert "page-cockpit" in client.get("/_dash-layout", headers={"Referer": "http://localhost/"}).get_data(as_text=True)


@pytest.mark.postgres
def test_a_worker_that_starts_during_the_outage_serves_the_shell_to_a_signed_in_screen(pg_behind_proxy):
    app, client, proxy, _url = pg_behind_proxy
    fresh = create_app({"database_url": app.server.config["IOC_SERVICES"].config.database_url, **FAST})
    other = fresh.server.test_client()  # another worker process: it never saw this session
    cookie = client.get_cookie("ioc_session")
    other.set_cookie("ioc_session", cookie.value, domain=cookie.domain)
    proxy.set_mode("stopped")
    assert "_dash-renderer" in other.get("/").get_data(as_text=True)
    assert other.get("/_dash-dependencies").status_code == 200
    assert "page-unavailable" in other.get("/_dash-layout").get_data(as_text=True)
    assert _degraded(_facts(fresh, other))
    anonymous = fresh.server.test_client()
    assert anonymous.get("/_dash-layout").status_code in (401, 503), "no shell without a signed session"
    fresh.server.config["IOC_SERVICES"].base_repo.engine.dispose()


@pytest.mark.postgres
def test_the_api_answers_503_with_a_json_problem(pg_behind_proxy):
    app, _client, proxy, _url = pg_behind_proxy
    proxy.set_mode("stopped")
    resp = app.server.test_client().get("/api/v1/kpis", headers={"Authorization": "Bearer x"})
    assert resp.status_code == 503
    assert resp.mimetype == "application/problem+json" and resp.headers["Retry-After"]
    assert resp.get_json()["status"] == 503 and "database" in resp.get_json()["detail"]


@pytest.mark.postgres
def test_a_long_write_is_not_cut_by_the_screens_statement_timeout(mini_pg_template):
    with pg_copy(mini_pg_template) as url:
        engine = db.make_engine(url, statement_timeout_ms=300)
        with engine.connect() as conn, pytest.raises(Exception, match="statement timeout"):
            conn.execute(text("SELECT pg_sleep(1)"))
        with engine.begin() as conn:
            db.unbounded(conn)
            conn.execute(text("SELECT pg_sleep(0.6)"))  # as a big batch's derive would
        with engine.connect() as conn:  # the limit is back for the next use of the connection
            assert conn.execute(text("SHOW statement_timeout")).scalar() == "300ms"
        engine.dispose()


# --- Redis -------------------------------------------------------------------------------------------


@pytest.fixture
def redis_behind_proxy(mini_sqlite):
    """(app, logged-in client, proxy): the app with RedisCache reached through the proxy."""
    pytest.importorskip("redis")
    import redis

    from tests.conftest import need

    try:
        redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        need(f"Redis not reachable at {REDIS_URL}: {exc}")
    with proxy_to(*_host_port(REDIS_URL)) as proxy:
        app = create_app({"database_url": mini_sqlite, "cache_type": "RedisCache", "redis_url": proxy.url_for(REDIS_URL),
                          "redis_timeout_ms": 300, "redis_retry_seconds": 1})
        yield app, login(app.server.test_client(), "leader"), proxy


def _redis_keys(services) -> list[bytes]:  # noqa: ANN001
    import redis

    from callbacks.services import cache_key_prefix

    return list(redis.from_url(REDIS_URL).scan_iter(match=cache_key_prefix(services.config.database_url) + "*"))


@pytest.mark.redis
@pytest.mark.parametrize("mode", ["stopped", "hung"])
def test_redis_unavailable_runs_uncached_and_uses_the_cache_again_when_back(redis_behind_proxy, caplog, mode):
    app, client, proxy = redis_behind_proxy
    services = app.server.config["IOC_SERVICES"]
    caplog.set_level(logging.INFO)
    expected = _facts(app, client).get_json()["response"]
    assert _redis_keys(services), "the cache is in use"

    proxy.set_mode(mode)
    for _ in range(4):
        resp = _facts(app, client)
        assert resp.status_code == 200 and resp.get_json()["response"] == expected
    assert len(_outage_lines(caplog, "cache unavailable")) == 1, "logged once per outage, not per request"

    proxy.set_mode("forward")
    import redis

    redis.from_url(REDIS_URL).delete(*_redis_keys(services))
    deadline = time.monotonic() + 10
    while not _redis_keys(services) and time.monotonic() < deadline:  # tried again after redis_retry_seconds
        assert _facts(app, client).get_json()["response"] == expected
        time.sleep(0.2)
    assert _redis_keys(services), "back on the cache"
    assert len(_outage_lines(caplog, "cache available again")) == 1


# --- cache keys and several workers ------------------------------------------------------------------


def test_cache_keys_carry_the_data_version_and_the_scope(mini_sqlite):
    app = create_app({"database_url": mini_sqlite, "cache_type": "NullCache"})
    services = app.server.config["IOC_SERVICES"]
    root = services.base_repo.root_code()
    town = services.base_repo.children(root)[0]["code"]
    keys = {}
    for who, scope in (("leader", None), ("township", town)):
        with app.server.test_request_context("/"):
            g.ioc_principal = Principal(who, "leader" if scope is None else "township", scope)
            keys[who] = services.cache_key("open_alert_count", root)
    version = services.base_repo.data_version()
    assert keys["leader"] != keys["township"] and town in keys["township"]
    assert all(f":{version}:" in k for k in keys.values())
    with app.server.test_request_context("/"):
        g.ioc_principal = Principal("leader", "leader", None)
        g.ioc_data_version = version + 1  # after a write
        assert services.cache_key("open_alert_count", root) != keys["leader"]


@pytest.mark.postgres
@pytest.mark.redis
def test_one_ingest_is_visible_on_every_worker_sharing_the_database_and_redis(mini_pg_template):
    pytest.importorskip("redis")
    with pg_copy(mini_pg_template) as url:
        cfg = {"database_url": url, "cache_type": "RedisCache", "redis_url": REDIS_URL}
        workers = [create_app(cfg), create_app(cfg)]  # two gunicorn workers: two processes' worth of state
        clients = [login(w.server.test_client(), "leader") for w in workers]
        engine = db.make_engine(url)

        def open_events(app) -> int:  # noqa: ANN001
            services = app.server.config["IOC_SERVICES"]
            with app.server.test_request_context("/"):
                g.ioc_principal = Principal("leader", "leader", None)
                return services.cached("open_event_count", services.repo.root_code())

        before = [open_events(w) for w in workers]
        versions = [_poll(w, c, 0, {"ok": True}).get_json()["response"]["data-version"]["data"] for w, c in zip(workers, clients, strict=True)]
        Writer(engine, clock=lambda: AS_OF).events(new_events(engine, 20, AS_OF, days=2))
        with engine.connect() as conn:
            truth = conn.execute(text("SELECT count(*) FROM events WHERE status NOT IN ('resolved', 'closed')")).scalar_one()
        for w, c, v in zip(workers, clients, versions, strict=True):
            polled = _poll(w, c, v, {"ok": True}).get_json()["response"]["data-version"]["data"]
            assert polled > v, "the next poll (within the refresh interval) sees the new version"
        after = [open_events(w) for w in workers]
        assert after[0] == after[1] == truth > before[0] == before[1]
        engine.dispose()
        for w in workers:
            w.server.config["IOC_SERVICES"].base_repo.engine.dispose()
