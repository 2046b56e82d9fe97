"""Event use cases shared by the duty console and the API: dispatch an event, then move it along its
lifecycle (processing, resolved, closed, reopened). Each checks the ``dispatch`` permission and the
caller's scope, writes through the Writer (one transaction with the audit rows, one data-version bump)
and returns the event's new state. Refusals are exceptions that say what was refused and why."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, bindparam, text

from datasources.access import audit
from datasources.access.roles import DISPATCH, AccessDenied, Principal
from datasources.catalog_loader import event_categories
from datasources.ingest import IngestError, Writer
from datasources.models import from_epoch
from datasources.rules import LIFECYCLE

#: Statuses ``advance`` moves to; dispatching has its own use case (it picks the department).
LATER_STEPS = ("processing", "resolved", "closed")
ITEM_FIELDS = frozenset({"event", "source", "external_id", "status", "department", "note", "at", "id", "satisfaction"})
MAX_ITEMS = 500
Clock = Callable[[], datetime]


@dataclass(frozen=True)
class StepProblem:
    """One refused item: its position in the request, the field, the value and the reason."""

    index: int
    field: str | None
    value: Any
    reason: str

    def as_dict(self) -> dict:
        value = self.value if self.value is None or isinstance(self.value, str | int | float | bool) else str(self.value)
        return {"index": self.index, "field": self.field, "value": value, "reason": self.reason}


class StepRefused(ValueError):
    """Steps that were refused before anything was written (every problem of the request at once)."""

    def __init__(self, problems: list[StepProblem]):
        self.problems = problems
        super().__init__("; ".join(
            f"item {p.index}" + (f", field '{p.field}'" if p.field else "") + f": {p.reason}" for p in problems[:20]))

    @property
    def not_found(self) -> bool:
        """Every problem is an unknown (or out-of-scope) event: HTTP 404 for a single step."""
        return all(p.field in ("event", "external_id") and p.reason.startswith("unknown event") for p in self.problems)


@dataclass
class StepsResult:
    """What ``apply_steps`` did: per item its event, new state and whether it was a replay."""

    items: list[dict] = field(default_factory=list)
    data_version: int = 0


def dispatch(
    engine: Engine, principal: Principal | None, event_id: int, department: str | None = None, note: str = "", ip: str = "",
    step_id: str | None = None, *, at: datetime | None = None, clock: Clock | None = None,
) -> dict:
    """Dispatch a reported event to ``department`` (default: its category's suggested department).
    Returns the event's new state (see :func:`event_state`)."""
    item = {"event": event_id, "status": "dispatched", "department": department, "note": note, "id": step_id, "at": at}
    return apply_steps(engine, principal, [item], ip, clock).items[0]["state"]


def advance(
    engine: Engine, principal: Principal | None, event_id: int, status: str, note: str = "", department: str | None = None,
    satisfaction: int | None = None, ip: str = "", step_id: str | None = None, *, at: datetime | None = None,
    clock: Clock | None = None,
) -> dict:
    """Move a dispatched event on: processing, resolved, closed, or back to processing from resolved
    (reopen). Returns the event's new state."""
    if status not in LATER_STEPS:
        _deny_or_pass(engine, principal, ip, event_id)
        raise StepRefused([StepProblem(0, "status", status, f"must be one of {', '.join(LATER_STEPS)} (dispatch has its own step)")])
    item = {"event": event_id, "status": status, "department": department, "note": note, "id": step_id, "at": at,
            "satisfaction": satisfaction}
    return apply_steps(engine, principal, [item], ip, clock).items[0]["state"]


def apply_steps(
    engine: Engine, principal: Principal | None, items: Sequence[Mapping[str, Any]], ip: str = "", clock: Clock | None = None,
) -> StepsResult:
    """Lifecycle steps of several events, all or nothing. Items: ``event`` (id) or ``source`` +
    ``external_id`` (the sender's id of the event), ``status``, [``department``], [``note``], [``at``],
    [``id``] (the sender's id of the step: a replay is skipped and reported), [``satisfaction``].
    A dispatch without a department goes to the category's suggested one."""
    _deny_or_pass(engine, principal, ip, None)
    assert principal is not None
    if not isinstance(items, Sequence) or isinstance(items, str | bytes) or not items:
        raise StepRefused([StepProblem(0, None, None, "expected a non-empty list of steps")])
    if len(items) > MAX_ITEMS:
        raise StepRefused([StepProblem(MAX_ITEMS, None, len(items), f"at most {MAX_ITEMS} steps per request")])
    problems: list[StepProblem] = []
    for k, it in enumerate(items):
        if not isinstance(it, Mapping):
            problems.append(StepProblem(k, None, None, "a step must be an object"))
            continue
        for name in it:
            if name not in ITEM_FIELDS:
                problems.append(StepProblem(k, str(name), None, f"unknown field (known: {', '.join(sorted(ITEM_FIELDS))})"))
        if it.get("status") not in LIFECYCLE[1:]:
            problems.append(StepProblem(k, "status", it.get("status"), f"must be one of {', '.join(LIFECYCLE[1:])}"))
        if it.get("event") is None and not (it.get("source") and it.get("external_id")):
            problems.append(StepProblem(k, "event", None, "give the event's id, or its source and external_id"))
        elif it.get("event") is not None and (not isinstance(it["event"], int) or isinstance(it["event"], bool) or it["event"] < 1):
            problems.append(StepProblem(k, "event", it["event"], "must be a positive whole number"))
        for name, limit in (("department", 64), ("note", 2000), ("id", 64)):
            v = it.get(name)
            if v is not None and (not isinstance(v, str) or len(v) > limit):
                problems.append(StepProblem(k, name, v if isinstance(v, str | int | float) else None,
                                            f"must be text of at most {limit} characters"))
    if problems:
        raise StepRefused(problems)
    events = _resolve_events(engine, principal.scope, items, problems)
    if problems:
        raise StepRefused(problems)
    categories = event_categories()
    records = []
    for k, it in enumerate(items):
        ev = events[k]
        department = it.get("department") or None
        if it["status"] == "dispatched" and not department:
            cat = categories.get(ev["category"])
            department = cat.department if cat else ev["department"]
        rec = {"id": ev["id"], "status": it["status"], "note": it.get("note") or "", "department": department,
               "external_id": it.get("id") or None, "at": it.get("at"), "satisfaction": it.get("satisfaction")}
        records.append({c: v for c, v in rec.items() if v is not None or c in ("id", "status")})
    writer = Writer(engine, clock)
    try:
        with writer.batch() as batch:
            batch.event_updates(_uniform(records), actor=principal.name[:64])
            replayed = {s["record"] for s in batch.report.skipped}
            for k, (it, ev) in enumerate(zip(items, (events[i] for i in range(len(items))), strict=True)):
                if k in replayed:
                    continue
                action = "dispatch" if it["status"] == "dispatched" else "event_step"
                detail = f"{ev['status']} -> {it['status']}; department {records[k].get('department') or ev['department'] or '-'}"
                if it.get("note"):
                    detail += f"; note: {it['note']}"
                audit.record(batch.conn, action, principal.name, target=f"event {ev['id']}", ip=ip, detail=detail, ts=batch.now)
    except IngestError as exc:
        raise StepRefused([
            StepProblem(p.record if isinstance(p.record, int) else 0, _item_field(p.field), p.value, p.reason) for p in exc.problems
        ]) from None
    report = writer.last_report
    replayed = {s["record"] for s in report.skipped}
    states = event_states(engine, [events[k]["id"] for k in range(len(items))])
    result = StepsResult(data_version=report.data_version)
    for k in range(len(items)):
        eid = events[k]["id"]
        result.items.append({"index": k, "event": eid, "replayed": k in replayed, "state": states[eid]})
    return result


def event_state(engine: Engine, event_id: int) -> dict:
    """The event's lifecycle state: status, department, step times, due time and its newest step."""
    return event_states(engine, [event_id])[event_id]


def event_states(engine: Engine, event_ids: Sequence[int]) -> dict[int, dict]:
    """:func:`event_state` of several events, read in two queries."""
    ids = sorted(set(event_ids))
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT id, source, category, status, department, reported_at, dispatched_at, resolved_at, closed_at, due_at, "
            "satisfaction FROM events WHERE id IN :ids").bindparams(bindparam("ids", expanding=True)), {"ids": ids}).mappings().all()
        steps = conn.execute(text(
            "SELECT s.event_id, s.at, s.from_status, s.to_status, s.actor, s.department, s.note, s.external_id FROM event_steps s "
            "WHERE s.id IN (SELECT MAX(id) FROM event_steps WHERE event_id IN :ids GROUP BY event_id)"
        ).bindparams(bindparam("ids", expanding=True)), {"ids": ids}).mappings().all()
    last = {s["event_id"]: dict(s) | {"at": from_epoch(s["at"])} for s in steps}
    times = ("reported_at", "dispatched_at", "resolved_at", "closed_at", "due_at")
    return {
        r["id"]: {k: (from_epoch(v) if k in times and v is not None else v) for k, v in r.items()} | {"last_step": last.get(r["id"])}
        for r in rows
    }


def _deny_or_pass(engine: Engine, principal: Principal | None, ip: str, event_id: int | None) -> None:
    """Raise AccessDenied (and audit it) unless the caller may dispatch."""
    if principal is None or not principal.can(DISPATCH):
        audit.record(engine, "access_denied", principal.name if principal else None, outcome="denied",
                     target=f"event {event_id}" if event_id else "event steps", ip=ip, detail="needs permission 'dispatch'")
        raise AccessDenied(principal, DISPATCH)


def _resolve_events(engine: Engine, scope: str | None, items: Sequence[Mapping[str, Any]], problems: list[StepProblem]) -> dict[int, dict]:
    """The event row of every item, by id or by (source, external_id), inside ``scope``'s subtree.
    An event outside the scope is reported as unknown: a caller learns nothing about other areas."""
    by_id = sorted({it["event"] for it in items if it.get("event") is not None})
    by_ext = sorted({(str(it["source"]), str(it["external_id"])) for it in items if it.get("event") is None})
    cols = "e.id, e.source, e.external_id, e.category, e.status, e.department, e.region_code"
    in_scope = "" if scope is None else " AND e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code = :scope)"
    found_id: dict[int, dict] = {}
    found_ext: dict[tuple[str, str], dict] = {}
    with engine.connect() as conn:
        if by_id:
            rows = conn.execute(text(f"SELECT {cols} FROM events e WHERE e.id IN :ids{in_scope}")
                                .bindparams(bindparam("ids", expanding=True)), {"ids": by_id, "scope": scope}).mappings()
            found_id = {r["id"]: dict(r) for r in rows}
        for src in sorted({s for s, _x in by_ext}):
            exts = [x for s, x in by_ext if s == src]
            rows = conn.execute(text(f"SELECT {cols} FROM events e WHERE e.source = :src AND e.external_id IN :x{in_scope}")
                                .bindparams(bindparam("x", expanding=True)), {"src": src, "x": exts, "scope": scope}).mappings()
            found_ext |= {(r["source"], r["external_id"]): dict(r) for r in rows}
    out: dict[int, dict] = {}
    for k, it in enumerate(items):
        if it.get("event") is not None:
            ev = found_id.get(it["event"])
            if ev is None:
                problems.append(StepProblem(k, "event", it["event"], "unknown event (or outside the caller's area)"))
        else:
            ev = found_ext.get((str(it["source"]), str(it["external_id"])))
            if ev is None:
                problems.append(StepProblem(k, "external_id", it["external_id"],
                                            f"unknown event of source {it['source']!r} (or outside the caller's area)"))
        if ev is not None:
            out[k] = ev
    return out


def _uniform(records: list[dict]) -> list[dict]:
    """Records with the same keys (missing ones as None), so the batch frame has one column per field."""
    keys = sorted({c for r in records for c in r})
    return [{c: r.get(c) for c in keys} for r in records]


def _item_field(writer_field: str | None) -> str | None:
    """The API's name of a Writer field: the step's external id is the item's ``id``, the event id its ``event``."""
    return {"external_id": "id", "id": "event"}.get(writer_field or "", writer_field)
