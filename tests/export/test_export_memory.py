"""Exports stream: the Python heap's peak while writing a panel's CSV or XLSX does not grow with the
number of rows once they exceed one fetched chunk (a five- to fifteenfold export peaks about where the
small one does). The chunk is made small here so that the mini demo's rows are many chunks; the million-row
figures come from ``bench/export_memory.py`` on the county demo."""

from __future__ import annotations

import tracemalloc

from datasources.analysis.panels import PANELS
from datasources.export import rows, service, tabular
from datasources.repository import Repository


def peak_of(view: service.ExportView, fmt: str, path: str) -> tuple[int, int]:
    """(rows written, tracemalloc peak in bytes) of one export of the event records panel."""
    tracemalloc.start()
    try:
        n = service.write_panel_file(view, PANELS["events"], fmt, path)
        return n, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_export_memory_does_not_grow_with_rows(city_sqlite, tmp_path, monkeypatch):
    monkeypatch.setattr(rows, "CHUNK", 200)  # rows fetched at a time
    monkeypatch.setattr(tabular, "CSV_ROWS_PER_CHUNK", 100)  # CSV rows buffered before they are written
    repo = Repository(city_sqlite.engine).scoped(None)
    town = city_sqlite.towns[0]
    for fmt, small_q, large_q in (
        ("csv", {"from": "2026-10", "to": "2026-10"}, {"from": "2025-06", "to": "2026-10"}),
        ("xlsx", {"areas": town, "from": "2026-10", "to": "2026-10"}, {"areas": town, "from": "2026-03", "to": "2026-10"}),
    ):
        small, large = (service.open_view(repo, "memory-test", q) for q in (small_q, large_q))
        peak_of(small, fmt, str(tmp_path / f"warm.{fmt}"))  # compiled statements and imports are not the export
        n_small, p_small = peak_of(small, fmt, str(tmp_path / f"small.{fmt}"))
        n_large, p_large = peak_of(large, fmt, str(tmp_path / f"large.{fmt}"))
        assert n_large >= 5 * n_small > 0, (fmt, n_small, n_large)
        assert p_large <= 1.3 * p_small + 256 * 1024, f"{fmt}: {n_small} rows peak {p_small:,} B, {n_large} rows peak {p_large:,} B"
