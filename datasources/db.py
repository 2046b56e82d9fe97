"""Engine creation, schema migration and bulk loading, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine, Table, create_engine, event, inspect

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def make_engine(url: str) -> Engine:
    """Create an engine; for SQLite files, create the folder and use WAL so readers never block."""
    if url.startswith("sqlite:///") and not url.startswith("sqlite:///:memory:"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, future=True, pool_pre_ping=not url.startswith("sqlite"))
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


