"""Engine creation, schema migration and bulk loading, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import socket
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Date, Engine, Table, create_engine, event, inspect, make_url, text
from sqlalchemy.exc import OperationalError

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(
    url: str, *, connect_timeout: int = 10, statement_timeout_ms: int = 0, pool_timeout: int = 30,
    busy_timeout_ms: int = 60_000, pool_pre_ping: bool = True,
) -> Engine:
    """Create an engine; for SQLite files, create the folder and use WAL so readers never block.

    The defaults suit batch work (imports, derive, the demo): no statement timeout, a long wait for
    SQLite's lock. Screens use :func:`screen_engine`, whose timeouts come from the config. A read-only URL
    from :func:`read_only_url` is opened as it is."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:") and "mode=ro" not in url:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    if url.startswith("sqlite"):
        # Writers queue on the database lock: wait for it up to busy_timeout (pysqlite's own default is 5 s).
        return _sqlite_engine(url, busy_timeout_ms)
    connect_args: dict = {}
    if url.startswith("postgresql"):
        connect_args["connect_timeout"] = connect_timeout  # libpq's: covers TCP connect and the start-up exchange
        if statement_timeout_ms:
            url = _with_pg_option(url, f"-c statement_timeout={int(statement_timeout_ms)}")
            # The server's statement_timeout cannot fire when the network or the server hangs (the query
            # never arrives, or its answer never leaves): a client-side deadline a little later closes the
            # socket, so the request fails fast instead of waiting for TCP to give up (minutes).
            connect_args["cursor_factory"] = deadline_cursor(statement_timeout_ms / 1000 + 2, ping_seconds=connect_timeout)
    engine = create_engine(url, pool_pre_ping=pool_pre_ping, pool_timeout=pool_timeout, connect_args=connect_args)
    if "cursor_factory" in connect_args:

        @event.listens_for(engine, "checkin")
        def _bounded_again(dbapi_conn, _record):  # noqa: ANN001 - 'unbounded' lasts one checkout
            if dbapi_conn is not None:
                dbapi_conn.ioc_unbounded = False

    return engine


def screen_engine(url: str, cfg) -> Engine:  # noqa: ANN001 - config.Config (not imported: no cycle)
    """The engine of the running app: connect, statement and pool timeouts from ``cfg``, so that a slow
    or hung database makes a request fail within seconds (and the screens show a degraded state) instead
    of holding it for minutes. Writes through the write layer lift the statement limit (:func:`unbounded`)."""
    return make_engine(url, connect_timeout=cfg.db_connect_timeout, statement_timeout_ms=cfg.db_statement_timeout_ms,
                       pool_timeout=cfg.db_pool_timeout, busy_timeout_ms=cfg.db_busy_timeout_ms)


def unbounded(conn) -> None:  # noqa: ANN001 - a SQLAlchemy Connection inside a transaction
    """Lift the statement timeout for the rest of this transaction (a derive after a big batch must not be
    cut): ``SET LOCAL`` on PostgreSQL, and the client-side deadline is off until the connection goes back
    to the pool."""
    if conn.dialect.name != "postgresql":
        return
    conn.exec_driver_sql("SET LOCAL statement_timeout = 0")
    conn.connection.driver_connection.ioc_unbounded = True


def _sqlite_engine(url: str, busy_timeout_ms: int) -> Engine:
    engine = create_engine(url, connect_args={"timeout": busy_timeout_ms / 1000})

    read_only = "mode=ro" in url

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
        cur = dbapi_conn.cursor()
        if read_only:  # nothing may be written, not even the journal mode
            cur.execute("PRAGMA query_only=ON")
            cur.execute("PRAGMA cache_size=-65536")
            cur.close()
            return
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")  # 64 MB page cache per connection
        cur.close()

    return engine


def _with_pg_option(url: str, option: str) -> str:
    """``url`` with ``option`` appended to libpq's ``options`` (keeping e.g. a search_path already there)."""
    u = make_url(url)
    current = u.query.get("options", "")
    current = " ".join(current) if isinstance(current, tuple) else current
    return u.update_query_dict({"options": f"{current} {option}".strip()}).render_as_string(hide_password=False)


class _Deadlines:
    """One daemon thread that shuts down the socket of a statement still running at its deadline."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, int]] = []  # (deadline, token, fd)
        self._live: set[int] = set()
        self._tokens = itertools.count()
        self._thread: threading.Thread | None = None

    def arm(self, fd: int, seconds: float) -> int:
        token = next(self._tokens)
        with self._cond:
            heapq.heappush(self._heap, (time.monotonic() + seconds, token, fd))
            self._live.add(token)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="db-deadlines", daemon=True)
                self._thread.start()
            self._cond.notify()
        return token

    def disarm(self, token: int) -> None:
        with self._cond:
            self._live.discard(token)

    def _run(self) -> None:
        with self._cond:
            while True:
                while self._heap and self._heap[0][1] not in self._live:
                    heapq.heappop(self._heap)  # finished in time
                if not self._heap:
                    self._cond.wait()
                    continue
                deadline, token, fd = self._heap[0]
                wait = deadline - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                self._live.discard(token)
                log.warning("database statement still running after its deadline: closing the connection")
                try:
                    sock = socket.socket(fileno=os.dup(fd))
                    try:
                        sock.shutdown(socket.SHUT_RDWR)  # the waiting driver sees the connection end and raises
                    finally:
                        sock.close()
                except OSError:
                    pass  # already closed


_DEADLINES = _Deadlines()


def deadline_cursor(seconds: float, ping_seconds: float | None = None) -> type:
    """A psycopg cursor class whose statements end within ``seconds``; the pool's ping (``;``, sent
    before a pooled connection is used) within ``ping_seconds``: a connection that hung while it sat in the
    pool is given up as fast as a new one would be."""
    import psycopg

    ping = ping_seconds or seconds

    class DeadlineCursor(psycopg.Cursor):
        def execute(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            is_ping = isinstance(query, str) and query.strip().rstrip(";").strip().upper() in ("", "SELECT 1")
            limit = ping if is_ping else seconds
            return self._with_deadline(limit, super().execute, query, *args, **kwargs)

        def executemany(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            return self._with_deadline(seconds, super().executemany, *args, **kwargs)

        def _with_deadline(self, limit, run, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            conn = self.connection
            if getattr(conn, "ioc_unbounded", False):
                return run(*args, **kwargs)
            token = _DEADLINES.arm(conn.fileno(), limit)
            try:
                return run(*args, **kwargs)
            finally:
                _DEADLINES.disarm(token)

    return DeadlineCursor


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory SQLite)."""
    if not url.startswith("sqlite:///") or url.startswith("sqlite:///:memory:"):
        return None
    return Path(url.removeprefix("sqlite:///").split("?", 1)[0].removeprefix("file:"))


def sqlite_is_read_only(path: Path) -> bool:
    """True when an existing SQLite file may not be written: the file has no write permission bits, or its
    folder cannot take the -wal/-shm files SQLite needs (no write bits, or not writable for this user).
    Permission bits count even for root: a file made read-only on purpose is served read-only."""
    if not path.is_file():
        return False
    no_write_bits = not (path.stat().st_mode & 0o222) or not (path.parent.stat().st_mode & 0o222)
    return no_write_bits or not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)


def read_only_url(path: Path) -> str:
    """A URL opening ``path`` read-only and immutable: no lock, no -wal/-shm files needed (the file must
    not change while it is served)."""
    return f"sqlite:///file:{path.resolve()}?mode=ro&immutable=1&uri=true"


def is_read_only(engine: Engine) -> bool:
    """True for an engine on a read-only URL (:func:`read_only_url`)."""
    return engine.dialect.name == "sqlite" and engine.url.query.get("mode") == "ro"


class DatabaseMissing(RuntimeError):
    """The configured database cannot be served; the message names it and what to do."""


def serving_problem(url: str) -> str | None:
    """What keeps ``url`` from being served (None when it can be): a SQLite path whose folder or file does
    not exist, a database without the schema, a PostgreSQL server that cannot be reached."""
    path = sqlite_path(url)
    if path is not None:
        if not path.parent.is_dir():
            return (f"the database folder {path.parent} does not exist (IOC_DATABASE_URL={url}): fix the path, "
                    f"or create the folder and run 'python app.py init' (an empty database) or 'python app.py demo' (the demo city)")
        if not path.is_file():
            return (f"the database file {path} does not exist (IOC_DATABASE_URL={url}): fix the path, or run "
                    "'python app.py init' (an empty database) or 'python app.py demo' (the demo city) to create it")
        engine = make_engine(read_only_url(path) if sqlite_is_read_only(path) else url)
        try:
            if not has_schema(engine):
                return f"the database file {path} holds no IOC schema: run 'python app.py init' or 'python app.py demo' first"
        finally:
            engine.dispose()
        return None
    if url.startswith("postgresql"):
        from sqlalchemy.engine import make_url

        parts = make_url(url)
        where = f"PostgreSQL database {parts.database!r} on {parts.host or 'localhost'}:{parts.port or 5432}"
        engine = create_engine(url, connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            if not has_schema(engine):
                return f"the {where} holds no IOC schema: run 'python app.py init' or 'python app.py db upgrade' first"
        except OperationalError as exc:
            first = str(exc.orig or exc).strip().splitlines()[0]
            return f"cannot connect to the {where} (user {parts.username or '-'}): {first}; check IOC_DATABASE_URL and the server"
        finally:
            engine.dispose()
    return None


def upgrade(engine: Engine) -> None:
    """Bring the schema to the newest Alembic revision (creates it on an empty database)."""
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def reset_database(engine: Engine) -> None:
    """Drop every table (including Alembic's) and migrate an empty schema to head."""
    from datasources.models import Base

    with engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    upgrade(engine)


def has_schema(engine: Engine) -> bool:
    """True when the database already holds the regions table."""
    return inspect(engine).has_table("regions")


def bulk_insert(conn, table: Table, columns: Sequence[str], rows: Iterable[Sequence]) -> int:  # noqa: ANN001
    """Insert many rows fast: COPY on PostgreSQL, executemany of tuples elsewhere.

    ``rows`` are tuples in ``columns`` order; ``None`` is NULL. Runs inside the caller's transaction.
    """
    dialect = conn.dialect.name
    cols = ", ".join(f'"{c}"' for c in columns)
    n = 0
    if dialect == "postgresql":
        raw = conn.connection.driver_connection  # psycopg 3 connection
        with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({cols}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n
    placeholders = ", ".join("?" for _ in columns)
    rows = _sqlite_rows(table, columns, rows)
    cur = conn.connection.driver_connection.cursor()
    batch: list[Sequence] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= 50_000:
            cur.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders})', batch)
            n += len(batch)
            batch.clear()
    if batch:
        cur.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders})', batch)
        n += len(batch)
    return n




def _sqlite_rows(table: Table, columns: Sequence[str], rows: Iterable[Sequence]) -> Iterable[Sequence]:
    """Dates as ISO text (how SQLAlchemy stores a Date in SQLite); other values pass unchanged."""
    date_idx = [k for k, c in enumerate(columns) if isinstance(table.c[c].type, Date)]
    if not date_idx:
        return rows
    return (tuple(v.isoformat() if k in date_idx and isinstance(v, date) else v for k, v in enumerate(row)) for row in rows)


def upsert(conn, table: Table, rows: Sequence, key: Sequence[str], columns: Sequence[str] | None = None) -> int:  # noqa: ANN001
    """Insert rows, replacing the non-key columns of rows whose ``key`` already exists.

    ``rows`` are dicts, or tuples in ``columns`` order. Values must be database-ready (timestamps as epoch
    seconds). PostgreSQL: COPY into a temporary table, then one INSERT … ON CONFLICT; SQLite: executemany
    of INSERT … ON CONFLICT (the same syntax)."""
    if not len(rows):
        return 0
    if columns is None:
        columns = list(rows[0])
        tuples = [tuple(r[c] for c in columns) for r in rows]
    else:
        tuples = rows
    cols = ", ".join(f'"{c}"' for c in columns)
    conflict = ", ".join(f'"{c}"' for c in key)
    updates = ", ".join(f'"{c}" = excluded."{c}"' for c in columns if c not in key)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    if conn.dialect.name == "postgresql":
        tmp = f"tmp_{table.name}"
        conn.exec_driver_sql(f'CREATE TEMP TABLE IF NOT EXISTS "{tmp}" (LIKE "{table.name}" INCLUDING DEFAULTS) ON COMMIT DROP')
        conn.exec_driver_sql(f'TRUNCATE "{tmp}"')
        raw_conn = conn.connection.driver_connection
        with raw_conn.cursor() as cur, cur.copy(f'COPY "{tmp}" ({cols}) FROM STDIN') as copy:
            for row in tuples:
                copy.write_row(row)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({cols}) SELECT {cols} FROM "{tmp}" ON CONFLICT ({conflict}) {action}')
        return len(tuples)
    placeholders = ", ".join("?" for _ in columns)
    cur = conn.connection.driver_connection.cursor()
    cur.executemany(
        f'INSERT INTO "{table.name}" ({cols}) VALUES ({placeholders}) ON CONFLICT ({conflict}) {action}',
        list(_sqlite_rows(table, columns, tuples)),
    )
    return len(tuples)


def drop_indexes(conn, table: Table) -> None:  # noqa: ANN001
    """Drop a table's secondary indexes before a bulk load (re-create them with ``create_indexes``):
    building an index once over sorted keys is far cheaper than updating it row by row."""
    for index in table.indexes:
        index.drop(conn, checkfirst=True)


def create_indexes(conn, table: Table) -> None:  # noqa: ANN001
    """Re-create the indexes dropped by ``drop_indexes``."""
    if conn.dialect.name == "postgresql":
        # Sorting tens of millions of keys in memory instead of in temporary files (this transaction only).
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
    for index in table.indexes:
        index.create(conn, checkfirst=True)
