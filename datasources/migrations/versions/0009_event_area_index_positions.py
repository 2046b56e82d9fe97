"""event area indexes carry lon, lat: an area's heat grid over raw events is read from the index alone

The heat layer of an area smaller than ~150 km² uses cells finer than ``event_cells``' 0.005°, so it counts
raw events: at a prefecture district (43,000 events a month) the index range of the area column was cheap,
but fetching each event's row for its position read ~15,000 heap pages (~110 ms). With ``lon, lat`` at the
end of ``ix_events_areaN_reported`` the grid is an index-only scan (on PostgreSQL once the table's
visibility map is set: by autovacuum, or the demo build's VACUUM). The ticker's order (reported_at, id)
is unchanged.

Revision ID: 0009
Revises: 0008
"""

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

LEVELS = (1, 2, 3)


def _rebuild(columns: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SET LOCAL maintenance_work_mem = '512MB'")  # sort tens of millions of keys in memory
    for k in LEVELS:
        op.drop_index(f"ix_events_area{k}_reported", table_name="events")
        op.create_index(f"ix_events_area{k}_reported", "events", [f"area{k}_code", *columns])
    if op.get_bind().dialect.name == "sqlite":
        for k in LEVELS:  # statistics for the planner (see 0006)
            op.execute(f"ANALYZE ix_events_area{k}_reported")


def upgrade() -> None:
    _rebuild(["reported_at", "id", "lon", "lat"])


def downgrade() -> None:
    _rebuild(["reported_at", "id"])
