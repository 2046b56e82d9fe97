"""Operating modes (日常 / 汛期 / 假期 / 疫情 / 应急): switched by hand or by a yearly schedule.

The mode is stored on the server (meta ``mode``, ``mode_since``, ``mode_by``, ``mode_source``) so every
screen agrees; ``Repository.mode_state()`` reads it with the mode's profile from ``modes.csv``. A switch
goes through the Writer: the data version bumps (screens poll it) and the alerts are re-evaluated for the
rules active in the new mode, in the same transaction as the audit log row.

Schedule (``IOC_MODE_SCHEDULE``, e.g. ``flood:06-01..09-30;holiday:10-01..10-07``): each entry is a mode
and an inclusive month-day range (it may wrap the new year: ``holiday:12-30..01-02``); days in no entry are
'daily'. Precedence: the schedule switches the mode only when a boundary is crossed, i.e. when the
scheduled period changes; a manual switch holds until the next boundary. At the scheduler's very first
run the scheduled mode is applied unless the current mode was set by hand. An empty schedule never
switches anything.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Engine, text

from datasources.access import audit
from datasources.access.roles import SWITCH_MODE, AccessDenied, Principal, require
from datasources.catalog_loader import MODE_IDS
from datasources.ingest import IngestError, Writer
from datasources.ingest.alerting import DEFAULT_MODE, current_mode
from datasources.repository import ScopeError

Clock = Callable[[], datetime]
SCHEDULE_ACTOR = "schedule"
APPLIED_KEY = "mode_schedule_applied"  # meta: the scheduled period last applied (mode@first day)


class ModeError(ValueError):
    """An unknown mode, or a bad mode schedule (the message names the entry)."""


@dataclass(frozen=True)
class ScheduleEntry:
    mode: str
    start: tuple[int, int]  # (month, day), inclusive
    end: tuple[int, int]

    def contains(self, day: date) -> bool:
        md = (day.month, day.day)
        if self.start <= self.end:
            return self.start <= md <= self.end
        return md >= self.start or md <= self.end  # wraps the new year


@dataclass(frozen=True)
class ModeSchedule:
    """A yearly mode schedule; :func:`parse_schedule` builds it from the configuration text."""

    entries: tuple[ScheduleEntry, ...] = ()

    def mode_on(self, day: date) -> str:
        """The scheduled mode of a day ('daily' outside every entry)."""
        return next((e.mode for e in self.entries if e.contains(day)), DEFAULT_MODE)

    def period(self, day: date) -> str:
        """The scheduled period holding ``day``, as 'mode@first day': it changes exactly at a boundary."""
        mode, first = self.mode_on(day), day
        for _ in range(366):
            if self.mode_on(first - timedelta(days=1)) != mode:
                break
            first -= timedelta(days=1)
        return f"{mode}@{first.isoformat()}"


def parse_schedule(spec: str) -> ModeSchedule:
    """``mode:MM-DD..MM-DD`` entries separated by ';' (empty = no schedule). Raises ModeError naming the
    entry: unknown mode, bad date, or two entries sharing a day."""
    entries: list[ScheduleEntry] = []
    for raw in (p.strip() for p in (spec or "").split(";")):
        if not raw:
            continue
        mode, sep, span = raw.partition(":")
        start, sep2, end = span.partition("..")
        if not sep or not sep2:
            raise ModeError(f"mode schedule entry {raw!r}: expected mode:MM-DD..MM-DD, e.g. flood:06-01..09-30")
        if mode.strip() not in MODE_IDS:
            raise ModeError(f"mode schedule entry {raw!r}: unknown mode {mode.strip()!r} (known: {', '.join(MODE_IDS)})")
        days = []
        for part in (start.strip(), end.strip()):
            try:
                d = datetime.strptime(f"2000-{part}", "%Y-%m-%d")  # 2000 is a leap year: 02-29 is valid
            except ValueError:
                raise ModeError(f"mode schedule entry {raw!r}: {part!r} is not a month-day MM-DD") from None
            days.append((d.month, d.day))
        entries.append(ScheduleEntry(mode.strip(), days[0], days[1]))
    day = date(2000, 1, 1)
    while day.year == 2000:  # every day of a leap year: no day may be in two entries
        hits = [e for e in entries if e.contains(day)]
        if len(hits) > 1:
            raise ModeError(f"mode schedule: {day:%m-%d} is in both {hits[0].mode} and {hits[1].mode}")
        day += timedelta(days=1)
    return ModeSchedule(tuple(entries))


def switch_mode(engine: Engine, principal: Principal, mode: str, ip: str = "", clock: Clock | None = None) -> dict:
    """Switch the city's operating mode by hand. Needs the ``switch_mode`` permission and the whole city
    as scope (the mode is city-wide). Returns {mode, previous, changed}; switching to the current mode
    changes (and audits) nothing."""
    writer = Writer(engine, clock=clock)
    try:
        require(principal, SWITCH_MODE)
    except AccessDenied:
        audit.record(engine, "access_denied", principal.name if principal else None, outcome="denied", target=mode[:64],
                     ip=ip, detail=f"mode_switch: no permission {SWITCH_MODE}", ts=writer.clock())
        raise
    if principal.scope is not None:
        audit.record(engine, "access_denied", principal.name, outcome="denied", target=mode[:64], ip=ip,
                     detail=f"mode_switch: the mode is city-wide, scope {principal.scope}", ts=writer.clock())
        raise ScopeError(f"{principal.name!r} is limited to {principal.scope!r}; the operating mode is city-wide")
    return _switch(writer, mode, principal.name, "manual", ip)


def _switch(writer: Writer, mode: str, actor: str, source: str, ip: str = "", facts: dict | None = None) -> dict:
    try:
        with writer.batch() as batch:
            old = batch.mode(mode, actor, source)
            if facts:
                batch.set_meta(facts)
            if old is not None:
                audit.record(batch.conn, "mode_switch", actor, target=mode, ip=ip, detail=f"{old} -> {mode} ({source})", ts=batch.now)
    except IngestError as exc:
        raise ModeError(f"mode {mode!r}: {exc.problems[0].reason}") from exc
    return {"mode": mode, "previous": old if old is not None else mode, "changed": old is not None}


def apply_schedule(engine: Engine, schedule: ModeSchedule, clock: Clock | None = None) -> dict | None:
    """The scheduler's job: switch to the scheduled mode when a schedule boundary was crossed since the
    last run (actor 'schedule', audited). Returns the switch ({mode, previous, changed}) or None."""
    if not schedule.entries:
        return None
    writer = Writer(engine, clock=clock)
    now = writer.clock()
    period = schedule.period(now.date())
    with engine.connect() as conn:
        applied = conn.execute(text("SELECT value FROM meta WHERE key = :k"), {"k": APPLIED_KEY}).scalar()
        source = conn.execute(text("SELECT value FROM meta WHERE key = 'mode_source'")).scalar()
        mode_now = current_mode(conn)
    if applied == period:
        return None
    target = schedule.mode_on(now.date())
    if applied is None and source == "manual" or target == mode_now:
        # First run after a manual switch (it holds), or already in the scheduled mode: only remember the period.
        with writer.batch() as batch:
            batch.set_meta({APPLIED_KEY: period})
        return None
    return _switch(writer, target, SCHEDULE_ACTOR, "schedule", facts={APPLIED_KEY: period})


__all__ = ["ModeError", "ModeSchedule", "apply_schedule", "parse_schedule", "switch_mode"]
