"""One scheduler for the whole deployment, whatever the number of processes and hosts.

Every process runs a daemon thread that, every ``interval`` seconds, tries to take or renew the lease row
'scheduler' in ``leases`` with one atomic conditional statement (an UPDATE that succeeds only for the
holder or after expiry, else an INSERT … ON CONFLICT DO NOTHING; the same SQL on SQLite and PostgreSQL).
Only the holder runs the jobs:

- the mode schedule (:func:`datasources.operations.modes.apply_schedule`);
- a re-evaluation of the alert rules at 'now' (surge windows pass with time; a write without changes does
  not bump the data version).

When the holder dies, its lease expires after ``ttl`` seconds and another process takes over. ``stop()``
ends the thread and gives the lease up at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine, text

from datasources.ingest import Writer
from datasources.operations.modes import ModeSchedule, apply_schedule, parse_schedule

LEASE = "scheduler"
log = logging.getLogger(__name__)


class Scheduler:
    """The lease and the jobs of one process. ``wall`` gives epoch seconds for the lease (shared by every
    host: real time), ``clock`` the city's wall-clock time the jobs run at (the Writer's 'now')."""

    def __init__(
        self, engine: Engine, schedule: ModeSchedule | str = "", interval: float = 15.0, ttl: float | None = None,
        clock: Callable[[], datetime] | None = None, wall: Callable[[], float] = time.time, holder: str | None = None,
    ):
        self.engine = engine
        self.schedule = parse_schedule(schedule) if isinstance(schedule, str) else schedule
        self.interval = float(interval)
        self.ttl = float(ttl if ttl is not None else max(3 * self.interval, 10.0))
        self.clock, self.wall = clock, wall
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ lease
    def try_lease(self) -> bool:
        """Take or renew the lease; True when this process holds it until ``now + ttl``."""
        now = int(self.wall())
        params = {"n": LEASE, "h": self.holder, "exp": int(now + self.ttl), "now": now}
        with self.engine.begin() as conn:
            got = conn.execute(
                text("UPDATE leases SET holder = :h, expires_at = :exp WHERE name = :n AND (holder = :h OR expires_at < :now)"),
                params,
            ).rowcount
            if not got:
                got = conn.execute(
                    text("INSERT INTO leases (name, holder, expires_at) VALUES (:n, :h, :exp) ON CONFLICT (name) DO NOTHING"),
                    params,
                ).rowcount
        return bool(got)

    def release(self) -> None:
        """Give the lease up (another process may take it at its next try)."""
        with self.engine.begin() as conn:
            conn.execute(text("UPDATE leases SET expires_at = 0 WHERE name = :n AND holder = :h"), {"n": LEASE, "h": self.holder})

    # ------------------------------------------------------------------ jobs
    def run_once(self) -> dict:
        """One tick: take/renew the lease, and when held run the jobs. Returns what happened:
        {leader, mode_switch, reevaluated, data_version}."""
        out: dict = {"leader": self.try_lease(), "mode_switch": None, "reevaluated": None, "data_version": None}
        if not out["leader"]:
            return out
        out["mode_switch"] = apply_schedule(self.engine, self.schedule, self.clock)
        report = Writer(self.engine, clock=self.clock).reevaluate()
        out["reevaluated"] = {k: v for k, v in report.derived.items() if v}
        out["data_version"] = report.data_version
        return out

    # ------------------------------------------------------------------ thread
    def start(self) -> Scheduler:
        """Run ``run_once`` every ``interval`` seconds in a daemon thread."""
        if self._thread is None or not self._thread.is_alive():
            self._stop.clear()
            self._thread = threading.Thread(target=self._loop, name="ioc-scheduler", daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """End the thread (waits for a running tick) and release the lease."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
        try:
            self.release()
        except Exception:  # noqa: BLE001 - the database may be gone at shutdown; the lease then expires
            log.warning("scheduler: could not release the lease", exc_info=True)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - a failed tick (database restarting…) must not end the scheduler
                log.exception("scheduler tick failed")
            self._stop.wait(self.interval)


__all__ = ["LEASE", "Scheduler"]
