"""Benchmark one cockpit drill-down at county scale: server time and response size, next to the naive way.

    python bench/drilldown.py                      # builds instance/bench-county.db on first use
    python bench/drilldown.py --db postgresql+psycopg://postgres@127.0.0.1/test --build

Ours: the cockpit callback body (``cockpit_view``) plus Dash's JSON serialisation of its outputs —
indexed SQL on roll-up tables, geometry by URL, a Patch of values. Measured three ways: cold (empty
result cache), warm with the result cache, and warm with no result cache (pure SQL cost).
Naive: raw tables loaded once into pandas, then per click filter them and rebuild the whole figure
with the children's geometry inline (what a quick prototype does).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import plotly.io as pio
from dateutil.relativedelta import relativedelta
from sqlalchemy import text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app import create_app  # noqa: E402
from bench.cockpit_drill import cockpit_app, drill, pct  # noqa: E402
from datasources import db  # noqa: E402
from datasources.demo import build_demo  # noqa: E402
from datasources.rules import ALLOWED_LAG_MONTHS, composite_scores, indicator_points  # noqa: E402
from datasources.scores import score_explanation, score_key  # noqa: E402
from layouts.map_figure import base_figure  # noqa: E402

AS_OF = datetime(2026, 11, 20, 18, 0)

def targets(repo) -> list[str]:  # noqa: ANN001
    """A drill-down path over every township and two communities of each."""
    root = repo.root_code()
    out = []
    for t in repo.children(root):
        out.append(t["code"])
        out += [c["code"] for c in repo.children(t["code"])[:2]]
    return out


def measure_ours(url: str, cache_type: str, areas: list[str], rounds: int) -> tuple[list[float], list[int], list[int]]:
    app, services, codes = cockpit_app(url, cache_type)
    times, sizes, gz = [], [], []
    with app.server.app_context():
        for area in areas:  # warm-up pass (database pages, and the result cache when there is one)
            drill(services, codes, area)
        for _ in range(rounds):
            for area in areas:
                t0 = time.perf_counter()
                body = drill(services, codes, area)
                times.append((time.perf_counter() - t0) * 1000)
                sizes.append(len(body))
                gz.append(len(gzip.compress(body)))
    return times, sizes, gz


def measure_cold(url: str, areas: list[str]) -> list[float]:
    """First visit of each area in a fresh process-like state: a new app with an empty cache each time."""
    out = []
    for area in areas:
        app, services, codes = cockpit_app(url, "SimpleCache")
        with app.server.app_context():
            t0 = time.perf_counter()
            drill(services, codes, area)
            out.append((time.perf_counter() - t0) * 1000)
        services.base_repo.engine.dispose()  # one pool per app: do not hold PostgreSQL connections open
    return out


class Naive:
    """The prototype way: whole tables in pandas, filter per click, full figure with inline geometry."""

    def __init__(self, url: str, map_default: str):
        engine = db.make_engine(url)
        t0 = time.perf_counter()
        with engine.connect() as conn:
            self.regions = pd.read_sql(text("SELECT code, name, level, parent_code, geometry FROM regions"), conn)
            self.values = pd.read_sql(text("SELECT indicator_code, region_code, period, value FROM indicator_values"), conn)
            self.events = pd.read_sql(text("SELECT region_code, source, status, severity, lon, lat, reported_at FROM events"), conn)
            self.indicators = pd.read_sql(text("SELECT * FROM indicators"), conn)
        self.values["period"] = pd.to_datetime(self.values["period"])
        self.events["reported_at"] = pd.to_datetime(self.events["reported_at"])
        self.load_seconds = time.perf_counter() - t0
        self.period = self.values["period"].max()
        self.headlines = self.indicators[self.indicators.headline.astype(bool)]
        # The map opens on what the cockpit opens on (IOC_MAP_DEFAULT, the overall score unless set), so that
        # both sides compute the same view; an indicator code falls back to the values as before.
        headline = self.headlines[self.headlines.level == self.indicators.level.max()].iloc[0]["code"]
        self.score = score_key(map_default) if score_key(map_default) else None
        self.default = map_default if map_default in set(self.indicators.code) else headline
        self.scored = self.indicators[self.indicators.warn.notna() & self.indicators.alarm.notna()]

    def points(self, codes: list[str]) -> pd.DataFrame:
        """Every (area, indicator with thresholds that applies at its level) with its newest value within the
        frequency's allowed lag and its points (``rules.indicator_points``): the prototype's score inputs."""
        regs = self.regions.loc[self.regions.code.isin(codes), ["code", "level"]].rename(columns={"code": "region_code"})
        app = regs.merge(self.scored.rename(columns={"code": "indicator_code", "level": "ind_level"}), how="cross")
        app = app[app.ind_level >= app.level]
        v = self.values[self.values.region_code.isin(codes) & self.values.value.notna() & (self.values.period <= self.period)]
        v = v.merge(app[["region_code", "indicator_code", "frequency"]], on=["region_code", "indicator_code"])
        lag = v.frequency.map(ALLOWED_LAG_MONTHS).fillna(1).astype(int)
        cut = pd.Series([self.period - pd.DateOffset(months=int(m)) for m in lag], index=v.index, dtype="datetime64[ns]")
        v = v[v.period >= cut].sort_values("period").drop_duplicates(["region_code", "indicator_code"], keep="last")
        out = app.merge(v[["region_code", "indicator_code", "value", "period"]], on=["region_code", "indicator_code"], how="left")
        out["points"] = [indicator_points(None if pd.isna(r.value) else r.value, r.polarity, r.warn, r.alarm)
                         for r in out.itertuples()]
        return out

    def scores(self, area: str, kids: pd.DataFrame) -> tuple[list[dict], dict]:
        """The children's scores (the map's values) and the area's explanation (its title panel)."""
        pts = self.points([*kids.code, area])
        children = []
        for kid in kids.itertuples():
            mine = pts[pts.region_code == kid.code]
            by_theme = {th: [None if pd.isna(p) else p for p in g.points] for th, g in mine.groupby("theme")}
            children.append({"code": kid.code, "name": kid.name, "name_en": "", "scores": composite_scores(by_theme) if by_theme else {}})
        own = pts[pts.region_code == area].rename(columns={"indicator_code": "code"})
        rows = [{k: (None if k in ("points", "value") and pd.isna(r[k]) else r[k]) for k in
                 ("code", "theme", "value", "points", "polarity", "warn", "alarm")} for r in own.to_dict("records")]
        has_kids = kids.code.iloc[0] != area if len(kids) else False
        return children, score_explanation(self.score, rows, children if has_kids else [])

    def subtree(self, area: str) -> set[str]:
        found, frontier = {area}, {area}
        while frontier:
            frontier = set(self.regions.loc[self.regions.parent_code.isin(frontier), "code"])
            found |= frontier
        return found

    def drill(self, area: str) -> bytes:
        kids = self.regions[self.regions.parent_code == area]
        if kids.empty:
            kids = self.regions[self.regions.code == area]
        v = self.values
        explanation = None
        if self.score:
            children, explanation = self.scores(area, kids)
            locations, z = [c["code"] for c in children], [c["scores"].get(self.score) for c in children]
        else:
            cur = v[(v.indicator_code == self.default) & (v.period == self.period) & v.region_code.isin(kids.code)]
            locations, z = cur.region_code.tolist(), cur.value.tolist()
        geo = {"type": "FeatureCollection", "features": [
            {"type": "Feature", "id": r.code, "properties": {"name": r.name}, "geometry": json.loads(r.geometry)}
            for r in kids.itertuples()]}
        fig = base_figure()
        fig.data[1].update(geojson=geo, locations=locations, z=z)
        sub = self.subtree(area)
        start = self.period
        ev = self.events[self.events.region_code.isin(sub) & (self.events.reported_at >= start)
                         & (self.events.reported_at < start + relativedelta(months=1))]
        fig.data[2].update(lon=ev.lon.tolist(), lat=ev.lat.tolist())
        kpis = {}
        mine = v[(v.region_code == area) & v.indicator_code.isin(self.headlines.code) & (v.period <= self.period)]
        for code, g in mine.groupby("indicator_code"):
            g = g.sort_values("period")
            kpis[code] = [g.value.iloc[-1], g.value.iloc[-2] if len(g) > 1 else None, g.value.tail(12).tolist()]
        stats = {"status": ev.groupby("status").size().to_dict(), "source": ev.groupby("source").size().to_dict()}
        return pio.json.to_json_plotly([fig.to_plotly_json(), kpis, stats, explanation]).encode()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default=f"sqlite:///{ROOT / 'instance' / 'bench-county.db'}")
    parser.add_argument("--build", action="store_true", help="(re)build the county demo into --db first")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    engine = db.make_engine(args.db)
    if args.build or not db.has_schema(engine):
        print("building the county demo …", flush=True)
        report = build_demo(engine, "county", seed=1, as_of=AS_OF)
        print(f"built in {report.seconds:.0f} s: {report.counts['events']:,} events")
    app = create_app({"database_url": args.db})
    areas = targets(app.server.config["IOC_SERVICES"].repo)
    print(f"{len(areas)} areas × {args.rounds} rounds on {engine.dialect.name}")

    cold = measure_cold(args.db, areas[:20])
    sql_times, sizes, gz = measure_ours(args.db, "NullCache", areas, args.rounds)
    cached_times, _, _ = measure_ours(args.db, "SimpleCache", areas, args.rounds)
    naive = Naive(args.db, app.server.config["IOC_SERVICES"].config.map_default)
    naive_times, naive_sizes = [], []
    for area in areas[: max(10, len(areas) // 3)]:
        t0 = time.perf_counter()
        body = naive.drill(area)
        naive_times.append((time.perf_counter() - t0) * 1000)
        naive_sizes.append(len(body))

    rows = [
        ("ours, cold (new app, empty cache)", cold, None),
        ("ours, warm, no result cache (SQL)", sql_times, sizes),
        ("ours, warm, result cache", cached_times, sizes),
        ("naive pandas + inline geometry", naive_times, naive_sizes),
    ]
    print(f"\n{'drill-down':38s} {'p50 ms':>8s} {'p95 ms':>8s} {'bytes p95':>10s}")
    for name, t, s in rows:
        print(f"{name:38s} {pct(t, 50):8.1f} {pct(t, 95):8.1f} {pct(s, 95) if s else '':>10}")
    print(f"\nresponse gzip p95: {pct(gz, 95):,} bytes; naive loads its tables in {naive.load_seconds:.1f} s first")
    print(f"ratio naive/ours p95 time (no result cache): {pct(naive_times, 95) / pct(sql_times, 95):.1f}x; "
          f"bytes: {pct(naive_sizes, 95) / pct(sizes, 95):.1f}x")
    out = ROOT / "bench" / "results"
    out.mkdir(exist_ok=True)
    (out / f"drilldown-{engine.dialect.name}.json").write_text(json.dumps({
        name: {"p50_ms": pct(t, 50), "p95_ms": pct(t, 95), "bytes_p95": pct(s, 95) if s else None} for name, t, s in rows
    }, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
