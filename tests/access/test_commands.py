"""The account and token commands, demo-mode start-up, and the secret key rule."""

from __future__ import annotations

import pytest

from app import create_app, demo_accounts_text, main
from datasources.access.accounts import Accounts
from tests.conftest import login


def test_user_and_token_commands_create_accounts_that_log_in_and_tokens_that_work(city_sqlite, monkeypatch, capsys):
    url = str(city_sqlite.engine.url)
    monkeypatch.setenv("IOC_DATABASE_URL", url)
    monkeypatch.setenv("IOC_NEW_PASSWORD", "cli-password-1")
    assert main(["user", "add", "cli-officer", "--role", "township", "--scope", city_sqlite.other]) == 0
    assert main(["user", "add", "cli-bad", "--role", "township"]) == 2
    assert "needs a scope" in capsys.readouterr().err
    client = login(city_sqlite.app.server.test_client(), "cli-officer", "cli-password-1")
    features = client.get("/geo/level-1.json").get_json()["features"]
    assert [f["id"] for f in features] == [city_sqlite.other]
    monkeypatch.setenv("IOC_NEW_PASSWORD", "cli-password-2")
    assert main(["user", "passwd", "cli-officer"]) == 0
    assert client.get("/_dash-layout").status_code == 401  # the reset ended the session
    capsys.readouterr()
    assert main(["token", "add", "cli-feed", "--role", "analyst", "--scope", city_sqlite.other]) == 0
    secret = capsys.readouterr().out.strip().splitlines()[-1]
    api = city_sqlite.app.server.test_client()
    assert api.get("/api/v1/regions", headers={"Authorization": f"Bearer {secret}"}).get_json()["region"]["code"] == city_sqlite.other
    token_id = next(k["id"] for k in Accounts(city_sqlite.engine).tokens() if k["name"] == "cli-feed")
    assert main(["token", "revoke", str(token_id)]) == 0
    assert api.get("/api/v1/regions", headers={"Authorization": f"Bearer {secret}"}).status_code == 401
    assert main(["user", "list"]) == 0 and "cli-officer" in capsys.readouterr().out


def test_demo_mode_makes_one_account_per_role_and_says_so(city_sqlite):
    accounts = city_sqlite.app.server.config["IOC_DEMO_ACCOUNTS"]
    assert [(a[0], a[1]) for a in accounts] == [(r, r) for r in ("leader", "duty", "analyst", "township", "admin")]
    assert accounts[3][2] == city_sqlite.own and all(a[2] is None for a in accounts if a[0] != "township")
    text = demo_accounts_text(accounts, "demo")
    assert "'demo'" in text and f"township  role township  scope {city_sqlite.own}" in text
    page = city_sqlite.app.server.test_client().get("/login").get_data(as_text=True)
    assert "leader" in page and "township" in page and "demo" in page


def test_a_short_secret_key_is_refused(city_sqlite):
    from callbacks.auth import StartupError

    with pytest.raises(StartupError, match="too short"):
        create_app({"database_url": str(city_sqlite.engine.url), "secret_key": "short"})
