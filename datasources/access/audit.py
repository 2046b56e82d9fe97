"""The audit log: one row per login, failed login, mode switch, dispatch or later event step, export, import
or admin change."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, or_, select
from sqlalchemy.engine import Connection, Engine

from datasources import db
from datasources.models import AuditLog

ACTIONS = (
    "login", "login_failed", "logout", "lockout", "mode_switch", "alert_ack", "alert_clear", "dispatch", "event_step",
    "export", "import",
    "user_create", "user_update", "token_create", "token_revoke", "access_denied",
)
_T = AuditLog.__table__
log = logging.getLogger("ioc.audit")


def record(
    bind: Engine | Connection, action: str, username: str | None, *, outcome: str = "ok", target: str = "",
    ip: str = "", detail: str = "", ts: datetime | None = None,
) -> None:
    """Append one entry (in the caller's transaction when given a Connection). A database served read-only
    cannot take it: the entry goes to the log instead."""
    row = {
        "ts": ts or datetime.now().replace(microsecond=0), "username": username, "action": action,
        "outcome": outcome, "target": target[:128], "ip": ip[:64], "detail": detail[:2000],
    }
    if db.is_read_only(bind.engine):
        log.warning("audit (read-only database, not stored): %s %s %s", action, outcome, username,
                    extra={"audit": {k: str(v) for k, v in row.items()}})
        return
    if isinstance(bind, Connection):
        bind.execute(insert(_T), row)
    else:
        with bind.begin() as conn:
            conn.execute(insert(_T), row)


def search(
    engine: Engine, text: str = "", action: str | None = None, outcome: str | None = None,
    since: datetime | None = None, until: datetime | None = None, limit: int = 100, offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Entries newest first matching every given filter; ``text`` matches user, target, ip or detail.
    Returns (rows of this page, total matching)."""
    where = []
    if text:
        where.append(or_(*(c.contains(text, autoescape=True) for c in (_T.c.username, _T.c.target, _T.c.ip, _T.c.detail))))
    if action:
        where.append(_T.c.action == action)
    if outcome:
        where.append(_T.c.outcome == outcome)
    if since:
        where.append(_T.c.ts >= since)
    if until:
        where.append(_T.c.ts < until)
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(_T).where(*where)).scalar_one()
        rows = conn.execute(
            select(_T).where(*where).order_by(_T.c.ts.desc(), _T.c.id.desc()).limit(limit).offset(offset)
        ).mappings().all()
    return [dict(r) for r in rows], total


def count_since(engine: Engine, action: str, since: datetime, ip: str | None = None, username: str | None = None) -> int:
    """How many ``action`` entries since a time, from one address or for one user (rate limits)."""
    where = [_T.c.action == action, _T.c.ts >= since]
    if ip is not None:
        where.append(_T.c.ip == ip)
    if username is not None:
        where.append(_T.c.username == username)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(_T).where(*where)).scalar_one()
