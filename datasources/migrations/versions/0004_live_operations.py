"""live operations: client ids of events, event step history, alert rules as data, alert positions and
who cleared them, the scheduler's lease

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.add_column(sa.Column("external_id", sa.String(length=64), nullable=True))
    op.create_index("ux_events_source_external", "events", ["source", "external_id"], unique=True)
    op.create_table(
        "event_steps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=False),
        sa.Column("to_status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("department", sa.String(length=64), nullable=True),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("external_id", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id"),
    )
    op.create_index("ix_event_steps_event", "event_steps", ["event_id", "at"])
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("polarity", sa.Integer(), nullable=False),
        sa.Column("warn", sa.Float(), nullable=True),
        sa.Column("alarm", sa.Float(), nullable=True),
        sa.Column("window_hours", sa.Integer(), nullable=True),
        sa.Column("baseline_weeks", sa.Integer(), nullable=True),
        sa.Column("factor", sa.Float(), nullable=True),
        sa.Column("min_count", sa.Integer(), nullable=True),
        sa.Column("level", sa.Integer(), nullable=True),
        sa.Column("modes", sa.String(length=128), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "leases",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=False),
        sa.Column("expires_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("cleared_by", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("facility_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("value", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lon", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lat", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        for col in ("lat", "lon", "value", "category", "facility_id", "cleared_by"):
            batch.drop_column(col)
    op.drop_table("leases")
    op.drop_table("alert_rules")
    op.drop_index("ix_event_steps_event", table_name="event_steps")
    op.drop_table("event_steps")
    op.drop_index("ux_events_source_external", table_name="events")
    with op.batch_alter_table("events") as batch:
        batch.drop_column("external_id")
