"""event areas: each event's ancestor region at levels 1-3, indexed with reported_at, so that an area's
newest events (the ticker) and its events in a time window are one index range at any number of leaves

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

LEVELS = (1, 2, 3)


def upgrade() -> None:
    with op.batch_alter_table("events") as batch:
        for k in LEVELS:
            batch.add_column(sa.Column(f"area{k}_code", sa.String(length=16), nullable=True))
    # Existing events: the ancestor at each level from the closure table (the write layer fills new ones).
    for k in LEVELS:
        op.execute(
            f"UPDATE events SET area{k}_code = (SELECT c.ancestor_code FROM region_closure c "
            f"JOIN regions r ON r.code = c.ancestor_code WHERE c.descendant_code = events.region_code AND r.level = {k})"
        )
    for k in LEVELS:
        op.create_index(f"ix_events_area{k}_reported", "events", [f"area{k}_code", "reported_at", "id"])


def downgrade() -> None:
    for k in LEVELS:
        op.drop_index(f"ix_events_area{k}_reported", table_name="events")
    with op.batch_alter_table("events") as batch:
        for k in LEVELS:
            batch.drop_column(f"area{k}_code")
