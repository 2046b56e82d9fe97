"""Accounts, lockout, rate limits, sessions, tokens and the audit log, on a real database."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from datasources.access import audit
from datasources.access.accounts import IP_MAX_FAILURES, LOCK_AFTER, LOCK_MINUTES, AccountError, Accounts
from datasources.access.roles import (
    MATRIX,
    AccessDenied,
    Principal,
    check_role_scope,
    matrix_markdown,
    require,
)
from datasources.repository import UNSCOPED_METHODS, Repository, ScopedRepository

T0 = datetime(2026, 11, 21, 9, 0, 0)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def accounts(city_sqlite):  # noqa: ANN001, ANN201
    clock = Clock()
    return Accounts(city_sqlite.engine, clock), clock


def _audit(engine, username: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT action, outcome, detail FROM audit_log WHERE username = :u ORDER BY id"), {"u": username})]


def test_five_wrong_passwords_lock_the_account_for_fifteen_minutes_and_every_step_is_audited(accounts):
    acc, clock = accounts
    acc.create_user("lock-me", "right-password", "analyst", actor="admin1")
    assert audit.search(acc.engine, "lock-me", action="user_create")[0][0]["username"] == "admin1"
    for k in range(LOCK_AFTER - 1):
        assert acc.authenticate("lock-me", "wrong", "10.0.0.5").reason == "bad", k
    locked = acc.authenticate("lock-me", "wrong", "10.0.0.5")
    assert (locked.reason, locked.locked_until) == ("locked", T0 + timedelta(minutes=LOCK_MINUTES))
    clock.now = T0 + timedelta(minutes=LOCK_MINUTES - 1)
    assert acc.authenticate("lock-me", "right-password", "10.0.0.5").reason == "locked"  # even the right one
    clock.now = T0 + timedelta(minutes=LOCK_MINUTES, seconds=1)
    ok = acc.authenticate("lock-me", "right-password", "10.0.0.5")
    assert ok.principal == Principal("lock-me", "analyst", None, "user", ok.principal.id)
    assert acc.user("lock-me")["failed_logins"] == 0 and acc.user("lock-me")["last_login_at"] == clock.now
    log = _audit(acc.engine, "lock-me")
    assert [a for a, _, _ in log] == ["login_failed"] * LOCK_AFTER + ["lockout", "login_failed", "login"]
    assert log[-2] == ("login_failed", "denied", "account locked")


def test_an_address_with_too_many_failures_is_refused_whatever_the_username(accounts):
    acc, clock = accounts
    acc.create_user("victim", "right-password", "leader")
    clock.now = T0 + timedelta(days=1)  # a window of its own
    for k in range(IP_MAX_FAILURES):
        acc.authenticate(f"guess{k}", "x", "10.9.9.9")
    assert acc.authenticate("victim", "right-password", "10.9.9.9").reason == "rate_limited"
    assert acc.authenticate("victim", "right-password", "10.9.9.10").principal is not None  # another address
    clock.now += timedelta(minutes=16)
    assert acc.authenticate("victim", "right-password", "10.9.9.9").principal is not None


def test_unknown_users_and_disabled_accounts_cannot_log_in(accounts):
    acc, _ = accounts
    acc.create_user("leaver", "right-password", "duty")
    acc.update_user("leaver", active=False, actor="boss")
    assert acc.authenticate("leaver", "right-password").reason == "inactive"
    assert acc.authenticate("nobody-here", "whatever").reason == "bad"
    assert acc.authenticate("x' OR '1'='1", "x").reason == "bad"


def test_password_reset_role_change_and_disable_end_existing_sessions(accounts):
    acc, _ = accounts
    acc.create_user("sess", "right-password", "township", "510182001")
    uid = acc.authenticate("sess", "right-password").principal.id
    epoch = acc.session_epoch(uid)
    assert acc.principal_for_session(uid, epoch).scope == "510182001"
    acc.update_user("sess", role="analyst", scope=None, actor="boss")
    assert acc.principal_for_session(uid, epoch) is None
    epoch = acc.session_epoch(uid)
    assert acc.principal_for_session(uid, epoch) == Principal("sess", "analyst", None, "user", uid)
    acc.update_user("sess", password="another-password", actor="boss")
    assert acc.principal_for_session(uid, epoch) is None
    assert acc.authenticate("sess", "right-password").reason == "bad"
    assert acc.authenticate("sess", "another-password").principal is not None


def test_bad_accounts_are_refused_with_the_field_named_and_nothing_written(accounts):
    acc, _ = accounts
    cases = [
        (("", "long-enough", "leader"), "username"),
        (("<script>", "long-enough", "leader"), "username"),
        (("shorty", "short", "leader"), "password"),
        (("nobody", "long-enough", "mayor"), "role"),
        (("townless", "long-enough", "township"), "role"),
        (("scoped", "long-enough", "township", "999999"), "scope"),
    ]
    for args, field in cases:
        with pytest.raises(AccountError, match=f"^{field}:"):
            acc.create_user(*args)
    assert not {u["username"] for u in acc.users()} & {"<script>", "shorty", "nobody", "townless", "scoped"}


def test_tokens_are_stored_as_hashes_record_last_use_and_stop_at_once_when_revoked(accounts):
    acc, clock = accounts
    secret, token_id = acc.create_token("air-station-feed", "feed", None, actor="admin1")
    with acc.engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM api_tokens WHERE id = :i"), {"i": token_id}).mappings().one()
    assert row["token_hash"] == hashlib.sha256(secret.encode()).hexdigest() and secret not in str(dict(row))
    assert row["prefix"] == secret[:12] and row["last_used_at"] is None
    assert acc.principal_for_token(secret) == Principal("token:air-station-feed", "feed", None, "token", token_id)
    assert acc.tokens()[0]["last_used_at"] == T0
    clock.now = T0 + timedelta(seconds=30)
    acc.principal_for_token(secret)
    assert acc.tokens()[0]["last_used_at"] == T0  # at most one write a minute
    clock.now = T0 + timedelta(minutes=2)
    acc.principal_for_token(secret)
    assert next(k for k in acc.tokens() if k["id"] == token_id)["last_used_at"] == clock.now
    acc.revoke_token(token_id, actor="admin1")
    assert acc.principal_for_token(secret) is None
    assert acc.principal_for_token(secret[:-1] + ("A" if secret[-1] != "A" else "B")) is None
    assert [a for a, *_ in _audit(acc.engine, "admin1")][-2:] == ["token_create", "token_revoke"]
    rows, _ = audit.search(acc.engine, "air-station-feed")
    assert [r["action"] for r in rows] == ["token_revoke", "token_create"] and secret not in str(rows)


def test_a_revoked_token_gets_401_from_the_api_on_the_next_request(city_sqlite):
    acc = Accounts(city_sqlite.engine)
    secret, token_id = acc.create_token("short-lived", "analyst", None, actor="admin")
    client = city_sqlite.app.server.test_client()
    h = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/regions", headers=h).status_code == 200
    acc.revoke_token(token_id, actor="admin")
    resp = client.get("/api/v1/regions", headers=h)
    assert resp.status_code == 401 and resp.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_feed_token_may_send_data_but_not_read_the_city(city_sqlite):
    secret, _ = Accounts(city_sqlite.engine).create_token("feed-only", "feed", None, actor="admin")
    resp = city_sqlite.app.server.test_client().get("/api/v1/events", headers={"Authorization": f"Bearer {secret}"})
    assert resp.status_code == 403 and "may not view" in resp.get_json()["error"]


def test_audit_search_filters_by_text_action_outcome_and_pages(city_sqlite):
    engine = city_sqlite.engine
    for k in range(7):
        audit.record(engine, "export", "audit-searcher", target=f"kpis.csv 51018200{k % 2}", ip="10.1.1.1", ts=T0 + timedelta(minutes=k))
    audit.record(engine, "login_failed", "audit-searcher", outcome="failed", ip="10.1.1.1", ts=T0)
    rows, total = audit.search(engine, "audit-searcher", action="export", limit=3)
    assert total == 7 and [r["ts"] for r in rows] == [T0 + timedelta(minutes=m) for m in (6, 5, 4)]
    rows, total = audit.search(engine, "audit-searcher", action="export", limit=3, offset=6)
    assert total == 7 and [r["ts"] for r in rows] == [T0]
    assert audit.search(engine, "510182001", action="export")[1] >= 3
    assert audit.search(engine, "audit-searcher", outcome="failed")[1] == 1
    assert audit.search(engine, "audit-search%")[1] == 0  # % is a character, not a wildcard


def test_roles_grant_what_the_documented_matrix_says():
    assert MATRIX["township"] >= {"view", "drill", "dispatch", "export"} and "administer" not in MATRIX["township"]
    assert "dispatch" not in MATRIX["leader"] and "dispatch" not in MATRIX["analyst"]
    assert MATRIX["feed"] == {"ingest"}
    with pytest.raises(AccessDenied, match="user 'a' \\(analyst\\) may not dispatch"):
        require(Principal("a", "analyst"), "dispatch")
    assert check_role_scope("township", None) and check_role_scope("township", "510182001") is None
    docs = (Path(__file__).resolve().parents[2] / "docs" / "ACCESS.md").read_text(encoding="utf-8")
    assert matrix_markdown() in docs


def test_every_repository_query_either_takes_a_scope_or_is_declared_scope_free(city_sqlite):
    import inspect

    public = [n for n, f in inspect.getmembers(Repository, inspect.isfunction) if not n.startswith("_") and n != "scoped"]
    undeclared = [n for n in public if n not in UNSCOPED_METHODS and "scope" not in inspect.signature(getattr(Repository, n)).parameters]
    assert undeclared == []
    scoped = ScopedRepository(Repository(city_sqlite.engine), city_sqlite.own)
    assert scoped.root_code() == city_sqlite.own
    with pytest.raises(AttributeError):
        scoped.engine  # noqa: B018 - raw access is not offered to a scoped caller
