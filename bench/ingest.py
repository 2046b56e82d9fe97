"""Benchmark the ingest API over real HTTP: throughput by batch size and post-to-visible latency, next to the
naive way, on SQLite and PostgreSQL.

    python bench/ingest.py                       # mini demo; PostgreSQL at IOC_TEST_PG_URL (skipped if unreachable)
    python bench/ingest.py --scale county --no-pg --rounds 10

For each database a fresh demo (a temporary SQLite file; a new PostgreSQL schema, dropped afterwards) is
served by werkzeug in a thread; one feed token posts through ``POST /api/v1/events``:
- throughput: events/s of one client posting batches of 1, 100 and 1,000 events, one after another (each
  request: validate, write, incremental derive, data-version bump, answer);
- post-to-visible: from sending a POST of one event until ``/healthz`` serves a new data version AND the
  ticker's read (``recent_events(root, 12)``) holds the event, as a screen polling the version would see it;
- naive: each event inserted by the SQLAlchemy ORM in its own transaction followed by a full rebuild
  (``Writer.rebuild()``: every roll-up, rule indicator and alert), measured the same way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from app import create_app  # noqa: E402
from callbacks.security import QuietRequestHandler  # noqa: E402
from datasources import db  # noqa: E402
from datasources.access.accounts import Accounts  # noqa: E402
from datasources.demo import build_demo  # noqa: E402
from datasources.ingest import Writer  # noqa: E402
from datasources.models import Event  # noqa: E402

AS_OF = datetime(2026, 11, 20, 18, 0)
PG_URL = os.environ.get("IOC_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


class SilentHandler(QuietRequestHandler):
    """No access log line per request (thousands of them would bury the table)."""

    def log_request(self, *args: object, **kwargs: object) -> None:
        pass


class Target:
    """A demo database served over HTTP with a feed token."""

    def __init__(self, url: str):
        self.url = url
        self.app = create_app({"database_url": url, "cache_type": "NullCache", "api_rate_per_minute": 0,
                               "api_max_items": 5000})
        self.engine = db.make_engine(url)
        self.repo = self.app.server.config["IOC_SERVICES"].base_repo
        self.secret, _ = Accounts(self.engine).create_token(f"bench-{uuid.uuid4().hex[:6]}", "feed", None, actor="bench")
        self.server = make_server("127.0.0.1", 0, self.app.server, threaded=True, request_handler=SilentHandler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.http = http.client.HTTPConnection("127.0.0.1", self.server.server_port, timeout=600)
        with self.engine.connect() as conn:
            self.root = conn.execute(text("SELECT code FROM regions WHERE parent_code IS NULL")).scalar_one()
            self.leaves = [tuple(r) for r in conn.execute(text(
                "SELECT code, centroid_lon, centroid_lat FROM regions r "
                "WHERE NOT EXISTS (SELECT 1 FROM regions c WHERE c.parent_code = r.code) ORDER BY code"))]

    def request(self, method: str, path: str, body: object | None = None) -> tuple[int, dict]:
        data = None if body is None else json.dumps(body).encode()
        self.http.request(method, path, body=data, headers={"Authorization": f"Bearer {self.secret}",
                                                             "Content-Type": "application/json"})
        resp = self.http.getresponse()
        return resp.status, json.loads(resp.read())

    def events(self, n: int, tag: str) -> list[dict]:
        now = datetime.now().replace(microsecond=0)
        out = []
        for k in range(n):
            code, lon, lat = self.leaves[k % len(self.leaves)]
            item = {"id": f"{tag}-{k}", "source": "bench", "category": "road", "theme": "governance", "severity": 3,
                    "title": f"bench {tag}-{k}", "reported_at": (now - timedelta(minutes=1)).isoformat(),
                    "status": "reported"}
            out.append(item | ({"lon": lon, "lat": lat} if k % 5 == 0 else {"region_code": code}))
        return out

    def version(self) -> int:
        return self.request("GET", "/healthz")[1]["data_version"]

    def visible(self, title: str) -> bool:
        return any(e["title"] == title for e in self.repo.recent_events(self.root, 12))

    def close(self) -> None:
        self.http.close()
        self.server.shutdown()
        self.server.server_close()
        self.engine.dispose()


def throughput(t: Target, batch: int, total: int) -> tuple[float, float]:
    """(events/s, p50 seconds per request) of one client posting ``total`` events in batches."""
    tag = uuid.uuid4().hex[:8]
    items = t.events(total, tag)
    times = []
    t0 = time.perf_counter()
    for k in range(0, total, batch):
        s = time.perf_counter()
        status, body = t.request("POST", "/api/v1/events", items[k:k + batch])
        assert status == 201, body
        times.append(time.perf_counter() - s)
    return total / (time.perf_counter() - t0), pct(times, 50)


def post_to_visible(t: Target, rounds: int) -> list[float]:
    """Seconds from sending one event until the version changed and the ticker's read shows it."""
    out = []
    for _ in range(rounds):
        item = t.events(1, uuid.uuid4().hex[:8])[0]
        before = t.version()
        t0 = time.perf_counter()
        status, body = t.request("POST", "/api/v1/events", [item])
        assert status == 201, body
        while not (t.version() != before and t.visible(item["title"])):
            time.sleep(0.005)
        out.append(time.perf_counter() - t0)
    return out


def naive_to_visible(t: Target, rounds: int) -> list[float]:
    """The naive way: an ORM insert in its own transaction, then a full rebuild of everything derived."""
    out = []
    writer = Writer(t.engine)
    for _ in range(rounds):
        item = t.events(1, uuid.uuid4().hex[:8])[0]
        before = t.version()
        t0 = time.perf_counter()
        with Session(t.engine) as session, session.begin():
            session.add(Event(source=item["source"], category=item["category"], theme=item["theme"],
                              severity=item["severity"], title=item["title"], description="",
                              region_code=item.get("region_code") or t.leaves[0][0],
                              reported_at=datetime.fromisoformat(item["reported_at"]), status=item["status"],
                              external_id=item["id"]))
        writer.rebuild()
        while not (t.version() != before and t.visible(item["title"])):
            time.sleep(0.005)
        out.append(time.perf_counter() - t0)
    return out


def run(label: str, url: str, rounds: int, sizes: list[int]) -> list[str]:
    t = Target(url)
    rows = []
    try:
        ours = post_to_visible(t, rounds)
        naive = naive_to_visible(t, max(2, rounds // 4))
        naive_rate = 1 / statistics.median(naive)
        for size in sizes:
            total = max(size * 5, min(200, size * 200))
            rate, p50 = throughput(t, size, total)
            rows.append(f"| {label} | throughput, batches of {size:,} ({total:,} events) | {rate:,.0f} events/s "
                        f"({p50 * 1000:.0f} ms per request) | {naive_rate:.2f} events/s | {rate / naive_rate:,.0f}× |")
        rows.append(f"| {label} | post-to-visible, one event (p50 / max of {len(ours)}) | {pct(ours, 50) * 1000:.0f} ms / "
                    f"{max(ours) * 1000:.0f} ms | {pct(naive, 50) * 1000:.0f} ms / {max(naive) * 1000:.0f} ms | "
                    f"{pct(naive, 50) / pct(ours, 50):,.0f}× |")
    finally:
        t.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scale", choices=["mini", "county"], default="mini")
    parser.add_argument("--rounds", type=int, default=20, help="post-to-visible samples (naive: a quarter)")
    parser.add_argument("--sizes", default="1,100,1000", help="batch sizes, comma-separated")
    parser.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    rows: list[str] = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-ingest.db"
        src = ROOT / "instance" / "bench-county.db"
        if args.scale == "county" and not src.exists():
            print(f"building {src} (county demo, about two minutes) …", flush=True)
            build_demo(db.make_engine(f"sqlite:///{src}"), "county", seed=1, as_of=AS_OF)
        if args.scale == "county":
            with db.make_engine(f"sqlite:///{src}").connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(src, path)
        else:
            print(f"building the {args.scale} demo in SQLite …", flush=True)
            build_demo(db.make_engine(f"sqlite:///{path}"), args.scale, seed=1, as_of=AS_OF)
        rows += run("SQLite", f"sqlite:///{path}", args.rounds, sizes)
    if not args.no_pg:
        rows += run_pg(args)
    print(f"\ningest API over HTTP, {args.scale} demo, one client, this machine ({os.cpu_count()} cores):")
    print("| database | measure | ours (API: validate, write, incremental derive) | naive (ORM insert + full rebuild per event) | ratio |")
    print("|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


def run_pg(args: argparse.Namespace) -> list[str]:
    try:
        admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any failure means no server
        print(f"PostgreSQL skipped: not reachable at {PG_URL} ({exc.__class__.__name__})")
        return []
    schema = f"ioc_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = f"{PG_URL}{'&' if '?' in PG_URL else '?'}options=-csearch_path%3D{schema}"
    try:
        print(f"building the {args.scale} demo in PostgreSQL …", flush=True)
        build_demo(db.make_engine(url), args.scale, seed=1, as_of=AS_OF)
        return run("PostgreSQL", url, args.rounds, [int(s) for s in args.sizes.split(",")])
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


if __name__ == "__main__":
    import warnings

    warnings.filterwarnings("ignore", message="Flask-Caching: CACHE_TYPE is set to NullCache")
    sys.exit(main())
