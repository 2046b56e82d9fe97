"""Server CPU of one drill's answer, warm: the cockpit view (``cockpit_view``, cached reads), the delta against
what the browser holds (``render_outputs``: part hashes) and Dash's serialisation of the answer (plotly's JSON
encoder), per township of the county demo, on one thread.

    python bench/serialise.py --db /work/cache/bench-county.db                       # this tree
    python bench/serialise.py --db /work/cache/bench-county.db --tree /path/to/old   # another tree (e.g. main)
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--db", default="/work/cache/bench-county.db", help="county demo database (SQLite file, copied first)")
    ap.add_argument("--tree", default=str(ROOT), help="source tree to measure")
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, args.tree)
    import flask
    from plotly.io.json import to_json_plotly

    from app import create_app
    from callbacks.cockpit import cockpit_view, render_outputs
    from datasources.access.roles import Principal

    work = Path(tempfile.mkdtemp(prefix="ioc-bench-serialise-"))
    copy = work / "county.db"  # the app adds the demo accounts: the shared file stays untouched
    shutil.copyfile(args.db, copy)
    app = create_app({"database_url": f"sqlite:///{copy}", "scheduler": 0})
    services = app.server.config["IOC_SERVICES"]
    repo = services.base_repo
    towns = [t["code"] for t in repo.children(repo.root_code())]
    codes = [i["code"] for i in repo.indicators() if i["headline"]]
    size, layers = {"w": 1011, "h": 907, "vh": 1080}, ["heat", "open", "alerts"]

    def answer(search: str, sent: dict | None) -> tuple:
        with app.server.test_request_context():
            flask.g.ioc_principal = Principal("bench", "leader")
            out = render_outputs(cockpit_view(services, search, layers, codes, size), sent)
            return out, to_json_plotly(list(out))

    root, _ = answer("", None)
    for t in towns:  # warm the result cache
        answer(f"?area={t}", root[-1])
    times: dict[str, list[float]] = {"view": [], "delta": [], "serialise": []}
    for _ in range(args.rounds):
        for t in towns:
            with app.server.test_request_context():
                flask.g.ioc_principal = Principal("bench", "leader")
                t0 = time.process_time()
                view = cockpit_view(services, f"?area={t}", layers, codes, size)
                t1 = time.process_time()
                out = render_outputs(view, root[-1])
                t2 = time.process_time()
                to_json_plotly(list(out))
                t3 = time.process_time()
            times["view"].append((t1 - t0) * 1000)
            times["delta"].append((t2 - t1) * 1000)
            times["serialise"].append((t3 - t2) * 1000)
    total = [a + b + c for a, b, c in zip(times["view"], times["delta"], times["serialise"], strict=True)]
    shutil.rmtree(work, ignore_errors=True)
    import callbacks.cockpit as measured

    print(f"tree {Path(measured.__file__).parent.parent}: {len(total)} drills, CPU ms median: " + ", ".join(
        f"{k} {statistics.median(v):.1f}" for k, v in times.items()) + f", total {statistics.median(total):.1f}")


if __name__ == "__main__":
    main()
