"""``python app.py db upgrade`` brings a PostgreSQL database to the newest schema from scratch and from every
earlier revision, and the result is exactly the models' schema."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

import app as app_module
from datasources import db
from datasources.models import Base
from tests.conftest import pg_schema


def _alembic() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(db.MIGRATIONS))
    return cfg


REVISIONS = [r.revision for r in reversed(list(ScriptDirectory.from_config(_alembic()).walk_revisions()))]


@pytest.mark.postgres
@pytest.mark.parametrize("start", [None, *REVISIONS[:-1]], ids=lambda r: f"from-{r or 'scratch'}")
def test_db_upgrade_on_postgresql_reaches_the_models_schema(start, monkeypatch, capsys):
    with pg_schema("ioc_upgrade") as url:
        engine = db.make_engine(url)
        if start:
            cfg = _alembic()
            with engine.begin() as conn:
                cfg.attributes["connection"] = conn
                command.upgrade(cfg, start)
        monkeypatch.setenv("IOC_DATABASE_URL", url)
        assert app_module.main(["db", "upgrade"]) == 0
        assert "is at the newest revision" in capsys.readouterr().out
        with engine.connect() as conn:
            assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == REVISIONS[-1]
            assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        engine.dispose()
