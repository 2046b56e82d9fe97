"""A database of its own per test for the live-operation tests (alert rules, modes, the scheduler): the
mini demo in a fresh SQLite file (copied from one built per session) or a fresh PostgreSQL schema, so that
the session databases other tests read stay untouched. Import the fixtures into a test module:
``from tests.live_db import fresh_url, mini_template  # noqa: F401``."""

from __future__ import annotations

import shutil
import uuid

import pytest
from sqlalchemy import create_engine, text

from datasources import db
from datasources.demo import build_demo
from tests.conftest import AS_OF, PG_URL, _pg_available, need


@pytest.fixture(scope="session")
def mini_template(tmp_path_factory) -> str:
    """Path of a mini demo SQLite file to copy (never opened for writing by a test)."""
    path = tmp_path_factory.mktemp("ops") / "template.db"
    engine = db.make_engine(f"sqlite:///{path}")
    build_demo(engine, "mini", seed=1, as_of=AS_OF)
    engine.dispose()  # the last connection checkpoints the WAL into the file
    return str(path)


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path, mini_template) -> str:
    """The mini demo as of AS_OF in a database of this test's own, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "live.db"
        shutil.copy(mini_template, target)
        yield f"sqlite:///{target}"
        return
    problem = _pg_available()
    if problem:
        need(problem)
    schema = f"ioc_live_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    url = f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    engine = db.make_engine(url)
    build_demo(engine, "mini", seed=1, as_of=AS_OF)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path, mini_template) -> str:
    """The mini demo in a SQLite file of this test's own (for tests that need only one database)."""
    target = tmp_path / "live.db"
    shutil.copy(mini_template, target)
    return f"sqlite:///{target}"
