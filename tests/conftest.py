"""Shared fixtures: real databases built from fixtures (SQLite files, PostgreSQL schemas), the app.

PostgreSQL and Redis tests use the servers named by IOC_TEST_PG_URL / IOC_TEST_REDIS_URL (defaults:
127.0.0.1). When a server is missing they skip with the reason, except under CI=true, where a missing
server is a failure.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import pytest
from hypothesis import Phase, settings
from sqlalchemy import create_engine, text

from datasources import db
from datasources.demo import build_demo

AS_OF = datetime(2026, 11, 20, 18, 0, 0)
PG_URL = os.environ.get("IOC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("IOC_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
# Apps built by tests run no scheduler thread unless a test asks for one (tests/unit/test_scheduler.py).
os.environ["IOC_SCHEDULER"] = "0"

# Hypothesis: every run draws the same examples (derandomize), so a failure found once fails again on every
# run and machine instead of flaking, and no example has a deadline (a loaded machine is slow, not wrong).
# Under CI a failing example is reported as found, unshrunk: shrinking one that goes through an app and a
# database took minutes. Locally ("dev") it is shrunk as usual; HYPOTHESIS_PROFILE=dev|ci picks either.
# Loaded here, before any test module builds its ``settings(...)``, which start from the loaded profile.
settings.register_profile("dev", derandomize=True, deadline=None, database=None)
settings.register_profile("ci", settings.get_profile("dev"),
                          phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE") or ("ci" if IN_CI else "dev"))


def login(client, username: str = "leader", password: str = "demo"):  # noqa: ANN001, ANN201
    """Sign a Flask test client in through the login form (with its CSRF token); returns the client."""
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": username, "password": password, "csrf_token": token})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:500]
    return client


def need(reason: str) -> None:
    """Skip with ``reason`` on a developer machine; fail under CI, where every server must be there."""
    if IN_CI:
        pytest.fail(f"required under CI=true: {reason}")
    pytest.skip(reason)


def _pg_available() -> str | None:
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "psycopg is not installed (pip install -e '.[test]')"
    try:
        with create_engine(PG_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means 'no server'
        return f"PostgreSQL not reachable at {PG_URL}: {exc.__class__.__name__}"
    return None


def _pg_admin(sql: str) -> None:
    """Run one statement on the test server outside a transaction (CREATE/DROP DATABASE need that)."""
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(sql))
    finally:
        admin.dispose()


def _need_pg() -> None:
    problem = _pg_available()
    if problem:
        need(problem)


@contextmanager
def pg_schema(prefix: str = "ioc_test") -> Iterator[str]:
    """A fresh PostgreSQL schema in the test database, dropped afterwards; yields a URL whose search path
    is that schema (skips, or fails under CI, when the server is missing)."""
    _need_pg()
    schema = f"{prefix}_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in PG_URL else "?"
    try:
        yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        _pg_admin(f'DROP SCHEMA "{schema}" CASCADE')


def _pg_database_url(name: str) -> str:
    """PG_URL pointing at another database of the same server."""
    head, _, tail = PG_URL.partition("?")
    return head.rsplit("/", 1)[0] + "/" + name + (f"?{tail}" if tail else "")


@pytest.fixture(scope="session")
def mini_pg_template() -> Iterator[str]:
    """The name of a PostgreSQL database holding the 'mini' demo, built once per session: tests that write
    get a copy of it (``pg_copy``), which PostgreSQL makes from the template in a fraction of a second
    instead of building the demo again (7–20 s)."""
    _need_pg()
    name = f"ioc_tpl_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    engine = db.make_engine(_pg_database_url(name))
    build_demo(engine, "mini", seed=1, as_of=AS_OF)
    engine.dispose()  # a template must have no open connection when it is copied
    yield name
    _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def pg_copy(template: str) -> Iterator[str]:
    """A new PostgreSQL database copied from ``template`` (dropped afterwards); yields its URL."""
    name = f"ioc_copy_{uuid.uuid4().hex[:8]}"
    _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _pg_database_url(name)
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_url():
    """A fresh PostgreSQL schema in the test database (dropped afterwards); yields its URL."""
    with pg_schema() as url:
        yield url


@pytest.fixture(scope="session")
def mini_sqlite(mini_pristine, tmp_path_factory) -> str:
    """URL of a SQLite file holding the 'mini' demo (4 townships), read by many tests through apps (which do
    write a little: accounts, the audit log): a copy of ``mini_pristine``, not a second build. Tests that
    write data copy ``mini_pristine`` instead."""
    return sqlite_copy(mini_pristine, tmp_path_factory.mktemp("mini") / "mini.db")


@pytest.fixture(scope="session")
def mini_pristine(tmp_path_factory) -> str:
    """URL of a SQLite 'mini' demo that no test opens: the template that tests which write copy."""
    url = f"sqlite:///{tmp_path_factory.mktemp('pristine') / 'mini.db'}"
    engine = db.make_engine(url)
    build_demo(engine, "mini", seed=1, as_of=AS_OF)
    engine.dispose()  # the last connection checkpoints the WAL into the file, so a copy of the file is whole
    return url


def sqlite_copy(url: str, target: Path) -> str:
    """A copy of the SQLite database at ``url`` in the file ``target``; returns the copy's URL."""
    import shutil

    shutil.copy(url.removeprefix("sqlite:///"), target)
    return f"sqlite:///{target}"


@pytest.fixture(scope="session")
def mini_pg(mini_pg_template) -> Iterator[str]:
    """The same 'mini' demo in PostgreSQL: a database of its own copied from the session's template (not a
    second build, and not in ``pg_url``'s schema, which schema tests reset)."""
    with pg_copy(mini_pg_template) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def mini_url(request) -> str:
    """Run a test on both databases."""
    return request.getfixturevalue("mini_sqlite" if request.param == "sqlite" else "mini_pg")


@pytest.fixture(scope="session")
def county_sqlite(tmp_path_factory) -> tuple[str, object]:
    """The full county-scale demo (about 2 million events) in SQLite, built once; yields (url, report)."""
    path: Path = tmp_path_factory.mktemp("county") / "county.db"
    url = f"sqlite:///{path}"
    report = build_demo(db.make_engine(url), "county", seed=1, as_of=AS_OF)
    return url, report


@pytest.fixture(scope="session")
def numbers_sqlite(tmp_path_factory) -> str:
    """URL of a SQLite file holding the hand-made 'numbers' city (tests/numbers_fixture.py), built once."""
    from tests.numbers_fixture import build_numbers_db

    url = f"sqlite:///{tmp_path_factory.mktemp('numbers') / 'numbers.db'}"
    engine = db.make_engine(url)
    build_numbers_db(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="session")
def numbers_pg(pg_url) -> str:
    """The same 'numbers' city in a PostgreSQL schema of its own (the 'mini' demo owns ``pg_url``'s)."""
    from tests.numbers_fixture import build_numbers_db

    with pg_schema("ioc_numbers") as url:
        engine = db.make_engine(url)
        build_numbers_db(engine)
        engine.dispose()
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def numbers_url(request) -> str:
    """The 'numbers' city on both databases (mutation runs deselect the PostgreSQL cases)."""
    return request.getfixturevalue("numbers_sqlite" if request.param == "sqlite" else "numbers_pg")


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def numbers_services(request):  # noqa: ANN201 - callbacks.services.Services
    """The app's services on the 'numbers' city (the same hand-computed figures on SQLite and PostgreSQL), one
    app per test module: the callback-level tests of the cockpit, scores, leader's view and corrections."""
    from app import create_app

    url = request.getfixturevalue("numbers_sqlite" if request.param == "sqlite" else "numbers_pg")
    return create_app({"database_url": url, "cache_type": "NullCache"}).server.config["IOC_SERVICES"]
