"""What hostile requests cost compared with a normal one (issue 7): a normal cockpit render, a render
post naming 10,000 made-up KPI ids, a 100 MB callback body, a NUL in the area.

    python bench/hostile_requests.py            # builds a mini demo in a temporary folder

Prints status, answer size and p50 time of each (Flask test client, in process, signed in as leader).
"""

from __future__ import annotations

import json
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app import create_app  # noqa: E402
from datasources import db  # noqa: E402
from datasources.demo import build_demo  # noqa: E402

KPI_PARTS = ("value", "unit", "name", "change", "yoy", "spark", "fresh", "card")


def render_body(app, search: str, codes: list[str]) -> dict:  # noqa: ANN001
    """The cockpit render post as Dash's renderer sends it."""
    key = next(k for k in app.callback_map if "map.figure" in k)
    outs = app.callback_map[key]["output"]
    outputs = []
    for o in outs:
        if isinstance(o.component_id, dict):
            outputs.append([{"id": {"type": o.component_id["type"], "code": c}, "property": o.component_property} for c in codes])
        else:
            outputs.append({"id": o.component_id, "property": o.component_property})
    inputs = [{"id": "url", "property": "search", "value": search},
              {"id": "layer-toggle", "property": "value", "value": ["heat", "open"]},
              {"id": "data-version", "property": "data", "value": 1},
              {"id": "map-size", "property": "data", "value": {"w": 1000, "h": 700, "vh": 1080}}]
    return {"output": key, "outputs": outputs, "inputs": inputs, "state": [], "changedPropIds": ["url.search"]}


def main() -> None:
    """Measure and print."""
    url = f"sqlite:///{Path(tempfile.mkdtemp()) / 'mini.db'}"
    build_demo(db.make_engine(url), "mini", seed=1)
    app = create_app({"database_url": url, "cache_type": "NullCache"})
    client = app.server.test_client()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"username": "leader", "password": "demo", "csrf_token": token})
    heads = [i["code"] for i in app.server.config["IOC_SERVICES"].base_repo.indicators() if i["headline"]]
    cases = {
        "normal render": json.dumps(render_body(app, "", heads)),
        "render naming 10,000 made-up KPI ids": json.dumps(render_body(app, "", [f"fake{i}" for i in range(10_000)])),
        "render naming 20 made-up KPI ids": json.dumps(render_body(app, "", [f"fake{i}" for i in range(20)])),
        "render with a NUL in the area": json.dumps(render_body(app, "?area=%00", heads)),
        "100 MB callback body": "x" * (100 * 1024 * 1024),
    }
    headers = {"Content-Type": "application/json"}
    base = None
    for name, body in cases.items():
        times = []
        for _ in range(5 if len(body) > 10**7 else 30):
            t0 = time.perf_counter()
            resp = client.post("/_dash-update-component", data=body, headers=headers)
            times.append(time.perf_counter() - t0)
        p50 = sorted(times)[len(times) // 2] * 1000
        base = base or p50
        print(f"{name:40s} {resp.status_code}  body {len(body):>11,} B  answer {len(resp.data):>8,} B  p50 {p50:7.1f} ms"
              f"  ({p50 / base:.2f}x normal)")


if __name__ == "__main__":
    main()
