"""open events by area column: the map's points are the first entries of one index range

``Repository.open_events`` (the map's points: an area's unresolved events, most severe then newest) filtered
through ``region_closure`` and sorted every open event of the area: at the prefecture's root 282,797 of
them, ~1 s. Partial indexes of the open events led by the events' ancestor columns (migration 0005), and one
without an area column for the single root, hold them in display order, so a LIMIT reads only its rows.
``ix_events_open`` stays: the duty console's counts and lists still join the closure table.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from datasources.models import OPEN_EVENTS_SQL

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

LEVELS = (1, 2, 3)
ORDER = [sa.text("reported_at DESC"), sa.text("id DESC")]  # id: ties in display order are deterministic


def _names() -> list[str]:
    return [f"ix_events_open_area{k}" for k in LEVELS] + ["ix_events_open_severity"]


def upgrade() -> None:
    where = {"sqlite_where": sa.text(OPEN_EVENTS_SQL), "postgresql_where": sa.text(OPEN_EVENTS_SQL)}
    for k in LEVELS:
        op.create_index(f"ix_events_open_area{k}", "events", [f"area{k}_code", "severity", *ORDER], **where)
    op.create_index("ix_events_open_severity", "events", ["severity", *ORDER], **where)
    if op.get_bind().dialect.name == "sqlite":
        # SQLite's planner uses an index for ORDER BY … LIMIT only with statistics on it (see 0006).
        for name in _names():
            op.execute(f"ANALYZE {name}")


def downgrade() -> None:
    for name in reversed(_names()):
        op.drop_index(name, table_name="events")
