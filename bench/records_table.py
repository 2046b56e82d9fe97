"""Benchmark the analyst's records table over the county demo's ~2 million events: p50/p95 per page for the
first page, a deep page, sorted (time, severity, area) and filtered (category, status, area) queries, next
to the naive way, as a ratio.

    python bench/records_table.py                                   # copies /work/cache/bench-county.db
    python bench/records_table.py --db sqlite:////path/county.db --copy /tmp/records.db --rounds 20

Ours: ``datasources.analysis.records.page`` over the events panel's query (``Repository.panel_query``) on a
copy of the database migrated to head (migration 0006 adds the severity and area-name indexes): one
``ORDER BY … LIMIT/OFFSET`` statement for the rows and the total from the monthly roll-up (a column filter
counts the matching rows instead).
Naive: what a quick prototype does per page request: read the events of the window with their area
names into pandas, filter, sort, slice one page (and count).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import time
from pathlib import Path

import pandas as pd
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasources import db  # noqa: E402
from datasources.analysis import records  # noqa: E402
from datasources.analysis.filters import AnalysisFilters  # noqa: E402
from datasources.analysis.panels import PANELS  # noqa: E402
from datasources.models import to_epoch  # noqa: E402
from datasources.repository import Repository  # noqa: E402

PAGE = 50


def scenarios(repo: Repository) -> list[dict]:
    """(name, filters, sort, offset, column filters) of the measured pages: 36 months of events."""
    town = repo.children(repo.root_code())[3]["code"]
    window = {"from": "2023-12", "to": "2026-11"}
    return [
        {"name": "first page, newest first", "q": window, "sort": [], "offset": 0},
        {"name": "deep page (row 100 000)", "q": window, "sort": [], "offset": 100_000},
        {"name": "sorted by time, oldest first", "q": window, "sort": [("reported_at", False)], "offset": 0},
        {"name": "sorted by severity (I first)", "q": window, "sort": [("severity", False)], "offset": 0},
        {"name": "sorted by area name", "q": window, "sort": [("region_name", False)], "offset": 0},
        {"name": "filtered by category", "q": window | {"cat": "sanitation"}, "sort": [], "offset": 0},
        {"name": "filtered by status", "q": window | {"status": "closed"}, "sort": [], "offset": 0},
        {"name": "filtered by area (a township)", "q": window | {"areas": town}, "sort": [], "offset": 0},
        {"name": "area + status, sorted by severity, page 5", "q": window | {"areas": town, "status": "closed"},
         "sort": [("severity", False)], "offset": 4 * PAGE},
    ]


def ours(repo: Repository, s: dict) -> tuple[float, int]:
    f = repo.resolve_filters(AnalysisFilters.from_query(s["q"]))
    t0 = time.perf_counter()
    stmt = repo.panel_query("events", f)
    result = records.page(repo.engine, stmt, s["sort"], s["offset"], PAGE, total=PANELS["events"].count(None, f))
    return time.perf_counter() - t0, result.total


def naive(repo: Repository, s: dict) -> tuple[float, int]:
    """Read the window's events into pandas, then filter, sort and slice in Python."""
    f = repo.resolve_filters(AnalysisFilters.from_query(s["q"]))
    start, end = f.window()
    t0 = time.perf_counter()
    with repo.engine.connect() as conn:
        df = pd.read_sql(text(
            "SELECT e.id, e.reported_at, e.region_code, r.name AS region_name, e.source, e.category, e.severity, e.status, "
            "e.title, e.department, e.closed_at FROM events e JOIN regions r ON r.code = e.region_code "
            "WHERE e.reported_at >= :s AND e.reported_at < :e"), conn,
            params={"s": to_epoch(pd.Timestamp(start).to_pydatetime()), "e": to_epoch(pd.Timestamp(end).to_pydatetime())})
        if f.areas:
            inside = {c for (c,) in conn.execute(text("SELECT descendant_code FROM region_closure WHERE ancestor_code = :a"),
                                                 {"a": f.areas[0]})}
            df = df[df["region_code"].isin(inside)]
    for col, values in (("category", f.categories), ("status", f.statuses)):
        if values:
            df = df[df[col].isin(values)]
    keys = [k for k, _ in s["sort"]] + ["reported_at", "id"]
    asc = [not d for _, d in s["sort"]] + [False, False]
    df = df.sort_values(keys, ascending=asc)
    page = df.iloc[s["offset"]:s["offset"] + PAGE]
    assert len(page) <= PAGE
    return time.perf_counter() - t0, len(df)


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, round(p / 100 * (len(values) - 1)))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite:////work/cache/bench-county.db", help="county demo database (read, copied)")
    ap.add_argument("--copy", default="/tmp/ioc-bench/records-county.db", help="where the SQLite copy goes (migrated)")
    ap.add_argument("--rounds", type=int, default=15, help="timed pages per scenario (ours)")
    ap.add_argument("--naive-rounds", type=int, default=3, help="timed pages per scenario (naive)")
    args = ap.parse_args()
    url = args.db
    if url.startswith("sqlite:///"):
        copy = Path(args.copy)
        if not copy.exists():
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(url.removeprefix("sqlite:///"), copy)
        url = f"sqlite:///{copy}"
    engine = db.make_engine(url)
    db.upgrade(engine)  # the copy gets migration 0006's indexes
    repo = Repository(engine)
    n = repo._scalar("SELECT COUNT(*) FROM events")  # noqa: SLF001
    print(f"events: {n:,}  database: {url}  page size: {PAGE}")
    print("| query | rows matching | ours p50 ms | ours p95 ms | naive p50 ms | naive p95 ms | naive / ours (p95) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in scenarios(repo):
        ours(repo, s)  # warm the page cache: every figure is warm
        ours_t, total = zip(*[ours(repo, s) for _ in range(args.rounds)], strict=True)
        naive_t, naive_total = zip(*[naive(repo, s) for _ in range(args.naive_rounds)], strict=True)
        assert naive_total[0] == total[0], (s["name"], naive_total[0], total[0])
        o50, o95 = pct(list(ours_t), 50) * 1000, pct(list(ours_t), 95) * 1000
        n50, n95 = statistics.median(naive_t) * 1000, pct(list(naive_t), 95) * 1000
        print(f"| {s['name']} | {total[0]:,} | {o50:.1f} | {o95:.1f} | {n50:.0f} | {n95:.0f} | {n95 / o95:.0f}x |", flush=True)


if __name__ == "__main__":
    main()
