"""Fixtures of the import tests: a fresh SQLite database after ``init`` (schema and catalog), and the
same with the small synthetic city of ``city.py`` imported level by level."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from app import init_database
from config import Config
from datasources import db
from datasources.importers.boundaries import import_boundaries
from tests.importers.city import write_city


@pytest.fixture
def empty_db(tmp_path):
    """(url, engine) of a database after ``python app.py init``."""
    url = f"sqlite:///{tmp_path / 'city.db'}"
    init_database(Config(database_url=url))
    engine = db.make_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture
def city_db(empty_db, tmp_path):
    """(url, engine) with the 3-level synthetic city (top, 2 districts, 4 streets) imported."""
    url, engine = empty_db
    (tmp_path / "city").mkdir()
    for level, path in enumerate(write_city(tmp_path / "city", 2)):
        import_boundaries(engine, path, level)
    return url, engine


def snapshot(engine) -> dict:  # noqa: ANN001
    """Row counts of the tables an import writes, and the data version: equal before and after a refusal."""
    with engine.connect() as conn:
        out = {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in
               ("regions", "region_levels", "indicator_values", "events", "audit_log", "indicators")}
        out["data_version"] = conn.execute(text("SELECT value FROM meta WHERE key = 'data_version'")).scalar()
        out["values_sum"] = conn.execute(text("SELECT SUM(value) FROM indicator_values")).scalar()
    return out
