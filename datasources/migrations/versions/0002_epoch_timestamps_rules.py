"""timestamps as epoch seconds; indicator rules; event roll-up measures; facility service dates

Revision ID: 0002
Revises: 0001

Timestamps move from SQLAlchemy's 26-character strings (SQLite) / timestamp (PostgreSQL) to integer
seconds since 1970-01-01 of the wall-clock time (see ``datasources.models.EpochSeconds``): the county
demo shrinks by about half. Existing rows are converted in place. The new roll-up measures start at 0:
``python app.py db upgrade`` runs a full derive afterwards on a database that holds data.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TIMESTAMPS = {
    "indicator_values": ("reported_at",),
    "events": ("reported_at", "dispatched_at", "resolved_at", "closed_at", "due_at"),
    "readings": ("ts",),
    "alerts": ("started_at", "acknowledged_at", "cleared_at"),
    "api_tokens": ("created_at", "revoked_at"),
    "audit_log": ("ts",),
}
OPEN = "status IN ('reported', 'dispatched', 'processing')"
NOT_NULL = {("events", "reported_at"), ("readings", "ts"), ("alerts", "started_at"), ("api_tokens", "created_at"), ("audit_log", "ts")}


def upgrade() -> None:
    bind = op.get_bind()
    for table, columns in TIMESTAMPS.items():
        if bind.dialect.name == "sqlite":
            # SQLite keeps any value in any column: convert the text in place, then retype the column
            # (batch mode copies the table, and CAST of an integer to BIGINT keeps it).
            for col in columns:
                op.execute(
                    f"UPDATE {table} SET {col} = CAST(strftime('%s', {col}) AS INTEGER) "
                    f"WHERE {col} IS NOT NULL AND typeof({col}) = 'text'"
                )
            with op.batch_alter_table(table) as batch:
                for col in columns:
                    batch.alter_column(col, type_=sa.BigInteger(), existing_type=sa.DateTime(),
                                       existing_nullable=(table, col) not in NOT_NULL)
        else:
            for col in columns:
                op.alter_column(table, col, type_=sa.BigInteger(), existing_type=sa.DateTime(),
                                existing_nullable=(table, col) not in NOT_NULL,
                                postgresql_using=f"CAST(EXTRACT(EPOCH FROM {col}) AS BIGINT)")

    # Open events: a partial index of the few open rows instead of a full index of every event.
    op.drop_index("ix_events_status_region", table_name="events")
    op.create_index("ix_events_open", "events", ["region_code", "severity", "reported_at"], unique=False,
                    sqlite_where=sa.text(OPEN), postgresql_where=sa.text(OPEN))
    with op.batch_alter_table("event_monthly") as batch:
        for col in ("n_rated", "n_satisfied", "n_on_time"):
            batch.add_column(sa.Column(col, sa.Integer(), nullable=False, server_default="0"))
    with op.batch_alter_table("facilities") as batch:
        batch.add_column(sa.Column("since", sa.Date(), nullable=True))
    op.create_table(
        "indicator_rules",
        sa.Column("indicator_code", sa.String(length=64), nullable=False),
        sa.Column("measure", sa.String(length=16), nullable=False),
        sa.Column("sources", sa.String(length=256), nullable=False),
        sa.Column("categories", sa.String(length=512), nullable=False),
        sa.Column("facility_kind", sa.String(length=32), nullable=False),
        sa.Column("attribute", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(["indicator_code"], ["indicators.code"]),
        sa.PrimaryKeyConstraint("indicator_code"),
    )


def downgrade() -> None:
    op.drop_index("ix_events_open", table_name="events")
    op.create_index("ix_events_status_region", "events", ["status", "region_code", "severity", "reported_at"], unique=False)
    op.drop_table("indicator_rules")
    with op.batch_alter_table("facilities") as batch:
        batch.drop_column("since")
    with op.batch_alter_table("event_monthly") as batch:
        for col in ("n_rated", "n_satisfied", "n_on_time"):
            batch.drop_column(col)
    bind = op.get_bind()
    for table, columns in TIMESTAMPS.items():
        if bind.dialect.name == "sqlite":
            with op.batch_alter_table(table) as batch:
                for col in columns:
                    batch.alter_column(col, type_=sa.DateTime(), existing_type=sa.BigInteger())
            for col in columns:
                op.execute(f"UPDATE {table} SET {col} = strftime('%Y-%m-%d %H:%M:%S.000000', {col}, 'unixepoch') "
                           f"WHERE {col} IS NOT NULL")
        else:
            for col in columns:
                op.alter_column(table, col, type_=sa.DateTime(), existing_type=sa.BigInteger(),
                                postgresql_using=f"to_timestamp({col}) AT TIME ZONE 'UTC'")
