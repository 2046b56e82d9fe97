"""Engine creation, schema migration and bulk loading, the same on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Date, Engine, Table, create_engine, event, inspect, text
from sqlalchemy.exc import OperationalError

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite files, create the folder and use WAL so readers never block (a
    read-only URL from :func:`read_only_url` is opened as it is)."""
    read_only = "mode=ro" in url
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:") and not read_only:
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # SQLite: writers queue on the database lock; wait for it up to 60 s instead of pysqlite's 5 s.
    connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"), connect_args=connect_args)
    if engine.dialect.name == "sqlite":

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
    for index in table.indexes:
        index.create(conn, checkfirst=True)
