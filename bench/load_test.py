"""Load test of the production setup: wall screens polling at the refresh interval plus duty officers
drilling (and one data feed), against the county demo, with locust.

    python bench/load_test.py --minutes 10                # the figures in docs/PRODUCTION.md
    python bench/load_test.py --minutes 1 --walls 10      # a quick look

Copies the county demo (default /work/cache/bench-county.db, or --db; built by
``python app.py demo --scale county``) to a temporary folder (the app writes accounts and the feed's events),
builds the callback posts the wall's browser makes (tests/dash_posts.py, from the app's own callback map),
starts nginx + gunicorn with deploy/'s configuration on free loopback ports (tests/serving/stack.py), runs
locust headless and samples the RSS of every gunicorn worker every 5 s. Prints sustained requests/s, p50/p95
per request kind and overall, errors, and worker memory; writes the whole result as JSON (--json).
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import dash_posts as dp  # noqa: E402
from tests.serving.stack import production_stack  # noqa: E402

KPI_TYPES = ("value", "unit", "name", "change", "yoy", "spark", "fresh", "card")
MAP_SIZE = {"w": 1200, "h": 760, "vh": 1080}  # the wall's 1920x1080 cockpit


def prepare(url: str, workdir: Path) -> Path:
    """Demo accounts, a feed token and the callback posts of the wall, written to ``workdir/posts.json``."""
    from sqlalchemy import text

    from app import create_app
    from config import Config
    from datasources.access.accounts import Accounts

    cfg = Config.from_env().with_overrides({"database_url": url, "scheduler": 0, "cache_type": "NullCache"})
    app = create_app(cfg)
    services = app.server.config["IOC_SERVICES"]
    engine = services.base_repo.engine
    with engine.connect() as conn:
        heads = conn.execute(text("SELECT code FROM indicators WHERE headline = :t ORDER BY theme, code"), {"t": True}).scalars().all()
        towns = conn.execute(text("SELECT code FROM regions WHERE level = 1 ORDER BY code")).scalars().all()
        communities = conn.execute(text("SELECT code FROM regions WHERE level = 2 ORDER BY code")).scalars().all()
        points = [list(p) for p in conn.execute(text(
            "SELECT centroid_lon, centroid_lat FROM regions WHERE level = 2 ORDER BY code LIMIT 50")).all()]
        refresh = json.loads(conn.execute(text("SELECT value FROM meta WHERE key = 'mode_profiles'")).scalar() or "{}")
    codes = {f"kpi-{p}": list(heads) for p in KPI_TYPES}
    callbacks = {
        "poll": _poll_body(app),
        "facts": dp.body(app, "header-mode.children", {"url.search": "", "data-version.data": 0}),
        "render": dp.body(app, "map.figure", {"url.search": "", "layer-toggle.value": ["heat", "open", "alerts"],
                                              "map-size.data": MAP_SIZE}, codes),
        "ticker": dp.body(app, "ticker.children", {"url.search": "", "data-version.data": 0}),
        "labels": dp.body(app, "lang-toggle.children", {"url.search": ""}, _label_codes()),
        "options": dp.body(app, "indicator-select.options", {"url.search": ""}),
        "export_href": dp.body(app, "export-kpis.href", {"url.search": ""}),
    }
    secret, _ = Accounts(engine).create_token("load-test-feed", "feed", None, actor="bench")
    posts = {
        "password": cfg.demo_password, "refresh_seconds": (refresh.get("daily") or {}).get("refresh_seconds", cfg.refresh_seconds),
        "geo_url": "/geo/level-1.json", "callbacks": callbacks, "feed_token": secret, "points": points,
        "drill_searches": ["", *[f"?area={c}" for c in towns], *[f"?area={c}" for c in communities[::7]]],
    }
    engine.dispose()
    path = workdir / "posts.json"
    path.write_text(json.dumps(posts, ensure_ascii=False))
    return path


def _poll_body(app) -> dict:  # noqa: ANN001
    key = next(k for k, v in app.callback_map.items()
               if k.startswith("data-version.data") and [i["id"] for i in v["inputs"]] == ["refresh-interval"])
    return dp.body(app, key, {"refresh-interval.n_intervals": 1, "data-version.data": 0})


def _label_codes() -> dict[str, list[str]]:
    """Label keys for the labels callback's ALL output (about as many as the cockpit page shows)."""
    from layouts.i18n import MESSAGES

    return {"label": sorted(MESSAGES)[:40]}


class MemorySampler(threading.Thread):
    """RSS of every gunicorn worker (children of the master), every ``every`` seconds."""

    def __init__(self, master: int, every: float = 5.0) -> None:
        super().__init__(daemon=True)
        self.master, self.every, self.samples = psutil.Process(master), every, []
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            try:
                workers = {c.pid: c.memory_info().rss for c in self.master.children()}
            except psutil.Error:
                workers = {}
            self.samples.append({"t": time.time(), "workers": workers, "master": self.master.memory_info().rss})
            self._stop_event.wait(self.every)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


def _figures(times: list[float], failures: int, seconds: float) -> dict:
    ordered = sorted(times)

    def q(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))]) if ordered else 0

    return {"requests": len(ordered), "failures": failures, "rps": round(len(ordered) / seconds, 2) if seconds else 0,
            "p50_ms": q(0.50), "p95_ms": q(0.95), "p99_ms": q(0.99), "max_ms": round(ordered[-1]) if ordered else 0}


def steady_state(records: list, end: float) -> dict:
    """Figures of the requests made after the last screen finished loading (its login and page load are
    the ramp-up, reported apart as 'page load …'), per kind and over all."""
    ready = [t for t, name, _ms, _ok in records if name == "__ready__"]
    start = max(ready) if ready else min((r[0] for r in records), default=end)
    window = [r for r in records if r[0] > start and r[1] != "__ready__" and not r[1].startswith("page load")]
    seconds = max(end - start, 1e-9)
    kinds: dict[str, dict] = {}
    for name in sorted({r[1] for r in window}):
        rows = [r for r in window if r[1] == name]
        kinds[name] = _figures([r[2] for r in rows], sum(not r[3] for r in rows), seconds)
    kinds["ALL (steady)"] = _figures([r[2] for r in window], sum(not r[3] for r in window), seconds)
    loads = [r for r in records if r[1].startswith("page load")]
    kinds["page loads (ramp-up)"] = _figures([r[2] for r in loads], sum(not r[3] for r in loads), max(start - records[0][0], 1e-9)
                                             if records else 1)
    return {"steady_seconds": round(seconds), "ramp_up_seconds": round(start - records[0][0]) if records else 0, "kinds": kinds}


def summary(stats_csv: Path, records_json: Path, seconds: float, memory: list[dict]) -> dict:
    """The figures of one run from the request records, locust's stats CSV and the memory samples."""
    rows = list(csv.DictReader(stats_csv.open()))
    whole = next((r for r in rows if r["Name"] == "Aggregated"), None)
    records = json.loads(records_json.read_text()) if records_json.exists() else []
    steady = steady_state(records, records[-1][0] if records else time.time())
    per_worker = [v for s in memory for v in s["workers"].values()]
    last = memory[-1]["workers"] if memory else {}
    mib = 1024 * 1024
    return {
        "seconds": round(seconds), **steady,
        "whole_run": {"requests": int(whole["Request Count"]), "failures": int(whole["Failure Count"])} if whole else None,
        "worker_rss_mib": {"workers": len(last), "max": round(max(per_worker) / mib) if per_worker else None,
                           "last": sorted(round(v / mib) for v in last.values()),
                           "first": sorted(round(v / mib) for v in memory[0]["workers"].values()) if memory else [],
                           "master_max": round(max(m["master"] for m in memory) / mib) if memory else None},
    }


def table(result: dict) -> str:
    """The figures as a Markdown table (docs/PRODUCTION.md)."""
    lines = ["| request | requests | req/s | p50 ms | p95 ms | p99 ms | max ms | errors |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, k in result["kinds"].items():
        lines.append(f"| {name} | {k['requests']} | {k['rps']} | {k['p50_ms']} | {k['p95_ms']} | {k['p99_ms']} | {k['max_ms']} | {k['failures']} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--db", default="/work/cache/bench-county.db", help="SQLite demo to copy (county scale)")
    parser.add_argument("--walls", type=int, default=50)
    parser.add_argument("--officers", type=int, default=10)
    parser.add_argument("--workers", type=int, help="gunicorn workers (default: deploy/gunicorn.conf.py)")
    parser.add_argument("--threads", type=int, help="threads per worker (default: deploy/gunicorn.conf.py)")
    parser.add_argument("--worker-class", help="gunicorn worker class (default: deploy/gunicorn.conf.py's gthread)")
    parser.add_argument("--cache", default="RedisCache", help="IOC_CACHE_TYPE of the app: RedisCache (production) or SimpleCache")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/14",
                        help="Redis database of the run (emptied first: use one that nothing else uses)")
    parser.add_argument("--json", help="write the result here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ioc-load-"))
    try:
        target = work / "county.db"
        print(f"copying {args.db} ...", flush=True)
        shutil.copy(args.db, target)
        url = f"sqlite:///{target}"
        posts = prepare(url, work)
        if args.cache == "RedisCache":
            import redis

            redis.Redis.from_url(args.redis_url).flushdb()  # no key of an earlier run's copy may answer
        env = {"IOC_CACHE_TYPE": args.cache, "IOC_REDIS_URL": args.redis_url, "IOC_SCHEDULER": "1", "IOC_LOG_LEVEL": "WARNING",
               **({"IOC_WORKER_CLASS": args.worker_class} if args.worker_class else {})}
        with production_stack(url, work / "run", workers=args.workers, threads=args.threads, env=env) as stack:
            sampler = MemorySampler(stack.gunicorn().pid)
            sampler.start()
            users = args.walls + args.officers + 1
            started = time.time()
            cmd = [sys.executable, "-m", "locust", "-f", str(ROOT / "bench" / "load" / "locustfile.py"), "--headless",
                   "--host", stack.url, "-u", str(users), "-r", "10", "-t", f"{int(args.minutes * 60)}s",
                   "--csv", str(work / "locust"), "--only-summary", "--stop-timeout", "5", "--loglevel", "WARNING"]
            lenv = {**os.environ, "IOC_LOAD_POSTS": str(posts), "IOC_LOAD_WALLS": str(args.walls),
                    "IOC_LOAD_RECORDS": str(work / "records.json"),
                    "IOC_LOAD_OFFICERS": str(args.officers)}
            print(f"locust: {args.walls} walls + {args.officers} officers + 1 feed for {args.minutes} min against {stack.url}",
                  flush=True)
            subprocess.run(cmd, env=lenv, check=False)
            seconds = time.time() - started
            sampler.stop()
            result = summary(work / "locust_stats.csv", work / "records.json", seconds, sampler.samples)
            result |= {"walls": args.walls, "officers": args.officers, "workers": len(stack.worker_pids()),
                       "worker_class": args.worker_class or "gthread",
                       "threads": args.threads or int(os.environ.get("IOC_THREADS", 0)) or "deploy default",
                       "cache": args.cache, "load_average_at_end": os.getloadavg()}
        print(json.dumps(result, indent=2, ensure_ascii=False))
        print(table(result))
        if args.json:
            Path(args.json).write_text(json.dumps(result, indent=2, ensure_ascii=False))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
