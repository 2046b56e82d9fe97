"""Users (hashed passwords, lockout, session epochs) and API tokens (hashed, scoped, revocable).

Passwords are hashed with werkzeug's scrypt; tokens are random 256-bit secrets of which only the
SHA-256 is stored. Every change is written to the audit log in the same transaction.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, text, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from werkzeug.security import check_password_hash, generate_password_hash

from datasources import db
from datasources.access import audit
from datasources.access.roles import USER_ROLES, Principal, check_role_scope
from datasources.models import ApiToken, User

LOCK_AFTER = 5  # consecutive failed logins of one account
LOCK_MINUTES = 15
IP_WINDOW_MINUTES = 15
IP_MAX_FAILURES = 30  # failed logins from one address in the window, whatever the usernames
MIN_PASSWORD = 8
TOKEN_PREFIX = "ioc_"
USERNAME_RE = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
DEMO_ACCOUNTS = ("leader", "duty", "analyst", "township", "admin")
_U, _K = User.__table__, ApiToken.__table__
log = logging.getLogger("ioc.accounts")
# Compared against when the username is unknown, so a miss costs as much time as a wrong password.
_DUMMY_HASH = generate_password_hash("not a password")


class AccountError(ValueError):
    """A bad account or token request; the message names the field."""


@dataclass(frozen=True)
class LoginResult:
    """``principal`` on success; otherwise ``reason``: bad | locked | inactive | rate_limited."""

    principal: Principal | None
    reason: str = "ok"
    locked_until: datetime | None = None


def hash_token(secret: str) -> str:
    """SHA-256 hex of a token secret (tokens are random, so a fast hash is enough)."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


class Accounts:
    """Account and token store on one database. ``clock`` returns the current naive local time."""

    def __init__(self, engine: Engine, clock: Callable[[], datetime] | None = None):
        self.engine = engine
        self.clock = clock or (lambda: datetime.now().replace(microsecond=0))

    # ------------------------------------------------------------------ users
    def users(self) -> list[dict[str, Any]]:
        """Every account, without password hashes."""
        cols = [c for c in _U.c if c.name != "password_hash"]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(*cols).order_by(_U.c.username)).mappings()]

    def user(self, username: str) -> dict[str, Any] | None:
        """One account (without its hash) or None."""
        return next((u for u in self.users() if u["username"] == username), None)

    def create_user(
        self, username: str, password: str, role: str, scope: str | None = None, display_name: str = "",
        actor: str = "system", ip: str = "", weak_ok: bool = False,
    ) -> None:
        """Add an account; AccountError names the bad field. Audited as ``user_create``."""
        self._check_username(username)
        self._check_printable("display_name", display_name)
        self._check_role_scope(role, scope, person=True)
        if not weak_ok:
            self._check_password(password)
        with self.engine.begin() as conn:
            if conn.execute(select(_U.c.id).where(_U.c.username == username)).first():
                raise AccountError(f"username: {username!r} already exists")
            conn.execute(insert(_U), {
                "username": username, "display_name": display_name[:64], "password_hash": generate_password_hash(password),
                "role": role, "scope_code": scope or None, "active": True, "failed_logins": 0, "session_epoch": 0,
                "created_at": self.clock(),
            })
            audit.record(conn, "user_create", actor, target=username, ip=ip, detail=f"role={role} scope={scope or '*'}")

    def update_user(
        self, username: str, *, role: str | None = None, scope: str | None | bool = False, active: bool | None = None,
        password: str | None = None, unlock: bool = False, actor: str = "system", ip: str = "",
    ) -> None:
        """Change role/scope (``scope=False`` = unchanged), enable/disable, reset the password or unlock.
        Role, scope, password and disable changes end the user's sessions (session epoch bump)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(_U).where(_U.c.username == username)).mappings().first()
            if row is None:
                raise AccountError(f"username: no account {username!r}")
            changes: dict[str, Any] = {}
            new_role = role if role is not None else row["role"]
            new_scope = row["scope_code"] if scope is False else (scope or None)
            if role is not None or scope is not False:
                self._check_role_scope(new_role, new_scope, person=True)
                changes |= {"role": new_role, "scope_code": new_scope}
            if active is not None:
                changes["active"] = bool(active)
            if password is not None:
                self._check_password(password)
                changes["password_hash"] = generate_password_hash(password)
            if unlock or password is not None:
                changes |= {"failed_logins": 0, "locked_until": None}
            if not changes:
                return
            ends_sessions = bool({"role", "scope_code", "password_hash"} & set(changes)) or changes.get("active") is False
            if ends_sessions:
                changes["session_epoch"] = row["session_epoch"] + 1
            conn.execute(update(_U).where(_U.c.id == row["id"]).values(**changes))
            shown = {k: v for k, v in changes.items() if k not in ("password_hash", "session_epoch")}
            if "password_hash" in changes:
                shown["password"] = "reset"
            audit.record(conn, "user_update", actor, target=username, ip=ip,
                         detail=" ".join(f"{k}={v}" for k, v in sorted(shown.items())))

    def principal_for_session(self, user_id: int, epoch: int) -> Principal | None:
        """The principal of a session cookie's (user id, epoch), or None when it no longer holds."""
        with self.engine.connect() as conn:
            row = conn.execute(select(_U.c.id, _U.c.username, _U.c.role, _U.c.scope_code, _U.c.active, _U.c.session_epoch)
                               .where(_U.c.id == user_id)).mappings().first()
        if row is None or not row["active"] or row["session_epoch"] != epoch:
            return None
        return Principal(row["username"], row["role"], row["scope_code"], "user", row["id"], self.read_only)

    def session_epoch(self, user_id: int) -> int:
        """The current session epoch of a user (part of the session cookie)."""
        with self.engine.connect() as conn:
            return conn.execute(select(_U.c.session_epoch).where(_U.c.id == user_id)).scalar_one()

    def authenticate(self, username: str, password: str, ip: str = "") -> LoginResult:
        """Check a login, count failures, lock after LOCK_AFTER in a row, refuse an address with too many
        recent failures; every outcome is audited."""
        now = self.clock()
        if self.read_only:
            return self._authenticate_read_only(username, password, ip, now)
        since = now - timedelta(minutes=IP_WINDOW_MINUTES)
        if audit.count_since(self.engine, "login_failed", since, ip=ip) >= IP_MAX_FAILURES:
            audit.record(self.engine, "login_failed", username[:64], outcome="denied", ip=ip, detail="rate limited", ts=now)
            return LoginResult(None, "rate_limited")
        with self.engine.begin() as conn:
            row = None
            if USERNAME_RE.fullmatch(username or ""):
                row = conn.execute(select(_U).where(_U.c.username == username)).mappings().first()
            ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password or "")
            name = username[:64] if row else (username or "")[:64]
            if row is None:
                audit.record(conn, "login_failed", name, outcome="failed", ip=ip, detail="unknown user", ts=now)
                return LoginResult(None, "bad")
            if row["locked_until"] and row["locked_until"] > now:
                audit.record(conn, "login_failed", name, outcome="denied", ip=ip, detail="account locked", ts=now)
                return LoginResult(None, "locked", row["locked_until"])
            if not ok:
                failures = row["failed_logins"] + 1
                values: dict[str, Any] = {"failed_logins": failures}
                if failures >= LOCK_AFTER:
                    values |= {"locked_until": now + timedelta(minutes=LOCK_MINUTES), "failed_logins": 0}
                conn.execute(update(_U).where(_U.c.id == row["id"]).values(**values))
                audit.record(conn, "login_failed", name, outcome="failed", ip=ip, detail=f"wrong password ({failures})", ts=now)
                if "locked_until" in values:
                    audit.record(conn, "lockout", name, outcome="denied", ip=ip,
                                 detail=f"{LOCK_AFTER} failed logins: locked for {LOCK_MINUTES} min", ts=now)
                    return LoginResult(None, "locked", values["locked_until"])
                return LoginResult(None, "bad")
            if not row["active"]:
                audit.record(conn, "login_failed", name, outcome="denied", ip=ip, detail="account disabled", ts=now)
                return LoginResult(None, "inactive")
            conn.execute(update(_U).where(_U.c.id == row["id"]).values(failed_logins=0, locked_until=None, last_login_at=now))
            audit.record(conn, "login", name, ip=ip, ts=now)
        return LoginResult(Principal(row["username"], row["role"], row["scope_code"], "user", row["id"]))

    @property
    def read_only(self) -> bool:
        """The database is served read-only: logins are checked but neither counted nor audited in it."""
        return db.is_read_only(self.engine)

    def _authenticate_read_only(self, username: str, password: str, ip: str, now: datetime) -> LoginResult:
        """A login against a read-only database: password, lock and state checked; the outcome goes to the
        log (the audit table cannot be written)."""
        with self.engine.connect() as conn:
            row = None
            if USERNAME_RE.fullmatch(username or ""):
                row = conn.execute(select(_U).where(_U.c.username == username)).mappings().first()
        ok = check_password_hash(row["password_hash"] if row else _DUMMY_HASH, password or "")
        if row is not None and row["locked_until"] and row["locked_until"] > now:
            result = LoginResult(None, "locked", row["locked_until"])
        elif row is None or not ok:
            result = LoginResult(None, "bad")
        elif not row["active"]:
            result = LoginResult(None, "inactive")
        else:
            result = LoginResult(Principal(row["username"], row["role"], row["scope_code"], "user", row["id"], True))
        log.warning("login %s of %r from %s (read-only database: not audited)", result.reason or "ok",
                    (username or "")[:64], ip)
        return result

    def ensure_demo_accounts(self, password: str, township_scope: str) -> list[tuple[str, str, str | None]]:
        """One account per role, named after it (the township account scoped to ``township_scope``);
        existing accounts are left as they are. Returns (username, role, scope) of each."""
        out = []
        existing = {u["username"]: u for u in self.users()}
        for role in DEMO_ACCOUNTS:
            scope = township_scope if role == "township" else None
            if role not in existing:
                # Another worker starting at the same time may have made it.
                with contextlib.suppress(AccountError, IntegrityError):
                    self.create_user(role, password, role, scope, display_name=f"demo {role}", actor="demo", weak_ok=True)
                out.append((role, role, scope))
            else:
                out.append((role, existing[role]["role"], existing[role]["scope_code"]))
        return out

    # ------------------------------------------------------------------ tokens
    def tokens(self) -> list[dict[str, Any]]:
        """Every token (never the secret or its hash), newest first."""
        cols = [c for c in _K.c if c.name != "token_hash"]
        with self.engine.connect() as conn:
            return [dict(r) for r in conn.execute(select(*cols).order_by(_K.c.id.desc())).mappings()]

    def create_token(self, name: str, role: str, scope: str | None, actor: str, ip: str = "") -> tuple[str, int]:
        """A new token; returns (secret, id). The secret is shown once and never stored."""
        if not name or len(name) > 64:
            raise AccountError("name: 1 to 64 characters")
        self._check_printable("name", name)
        self._check_role_scope(role, scope)
        secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            token_id = conn.execute(insert(_K).returning(_K.c.id), {
                "name": name, "prefix": secret[:12], "token_hash": hash_token(secret), "role": role,
                "scope_code": scope or None, "created_by": actor, "created_at": self.clock(),
            }).scalar_one()
            audit.record(conn, "token_create", actor, target=f"{name} ({secret[:12]}…)", ip=ip,
                         detail=f"role={role} scope={scope or '*'}")
        return secret, token_id

    def revoke_token(self, token_id: int, actor: str, ip: str = "") -> None:
        """Revoke a token at once; it answers 401 from the next request on."""
        with self.engine.begin() as conn:
            row = conn.execute(select(_K).where(_K.c.id == token_id)).mappings().first()
            if row is None:
                raise AccountError(f"token: no token {token_id}")
            if row["revoked_at"] is None:
                conn.execute(update(_K).where(_K.c.id == token_id).values(revoked_at=self.clock(), revoked_by=actor))
                audit.record(conn, "token_revoke", actor, target=f"{row['name']} ({row['prefix']}…)", ip=ip)

    def principal_for_token(self, secret: str) -> Principal | None:
        """The principal of a bearer token, or None (unknown or revoked). Records the last use,
        at most once a minute per token so that a busy feed does not write on every request."""
        if not secret.startswith(TOKEN_PREFIX) or len(secret) > 100:
            return None
        now = self.clock()
        with self.engine.begin() as conn:
            row = conn.execute(select(_K).where(_K.c.token_hash == hash_token(secret))).mappings().first()
            if row is None or row["revoked_at"] is not None:
                return None
            stale = row["last_used_at"] is None or now - row["last_used_at"] >= timedelta(minutes=1)
            if stale and not self.read_only:
                conn.execute(update(_K).where(_K.c.id == row["id"]).values(last_used_at=now))
        return Principal(f"token:{row['name']}", row["role"], row["scope_code"], "token", row["id"], self.read_only)

    # ------------------------------------------------------------------ checks
    def _check_username(self, username: str) -> None:
        if not USERNAME_RE.fullmatch(username or ""):
            raise AccountError("username: 1 to 64 letters, digits or . _ @ -")

    def _check_printable(self, field: str, value: str) -> None:
        # PostgreSQL refuses NUL in text outright (a DataError, not a bad-request answer).
        if any(ord(c) < 32 or ord(c) == 127 for c in value or ""):
            raise AccountError(f"{field}: control characters are not allowed")

    def _check_password(self, password: str) -> None:
        if len(password or "") < MIN_PASSWORD:
            raise AccountError(f"password: at least {MIN_PASSWORD} characters")

    def _check_role_scope(self, role: str, scope: str | None, person: bool = False) -> None:
        problem = check_role_scope(role, scope)
        if problem:
            raise AccountError(f"role: {problem}")
        if person and role not in USER_ROLES:
            raise AccountError(f"role: {role!r} is for API tokens only (people: {', '.join(USER_ROLES)})")
        if scope:
            with self.engine.connect() as conn:
                if not conn.execute(text("SELECT 1 FROM regions WHERE code = :c"), {"c": scope}).first():
                    raise AccountError(f"scope: no region {scope!r}")


__all__ = ["USER_ROLES", "AccountError", "Accounts", "LoginResult", "hash_token"]
