"""An app on the mini demo (SQLite and PostgreSQL) and the facts the access tests compare against,
read with plain SQL so that the expectations do not come from the code under test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from app import create_app
from datasources import db
from tests.conftest import login

_APPS: dict[str, object] = {}


@dataclass
class City:
    app: object
    engine: object
    root: str
    own: str  # the demo township account's township
    other: str  # another township
    own_children: list[str]
    other_children: list[str]
    names: dict[str, str]

    def client(self, username: str = "township"):  # noqa: ANN201
        return login(self.app.server.test_client(), username)

    def subtree(self, code: str) -> set[str]:
        with self.engine.connect() as conn:
            return set(conn.execute(text("SELECT descendant_code FROM region_closure WHERE ancestor_code = :c"), {"c": code}).scalars())


def _city(url: str) -> City:
    if url not in _APPS:
        _APPS[url] = create_app({"database_url": url, "cache_type": "NullCache"})
    app = _APPS[url]
    engine = db.make_engine(url)
    with engine.connect() as conn:
        root = conn.execute(text("SELECT code FROM regions WHERE parent_code IS NULL")).scalar_one()
        towns = conn.execute(text("SELECT code FROM regions WHERE parent_code = :r ORDER BY code"), {"r": root}).scalars().all()
        kids = {t: conn.execute(text("SELECT code FROM regions WHERE parent_code = :t ORDER BY code"), {"t": t}).scalars().all()
                for t in towns[:2]}
        names = dict(conn.execute(text("SELECT code, name FROM regions")).all())
        scope = conn.execute(text("SELECT scope_code FROM users WHERE username = 'township'")).scalar_one()
    assert scope == towns[0]
    return City(app, engine, root, towns[0], towns[1], kids[towns[0]], kids[towns[1]], names)


@pytest.fixture
def city(mini_url) -> City:
    """The app on the mini demo, on SQLite and on PostgreSQL."""
    return _city(mini_url)


@pytest.fixture
def city_sqlite(mini_sqlite) -> City:
    """The app on the mini demo in SQLite only (for tests that need no second database)."""
    return _city(mini_sqlite)
