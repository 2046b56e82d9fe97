"""Rows of a query, streamed from the database chunk by chunk (server-side cursor on PostgreSQL, the
lazy SQLite cursor on SQLite): an export of a million rows never holds more than one chunk."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.engine import Engine

#: Rows fetched from the cursor at a time (and the step in which progress is reported).
CHUNK = 5000


def count_rows(engine: Engine, query: Select) -> int:
    """How many rows ``query`` returns (for the progress bar and the audit log)."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(query.order_by(None).subquery())).scalar_one())


def stream_rows(
    engine: Engine, query: Select, chunk: int | None = None, progress: Callable[[int], None] | None = None,
) -> Iterator[Sequence[Any]]:
    """Yield the rows of ``query`` as tuples, fetched ``chunk`` (default ``CHUNK``) at a time through a
    server-side cursor; ``progress(rows_so_far)`` is called after each chunk."""
    chunk = chunk or CHUNK
    done = 0
    with engine.connect() as conn:
        result = conn.execution_options(stream_results=True, yield_per=chunk).execute(query)
        for part in result.partitions():
            for row in part:
                yield tuple(row)
            done += len(part)
            if progress is not None:
                progress(done)
