"""A database of its own per test for the live-operation tests (alert rules, modes, the scheduler): the
mini demo in a fresh SQLite file (copied from one built per session) or a fresh PostgreSQL database copied from one built per session, so that
the session databases other tests read stay untouched. Import the fixtures into a test module:
``from tests.live_db import fresh_url, mini_template  # noqa: F401``."""

from __future__ import annotations

import shutil

import pytest

from tests.conftest import pg_copy


@pytest.fixture(scope="session")
def mini_template(mini_pristine) -> str:
    """Path of the session's pristine mini demo SQLite file, to copy (never opened by a test)."""
    return mini_pristine.removeprefix("sqlite:///")


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request, tmp_path, mini_template) -> str:
    """The mini demo as of AS_OF in a database of this test's own, on SQLite and PostgreSQL."""
    if request.param == "sqlite":
        target = tmp_path / "live.db"
        shutil.copy(mini_template, target)
        yield f"sqlite:///{target}"
        return
    with pg_copy(request.getfixturevalue("mini_pg_template")) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path, mini_template) -> str:
    """The mini demo in a SQLite file of this test's own (for tests that need only one database)."""
    target = tmp_path / "live.db"
    shutil.copy(mini_template, target)
    return f"sqlite:///{target}"
