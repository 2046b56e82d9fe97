"""Peak memory of a streamed export against its size: 100,000 rows and 1,000,000 rows of the event
records panel of the county demo (2 million events), written as CSV and as XLSX exactly as the export
routes and jobs write them (server-side cursor, chunk by chunk, openpyxl write-only).

    python bench/export_memory.py                                   # /work/cache/bench-county.db, read only
    python bench/export_memory.py --db instance/bench-county.db --sizes 100000 1000000
    python bench/export_memory.py --formats xlsx --no-trace         # peak RSS only (twice as fast)

Each (size, format) runs in a fresh process so that its peak RSS (``ru_maxrss``) is its own; the
Python heap peak is measured with ``tracemalloc`` around the write alone. The naive way (read every
row into a DataFrame, then ``to_csv``) is measured in the same run for the CSV at each size.
The rows are the newest months of events whose total first reaches the size (so the real count is a
little above it).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DB = "/work/cache/bench-county.db"


def _engine(db: str):  # noqa: ANN202
    """A read-only engine on the (shared) SQLite file: the benchmark never writes to it."""
    from sqlalchemy import create_engine

    return create_engine(f"sqlite:///file:{db}?mode=ro&uri=true")


def _window(engine, rows: int) -> tuple[str, str]:  # noqa: ANN001
    """The newest whole months whose events first reach ``rows`` (YYYY-MM, YYYY-MM)."""
    from sqlalchemy import text

    with engine.connect() as conn:
        months = conn.execute(text(
            "SELECT strftime('%Y-%m', reported_at, 'unixepoch') AS m, COUNT(*) FROM events GROUP BY m ORDER BY m DESC"
        )).all()
    total, last = 0, months[1][0]  # skip the running (partial) month
    for m, n in months[1:]:
        total += n
        if total >= rows:
            return m, last
    return months[-1][0], last


def one(db: str, rows: int, fmt: str, trace: bool = True) -> dict:
    """Write one export and measure it (runs in its own process; ``trace``: also the tracemalloc peak,
    which makes the write about twice as slow)."""
    from datasources.export import service
    from datasources.repository import Repository

    engine = _engine(db)
    start, end = _window(engine, rows)
    repo = Repository(engine).scoped(None)
    view = service.open_view(repo, "bench", {"from": start, "to": end}, "zh")
    from datasources.analysis.panels import PANELS

    panel = PANELS["events"]
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"events.{fmt}"
        if trace:
            tracemalloc.start()
        t0 = time.perf_counter()
        if fmt == "naive-csv":
            import pandas as pd

            with engine.connect() as conn:
                df = pd.read_sql(service.panel_query(view, panel), conn)
            df.to_csv(out, index=False, encoding="utf-8-sig")
            n = len(df)
        else:
            n = service.write_panel_file(view, panel, fmt, str(out))
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1] if trace else 0
        tracemalloc.stop()
        size = out.stat().st_size
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"fmt": fmt, "rows": n, "window": f"{start}..{end}", "seconds": round(seconds, 1),
            "tracemalloc_peak_mb": round(peak / 2**20, 1) if trace else None, "rss_before_mb": round(rss_before / 1024, 1),
            "peak_rss_mb": round(rss / 1024, 1), "file_mb": round(size / 2**20, 1)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--db", default=DEFAULT_DB)
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--formats", nargs="+", default=["csv", "xlsx", "naive-csv"])
    ap.add_argument("--no-trace", action="store_true", help="peak RSS only (tracemalloc doubles the time)")
    ap.add_argument("--one", nargs=2, metavar=("ROWS", "FMT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        print(json.dumps(one(args.db, int(args.one[0]), args.one[1], trace=not args.no_trace)))
        return 0
    if not Path(args.db).is_file():
        print(f"no database at {args.db}: build one with  python app.py demo --scale county", file=sys.stderr)
        return 2
    results = []
    for fmt in args.formats:
        for size in args.sizes:
            cmd = [sys.executable, __file__, "--db", args.db, "--one", str(size), fmt] + (["--no-trace"] if args.no_trace else [])
            proc = subprocess.run(cmd,
                                  capture_output=True, text=True, check=False, env=os.environ | {"PYTHONWARNINGS": "ignore"})
            if proc.returncode != 0:
                print(proc.stderr[-2000:], file=sys.stderr)
                return 1
            r = json.loads(proc.stdout.strip().splitlines()[-1])
            results.append(r)
            traced = f"tracemalloc peak {r['tracemalloc_peak_mb']:7.1f} MB, " if r["tracemalloc_peak_mb"] is not None else ""
            print(f"{r['fmt']:9s} {r['rows']:>9,} rows ({r['window']}): {r['seconds']:6.1f} s, {traced}"
                  f"peak RSS {r['peak_rss_mb']:7.1f} MB (at start {r['rss_before_mb']:.1f} MB), file {r['file_mb']:.1f} MB", flush=True)
    by = {(r["fmt"], r["rows"] >= max(args.sizes)): r for r in results}
    for fmt in args.formats:
        small, large = by.get((fmt, False)), by.get((fmt, True))
        if small and large:
            traced = (f"tracemalloc peak x{large['tracemalloc_peak_mb'] / max(small['tracemalloc_peak_mb'], 0.1):.2f}, "
                      if large["tracemalloc_peak_mb"] is not None else "")
            print(f"{fmt}: rows x{large['rows'] / small['rows']:.1f} -> {traced}peak RSS x{large['peak_rss_mb'] / small['peak_rss_mb']:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
