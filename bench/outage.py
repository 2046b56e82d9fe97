"""How long a screen's callback takes to answer when the database or Redis fails (issue 12), with the
default timeouts: the header-facts callback (four cached reads) through a TCP proxy in front of
PostgreSQL and Redis, on the mini demo (PostgreSQL database copied from a template built here).

    python bench/outage.py                 # needs PostgreSQL and Redis on 127.0.0.1 (IOC_TEST_PG_URL, IOC_TEST_REDIS_URL)

Prints, per situation, the status, whether the answer was degraded, and the seconds of each request.
The naive way (no timeouts, as before this issue) is the same app with timeouts switched off: a hung
database holds it until TCP gives up (minutes), so it is cut at --naive-limit seconds.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from datasources import db  # noqa: E402
from datasources.demo import build_demo  # noqa: E402
from tests import dash_posts as dp  # noqa: E402
from tests.conftest import AS_OF, REDIS_URL, _pg_admin, _pg_database_url, login  # noqa: E402
from tests.tcp_proxy import proxy_to  # noqa: E402


def facts(app, client) -> tuple[int, bool, float]:  # noqa: ANN001
    t0 = time.perf_counter()
    resp = dp.post(client, dp.body(app, "header-mode.children", {"url.search": "", "data-version.data": 1}))
    body = resp.get_json() or {}
    return resp.status_code, "sideUpdate" in body, time.perf_counter() - t0


def run(label: str, app, client, n: int = 3, limit: float | None = None) -> None:  # noqa: ANN001
    times, statuses = [], set()
    for _ in range(n):
        if limit is None:
            status, degraded, dt = facts(app, client)
        else:  # the naive app may never answer: give up waiting after ``limit`` seconds
            out: list = []
            th = threading.Thread(target=lambda out=out: out.append(facts(app, client)), daemon=True)
            t0 = time.perf_counter()
            th.start()
            th.join(limit)
            if not out:
                print(f"{label:44s} no answer after {time.perf_counter() - t0:.0f} s")
                return
            status, degraded, dt = out[0]
        statuses.add((status, degraded))
        times.append(dt)
    print(f"{label:44s} status/degraded {sorted(statuses)}  seconds " + " ".join(f"{t:.2f}" for t in times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--naive-limit", type=float, default=30.0)
    args = parser.parse_args()
    name = f"ioc_bench_outage_{int(time.time())}"
    _pg_admin(f'CREATE DATABASE "{name}"')
    url = _pg_database_url(name)
    try:
        build_demo(db.make_engine(url), "mini", seed=1, as_of=AS_OF)
        pg_host, pg_port = url.split("@")[1].split("/")[0].split(":")
        r_host, r_port = REDIS_URL.split("//")[1].split("/")[0].split(":")
        with proxy_to(pg_host, int(pg_port)) as pg, proxy_to(r_host, int(r_port)) as redis_proxy:
            for label, overrides in (("timeouts (defaults)", {}),
                                     ("naive (no timeouts)", {"db_connect_timeout": 0, "db_statement_timeout_ms": 0, "redis_timeout_ms": 0})):
                app = create_app({"database_url": pg.url_for(url), "cache_type": "RedisCache",
                                  "redis_url": redis_proxy.url_for(REDIS_URL), **overrides})
                client = login(app.server.test_client(), "leader")
                limit = args.naive_limit if label.startswith("naive") else None
                run(f"{label}: normal", app, client)
                retry = app.server.config["IOC_SERVICES"].config.redis_retry_seconds
                for mode in ("hung", "stopped"):  # each after the retry period: Redis is tried again
                    redis_proxy.set_mode(mode)
                    run(f"{label}: Redis {mode}", app, client, limit=limit)
                    redis_proxy.set_mode("forward")
                    time.sleep(retry + 0.5)
                run(f"{label}: Redis back", app, client, n=1)
                # hung first: the pool holds live connections, as when a database hangs under a running app
                for mode in ("hung", "stopped"):
                    pg.set_mode(mode)
                    run(f"{label}: database {mode}", app, client, limit=limit)
                pg.set_mode("forward")
                run(f"{label}: database back", app, client, n=1)
                time.sleep(1)
                app.server.config["IOC_SERVICES"].base_repo.engine.dispose()
    finally:
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
