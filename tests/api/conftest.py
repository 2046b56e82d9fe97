"""Fixtures of the ingest API tests: a database of their own per test module (the 'mini' demo, built fresh
in a temporary SQLite file or a new PostgreSQL schema, so writes never disturb the session's shared
databases), the app on it, feed tokens, the app served over real HTTP, and plain-SQL facts to compare."""

from __future__ import annotations

import http.client
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, text
from werkzeug.serving import make_server

from app import create_app
from callbacks.security import QuietRequestHandler
from datasources import db
from datasources.access.accounts import Accounts
from tests.conftest import pg_copy, sqlite_copy


def fresh_database(kind: str, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Yield the URL of a new 'mini' demo database (SQLite file, or a PostgreSQL copy of the session's
    template), dropped afterwards."""
    if kind == "sqlite":
        yield sqlite_copy(request.getfixturevalue("mini_pristine"), tmp_path_factory.mktemp("ingest") / "mini.db")
        return
    with pg_copy(request.getfixturevalue("mini_pg_template")) as url:
        yield url


@dataclass
class City:
    """The app on a database of its own, with facts read by plain SQL (not by the code under test)."""

    url: str
    app: Any
    engine: Engine
    root: str
    towns: list[str]
    leaves: dict[str, tuple[float, float]]  # leaf code -> an inner point
    live_facilities: list[tuple[int, str]]  # (id, region code)

    def token(self, role: str = "feed", scope: str | None = None) -> str:
        secret, _ = Accounts(self.engine).create_token(f"{role}-{uuid.uuid4().hex[:6]}", role, scope, actor="test")
        return secret

    def scalar(self, sql: str, **params: Any) -> Any:
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()

    def state(self) -> dict[str, Any]:
        """What a rejected batch must leave unchanged."""
        return {
            "events": self.scalar("SELECT COUNT(*) FROM events"),
            "event_monthly": self.scalar("SELECT SUM(n) FROM event_monthly"),
            "readings": self.scalar("SELECT COUNT(*) FROM readings"),
            "values": self.scalar("SELECT COUNT(*) FROM indicator_values"),
            "value_sum": self.scalar("SELECT SUM(value) FROM indicator_values"),
            "alerts": self.scalar("SELECT COUNT(*) FROM alerts"),
            "data_version": self.scalar("SELECT value FROM meta WHERE key = 'data_version'"),
        }


def make_city(url: str, **config: Any) -> City:
    app = create_app({"database_url": url, "cache_type": "NullCache", **config})
    engine = db.make_engine(url)
    with engine.connect() as conn:
        root = conn.execute(text("SELECT code FROM regions WHERE parent_code IS NULL")).scalar_one()
        towns = conn.execute(text("SELECT code FROM regions WHERE parent_code = :r ORDER BY code"), {"r": root}).scalars().all()
        leaves = {r.code: (r.centroid_lon, r.centroid_lat) for r in conn.execute(text(
            "SELECT code, centroid_lon, centroid_lat FROM regions r "
            "WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_code = r.code) ORDER BY code"))}
        live = [tuple(r) for r in conn.execute(text(
            "SELECT id, region_code FROM facilities WHERE live = :t ORDER BY id"), {"t": True})]
    return City(url, app, engine, root, list(towns), leaves, live)


def event(client_id: str | int, region: str | None = None, point: tuple[float, float] | None = None, **fields: Any) -> dict:
    """A valid new event reported a few minutes ago (placed by code, by point, or both)."""
    now = datetime.now().replace(microsecond=0)
    item = {
        "id": client_id, "source": "hotline", "category": "road", "theme": "governance", "severity": 3,
        "title": f"API test event {client_id}", "reported_at": (now - timedelta(minutes=10)).isoformat(),
        "status": "reported",
    }
    if region is not None:
        item["region_code"] = region
    if point is not None:
        item["lon"], item["lat"] = point
    return item | fields


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db(request, tmp_path_factory) -> Iterator[str]:
    """A fresh 'mini' database per test module, on SQLite and on PostgreSQL."""
    yield from fresh_database(request.param, request, tmp_path_factory)


# ---------------------------------------------------------------------------------------------- HTTP


@pytest.fixture(scope="module")
def serve():  # noqa: ANN201
    """Start an app's Flask server over real HTTP in a thread: ``serve(app) -> (host, port)``."""
    servers = []

    def start(app: Any) -> tuple[str, int]:
        server = make_server("127.0.0.1", 0, app.server, threaded=True, request_handler=QuietRequestHandler)
        thread = threading.Thread(target=server.serve_forever, name="ioc-ingest-test-server", daemon=True)
        thread.start()
        servers.append((server, thread))
        return "127.0.0.1", server.server_port

    yield start
    for server, thread in servers:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


class Client:
    """A keep-alive HTTP client of one feed (one connection, used by one thread)."""

    def __init__(self, address: tuple[str, int], token: str):
        self.conn = http.client.HTTPConnection(*address, timeout=300)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: Any) -> tuple[int, dict]:
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers=self.headers)
        resp = self.conn.getresponse()
        return resp.status, json.loads(resp.read() or b"null")

    def close(self) -> None:
        self.conn.close()
