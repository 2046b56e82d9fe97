"""Engine creation, schema migration and bulk loading, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Date, Engine, Table, create_engine, event, inspect, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite files, create the folder and use WAL so readers never block."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # SQLite: writers queue on the database lock; wait for it up to 60 s instead of pysqlite's 5 s.
    connect_args = {"timeout": 60} if url.startswith("sqlite") else {}
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"), connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA cache_size=-65536")  # 64 MB page cache per connection
            cur.close()

    return engine


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
