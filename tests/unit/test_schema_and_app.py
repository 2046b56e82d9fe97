"""Schema migrations match the models; the app factory, config and caches work as configured."""

from __future__ import annotations

import re

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from app import create_app
from config import Config
from datasources import db
from datasources.models import Base
from tests.conftest import REDIS_URL, login, need


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_alembic_baseline_creates_exactly_the_models_schema(backend, tmp_path, request):
    url = f"sqlite:///{tmp_path / 'm.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    engine = db.make_engine(url)
    db.reset_database(engine)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_config_reads_ioc_environment_variables_and_rejects_unknown_keys():
    cfg = Config.from_env({"IOC_PORT": "9000", "IOC_CACHE_TYPE": "RedisCache", "IOC_TILE_URL": "http://tiles.lan/{z}/{x}/{y}"})
    assert (cfg.port, cfg.cache_type, cfg.tile_url) == (9000, "RedisCache", "http://tiles.lan/{z}/{x}/{y}")
    with pytest.raises(ValueError, match="unknown config key.*colour"):
        Config().with_overrides({"colour": "red"})


def test_two_apps_in_one_process_both_have_their_callbacks(mini_sqlite):
    first = create_app({"database_url": mini_sqlite})
    second = create_app({"database_url": mini_sqlite})
    assert len(first.callback_map) == len(second.callback_map) > 4


def test_level_geojson_is_served_by_url_with_long_cache(mini_sqlite):
    client = login(create_app({"database_url": mini_sqlite}).server.test_client())
    resp = client.get("/geo/level-1.json?v=1")
    assert resp.status_code == 200 and "max-age" in resp.headers["Cache-Control"]
    assert "public" not in resp.headers["Cache-Control"]  # boundaries follow the caller's scope
    assert resp.get_json()["features"][0]["id"]
    assert client.get("/healthz").get_json()["status"] == "ok"


def test_sign_out_works_even_when_a_response_older_than_the_page_layout_set_the_cookie(mini_sqlite):
    """The page's layout carries the sign-out form's CSRF token; responses to requests the browser sent
    before the layout was built re-set the (permanent) session cookie as they found it. The token must
    already be in the session the login answered with, or such a response drops it and sign-out gets 400."""
    client = login(create_app({"database_url": mini_sqlite}).server.test_client())
    cookie_after_login = client.get_cookie("ioc_session").value
    layout = client.get("/_dash-layout").get_data(as_text=True)
    token = re.search(r'"name":\s*"csrf_token",\s*"type":\s*"hidden",\s*"value":\s*"([^"]+)"', layout)
    token = token or re.search(r'"value":\s*"([^"]+)"[^{}]*"name":\s*"csrf_token"', layout)
    assert token, "no sign-out form with a CSRF token in the layout"
    client.set_cookie("ioc_session", cookie_after_login)  # what a response racing the layout writes back
    resp = client.post("/logout", data={"csrf_token": token.group(1)})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login"), resp.get_data(as_text=True)[:300]


@pytest.mark.redis
def test_redis_cache_holds_query_results_keyed_by_data_version(mini_sqlite):
    try:
        import redis

        client = redis.Redis.from_url(REDIS_URL)
        client.ping()
    except Exception as exc:  # noqa: BLE001
        need(f"Redis not reachable at {REDIS_URL}: {exc.__class__.__name__}")
    client.flushdb()
    app = create_app({"database_url": mini_sqlite, "cache_type": "RedisCache", "redis_url": REDIS_URL})
    services = app.server.config["IOC_SERVICES"]
    with app.server.app_context():
        first = services.cached("periods")
        assert services.cached("periods") == first
    keys = [k.decode() for k in client.keys("ioc:*")]
    assert any(f"periods:{services.repo.data_version()}:" in k for k in keys), keys
    client.flushdb()
