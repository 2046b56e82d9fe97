"""SQLAlchemy 2 models of the data contract (DESIGN.md section 3).

Region codes are the join key everywhere. ``region_closure`` holds every (ancestor, descendant) pair so
that scope and subtree filters are one indexed join on both SQLite and PostgreSQL, whatever the
depth of the hierarchy or the shape of the codes.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from datasources.rules import OPEN_STATUSES, sql_list

#: The predicate of open events, written the same way in the partial index and in the queries that use it.
OPEN_EVENTS_SQL = f"status IN {sql_list(OPEN_STATUSES)}"
#: Region levels with an ancestor column on events (``events.area<level>_code``).
EVENT_AREA_LEVELS = (1, 2, 3)

_EPOCH = datetime(1970, 1, 1)


def to_epoch(value: Any) -> int | None:
    """A wall-clock datetime (naive, local time of the city) as whole seconds since 1970-01-01 00:00.

    Aware datetimes are first converted to the server's local time. Strings in ISO format are accepted;
    ints pass through. Timestamps are stored this way: 4–8 bytes instead of a 26-character string."""
    if value is None:
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    elif isinstance(value, date) and not isinstance(value, datetime):
        value = datetime(value.year, value.month, value.day)
    if value.tzinfo is not None:
        value = value.astimezone().replace(tzinfo=None)
    return calendar.timegm(value.timetuple())


def from_epoch(value: int | None) -> datetime | None:
    """Seconds since 1970-01-01 back to a naive wall-clock datetime."""
    return None if value is None else _EPOCH + timedelta(seconds=int(value))


class EpochSeconds(TypeDecorator):
    """A timestamp stored as integer seconds (see :func:`to_epoch`); Python sees naive datetimes."""

    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Any) -> int | None:  # noqa: ARG002
        return to_epoch(value)

    def process_result_value(self, value: Any, dialect: Any) -> datetime | None:  # noqa: ARG002
        return from_epoch(value)


class Base(DeclarativeBase):
    pass


class Meta(Base):
    """Key/value facts about the loaded data: data_version, demo flag, as_of, seed, scale."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class RegionLevel(Base):
    """Names of the hierarchy's levels, from the data (a city may have 3 or 4 levels)."""

    __tablename__ = "region_levels"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    name_zh: Mapped[str] = mapped_column(String(32))
    name_en: Mapped[str] = mapped_column(String(32))


class Region(Base):
    __tablename__ = "regions"
    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), index=True)  # the records table sorted by area (migration 0006)
    name_en: Mapped[str] = mapped_column(String(64), default="")
    level: Mapped[int] = mapped_column(Integer, index=True)
    parent_code: Mapped[str | None] = mapped_column(ForeignKey("regions.code"), index=True)
    population: Mapped[int] = mapped_column(Integer, default=0)
    area_km2: Mapped[float] = mapped_column(Float, default=0.0)
    centroid_lon: Mapped[float] = mapped_column(Float)
    centroid_lat: Mapped[float] = mapped_column(Float)
    # Full-precision GeoJSON geometry, and the coverage-simplified one served to the map.
    geometry: Mapped[str] = mapped_column(Text)
    geometry_display: Mapped[str] = mapped_column(Text)


class RegionClosure(Base):
    """Transitive closure of the region tree (a region is its own ancestor at depth 0)."""

    __tablename__ = "region_closure"
    ancestor_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    descendant_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    depth: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_region_closure_descendant", "descendant_code", "ancestor_code"),)


class Page(Base):
    """Themes and topics of the catalog (1 + 5 + N pages)."""

    __tablename__ = "pages"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(8))
    name_zh: Mapped[str] = mapped_column(String(64))
    name_en: Mapped[str] = mapped_column(String(64))
    order: Mapped[int] = mapped_column(Integer)
    icon: Mapped[str] = mapped_column(String(32), default="")


class Indicator(Base):
    __tablename__ = "indicators"
    code: Mapped[str] = mapped_column(String(64), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    theme: Mapped[str] = mapped_column(String(32), index=True)
    topics: Mapped[str] = mapped_column(String(256), default="")
    unit: Mapped[str] = mapped_column(String(32), default="")
    unit_en: Mapped[str] = mapped_column(String(32), default="")
    aggregation: Mapped[str] = mapped_column(String(8))
    polarity: Mapped[int] = mapped_column(Integer)
    warn: Mapped[float | None] = mapped_column(Float)
    alarm: Mapped[float | None] = mapped_column(Float)
    department: Mapped[str] = mapped_column(String(64), default="")
    frequency: Mapped[str] = mapped_column(String(16))
    level: Mapped[int] = mapped_column(Integer)
    headline: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")


class IndicatorRule(Base):
    """An indicator computed by a rule from other tables (catalog file ``rules.csv``), never loaded:
    event counts and rates from ``event_monthly``, facility counts from ``facilities``."""

    __tablename__ = "indicator_rules"
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicators.code"), primary_key=True)
    measure: Mapped[str] = mapped_column(String(16))  # events | closure_rate | on_time_rate | satisfaction | facilities
    sources: Mapped[str] = mapped_column(String(256), default="")  # ';'-separated event sources (empty = all)
    categories: Mapped[str] = mapped_column(String(512), default="")  # ';'-separated event categories
    facility_kind: Mapped[str] = mapped_column(String(32), default="")
    attribute: Mapped[str] = mapped_column(String(64), default="")  # facility attribute filter key=value


class IndicatorValue(Base):
    """One value per indicator, region and period. ``derived`` rows are roll-ups made at load time."""

    __tablename__ = "indicator_values"
    indicator_code: Mapped[str] = mapped_column(ForeignKey("indicators.code"), primary_key=True)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    period: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[float | None] = mapped_column(Float)
    # When the source reported the value; the ``last`` roll-up takes the most recently reported child.
    reported_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    derived: Mapped[bool] = mapped_column(Boolean, default=False)
    __table_args__ = (Index("ix_indicator_values_region_period", "region_code", "period"),)


class Event(Base):
    """Citizen demands, grid reports, city-management cases, emergencies and sensor alarms."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(32))
    category: Mapped[str] = mapped_column(String(32))
    theme: Mapped[str] = mapped_column(String(32))
    severity: Mapped[int] = mapped_column(Integer)  # 1 = I (most severe) … 4 = IV
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    lon: Mapped[float | None] = mapped_column(Float)
    lat: Mapped[float | None] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"))
    reported_at: Mapped[datetime] = mapped_column(EpochSeconds)
    status: Mapped[str] = mapped_column(String(16))
    department: Mapped[str | None] = mapped_column(String(64))
    dispatched_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    resolved_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    closed_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    satisfaction: Mapped[int | None] = mapped_column(Integer)  # 1–5 score; >= 4 counts as satisfied
    due_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    # The sending system's own id of the case: re-sending the same (source, external_id) never duplicates.
    external_id: Mapped[str | None] = mapped_column(String(64))
    # The event's region's ancestors at levels 1-3 (the region itself at its own level; NULL above the
    # leaf): "the newest events of an area" is then one index range, however many leaves the area has.
    # Filled by the write layer (datasources.ingest.entries.event_areas) from region_closure.
    area1_code: Mapped[str | None] = mapped_column(String(16))
    area2_code: Mapped[str | None] = mapped_column(String(16))
    area3_code: Mapped[str | None] = mapped_column(String(16))
    __table_args__ = (
        Index("ux_events_source_external", "source", "external_id", unique=True),
        # lon, lat (migration 0009): the heat grid of an area's month is read from the index alone.
        Index("ix_events_area1_reported", "area1_code", "reported_at", "id", "lon", "lat"),
        Index("ix_events_area2_reported", "area2_code", "reported_at", "id", "lon", "lat"),
        Index("ix_events_area3_reported", "area3_code", "reported_at", "id", "lon", "lat"),
        Index("ix_events_region_reported", "region_code", "reported_at"),
        Index("ix_events_reported", "reported_at"),
        # The analyst's records table sorted by severity (migration 0006).
        Index("ix_events_severity_reported", "severity", "reported_at"),
        # Open events by area: a partial index holding only the few open events (the duty console's
        # overdue counts and lists, and areas without an ancestor column).
        Index("ix_events_open", "region_code", "severity", "reported_at",
              sqlite_where=text(OPEN_EVENTS_SQL), postgresql_where=text(OPEN_EVENTS_SQL)),
    )


# The map's points (migration 0008): an area's open events in display order are the first entries of one
# index range, however many open events the area has; the root's are the whole index. (Declared after the
# class: descending columns need the column objects.)
for _k in EVENT_AREA_LEVELS:
    Index(f"ix_events_open_area{_k}", getattr(Event, f"area{_k}_code"), Event.severity, Event.reported_at.desc(),
          Event.id.desc(), sqlite_where=text(OPEN_EVENTS_SQL), postgresql_where=text(OPEN_EVENTS_SQL))
Index("ix_events_open_severity", Event.severity, Event.reported_at.desc(), Event.id.desc(),
      sqlite_where=text(OPEN_EVENTS_SQL), postgresql_where=text(OPEN_EVENTS_SQL))
del _k


class EventStep(Base):
    """One lifecycle step of an event (dispatch, processing, resolution, closure, reopening): who, when,
    to which department, with what note. The event row keeps only the current state."""

    __tablename__ = "event_steps"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("events.id"))
    at: Mapped[datetime] = mapped_column(EpochSeconds)
    from_status: Mapped[str] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(64))  # username, token name, or 'system'
    department: Mapped[str | None] = mapped_column(String(64))
    note: Mapped[str] = mapped_column(Text, default="")
    # The sender's id of the step (API clients): a replayed step is skipped, not refused or doubled.
    external_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    __table_args__ = (Index("ix_event_steps_event", "event_id", "at"),)


class EventMonthly(Base):
    """Event counts per region (every level), month and class; filled at load time so that the
    cockpit never groups millions of raw events on a click."""

    __tablename__ = "event_monthly"
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    category: Mapped[str] = mapped_column(String(32), primary_key=True)
    severity: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    # Of those: rated, rated satisfied (score >= 4), and done (resolved or closed) no later than due.
    n_rated: Mapped[int] = mapped_column(Integer, default=0)
    n_satisfied: Mapped[int] = mapped_column(Integer, default=0)
    n_on_time: Mapped[int] = mapped_column(Integer, default=0)


class EventCell(Base):
    """Event counts per leaf region, month and 0.005° grid cell: the heat layer's roll-up."""

    __tablename__ = "event_cells"
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    gx: Mapped[int] = mapped_column(Integer, primary_key=True)
    gy: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer)
    __table_args__ = (Index("ix_event_cells_month", "month", "region_code"),)


class Facility(Base):
    __tablename__ = "facilities"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32), index=True)
    name: Mapped[str] = mapped_column(String(128))
    lon: Mapped[float] = mapped_column(Float)
    lat: Mapped[float] = mapped_column(Float)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    attributes: Mapped[str] = mapped_column(Text, default="{}")  # JSON object
    live: Mapped[bool] = mapped_column(Boolean, default=False)
    # In service since (None: since before the records start); facility counts per month follow it.
    since: Mapped[date | None] = mapped_column(Date)


class Reading(Base):
    """Time series of the live facilities (air and water stations, sensors)."""

    __tablename__ = "readings"
    facility_id: Mapped[int] = mapped_column(ForeignKey("facilities.id"), primary_key=True)
    metric: Mapped[str] = mapped_column(String(32), primary_key=True)
    ts: Mapped[datetime] = mapped_column(EpochSeconds, primary_key=True)
    value: Mapped[float] = mapped_column(Float)


class AlertRule(Base):
    """An alert rule kept as data (catalog file ``alert_rules.csv``): a reading threshold, an event
    surge against the area's own seasonal baseline, or an indicator threshold; active in some modes."""

    __tablename__ = "alert_rules"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # reading | surge | indicator
    target: Mapped[str] = mapped_column(String(64))  # metric, event category, or indicator code
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128))
    severity: Mapped[int] = mapped_column(Integer)  # 1 = I … 4 = IV
    polarity: Mapped[int] = mapped_column(Integer, default=-1)  # -1: above the threshold is bad
    warn: Mapped[float | None] = mapped_column(Float)
    alarm: Mapped[float | None] = mapped_column(Float)
    window_hours: Mapped[int | None] = mapped_column(Integer)  # surge: the counting window
    baseline_weeks: Mapped[int | None] = mapped_column(Integer)  # surge: seasonal baseline length
    factor: Mapped[float | None] = mapped_column(Float)  # surge: count >= factor x baseline
    min_count: Mapped[int | None] = mapped_column(Integer)  # surge: and at least this many
    level: Mapped[int | None] = mapped_column(Integer)  # surge: region level counted (None: leaves)
    modes: Mapped[str] = mapped_column(String(128), default="")  # ';'-separated; empty = every mode
    description: Mapped[str] = mapped_column(Text, default="")


class Lease(Base):
    """A named lease (the scheduler's): one holder across every worker and host until it expires."""

    __tablename__ = "leases"
    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    holder: Mapped[str] = mapped_column(String(128))
    expires_at: Mapped[int] = mapped_column(BigInteger)


class Alert(Base):
    __tablename__ = "alerts"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    rule: Mapped[str] = mapped_column(String(64))
    severity: Mapped[int] = mapped_column(Integer)
    region_code: Mapped[str] = mapped_column(ForeignKey("regions.code"), index=True)
    indicator_code: Mapped[str | None] = mapped_column(String(64))
    event_id: Mapped[int | None] = mapped_column(Integer)
    message: Mapped[str] = mapped_column(Text, default="")
    started_at: Mapped[datetime] = mapped_column(EpochSeconds, index=True)
    acknowledged_by: Mapped[str | None] = mapped_column(String(64))
    acknowledged_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    cleared_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    cleared_by: Mapped[str | None] = mapped_column(String(64))  # a person, or 'system' when the rule cleared it
    facility_id: Mapped[int | None] = mapped_column(Integer)  # reading alerts: the station
    category: Mapped[str | None] = mapped_column(String(32))  # surge alerts: the event category
    value: Mapped[float | None] = mapped_column(Float)  # the value that fired the rule
    lon: Mapped[float | None] = mapped_column(Float)  # where the wall draws it (station, event, area centre)
    lat: Mapped[float | None] = mapped_column(Float)


class User(Base):
    """A person who logs in. ``session_epoch`` is part of the session cookie's identity: bumping it
    (password reset, disable, role change) ends every session of the user at once."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(64), default="")
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16))  # see datasources.access.roles.MATRIX
    # Region whose subtree the user may see (None = the whole city). No foreign key: a re-imported
    # hierarchy that drops the region leaves the user seeing nothing, not a broken import.
    scope_code: Mapped[str | None] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(EpochSeconds)
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(EpochSeconds)
    last_login_at: Mapped[datetime | None] = mapped_column(EpochSeconds)


class ApiToken(Base):
    """A bearer token of a machine client. Only the SHA-256 of the secret is kept; ``prefix`` (the
    first characters) lets people recognise a token in lists and logs."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    scope_code: Mapped[str | None] = mapped_column(String(16))
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(EpochSeconds)
    last_used_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    revoked_at: Mapped[datetime | None] = mapped_column(EpochSeconds)
    revoked_by: Mapped[str | None] = mapped_column(String(64))


class AuditLog(Base):
    """Who did what, when, from where: logins, failed logins, mode switches, dispatches, exports,
    imports, administration. Append-only."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ts: Mapped[datetime] = mapped_column(EpochSeconds, index=True)
    username: Mapped[str | None] = mapped_column(String(64), index=True)
    action: Mapped[str] = mapped_column(String(32))
    outcome: Mapped[str] = mapped_column(String(16), default="ok")  # ok | failed | denied
    target: Mapped[str] = mapped_column(String(128), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[str] = mapped_column(Text, default="")
    __table_args__ = (Index("ix_audit_log_action_ts", "action", "ts"), Index("ix_audit_log_ip_ts", "ip", "ts"))


class ExportJob(Base):
    """A file export running in a worker's thread (``datasources.export.jobs``): its progress lives here so
    that whichever worker answers the browser's poll can report it; the file lies under the instance dir."""

    __tablename__ = "export_jobs"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64))
    scope_code: Mapped[str | None] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))  # zip | csv | xlsx
    panel: Mapped[str | None] = mapped_column(String(64))
    query: Mapped[str] = mapped_column(Text, default="")  # the filters as a URL query string
    lang: Mapped[str] = mapped_column(String(4), default="zh")
    status: Mapped[str] = mapped_column(String(8))  # running | done | failed
    rows_done: Mapped[int] = mapped_column(BigInteger, default=0)
    rows_total: Mapped[int] = mapped_column(BigInteger, default=0)
    filename: Mapped[str] = mapped_column(String(200), default="")
    path: Mapped[str] = mapped_column(Text, default="")
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(EpochSeconds)
    updated_at: Mapped[datetime] = mapped_column(EpochSeconds)
    expires_at: Mapped[datetime] = mapped_column(EpochSeconds, index=True)
