"""The alert lifecycle by hand: open → acknowledged → cleared, each step with who and when.

``acknowledge_alert`` and ``clear_alert`` check the permission (``dispatch``) and the scope (the alert's
region must lie in the caller's subtree), write the step through the Writer (one transaction, data version
bumped) and record it in the audit log in that same transaction. A refused call is audited as
``access_denied`` and raises :class:`AccessDenied` or :class:`ScopeError`; a step that does not fit the
alert's state (acknowledged twice, cleared twice, cleared before acknowledged, unknown id) raises
:class:`AlertStepError` naming the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, text

from datasources.access import audit
from datasources.access.roles import DISPATCH, AccessDenied, Principal, require
from datasources.ingest import IngestError, Writer
from datasources.models import from_epoch
from datasources.repository import ScopeError

Clock = Callable[[], datetime]
_ACTION = {"acknowledge": "alert_ack", "clear": "alert_clear"}


class AlertStepError(ValueError):
    """A step that does not fit the alert's state, or an unknown alert."""


def acknowledge_alert(engine: Engine, principal: Principal, alert_id: int, ip: str = "", clock: Clock | None = None) -> dict:
    """Acknowledge an open alert as ``principal``; returns the alert after the step."""
    return _step(engine, principal, int(alert_id), "acknowledge", ip, clock)


def clear_alert(engine: Engine, principal: Principal, alert_id: int, ip: str = "", clock: Clock | None = None) -> dict:
    """Clear an acknowledged alert as ``principal`` (cleared_by = the principal's name); returns the alert.
    If the rule's condition still holds, the rule's next evaluation opens a new alert: clearing by hand
    does not silence a rule."""
    return _step(engine, principal, int(alert_id), "clear", ip, clock)


def _step(engine: Engine, principal: Principal, alert_id: int, step: str, ip: str, clock: Clock | None) -> dict:
    writer = Writer(engine, clock=clock)
    action = _ACTION[step]
    try:
        require(principal, DISPATCH)
    except AccessDenied:
        audit.record(engine, "access_denied", principal.name if principal else None, outcome="denied",
                     target=f"alert {alert_id}", ip=ip, detail=f"{action}: no permission {DISPATCH}", ts=writer.clock())
        raise
    alert = _alert(engine, alert_id)
    if alert is None:
        raise AlertStepError(f"alert {alert_id}: no such alert")
    if not _in_scope(engine, alert["region_code"], principal.scope):
        audit.record(engine, "access_denied", principal.name, outcome="denied", target=f"alert {alert_id}", ip=ip,
                     detail=f"{action}: region {alert['region_code']} outside scope {principal.scope}", ts=writer.clock())
        raise ScopeError(f"alert {alert_id} is in region {alert['region_code']}, outside the scope {principal.scope!r} "
                         f"of {principal.name!r}")
    try:
        with writer.batch() as batch:
            batch.alert_steps([{"id": alert_id, "step": step, "by": principal.name}])
            audit.record(batch.conn, action, principal.name, target=f"alert {alert_id}", ip=ip,
                         detail=f"{alert['rule']} {alert['region_code']}", ts=batch.now)
    except IngestError as exc:
        raise AlertStepError(f"alert {alert_id}: {exc.problems[0].reason}") from exc
    return _alert(engine, alert_id)


def _alert(engine: Engine, alert_id: int) -> dict | None:
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM alerts WHERE id = :id"), {"id": alert_id}).mappings().first()
    if row is None:
        return None
    out = dict(row)
    for k in ("started_at", "acknowledged_at", "cleared_at"):
        out[k] = from_epoch(out[k]) if isinstance(out[k], int) else out[k]
    return out


def _in_scope(engine: Engine, region: str, scope: str | None) -> bool:
    if scope is None:
        return True
    with engine.connect() as conn:
        return conn.execute(
            text("SELECT 1 FROM region_closure WHERE ancestor_code = :s AND descendant_code = :r"), {"s": scope, "r": region}
        ).first() is not None


__all__ = ["AlertStepError", "acknowledge_alert", "clear_alert"]
