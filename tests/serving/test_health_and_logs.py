"""/healthz checks the database and the cache for real and names what failed; every log line of a request
carries its id (the client's X-Request-ID or a new one, returned in the answer); a failing callback is
logged with its callback and request id and never shown to the user."""

from __future__ import annotations

import json
import logging
import os

import pytest

from app import create_app
from callbacks.logs import JsonFormatter
from tests import dash_posts as dp
from tests.conftest import REDIS_URL, login, need, sqlite_copy
from tests.serving.stack import free_port


@pytest.fixture
def fresh_app(mini_pristine, tmp_path):
    """An app on a private copy of the mini demo (these tests break its database)."""
    url = sqlite_copy(mini_pristine, tmp_path / "mini.db")
    return create_app({"database_url": url, "cache_type": "NullCache"}), tmp_path / "mini.db"


def _redis_up() -> None:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        need(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")


def test_healthz_reads_the_data_version_from_the_database_without_a_login(fresh_app):
    app, path = fresh_app
    resp = app.server.test_client().get("/healthz")
    assert resp.status_code == 200
    body = resp.get_json()
    import sqlite3

    with sqlite3.connect(path) as conn:
        expected = int(conn.execute("SELECT value FROM meta WHERE key = 'data_version'").fetchone()[0])
    assert body["status"] == "ok" and body["database"]["ok"] and body["data_version"] == expected
    assert resp.headers["Cache-Control"] == "no-store"


def test_healthz_answers_503_naming_the_database_when_its_query_fails(fresh_app, caplog):
    app, path = fresh_app
    engine = app.server.config["IOC_SERVICES"].base_repo.engine
    os.rename(path, path.with_suffix(".moved"))  # the next connection opens an empty file: no tables
    engine.dispose()
    with caplog.at_level(logging.ERROR, logger="ioc.health"):
        resp = app.server.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["status"] == "failing" and body["failed"] == ["database"]
    assert body["database"] == {"ok": False, "error": "OperationalError", "ms": body["database"]["ms"]}
    assert "no such table" not in resp.get_data(as_text=True)  # the reason is logged, not shown
    assert any("no such table" in r.getMessage() and r.check == "database" for r in caplog.records)


@pytest.mark.redis
def test_healthz_makes_a_round_trip_to_redis_when_it_is_the_cache(mini_pristine, tmp_path):
    _redis_up()
    import redis

    url = sqlite_copy(mini_pristine, tmp_path / "mini.db")
    app = create_app({"database_url": url, "cache_type": "RedisCache", "redis_url": REDIS_URL})
    client = redis.Redis.from_url(REDIS_URL)
    before = client.info("stats")["total_commands_processed"]
    resp = app.server.test_client().get("/healthz")
    assert resp.status_code == 200 and resp.get_json()["cache"]["backend"] == "RedisCache"
    assert client.info("stats")["total_commands_processed"] - before >= 3  # SET, GET, DEL reached the server
    assert not client.keys("*healthz*")  # and left nothing behind


def test_healthz_answers_503_naming_the_cache_when_redis_is_unreachable(mini_pristine, tmp_path):
    url = sqlite_copy(mini_pristine, tmp_path / "mini.db")
    nowhere = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    app = create_app({"database_url": url, "cache_type": "RedisCache", "redis_url": nowhere})
    resp = app.server.test_client().get("/healthz")
    assert resp.status_code == 503
    body = resp.get_json()
    assert body["failed"] == ["cache"] and body["database"]["ok"] is True and body["cache"]["ok"] is False


def test_a_sane_request_id_is_honoured_and_returned_a_missing_or_odd_one_is_generated(fresh_app, caplog):
    app, _ = fresh_app
    client = app.server.test_client()
    with caplog.at_level(logging.INFO, logger="ioc.access"):
        given = client.get("/healthz", headers={"X-Request-ID": "wall-3.f1e2-77"})
        missing = client.get("/healthz")
        odd = client.get("/healthz", headers={"X-Request-ID": 'x"; DROP TABLE' + "y" * 80})
    assert given.headers["X-Request-ID"] == "wall-3.f1e2-77"
    assert len(missing.headers["X-Request-ID"]) == 32 and missing.headers["X-Request-ID"].isalnum()
    assert len(odd.headers["X-Request-ID"]) == 32 and "DROP" not in odd.headers["X-Request-ID"]
    access = [r for r in caplog.records if r.name == "ioc.access"]
    assert [r.request_id for r in access] == [given.headers["X-Request-ID"], missing.headers["X-Request-ID"],
                                              odd.headers["X-Request-ID"]]
    assert [(r.method, r.path, r.status) for r in access] == [("GET", "/healthz", 200)] * 3


def test_log_lines_are_json_objects_with_the_request_id_and_the_extras(fresh_app, caplog):
    app, _ = fresh_app
    with caplog.at_level(logging.INFO, logger="ioc.access"):
        app.server.test_client().get("/login", headers={"X-Request-ID": "abc123"})
    record = next(r for r in caplog.records if r.name == "ioc.access")
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "abc123" and line["logger"] == "ioc.access" and line["level"] == "INFO"
    assert line["status"] == 200 and line["path"] == "/login" and line["message"] == "GET /login 200"
    assert isinstance(line["ms"], float) and line["time"].endswith("+00:00")


def test_a_failing_callback_is_logged_with_its_callback_and_request_id_and_not_shown(fresh_app, monkeypatch, caplog):
    app, _ = fresh_app
    services = app.server.config["IOC_SERVICES"]

    def broken(*_a, scope=None, **_k):  # noqa: ANN202, ARG001 - the scoped repository passes scope=
        raise RuntimeError("cannot read /srv/secret/ioc.db")

    monkeypatch.setattr(services.base_repo, "recent_events", broken)
    client = login(app.server.test_client(), "leader")
    with caplog.at_level(logging.INFO):
        resp = dp.post(client, dp.body(app, "ticker.children", {"url.search": "", "data-version.data": 1}),
                       headers={**dp.POST_HEADERS, "X-Request-ID": "wall-7-poll-12"})
    assert resp.status_code == 500
    text = resp.get_data(as_text=True)
    assert resp.get_json() == {"error": "internal error", "request_id": "wall-7-poll-12"}
    assert "secret" not in text and "Traceback" not in text
    failure = next(r for r in caplog.records if r.name == "ioc.security" and r.levelno == logging.ERROR)
    assert failure.request_id == "wall-7-poll-12" and "ticker" in failure.callback
    line = json.loads(JsonFormatter().format(failure))
    assert "cannot read /srv/secret/ioc.db" in line["exception"] and line["callback"] == failure.callback
    access = next(r for r in caplog.records if r.name == "ioc.access" and r.path == "/_dash-update-component")
    assert (access.status, access.request_id, access.callback) == (500, "wall-7-poll-12", failure.callback)
