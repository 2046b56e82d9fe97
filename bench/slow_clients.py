"""Slow clients against the production setup, with and without the nginx front.

    python bench/slow_clients.py [--slow 50] [--seconds 20] [--workers 3 --threads 4]

Starts gunicorn with deploy/gunicorn.conf.py on a copy of the mini demo, opens ``--slow`` connections that
each send a request one byte every 2 s, and meanwhile measures normal requests (/healthz and the wall's
data-version poll, one after another, 5 s client timeout): once straight to gunicorn, once through nginx.
Prints p50/p95/max latency and the number of requests that got no answer within 5 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests import dash_posts as dp  # noqa: E402
from tests.serving.conftest import sign_in  # noqa: E402
from tests.serving.stack import production_stack  # noqa: E402
from tests.serving.test_production_setup import SlowClients  # noqa: E402


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def measure(base_url: str, port: int, slow: int, seconds: float, poll: dict) -> dict:
    """Latencies of normal requests while ``slow`` slow clients trickle into ``port``."""
    session = sign_in(base_url)
    latencies, failures = [], 0
    with SlowClients(port, slow):
        time.sleep(0.5)
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            for send in (lambda: requests.get(f"{base_url}/healthz", timeout=5),
                         lambda: session.post(f"{base_url}/_dash-update-component", data=json.dumps(poll),
                                              headers={**dp.POST_HEADERS, "Origin": base_url}, timeout=5)):
                started = time.monotonic()
                try:
                    ok = send().status_code == 200
                except requests.RequestException:
                    ok = False
                latencies.append(time.monotonic() - started)
                failures += not ok
    return {"requests": len(latencies), "failed_or_over_5s": failures, "p50_ms": round(pct(latencies, 0.5) * 1000, 1),
            "p95_ms": round(pct(latencies, 0.95) * 1000, 1), "max_ms": round(max(latencies) * 1000, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--slow", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--db", help="SQLite demo to copy (default: build the mini demo)")
    args = parser.parse_args()
    from app import create_app
    from datasources import db
    from datasources.demo import build_demo

    work = Path(tempfile.mkdtemp(prefix="ioc-slow-"))
    try:
        target = work / "demo.db"
        if args.db:
            shutil.copy(args.db, target)
        else:
            engine = db.make_engine(f"sqlite:///{target}")
            build_demo(engine, "mini", seed=1)
            engine.dispose()
        url = f"sqlite:///{target}"
        poll = dp.body(create_app({"database_url": url}), "data-version.data",
                       {"refresh-interval.n_intervals": 3, "data-version.data": 0})
        for front in (False, True):
            with production_stack(url, work / f"run-{front}", front=front, workers=args.workers,
                                  threads=args.threads) as stack:
                port = stack.front_port if front else stack.app_port
                result = measure(stack.url, port, args.slow, args.seconds, poll)
                label = "through nginx" if front else "gunicorn alone"
                print(f"{args.slow} slow clients, {label:15s}: {json.dumps(result)}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
