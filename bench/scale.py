"""Server time of a drill-down at any scale, next to the queries it replaced, in the same run.

    python bench/scale.py --db county-sqlite=sqlite:////tmp/county.db \\
                          --db county-pg=postgresql+psycopg://postgres@127.0.0.1/ioc_county \\
                          --db prefecture-pg=postgresql+psycopg://postgres@127.0.0.1/ioc_prefecture

Each database must hold a built demo (``app.py demo --scale county|prefecture``; an older database is
migrated to head first). Per database, over a sample of areas at every level (the root, each area of
level 1, then an even spread of the deeper levels):

- drill-down: the cockpit callback body (``cockpit_view``) plus Dash's JSON serialisation of its outputs,
  and the ticker (``ticker_items``), which the same click refreshes;
- cold: each area's first visit with a new app and an empty result cache (run first, so the database
  has not read these areas in this run either); warm: again, with the result cache (what a second visit
  costs) and with no result cache (pure query cost);
- old: the same drill-down and ticker with the area filter of before the events' ancestor columns
  (every event of the area through ``region_closure``), and the ticker's old query alone.

Budgets (issue 13): county p95 <= 50 ms warm and <= 250 ms cold; prefecture p95 <= 200 ms on PostgreSQL.
Results go to stdout and ``bench/results/scale-<label>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.cockpit_drill import cockpit_app, drill, pct  # noqa: E402
from callbacks.ticker import ticker_items  # noqa: E402
from datasources import db  # noqa: E402
from datasources.repository import Repository  # noqa: E402

TICKER_EVENTS = 12
# The ticker's query before migration 0005: newest events of the subtree through the closure table.
OLD_TICKER_SQL = (
    "SELECT e.id, e.source, e.category, e.theme, e.severity, e.title, e.status, e.region_code, "
    "e.reported_at, e.lon, e.lat, r.name AS region_name FROM events e "
    "JOIN region_closure c ON c.descendant_code = e.region_code JOIN regions r ON r.code = e.region_code "
    "WHERE c.ancestor_code = :a ORDER BY e.reported_at DESC, e.id DESC LIMIT :n"
)
OLD_IN_AREA = "e.region_code IN (SELECT descendant_code FROM region_closure WHERE ancestor_code = :a)"


def sample_areas(url: str, per_level: int) -> list[str]:
    """The root, every area of level 1, and ``per_level`` areas evenly spread over each deeper level."""
    with db.make_engine(url).connect() as conn:
        rows = conn.execute(text("SELECT code, level FROM regions ORDER BY level, code")).all()
    by_level: dict[int, list[str]] = {}
    for code, level in rows:
        by_level.setdefault(int(level), []).append(code)
    out: list[str] = []
    for level, codes in sorted(by_level.items()):
        if level <= 1:
            out += codes
        else:
            step = max(1, len(codes) // per_level)
            out += codes[::step][:per_level]
    return out


@contextmanager
def old_area_filter() -> None:
    """Repository area filters as they were before the events' ancestor columns (the closure table)."""
    saved = Repository._in_area
    Repository._in_area = lambda self, conn, area: OLD_IN_AREA  # noqa: ARG005
    try:
        yield
    finally:
        Repository._in_area = saved


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1000


def ticker(services, area: str) -> None:  # noqa: ANN001
    ticker_items(services, f"?area={area}", TICKER_EVENTS)


def old_ticker_query(repo: Repository, area: str) -> list:
    """The old ticker query, on a connection from the pool as the repository's methods take one."""
    with repo.engine.connect() as conn:
        return conn.execute(text(OLD_TICKER_SQL), {"a": area, "n": TICKER_EVENTS}).all()


def measure(url: str, areas: list[str], rounds: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {k: [] for k in (
        "drill cold", "ticker cold", "drill warm, result cache", "drill warm", "ticker warm", "drill warm, old filter", "ticker warm, old filter",
        "ticker query", "ticker query, old")}
    for area in areas:  # cold: a new app, an empty cache, an area not read before in this run
        app, services, codes = cockpit_app(url, "SimpleCache")
        with app.server.app_context():
            out["drill cold"].append(timed(lambda: drill(services, codes, area)))  # noqa: B023
            out["ticker cold"].append(timed(lambda: ticker(services, area)))  # noqa: B023
        services.base_repo.engine.dispose()  # one pool per app: 45 of them exceed PostgreSQL's 100 connections
    app, services, codes = cockpit_app(url, "SimpleCache")  # warm: a visited area, cached results
    with app.server.app_context():
        for area in areas:
            drill(services, codes, area)
        for _ in range(rounds):
            for area in areas:
                out["drill warm, result cache"].append(timed(lambda: drill(services, codes, area)))  # noqa: B023
    app, services, codes = cockpit_app(url, "NullCache")
    repo: Repository = services.repo.unscoped if hasattr(services.repo, "unscoped") else services.repo
    with app.server.app_context():
        for area in areas:  # warm-up of the old path (its pages), so that old and new compare warm
            with old_area_filter():
                drill(services, codes, area)
                ticker(services, area)
        for _ in range(rounds):
            for area in areas:
                out["drill warm"].append(timed(lambda: drill(services, codes, area)))  # noqa: B023
                out["ticker warm"].append(timed(lambda: ticker(services, area)))  # noqa: B023
                with old_area_filter():
                    out["drill warm, old filter"].append(timed(lambda: drill(services, codes, area)))  # noqa: B023
                    out["ticker warm, old filter"].append(timed(lambda: ticker(services, area)))  # noqa: B023
                out["ticker query"].append(timed(lambda: repo.recent_events(area, TICKER_EVENTS)))  # noqa: B023
                out["ticker query, old"].append(timed(lambda: old_ticker_query(repo, area)))  # noqa: B023
    return out


@contextmanager
def method_times() -> Iterator[dict[str, float]]:
    """Milliseconds spent in each public ``Repository`` method while the block runs (outermost calls only:
    a method that calls another counts once)."""
    spent: dict[str, float] = {}
    depth = threading.local()
    saved = {name: fn for name, fn in vars(Repository).items() if callable(fn) and not name.startswith("_")}

    def timed_method(name: str, fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            outer = getattr(depth, "n", 0) == 0
            depth.n = getattr(depth, "n", 0) + 1
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                depth.n -= 1
                if outer:
                    spent[name] = spent.get(name, 0.0) + (time.perf_counter() - t0) * 1000
        return wrapper

    for name, fn in saved.items():
        setattr(Repository, name, timed_method(name, fn))
    try:
        yield spent
    finally:
        for name, fn in saved.items():
            setattr(Repository, name, fn)


def breakdown(url: str, rounds: int = 5) -> dict[str, dict]:
    """Where one warm drill's time goes without the result cache, per repository method (median of
    ``rounds`` drills), at the root and at the first area of each deeper level."""
    with db.make_engine(url).connect() as conn:
        areas = conn.execute(text("SELECT MIN(code) FROM regions GROUP BY level ORDER BY level")).scalars().all()
    app, services, codes = cockpit_app(url, "NullCache")
    out: dict[str, dict] = {}
    with app.server.app_context():
        for level, area in enumerate(areas):
            drill(services, codes, area)
            runs: list[tuple[float, dict[str, float]]] = []
            for _ in range(rounds):
                with method_times() as spent:
                    total = timed(lambda: drill(services, codes, area))  # noqa: B023
                runs.append((total, dict(spent)))
            names = sorted({n for _t, sp in runs for n in sp})
            methods = {n: round(statistics.median(sp.get(n, 0.0) for _t, sp in runs), 1) for n in names}
            total = statistics.median(t for t, _sp in runs)
            # outside: the callback's own Python (figure patch, components) and the JSON serialisation
            out[area] = {"level": level, "drill_ms": round(total, 1), "outside_ms": round(total - sum(methods.values()), 1),
                         "methods_ms": dict(sorted(methods.items(), key=lambda kv: -kv[1]))}
    return out


def markdown(res: dict) -> str:
    """One stored result as a Markdown table: each way next to the old way it replaced, with the ratio."""
    s = res["summary"]
    pairs = [("drill cold", None), ("drill warm, result cache", None), ("drill warm", "drill warm, old filter"),
             ("ticker cold", None), ("ticker warm", "ticker warm, old filter"), ("ticker query", "ticker query, old")]
    lines = [f"**{res['label']}** ({res['dialect']}, {res['events']:,} events, {res['regions']:,} regions; {res['areas']} areas "
             f"x {res['rounds']} rounds; load average up to {res.get('load_average', '?')} on {res.get('cpus', '?')} cores)", "",
             "| server time | p50 | p95 | old way p50 | old way p95 | old/new p95 |", "|---|---|---|---|---|---|"]
    for new, old in pairs:
        a = s[new]
        if old:
            b = s[old]
            lines.append(f"| {new} | {a['p50_ms']:.1f} ms | {a['p95_ms']:.1f} ms | {b['p50_ms']:.1f} ms | {b['p95_ms']:.1f} ms | "
                         f"{b['p95_ms'] / a['p95_ms']:.1f}x |")
        else:
            lines.append(f"| {new} | {a['p50_ms']:.1f} ms | {a['p95_ms']:.1f} ms | | | |")
    if res.get("breakdown"):
        lines += ["", "| warm drill, no result cache (median) | total | outside the repository | largest repository methods (ms) |",
                  "|---|---|---|---|"]
        for area, b in res["breakdown"].items():
            top = ", ".join(f"`{n}` {ms:.1f}" for n, ms in list(b["methods_ms"].items())[:4])
            lines.append(f"| level {b['level']} ({area}) | {b['drill_ms']:.1f} ms | {b.get('outside_ms', 0):.1f} ms | {top} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", action="append", default=[], help="label=database URL (repeatable)")
    parser.add_argument("--markdown", action="store_true", help="print the stored results as Markdown tables and stop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--per-level", type=int, default=12, help="areas sampled per level below level 1")
    args = parser.parse_args()
    results_dir = ROOT / "bench" / "results"
    results_dir.mkdir(exist_ok=True)
    if args.markdown:
        for path in sorted(results_dir.glob("scale-*.json")):
            print(markdown(json.loads(path.read_text())))
        return 0
    for spec in args.db:
        label, _, url = spec.partition("=")
        engine = db.make_engine(url)
        db.upgrade(engine)
        with engine.connect() as conn:
            n_events = conn.execute(text("SELECT COUNT(*) FROM events")).scalar_one()
            n_regions = conn.execute(text("SELECT COUNT(*) FROM regions")).scalar_one()
        engine.dispose()
        areas = sample_areas(url, args.per_level)
        load = os.getloadavg()[0]
        print(f"\n== {label}: {engine.dialect.name}, {n_events:,} events, {n_regions:,} regions; "
              f"{len(areas)} areas x {args.rounds} rounds ({datetime.now():%H:%M}, load {load:.1f})", flush=True)
        res = measure(url, areas, args.rounds)
        load = max(load, os.getloadavg()[0])
        summary = {k: {"p50_ms": round(pct(v, 50), 1), "p95_ms": round(pct(v, 95), 1), "max_ms": round(max(v), 1), "n": len(v)}
                   for k, v in res.items()}
        print(f"{'':28s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}")
        for k, s in summary.items():
            print(f"{k:28s} {s['p50_ms']:8.1f} {s['p95_ms']:8.1f} {s['max_ms']:8.1f}")
        ratios = {
            "drill warm old/new p95": summary["drill warm, old filter"]["p95_ms"] / summary["drill warm"]["p95_ms"],
            "ticker warm old/new p95": summary["ticker warm, old filter"]["p95_ms"] / summary["ticker warm"]["p95_ms"],
            "ticker query old/new p95": summary["ticker query, old"]["p95_ms"] / summary["ticker query"]["p95_ms"],
        }
        for k, v in ratios.items():
            print(f"{k:28s} {v:8.1f}x")
        methods = breakdown(url)
        load = max(load, os.getloadavg()[0])
        for area, b in methods.items():
            top = ", ".join(f"{n} {ms:.1f}" for n, ms in list(b["methods_ms"].items())[:5])
            print(f"warm drill, level {b['level']} ({area}): {b['drill_ms']:.1f} ms, outside the repository {b['outside_ms']:.1f}; {top}")
        (results_dir / f"scale-{label}.json").write_text(json.dumps(
            {"label": label, "dialect": engine.dialect.name, "events": n_events, "regions": n_regions, "areas": len(areas),
             "rounds": args.rounds, "load_average": round(load, 1), "cpus": os.cpu_count(), "summary": summary, "ratios": ratios,
             "breakdown": methods}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
