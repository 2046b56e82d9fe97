"""Start-up that says what is wrong: a database URL pointing nowhere is an error naming the path and what to
do (never a new demo city); a PostgreSQL server that cannot be reached is named; a read-only SQLite file
is served read-only, with the scheduler and every write off."""

from __future__ import annotations

import hashlib
import logging
import os
import stat

import pytest
from sqlalchemy import text

import app as app_module
from callbacks.auth import StartupError
from datasources import db
from datasources.access.accounts import Accounts
from tests import dash_posts as dp
from tests.conftest import PG_URL, _need_pg, login, sqlite_copy
from tests.serving.stack import free_port


def _run(monkeypatch, capsys, url: str) -> tuple[int, str]:
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    code = app_module.main(["run", "--port", str(free_port())])
    return code, capsys.readouterr().err


def test_a_sqlite_path_in_a_missing_folder_is_an_error_naming_it_not_a_new_demo(tmp_path, monkeypatch, capsys):
    path = tmp_path / "typo" / "ioc.db"
    code, err = _run(monkeypatch, capsys, f"sqlite:///{path}")
    assert code == 2
    assert f"the database folder {path.parent} does not exist" in err
    assert "python app.py init" in err and "python app.py demo" in err
    assert not path.parent.exists()  # nothing was created


def test_a_missing_sqlite_file_is_an_error_naming_it_and_what_to_run(tmp_path, monkeypatch, capsys):
    path = tmp_path / "ioc.db"
    code, err = _run(monkeypatch, capsys, f"sqlite:///{path}")
    assert code == 2
    assert f"the database file {path} does not exist" in err and "'python app.py demo'" in err
    assert list(tmp_path.iterdir()) == []


def test_gunicorns_entry_refuses_a_missing_database_with_the_same_message(tmp_path, monkeypatch):
    path = tmp_path / "nowhere.db"
    monkeypatch.setenv("IOC_DATABASE_URL", f"sqlite:///{path}")
    with pytest.raises(StartupError, match=f"the database file {path} does not exist"):
        app_module.create_server()
    assert not path.exists()


def test_an_empty_sqlite_file_asks_for_init_or_demo(tmp_path, monkeypatch, capsys):
    path = tmp_path / "empty.db"
    path.touch()
    code, err = _run(monkeypatch, capsys, f"sqlite:///{path}")
    assert code == 2 and f"{path} holds no IOC schema: run 'python app.py init'" in err


@pytest.mark.postgres
def test_a_postgresql_server_that_cannot_be_reached_is_named_with_host_and_database(monkeypatch, capsys):
    port = free_port()  # nothing listens there
    code, err = _run(monkeypatch, capsys, f"postgresql+psycopg://ioc@127.0.0.1:{port}/citydb")
    assert code == 2
    assert f"cannot connect to the PostgreSQL database 'citydb' on 127.0.0.1:{port} (user ioc)" in err
    assert "check IOC_DATABASE_URL" in err


@pytest.mark.postgres
def test_a_postgresql_database_that_does_not_exist_is_named(monkeypatch, capsys):
    _need_pg()
    head = PG_URL.rsplit("/", 1)[0]
    code, err = _run(monkeypatch, capsys, f"{head}/no_such_ioc_db")
    assert code == 2 and "'no_such_ioc_db'" in err and "does not exist" in err


@pytest.fixture
def read_only_copy(mini_pristine, tmp_path):
    """The mini demo in a read-only folder: the file chmod 444, the folder 555, no -wal/-shm."""
    folder = tmp_path / "ro"
    folder.mkdir()
    path = folder / "mini.db"
    url = sqlite_copy(mini_pristine, path)
    engine = db.make_engine(url)  # the demo accounts, as a first start would have made them
    with engine.connect() as conn:
        township = conn.execute(text("SELECT code FROM regions WHERE level = 1 ORDER BY code")).scalars().first()
    Accounts(engine).ensure_demo_accounts("demo", township)
    engine.dispose()  # the last connection checkpoints the WAL: no -wal/-shm remain
    assert [p.name for p in folder.iterdir()] == ["mini.db"]
    path.chmod(0o444)
    folder.chmod(0o555)
    yield path
    folder.chmod(0o755)
    path.chmod(0o644)


def test_a_read_only_sqlite_file_is_served_read_only_with_the_scheduler_and_writes_off(read_only_copy, caplog):
    before = hashlib.sha256(read_only_copy.read_bytes()).hexdigest()
    with caplog.at_level(logging.WARNING, logger="ioc.app"):
        dash_app = app_module.create_app({"database_url": f"sqlite:///{read_only_copy}", "scheduler": 1})
    server = dash_app.server
    assert server.config["IOC_READ_ONLY"] is True and "IOC_SCHEDULER" not in server.config
    assert any("read-only" in r.getMessage() and "scheduler" in r.getMessage() for r in caplog.records)

    health = server.test_client().get("/healthz")
    assert health.status_code == 200 and health.get_json()["database"]["ok"]
    client = login(server.test_client(), "leader")  # checked, not audited: nothing can be written
    resp = dp.post(client, dp.body(dash_app, "ticker.children", {"url.search": "", "data-version.data": 1}))
    assert resp.status_code == 200  # the screens read as usual

    page_facts = client.get("/").status_code
    assert page_facts == 200
    services = server.config["IOC_SERVICES"]
    with server.test_request_context("/"):
        from flask import g

        g.ioc_principal = services.accounts.principal_for_session(*_session_of(services, "leader"))
        user = services.layout_context()["user"]
    assert user["can_switch_mode"] is False and user["can_admin"] is False  # the UI hides both

    key = next(k for k, v in dash_app.callback_map.items() if k.startswith("data-version.data@")
               and [i["id"] for i in v["inputs"]] == ["mode-select"])
    switch = dp.post(client, dp.body(dash_app, key, {"mode-select.value": "flood", "data-version.data": 1}))
    assert switch.status_code == 403
    assert "may not switch_mode while the database is served read-only" in switch.get_json()["error"]

    assert sorted(p.name for p in read_only_copy.parent.iterdir()) == ["mini.db"]  # no -wal, no -shm
    assert hashlib.sha256(read_only_copy.read_bytes()).hexdigest() == before
    assert stat.S_IMODE(os.stat(read_only_copy).st_mode) == 0o444


def _session_of(services, username: str) -> tuple[int, int]:  # noqa: ANN001
    user = next(u for u in services.accounts.users() if u["username"] == username)
    return user["id"], services.accounts.session_epoch(user["id"])


class _Stop(Exception):
    pass


def test_only_the_default_database_gets_the_demo_on_its_first_start(tmp_path, monkeypatch, mini_pristine):
    """``pip install -e . && python app.py`` still builds the demo in instance/ioc.db; any other URL never does."""
    built = []

    def fake_create_app(cfg):  # noqa: ANN001, ANN202 - stop before serving
        raise _Stop(cfg.database_url)

    monkeypatch.setattr(app_module, "ensure_demo", lambda cfg: built.append(cfg.database_url))
    monkeypatch.setattr(app_module, "create_app", fake_create_app)
    monkeypatch.setattr(app_module.db, "serving_problem", lambda url: None)
    monkeypatch.delenv("IOC_DATABASE_URL", raising=False)
    with pytest.raises(_Stop):
        app_module.main([])
    assert built == [app_module.Config().database_url] and built[0].endswith("instance/ioc.db")

    built.clear()
    monkeypatch.setenv("IOC_DATABASE_URL", sqlite_copy(mini_pristine, tmp_path / "own.db"))
    with pytest.raises(_Stop):
        app_module.main(["run"])
    assert built == []
