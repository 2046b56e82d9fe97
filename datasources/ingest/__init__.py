"""The write layer: the only code that writes to the database.

One entry per kind of data (catalog, regions with boundaries, indicator values, events and their status
steps, readings, facilities). Each validates its whole batch before writing anything, then writes in one
transaction that also runs ``derive`` (incremental roll-ups, rule indicators, alerts) and bumps the data
version once. The demo builder, the command line, and later the ingest API and the duty console call it:

    writer = Writer(engine)
    writer.values([{"indicator": "env_aqi", "region": "510182001", "period": "2026-10", "value": 61}])

    with writer.batch() as batch:          # several entries, one transaction, one derive
        batch.events(frame_of_new_events)
        batch.event_updates([{"id": 42, "status": "dispatched", "department": "市城管局"}])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd
from sqlalchemy import Connection, Engine, text

from datasources import db
from datasources.catalog_loader import Catalog
from datasources.ingest import alerting, entries
from datasources.ingest.derive import Touched, bump_data_version, derive, meta_value, set_meta
from datasources.ingest.entries import CatalogReport, Records
from datasources.ingest.errors import IngestError, Problem
from datasources.models import Base, Event

Clock = Callable[[], datetime]
BULK_SLICE = 100_000  # records per write of events_bulk (memory: about 1 KB per record while written)


@dataclass
class WriteReport:
    """What one transaction wrote and derived, and how long it took."""

    written: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)
    data_version: int = 0
    seconds: float = 0.0
    catalog: CatalogReport | None = None
    repairs: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # replayed event steps: {record, id, external_id}


class Batch:
    """The entries bound to one open transaction; ``derive`` runs once when the batch closes."""

    def __init__(self, conn: Connection, now: datetime, report: WriteReport):
        self.conn, self.now, self.report = conn, now, report
        self.touched = Touched()

    def _count(self, kind: str, n: int) -> int:
        self.report.written[kind] = self.report.written.get(kind, 0) + n
        return n

    def catalog(self, catalog: Catalog, level_shift: int | None = None, prune: bool = False) -> CatalogReport:
        """Pages, indicators and rules (see :func:`entries.write_catalog`)."""
        if level_shift is None:
            level_shift = int(meta_value(self.conn, "catalog_level_shift") or 0)
        rep = entries.write_catalog(self.conn, catalog, self.touched, level_shift, prune)
        self.report.catalog = rep
        self._count("indicators", len(catalog.indicators))
        return rep

    def regions(self, records: Records, levels: list[tuple[int, str, str]] = ()) -> list[str]:
        """Regions with boundaries and level names; returns what was repaired."""
        repairs = entries.write_regions(self.conn, records, levels, self.touched)
        self.report.repairs += repairs
        self._count("regions", self.touched.writes)
        return repairs

    def values(self, records: Records, *, scope: str | None = None, counts: dict[str, int] | None = None) -> int:
        """Indicator values (indicator, region, period, value[, reported_at]); ``scope`` limits the regions,
        ``counts["updated"]`` tells how many replaced existing values (see :func:`entries.write_values`)."""
        return self._count("indicator_values", entries.write_values(self.conn, records, self.touched, self.now,
                                                                    scope=scope, counts=counts))

    def events(self, records: Records, *, scope: str | None = None, results: list[tuple[int, bool]] | None = None) -> int:
        """New events; a known (source, external_id) is skipped. ``scope`` limits the regions, ``results``
        gets (event id, created) per record (see :func:`entries.write_events`)."""
        return self._count("events", entries.write_events(self.conn, records, self.touched, self.now,
                                                          scope=scope, results=results))

    def events_bulk(self, chunks: Iterable[Records]) -> int:
        """Many new events streamed in chunks (the demo's millions): the events table's indexes are dropped
        first and rebuilt once when the batch closes, each chunk is validated and bulk-loaded like
        :meth:`events` (COPY on PostgreSQL), and derive runs once over the whole id range. Memory stays
        at one chunk. A (source, external_id) already stored, by an earlier chunk too, is skipped as in
        :meth:`events` (looked up without the index: meant for bulk loads, which rarely carry client ids)."""
        if "events" not in self.touched.deferred_indexes:
            db.drop_indexes(self.conn, Event.__table__)
            self.touched.deferred_indexes.add("events")
        return sum(self.events(piece) for chunk in chunks for piece in _slices(chunk, BULK_SLICE))

    def event_updates(self, records: Records, actor: str = "system") -> int:
        """Lifecycle steps of existing events, recorded in ``event_steps`` as done by ``actor``; replayed
        steps (a known external_id) are skipped and listed in the report's ``skipped``."""
        n = entries.write_event_updates(self.conn, records, self.touched, self.now, actor, self.report.skipped)
        return self._count("event_updates", n)

    def facilities(self, records: Records) -> int:
        """New or updated facilities."""
        return self._count("facilities", entries.write_facilities(self.conn, records, self.touched))

    def readings(self, records: Records, *, scope: str | None = None, counts: dict[str, int] | None = None) -> int:
        """Readings of live facilities; ``scope`` limits the facilities' regions, ``counts["updated"]`` tells
        how many replaced existing readings."""
        return self._count("readings", entries.write_readings(self.conn, records, self.touched, scope=scope,
                                                              counts=counts))

    def rebuild(self) -> None:
        """Derive everything again (after a migration, or to check the incremental path)."""
        self.touched.full = True

    def alert_steps(self, records: Records) -> int:
        """Acknowledge or clear alerts by hand: id, step ('acknowledge' | 'clear'), by, [at]."""
        n = alerting.write_alert_steps(self.conn, records, self.now)
        self.touched.writes += n
        return self._count("alert_steps", n)

    def mode(self, mode: str, by: str, source: str = "manual") -> str | None:
        """Switch the operating mode (who, and whether by hand or by the schedule); the alerts of the rules
        it activates open and those of the rules it deactivates clear in this transaction's derive.
        Returns the previous mode, or None when ``mode`` already is the current one."""
        old = alerting.write_mode(self.conn, mode, by, source, self.now)
        if old is not None:
            self.touched.mode_changed = True
            self.touched.writes += 1
            self._count("mode", 1)
        return old

    def reevaluate(self) -> None:
        """Re-evaluate every active alert rule at 'now' (surge windows pass with time). When nothing
        changes, the data version is not bumped: screens need not redraw."""
        self.touched.reevaluate = True

    def set_meta(self, facts: dict[str, str]) -> None:
        """Facts about the loaded data (demo flag, scale, seed, as-of…); data_version is the writer's."""
        for k, v in facts.items():
            set_meta(self.conn, k, str(v))
        self.touched.writes += len(facts)


def _slices(records: Records, size: int) -> Iterator[Records]:
    """``records`` in pieces of at most ``size``: the write path holds a few Python objects per field of
    every record of a piece, so the piece, not the chunk a caller hands in, bounds its memory."""
    if isinstance(records, pd.DataFrame):
        for k in range(0, len(records), size):
            yield records.iloc[k:k + size].reset_index(drop=True)
        return
    rows = list(records)
    for k in range(0, len(rows), size):
        yield rows[k:k + size]


def _take_write_lock(conn: Connection) -> None:
    """Serialise writers before they read anything: a no-op write to the data-version row takes SQLite's
    write lock (the transaction becomes IMMEDIATE) and PostgreSQL's row lock, so concurrent batches (API
    clients, the console, the scheduler) run one after another instead of deriving from stale reads."""
    conn.execute(text("UPDATE meta SET value = value WHERE key = 'data_version'"))


class Writer:
    """Entries on one database. ``clock`` gives 'now' (the demo passes its as-of time)."""

    def __init__(self, engine: Engine, clock: Clock | None = None):
        self.engine = engine
        self.clock = clock or (lambda: datetime.now().replace(microsecond=0))

    @contextmanager
    def batch(self) -> Iterator[Batch]:
        """One transaction: the entries called on the batch, then derive and one data-version bump.
        Any error rolls the whole batch back."""
        t0 = time.perf_counter()
        report = WriteReport()
        with self.engine.begin() as conn:
            db.unbounded(conn)  # a big batch's derive must not be cut by the screens' statement timeout
            _take_write_lock(conn)
            b = Batch(conn, self.clock(), report)
            yield b
            for name in sorted(b.touched.deferred_indexes):
                db.create_indexes(conn, Base.metadata.tables[name])
            report.derived = derive(conn, b.touched, b.now)
            if not b.touched.writes and not b.touched.full and not any(report.derived.values()):
                # Nothing changed (a replayed batch, a quiet re-evaluation): screens need not redraw.
                report.data_version = int(meta_value(conn, "data_version") or 0)
            else:
                report.data_version = bump_data_version(conn)
        report.seconds = time.perf_counter() - t0
        self.last_report = report

    def _one(self, method: str, *args: Any, **kwargs: Any) -> WriteReport:
        with self.batch() as b:
            getattr(b, method)(*args, **kwargs)
        return self.last_report

    def catalog(self, catalog: Catalog, level_shift: int | None = None, prune: bool = False) -> WriteReport:
        return self._one("catalog", catalog, level_shift, prune)

    def regions(self, records: Records, levels: list[tuple[int, str, str]] = ()) -> WriteReport:
        return self._one("regions", records, levels)

    def values(self, records: Records) -> WriteReport:
        return self._one("values", records)

    def events(self, records: Records) -> WriteReport:
        return self._one("events", records)

    def events_bulk(self, chunks: Iterable[Records]) -> WriteReport:
        return self._one("events_bulk", chunks)

    def event_updates(self, records: Records, actor: str = "system") -> WriteReport:
        return self._one("event_updates", records, actor)

    def facilities(self, records: Records) -> WriteReport:
        return self._one("facilities", records)

    def readings(self, records: Records) -> WriteReport:
        return self._one("readings", records)

    def rebuild(self) -> WriteReport:
        return self._one("rebuild")

    def alert_steps(self, records: Records) -> WriteReport:
        return self._one("alert_steps", records)

    def mode(self, mode: str, by: str, source: str = "manual") -> WriteReport:
        return self._one("mode", mode, by, source)

    def reevaluate(self) -> WriteReport:
        return self._one("reevaluate")


__all__ = ["Batch", "CatalogReport", "IngestError", "Problem", "WriteReport", "Writer"]
