"""Benchmark the write path at county scale: an incremental write + derive next to a full rebuild.

    python bench/write_path.py                 # builds instance/bench-county.db on first use, works on a copy
    python bench/write_path.py --rounds 5

Measured on a copy of the county demo (2 million events), each a separate transaction through the write
layer (validate, write, derive, data-version bump), i.e. the time until the change is visible:
- a batch of 1,000 new events (hotline and grid, over the last 40 days: touches two months);
- 50 lifecycle steps (dispatch);
- a month of indicator values for every community (every community-level loaded indicator);
next to the naive way: the same change followed by a full rebuild of every roll-up, rule indicator and
alert (what the demo builder did before there was an incremental derive).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from datasources import db  # noqa: E402
from datasources.demo import build_demo  # noqa: E402
from datasources.ingest import Writer  # noqa: E402
from tests import write_batches  # noqa: E402

AS_OF = datetime(2026, 11, 20, 18, 0)


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * len(s)) - 1))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    src = ROOT / "instance" / "bench-county.db"
    if not src.exists():
        print(f"building {src} (county demo, about a minute) …", flush=True)
        build_demo(db.make_engine(f"sqlite:///{src}"), "county", seed=1, as_of=AS_OF)
    with db.make_engine(f"sqlite:///{src}").connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    copy = ROOT / "instance" / "bench-write.db"
    _remove(copy)  # a stale -wal beside a fresh copy would corrupt it
    shutil.copyfile(src, copy)
    engine = db.make_engine(f"sqlite:///{copy}")
    now = AS_OF + timedelta(hours=1)
    writer = Writer(engine, clock=lambda: now)
    rows: dict[str, list[float]] = {"events": [], "steps": [], "values": [], "rebuild": []}
    for k in range(args.rounds):
        rows["events"].append(writer.events(write_batches.new_events(engine, 1000, now, seed=100 + k)).seconds)
        rows["steps"].append(writer.event_updates(write_batches.lifecycle_steps(engine, 50, now)).seconds)
        rows["values"].append(writer.values(write_batches.month_of_values(engine, now, seed=200 + k)).seconds)
        t0 = time.perf_counter()
        writer.rebuild()
        rows["rebuild"].append(time.perf_counter() - t0)
    n_values = len(write_batches.month_of_values(engine, now))
    full = pct(rows["rebuild"], 50)
    print(f"\nwrite path, county demo on SQLite, {args.rounds} rounds (p50 / max seconds, write + derive, visible after):")
    print("| change | incremental p50 | incremental max | naive: change + full rebuild | ratio |")
    print("|---|---|---|---|---|")
    for key, label in (("events", "1,000 new events"), ("steps", "50 lifecycle steps"),
                       ("values", f"a month of values for every community ({n_values:,} values)")):
        inc = pct(rows[key], 50)
        print(f"| {label} | {inc:.2f} s | {max(rows[key]):.2f} s | {inc + full:.2f} s | {(inc + full) / inc:.0f}× |")
    print(f"| full rebuild alone (every roll-up, rule indicator and alert) | | | {full:.2f} s | |")
    engine.dispose()
    _remove(copy)
    return 0


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        p.unlink(missing_ok=True)


if __name__ == "__main__":
    sys.exit(main())
