"""An app on the mini demo (SQLite and PostgreSQL) for the export tests, the township codes and an
independent reader of the database (plain SQL, never the code under test)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import text

from app import create_app
from datasources import db
from tests.conftest import login

_APPS: dict[str, object] = {}


@dataclass
class ExportCity:
    app: object
    engine: object
    backend: str
    root: str
    towns: list[str]  # townships, by code (the demo township account sees towns[0])
    children: dict[str, list[str]]  # township -> its communities

    def client(self, username: str = "analyst"):  # noqa: ANN201
        return login(self.app.server.test_client(), username)

    def sql(self, query: str, **params: object) -> list[tuple]:
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(query), params)]

    def subtree(self, code: str) -> set[str]:
        return {r[0] for r in self.sql("SELECT descendant_code FROM region_closure WHERE ancestor_code = :c", c=code)}


def _city(url: str, backend: str, export_dir: str) -> ExportCity:
    if url not in _APPS:
        _APPS[url] = create_app({"database_url": url, "cache_type": "NullCache", "export_dir": export_dir})
    engine = db.make_engine(url)
    with engine.connect() as conn:
        root = conn.execute(text("SELECT code FROM regions WHERE parent_code IS NULL")).scalar_one()
        towns = list(conn.execute(text("SELECT code FROM regions WHERE parent_code = :r ORDER BY code"), {"r": root}).scalars())
        kids = {t: list(conn.execute(text("SELECT code FROM regions WHERE parent_code = :t ORDER BY code"), {"t": t}).scalars())
                for t in towns}
    return ExportCity(_APPS[url], engine, backend, root, towns, kids)


@pytest.fixture(params=["sqlite", "postgresql"])
def city(request, tmp_path_factory) -> ExportCity:
    """The app on the mini demo, on SQLite and on PostgreSQL."""
    url = request.getfixturevalue("mini_sqlite" if request.param == "sqlite" else "mini_pg")
    return _city(url, request.param, str(tmp_path_factory.getbasetemp() / f"exports-{request.param}"))


@pytest.fixture
def city_sqlite(mini_sqlite, tmp_path_factory) -> ExportCity:
    """The app on the mini demo in SQLite only."""
    return _city(mini_sqlite, "sqlite", str(tmp_path_factory.getbasetemp() / "exports-sqlite"))
