"""What counts as an outage of the database or the cache, and the log lines that tell an operator when
one began and ended (one line each way per process, not one per request)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import exc as sa_exc

log = logging.getLogger(__name__)

T = TypeVar("T")

#: Errors meaning "the database cannot answer now" (down, unreachable, timed out, pool exhausted): the
#: screens degrade and the API answers 503. A query that is wrong (ProgrammingError, IntegrityError) is not
#: among them and stays a 500.
DATABASE_OUTAGE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,  # connection refused/lost, connect or statement timeout, SQLite busy
    sa_exc.InterfaceError,  # the driver's connection is unusable
    sa_exc.TimeoutError,  # no pooled connection free within pool_timeout
    sa_exc.DisconnectionError,
)


def is_database_outage(exc: BaseException) -> bool:
    """True when ``exc`` (or what it was raised from) means the database is unavailable."""
    seen = 0
    while exc is not None and seen < 5:
        if isinstance(exc, DATABASE_OUTAGE):
            return True
        exc, seen = exc.__cause__ or exc.__context__, seen + 1
    return False


def _cache_errors() -> tuple[type[BaseException], ...]:
    try:
        from redis.exceptions import RedisError
    except ImportError:  # Redis is an optional (production) dependency
        return (OSError,)
    return (RedisError, OSError)


CACHE_OUTAGE = _cache_errors()


class Outage:
    """The state of one backend in this process: logs the start of an outage once (with the error) and
    its end once, and remembers since when it is down (epoch seconds; None while it answers)."""

    def __init__(self, name: str):
        self.name = name
        self.since: float | None = None
        self.last_ok: float | None = None
        self._lock = threading.Lock()

    def down(self, exc: BaseException) -> None:
        """The backend failed now."""
        with self._lock:
            if self.since is not None:
                return
            self.since = time.time()
        detail = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
        log.warning("%s unavailable: %s: %s", self.name, exc.__class__.__name__, detail)

    def up(self) -> None:
        """The backend answered now."""
        now = time.time()
        self.last_ok = now
        if self.since is None:  # the common case: no lock, no log
            return
        with self._lock:
            since, self.since = self.since, None
        if since is not None:
            log.warning("%s available again after %.0f s", self.name, now - since)


DATABASE = Outage("database")


class CacheGuard:
    """Calls into the cache backend that never raise: while the backend fails, the app runs uncached
    (reads miss, writes are dropped) and tries the backend again every ``retry_seconds``, so an outage
    costs one timeout per retry period, not one per read."""

    def __init__(self, retry_seconds: float, outage: Outage | None = None):
        self.retry_seconds = retry_seconds
        self.outage = outage or Outage("cache")
        self._retry_at = 0.0

    def call(self, fn: Callable[[], T], default: Any = None) -> T | Any:
        """``fn()``, or ``default`` when the backend is failing (now or within the retry period)."""
        if self.outage.since is not None and time.monotonic() < self._retry_at:
            return default
        try:
            value = fn()
        except CACHE_OUTAGE as exc:
            self._retry_at = time.monotonic() + self.retry_seconds
            self.outage.down(exc)
            return default
        self.outage.up()
        return value
