"""Every row of every table of a database, to compare two demo builds table by table."""

from __future__ import annotations

from sqlalchemy import inspect, text

from datasources import db

# Tables that hold the app's own state, not what a build wrote: the data version, the accounts, the audit
# log, API tokens and export jobs (other tests' apps write them into the session databases).
PER_APP_TABLES = ("meta", "users", "audit_log", "api_tokens", "export_jobs")


def table_rows(url: str) -> dict[str, list[tuple]]:
    """Table name -> all its rows in a fixed order, for every table but Alembic's version table."""
    engine = db.make_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in sorted(inspect(engine).get_table_names()):
            if table == "alembic_version":
                continue
            cols = [c["name"] for c in inspect(engine).get_columns(table)]
            order = ", ".join(f'"{c}"' for c in cols)
            out[table] = conn.execute(text(f'SELECT * FROM "{table}" ORDER BY {order}')).all()
    engine.dispose()
    return out


def assert_same_build(url: str, other: str, how: str) -> None:
    """Fail naming the first table whose rows differ between two builds (the per-app tables aside);
    ``how`` says what differs between the builds, for the message."""
    first, second = table_rows(url), table_rows(other)
    for name in PER_APP_TABLES:
        first.pop(name), second.pop(name)
    assert first.keys() == second.keys()
    for table in first:
        assert first[table] == second[table], f"table {table} differs {how}"
