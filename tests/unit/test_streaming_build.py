"""The demo's events are generated and loaded month by month: the stream does not depend on how it is
cut, and loading it in chunks (``Batch.events_bulk``) gives the database one big ``events`` batch gives.
(That writing it in smaller slices changes nothing is checked with the same-seed build, tests/unit/test_demo.py.)"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text

from datasources import db
from datasources.demo import build_demo
from datasources.demo_events import generate_events
from datasources.ingest import Batch, Writer
from tests.conftest import AS_OF, sqlite_copy
from tests.demo_tables import assert_same_build


def _leaves(n: int = 6) -> list[dict]:
    import shapely

    return [{"code": f"L{k}", "name": f"社区{k}", "population": 1000 * (k + 1), "hotspot": 1.0 + (k == 2),
             "geometry": shapely.box(103 + k * 0.01, 31, 103.01 + k * 0.01, 31.01)} for k in range(n)]


def test_the_event_stream_is_one_month_per_chunk_in_time_order_and_repeatable():
    first = list(generate_events(_leaves(), AS_OF, seed=3, scale_factor=0.05))
    again = list(generate_events(_leaves(), AS_OF, seed=3, scale_factor=0.05))
    assert len(first) == 37  # three years back to the as-of month, both ends included
    for a, b in zip(first, again, strict=True):
        pd.testing.assert_frame_equal(a, b)
    for chunk in first:
        months = chunk["reported_at"].dt.to_period("M").unique()
        assert len(months) <= 1
        assert chunk["reported_at"].is_monotonic_increasing
    assert pd.concat(first)["reported_at"].max() <= pd.Timestamp(AS_OF)


def test_streamed_build_equals_a_build_loading_all_events_in_one_batch(tmp_path, mini_sqlite, monkeypatch):
    """The streaming entry against the old way (every event of the demo in one ``events`` call)."""
    def all_at_once(self: Batch, chunks) -> int:  # noqa: ANN001
        return self.events(pd.concat(list(chunks), ignore_index=True))

    monkeypatch.setattr(Batch, "events_bulk", all_at_once)
    url = f"sqlite:///{tmp_path / 'one_batch.db'}"
    build_demo(db.make_engine(url), "mini", seed=1, as_of=AS_OF)
    assert_same_build(mini_sqlite, url, "between the streamed and the one-batch build")


def test_a_bulk_stream_skips_a_client_id_an_earlier_chunk_stored(tmp_path, mini_pristine):
    """As ``events`` does: a known (source, external_id) is skipped, not duplicated."""
    engine = db.make_engine(sqlite_copy(mini_pristine, tmp_path / "b.db"))
    with engine.connect() as conn:
        before = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
        leaf = conn.execute(text("SELECT code FROM regions WHERE level = 2 ORDER BY code LIMIT 1")).scalar_one()
    row = {"source": "hotline", "category": "consult", "theme": "governance", "severity": 4, "title": "x",
           "region_code": leaf, "reported_at": AS_OF, "status": "reported", "external_id": "same"}
    report = Writer(engine, clock=lambda: AS_OF).events_bulk([[row], [row]])
    assert report.written["events"] == 1
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one() == before + 1
        assert conn.execute(text("SELECT COUNT(*) FROM events WHERE external_id = 'same'")).scalar_one() == 1
